//! Cutting bytes into lines: where lines end (with whether they hold a backslash, for the
//! pre-filter), the record a line holds, and chunks split at line ends for parallel decoding.

use super::framing::{self, Framing};

/// Whether `buf` holds its first `n` non-blank lines up to their ends.
pub(super) fn has_whole_lines(buf: &[u8], n: usize) -> bool {
    let whole = buf.split(|b| *b == b'\n').rev().skip(1);
    whole.filter(|l| !l.trim_ascii().is_empty()).take(n).count() == n
}

/// A maps from byte offset to 1-based line number in `doc`.
pub(super) fn line_index(doc: &[u8]) -> impl Fn(usize) -> u64 {
    let newlines: Vec<usize> = memchr::memchr_iter(b'\n', doc).collect();
    move |offset| newlines.partition_point(|&n| n < offset) as u64 + 1
}

/// The record a line holds: the line without its `\r`, or an SSE line's data; `None` for
/// blank lines and SSE fields other than `data`.
pub(super) fn line_payload(line: &[u8], framing: Framing) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let payload = match framing {
        Framing::Sse => framing::sse_payload(line)?,
        _ => line,
    };
    (!payload.trim_ascii().is_empty()).then_some(payload)
}

/// The lines of a buffer (without their `\n`).
pub(super) fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    LineEnds::new(buf).map(move |(end, _)| {
        let line = &buf[start..end];
        start = end + 1;
        line
    })
}

/// Where the lines of a buffer end (a `\n`, or the end of the buffer for a last line without
/// one), and whether each holds a backslash: one memchr2 pass for both.
pub(super) struct LineEnds<'a> {
    buf: &'a [u8],
    found: memchr::Memchr2<'a>,
    done: bool,
}

impl<'a> LineEnds<'a> {
    pub(super) fn new(buf: &'a [u8]) -> LineEnds<'a> {
        LineEnds {
            buf,
            found: memchr::memchr2_iter(b'\n', b'\\', buf),
            done: buf.is_empty(),
        }
    }
}

impl Iterator for LineEnds<'_> {
    /// The end of the line (its `\n`) and whether it holds a backslash.
    type Item = (usize, bool);

    fn next(&mut self) -> Option<(usize, bool)> {
        if self.done {
            return None;
        }
        let mut escaped = false;
        for pos in self.found.by_ref() {
            if self.buf[pos] == b'\n' {
                return Some((pos, escaped));
            }
            escaped = true;
        }
        self.done = true;
        (self.buf.last() != Some(&b'\n')).then_some((self.buf.len(), escaped))
    }
}

/// Where a piece of `buf` meant to end at `at` ends so that it holds whole lines: just after
/// the first `\n` from `at` on, or at the end of `buf`.
pub(super) fn whole_lines_end(buf: &[u8], at: usize) -> usize {
    if at >= buf.len() {
        return buf.len();
    }
    memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i + 1)
}

/// Splits `chunk` into about `parts` pieces, each ending at a line end.
pub(super) fn split_lines(chunk: &[u8], parts: usize) -> Vec<&[u8]> {
    let target = (chunk.len() / parts.max(1)).max(64 * 1024);
    let mut out = Vec::new();
    let mut start = 0;
    while start < chunk.len() {
        let end = whole_lines_end(chunk, start.saturating_add(target));
        out.push(&chunk[start..end]);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_agree_with_splitting_and_see_backslashes() {
        for text in [&b"a\r\nb\\n\n\n  \nc"[..], b"\\", b"\n\n", b"x\\\n", b""] {
            let mut start = 0;
            let from_ends: Vec<(&[u8], bool)> = LineEnds::new(text)
                .map(|(end, escaped)| {
                    let line = &text[start..end];
                    start = end + 1;
                    (line, escaped)
                })
                .collect();
            let mut pieces: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            if pieces.last() == Some(&&b""[..]) {
                pieces.pop();
            }
            let from_lines: Vec<(&[u8], bool)> = pieces
                .into_iter()
                .map(|l| (l, l.contains(&b'\\')))
                .collect();
            assert_eq!(from_ends, from_lines, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn crlf_blank_lines_and_a_missing_final_newline_are_handled() {
        let text = b"a\r\nb\n\n  \nc";
        let payloads: Vec<&[u8]> = lines(text)
            .filter_map(|l| line_payload(l, Framing::Lines))
            .collect();
        assert_eq!(payloads, [&b"a"[..], b"b", b"c"]);
        assert_eq!(lines(text).count(), 5);
    }
}

//! How records are laid out in an input, independently of their format: one JSON value per
//! line (NDJSON), Server-Sent Events (`data: {…}` lines), one JSON document — an array of
//! records (`gcloud logging read --format=json`), a list envelope (`{"items": […]}`, a search
//! response's `hits.hits[]._source`, the `{"events": […]}` of `aws logs filter-log-events` and
//! `get-log-events`), or a single pretty-printed record — or several JSON values
//! one after another in any layout (`jq .` output: pretty-printed records back to back, `}{` on
//! one line, pretty records mixed with NDJSON lines).
//!
//! Documents are held in memory (they are exports, not streams). JSON-with-comments and
//! trailing commas (`.jsonc` documentation examples) are read by blanking those characters,
//! which keeps every offset and line number as it was. A document cut short yields every
//! complete record before the cut and a skip for the rest. Concatenated values are split one
//! at a time ([`next_value`]), so only the value being split need be in memory; a value that is
//! not JSON is one skip, and splitting resumes at the next line that opens a value.

use std::ops::Range;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// How many lines at the start of an input decide between a line-based layout and JSON values
/// that span lines.
const HEAD_LINES: usize = 32;

/// The layout of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record per line.
    Lines,
    /// Server-Sent Events: records in `data:` lines; other fields and blank lines ignored.
    Sse,
    /// One JSON document holding the records.
    Document,
    /// Several JSON values one after another, in any layout (pretty-printed, `}{`, NDJSON
    /// lines among them); each value is a record, an array or list envelope gives its items.
    Concatenated,
}

impl Framing {
    /// `lines`, `sse`, `document` or `concatenated`.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Lines => "lines",
            Framing::Sse => "sse",
            Framing::Document => "document",
            Framing::Concatenated => "concatenated",
        }
    }

    /// Decides the layout from the start of an input: `head` holds its first bytes, and `whole`
    /// says whether they are all of it. `None` when `head` is not enough to tell one document
    /// from several values: the first JSON value goes on past `head`, or nothing follows it
    /// yet.
    pub fn detect(head: &[u8], whole: bool) -> Option<Framing> {
        line_framing(head).or_else(|| match json_layout(head, whole) {
            JsonLayout::Known(framing) => Some(framing),
            JsonLayout::ValueGoesOn | JsonLayout::NothingAfterYet => None,
        })
    }
}

/// The line-based layout of an input from its first lines: `Some` for [`Framing::Lines`] or
/// [`Framing::Sse`], `None` for JSON values that span lines (one document or several values:
/// [`json_layout`] tells which).
pub(super) fn line_framing(head: &[u8]) -> Option<Framing> {
    let region = &head[..lines_end(head, HEAD_LINES)];
    let lines: Vec<&[u8]> = region
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .collect();
    let Some(&first) = lines.first() else {
        return Some(Framing::Lines);
    };
    if first.starts_with(b"data:") || first.starts_with(b"event:") || first.starts_with(b"id:") {
        return Some(Framing::Sse);
    }
    match first[0] {
        // `[` then a value (or nothing on this line) opens a JSON array; `[section]` and
        // the like are not JSON at all and are left to format detection to reject.
        b'[' if matches!(
            first[1..].trim_ascii().first(),
            None | Some(b'{' | b'[' | b']' | b'"')
        ) =>
        {
            None
        }
        b'{' => {
            let start = first.as_ptr() as usize - region.as_ptr() as usize;
            match shape(&region[start..]) {
                Shape::SpansLines => None,
                // A list envelope or search response alone on its line is a minified document
                // (`curl` of a REST list), not one record.
                Shape::OneLine if lines.len() == 1 && is_envelope(first) => None,
                Shape::OneLine => Some(Framing::Lines),
                // A first value that is not JSON opens a document with comments or trailing
                // commas, unless most lines after it are whole objects: then it is NDJSON
                // whose first line was cut (`tail -c`, a rotated log), and only that line is
                // lost.
                Shape::BrokenFirst => {
                    let rest = lines.len() - 1;
                    let whole = lines[1..]
                        .iter()
                        .filter(|l| l.starts_with(b"{"))
                        .filter(|l| serde_json::from_slice::<IgnoredAny>(l).is_ok())
                        .count();
                    if rest > 0 && whole * 2 <= rest {
                        None
                    } else {
                        Some(Framing::Lines)
                    }
                }
            }
        }
        // The end of a record cut at its start (`tail -n` of `jq .` output) before
        // pretty-printed ones.
        _ => match next_opening_line(region, 0) {
            Some(at) if matches!(shape(&region[at..]), Shape::SpansLines) => None,
            _ => Some(Framing::Lines),
        },
    }
}

/// Where the first `n` lines of `buf` end (after their `\n`), or its end.
fn lines_end(buf: &[u8], n: usize) -> usize {
    memchr::memchr_iter(b'\n', buf)
        .nth(n.saturating_sub(1))
        .map_or(buf.len(), |i| i + 1)
}

/// How the JSON values at the start of an input's first lines are laid out.
enum Shape {
    /// A value spans more than one line (pretty-printed).
    SpansLines,
    /// Every value is on one line (a line that is not JSON after the first does not matter).
    OneLine,
    /// The first value is not JSON.
    BrokenFirst,
}

/// The layout of the values of `region`, which starts with the first one.
fn shape(region: &[u8]) -> Shape {
    let mut values = serde_json::Deserializer::from_slice(region).into_iter::<IgnoredAny>();
    let mut start = 0;
    let mut first = true;
    loop {
        match values.next() {
            None => return Shape::OneLine,
            Some(Ok(_)) => {
                let end = values.byte_offset();
                if memchr::memchr(b'\n', &region[start..end]).is_some() {
                    return Shape::SpansLines;
                }
                start = skip_ws(region, end);
            }
            // The value goes on past the lines looked at: over more than one line, it is
            // pretty-printed.
            Some(Err(e)) if e.is_eof() => {
                let rest = region[start..].trim_ascii_end();
                return if memchr::memchr(b'\n', rest).is_some() {
                    Shape::SpansLines
                } else {
                    Shape::OneLine
                };
            }
            Some(Err(_)) if first => return Shape::BrokenFirst,
            Some(Err(_)) => return Shape::OneLine,
        }
        first = false;
    }
}

/// What the first JSON value of an input says about its layout.
pub(super) enum JsonLayout {
    /// One document, or several values.
    Known(Framing),
    /// The first value goes on past the bytes given.
    ValueGoesOn,
    /// The first value ends where the bytes given end: whether another follows is not known.
    NothingAfterYet,
}

/// Tells one JSON document from several values, from the start of an input (`whole`: all of
/// it) whose first lines are JSON spanning lines.
pub(super) fn json_layout(buf: &[u8], whole: bool) -> JsonLayout {
    let start = skip_ws(buf, 0);
    let mut values = serde_json::Deserializer::from_slice(&buf[start..]).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => {
            let end = start + values.byte_offset();
            if skip_separators(buf, end) < buf.len() {
                JsonLayout::Known(Framing::Concatenated)
            } else if whole {
                JsonLayout::Known(Framing::Document)
            } else {
                JsonLayout::NothingAfterYet
            }
        }
        Some(Err(e)) if e.is_eof() && !whole => JsonLayout::ValueGoesOn,
        // Not JSON from the start, yet whole values follow: the end of a record cut at its
        // start (`tail -n` of `jq .` output) before whole ones. An array, a document with
        // comments and trailing commas, or one cut short is left to the document reader, which
        // keeps what it can and says where it stopped.
        Some(Err(e))
            if !e.is_eof()
                && buf[start] != b'['
                && !is_jsonc_value(&buf[start..])
                && value_follows(buf, start) =>
        {
            JsonLayout::Known(Framing::Concatenated)
        }
        _ => JsonLayout::Known(Framing::Document),
    }
}

/// Whether `buf` opens with a JSON value once comments and trailing commas are blanked (or
/// with the start of one).
fn is_jsonc_value(buf: &[u8]) -> bool {
    let mut copy = buf.to_vec();
    blank_jsonc(&mut copy);
    let mut values = serde_json::Deserializer::from_slice(&copy).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => true,
        Some(Err(e)) => e.is_eof(),
        None => false,
    }
}

/// Whether a line after the one holding `from` opens a whole JSON value.
fn value_follows(buf: &[u8], from: usize) -> bool {
    next_opening_line(buf, from).is_some_and(|at| {
        let mut values = serde_json::Deserializer::from_slice(&buf[at..]).into_iter::<IgnoredAny>();
        matches!(values.next(), Some(Ok(_)))
    })
}

/// The payload of an SSE line: `Some(json)` for `data:` lines, `None` for the protocol's other
/// lines (`event:`, `id:`, `retry:`, `:` comments) and blank lines.
pub fn sse_payload(line: &[u8]) -> Option<&[u8]> {
    let data = line.strip_prefix(b"data:")?;
    Some(data.strip_prefix(b" ").unwrap_or(data))
}

/// One record found in a document: its bytes' range and, when the document could not be read
/// past some point, an error in place of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentItem {
    /// A record at this byte range of the (relaxed) document.
    Record(Range<usize>),
    /// What stopped the reading, at this byte offset.
    Broken {
        /// Offset where reading stopped.
        at: usize,
        /// Why.
        cause: String,
    },
}

/// Splits a document into its records. `doc` may be modified: comments and trailing commas are
/// blanked when the strict parse fails.
pub fn document_items(doc: &mut [u8]) -> Vec<DocumentItem> {
    let start = doc
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(doc.len());
    if start == doc.len() {
        return Vec::new();
    }
    if serde_json::from_slice::<IgnoredAny>(doc).is_err() {
        blank_jsonc(doc);
    }
    match doc[start] {
        b'[' => array_items(doc, start),
        b'{' => object_items(doc, start),
        _ => vec![DocumentItem::Broken {
            at: start,
            cause: "expected a JSON array or object".to_string(),
        }],
    }
}

/// The elements of the array opening at `start`, one by one, so that a truncated array still
/// yields every complete element.
fn array_items(doc: &[u8], start: usize) -> Vec<DocumentItem> {
    let mut items = Vec::new();
    let mut pos = start + 1;
    loop {
        pos = skip_ws(doc, pos);
        match doc.get(pos) {
            None => {
                items.push(DocumentItem::Broken {
                    at: pos,
                    cause: format!(
                        "JSON array truncated after {} element{}",
                        items.len(),
                        if items.len() == 1 { "" } else { "s" }
                    ),
                });
                return items;
            }
            Some(b']') => return items,
            Some(_) => {}
        }
        let mut stream =
            serde_json::Deserializer::from_slice(&doc[pos..]).into_iter::<IgnoredAny>();
        match stream.next() {
            Some(Ok(_)) => {
                let end = pos + stream.byte_offset();
                items.push(DocumentItem::Record(pos..end));
                pos = skip_ws(doc, end);
                match doc.get(pos) {
                    Some(b',') => pos += 1,
                    Some(b']') => return items,
                    None => continue,
                    Some(c) => {
                        items.push(DocumentItem::Broken {
                            at: pos,
                            cause: format!(
                                "expected ',' or ']' in the array, found {:?}",
                                *c as char
                            ),
                        });
                        return items;
                    }
                }
            }
            Some(Err(e)) => {
                let cause = if e.is_eof() {
                    format!("JSON array truncated inside element {}", items.len() + 1)
                } else {
                    format!("invalid element {} of the array: {e}", items.len() + 1)
                };
                items.push(DocumentItem::Broken { at: pos, cause });
                return items;
            }
            None => continue,
        }
    }
}

/// Whether `record` is a list envelope (`{"items": […]}`, `{"events": […]}`) or a search
/// response with hits.
fn is_envelope(record: &[u8]) -> bool {
    match serde_json::from_slice::<Envelope>(record) {
        Ok(Envelope {
            items: Some(items), ..
        }) => items.get().starts_with('['),
        Ok(Envelope {
            events: Some(events),
            ..
        }) => events.get().starts_with('['),
        Ok(Envelope {
            hits: Some(hits), ..
        }) => !hits.hits.is_empty(),
        _ => false,
    }
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(borrow, default)]
    hits: Option<Hits<'a>>,
    /// CloudWatch Logs events (`aws logs filter-log-events`, `get-log-events`).
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct Hits<'a> {
    #[serde(borrow, default)]
    hits: Vec<Hit<'a>>,
}

#[derive(serde::Deserialize)]
struct Hit<'a> {
    #[serde(borrow, rename = "_source")]
    source: Option<&'a RawValue>,
}

/// A list envelope's items, a search response's `_source`s, or the object itself.
fn object_items(doc: &[u8], start: usize) -> Vec<DocumentItem> {
    let offset_of = |raw: &RawValue| raw.get().as_ptr() as usize - doc.as_ptr() as usize;
    match serde_json::from_slice::<Envelope>(doc) {
        Ok(Envelope {
            items: Some(items), ..
        }) if items.get().starts_with('[') => array_items(doc, offset_of(items)),
        Ok(Envelope {
            events: Some(events),
            ..
        }) if events.get().starts_with('[') => array_items(doc, offset_of(events)),
        Ok(Envelope {
            hits: Some(hits), ..
        }) if !hits.hits.is_empty() => hits
            .hits
            .iter()
            .filter_map(|h| h.source)
            .map(|raw| {
                let at = offset_of(raw);
                DocumentItem::Record(at..at + raw.get().len())
            })
            .collect(),
        Ok(_) => {
            let end = doc.len()
                - doc
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
            vec![DocumentItem::Record(start..end)]
        }
        Err(e) => {
            // A list envelope cut short still has complete items before the cut.
            if let Some(items_at) = find_items_array(doc) {
                return array_items(doc, items_at);
            }
            vec![DocumentItem::Broken {
                at: start,
                cause: if e.is_eof() {
                    "JSON document truncated".to_string()
                } else {
                    format!("invalid JSON document: {e}")
                },
            }]
        }
    }
}

/// Where `"items": [` opens in a damaged document, if it does.
fn find_items_array(doc: &[u8]) -> Option<usize> {
    let key = memchr::memmem::find(doc, b"\"items\"")?;
    let mut pos = skip_ws(doc, key + 7);
    if doc.get(pos) != Some(&b':') {
        return None;
    }
    pos = skip_ws(doc, pos + 1);
    (doc.get(pos) == Some(&b'[')).then_some(pos)
}

/// One step through concatenated JSON values ([`next_value`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueStep {
    /// A value that is one record, at this byte range.
    Record(Range<usize>),
    /// An array or a list envelope: its records.
    Items(Vec<DocumentItem>),
    /// Bytes that are not a JSON value.
    Broken {
        /// Where the value starts.
        at: usize,
        /// Where the JSON parser stopped.
        error_at: usize,
        /// What it found there.
        cause: String,
    },
    /// The value goes on past the bytes given: give more and ask again from the same place.
    More,
    /// Nothing but whitespace, commas and comments is left.
    End,
}

/// The next of concatenated JSON values in `buf` from `from` (`whole`: `buf` holds the rest of
/// the input), and where the one after it may start. Whitespace, comments and commas between
/// values are passed over. A value that is not JSON is [`ValueStep::Broken`] up to the next
/// line that opens an object or array at its first byte, where splitting resumes (a `jq .`
/// record, an NDJSON line).
pub fn next_value(buf: &[u8], from: usize, whole: bool) -> (ValueStep, usize) {
    let start = skip_separators(buf, from);
    // A `/` at the very end may open a comment whose second character is still to come.
    if start >= buf.len() || (!whole && start + 1 == buf.len() && buf[start] == b'/') {
        return if whole {
            (ValueStep::End, buf.len())
        } else {
            (ValueStep::More, from)
        };
    }
    let mut values = serde_json::Deserializer::from_slice(&buf[start..]).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => {
            let end = start + values.byte_offset();
            // A number, `true` or `null` ending where the bytes end may go on in the next ones.
            if !whole && end == buf.len() && !matches!(buf[end - 1], b'}' | b']' | b'"') {
                return (ValueStep::More, from);
            }
            let step = match buf[start] {
                b'[' => ValueStep::Items(array_items(&buf[..end], start)),
                b'{' if may_be_envelope(&buf[start..end]) => {
                    let items = object_items(&buf[start..end], 0);
                    // A record whose `items` or `hits` is not a list's (a valid value that
                    // does not read as an envelope) is a record like any other.
                    let record = items
                        .iter()
                        .any(|i| matches!(i, DocumentItem::Broken { .. }))
                        || items == [DocumentItem::Record(0..end - start)];
                    if record {
                        ValueStep::Record(start..end)
                    } else {
                        ValueStep::Items(items.iter().map(|i| i.shifted(start)).collect())
                    }
                }
                _ => ValueStep::Record(start..end),
            };
            (step, end)
        }
        Some(Err(e)) if e.is_eof() && !whole => (ValueStep::More, from),
        Some(Err(e)) => {
            let error_at = error_offset(&buf[start..], &e) + start;
            let cause = if e.is_eof() {
                "JSON value truncated at the end of the input".to_string()
            } else {
                let text = e.to_string();
                let code = text
                    .rsplit_once(" at line ")
                    .map_or(&*text, |(code, _)| code);
                format!("invalid JSON value: {code}")
            };
            // A value cut by the end of the input runs to its end; any other resumes at the
            // next line that opens a value.
            let next = if e.is_eof() {
                buf.len()
            } else {
                match next_opening_line(buf, start) {
                    Some(next) => next,
                    None if whole => buf.len(),
                    None => return (ValueStep::More, from),
                }
            };
            let broken = ValueStep::Broken {
                at: start,
                error_at,
                cause,
            };
            (broken, next)
        }
        None => (ValueStep::End, buf.len()),
    }
}

impl DocumentItem {
    fn shifted(&self, by: usize) -> DocumentItem {
        match self {
            DocumentItem::Record(r) => DocumentItem::Record(r.start + by..r.end + by),
            DocumentItem::Broken { at, cause } => DocumentItem::Broken {
                at: at + by,
                cause: cause.clone(),
            },
        }
    }
}

/// Whether an object may be a list envelope or search response (which holds these keys), so
/// that only those are parsed a second time.
fn may_be_envelope(value: &[u8]) -> bool {
    memchr::memmem::find(value, b"\"items\"").is_some()
        || memchr::memmem::find(value, b"\"hits\"").is_some()
        || memchr::memmem::find(value, b"\"events\"").is_some()
}

/// The byte offset in `value` of the position a parse error reports.
fn error_offset(value: &[u8], e: &serde_json::Error) -> usize {
    let line_start = match e.line() {
        0 | 1 => 0,
        n => memchr::memchr_iter(b'\n', value)
            .nth(n - 2)
            .map_or(value.len(), |i| i + 1),
    };
    (line_start + e.column().saturating_sub(1)).min(value.len())
}

/// The start of the first line after the one holding `from` that opens an object or array at
/// its first byte.
fn next_opening_line(buf: &[u8], from: usize) -> Option<usize> {
    let rest = &buf[from..];
    [&b"\n{"[..], b"\n["]
        .iter()
        .filter_map(|opener| memchr::memmem::find(rest, opener))
        .min()
        .map(|i| from + i + 1)
}

/// Passes over whitespace, commas and comments between values.
fn skip_separators(buf: &[u8], mut pos: usize) -> usize {
    loop {
        match buf.get(pos) {
            Some(b) if b.is_ascii_whitespace() || *b == b',' => pos += 1,
            Some(b'/') if buf.get(pos + 1) == Some(&b'/') => {
                pos = memchr::memchr(b'\n', &buf[pos..]).map_or(buf.len(), |i| pos + i + 1);
            }
            Some(b'/') if buf.get(pos + 1) == Some(&b'*') => {
                pos = memchr::memmem::find(&buf[pos + 2..], b"*/")
                    .map_or(buf.len(), |i| pos + 2 + i + 2);
            }
            _ => return pos,
        }
    }
}

fn skip_ws(doc: &[u8], mut pos: usize) -> usize {
    while doc.get(pos).is_some_and(|b| b.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// Blanks `//` and `/* */` comments and commas that close nothing (`[1,]`, `{"a":1,}`) outside
/// strings, in place, so offsets and line numbers do not move.
fn blank_jsonc(doc: &mut [u8]) {
    let mut i = 0;
    let mut in_string = false;
    let mut last_comma: Option<usize> = None;
    while i < doc.len() {
        let c = doc[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                last_comma = None;
            }
            b'/' if doc.get(i + 1) == Some(&b'/') => {
                while i < doc.len() && doc[i] != b'\n' {
                    doc[i] = b' ';
                    i += 1;
                }
                continue;
            }
            b'/' if doc.get(i + 1) == Some(&b'*') => {
                while i < doc.len() && !(doc[i] == b'*' && doc.get(i + 1) == Some(&b'/')) {
                    if doc[i] != b'\n' {
                        doc[i] = b' ';
                    }
                    i += 1;
                }
                if i < doc.len() {
                    doc[i] = b' ';
                    doc[i + 1] = b' ';
                    i += 2;
                }
                continue;
            }
            b',' => last_comma = Some(i),
            b']' | b'}' => {
                if let Some(at) = last_comma.take() {
                    doc[at] = b' ';
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => last_comma = None,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> (Vec<String>, Vec<String>) {
        let mut doc = text.as_bytes().to_vec();
        let items = document_items(&mut doc);
        let mut ok = Vec::new();
        let mut broken = Vec::new();
        for item in items {
            match item {
                DocumentItem::Record(r) => ok.push(String::from_utf8(doc[r].to_vec()).unwrap()),
                DocumentItem::Broken { cause, .. } => broken.push(cause),
            }
        }
        (ok, broken)
    }

    #[test]
    fn arrays_list_envelopes_and_search_hits_yield_their_records() {
        assert_eq!(
            records("[{\"a\":1},\n {\"b\":2}]").0,
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(records("[]").0, Vec::<String>::new());
        assert_eq!(
            records("{\"total\":{\"totalPages\":1},\"items\":[{\"x\":1}]}").0,
            ["{\"x\":1}"]
        );
        assert_eq!(
            records("{\"hits\":{\"hits\":[{\"_source\":{\"y\":2}}]}}").0,
            ["{\"y\":2}"]
        );
        assert_eq!(
            records("{\"events\":[{\"message\":\"m\"}],\"searchedLogStreams\":[]}").0,
            ["{\"message\":\"m\"}"]
        );
        assert_eq!(records("{\n \"z\": 3\n}\n").0, ["{\n \"z\": 3\n}"]);
    }

    #[test]
    fn a_truncated_array_keeps_its_complete_elements() {
        let (ok, broken) = records("[{\"a\":1},{\"b\":2},{\"c\":");
        assert_eq!(ok, ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(broken, ["JSON array truncated inside element 3"]);
        let (ok, broken) = records("{\"items\":[{\"a\":1},{\"b\"");
        assert_eq!(ok, ["{\"a\":1}"]);
        assert_eq!(broken.len(), 1);
    }

    #[test]
    fn comments_and_trailing_commas_are_blanked_in_place() {
        let (ok, broken) = records("{\"a\": [1, 2, ], // note\n \"b\": \"x,]\", /* c */ }");
        assert!(broken.is_empty(), "{broken:?}");
        assert_eq!(ok.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&ok[0]).unwrap();
        assert_eq!(v["b"], "x,]");
    }

    #[test]
    fn framing_is_detected_from_the_first_lines() {
        let framing = |t: &str| Framing::detect(t.as_bytes(), true).unwrap();
        assert_eq!(framing("{\"a\":1}\n{\"a\":2}"), Framing::Lines);
        assert_eq!(framing("[\n{\"a\":1}\n]"), Framing::Document);
        assert_eq!(framing("{\n\"a\": 1\n}"), Framing::Document);
        assert_eq!(framing("data: {\"a\":1}\n\n"), Framing::Sse);
        // Found by the chunk-size test (netflow-core/tests/hostile.rs): `curl` output of a
        // REST list is one minified line, and was read as one unknown record.
        assert_eq!(
            framing("{\"total\":1,\"items\":[{\"a\":1}]}"),
            Framing::Document
        );
        assert_eq!(
            framing("{\"hits\":{\"hits\":[{\"_source\":{}}]}}"),
            Framing::Document
        );
        assert_eq!(framing("{\"items\":\"not a list\"}"), Framing::Lines);
        assert_eq!(framing("{\"items\":[]}\n{\"items\":[]}"), Framing::Lines);
        // Found by the hostile-input tests: NDJSON cut inside its first line (`tail -c`) was
        // taken for a pretty-printed document, and every record after the cut was lost.
        assert_eq!(
            framing("ict\":\"DROPPED\"}}\n{\"flow\":{}}\n{\"flow\":{}}"),
            Framing::Lines
        );
        assert_eq!(
            framing("{\"flow\":{\"verd\n{\"flow\":{}}\n{\"flow\":{}}"),
            Framing::Lines
        );
        assert_eq!(
            framing("{\n  \"items\": [\n    {\"a\": 1},\n    {\"b\": 2}\n  ]\n}"),
            Framing::Document
        );
        assert_eq!(
            framing("{\n  // a comment\n  \"a\": 1,\n}\n"),
            Framing::Document
        );
        assert_eq!(sse_payload(b"data: {}"), Some(&b"{}"[..]));
        assert_eq!(sse_payload(b"event: flow"), None);
    }

    #[test]
    fn values_back_to_back_in_any_layout_are_concatenated() {
        let framing = |t: &str| Framing::detect(t.as_bytes(), true).unwrap();
        // `jq .` output, with and without blank lines between records.
        assert_eq!(
            framing("{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n"),
            Framing::Concatenated
        );
        assert_eq!(
            framing("{\n  \"a\": 1\n}\n\n\n{\n  \"a\": 2\n}"),
            Framing::Concatenated
        );
        assert_eq!(
            framing("{\n  \"a\": 1\n}{\n  \"a\": 2\n}"),
            Framing::Concatenated
        );
        // A pasted pretty record before NDJSON lines, and after them.
        assert_eq!(
            framing("{\n  \"a\": 1\n}\n{\"a\":2}\n{\"a\":3}\n"),
            Framing::Concatenated
        );
        assert_eq!(
            framing("{\"a\":1}\n{\"a\":2}\n{\n  \"a\": 3\n}\n"),
            Framing::Concatenated
        );
        // Two exports one after the other: every record of both.
        assert_eq!(
            framing("[\n{\"a\":1}\n]\n[\n{\"a\":2}\n]"),
            Framing::Concatenated
        );
        // `tail -n` of `jq .` output: the end of a record, then whole ones.
        assert_eq!(
            framing("    \"b\": 1\n  }\n}\n{\n  \"a\": 2\n}\n"),
            Framing::Concatenated
        );
        assert_eq!(
            framing("{\n  \"a\": \"cut\n{\n  \"a\": 2\n}\n"),
            Framing::Concatenated
        );
        // Not JSON, with lines that open a `[` but no JSON value: left to format detection.
        assert_eq!(
            framing("name = \"x\"\n[workspace]\nmembers = []\n"),
            Framing::Lines
        );
        // Whether a second value follows is only known once past the first.
        assert_eq!(Framing::detect(b"{\n  \"a\": 1\n}\n", false), None);
        assert_eq!(Framing::detect(b"{\n  \"a\": ", false), None);
        assert_eq!(
            Framing::detect(b"{\n  \"a\": 1\n}\n{", false),
            Some(Framing::Concatenated)
        );
    }

    /// Every step of splitting `text` whole: `(line, record)` or `(line, "!cause")`.
    fn split(text: &str) -> Vec<(u64, String)> {
        let buf = text.as_bytes();
        let line = |at: usize| buf[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let record = |r: Range<usize>| String::from_utf8(buf[r].to_vec()).unwrap();
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let (step, next) = next_value(buf, pos, true);
            assert!(next >= pos, "splitting went backwards");
            match step {
                ValueStep::Record(r) => out.push((line(r.start), record(r))),
                ValueStep::Items(items) => {
                    for item in items {
                        match item {
                            DocumentItem::Record(r) => out.push((line(r.start), record(r))),
                            DocumentItem::Broken { at, cause } => {
                                out.push((line(at), format!("!{cause}")))
                            }
                        }
                    }
                }
                ValueStep::Broken {
                    at,
                    error_at,
                    cause,
                } => out.push((line(at), format!("!{cause} at line {}", line(error_at)))),
                ValueStep::More => panic!("more asked of a whole input"),
                ValueStep::End => return out,
            }
            pos = next;
        }
    }

    #[test]
    fn each_value_is_a_record_with_the_line_it_starts_on() {
        let text = "{\n  \"a\": 1\n}\n\n{\n  \"a\": 2\n}{\"a\": 3}\n{\"a\":4}\n";
        let got = split(text);
        assert_eq!(
            got,
            [
                (1, "{\n  \"a\": 1\n}".to_string()),
                (5, "{\n  \"a\": 2\n}".to_string()),
                (7, "{\"a\": 3}".to_string()),
                (8, "{\"a\":4}".to_string()),
            ]
        );
    }

    #[test]
    fn commas_and_comments_between_values_are_not_records() {
        let got = split("// two flows\n{\"a\":1},\n/* the reply */ {\"a\":2}\n// end");
        assert_eq!(
            got,
            [(2, "{\"a\":1}".to_string()), (3, "{\"a\":2}".to_string())]
        );
    }

    #[test]
    fn arrays_and_list_envelopes_among_values_give_their_items() {
        let got = split("[{\"a\":1},\n{\"a\":2}]\n{\"items\":[\n{\"b\":1}]}\n{\"items\":3}");
        assert_eq!(
            got,
            [
                (1, "{\"a\":1}".to_string()),
                (2, "{\"a\":2}".to_string()),
                (4, "{\"b\":1}".to_string()),
                (5, "{\"items\":3}".to_string()),
            ]
        );
    }

    #[test]
    fn a_value_that_is_not_json_is_one_skip_and_splitting_resumes_at_the_next_record() {
        // A pretty record cut short by the one after it, a pasted `...`, and a broken
        // NDJSON line.
        let text = "{\n  \"a\": {\n    \"b\": 1\n{\n  \"a\": 2\n}\n...\n{\"a\":3\n{\"a\":4}";
        let got = split(text);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0].0, 1);
        assert!(
            got[0].1.starts_with("!invalid JSON value: ") && got[0].1.ends_with("at line 4"),
            "{got:?}"
        );
        assert_eq!(got[1], (4, "{\n  \"a\": 2\n}".to_string()));
        assert_eq!(got[2].0, 7);
        assert!(got[2].1.ends_with("at line 7"), "{got:?}");
        assert_eq!(got[3].0, 8);
        // The missing `}` is found where the next line opens.
        assert!(got[3].1.ends_with("at line 9"), "{got:?}");
        assert_eq!(got[4], (9, "{\"a\":4}".to_string()));
        // The end of a value cut by the end of the input is one skip.
        let cut = split("{\"a\":1}\n{\n  \"a\": [\n");
        assert_eq!(cut[1].0, 2);
        assert!(cut[1].1.starts_with("!JSON value truncated"), "{cut:?}");
    }

    #[test]
    fn a_value_cut_by_the_end_of_the_bytes_given_asks_for_more() {
        let text = b"{\"a\":1}\n{\n  \"a\": 2";
        let (step, next) = next_value(text, 0, false);
        assert_eq!(step, ValueStep::Record(0..7));
        assert_eq!(next_value(text, next, false), (ValueStep::More, next));
        assert_eq!(next_value(b"12", 0, false), (ValueStep::More, 0));
        assert_eq!(next_value(b"{} /", 2, false), (ValueStep::More, 2));
        assert_eq!(next_value(b"{} ", 2, false), (ValueStep::More, 2));
        assert_eq!(next_value(b"{} ", 2, true), (ValueStep::End, 3));
        // A broken value with no next record in sight yet: more, to find where to resume.
        assert_eq!(next_value(b"{x\n  y", 0, false), (ValueStep::More, 0));
    }
}

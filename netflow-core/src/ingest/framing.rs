//! How records are laid out in an input, independently of their format: one JSON value per
//! line (NDJSON), Server-Sent Events (`data: {…}` lines), or one JSON document — an array of
//! records (`gcloud logging read --format=json`), a list envelope (`{"items": […]}`, a search
//! response's `hits.hits[]._source`), or a single pretty-printed record.
//!
//! Documents are held in memory (they are exports, not streams). JSON-with-comments and
//! trailing commas (`.jsonc` documentation examples) are read by blanking those characters,
//! which keeps every offset and line number as it was. A document cut short yields every
//! complete record before the cut and a skip for the rest.

use std::ops::Range;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The layout of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record per line.
    Lines,
    /// Server-Sent Events: records in `data:` lines; other fields and blank lines ignored.
    Sse,
    /// One JSON document holding the records.
    Document,
}

impl Framing {
    /// `lines`, `sse` or `document`.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Lines => "lines",
            Framing::Sse => "sse",
            Framing::Document => "document",
        }
    }

    /// Decides the layout from the first lines of an input.
    pub fn detect<L: AsRef<[u8]>>(lines: &[L]) -> Framing {
        let non_blank = || {
            lines
                .iter()
                .map(|l| l.as_ref().trim_ascii())
                .filter(|l| !l.is_empty())
        };
        let Some(first) = non_blank().next() else {
            return Framing::Lines;
        };
        if first.starts_with(b"data:") || first.starts_with(b"event:") || first.starts_with(b"id:")
        {
            return Framing::Sse;
        }
        match first.first() {
            // `[` then a value (or nothing on this line) opens a JSON array; `[section]` and
            // the like are not JSON at all and are left to format detection to reject.
            Some(b'[')
                if matches!(
                    first[1..].trim_ascii().first(),
                    None | Some(b'{' | b'[' | b']' | b'"')
                ) =>
            {
                Framing::Document
            }
            // A line that opens an object but is not a whole value starts a pretty-printed
            // document, unless most lines after it are whole objects: then it is NDJSON whose
            // first line was cut (`tail -c`, a rotated log), and only that line is lost.
            Some(b'{') if serde_json::from_slice::<IgnoredAny>(first).is_err() => {
                let rest = non_blank().skip(1).count();
                let whole = non_blank()
                    .skip(1)
                    .filter(|l| l.starts_with(b"{"))
                    .filter(|l| serde_json::from_slice::<IgnoredAny>(l).is_ok())
                    .count();
                if rest > 0 && whole * 2 <= rest {
                    Framing::Document
                } else {
                    Framing::Lines
                }
            }
            // A list envelope or search response alone on its line is a minified document
            // (`curl` of a REST list), not one record.
            Some(b'{') if non_blank().count() == 1 && is_envelope(first) => Framing::Document,
            _ => Framing::Lines,
        }
    }
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

/// Whether `record` is a list envelope (`{"items": […]}`) or a search response with hits.
fn is_envelope(record: &[u8]) -> bool {
    match serde_json::from_slice::<Envelope>(record) {
        Ok(Envelope {
            items: Some(items), ..
        }) => items.get().starts_with('['),
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
        let lines = |t: &str| t.lines().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            Framing::detect(&lines("{\"a\":1}\n{\"a\":2}")),
            Framing::Lines
        );
        assert_eq!(
            Framing::detect(&lines("[\n{\"a\":1}\n]")),
            Framing::Document
        );
        assert_eq!(Framing::detect(&lines("{\n\"a\": 1\n}")), Framing::Document);
        assert_eq!(Framing::detect(&lines("data: {\"a\":1}\n\n")), Framing::Sse);
        // Found by the chunk-size test (netflow-core/tests/hostile.rs): `curl` output of a
        // REST list is one minified line, and was read as one unknown record.
        assert_eq!(
            Framing::detect(&lines("{\"total\":1,\"items\":[{\"a\":1}]}")),
            Framing::Document
        );
        assert_eq!(
            Framing::detect(&lines("{\"hits\":{\"hits\":[{\"_source\":{}}]}}")),
            Framing::Document
        );
        assert_eq!(
            Framing::detect(&lines("{\"items\":\"not a list\"}")),
            Framing::Lines
        );
        assert_eq!(
            Framing::detect(&lines("{\"items\":[]}\n{\"items\":[]}")),
            Framing::Lines
        );
        // Found by the hostile-input tests: NDJSON cut inside its first line (`tail -c`) was
        // taken for a pretty-printed document, and every record after the cut was lost.
        assert_eq!(
            Framing::detect(&lines("ict\":\"DROPPED\"}}\n{\"flow\":{}}\n{\"flow\":{}}")),
            Framing::Lines
        );
        assert_eq!(
            Framing::detect(&lines("{\"flow\":{\"verd\n{\"flow\":{}}\n{\"flow\":{}}")),
            Framing::Lines
        );
        assert_eq!(
            Framing::detect(&lines(
                "{\n  \"items\": [\n    {\"a\": 1},\n    {\"b\": 2}\n  ]\n}"
            )),
            Framing::Document
        );
        assert_eq!(sse_payload(b"data: {}"), Some(&b"{}"[..]));
        assert_eq!(sse_payload(b"event: flow"), None);
    }
}

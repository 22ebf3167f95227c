//! Format detection from content: the first records of an input are parsed and each format's
//! sniffer says whether it recognises them, and why. File names are never consulted.

use serde_json::{Map, Value};

use super::{hubble, Format};

/// How many non-blank lines detection looks at before giving up.
const LINES_TO_SNIFF: usize = 16;

/// The format detection chose and the reason, for `flowq inspect` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The chosen format.
    pub format: Format,
    /// What in the content decided it.
    pub because: String,
}

/// Detects the format of the lines at the start of an input.
///
/// Returns `None` when there is nothing to look at (only blank lines), `Some(Err(detail))` when
/// the content matches no format (the detail names what was seen and the candidates).
pub fn detect_format(lines: &[Vec<u8>]) -> Option<Result<Detection, String>> {
    let mut first_problem: Option<String> = None;
    let mut looked = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        looked += 1;
        match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(map)) => {
                return Some(match sniff(&map) {
                    Some((format, why)) => Ok(Detection {
                        format,
                        because: format!("line {}: {why}", i + 1),
                    }),
                    None => Err(format!(
                        "line {} is a JSON object with keys {} that no format recognises \
                         (hubble: \"flow\", \"node_status\", \"lost_events\", or a bare flow with \
                         \"verdict\"/\"IP\"/\"l4\"); pass --format to choose one: {}",
                        i + 1,
                        describe_keys(&map),
                        format_names()
                    )),
                });
            }
            Ok(other) => {
                first_problem.get_or_insert_with(|| {
                    format!(
                        "line {} is JSON but not an object (found {}); flow logs are one JSON \
                         object per line",
                        i + 1,
                        json_kind(&other)
                    )
                });
            }
            Err(e) => {
                first_problem.get_or_insert_with(|| {
                    format!(
                        "line {} is not JSON ({}, starts with {})",
                        i + 1,
                        e,
                        preview(trimmed)
                    )
                });
            }
        }
        if looked >= LINES_TO_SNIFF {
            break;
        }
    }
    let problem = first_problem?;
    Some(Err(format!(
        "{problem}; pass --format to choose one: {}",
        format_names()
    )))
}

fn sniff(map: &Map<String, Value>) -> Option<(Format, String)> {
    hubble::sniff(map).map(|why| (Format::Hubble, why))
}

fn format_names() -> String {
    Format::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_keys(map: &Map<String, Value>) -> String {
    let keys: Vec<String> = map.keys().take(6).map(|k| format!("{k:?}")).collect();
    let more = if map.len() > 6 { ", …" } else { "" };
    format!("[{}{more}]", keys.join(", "))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn preview(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(24)];
    match std::str::from_utf8(head) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => {
            let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("bytes {}", hex.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str) -> Option<Result<Detection, String>> {
        let lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        detect_format(&lines)
    }

    #[test]
    fn hubble_wrapper_and_bare_flows_are_detected() {
        let d = detect("\n{\"flow\":{}}").unwrap().unwrap();
        assert_eq!(d.format, Format::Hubble);
        assert!(d.because.starts_with("line 2"), "{}", d.because);
        let d = detect(r#"{"verdict":"DROPPED","IP":{}}"#).unwrap().unwrap();
        assert_eq!(d.format, Format::Hubble);
    }

    #[test]
    fn yaml_and_binary_are_rejected_with_a_reason() {
        let e = detect("apiVersion: v1\nkind: List").unwrap().unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = detect("\u{1}\u{2}binary").unwrap().unwrap_err();
        assert!(e.contains("--format"), "{e}");
        let e = detect(r#"{"foo": 1}"#).unwrap().unwrap_err();
        assert!(e.contains("\"foo\""), "{e}");
    }

    #[test]
    fn blank_input_detects_nothing() {
        assert!(detect("\n  \n").is_none());
    }
}

//! Format detection from content: the first records of an input are parsed and each format's
//! sniffer says whether it recognises them, and why. File names are never consulted.

use serde_json::{Map, Value};

use super::{calico, gke_policy, gke_vpc, goldmane, hubble, kube_network_policies};
use crate::format::Format;

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

/// Detects the format from the first records of an input, given with their line numbers.
///
/// Returns `None` when there is nothing to look at (only blank lines), `Some(Err(detail))` when
/// the content matches no format (the detail names what was seen and the candidates).
pub fn detect_format(records: &[(u64, &[u8])]) -> Option<Result<Detection, String>> {
    let mut first_problem: Option<String> = None;
    let mut looked = 0;
    for &(line_no, record) in records {
        let trimmed = record.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        looked += 1;
        match serde_json::from_slice::<Value>(trimmed) {
            // A klog JSON record no format claims (a program's startup messages) says
            // nothing yet: the records after it decide.
            Ok(Value::Object(map))
                if kube_network_policies::is_klog_json(&map) && matches!(sniff(&map), Ok(None)) =>
            {
                first_problem.get_or_insert_with(|| {
                    format!(
                        "line {line_no} is a klog JSON record ({}) and no record after it is a \
                         flow record",
                        describe_keys(&map)
                    )
                });
            }
            Ok(Value::Object(map)) => {
                return Some(match sniff(&map) {
                    Ok(Some((format, why))) => Ok(Detection {
                        format,
                        because: format!("line {line_no}: {why}"),
                    }),
                    Ok(None) => Err(format!(
                        "line {line_no} is a JSON object with keys {} that no format recognises: \
                         it has neither \"flow\" (Hubble), \"jsonPayload\" (Cloud Logging), \
                         \"action\"+\"reporter\" (Calico), \"Key\" (Goldmane) nor \
                         \"connection\"+\"disposition\" (GKE)",
                        describe_keys(&map),
                    )),
                    Err(ambiguous) => Err(format!("line {line_no} {ambiguous}")),
                });
            }
            Ok(other) => {
                first_problem.get_or_insert_with(|| {
                    format!(
                        "line {} is JSON but not an object (found {}); flow logs are one JSON \
                         object per line",
                        line_no,
                        json_kind(&other)
                    )
                });
            }
            Err(_) if kube_network_policies::sniff_text(trimmed).is_some() => {
                let why = kube_network_policies::sniff_text(trimmed).unwrap_or_default();
                return Some(Ok(Detection {
                    format: Format::KubeNetworkPolicies,
                    because: format!("line {line_no}: {why}"),
                }));
            }
            Err(e) => {
                first_problem.get_or_insert_with(|| {
                    format!(
                        "line {} is not JSON ({}, starts with {})",
                        line_no,
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
    Some(Err(problem))
}

/// Asks every format; more than one answer is ambiguous and reported as such.
fn sniff(map: &Map<String, Value>) -> Result<Option<(Format, String)>, String> {
    let answers: Vec<(Format, String)> = Format::ALL
        .iter()
        .filter_map(|f| {
            let why = match f {
                Format::Hubble => hubble::sniff(map),
                Format::Calico => calico::sniff(map),
                Format::Goldmane => goldmane::sniff(map),
                Format::GkeVpc => gke_vpc::sniff(map),
                Format::GkePolicyAction => gke_policy::sniff(map),
                Format::KubeNetworkPolicies => kube_network_policies::sniff(map),
            };
            why.map(|w| (*f, w))
        })
        .collect();
    match answers.len() {
        0 | 1 => Ok(answers.into_iter().next()),
        _ => Err(format!(
            "matches several formats ({})",
            answers
                .iter()
                .map(|(f, why)| format!("{f}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
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
        let lines: Vec<(u64, &[u8])> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.as_bytes()))
            .collect();
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
        assert!(e.contains("not JSON"), "{e}");
        let e = detect(r#"{"foo": 1}"#).unwrap().unwrap_err();
        assert!(e.contains("\"foo\""), "{e}");
    }

    #[test]
    fn blank_input_detects_nothing() {
        assert!(detect("\n  \n").is_none());
    }
}

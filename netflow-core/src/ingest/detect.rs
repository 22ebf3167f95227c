//! Format detection from content: the first records of an input are parsed and each format's
//! sniffer says whether it recognises them, and why. A JSON object goes to the JSON formats'
//! sniffers, a line that is not JSON to the text formats' (the enforcers that print lines);
//! lines no format claims but that a log may hold among its records (another line of an
//! agent's structured log, a `kubectl` notice) are passed over for the next. File names are
//! never consulted.

use serde_json::{Map, Value};

use super::{
    antrea, aws_npa, calico, calico_node, gke_policy, gke_vpc, goldmane, hubble,
    kube_network_policies, ovn_acl,
};
use crate::format::Format;

/// How many non-blank lines that are neither records nor log lines detection looks at before
/// giving up.
const LINES_TO_SNIFF: usize = 16;

/// How many lines of a structured log (JSON with a message and a level) detection passes over
/// looking for the first record: an agent writes its start-up and controller lines first.
const LOG_LINES_TO_PASS_OVER: usize = 4000;

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
    let mut passed_over = 0;
    for &(line_no, record) in records {
        let trimmed = record.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(map)) => match sniff(&map) {
                Ok(Some((format, why))) => {
                    return Some(Ok(Detection {
                        format,
                        because: format!("line {line_no}: {why}"),
                    }))
                }
                // A structured log's other lines (an agent's start-up, its controllers) may come
                // before its first flow: look on.
                // So may a program's klog JSON start-up messages (kube-network-policies).
                Ok(None) if is_log_line(&map) || kube_network_policies::is_klog_json(&map) => {
                    passed_over += 1;
                    first_problem.get_or_insert_with(|| {
                        format!(
                            "line {line_no} is a log line (keys {}) that no format recognises",
                            describe_keys(&map)
                        )
                    });
                }
                Ok(None) => {
                    return Some(Err(format!(
                        "line {line_no} is a JSON object with keys {} that no format recognises: \
                         it has neither \"flow\" (Hubble), \"jsonPayload\" (Cloud Logging), \
                         \"action\"+\"reporter\" (Calico), \"Key\" (Goldmane), \
                         \"connection\"+\"disposition\" (GKE) nor a \"Flow Info\" \"msg\" (AWS \
                         network policy agent)",
                        describe_keys(&map),
                    )))
                }
                Err(ambiguous) => return Some(Err(format!("line {line_no} {ambiguous}"))),
            },
            Ok(other) => {
                looked += 1;
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
            Err(e) => match std::str::from_utf8(trimmed).map(sniff_text) {
                Ok(Ok(Some((format, why)))) => {
                    return Some(Ok(Detection {
                        format,
                        because: format!("line {line_no} {why}"),
                    }))
                }
                Ok(Err(ambiguous)) => return Some(Err(format!("line {line_no} {ambiguous}"))),
                _ => {
                    looked += 1;
                    first_problem.get_or_insert_with(|| {
                        format!(
                            "line {} is not JSON ({}, starts with {}) nor a line of a text \
                             format ({})",
                            line_no,
                            e,
                            preview(trimmed),
                            TEXT_FORMATS
                                .iter()
                                .map(|f| f.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                }
            },
        }
        if looked >= LINES_TO_SNIFF || passed_over >= LOG_LINES_TO_PASS_OVER {
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
                Format::AwsNetworkPolicyAgent => aws_npa::sniff(map),
                Format::KubeNetworkPolicies => kube_network_policies::sniff(map),
                // Text lines only.
                Format::OvnKubernetesAcl | Format::AntreaNpLog | Format::CalicoNodeFlows => None,
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

/// The formats whose records are text lines, not JSON (some also have JSON lines).
const TEXT_FORMATS: &[Format] = &[
    Format::AwsNetworkPolicyAgent,
    Format::OvnKubernetesAcl,
    Format::AntreaNpLog,
    Format::CalicoNodeFlows,
];

/// Asks every text format about a line that is not JSON; more than one answer is ambiguous.
fn sniff_text(line: &str) -> Result<Option<(Format, String)>, String> {
    let answers: Vec<(Format, String)> = TEXT_FORMATS
        .iter()
        .filter_map(|f| {
            let why = match f {
                Format::AwsNetworkPolicyAgent => aws_npa::sniff_line(line),
                Format::OvnKubernetesAcl => ovn_acl::sniff_line(line),
                Format::AntreaNpLog => antrea::sniff_line(line),
                Format::CalicoNodeFlows => calico_node::sniff_line(line),
                _ => None,
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

/// Whether a JSON object is a line of a structured log (zap, logr, klog JSON: a message and a
/// level), which a log holds among its flow records.
fn is_log_line(map: &Map<String, Value>) -> bool {
    (map.contains_key("msg") || map.contains_key("message"))
        && (map.contains_key("level") || map.contains_key("ts") || map.contains_key("v"))
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
    fn a_logs_other_lines_are_passed_over_for_its_first_record() {
        let agent =
            r#"{"level":"info","ts":"2026-01-01T00:00:00Z","caller":"main.go:1","msg":"starting"}"#;
        let flow = r#"{"level":"info","ts":"2026-01-01T00:00:01Z","msg":"Flow Info: Src IP: 10.0.0.1 Src Port: 1 Dest IP: 10.0.0.2 Dest Port: 80 Proto TCP Verdict DENY Direction ingress"}"#;
        let text = format!("{}{flow}\n", format!("{agent}\n").repeat(100));
        let d = detect(&text).unwrap().unwrap();
        assert_eq!(d.format, Format::AwsNetworkPolicyAgent);
        assert!(d.because.starts_with("line 101:"), "{}", d.because);
        // Only log lines: no format, saying so.
        let e = detect(&format!("{agent}\n").repeat(3))
            .unwrap()
            .unwrap_err();
        assert!(e.contains("is a log line"), "{e}");
        // Text lines no format claims before one that a text format does (kubectl notices).
        let d = detect("Defaulting container name to x.\nNode: n;SIP: 10.0.0.1;SPORT: 1;DIP: 10.0.0.2;DPORT: 80;PROTOCOL: TCP;PolicyVerdict: DENY").unwrap().unwrap();
        assert_eq!(d.format, Format::AwsNetworkPolicyAgent);
        let e = detect("hello\nworld").unwrap().unwrap_err();
        assert!(
            e.contains("nor a line of a text format (aws-network-policy-agent"),
            "{e}"
        );
    }

    #[test]
    fn blank_input_detects_nothing() {
        assert!(detect("\n  \n").is_none());
    }
}

//! Kubernetes label selectors: the structured form used by NetworkPolicy (`matchLabels`,
//! `matchExpressions`) and the text form used on the command line (`app=x,tier!=db,env in (a,b)`),
//! both evaluated against a label map.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A label selector as written in a Kubernetes object. `{}` (no labels, no expressions)
/// selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Exact label matches, ANDed. `null` and absent are the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Set-based requirements, ANDed with each other and with `match_labels`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<Vec<Requirement>>,
}

/// One set-based requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: Operator,
    /// Values for `In` / `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Operator of a set-based requirement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// An operator this version does not know; it never matches (the API server rejects it).
    #[serde(other)]
    Unknown,
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Unknown => false,
        }
    }
}

impl LabelSelector {
    /// Whether the selector selects every object (`{}`).
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && self.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    }

    /// Whether `labels` satisfy every part of the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .match_expressions
                .iter()
                .flatten()
                .all(|r| r.matches(labels))
    }

    /// The parts of the selector `labels` fail, each rendered as text (empty when it matches).
    pub fn unmet(&self, labels: &BTreeMap<String, String>) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in self.match_labels.iter().flatten() {
            if labels.get(k) != Some(v) {
                out.push(format!("{k}={v}"));
            }
        }
        for r in self.match_expressions.iter().flatten() {
            if !r.matches(labels) {
                out.push(r.to_string());
            }
        }
        out
    }

    /// Parses the text form used by `kubectl -l` and hubble `--label`:
    /// `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by commas.
    pub fn parse(text: &str) -> Result<LabelSelector> {
        let err = |detail: String| Error::Selector {
            input: text.to_string(),
            detail,
        };
        let mut labels = BTreeMap::new();
        let mut expressions = Vec::new();
        for term in split_terms(text).map_err(err)? {
            let term = term.trim();
            if term.is_empty() {
                return Err(err("empty term between commas".to_string()));
            }
            if let Some(key) = term.strip_prefix('!') {
                expressions.push(Requirement {
                    key: valid_key(key.trim()).map_err(err)?,
                    operator: Operator::DoesNotExist,
                    values: Vec::new(),
                });
            } else if let Some((k, v)) = term.split_once("!=") {
                expressions.push(Requirement {
                    key: valid_key(k.trim()).map_err(err)?,
                    operator: Operator::NotIn,
                    values: vec![valid_value(v.trim()).map_err(err)?],
                });
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                labels.insert(
                    valid_key(k.trim()).map_err(err)?,
                    valid_value(v.trim()).map_err(err)?,
                );
            } else if let Some((k, op, values)) = set_term(term) {
                let values = values
                    .split(',')
                    .map(|v| valid_value(v.trim()))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(err)?;
                expressions.push(Requirement {
                    key: valid_key(k).map_err(err)?,
                    operator: op,
                    values,
                });
            } else {
                expressions.push(Requirement {
                    key: valid_key(term).map_err(err)?,
                    operator: Operator::Exists,
                    values: Vec::new(),
                });
            }
        }
        Ok(LabelSelector {
            match_labels: Some(labels).filter(|l| !l.is_empty()),
            match_expressions: Some(expressions).filter(|e| !e.is_empty()),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> std::result::Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unmatched ')' at byte {i}"));
                }
            }
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed '('".to_string());
    }
    terms.push(&text[start..]);
    Ok(terms)
}

/// `key in (a,b)` / `key notin (a,b)`.
fn set_term(term: &str) -> Option<(&str, Operator, &str)> {
    let open = term.find('(')?;
    let inner = term[open + 1..].strip_suffix(')')?;
    let head = term[..open].trim_end();
    let (key, op) = head.rsplit_once(char::is_whitespace)?;
    let op = match op {
        "in" => Operator::In,
        "notin" => Operator::NotIn,
        _ => return None,
    };
    Some((key.trim(), op, inner))
}

fn valid_key(key: &str) -> std::result::Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("{key:?} is not a valid label key"))
    }
}

fn valid_value(value: &str) -> std::result::Result<String, String> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!("{value:?} is not a valid label value"))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            // `k=v` would read back as a `matchLabels` entry, not as this requirement.
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn if self.values.len() == 1 => {
                write!(f, "{}!={}", self.key, self.values[0])
            }
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Unknown => write!(f, "{} <unknown operator>", self.key),
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("{} (everything)");
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.extend(
            self.match_expressions
                .iter()
                .flatten()
                .map(|r| r.to_string()),
        );
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_selector_selects_everything() {
        let s: LabelSelector = serde_json::from_str("{}").unwrap();
        assert!(s.matches(&labels(&[])));
        let s: LabelSelector = serde_json::from_str(r#"{"matchLabels": null}"#).unwrap();
        assert!(s.is_empty() && s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn match_expressions_follow_kubernetes_semantics() {
        let s: LabelSelector = serde_json::from_str(
            r#"{"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]}"#,
        )
        .unwrap();
        assert!(s.matches(&labels(&[])), "NotIn matches a missing key");
        assert!(!s.matches(&labels(&[("env", "prod")])));
        let s: LabelSelector =
            serde_json::from_str(r#"{"matchExpressions":[{"key":"env","operator":"Bogus"}]}"#)
                .unwrap();
        assert!(!s.matches(&labels(&[("env", "x")])));
    }

    #[test]
    fn text_selectors_parse_like_kubectl() {
        let s = LabelSelector::parse("app=x,tier!=db,env in (a, b),!legacy,team").unwrap();
        assert!(s.matches(&labels(&[("app", "x"), ("env", "b"), ("team", "t")])));
        assert!(!s.matches(&labels(&[("app", "x"), ("env", "c"), ("team", "t")])));
        assert!(!s.matches(&labels(&[
            ("app", "x"),
            ("env", "a"),
            ("team", "t"),
            ("tier", "db")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "x"),
            ("env", "a"),
            ("team", "t"),
            ("legacy", "")
        ])));
        assert_eq!(s.to_string(), "app=x,tier!=db,env in (a,b),!legacy,team");
    }

    #[test]
    fn a_single_value_set_requirement_shows_as_a_set_and_parses_back() {
        // Found by fuzzing (fuzz/fuzz_targets/selector.rs): `x in (y)` used to show as `x=y`,
        // which parses back as a `matchLabels` entry instead of the requirement.
        for text in ["x in (y)", "x in ()", "x notin (y)", "x in (y),x=y"] {
            let s = LabelSelector::parse(text).unwrap();
            let shown = s.to_string();
            assert_eq!(
                LabelSelector::parse(&shown).unwrap(),
                s,
                "{text:?} shows as {shown:?}"
            );
        }
        assert_eq!(
            LabelSelector::parse("x in (y)").unwrap().to_string(),
            "x in (y)"
        );
    }

    #[test]
    fn malformed_text_selectors_are_errors() {
        for bad in ["app=", "", "a,,b", "env in (a", "x=(y)", "a b c=d"] {
            let r = LabelSelector::parse(bad);
            if bad == "app=" {
                assert!(r.is_ok(), "an empty value is valid");
            } else {
                assert!(r.is_err(), "{bad:?} should not parse");
            }
        }
    }
}

//! What the text-line formats share (the enforcers that print lines rather than JSON: the AWS
//! network policy agent's messages, OVN ACL audit lines, Antrea's `np.log`, `calico-node
//! -flows`): a line as text, fields found by their labels in the order the producer prints
//! them, `key=value` lists, and the timestamps these producers write. The JSON formats never
//! come through here; each text decoder uses these to cut its own line shapes.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The line as trimmed text, or why it is not text.
pub(super) fn as_text(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line.trim_ascii())
        .map_err(|e| format!("expected a text line, found bytes that are not UTF-8 ({e})"))
}

/// The values of `labels` in `text`, where each label is printed before its value (`Src IP:
/// 10.0.0.1 Src Port: 80 …`, `SIP: 10.0.0.1;SPORT: 80;…`). Labels are looked for in the order
/// given, each after the one before (a label missing from the line is `None` and the search
/// goes on), and only where they stand as words: at the start of the text or after a space,
/// `;` or `,`, and followed by `:`, a space or the end. A value runs to where the next label
/// found starts, without its surrounding spaces and a trailing `,` or `;` — so a value may hold
/// spaces (`Proto ANY PROTOCOL Verdict DENY`), which splitting on spaces would break.
pub(super) fn labelled<'a, const N: usize>(
    text: &'a str,
    labels: [&str; N],
) -> [Option<&'a str>; N] {
    // Where each label found starts, and where its value starts.
    let mut found: [Option<(usize, usize)>; N] = [None; N];
    let mut from = 0;
    for (slot, label) in found.iter_mut().zip(labels) {
        if let Some((at, value_at)) = find_label(text, label, from) {
            *slot = Some((at, value_at));
            from = value_at;
        }
    }
    let mut out: [Option<&'a str>; N] = [None; N];
    for i in 0..N {
        let Some((_, value_at)) = found[i] else {
            continue;
        };
        let end = found[i + 1..]
            .iter()
            .flatten()
            .map(|(at, _)| *at)
            .next()
            .unwrap_or(text.len());
        let value = text[value_at..end.max(value_at)]
            .trim()
            .trim_end_matches([',', ';'])
            .trim_end();
        out[i] = Some(value);
    }
    out
}

/// Where `label` stands as a word in `text` at or after `from`, and where its value starts
/// (past a `:` and spaces).
fn find_label(text: &str, label: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut search = from;
    while let Some(i) = text.get(search..)?.find(label) {
        let at = search + i;
        let end = at + label.len();
        let before_ok = at == 0 || matches!(bytes[at - 1], b' ' | b';' | b',' | b'\t');
        let after = bytes.get(end).copied();
        let after_ok = matches!(after, None | Some(b':' | b' ' | b'\t'));
        if before_ok && after_ok {
            let mut value_at = end;
            if after == Some(b':') {
                value_at += 1;
            }
            while bytes
                .get(value_at)
                .is_some_and(|b| *b == b' ' || *b == b'\t')
            {
                value_at += 1;
            }
            return Some((at, value_at));
        }
        search = at + 1;
    }
    None
}

/// The `key=value` pairs of a comma-separated list (`tcp,nw_src=10.0.0.1,tp_dst=80`), in order;
/// a token without `=` is a key with an empty value. A key printed twice keeps both: the caller
/// takes the first ([`first`]).
pub(super) fn key_values(text: &str) -> Vec<(&str, &str)> {
    text.split(',')
        .map(|token| {
            let token = token.trim();
            token.split_once('=').unwrap_or((token, ""))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The first value of `key` in pairs from [`key_values`].
pub(super) fn first<'a>(pairs: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A port printed in a text line: `0` (ICMP and other portless protocols) and `<nil>` are no
/// port.
pub(super) fn text_port(value: Option<&str>, field: &str) -> Result<Option<u16>, String> {
    match value {
        None | Some("<nil>") | Some("") => Ok(None),
        Some(v) => match v.parse::<u16>() {
            Ok(0) => Ok(None),
            Ok(p) => Ok(Some(p)),
            Err(_) => Err(format!("{field} {v:?} is not a port (0-65535)")),
        },
    }
}

/// An address printed in a text line.
pub(super) fn text_ip(
    value: Option<&str>,
    field: &str,
) -> Result<Option<std::net::IpAddr>, String> {
    match value {
        None | Some("<nil>") | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{field} {v:?} is not an IP address")),
    }
}

/// An RFC 3339 time (`2023-12-06T14:25:58.455-06:00`, `2024-06-09T19:00:10.441Z`) at the start
/// of `text`, ended by a space or `|`: the time and the rest of the text after the separators.
pub(super) fn leading_rfc3339(text: &str) -> Option<(DateTime<Utc>, &str)> {
    let end = text.find([' ', '\t', '|']).unwrap_or(text.len());
    let time = DateTime::parse_from_rfc3339(&text[..end]).ok()?;
    Some((
        time.with_timezone(&Utc),
        text[end..].trim_start_matches([' ', '\t']),
    ))
}

/// A time with no zone (`2023/07/04 12:45:21.804416`, Go's `log` date and microseconds), taken
/// as UTC, the zone such agents run in.
pub(super) fn naive_utc(date: &str, time: &str, format: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), format)
        .ok()
        .map(|t| t.and_utc())
}

/// The first characters of a line, for a skip's cause.
pub(super) fn preview(text: &str) -> String {
    let cut: String = text.chars().take(48).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_values_may_hold_spaces_and_labels_may_be_missing() {
        let [a, b, c, d] = labelled(
            "Flow Info: Src IP: 10.0.0.1 Proto ANY PROTOCOL Verdict DENY, Tier ADMIN",
            ["Src IP", "Proto", "Direction", "Verdict"],
        );
        assert_eq!(a, Some("10.0.0.1"));
        assert_eq!(b, Some("ANY PROTOCOL"));
        assert_eq!(c, None);
        assert_eq!(d, Some("DENY, Tier ADMIN"));
        let [sip, verdict, tier] = labelled(
            "Node: ip-1;SIP: fd00::1;PolicyVerdict: ACCEPT;Tier: ADMIN",
            ["SIP", "PolicyVerdict", "Tier"],
        );
        assert_eq!(
            (sip, verdict, tier),
            (Some("fd00::1"), Some("ACCEPT"), Some("ADMIN"))
        );
    }

    #[test]
    fn a_label_inside_a_word_or_value_is_not_a_label() {
        // `DIP` inside `SDIP`, `Proto` inside `Protocol`.
        let [dip, proto] = labelled("SDIP: x;DIP: 10.0.0.2;Proto TCP", ["DIP", "Proto"]);
        assert_eq!(dip, Some("10.0.0.2"));
        assert_eq!(proto, Some("TCP"));
        let [proto] = labelled("Protocol: y Proto TCP", ["Proto"]);
        assert_eq!(proto, Some("TCP"));
    }

    #[test]
    fn key_values_keep_every_occurrence_in_order() {
        let kv = key_values("tcp,nw_src=10.0.0.1,tp_src=1,tcp_flags=fin|ack=0,tp_src=2");
        assert_eq!(kv[0], ("tcp", ""));
        assert_eq!(first(&kv, "tp_src"), Some("1"));
        assert_eq!(first(&kv, "tcp_flags"), Some("fin|ack=0"));
    }

    #[test]
    fn leading_times_keep_their_offset_as_utc() {
        let (t, rest) = leading_rfc3339("2023-12-06T14:25:58.455-06:00   Node: x").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-12-06T20:25:58.455+00:00");
        assert_eq!(rest, "Node: x");
        assert!(leading_rfc3339("Node: x").is_none());
        assert_eq!(
            naive_utc("2023/07/04", "12:45:21.804416", "%Y/%m/%d %H:%M:%S%.f")
                .unwrap()
                .to_rfc3339(),
            "2023-07-04T12:45:21.804416+00:00"
        );
    }

    #[test]
    fn ports_zero_and_nil_are_no_port() {
        assert_eq!(text_port(Some("0"), "p"), Ok(None));
        assert_eq!(text_port(Some("<nil>"), "p"), Ok(None));
        assert_eq!(text_port(Some("443"), "p"), Ok(Some(443)));
        assert!(text_port(Some("70000"), "p").unwrap_err().contains("70000"));
    }
}

//! The byte pre-filter's needles: before a line is parsed, cheap substring searches (memmem)
//! rule out lines that cannot match the query, so they are counted but never decoded. Part of
//! the ground: the query layer builds the needles, the reader finds them.
//!
//! The needles are data built by the query layer (which knows which conditions must appear
//! verbatim in any matching record); this module only finds them. A needle group matches a
//! line when one of its needles is in it; a line may match only when every group does. A line
//! holding a backslash always may, since a JSON escape could spell a needle differently.
//! Numbers (ports, IPv4 addresses) only count where they stand alone: `9200` inside `19200` or
//! `92001` is some other number.

use memchr::memmem::Finder;

/// Groups of needles: a line may match only if every group has a needle in it.
#[derive(Debug, Clone)]
pub struct Needles {
    groups: Vec<NeedleGroup>,
    description: Vec<String>,
}

/// Needles of which a line needs one.
#[derive(Debug, Clone)]
struct NeedleGroup {
    finders: Vec<Finder<'static>>,
    /// Hits count only when not touching another digit (for ports and addresses).
    delimited: bool,
}

impl NeedleGroup {
    /// Positions of the hits in `buf` that count.
    fn hits<'a>(&'a self, buf: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        self.finders.iter().flat_map(move |f| {
            let len = f.needle().len();
            f.find_iter(buf)
                .filter(move |&pos| !self.delimited || stands_alone(buf, pos, len))
        })
    }
}

/// Whether the digits at `buf[pos..pos + len]` are not part of a longer number.
fn stands_alone(buf: &[u8], pos: usize, len: usize) -> bool {
    let digit_before = pos > 0 && buf[pos - 1].is_ascii_digit() && buf[pos].is_ascii_digit();
    let last = pos + len - 1;
    let digit_after =
        buf.get(last + 1).is_some_and(u8::is_ascii_digit) && buf[last].is_ascii_digit();
    !digit_before && !digit_after
}

/// Where each needle group hits in one buffer: found with one SIMD pass per needle over the
/// whole buffer, then asked line by line, in order, by [`NeedleHits::within`].
#[derive(Debug)]
pub struct NeedleHits {
    /// Per group, the sorted positions of its hits.
    groups: Vec<Vec<usize>>,
    /// Per group, the first hit not yet behind the lines asked about.
    next: Vec<usize>,
}

impl NeedleHits {
    /// Whether every group hits within `start..end` (a hit must lie wholly inside a line, and
    /// needles never hold a newline, so a hit starting there is inside). Lines must be asked
    /// about in order of their start.
    pub fn within(&mut self, start: usize, end: usize) -> bool {
        debug_assert!(start <= end, "a line ends after it starts");
        let mut all = true;
        for (hits, next) in self.groups.iter().zip(self.next.iter_mut()) {
            while hits.get(*next).is_some_and(|&pos| pos < start) {
                *next += 1;
            }
            all &= hits.get(*next).is_some_and(|&pos| pos < end);
        }
        all
    }
}

impl Default for Needles {
    fn default() -> Needles {
        Needles::new()
    }
}

impl Needles {
    /// No groups yet: rules nothing out until one is added.
    pub fn new() -> Needles {
        Needles {
            groups: Vec::new(),
            description: Vec::new(),
        }
    }

    /// Whether no group was added (nothing would be ruled out).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Adds a group named `name` (for [`Needles::describe`]): a line must hold one of
    /// `needles`. `delimited` needles (digits of a port or address) count only where they are
    /// not part of a longer number. Empty needles are ignored; a group of none is not added.
    pub fn add(&mut self, name: &str, delimited: bool, needles: impl IntoIterator<Item = String>) {
        let needles: Vec<String> = needles.into_iter().filter(|n| !n.is_empty()).collect();
        if needles.is_empty() {
            return;
        }
        self.description
            .push(format!("{name}: {}", needles.join(" | ")));
        self.groups.push(NeedleGroup {
            finders: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            delimited,
        });
    }

    /// Whether the line may match (false means it certainly cannot): every group has a
    /// needle in it, or it holds a backslash.
    pub fn may_match(&self, line: &[u8]) -> bool {
        memchr::memchr(b'\\', line).is_some()
            || self
                .groups
                .iter()
                .all(|group| group.hits(line).next().is_some())
    }

    /// Where the needles hit in `buf`, to ask line by line which lines may match: a line of
    /// `buf` may match when [`NeedleHits::within`] says so or it holds a backslash, the same
    /// answer as [`Needles::may_match`] on that line. The caller finds the line ends and
    /// backslashes in one pass of its own.
    pub fn hits(&self, buf: &[u8]) -> NeedleHits {
        let groups: Vec<Vec<usize>> = self
            .groups
            .iter()
            .map(|group| {
                let mut hits: Vec<usize> = group.hits(buf).collect();
                if group.finders.len() > 1 {
                    hits.sort_unstable();
                }
                hits
            })
            .collect();
        NeedleHits {
            next: vec![0; groups.len()],
            groups,
        }
    }

    /// The conditions, for `-v` and tests.
    pub fn describe(&self) -> &[String] {
        &self.description
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimited_needles_stand_alone() {
        let mut n = Needles::new();
        n.add("dst-port", true, ["9200".to_string()]);
        assert!(n.may_match(br#"{"port":9200}"#));
        assert!(!n.may_match(br#"{"port":19200}"#));
        assert!(!n.may_match(br#"{"port":92001}"#));
        assert!(n.may_match(br#"{"port":"9200"}"#));
        assert!(n.may_match(br#"{"x":"\u0039200"}"#), "escapes are parsed");
    }

    #[test]
    fn an_empty_set_rules_nothing_out_and_empty_needles_add_no_group() {
        let mut n = Needles::new();
        n.add("node", false, [String::new()]);
        assert!(n.is_empty());
        assert!(n.may_match(b"anything"));
    }
}

//! Tables laid out for the terminal they are printed in. `-o table` has three layouts:
//! - on a terminal, cells are wrapped at word boundaries to fit its width (a word or a name is
//!   never cut), a denied connection's WHY gets the full width on its own indented lines under
//!   the row, and long node names are shortened to the part that tells them apart;
//! - with `--wide`, every row is one line with full names, however long;
//! - when stdout is not a terminal, the stable layout of `table.rs`, for scripts and diffs.

use std::io::IsTerminal;

use textwrap::core::display_width;

/// How a table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Not a terminal: comfy-table's layout, never wrapped (stable for scripts).
    Stable,
    /// A terminal this many columns wide.
    Terminal(usize),
    /// One line per row, full names.
    Wide,
}

impl Layout {
    /// `--wide`, else the terminal's width when stdout is one (`COLUMNS` when set), else the
    /// stable layout.
    pub fn choose(wide: bool) -> Layout {
        if wide {
            return Layout::Wide;
        }
        if !std::io::stdout().is_terminal() {
            return Layout::Stable;
        }
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .or_else(|| comfy_table::Table::new().width().map(usize::from))
            .unwrap_or(100);
        Layout::Terminal(width.max(40))
    }
}

/// Spaces between columns.
const GAP: usize = 2;
/// Indentation of the lines under a row.
const UNDER_INDENT: &str = "    ";

/// A table of cells (each possibly several lines), with lines to print under each row.
#[derive(Debug, Default)]
pub struct Grid {
    /// Column titles.
    pub header: Vec<String>,
    /// The rows.
    pub rows: Vec<GridRow>,
    /// Columns aligned right (counts).
    pub right: Vec<usize>,
    /// Columns that may be wrapped to fit (names, places); the others keep their width.
    pub flexible: Vec<usize>,
}

/// One row of a [`Grid`].
#[derive(Debug, Default)]
pub struct GridRow {
    /// One text per column; `\n` separates its lines.
    pub cells: Vec<String>,
    /// Paragraphs printed under the row at the full width, indented (the WHY).
    pub under: Vec<String>,
}

impl Grid {
    /// The lines of the table `width` columns wide: flexible columns wrapped at word
    /// boundaries as much as needed (never narrower than their longest word), the lines under
    /// each row wrapped to the whole width.
    pub fn render(&self, width: usize) -> Vec<String> {
        let n = self.header.len();
        let lines_of = |c: usize| {
            std::iter::once(self.header[c].as_str())
                .chain(self.rows.iter().flat_map(move |r| r.cells[c].lines()))
        };
        let natural: Vec<usize> = (0..n)
            .map(|c| lines_of(c).map(display_width).max().unwrap_or(0))
            .collect();
        let longest_word: Vec<usize> = (0..n)
            .map(|c| {
                lines_of(c)
                    .flat_map(|l| {
                        let indent = l.len() - l.trim_start().len();
                        l.split_whitespace().map(move |w| indent + display_width(w))
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut widths = natural.clone();
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * n.saturating_sub(1);
        while total(&widths) > width {
            // Narrow the widest flexible column that can still give.
            let Some(&c) = self
                .flexible
                .iter()
                .filter(|&&c| widths[c] > longest_word[c].max(display_width(&self.header[c])))
                .max_by_key(|&&c| widths[c])
            else {
                break;
            };
            widths[c] -= 1;
        }
        let mut out = vec![self.line(
            &self
                .header
                .iter()
                .map(|h| vec![h.clone()])
                .collect::<Vec<_>>(),
            &widths,
            0,
        )];
        for row in &self.rows {
            let cells: Vec<Vec<String>> = row
                .cells
                .iter()
                .zip(&widths)
                .map(|(cell, w)| wrap_cell(cell, *w))
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1);
            for i in 0..height {
                out.push(self.line(&cells, &widths, i));
            }
            let room = width.saturating_sub(UNDER_INDENT.len()).max(20);
            for paragraph in &row.under {
                for line in wrap_cell(paragraph, room) {
                    out.push(format!("{UNDER_INDENT}{line}").trim_end().to_string());
                }
            }
        }
        out
    }

    /// Line `i` of a row whose cells are already wrapped.
    fn line(&self, cells: &[Vec<String>], widths: &[usize], i: usize) -> String {
        let mut text = String::new();
        for (c, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let value = cell.get(i).map(String::as_str).unwrap_or("");
            let pad = width.saturating_sub(display_width(value));
            if self.right.contains(&c) {
                text.push_str(&" ".repeat(pad));
                text.push_str(value);
            } else {
                text.push_str(value);
                text.push_str(&" ".repeat(pad));
            }
            if c + 1 < cells.len() {
                text.push_str(&" ".repeat(GAP));
            }
        }
        text.trim_end().to_string()
    }
}

/// The lines of `cell` wrapped to `width` at word boundaries; a line's indentation is kept on
/// its continuation lines, and a word longer than `width` stays whole on its own line.
pub fn wrap_cell(cell: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in cell.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let continuation = format!("{indent}  ");
        // Only spaces separate words: a name such as `ns/pod-7d4b9c` or a node name is one
        // word, never split at its `/` or `-`.
        let options = textwrap::Options::new(width.max(1))
            .break_words(false)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation)
            .initial_indent(indent)
            .subsequent_indent(&continuation);
        let wrapped = textwrap::wrap(line.trim_start(), options);
        if wrapped.is_empty() {
            out.push(String::new());
        }
        out.extend(wrapped.into_iter().map(|l| l.trim_end().to_string()));
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Node names as a table shows them: long names shortened to what tells them apart — the
/// segments every name shares at the front are replaced by `…` (`gke-demo-default-pool-
/// 5501bfce-vwvd` → `…-vwvd`); short names are kept.
#[derive(Debug, Default, Clone)]
pub struct NodeNames {
    /// Bytes of the shared front to replace (0: no shortening).
    shared: usize,
}

/// Names at most this long are shown whole.
const SHORT_ENOUGH: usize = 20;

impl NodeNames {
    /// The shortening for the node names of one table.
    pub fn for_names<'a>(names: impl IntoIterator<Item = &'a str>) -> NodeNames {
        let names: Vec<&str> = names.into_iter().collect();
        if names.iter().all(|n| n.chars().count() <= SHORT_ENOUGH) {
            return NodeNames::default();
        }
        let Some(first) = names.first() else {
            return NodeNames::default();
        };
        // The front every name shares, cut at a separator, leaving at least the last segment.
        let mut shared = names
            .iter()
            .map(|n| common_prefix(first, n))
            .min()
            .unwrap_or(0);
        let shortest = names.iter().map(|n| n.len()).min().unwrap_or(0);
        shared = shared.min(shortest);
        let cut = names
            .iter()
            .map(|n| last_separator(&n[..shared.min(n.len())], n))
            .min()
            .unwrap_or(0);
        NodeNames { shared: cut }
    }

    /// How `name` is shown.
    pub fn show(&self, name: &str) -> String {
        match name.get(self.shared..) {
            Some(rest) if self.shared > 0 && !rest.is_empty() => format!("…{rest}"),
            _ => name.to_string(),
        }
    }
}

/// Bytes `a` and `b` share at the front (on character boundaries).
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

/// Where the shortened form of `name` starts: at the last separator (`-`, `/`, `.`) within
/// `shared`, and never past the last separator of `name` itself (its last segment is kept).
fn last_separator(shared: &str, name: &str) -> usize {
    let is_separator = |c: char| matches!(c, '-' | '/' | '.');
    let own_last = name.rfind(is_separator).unwrap_or(0);
    shared.rfind(is_separator).unwrap_or(0).min(own_last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_never_cuts_a_word_and_keeps_indentation() {
        let cell = "customer1/release-agent (Deployment)\n  release-agent-6c8f9b7d5-w4k2j";
        let lines = wrap_cell(cell, 12);
        for word in cell.split_whitespace() {
            assert!(
                lines
                    .iter()
                    .any(|l| l.split_whitespace().any(|w| w == word)),
                "{word} was cut: {lines:?}"
            );
        }
        assert!(
            lines.iter().skip(1).all(|l| l.starts_with("  ")),
            "{lines:?}"
        );
    }

    #[test]
    fn node_names_keep_the_part_that_tells_them_apart() {
        let gke = [
            "gke-demo-cluster-default-pool-5501bfce-vwvd",
            "gke-demo-cluster-default-pool-5501bfce-k1w8",
        ];
        let names = NodeNames::for_names(gke);
        assert_eq!(names.show(gke[0]), "…-vwvd");
        assert_eq!(names.show(gke[1]), "…-k1w8");
        let mixed = [
            "gke-demo-cluster-default-pool-5501bfce-vwvd",
            "gke-demo-cluster-highmem-pool-77aa01cd-x1q2",
        ];
        let names = NodeNames::for_names(mixed);
        assert_eq!(names.show(mixed[1]), "…-highmem-pool-77aa01cd-x1q2");
        let short = NodeNames::for_names(["prod/node-a", "prod/node-b"]);
        assert_eq!(short.show("prod/node-a"), "prod/node-a");
        let one = NodeNames::for_names(["gke-demo-cluster-default-pool-5501bfce-vwvd"]);
        assert_eq!(
            one.show("gke-demo-cluster-default-pool-5501bfce-vwvd"),
            "…-vwvd"
        );
    }

    fn grid() -> Grid {
        let why =
            "POLICY_DENIED\n→ ingress denied by vamp/elasticsearch-ingress rule 1: namespace \
                   customer1 does not match role=tenant";
        Grid {
            header: ["SOURCE", "DESTINATION", "PORT", "WHERE", "COUNT"]
                .map(String::from)
                .to_vec(),
            rows: vec![GridRow {
                cells: vec![
                    "customer1/release-agent (Deployment)\n  release-agent-6c8f9b7d5-w4k2j".into(),
                    "vamp/elasticsearch (StatefulSet)\n  elasticsearch-0".into(),
                    "9200/TCP".into(),
                    "ingress @ …-k1w8\n  (egress allowed @ …-vwvd)".into(),
                    "1,234".into(),
                ],
                under: why.lines().map(String::from).collect(),
            }],
            right: vec![4],
            flexible: vec![0, 1, 3],
        }
    }

    #[test]
    fn tables_fit_80_120_and_200_columns_without_cutting_words() {
        let g = grid();
        let words: Vec<String> = g
            .rows
            .iter()
            .flat_map(|r| r.cells.iter().chain(&r.under))
            .flat_map(|c| c.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        for width in [80, 120, 200] {
            let lines = g.render(width);
            for line in &lines {
                assert!(display_width(line) <= width, "{width}: {line:?}");
            }
            let printed: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
            for w in &words {
                assert!(
                    printed.contains(&w.as_str()),
                    "{width}: {w} was cut:\n{}",
                    lines.join("\n")
                );
            }
            let why = lines.iter().find(|l| l.contains("→ ingress")).unwrap();
            assert!(
                why.starts_with(UNDER_INDENT),
                "the WHY sits under the row: {why:?}"
            );
        }
        // At 200 columns nothing needs wrapping: the first row is two lines, as written.
        let wide = g.render(200);
        assert!(wide[1].contains("customer1/release-agent (Deployment)"));
        assert!(wide[1].trim_end().ends_with("1,234"));
    }
}

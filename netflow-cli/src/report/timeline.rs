//! Denials over time: attempts per second regrouped into at most [`MAX_BARS`] bars of a round
//! width, drawn as an SVG bar chart.

use std::fmt::Write;

use std::collections::BTreeMap;

use chrono::DateTime;

use super::escape;
use crate::output::table::thousands;

/// Most bars drawn.
pub const MAX_BARS: i64 = 80;

/// Round bar widths, in seconds.
const WIDTHS: &[i64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172_800, 604_800,
];

const CHART_WIDTH: i64 = 960;
const CHART_HEIGHT: i64 = 150;
const AXIS: i64 = 22;

/// Bars of equal width from `start`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Timeline {
    /// Start of the first bar, seconds since the epoch.
    pub start: i64,
    /// Width of a bar in seconds.
    pub width: i64,
    /// Attempts per bar.
    pub counts: Vec<u64>,
}

impl Timeline {
    /// From attempts per second (seconds since the epoch): bars of a round width, at most
    /// [`MAX_BARS`], from a start aligned on that width; seconds without attempts are gaps.
    pub fn from_seconds(seconds: &BTreeMap<i64, u64>) -> Timeline {
        let (Some((&first, _)), Some((&last, _))) =
            (seconds.first_key_value(), seconds.last_key_value())
        else {
            return Timeline::default();
        };
        let span = last - first + 1;
        let width = WIDTHS
            .iter()
            .copied()
            .find(|w| (span + w - 1) / w <= MAX_BARS)
            .unwrap_or_else(|| ((span + MAX_BARS - 1) / MAX_BARS).max(1));
        let start = first.div_euclid(width) * width;
        let n = usize::try_from((last - start) / width + 1).unwrap_or(0);
        let mut counts = vec![0u64; n];
        for (second, count) in seconds {
            let bar = (second - start).div_euclid(width);
            if let Some(slot) = usize::try_from(bar).ok().and_then(|b| counts.get_mut(b)) {
                *slot = slot.saturating_add(*count);
            }
        }
        Timeline {
            start,
            width,
            counts,
        }
    }

    /// `per 10 s, UTC` (or nothing when empty).
    pub fn caption(&self) -> String {
        if self.counts.is_empty() {
            return String::new();
        }
        let w = self.width;
        let unit = match w {
            w if w % 86400 == 0 => format!("{} d", w / 86400),
            w if w % 3600 == 0 => format!("{} h", w / 3600),
            w if w % 60 == 0 => format!("{} min", w / 60),
            w => format!("{w} s"),
        };
        format!("per {unit}, UTC")
    }

    fn label(&self, seconds: i64) -> String {
        let Some(t) = DateTime::from_timestamp(seconds, 0) else {
            return "?".into();
        };
        let span = self.width * self.counts.len() as i64;
        if span > 86400 {
            t.format("%m-%d %H:%M").to_string()
        } else {
            t.format("%H:%M:%S").to_string()
        }
    }

    /// The SVG chart.
    pub fn render(&self) -> String {
        if self.counts.is_empty() {
            return r#"<p class="empty">No timed denials.</p>"#.into();
        }
        let max = self.counts.iter().copied().max().unwrap_or(1).max(1);
        let n = self.counts.len() as i64;
        let bar = (CHART_WIDTH - 60) / n;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg id="timeline-svg" role="img" aria-label="denials over time" viewBox="0 0 {CHART_WIDTH} {h}" width="{CHART_WIDTH}" height="{h}"><text class="axis" x="0" y="12">{max}</text><line class="axis" x1="50" y1="{CHART_HEIGHT}" x2="{CHART_WIDTH}" y2="{CHART_HEIGHT}"/>"#,
            h = CHART_HEIGHT + AXIS,
            max = thousands(max),
        );
        for (i, count) in self.counts.iter().enumerate() {
            let from = self.start + i as i64 * self.width;
            let height = if *count == 0 {
                0
            } else {
                ((*count as f64 / max as f64) * (CHART_HEIGHT - 16) as f64).ceil() as i64
            }
            .max(i64::from(*count > 0));
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{x}" y="{y}" width="{w}" height="{height}"><title>{title}</title></rect>"#,
                x = 52 + i as i64 * bar,
                y = CHART_HEIGHT - height,
                w = (bar - 1).max(1),
                title = escape(&format!(
                    "{} – {} UTC: {} denied",
                    self.label(from),
                    self.label(from + self.width),
                    thousands(*count)
                )),
            );
        }
        for (i, anchor) in [(0, "start"), (n / 2, "middle"), (n, "end")] {
            let x = 52 + i * bar;
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x}" y="{y}" text-anchor="{anchor}">{label}</text>"#,
                y = CHART_HEIGHT + 16,
                label = escape(&self.label(self.start + i * self.width)),
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds_frame(times: &[(i64, u64)]) -> BTreeMap<i64, u64> {
        times.iter().copied().collect()
    }

    #[test]
    fn seconds_regroup_into_round_bars_with_gaps_kept() {
        // 19:05:02, 19:05:05 and 19:06:11 span 70 s: one bar per second fits in 80 bars.
        let t0 = 1_795_201_502; // 2026-11-20T19:05:02Z
        let timeline =
            Timeline::from_seconds(&seconds_frame(&[(t0, 3), (t0 + 3, 1), (t0 + 69, 2)]));
        assert_eq!(timeline.width, 1);
        assert_eq!(timeline.counts.len(), 70);
        assert_eq!(timeline.counts[0], 3);
        assert_eq!(timeline.counts[69], 2);
        assert_eq!(timeline.counts.iter().sum::<u64>(), 6);

        // Two hours: 2-minute bars aligned on the minute.
        let timeline = Timeline::from_seconds(&seconds_frame(&[(t0, 1), (t0 + 7200, 4)]));
        assert_eq!(timeline.width, 120);
        assert_eq!(timeline.start % 120, 0);
        assert_eq!(timeline.counts.first(), Some(&1));
        assert_eq!(timeline.counts.last(), Some(&4));
        assert_eq!(timeline.caption(), "per 2 min, UTC");
        let svg = timeline.render();
        assert_eq!(svg.matches(r#"class="bar""#).count(), timeline.counts.len());
    }

    #[test]
    fn no_times_draw_nothing() {
        let timeline = Timeline::from_seconds(&seconds_frame(&[]));
        assert!(timeline.counts.is_empty());
        assert!(timeline.render().contains("No timed denials"));
    }
}

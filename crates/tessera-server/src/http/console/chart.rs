//! The overview's charts: stacked bars of the last hour, one bar per minute, drawn here as
//! inline SVG (presentation attributes only, no `style`: the strict CSP allows it), with a
//! title and description for screen readers and a table of the same numbers beside it.

use crate::http::web::timefmt::hour_minute;
use std::fmt::Write;
use tessera_core::Timestamp;

/// Colours of series that went well (cool) and of refusals and alarms (warm), five each.
pub const PALETTE: [&str; 10] =
    ["#2457c5", "#0f8b9c", "#1e8e5a", "#7b4fc4", "#5b6577", "#e08a00", "#b3261e", "#c2185b", "#a0522d", "#d4a017"];

/// The drawing's coordinate system. The SVG scales to its box and its text with it, so each
/// chart is drawn at a width near the one it is shown at (a wide and a phone drawing, the
/// stylesheet shows one): text stays about 12px either way.
pub const HEIGHT: f64 = 236.0;
/// The width of the phone's drawing.
pub const NARROW: f64 = 360.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 50.0;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
const FONT: &str = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";

/// One counted thing, per minute (oldest first).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<u64>,
}

impl Series {
    pub fn total(&self) -> u64 {
        self.values.iter().sum()
    }
}

/// A stacked-bar chart of per-minute counts.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique on the page: the SVG's title and description are referred to by it.
    pub id: &'static str,
    pub title: &'static str,
    /// What a bar counts ("requests", "events").
    pub unit: &'static str,
    pub first_minute_at: Timestamp,
    pub minutes: usize,
    pub series: Vec<Series>,
    /// The width of the wide drawing (about its width in pixels on a wide screen).
    pub width: f64,
}

/// One drawn rectangle: a series' part of one minute's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub minute: usize,
    pub series: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One row of the chart's table: a minute with something in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub minute: String,
    pub values: Vec<u64>,
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `n` (and at least 1).
pub fn nice_ceiling(n: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for step in [1u64, 2, 5] {
            let candidate = step.saturating_mul(magnitude);
            if candidate >= n || candidate == u64::MAX {
                return candidate;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// The labelled values of the vertical axis, from 0 to `max` (a [`nice_ceiling`]).
pub fn ticks(max: u64) -> Vec<u64> {
    let step = match max {
        0 | 1 => return vec![0, 1],
        _ if max.to_string().starts_with('5') => max / 5,
        _ => max / 2,
    };
    (0..=max / step.max(1)).map(|i| i * step.max(1)).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Chart {
    fn minute_at(&self, minute: usize) -> Timestamp {
        self.first_minute_at.plus(std::time::Duration::from_secs(60 * minute as u64))
    }

    fn stacked(&self, minute: usize) -> u64 {
        self.series.iter().map(|series| series.values.get(minute).copied().unwrap_or(0)).sum()
    }

    pub fn total(&self) -> u64 {
        self.series.iter().map(Series::total).sum()
    }

    /// The top of the vertical axis.
    pub fn scale_max(&self) -> u64 {
        nice_ceiling((0..self.minutes).map(|minute| self.stacked(minute)).max().unwrap_or(0))
    }

    fn slot(&self, width: f64) -> f64 {
        (width - LEFT - RIGHT) / self.minutes.max(1) as f64
    }

    /// The rectangles of a drawing `width` wide: per minute, the series stacked from the
    /// bottom in order.
    pub fn bars(&self, width: f64) -> Vec<Bar> {
        let (max, slot) = (self.scale_max() as f64, self.slot(width));
        let gap = (slot * 0.2).min(2.0);
        let mut bars = Vec::new();
        for minute in 0..self.minutes {
            let mut bottom = TOP + PLOT_HEIGHT;
            for (index, series) in self.series.iter().enumerate() {
                let value = series.values.get(minute).copied().unwrap_or(0);
                if value == 0 {
                    continue;
                }
                let height = value as f64 / max * PLOT_HEIGHT;
                bottom -= height;
                bars.push(Bar {
                    minute,
                    series: index,
                    x: LEFT + minute as f64 * slot + gap / 2.0,
                    y: bottom,
                    width: slot - gap,
                    height,
                });
            }
        }
        bars
    }

    /// The minutes with something in them, oldest first, each series' count.
    pub fn rows(&self) -> Vec<Row> {
        (0..self.minutes)
            .filter(|minute| self.stacked(*minute) > 0)
            .map(|minute| Row {
                minute: hour_minute(self.minute_at(minute)),
                values: self.series.iter().map(|series| series.values.get(minute).copied().unwrap_or(0)).collect(),
            })
            .collect()
    }

    /// What the chart shows, in a sentence (the SVG's description).
    pub fn summary(&self) -> String {
        let mut text = format!("{} per minute over the last {} minutes: ", self.title, self.minutes);
        if self.total() == 0 {
            text.push_str("none.");
            return text;
        }
        let parts: Vec<String> =
            self.series.iter().map(|series| format!("{} {} {}", series.total(), series.name, self.unit)).collect();
        text.push_str(&parts.join(", "));
        text.push('.');
        text
    }

    /// The wide drawing.
    pub fn svg_wide(&self) -> String {
        self.svg(self.width, "wide")
    }

    /// The phone's drawing.
    pub fn svg_narrow(&self) -> String {
        self.svg(NARROW, "narrow")
    }

    /// The whole `<svg>` element, `width` wide; `variant` names it (ids stay unique).
    pub fn svg(&self, width: f64, variant: &str) -> String {
        let mut svg = String::new();
        let (max, plot_width) = (self.scale_max(), width - LEFT - RIGHT);
        let id = format!("{}-{variant}", self.id);
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="{variant}" viewBox="0 0 {width} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" font-family="{FONT}" font-size="12">"#
        );
        let _ = write!(
            svg,
            r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
            escape(self.title),
            escape(&self.summary())
        );
        // Horizontal grid lines with their values.
        for tick in ticks(max) {
            let y = TOP + PLOT_HEIGHT - tick as f64 / max as f64 * PLOT_HEIGHT;
            let stroke = if tick == 0 { "#9aa3b2" } else { "#e3e7ee" };
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{stroke}" stroke-width="1"/><text x="{}" y="{:.1}" text-anchor="end" fill="#5b6577">{tick}</text>"##,
                width - RIGHT,
                LEFT - 6.0,
                y + 4.0
            );
        }
        for bar in self.bars(width) {
            let series = &self.series[bar.series];
            let _ = write!(
                svg,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{}: {} {}</title></rect>"#,
                bar.x,
                bar.y,
                bar.width,
                bar.height,
                series.color,
                hour_minute(self.minute_at(bar.minute)),
                series.values[bar.minute],
                escape(&series.name)
            );
        }
        if self.total() == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#5b6577">Nothing in the last hour</text>"##,
                LEFT + plot_width / 2.0,
                TOP + PLOT_HEIGHT / 2.0
            );
        }
        // The time axis: a label every quarter of an hour (half an hour on a phone), and the
        // current minute.
        let slot = self.slot(width);
        let last = self.minutes.saturating_sub(1);
        let every = if width < 500.0 { 30 } else { 15 };
        for minute in (0..self.minutes).step_by(every).filter(|minute| last - minute >= 8).chain([last]) {
            let x = LEFT + minute as f64 * slot + slot / 2.0;
            let anchor = if minute == last { "end" } else { "middle" };
            let label_x = if minute == last { width - 2.0 } else { x };
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{0:.1}" x2="{x:.1}" y2="{1:.1}" stroke="#9aa3b2"/><text x="{label_x:.1}" y="{2:.1}" text-anchor="{anchor}" fill="#5b6577">{3}</text>"##,
                TOP + PLOT_HEIGHT,
                TOP + PLOT_HEIGHT + 4.0,
                TOP + PLOT_HEIGHT + 18.0,
                hour_minute(self.minute_at(minute))
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1d2430">Time (UTC), one bar per minute</text>"##,
            LEFT + plot_width / 2.0,
            HEIGHT - 8.0
        );
        let _ = write!(
            svg,
            r##"<text transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle" fill="#1d2430">{} per minute</text>"##,
            TOP + PLOT_HEIGHT / 2.0,
            escape(&capitalised(self.unit))
        );
        svg.push_str("</svg>");
        svg
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDTH: f64 = 560.0;
    const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;

    fn chart(series: Vec<Vec<u64>>) -> Chart {
        Chart {
            id: "test",
            title: "Token requests",
            unit: "requests",
            first_minute_at: Timestamp::from_secs(1_800_000_000), // a whole minute
            minutes: 60,
            series: series
                .into_iter()
                .enumerate()
                .map(|(i, values)| Series { name: format!("s{i}"), color: PALETTE[i], values })
                .collect(),
            width: 560.0,
        }
    }

    fn at(minute: usize, value: u64) -> Vec<u64> {
        let mut values = vec![0; 60];
        values[minute] = value;
        values
    }

    #[test]
    fn the_scale_is_a_round_number_above_the_highest_bar() {
        for (n, expected) in
            [(0, 1), (1, 1), (2, 2), (3, 5), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (700, 1000)]
        {
            assert_eq!(nice_ceiling(n), expected, "{n}");
        }
        assert_eq!(ticks(1), [0, 1]);
        assert_eq!(ticks(2), [0, 1, 2]);
        assert_eq!(ticks(5), [0, 1, 2, 3, 4, 5]);
        assert_eq!(ticks(10), [0, 5, 10]);
        assert_eq!(ticks(50), [0, 10, 20, 30, 40, 50]);
        // The highest minute is the sum of the stacked series.
        assert_eq!(chart(vec![at(3, 4), at(3, 3)]).scale_max(), 10);
    }

    #[test]
    fn bars_stack_from_the_axis_in_proportion_to_their_counts() {
        let chart = chart(vec![at(59, 2), at(59, 3), at(10, 5)]);
        let bars = chart.bars(WIDTH);
        assert_eq!(bars.len(), 3, "one rectangle per non-zero count: {bars:?}");
        let (first, second, lone) = (&bars[1], &bars[2], &bars[0]);
        assert_eq!((lone.minute, lone.series), (10, 2));
        assert_eq!((first.minute, first.series, second.series), (59, 0, 1));
        let axis = TOP + PLOT_HEIGHT;
        // Scale 5: five counts fill the plot's height.
        assert!((lone.height - PLOT_HEIGHT).abs() < 1e-9 && (lone.y - TOP).abs() < 1e-9, "{lone:?}");
        assert!((first.y + first.height - axis).abs() < 1e-9, "the first series sits on the axis");
        assert!((second.y + second.height - first.y).abs() < 1e-9, "the second sits on the first");
        assert!((first.height * 3.0 - second.height * 2.0).abs() < 1e-9, "2:3");
        // The newest minute is the rightmost slot, inside the plot; bars do not overlap.
        assert!(first.x + first.width <= WIDTH - RIGHT + 1e-9 && first.x > lone.x + lone.width);
        assert!((first.x - (LEFT + 59.0 * PLOT_WIDTH / 60.0)).abs() < 2.0);
        // The phone's drawing: the same heights, narrower slots.
        let narrow = chart.bars(NARROW);
        assert!((narrow[0].height - lone.height).abs() < 1e-9 && narrow[1].width < first.width);
        assert!(narrow[2].x + narrow[2].width <= NARROW - RIGHT + 1e-9);
    }

    #[test]
    fn the_drawing_has_its_title_axes_and_text_alternative() {
        let chart = chart(vec![at(59, 2), at(58, 1)]);
        let svg = chart.svg_wide();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"viewBox="0 0 560 236""#), "{svg}");
        assert!(svg.contains(r#"aria-labelledby="test-wide-title test-wide-desc""#), "{svg}");
        assert!(svg.contains("<title id=\"test-wide-title\">Token requests</title>"), "{svg}");
        assert!(svg.contains("Token requests per minute over the last 60 minutes: 2 s0 requests, 1 s1 requests."));
        assert!(svg.contains("Time (UTC), one bar per minute") && svg.contains("Requests per minute"));
        assert_eq!(svg.matches("<rect").count(), 2);
        // On a phone, labels every half hour; the last one ends at the edge.
        let narrow = chart.svg_narrow();
        assert!(narrow.contains(r#"viewBox="0 0 360 236""#) && narrow.contains("test-narrow-title"));
        assert_eq!(
            narrow.matches("text-anchor=\"end\" fill=\"#5b6577\">").count(),
            3 + 1,
            "three ticks and the last minute"
        );
        assert!(!svg.contains("style"), "no style attribute under the CSP");
        // Time labels: every quarter of an hour and the last minute, as HH:MM.
        let first = hour_minute(chart.first_minute_at);
        let last = hour_minute(chart.first_minute_at.plus(std::time::Duration::from_secs(59 * 60)));
        assert!(svg.contains(&format!(">{first}</text>")) && svg.contains(&format!(">{last}</text>")), "{svg}");
        assert_eq!(chart.rows().len(), 2);
        assert_eq!(chart.rows()[1], Row { minute: last, values: vec![2, 0] });
    }

    #[test]
    fn an_empty_hour_says_so() {
        let chart = chart(vec![vec![0; 60]]);
        assert!(chart.bars(WIDTH).is_empty());
        assert!(chart.svg_wide().contains("Nothing in the last hour"));
        assert!(chart.summary().ends_with("none."));
        assert!(chart.rows().is_empty());
    }

    #[test]
    fn names_are_escaped() {
        let mut chart = chart(vec![at(0, 1)]);
        chart.series[0].name = "<b>&\"".into();
        assert!(chart.svg_narrow().contains("&lt;b&gt;&amp;&quot;"));
    }
}

//! Latency plots: every operation as a point, and quantiles per time bucket.

use super::axes::{self, LogAxis, Ticked, TimeAxis};
use super::{draw_legend, draw_marker, DrawResult, Frame, Plot, Shape, Swatch};
use super::{GRID_BOLD, GRID_LIGHT, LEGEND_WIDTH, WIDTH};
use crate::data::{LatencyPoint, QuantileBucket, Quantiles};
use crate::operations::Outcome;
use crate::style::{outcome_color, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

type LogChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// Builds a chart with a time x axis and a log latency y axis, mesh drawn.
fn log_chart<'a, DB>(
    area: &DrawingArea<DB, Shift>,
    caption: String,
    time: &TimeAxis,
    log: &LogAxis,
) -> Result<LogChart<'a, DB>, Box<dyn std::error::Error>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let step_millis = time.step_millis;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 17))
        .margin(10)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(42)
        .y_label_area_size(78)
        .build_cartesian_2d(
            Ticked::new(0.0..time.end, time.ticks.clone()),
            Ticked {
                range: log.start..log.end,
                ticks: log.ticks.clone(),
                minor_ticks: log.minor_ticks.clone(),
            },
        )?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc("latency (log scale)")
        .x_label_formatter(&|value| axes::time_label(*value, step_millis))
        .y_label_formatter(&|value| axes::latency_label(*value))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .draw()?;
    Ok(chart)
}

/// Latency of every completed operation over time: x its invocation, y its latency on a log
/// scale, colour its outcome, shape its function.
pub struct LatencyRawPlot<'a> {
    /// Faults and axis end.
    pub frame: &'a Frame,
    /// The points.
    pub points: &'a [LatencyPoint],
}

impl Plot for LatencyRawPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 520)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let time = axes::time_axis(self.frame.run_end);
        let log = axes::log_axis(self.points.iter().map(|point| point.latency));
        let caption = format!(
            "Latency of every completed operation — {}",
            self.frame.subtitle
        );
        let chart = log_chart(root, caption, &time, &log)?;
        let area = chart.plotting_area().get_pixel_range();
        let bottom = log.start;
        self.frame.draw_bands(root, &area, |nanos| {
            chart.backend_coord(&(axes::seconds(nanos), bottom)).0
        })?;
        // Successes first, so the rarer failures and timeouts are drawn on top of them.
        for outcome in [Outcome::Ok, Outcome::Info, Outcome::Refused, Outcome::Fail] {
            for point in self.points.iter().filter(|point| point.outcome == outcome) {
                let pixel = chart
                    .backend_coord(&(axes::seconds(point.invoke_time), axes::log10(point.latency)));
                let shape = Shape::for_function(&point.function);
                draw_marker(root, shape, pixel, outcome_color(outcome))?;
            }
        }
        if self.points.is_empty() {
            draw_note(root, &area, "no completed operations")?;
        }
        let mut entries = Vec::new();
        for outcome in Outcome::ALL {
            let count = self
                .points
                .iter()
                .filter(|point| point.outcome == outcome)
                .count();
            let label = format!("{} ({count})", outcome.name());
            entries.push((Swatch::Marker(Shape::Circle, outcome_color(outcome)), label));
        }
        let mut functions: Vec<&str> = self
            .points
            .iter()
            .map(|point| point.function.as_str())
            .collect();
        functions.sort_unstable();
        functions.dedup();
        for function in functions {
            let shape = Shape::for_function(function);
            entries.push((
                Swatch::Marker(shape, RGBColor(0x44, 0x44, 0x44)),
                function.to_string(),
            ));
        }
        entries.extend(self.frame.legend_entries());
        draw_legend(root, &area, &entries)
    }
}

/// Writes `note` in the middle of an empty plotting area.
pub fn draw_note<DB>(
    root: &DrawingArea<DB, Shift>,
    area: &(std::ops::Range<i32>, std::ops::Range<i32>),
    note: &str,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let middle = (
        (area.0.start + area.0.end) / 2,
        (area.1.start + area.1.end) / 2,
    );
    let style = TextStyle::from((FONT, 15).into_font())
        .color(&RGBColor(0x77, 0x77, 0x77))
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(note.to_string(), middle, style))?;
    Ok(())
}

/// The quantile lines and their colours.
const QUANTILE_LINES: [(&str, RGBColor); 4] = [
    ("p50", RGBColor(0x44, 0x77, 0xAA)),
    ("p95", RGBColor(0x22, 0x88, 0x33)),
    ("p99", RGBColor(0xEE, 0x77, 0x33)),
    ("max", RGBColor(0xCC, 0x33, 0x11)),
];

/// Line widths of the quantile lines, pixels, in the order of [`QUANTILE_LINES`].
const QUANTILE_WIDTHS: [u32; 4] = [2, 3, 5, 7];

fn quantile_value(quantiles: &Quantiles, line: usize) -> u64 {
    match line {
        0 => quantiles.p50,
        1 => quantiles.p95,
        2 => quantiles.p99,
        _ => quantiles.max,
    }
}

/// Latency quantiles of `ok` operations per time bucket, one panel per function.
pub struct QuantilePlot<'a> {
    /// Faults and axis end.
    pub frame: &'a Frame,
    /// The buckets, sorted by function then time.
    pub buckets: &'a [QuantileBucket],
    /// The bucket width, nanoseconds (for the caption).
    pub bucket_width: u64,
}

impl QuantilePlot<'_> {
    fn functions(&self) -> Vec<&str> {
        let mut functions: Vec<&str> = self
            .buckets
            .iter()
            .map(|bucket| bucket.function.as_str())
            .collect();
        functions.dedup();
        functions
    }
}

/// Height of one function's panel, pixels.
const PANEL_HEIGHT: u32 = 300;

impl Plot for QuantilePlot<'_> {
    fn size(&self) -> (u32, u32) {
        let panels = self.functions().len().max(1) as u32;
        (WIDTH, 40 + panels * PANEL_HEIGHT)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let title = format!(
            "Latency quantiles of ok operations, {} buckets — {}",
            crate::format::round_duration(self.bucket_width),
            self.frame.subtitle
        );
        let body = root.titled(&title, (FONT, 17))?;
        let functions = self.functions();
        let time = axes::time_axis(self.frame.run_end);
        let log = axes::log_axis(
            self.buckets
                .iter()
                .map(|bucket| bucket.quantiles.max)
                .chain(self.buckets.iter().map(|bucket| bucket.quantiles.p50)),
        );
        let panels = body.split_evenly((functions.len().max(1), 1));
        if functions.is_empty() {
            let chart = log_chart(&panels[0], "no ok operations".to_string(), &time, &log)?;
            let area = chart.plotting_area().get_pixel_range();
            draw_note(&panels[0], &area, "no ok operations")?;
            return Ok(());
        }
        for (panel, function) in panels.iter().zip(functions) {
            let chart = log_chart(panel, function.to_string(), &time, &log)?;
            let area = chart.plotting_area().get_pixel_range();
            let bottom = log.start;
            let to_pixel = |nanos: u64| chart.backend_coord(&(axes::seconds(nanos), bottom)).0;
            // Panels are sub-areas: bands and legend are drawn in panel pixels.
            let origin = panel.get_base_pixel();
            let local = (
                area.0.start - origin.0..area.0.end - origin.0,
                area.1.start - origin.1..area.1.end - origin.1,
            );
            self.frame
                .draw_bands(panel, &local, |nanos| to_pixel(nanos) - origin.0)?;
            let buckets: Vec<&QuantileBucket> = self
                .buckets
                .iter()
                .filter(|bucket| bucket.function == function)
                .collect();
            // The highest quantile first and widest, so where quantiles coincide (buckets with
            // few operations) each still shows as a coloured edge around the next.
            for (line, (_, color)) in QUANTILE_LINES.iter().enumerate().rev() {
                let stroke = color.stroke_width(QUANTILE_WIDTHS[line]);
                let pixels: Vec<(i32, i32)> = buckets
                    .iter()
                    .map(|bucket| {
                        let middle = bucket.start + (bucket.end - bucket.start) / 2;
                        let value = quantile_value(&bucket.quantiles, line);
                        let (x, y) =
                            chart.backend_coord(&(axes::seconds(middle), axes::log10(value)));
                        (x - origin.0, y - origin.1)
                    })
                    .collect();
                // A bucket without ok operations breaks the line: no success, no latency.
                let mut segment: Vec<(i32, i32)> = Vec::new();
                for (position, pixel) in pixels.iter().enumerate() {
                    let adjacent =
                        position > 0 && buckets[position - 1].end == buckets[position].start;
                    if !adjacent && segment.len() > 1 {
                        panel.draw(&PathElement::new(segment.clone(), stroke))?;
                    }
                    if !adjacent {
                        segment.clear();
                    }
                    segment.push(*pixel);
                    panel.draw(&Circle::new(*pixel, 2, color.filled()))?;
                }
                if segment.len() > 1 {
                    panel.draw(&PathElement::new(segment, stroke))?;
                }
            }
            let mut entries: Vec<(Swatch, String)> = QUANTILE_LINES
                .iter()
                .zip(QUANTILE_WIDTHS)
                .map(|((name, color), width)| (Swatch::Line(*color, width), name.to_string()))
                .collect();
            entries.extend(self.frame.legend_entries());
            draw_legend(panel, &local, &entries)?;
        }
        Ok(())
    }
}

//! Throughput (completions per second by outcome) and availability (fraction ok) over time.

use super::axes::{self, LinearAxis, Ticked};
use super::latency::draw_note;
use super::WIDTH;
use super::{chart, draw_legend, ChartSpec, DrawResult, Frame, Plot, Swatch, TickedChart};
use crate::data::{AvailabilityBucket, RateBucket, WaitingBucket};
use crate::operations::Outcome;
use crate::style::outcome_color;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A chart over the run's time axis with values from 0 on `values`, the run's fault windows
/// drawn as bands; returns it with its plotting area's pixel ranges (for the legend).
fn time_chart<'a, DB>(
    root: &'a DrawingArea<DB, Shift>,
    frame: &Frame,
    caption: String,
    values: &LinearAxis,
    y_description: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<(TickedChart<'a, DB>, PixelArea), Box<dyn std::error::Error>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let time = axes::time_axis(frame.run_end);
    let step_millis = time.step_millis;
    let chart = chart(
        root,
        ChartSpec {
            caption,
            x: Ticked::new(0.0..time.end, time.ticks.clone()),
            y: Ticked::new(0.0..values.top, values.ticks.clone()),
            x_desc: "time since start (s)",
            y_desc: y_description,
            x_label: &|value| axes::time_label(*value, step_millis),
            y_label,
            y_label_width: 78,
        },
    )?;
    let area = chart.plotting_area().get_pixel_range();
    frame.draw_bands(root, &area, |nanos| {
        chart.backend_coord(&(axes::seconds(nanos), 0.0)).0
    })?;
    Ok((chart, area))
}

/// The pixel ranges of a plotting area.
type PixelArea = (std::ops::Range<i32>, std::ops::Range<i32>);

/// Draws a polyline through `pixels`, broken wherever `joined(i)` is false between point
/// `i - 1` and point `i`, with a dot on every point.
fn draw_broken_line<DB>(
    root: &DrawingArea<DB, Shift>,
    pixels: &[(i32, i32)],
    joined: impl Fn(usize) -> bool,
    color: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut segment: Vec<(i32, i32)> = Vec::new();
    for (position, pixel) in pixels.iter().enumerate() {
        if position > 0 && !joined(position) {
            if segment.len() > 1 {
                root.draw(&PathElement::new(segment.clone(), color.stroke_width(2)))?;
            }
            segment.clear();
        }
        segment.push(*pixel);
        root.draw(&Circle::new(*pixel, 2, color.filled()))?;
    }
    if segment.len() > 1 {
        root.draw(&PathElement::new(segment, color.stroke_width(2)))?;
    }
    Ok(())
}

/// Completions per second by outcome, per time bucket.
pub struct RatePlot<'a> {
    /// Faults and axis end.
    pub frame: &'a Frame,
    /// Every bucket of the run.
    pub buckets: &'a [RateBucket],
    /// Bucket width, nanoseconds.
    pub bucket_width: u64,
}

impl Plot for RatePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 460)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let rates = |bucket: &RateBucket| {
            [
                (Outcome::Ok, bucket.ok_per_second),
                (Outcome::Fail, bucket.fail_per_second),
                (Outcome::Refused, bucket.refused_per_second),
                (Outcome::Info, bucket.info_per_second),
            ]
        };
        let largest = self
            .buckets
            .iter()
            .flat_map(|bucket| rates(bucket).map(|(_, rate)| rate))
            .fold(0.0, f64::max);
        let values = axes::linear_axis(largest);
        let decimals = values.decimals;
        let caption = format!(
            "Throughput by outcome, {} buckets — {}",
            crate::format::round_duration(self.bucket_width),
            self.frame.subtitle
        );
        let (chart, area) = time_chart(
            root,
            self.frame,
            caption,
            &values,
            "completions per second",
            &|value| format!("{value:.decimals$}"),
        )?;
        for (slot, outcome) in Outcome::ALL.into_iter().enumerate() {
            let pixels: Vec<(i32, i32)> = self
                .buckets
                .iter()
                .map(|bucket| {
                    let middle = bucket.start + (bucket.end - bucket.start) / 2;
                    chart.backend_coord(&(axes::seconds(middle), rates(bucket)[slot].1))
                })
                .collect();
            draw_broken_line(root, &pixels, |_| true, outcome_color(outcome))?;
        }
        if self
            .buckets
            .iter()
            .all(|bucket| bucket.ok + bucket.fail + bucket.refused + bucket.info == 0)
        {
            draw_note(root, &area, "no completed operations")?;
        }
        let mut entries: Vec<(Swatch, String)> = Outcome::ALL
            .into_iter()
            .map(|outcome| {
                let total: u64 = self
                    .buckets
                    .iter()
                    .map(|bucket| match outcome {
                        Outcome::Ok => bucket.ok,
                        Outcome::Fail => bucket.fail,
                        Outcome::Refused => bucket.refused,
                        Outcome::Info => bucket.info,
                    })
                    .sum();
                (
                    Swatch::Line(outcome_color(outcome), 2),
                    format!("{} ({total})", outcome.name()),
                )
            })
            .collect();
        entries.extend(self.frame.legend_entries());
        draw_legend(root, &area, &entries)
    }
}

/// The fraction of operations invoked in each bucket that completed `ok`.
pub struct AvailabilityPlot<'a> {
    /// Faults and axis end.
    pub frame: &'a Frame,
    /// Every bucket of the run.
    pub buckets: &'a [AvailabilityBucket],
    /// Bucket width, nanoseconds.
    pub bucket_width: u64,
}

impl Plot for AvailabilityPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 400)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        // A little headroom above 100% keeps the full-availability line off the frame.
        let values = LinearAxis {
            top: 1.05,
            ticks: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            decimals: 0,
        };
        let caption = format!(
            "Availability (ok / invoked, by invocation time), {} buckets — {}",
            crate::format::round_duration(self.bucket_width),
            self.frame.subtitle
        );
        let (chart, area) = time_chart(
            root,
            self.frame,
            caption,
            &values,
            "operations ok",
            &|value| format!("{}%", (value * 100.0).round() as u32),
        )?;
        // Buckets where nothing was invoked have no availability: the line breaks there.
        let measured: Vec<(&AvailabilityBucket, f64)> = self
            .buckets
            .iter()
            .filter_map(|bucket| Some((bucket, bucket.availability?)))
            .collect();
        let pixels: Vec<(i32, i32)> = measured
            .iter()
            .map(|(bucket, availability)| {
                let middle = bucket.start + (bucket.end - bucket.start) / 2;
                chart.backend_coord(&(axes::seconds(middle), *availability))
            })
            .collect();
        let joined = |position: usize| measured[position - 1].0.end == measured[position].0.start;
        let color = outcome_color(Outcome::Ok);
        draw_broken_line(root, &pixels, joined, color)?;
        if measured.is_empty() {
            draw_note(root, &area, "no operations")?;
        }
        let mut entries = vec![(Swatch::Line(color, 2), "ok / invoked".to_string())];
        entries.extend(self.frame.legend_entries());
        draw_legend(root, &area, &entries)
    }
}

/// How many operations waited for their outcome at once, at most, per bucket: blocked clients
/// show as a plateau under the fault that blocks them.
pub struct WaitingPlot<'a> {
    /// Faults and axis end.
    pub frame: &'a Frame,
    /// Every bucket of the run.
    pub buckets: &'a [WaitingBucket],
    /// Bucket width, nanoseconds.
    pub bucket_width: u64,
}

impl Plot for WaitingPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 400)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let largest = self.buckets.iter().map(|b| b.most).max().unwrap_or(0);
        let values = axes::linear_axis(largest.max(1) as f64);
        let decimals = values.decimals;
        let caption = format!(
            "Operations waiting for an outcome (most at once), {} buckets — {}",
            crate::format::round_duration(self.bucket_width),
            self.frame.subtitle
        );
        let (chart, area) = time_chart(
            root,
            self.frame,
            caption,
            &values,
            "operations waiting",
            &|value| format!("{value:.decimals$}"),
        )?;
        let pixels: Vec<(i32, i32)> = self
            .buckets
            .iter()
            .map(|bucket| {
                let middle = bucket.start + (bucket.end - bucket.start) / 2;
                chart.backend_coord(&(axes::seconds(middle), bucket.most as f64))
            })
            .collect();
        let color = outcome_color(Outcome::Info);
        draw_broken_line(root, &pixels, |_| true, color)?;
        let mut entries = vec![(Swatch::Line(color, 2), format!("waiting (most {largest})"))];
        entries.extend(self.frame.legend_entries());
        draw_legend(root, &area, &entries)
    }
}

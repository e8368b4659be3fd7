//! The comparison's plots: latency CDFs overlaid, availability over the run with a band across
//! seeds, and recovery and cost spreads as box rows.

use super::stats::Spread;
use super::{Comparison, SERIES_POINTS};
use crate::plot::axes::{self, Ticked};
use crate::plot::{chart, draw_legend, to_svg, ChartSpec, DrawResult, Plot, Swatch, WIDTH};
use crate::style::FONT;
use crate::{ReportError, ReportFile};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One colour per variant (Paul Tol's bright scheme, then grey).
fn variant_color(index: usize) -> RGBColor {
    const COLORS: [RGBColor; 7] = [
        RGBColor(0x44, 0x77, 0xAA),
        RGBColor(0xEE, 0x66, 0x77),
        RGBColor(0x22, 0x88, 0x33),
        RGBColor(0xCC, 0xBB, 0x44),
        RGBColor(0x66, 0xCC, 0xEE),
        RGBColor(0xAA, 0x33, 0x77),
        RGBColor(0xBB, 0xBB, 0xBB),
    ];
    COLORS[index % COLORS.len()]
}

fn legend(comparison: &Comparison, band: bool) -> Vec<(Swatch, String)> {
    comparison
        .variants
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let swatch = if band {
                Swatch::Band(variant_color(i))
            } else {
                Swatch::Line(variant_color(i), 2)
            };
            (swatch, label.clone())
        })
        .collect()
}

fn plot_error(file: &str) -> impl Fn(Box<dyn std::error::Error>) -> ReportError + '_ {
    move |error| ReportError::Plot {
        file: file.to_string(),
        message: error.to_string(),
    }
}

/// Every plot of the comparison, as SVG files.
pub fn render(comparison: &Comparison) -> Result<Vec<ReportFile>, ReportError> {
    let mut files = Vec::new();
    let mut add = |name: &str, svg: Result<String, Box<dyn std::error::Error>>| {
        let svg = svg.map_err(plot_error(name))?;
        files.push(ReportFile {
            name: name.to_string(),
            contents: svg.into_bytes(),
        });
        Ok::<(), ReportError>(())
    };
    add("compare-latency-cdf.svg", to_svg(&CdfPlot { comparison }))?;
    add(
        "compare-availability.svg",
        to_svg(&AvailabilityBand { comparison }),
    )?;
    let mut recovery = Vec::new();
    for kind in &comparison.recovery {
        for (i, spread) in kind.to_recovered.iter().enumerate() {
            recovery.push((
                format!("{} ({})", kind.kind, comparison.variants[i]),
                i,
                *spread,
            ));
        }
    }
    if let Some(heal) = comparison
        .metrics
        .iter()
        .find(|m| m.metric == "heal to first ok")
    {
        for (i, spread) in heal.per_variant.iter().enumerate() {
            recovery.push((
                format!("heal → ok ({})", comparison.variants[i]),
                i,
                *spread,
            ));
        }
    }
    add(
        "compare-recovery.svg",
        to_svg(&BoxRows {
            title: "Time from a fault (or from healing) to the first ok after its outage",
            unit: "ms",
            rows: &recovery,
        }),
    )?;
    let mut costs = Vec::new();
    for name in ["messages per operation", "durable writes per operation"] {
        if let Some(metric) = comparison.metrics.iter().find(|m| m.metric == name) {
            for (i, spread) in metric.per_variant.iter().enumerate() {
                costs.push((format!("{name} ({})", comparison.variants[i]), i, *spread));
            }
        }
    }
    add(
        "compare-costs.svg",
        to_svg(&BoxRows {
            title: "Messages and durable writes per operation, across seeds",
            unit: "per operation",
            rows: &costs,
        }),
    )?;
    if comparison.load.iter().any(|points| points.len() > 1) {
        add("compare-load.svg", to_svg(&LoadPlot { comparison }))?;
    }
    Ok(files)
}

/// Ticks at 0, 0.1, ..., 1.
fn tenths() -> Vec<f64> {
    (0..=10).map(|i| f64::from(i) / 10.0).collect()
}

/// The load sweep: p50 and p99 latency (log scale) against achieved throughput, per variant.
struct LoadPlot<'a> {
    comparison: &'a Comparison,
}

impl Plot for LoadPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 460)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let points = || self.comparison.load.iter().flatten();
        let largest = points()
            .filter_map(|p| p.throughput.map(|s| s.median))
            .fold(0.0, f64::max);
        let x = axes::linear_axis(largest.max(1.0));
        let y = axes::log_axis(points().flat_map(|p| {
            [p.p50, p.p99]
                .into_iter()
                .flatten()
                .map(|s| (s.median * 1e6) as u64)
        }));
        let mut chart = chart(
            root,
            ChartSpec {
                caption: "Load sweep: latency against achieved throughput (solid p99, thin p50)"
                    .to_string(),
                x: Ticked::new(0.0..x.top, x.ticks.clone()),
                y: Ticked::new(y.start..y.end, y.ticks.clone()),
                x_desc: "ok per second",
                y_desc: "latency (log scale)",
                x_label: &|v| format!("{v:.0}"),
                y_label: &|v| axes::latency_label(*v),
                y_label_width: 70,
            },
        )?;
        for (i, points) in self.comparison.load.iter().enumerate().rev() {
            let color = variant_color(i);
            for (quantile, width) in [(1usize, 3u32), (0, 1)] {
                let series: Vec<(f64, f64)> = points
                    .iter()
                    .filter_map(|p| {
                        let latency = if quantile == 1 { p.p99 } else { p.p50 }?;
                        let throughput = p.throughput?;
                        Some((throughput.median, libm::log10(latency.median * 1e6)))
                    })
                    .collect();
                chart.draw_series(LineSeries::new(series.clone(), color.stroke_width(width)))?;
                chart.draw_series(
                    series
                        .into_iter()
                        .map(|point| Circle::new(point, 3, color.filled())),
                )?;
            }
        }
        let area = chart.plotting_area().get_pixel_range();
        draw_legend(root, &area, &legend(self.comparison, false))
    }
}

/// Latency CDFs of every variant's `ok` operations, all seeds pooled, on a log axis.
struct CdfPlot<'a> {
    comparison: &'a Comparison,
}

impl Plot for CdfPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 460)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let edges = self
            .comparison
            .latency_cdf
            .iter()
            .flatten()
            .map(|(edge, _)| *edge as u64);
        let x = axes::log_axis(edges);
        let mut chart = chart(
            root,
            ChartSpec {
                caption: format!(
                    "Latency of ok operations, CDF over seeds {}",
                    self.comparison.seeds
                ),
                x: Ticked::new(x.start..x.end, x.ticks.clone()),
                y: Ticked::new(0.0..1.0, tenths()),
                x_desc: "latency (log scale)",
                y_desc: "fraction at or below",
                x_label: &|v| axes::latency_label(*v),
                y_label: &|v| format!("{v:.1}"),
                y_label_width: 70,
            },
        )?;
        // The baseline (first variant) is drawn last, on top.
        for (i, cdf) in self.comparison.latency_cdf.iter().enumerate().rev() {
            let points: Vec<(f64, f64)> = cdf
                .iter()
                .map(|(edge, fraction)| (libm::log10(*edge).clamp(x.start, x.end), *fraction))
                .collect();
            chart.draw_series(LineSeries::new(points, variant_color(i).stroke_width(2)))?;
        }
        let area = chart.plotting_area().get_pixel_range();
        draw_legend(root, &area, &legend(self.comparison, false))
    }
}

/// Availability over the run: the mean across seeds per slice, with a 10–90th percentile band.
struct AvailabilityBand<'a> {
    comparison: &'a Comparison,
}

impl Plot for AvailabilityBand<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 460)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let run_end = self.comparison.run_end;
        let time = axes::time_axis(run_end);
        let step_millis = time.step_millis;
        let mut chart = chart(
            root,
            ChartSpec {
                caption: format!(
                    "Availability over the run: mean across seeds {}, band 10th–90th percentile",
                    self.comparison.seeds
                ),
                x: Ticked::new(0.0..time.end, time.ticks.clone()),
                y: Ticked::new(0.0..1.05, tenths()),
                x_desc: "time since start (s)",
                y_desc: "answered / completed",
                x_label: &|v| axes::time_label(*v, step_millis),
                y_label: &|v| format!("{v:.1}"),
                y_label_width: 70,
            },
        )?;
        let slice = axes::seconds(run_end) / SERIES_POINTS as f64;
        // The baseline (first variant) is drawn last, on top.
        for (i, series) in self.comparison.availability_series.iter().enumerate().rev() {
            let color = variant_color(i);
            let points: Vec<(f64, (f64, f64, f64))> = series
                .iter()
                .enumerate()
                .filter_map(|(s, value)| value.map(|v| ((s as f64 + 0.5) * slice, v)))
                .collect();
            let mut band: Vec<(f64, f64)> =
                points.iter().map(|(t, (_, _, high))| (*t, *high)).collect();
            band.extend(points.iter().rev().map(|(t, (_, low, _))| (*t, *low)));
            if band.len() > 2 {
                chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))?;
            }
            chart.draw_series(LineSeries::new(
                points.iter().map(|(t, (mean, _, _))| (*t, *mean)),
                color.stroke_width(2),
            ))?;
        }
        let area = chart.plotting_area().get_pixel_range();
        draw_legend(root, &area, &legend(self.comparison, true))
    }
}

/// Horizontal box rows: for each row, the interquartile box, the median tick and the median's
/// bootstrap interval as a whisker.
struct BoxRows<'a> {
    title: &'a str,
    unit: &'a str,
    rows: &'a [(String, usize, Option<Spread>)],
}

impl Plot for BoxRows<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 90 + 26 * self.rows.len().max(1) as u32)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let largest = self
            .rows
            .iter()
            .filter_map(|(_, _, s)| s.map(|s| s.q3.max(s.ci_high)))
            .fold(0.0, f64::max);
        let x = axes::linear_axis(largest.max(0.001));
        let rows = self.rows.len().max(1) as f64;
        let label_width = 330;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 17))
            .margin(10)
            .margin_left(label_width)
            .x_label_area_size(42)
            .build_cartesian_2d(
                Ticked::new(0.0..x.top, x.ticks.clone()),
                Ticked::new(0.0..rows, Vec::new()),
            )?;
        let decimals = x.decimals.max(1);
        chart
            .configure_mesh()
            .x_desc(self.unit)
            .x_label_formatter(&|v| format!("{v:.decimals$}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .disable_y_mesh()
            .draw()?;
        let text = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
        for (position, (label, variant, spread)) in self.rows.iter().enumerate() {
            let y = rows - position as f64 - 0.5;
            let color = variant_color(*variant);
            let pixel = chart.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                label.clone(),
                (pixel.0 - 8 - label_width + 10, pixel.1),
                text.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            let Some(spread) = spread else {
                continue;
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(spread.q1, y - 0.3), (spread.q3.max(spread.q1), y + 0.3)],
                color.mix(0.35).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(spread.ci_low, y), (spread.ci_high, y)],
                color.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(spread.median, y - 0.35), (spread.median, y + 0.35)],
                BLACK.stroke_width(2),
            )))?;
        }
        Ok(())
    }
}

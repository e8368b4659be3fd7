//! Plots over time, drawn with plotters on any backend: SVG text, or an RGB buffer for PNG.
//!
//! Every time plot shares the same frame: a time axis in seconds, the run's fault windows as
//! shaded, labelled bands (instant faults such as a clock jump as dashed lines), the heal and a
//! safety violation as vertical lines, and a legend to the right of the plotting area.

pub mod axes;
pub mod latency;
pub mod throughput;

use crate::style::{fault_color, fault_name, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sim::outcome::{FaultKind, FaultWindow};
use std::ops::Range;

/// What drawing returns; backend errors are boxed, then turned into a [`crate::ReportError`].
pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Width of every plot, pixels.
pub const WIDTH: u32 = 1000;
/// Pixels right of the plotting area, for the legend.
pub const LEGEND_WIDTH: u32 = 170;

/// A plotting area on two given-tick axes.
pub type TickedChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<axes::Ticked, axes::Ticked>>;

/// What a chart with a legend at its right shows: caption, axes and how they are labelled.
pub struct ChartSpec<'f> {
    /// Title above the chart.
    pub caption: String,
    /// The horizontal axis.
    pub x: axes::Ticked,
    /// The vertical axis.
    pub y: axes::Ticked,
    /// Horizontal axis description.
    pub x_desc: &'f str,
    /// Vertical axis description.
    pub y_desc: &'f str,
    /// Tick labels of the horizontal axis.
    pub x_label: &'f dyn Fn(&f64) -> String,
    /// Tick labels of the vertical axis.
    pub y_label: &'f dyn Fn(&f64) -> String,
    /// Pixels left of the plotting area for the vertical tick labels.
    pub y_label_width: u32,
}

/// The chart every plot with a legend shares: the caption, the axes, a light grid, and
/// [`LEGEND_WIDTH`] pixels on the right for the legend.
pub fn chart<'a, DB>(
    root: &'a DrawingArea<DB, Shift>,
    spec: ChartSpec<'_>,
) -> Result<TickedChart<'a, DB>, Box<dyn std::error::Error>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(spec.caption, (FONT, 17))
        .margin(10)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(42)
        .y_label_area_size(spec.y_label_width)
        .build_cartesian_2d(spec.x, spec.y)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .x_label_formatter(spec.x_label)
        .y_label_formatter(spec.y_label)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .draw()?;
    Ok(chart)
}

/// Something that can be drawn on any plotters backend.
pub trait Plot {
    /// Width and height, pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the whole plot on `root`.
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

/// Renders `plot` as SVG text.
pub fn to_svg(plot: &impl Plot) -> Result<String, Box<dyn std::error::Error>> {
    crate::style::register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, plot.size()).into_drawing_area();
        root.fill(&WHITE)?;
        plot.draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

/// Renders `plot` into an RGB buffer (3 bytes a pixel, rows top to bottom).
pub fn to_rgb(plot: &impl Plot) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    crate::style::register_font();
    let (width, height) = plot.size();
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        plot.draw(&root)?;
        root.present()?;
    }
    Ok(buffer)
}

/// What every time plot shows besides its data.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Appended to each plot title: scenario, protocol and seed.
    pub subtitle: String,
    /// The end of the time axis, nanoseconds.
    pub run_end: u64,
    /// Fault windows to shade.
    pub faults: Vec<FaultWindow>,
    /// When faults healed, nanoseconds.
    pub heal: Option<u64>,
    /// When a safety violation was detected, nanoseconds.
    pub violation: Option<u64>,
}

/// A marker shape, one per operation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Reads.
    Circle,
    /// Writes.
    Triangle,
    /// Compare-and-set.
    Square,
    /// Anything else.
    Cross,
}

impl Shape {
    /// The shape for a function name: `read`/`get` circles, `write`/`put` triangles, `cas`
    /// squares, others crosses.
    pub fn for_function(function: &str) -> Shape {
        match function {
            "read" | "get" => Shape::Circle,
            "write" | "put" => Shape::Triangle,
            "cas" => Shape::Square,
            _ => Shape::Cross,
        }
    }
}

/// Draws a marker of `shape` centred on pixel `at`.
pub fn draw_marker<DB>(
    root: &DrawingArea<DB, Shift>,
    shape: Shape,
    at: (i32, i32),
    color: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (x, y) = at;
    let style = color.filled();
    match shape {
        Shape::Circle => root.draw(&Circle::new(at, 3, style))?,
        Shape::Triangle => root.draw(&Polygon::new(
            vec![(x, y - 4), (x - 4, y + 3), (x + 4, y + 3)],
            style,
        ))?,
        Shape::Square => root.draw(&Rectangle::new([(x - 3, y - 3), (x + 3, y + 3)], style))?,
        Shape::Cross => {
            let stroke = color.stroke_width(2);
            root.draw(&PathElement::new(
                vec![(x - 3, y - 3), (x + 3, y + 3)],
                stroke,
            ))?;
            root.draw(&PathElement::new(
                vec![(x - 3, y + 3), (x + 3, y - 3)],
                stroke,
            ))?;
        }
    }
    Ok(())
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    /// A marker.
    Marker(Shape, RGBColor),
    /// A solid line of a width, pixels.
    Line(RGBColor, u32),
    /// A dashed line.
    DashedLine(RGBColor),
    /// A shaded band.
    Band(RGBColor),
}

/// Draws a vertical legend at the right of a plotting area whose pixel ranges are `area`.
pub fn draw_legend<DB>(
    root: &DrawingArea<DB, Shift>,
    area: &(Range<i32>, Range<i32>),
    entries: &[(Swatch, String)],
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let x = area.0.end + 16;
    let mut y = area.1.start + 8;
    let text = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    for (swatch, label) in entries {
        match *swatch {
            Swatch::Marker(shape, color) => draw_marker(root, shape, (x + 10, y), color)?,
            Swatch::Line(color, width) => root.draw(&PathElement::new(
                vec![(x, y), (x + 20, y)],
                color.stroke_width(width),
            ))?,
            Swatch::DashedLine(color) => dashed_segment(root, (x, x + 20), y, color)?,
            Swatch::Band(color) => root.draw(&Rectangle::new(
                [(x, y - 6), (x + 20, y + 6)],
                color.mix(0.35).filled(),
            ))?,
        }
        root.draw(&Text::new(
            label.clone(),
            (x + 28, y),
            text.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        y += 20;
    }
    Ok(())
}

fn dashed_segment<DB>(
    root: &DrawingArea<DB, Shift>,
    span: (i32, i32),
    y: i32,
    color: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut x = span.0;
    while x < span.1 {
        let end = (x + 5).min(span.1);
        root.draw(&PathElement::new(
            vec![(x, y), (end, y)],
            color.stroke_width(2),
        ))?;
        x += 8;
    }
    Ok(())
}

fn dashed_vertical<DB>(
    root: &DrawingArea<DB, Shift>,
    x: i32,
    span: &Range<i32>,
    color: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut y = span.start;
    while y < span.end {
        let end = (y + 6).min(span.end);
        root.draw(&PathElement::new(
            vec![(x, y), (x, end)],
            color.stroke_width(2),
        ))?;
        y += 10;
    }
    Ok(())
}

/// Colour of the heal line.
pub const HEAL_COLOR: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Colour of the safety-violation line.
pub const VIOLATION_COLOR: RGBColor = RGBColor(0xCC, 0x33, 0x11);

impl Frame {
    /// Shades fault windows and draws the heal and violation lines on a plotting area whose
    /// pixel ranges are `area`; `to_pixel` maps true-time nanoseconds to an x pixel. Call
    /// after the mesh and before the data, so the data stays on top.
    pub fn draw_bands<DB>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &(Range<i32>, Range<i32>),
        to_pixel: impl Fn(u64) -> i32,
    ) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let label_style = TextStyle::from((FONT, 11).into_font()).color(&BLACK);
        for (position, fault) in self.faults.iter().enumerate() {
            let color = fault_color(fault.kind);
            let start = to_pixel(fault.start.as_nanos());
            let end = to_pixel(fault.end.map_or(self.run_end, |end| end.as_nanos()));
            if end > start {
                root.draw(&Rectangle::new(
                    [(start, area.1.start), (end, area.1.end)],
                    color.mix(0.22).filled(),
                ))?;
            } else {
                dashed_vertical(root, start, &area.1, color)?;
            }
            // Labels go on three staggered rows so neighbouring windows do not overprint.
            let row = (position % 3) as i32;
            root.draw(&Text::new(
                fault.label.clone(),
                (start + 3, area.1.start + 3 + row * 13),
                label_style.pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
        }
        let marks = [
            (self.heal, HEAL_COLOR, "heal"),
            (self.violation, VIOLATION_COLOR, "violation"),
        ];
        for (time, color, label) in marks {
            let Some(time) = time else { continue };
            let x = to_pixel(time);
            dashed_vertical(root, x, &area.1, color)?;
            root.draw(&Text::new(
                label,
                (x - 3, area.1.end - 4),
                label_style
                    .color(&color)
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            ))?;
        }
        Ok(())
    }

    /// Legend entries for the fault kinds present and the heal and violation lines.
    pub fn legend_entries(&self) -> Vec<(Swatch, String)> {
        let mut entries = Vec::new();
        for kind in [
            FaultKind::Partition,
            FaultKind::Crash,
            FaultKind::Pause,
            FaultKind::Clock,
            FaultKind::Network,
            FaultKind::Membership,
        ] {
            let windows: Vec<&FaultWindow> = self
                .faults
                .iter()
                .filter(|fault| fault.kind == kind)
                .collect();
            if windows.is_empty() {
                continue;
            }
            let instant = windows.iter().all(|fault| fault.end == Some(fault.start));
            let swatch = if instant {
                Swatch::DashedLine(fault_color(kind))
            } else {
                Swatch::Band(fault_color(kind))
            };
            entries.push((swatch, fault_name(kind).to_string()));
        }
        if self.heal.is_some() {
            entries.push((Swatch::DashedLine(HEAL_COLOR), "heal".to_string()));
        }
        if self.violation.is_some() {
            entries.push((Swatch::DashedLine(VIOLATION_COLOR), "violation".to_string()));
        }
        entries
    }
}

/// Light grey for minor grid lines.
pub const GRID_LIGHT: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);
/// Grey for major grid lines.
pub const GRID_BOLD: RGBColor = RGBColor(0xD0, 0xD0, 0xD0);

//! Colours, fonts and the shared look of every plot and page.

use crate::operations::Outcome;
use plotters::style::RGBColor;
use sim::outcome::FaultKind;
use std::sync::Once;

/// The font family plots name. It is registered with plotters from the font file shipped in
/// `reports/fonts/` (DejaVu Sans, Bitstream Vera license), so text is measured and rasterized
/// identically on every machine. An SVG viewer renders the text with DejaVu Sans when it has it
/// and its default sans-serif otherwise; the SVG bytes are the same either way.
pub const FONT: &str = "DejaVu Sans, sans-serif";

static FONT_DATA: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

/// Makes [`FONT`] known to plotters. Idempotent; called before any drawing.
pub fn register_font() {
    REGISTER_FONT.call_once(|| {
        // The font file is part of the crate, so failing to parse it is a build defect.
        assert!(
            plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, FONT_DATA)
                .is_ok(),
            "the shipped DejaVuSans.ttf does not parse"
        );
    });
}

/// Outcome colours (Paul Tol's bright scheme, readable by colour-blind readers): blue for
/// `ok`, red for `fail`, yellow for `refused`, purple for `info`.
pub fn outcome_color(outcome: Outcome) -> RGBColor {
    match outcome {
        Outcome::Ok => RGBColor(0x44, 0x77, 0xAA),
        Outcome::Fail => RGBColor(0xEE, 0x66, 0x77),
        Outcome::Refused => RGBColor(0xCC, 0xBB, 0x44),
        Outcome::Info => RGBColor(0xAA, 0x33, 0x77),
    }
}

/// The same colours as CSS hex strings, for the HTML pages.
pub fn outcome_css(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "#4477aa",
        Outcome::Fail => "#ee6677",
        Outcome::Refused => "#ccbb44",
        Outcome::Info => "#aa3377",
    }
}

/// Fault band colours, drawn at low opacity behind the data.
pub fn fault_color(kind: FaultKind) -> RGBColor {
    match kind {
        FaultKind::Partition => RGBColor(0xCC, 0xBB, 0x44),
        FaultKind::Crash => RGBColor(0x66, 0x66, 0x66),
        FaultKind::Pause => RGBColor(0x66, 0xCC, 0xEE),
        FaultKind::Clock => RGBColor(0x22, 0x88, 0x33),
        FaultKind::Network => RGBColor(0xEE, 0x99, 0x44),
        FaultKind::Membership => RGBColor(0x44, 0x77, 0xAA),
    }
}

/// The same colours as CSS hex strings.
pub fn fault_css(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => "#ccbb44",
        FaultKind::Crash => "#666666",
        FaultKind::Pause => "#66ccee",
        FaultKind::Clock => "#228833",
        FaultKind::Network => "#ee9944",
        FaultKind::Membership => "#4477aa",
    }
}

/// Darker versions of the fault colours, for text labels on white.
pub fn fault_label_css(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => "#7a6d00",
        FaultKind::Crash => "#444444",
        FaultKind::Pause => "#1f6f8b",
        FaultKind::Clock => "#1b6b28",
        FaultKind::Network => "#a35200",
        FaultKind::Membership => "#2b4c6f",
    }
}

/// The name of a fault kind in legends.
pub fn fault_name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => "partition",
        FaultKind::Crash => "crash",
        FaultKind::Pause => "pause",
        FaultKind::Clock => "clock",
        FaultKind::Network => "network",
        FaultKind::Membership => "membership",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::IntoFont;

    /// Text is measured with the shipped DejaVu Sans through ab_glyph. If another crate in the
    /// workspace turned on plotters' `ttf` feature, plotters would measure with the machine's
    /// fonts instead and reports would stop being reproducible; this pins the measurement.
    #[test]
    fn text_is_measured_with_the_shipped_font() {
        register_font();
        let size = (FONT, 20).into_font().box_size("Wm 0.5 s").unwrap();
        // DejaVu Sans advances for "Wm 0.5 s" add up to 9646 of 2048 units per em; ab_glyph
        // scales a 20 px font by 20 / (ascent 1901 + descent 483): 80.9 px, truncated.
        assert_eq!(size, (80, 16));
    }
}

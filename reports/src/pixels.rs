//! PNG encoding of rendered plots, and a pixel summary used to check a screenshot is not blank.

use crate::ReportError;
use std::collections::BTreeSet;

/// Encodes an RGB buffer (3 bytes a pixel, rows top to bottom) as an 8-bit RGB PNG. The
/// encoder's settings are fixed, so the same pixels always give the same bytes.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    assert_eq!(
        rgb.len(),
        width as usize * height as usize * 3,
        "buffer size"
    );
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        encoder.set_filter(png::FilterType::Sub);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
        let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
        writer
            .write_image_data(rgb)
            .map_err(|error| error.to_string())?;
        writer.finish().map_err(|error| error.to_string())?;
    }
    Ok(bytes)
}

/// What a PNG's pixels look like, roughly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelSummary {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Distinct RGBA colours (alpha 255 for images without alpha).
    pub distinct_colors: usize,
    /// Pixels that are not pure white.
    pub non_white_pixels: u64,
}

/// A decoded image: RGBA, 4 bytes a pixel, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedImage {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// The pixels.
    pub rgba: Vec<u8>,
}

impl DecodedImage {
    /// Pixels whose red, green and blue each lie within `tolerance` of `rgb`.
    pub fn count_near(&self, rgb: [u8; 3], tolerance: u8) -> u64 {
        self.rgba
            .chunks_exact(4)
            .filter(|pixel| {
                (0..3).all(|channel| pixel[channel].abs_diff(rgb[channel]) <= tolerance)
            })
            .count() as u64
    }

    /// A summary of the pixels.
    pub fn summary(&self) -> PixelSummary {
        let mut colors = BTreeSet::new();
        let mut non_white_pixels = 0u64;
        for pixel in self.rgba.chunks_exact(4) {
            if pixel[..3] != [255, 255, 255] {
                non_white_pixels += 1;
            }
            colors.insert([pixel[0], pixel[1], pixel[2], pixel[3]]);
        }
        PixelSummary {
            width: self.width,
            height: self.height,
            distinct_colors: colors.len(),
            non_white_pixels,
        }
    }
}

/// Decodes a PNG of any colour type, 8 or 16 bits, into RGBA. End-to-end tests use it to
/// look at browser screenshots.
pub fn decode_png(bytes: &[u8]) -> Result<DecodedImage, ReportError> {
    let failure = |message: String| ReportError::Png {
        file: "(decoded)".to_string(),
        message,
    };
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|error| failure(error.to_string()))?;
    let mut buffer = vec![0u8; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|error| failure(error.to_string()))?;
    let channels = frame.color_type.samples();
    let mut rgba = Vec::with_capacity(frame.width as usize * frame.height as usize * 4);
    for pixel in buffer[..frame.buffer_size()].chunks_exact(channels) {
        let expanded = match channels {
            1 => [pixel[0], pixel[0], pixel[0], 255],
            2 => [pixel[0], pixel[0], pixel[0], pixel[1]],
            3 => [pixel[0], pixel[1], pixel[2], 255],
            _ => [pixel[0], pixel[1], pixel[2], pixel[3]],
        };
        rgba.extend_from_slice(&expanded);
    }
    Ok(DecodedImage {
        width: frame.width,
        height: frame.height,
        rgba,
    })
}

/// Decodes a PNG and summarizes its pixels.
pub fn png_summary(bytes: &[u8]) -> Result<PixelSummary, ReportError> {
    Ok(decode_png(bytes)?.summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_pixels_decode_to_the_same_summary() {
        // A 4×2 image: six white pixels, one red, one black.
        let mut rgb = vec![255u8; 4 * 2 * 3];
        rgb[0..3].copy_from_slice(&[255, 0, 0]);
        rgb[21..24].copy_from_slice(&[0, 0, 0]);
        let bytes = encode_png(&rgb, 4, 2).unwrap();
        assert_eq!(
            png_summary(&bytes).unwrap(),
            PixelSummary {
                width: 4,
                height: 2,
                distinct_colors: 3,
                non_white_pixels: 2
            }
        );
        assert_eq!(bytes, encode_png(&rgb, 4, 2).unwrap());
        let image = decode_png(&bytes).unwrap();
        assert_eq!(image.count_near([250, 5, 5], 5), 1);
        assert_eq!(image.count_near([250, 5, 5], 4), 0);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(png_summary(b"not a png").is_err());
    }
}

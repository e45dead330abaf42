//! Images in a request, checked as Bedrock checks them for Claude, and
//! "read" deterministically so tests can assert what the model saw.
//!
//! Limits enforced (Bedrock's for Claude): at most [`MAX_IMAGES`] images
//! per request, each at most [`MAX_IMAGE_BYTES`] and [`MAX_SIDE`] pixels a
//! side, in png, jpeg, gif or webp, and the declared format must be the
//! format of the bytes. A refusal is the `ValidationException` text Bedrock
//! relays from the model ("The model returned the following errors: …"),
//! worded after Anthropic's published messages.
//!
//! **Reading.** A test image carries its text in a *strip*: black and white
//! cells of [`CELL`]×[`CELL`] pixels from the top-left corner, row by row,
//! holding `WSL1`, a big-endian `u16` length and that many bytes of UTF-8,
//! most significant bit first, black for 1. Cells aligned to JPEG's 8×8
//! blocks survive lossy re-encoding, and PNG keeps them exactly, so the text
//! survives the browser's shrink and the server's re-encode. [`paint_strip`]
//! writes one; an image without a strip is read as unreadable.

use base64::Engine;
use image::{GenericImageView, ImageFormat, RgbImage};

/// Bedrock's per-request image limit for Claude.
pub const MAX_IMAGES: usize = 20;
/// 3.75 MB per image.
pub const MAX_IMAGE_BYTES: usize = 3_932_160;
/// The longest side Bedrock accepts.
pub const MAX_SIDE: u32 = 8000;
/// The side of one strip cell, in pixels.
pub const CELL: u32 = 8;
const MAGIC: &[u8; 4] = b"WSL1";

/// An image as the model received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    /// Its strip's text, if it has one.
    pub text: Option<String>,
    /// What it costs as input: about w×h/750 after Claude's own shrink
    /// to a long edge of 1568 px.
    pub tokens: u64,
}

/// The tokens an image of `width`×`height` costs.
pub fn image_tokens(width: u32, height: u32) -> u64 {
    let long = width.max(height).max(1) as f64;
    let scale = (1568.0 / long).min(1.0);
    let (w, h) = (width as f64 * scale, height as f64 * scale);
    ((w * h) / 750.0).ceil() as u64
}

fn format_name(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Png => Some("png"),
        ImageFormat::Jpeg => Some("jpeg"),
        ImageFormat::Gif => Some("gif"),
        ImageFormat::WebP => Some("webp"),
        _ => None,
    }
}

/// Checks one image block at `path` (`messages.0.content.1`) declared as
/// `declared` (`png`, `jpeg`, …) with base64 `data`, and reads it.
pub fn see(path: &str, declared: &str, data: &str) -> Result<Seen, String> {
    let errors =
        |detail: String| format!("The model returned the following errors: {path}.image.source: {detail}");
    if !["png", "jpeg", "gif", "webp"].contains(&declared) {
        return Err(format!(
            "1 validation error detected: Value '{declared}' at '{path}.image.format' failed to satisfy constraint: \
             Member must satisfy enum value set: [png, jpeg, gif, webp]"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| errors("invalid base64 data".into()))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(errors(format!(
            "image exceeds 3.75 MB maximum: {} bytes > {MAX_IMAGE_BYTES} bytes",
            bytes.len()
        )));
    }
    let actual = image::guess_format(&bytes)
        .ok()
        .and_then(format_name)
        .ok_or_else(|| errors("Could not process image".into()))?;
    if actual != declared {
        return Err(errors(format!(
            "The image was specified using the image/{declared} media type, but the image appears to be a image/{actual} image"
        )));
    }
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|_| errors("Could not process image".into()))?
        .into_dimensions()
        .map_err(|_| errors("Could not process image".into()))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(errors(format!(
            "image dimensions exceed max allowed size: {MAX_SIDE} pixels"
        )));
    }
    let text = image::load_from_memory(&bytes)
        .ok()
        .and_then(|decoded| read_strip(&decoded.to_rgb8()));
    Ok(Seen {
        format: actual,
        width,
        height,
        text,
        tokens: image_tokens(width, height),
    })
}

/// Bits of the strip, row by row, cell by cell.
fn cells(width: u32, height: u32) -> impl Iterator<Item = (u32, u32)> {
    let across = width / CELL;
    let down = height / CELL;
    (0..down).flat_map(move |row| (0..across).map(move |col| (col * CELL, row * CELL)))
}

fn cell_is_dark(image: &RgbImage, x: u32, y: u32) -> bool {
    // The middle of the cell: edges blur under JPEG and scaling.
    let mut sum = 0u32;
    for dy in 2..CELL - 2 {
        for dx in 2..CELL - 2 {
            let p = image.get_pixel(x + dx, y + dy);
            sum += (u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10;
        }
    }
    sum / ((CELL - 4) * (CELL - 4)) < 128
}

/// The text an image's strip holds, if it has a whole one.
pub fn read_strip(image: &RgbImage) -> Option<String> {
    let (width, height) = image.dimensions();
    let mut bits = cells(width, height).map(|(x, y)| cell_is_dark(image, x, y));
    let mut byte = || -> Option<u8> {
        let mut value = 0u8;
        for _ in 0..8 {
            value = (value << 1) | u8::from(bits.next()?);
        }
        Some(value)
    };
    let magic = [byte()?, byte()?, byte()?, byte()?];
    if &magic != MAGIC {
        return None;
    }
    let len = u16::from_be_bytes([byte()?, byte()?]) as usize;
    let payload: Option<Vec<u8>> = (0..len).map(|_| byte()).collect();
    String::from_utf8(payload?).ok()
}

/// Writes `text` as a strip into the top of `image`; false when it does not fit.
pub fn paint_strip(image: &mut RgbImage, text: &str) -> bool {
    let (width, height) = image.dimensions();
    let Ok(len) = u16::try_from(text.len()) else {
        return false;
    };
    let mut payload = MAGIC.to_vec();
    payload.extend_from_slice(&len.to_be_bytes());
    payload.extend_from_slice(text.as_bytes());
    let bits: Vec<bool> = payload
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
        .collect();
    let places: Vec<(u32, u32)> = cells(width, height).take(bits.len()).collect();
    if places.len() < bits.len() {
        return false;
    }
    for ((x, y), bit) in places.into_iter().zip(bits) {
        let shade = if bit { 0 } else { 255 };
        for dy in 0..CELL {
            for dx in 0..CELL {
                image.put_pixel(x + dx, y + dy, image::Rgb([shade, shade, shade]));
            }
        }
    }
    true
}

/// A test photo of a problem: `width`×`height`, light paper with grey
/// "lines of text" under a strip holding `text`.
pub fn problem_photo(text: &str, width: u32, height: u32) -> RgbImage {
    let mut image = RgbImage::from_pixel(width, height, image::Rgb([250, 248, 240]));
    let strip_rows = (48 + text.len() as u32 * 8).div_ceil((width / CELL).max(1)) + 1;
    let top = strip_rows * CELL + 24;
    let mut y = top;
    let mut line = 0u32;
    while y + 14 < height.saturating_sub(16) {
        let end = width - 24 - (line * 37 % 160);
        for yy in y..y + 10 {
            for x in 24..end {
                // Word gaps, so it reads as a line of text.
                if !(x / 9 + line).is_multiple_of(7) {
                    image.put_pixel(x, yy, image::Rgb([90, 90, 96]));
                }
            }
        }
        y += 24;
        line += 1;
    }
    paint_strip(&mut image, text);
    image
}

/// Whether an image's dimensions can be read at all (for messages).
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    image::load_from_memory(bytes).ok().map(|i| i.dimensions())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_strip_survives_png_and_jpeg() {
        let text = "다음 글을 읽고 물음에 답하시오. ① 가 ② 나 $x^2$";
        let photo = problem_photo(text, 640, 480);
        assert_eq!(read_strip(&photo).as_deref(), Some(text));
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let bytes = encoded(&photo, format);
            let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(read_strip(&decoded).as_deref(), Some(text), "{format:?}");
        }
        let plain = RgbImage::from_pixel(64, 64, image::Rgb([255, 255, 255]));
        assert_eq!(read_strip(&plain), None);
    }

    #[test]
    fn bedrock_limits_are_enforced() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let png = encoded(&problem_photo("안녕", 200, 100), ImageFormat::Png);
        let seen = see("messages.0.content.0", "png", &b64(&png)).unwrap();
        assert_eq!(
            (seen.width, seen.height, seen.text.as_deref()),
            (200, 100, Some("안녕"))
        );
        let wrong = see("messages.0.content.0", "jpeg", &b64(&png)).unwrap_err();
        assert!(wrong.contains("appears to be a image/png"), "{wrong}");
        let label = see("messages.0.content.0", "jpg", &b64(&png)).unwrap_err();
        assert!(label.contains("enum value set"), "{label}");
        let wide = encoded(&RgbImage::new(8001, 1), ImageFormat::Png);
        assert!(see("m", "png", &b64(&wide)).unwrap_err().contains("8000 pixels"));
        assert!(see("m", "png", &b64(b"not an image")).is_err());
        assert_eq!(image_tokens(1568, 1176), 2459);
        assert_eq!(image_tokens(4000, 3000), 2459);
    }
}

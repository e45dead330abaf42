//! What the server makes of an uploaded file, trusting nothing the browser
//! said: the format is read from the bytes, the whole image is decoded under
//! memory and size limits, turned upright by its EXIF orientation, shrunk to
//! what Claude sees best, and encoded anew. Only those new bytes are ever
//! stored or sent on, so no metadata (EXIF, GPS, comments) and nothing
//! appended to the file (a polyglot's second payload) survives.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits,
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
    metadata::Orientation,
};

/// Bedrock's limit per image side.
pub const MAX_SIDE: u32 = 8000;
/// Smaller than this on either side cannot show a problem.
pub const MIN_SIDE: u32 = 32;
/// Claude scales larger images down to this long edge anyway: beyond it
/// pixels cost tokens and storage and add nothing.
pub const LONG_EDGE: u32 = 1568;
/// Bedrock's limit per image (3.75 MB).
pub const MAX_IMAGE_BYTES: usize = 3_932_160;
/// What a decode may allocate: an 8000×8000 RGBA image.
const MAX_DECODE_BYTES: u64 = 8000 * 8000 * 4 + (16 << 20);
const JPEG_QUALITY: u8 = 85;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not an image")]
    NotAnImage,
    #[error("the image format is not supported")]
    Unsupported,
    #[error("the image is damaged")]
    Broken,
    #[error("the image is larger than {MAX_SIDE} pixels on a side")]
    TooManyPixels,
    #[error("the image is smaller than {MIN_SIDE} pixels on a side")]
    TooSmall,
    #[error("the file is larger than the upload limit")]
    TooLarge,
}

/// An image fit to store and send: its new bytes and what they are.
#[derive(Clone, Debug)]
pub struct Checked {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Checks, decodes and re-encodes an uploaded file (CPU-bound: call it
/// off the async threads).
pub fn check(raw: &[u8]) -> Result<Checked, ImageError> {
    if raw.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = image::guess_format(raw).map_err(|_| ImageError::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(ImageError::Unsupported);
    }
    let mut reader = ImageReader::with_format(Cursor::new(raw), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooManyPixels);
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(ImageError::TooSmall);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    let (w, h) = (image.width(), image.height());
    if w.max(h) > LONG_EDGE {
        let scale = f64::from(LONG_EDGE) / f64::from(w.max(h));
        let (nw, nh) = (
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
        );
        // Integer averaging: no floating-point copy of a 12-megapixel photo,
        // which would triple what a decode holds at once.
        image = image.thumbnail_exact(nw, nh);
    }
    // Screenshots and scans (PNG, GIF, WebP with transparency) stay
    // lossless, which keeps small print sharp; photos become JPEG.
    let lossless = matches!(format, ImageFormat::Png | ImageFormat::Gif)
        || (format == ImageFormat::WebP && image.color().has_alpha());
    if lossless {
        let png = encode_png(&image)?;
        if png.len() <= MAX_IMAGE_BYTES {
            return Ok(checked(png, "image/png", &image));
        }
    }
    let jpeg = encode_jpeg(&image)?;
    if jpeg.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge);
    }
    Ok(checked(jpeg, "image/jpeg", &image))
}

fn checked(bytes: Vec<u8>, media_type: &'static str, image: &DynamicImage) -> Checked {
    Checked {
        bytes,
        media_type,
        width: image.width(),
        height: image.height(),
    }
}

fn decode_error(err: image::ImageError) -> ImageError {
    match err {
        image::ImageError::Limits(_) => ImageError::TooManyPixels,
        image::ImageError::Unsupported(_) => ImageError::Unsupported,
        _ => ImageError::Broken,
    }
}

fn encode_png(image: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let image = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    image
        .write_with_encoder(PngEncoder::new(&mut out))
        .map_err(|_| ImageError::Broken)?;
    Ok(out)
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    // Transparent parts become white paper, not black.
    let rgb = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
        for (x, y, p) in rgba.enumerate_pixels() {
            let a = u16::from(p[3]);
            let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
            rgb.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
        }
        rgb
    } else {
        image.to_rgb8()
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|_| ImageError::Broken)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, RgbImage};

    use super::*;

    fn photo(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, 120])
        })
    }

    fn encoded(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// A big-endian TIFF directory: an orientation, a description and a
    /// GPS directory with a latitude reference, as a phone writes them.
    fn exif_with_gps(orientation: u16) -> Vec<u8> {
        let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
        let description = b"GPS-MARKER-SEOUL-37.5665N\x00";
        // IFD0 at 8: 3 entries (2 + 3*12 + 4 = 42 bytes) → data at 50.
        let data_at = 8 + 2 + 3 * 12 + 4;
        let gps_at = data_at + description.len();
        tiff.extend_from_slice(&3u16.to_be_bytes());
        // ImageDescription (0x010E), ASCII.
        tiff.extend_from_slice(&[0x01, 0x0e, 0x00, 0x02]);
        tiff.extend_from_slice(&(description.len() as u32).to_be_bytes());
        tiff.extend_from_slice(&(data_at as u32).to_be_bytes());
        // Orientation (0x0112), SHORT.
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        // GPSInfo (0x8825), LONG: the GPS directory's offset.
        tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]);
        tiff.extend_from_slice(&(gps_at as u32).to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(description);
        // GPS directory: GPSLatitudeRef (1) = "N".
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff
    }

    /// A JPEG carrying `exif` in its APP1 segment, right after SOI.
    fn jpeg_with_exif(image: &RgbImage, exif: &[u8]) -> Vec<u8> {
        let plain = encoded(image, ImageFormat::Jpeg);
        let mut segment = b"Exif\x00\x00".to_vec();
        segment.extend_from_slice(exif);
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((segment.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&segment);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn formats_are_read_from_the_bytes() {
        let image = photo(64, 48);
        for (format, expected) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Gif, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::WebP, "image/jpeg"),
        ] {
            let checked = check(&encoded(&image, format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(checked.media_type, expected, "{format:?}");
            assert_eq!((checked.width, checked.height), (64, 48));
            assert_eq!(
                image::guess_format(&checked.bytes).unwrap().to_mime_type(),
                expected
            );
        }
        assert_eq!(check(b"").unwrap_err(), ImageError::Empty);
        assert_eq!(
            check("이건 사진이 아니에요".as_bytes()).unwrap_err(),
            ImageError::NotAnImage
        );
        // Real image formats Bedrock does not take: BMP and TIFF headers.
        assert_eq!(
            check(b"BM\x36\x00\x00\x00\x00\x00").unwrap_err(),
            ImageError::Unsupported
        );
        assert_eq!(
            check(b"II*\x00\x08\x00\x00\x00").unwrap_err(),
            ImageError::Unsupported
        );
    }

    #[test]
    fn exif_and_gps_are_gone_and_the_photo_is_upright() {
        // Orientation 6: the camera was turned; the stored pixels lie on their side.
        let raw = jpeg_with_exif(&photo(80, 40), &exif_with_gps(6));
        assert!(contains(&raw, b"Exif") && contains(&raw, b"GPS-MARKER-SEOUL"));
        let checked = check(&raw).unwrap();
        assert!(!contains(&checked.bytes, b"Exif"), "EXIF survived");
        assert!(
            !contains(&checked.bytes, b"GPS-MARKER-SEOUL"),
            "the description survived"
        );
        assert_eq!((checked.width, checked.height), (40, 80), "turned upright");
        // A PNG's eXIf chunk goes too.
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        if encoder.set_exif_metadata(exif_with_gps(1)).is_ok() {
            encoder
                .write_image(photo(50, 50).as_raw(), 50, 50, image::ExtendedColorType::Rgb8)
                .unwrap();
            assert!(contains(&png, b"GPS-MARKER-SEOUL"));
            assert!(!contains(&check(&png).unwrap().bytes, b"GPS-MARKER-SEOUL"));
        }
    }

    #[test]
    fn sizes_outside_the_limits_are_refused_and_big_photos_shrink() {
        let wide = encoded(&RgbImage::new(MAX_SIDE + 1, 40), ImageFormat::Png);
        assert_eq!(check(&wide).unwrap_err(), ImageError::TooManyPixels);
        let tiny = encoded(&photo(10, 10), ImageFormat::Png);
        assert_eq!(check(&tiny).unwrap_err(), ImageError::TooSmall);
        let big = check(&encoded(&photo(4000, 3000), ImageFormat::Jpeg)).unwrap();
        assert_eq!((big.width, big.height), (LONG_EDGE, 1176));
        assert!(big.bytes.len() <= MAX_IMAGE_BYTES);
    }

    #[test]
    fn damaged_files_and_polyglots_are_refused_or_neutralised() {
        let png = encoded(&photo(64, 64), ImageFormat::Png);
        assert_eq!(check(&png[..png.len() / 2]).unwrap_err(), ImageError::Broken);
        // GIF header, then JavaScript: a classic GIF/JS polyglot.
        let gifjs = b"GIF89a/*\x00\x00\x00\x00*/=1;alert(document.cookie);//".to_vec();
        assert!(check(&gifjs).is_err());
        // A real PNG with HTML and a ZIP appended: accepted, and only the picture is kept.
        let mut polyglot = png.clone();
        polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>PK\x03\x04");
        let checked = check(&polyglot).unwrap();
        assert!(!contains(&checked.bytes, b"<script>"));
        assert!(!contains(&checked.bytes, b"PK\x03\x04"));
    }
}

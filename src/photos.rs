//! The photo pipeline: recognise the format by content, decode under limits, turn upright,
//! flatten onto white, and re-encode as JPEG in two sizes. Re-encoding drops every byte of the
//! original's metadata (EXIF, GPS, XMP, comments). CPU-bound: call it off the reactor.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::error::LimitErrorKind;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

/// Largest accepted width or height.
pub const MAX_DIMENSION: u32 = 8000;
/// Most memory a decoded image may take (an 8000×8000 8-bit RGBA image is 244 MiB; the same
/// with 16-bit channels is refused before any pixel is decoded).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// The display copy fits in this square.
pub const DISPLAY_MAX: u32 = 1600;
/// The thumbnail fits in this square…
pub const THUMB_MAX: u32 = 320;
/// …and in this many bytes (the scan page's budget for it).
pub const THUMB_MAX_BYTES: usize = 30 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    UnsupportedFormat,
    #[error("the image is larger than {MAX_DIMENSION}×{MAX_DIMENSION} pixels or needs too much memory to decode")]
    TooLarge,
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

#[derive(Debug)]
pub struct Processed {
    pub width: u32,
    pub height: u32,
    pub display: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub thumb: Vec<u8>,
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_DIMENSION);
    l.max_image_height = Some(MAX_DIMENSION);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

fn map_err(e: ImageError) -> PhotoError {
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError | LimitErrorKind::InsufficientMemory => {
                PhotoError::TooLarge
            }
            _ => PhotoError::Corrupt(l.to_string()),
        },
        ImageError::Unsupported(_) => PhotoError::UnsupportedFormat,
        other => PhotoError::Corrupt(other.to_string()),
    }
}

/// Decodes `bytes` (JPEG, PNG or WebP, told apart by their signatures, never by a file name).
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, PhotoError> {
    let format = image::guess_format(bytes).map_err(|_| PhotoError::UnsupportedFormat)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(PhotoError::UnsupportedFormat);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(map_err)?;
    let (w, h) = decoder.dimensions();
    // Not every decoder enforces `max_alloc` before allocating: check the size it will need.
    if w > MAX_DIMENSION || h > MAX_DIMENSION || decoder.total_bytes() > MAX_ALLOC {
        return Err(PhotoError::TooLarge);
    }
    let orientation = decoder.orientation().map_err(map_err)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_err)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Transparent pixels over white, not black.
fn flatten(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    out
}

/// Shrinks to fit a `max` square (never enlarges). `thumbnail` samples with integer
/// arithmetic and no full-size float buffer, so a large photo costs little memory.
fn fit(img: &DynamicImage, max: u32) -> DynamicImage {
    if img.width() <= max && img.height() <= max {
        return img.clone();
    }
    img.thumbnail(max, max)
}

fn jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// Longest side of an evidence image: a document photographed on a phone stays legible.
pub const EVIDENCE_MAX: u32 = 2400;

/// An evidence image (a receipt, a licence, a letter) as a JPEG without metadata (no location,
/// no camera), upright, at most [`EVIDENCE_MAX`] on its longest side.
pub fn evidence_jpeg(bytes: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let decoded = decode(bytes)?;
    let img = flatten(&fit(&decoded, EVIDENCE_MAX));
    drop(decoded);
    jpeg(&img, 85)
}

/// The whole pipeline.
pub fn process(bytes: &[u8]) -> Result<Processed, PhotoError> {
    let decoded = decode(bytes)?;
    let display = flatten(&fit(&decoded, DISPLAY_MAX));
    drop(decoded);
    let display_jpeg = jpeg(&display, 82)?;
    // Shrink quality, then size, until the thumbnail fits its byte budget.
    let mut side = THUMB_MAX;
    loop {
        let thumb = fit(&DynamicImage::ImageRgb8(display.clone()), side).to_rgb8();
        for quality in [75u8, 60, 45] {
            let bytes = jpeg(&thumb, quality)?;
            if bytes.len() <= THUMB_MAX_BYTES {
                return Ok(Processed {
                    width: display.width(),
                    height: display.height(),
                    display: display_jpeg,
                    thumb_width: thumb.width(),
                    thumb_height: thumb.height(),
                    thumb: bytes,
                });
            }
        }
        if side <= 80 {
            return Err(PhotoError::Corrupt(
                "cannot make a small enough thumbnail".into(),
            ));
        }
        side = side * 3 / 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbaImage::from_fn(w, h, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200])
        });
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    #[test]
    fn png_becomes_jpeg_in_two_sizes() {
        let p = process(&png(2000, 1000)).unwrap();
        assert_eq!((p.width, p.height), (1600, 800));
        assert_eq!((p.thumb_width, p.thumb_height), (320, 160));
        assert!(p.thumb.len() <= THUMB_MAX_BYTES);
        assert_eq!(image::guess_format(&p.display).unwrap(), ImageFormat::Jpeg);
        assert_eq!(image::guess_format(&p.thumb).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn noisy_image_thumbnail_stays_in_budget() {
        let mut seed = 7u32;
        let img = RgbaImage::from_fn(1200, 1200, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = seed.to_le_bytes();
            Rgba([b[0], b[1], b[2], 255])
        });
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(img.as_raw(), 1200, 1200, image::ExtendedColorType::Rgba8)
            .unwrap();
        let p = process(&bytes).unwrap();
        assert!(p.thumb.len() <= THUMB_MAX_BYTES, "{}", p.thumb.len());
    }

    #[test]
    fn rejects_non_images() {
        assert_eq!(
            process(b"hello, this is text").unwrap_err(),
            PhotoError::UnsupportedFormat
        );
        assert_eq!(
            process(b"GIF89a\x01\x00\x01\x00").unwrap_err(),
            PhotoError::UnsupportedFormat
        );
        let mut truncated = png(50, 50);
        truncated.truncate(60);
        assert!(matches!(process(&truncated), Err(PhotoError::Corrupt(_))));
    }
}

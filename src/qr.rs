//! QR images of a shop code's URL: error-correction level Q (a quarter of the symbol can be
//! scuffed or covered and it still reads), quiet zone of 4 modules. CPU-bound: call it off the
//! reactor.

use image::{ImageEncoder, Luma};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Accepted PNG sizes in pixels (the side of the square).
pub const MIN_SIZE: u32 = 128;
pub const MAX_SIZE: u32 = 2048;
pub const DEFAULT_SIZE: u32 = 512;

fn code(url: &str) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::Q)
}

/// A PNG at least `size` pixels square (whole modules, so it may be slightly larger).
pub fn png(url: &str, size: u32) -> anyhow::Result<Vec<u8>> {
    let img = code(url)?
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .min_dimensions(size, size)
        .build();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::L8,
    )?;
    Ok(out)
}

/// An SVG (scales to any print size).
pub fn svg(url: &str) -> anyhow::Result<String> {
    Ok(code(url)?
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The dark modules of a QR symbol as one SVG path in module units, with the quiet zone of 4
/// included in `size` (so the path sits in a `size`×`size` square). Runs of modules in a row
/// are one rectangle.
pub fn module_path(url: &str) -> anyhow::Result<(String, usize)> {
    let code = code(url)?;
    let width = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if colors[y * width + x] == qrcode::Color::Dark {
                let start = x;
                while x < width && colors[y * width + x] == qrcode::Color::Dark {
                    x += 1;
                }
                use std::fmt::Write;
                let _ = write!(
                    d,
                    "M{} {}h{}v1h-{}z",
                    start + 4,
                    y + 4,
                    x - start,
                    x - start
                );
            } else {
                x += 1;
            }
        }
    }
    Ok((d, width + 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_reads_back() {
        let url = "https://ma.example.gov.cn/s/7K3M9QX2HT4P";
        let bytes = png(url, 300).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert!(img.width() >= 300);
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, content) = grids[0].decode().unwrap();
        assert_eq!(content, url);
        // the format bits as stored in the symbol: M=0, L=1, H=2, Q=3
        assert_eq!(meta.ecc_level, 3, "level Q");
        assert!(svg(url).unwrap().starts_with("<?xml"));
    }

    /// The poster's path, drawn module by module, reads back as the URL.
    #[test]
    fn module_path_reads_back() {
        let url = "https://ma.example.gov.cn/s/VP8P4PCM82HS";
        let (d, size) = module_path(url).unwrap();
        let scale = 8u32;
        let mut img =
            image::GrayImage::from_pixel(size as u32 * scale, size as u32 * scale, Luma([255]));
        for seg in d.split('M').filter(|s| !s.is_empty()) {
            let (xy, rest) = seg.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (u32, u32) = (x.parse().unwrap(), y.parse().unwrap());
            let run: u32 = rest.split_once('v').unwrap().0.parse().unwrap();
            for px in x * scale..(x + run) * scale {
                for py in y * scale..(y + 1) * scale {
                    img.put_pixel(px, py, Luma([0]));
                }
            }
        }
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids[0].decode().unwrap().1, url);
    }
}

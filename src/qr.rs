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
}

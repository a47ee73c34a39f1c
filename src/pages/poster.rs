//! The printable poster (A6 at 300 dpi: 1240×1748): programme title, shop name, the QR code,
//! the code in readable groups, instructions in Chinese and English, the hotline. The words
//! come from the locale files; the SVG template escapes the shop name.

use askama::Template;

use crate::i18n;
use crate::qr;

#[derive(Template)]
#[template(path = "poster.svg", escape = "html")]
pub struct Poster {
    pub title: String,
    pub name_lines: Vec<String>,
    pub qr_path: String,
    pub qr_modules: usize,
    pub qr_x: f64,
    pub qr_y: f64,
    pub module: f64,
    pub code_spaced: String,
    pub instructions_zh: String,
    pub instructions_en: String,
    pub footer: String,
}

/// Characters of a name line (CJK are wide; a Latin letter counts half).
const LINE_WIDTH: f64 = 15.0;

fn char_width(c: char) -> f64 {
    if c.is_ascii() {
        0.55
    } else {
        1.0
    }
}

/// The shop name in at most two lines; longer names end in "…".
pub fn wrap_name(name: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut width = 0.0;
    for c in name.chars() {
        if width + char_width(c) > LINE_WIDTH {
            if lines.len() == 2 {
                let last = lines.last_mut().expect("two lines");
                last.pop();
                last.push('…');
                return lines;
            }
            lines.push(String::new());
            width = 0.0;
        }
        lines.last_mut().expect("a line").push(c);
        width += char_width(c);
    }
    lines
}

/// `VP8P4PCM82HS` → `VP8P 4PCM 82HS`, as it is read out.
pub fn spaced(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Poster {
    pub fn new(name: &str, code: &str, url: &str) -> anyhow::Result<Self> {
        let (qr_path, qr_modules) = qr::module_path(url)?;
        // The symbol fills 860 px, centred, below the name.
        let side = 860.0;
        let module = side / qr_modules as f64;
        Ok(Self {
            title: i18n::text("zh", "poster.title").to_owned(),
            name_lines: wrap_name(name),
            qr_path,
            qr_modules,
            qr_x: (1240.0 - side) / 2.0,
            qr_y: 440.0,
            module,
            code_spaced: spaced(code),
            instructions_zh: i18n::text("zh", "poster.instructions").to_owned(),
            instructions_en: i18n::text("en", "poster.instructions").to_owned(),
            footer: i18n::text("zh", "poster.footer").to_owned(),
        })
    }

    pub fn svg(&self) -> anyhow::Result<String> {
        Ok(self.render()?)
    }
}

/// Fonts for rasterising posters: the system's (Debian: `fonts-noto-cjk`), plus the file in
/// `POSTER_FONT` if set. Loaded once.
static FONTS: std::sync::LazyLock<std::sync::Arc<resvg::usvg::fontdb::Database>> =
    std::sync::LazyLock::new(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_system_fonts();
        if let Ok(path) = std::env::var("POSTER_FONT") {
            if let Err(e) = db.load_font_file(&path) {
                tracing::warn!(path, error = %e, "POSTER_FONT cannot be loaded");
            }
        }
        std::sync::Arc::new(db)
    });

/// The families the poster asks for, in order; one must be installed for Chinese to render.
pub const CJK_FAMILIES: &[&str] = &[
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
];

/// The installed CJK family the PNG will use, if any.
pub fn cjk_family() -> Option<&'static str> {
    CJK_FAMILIES.iter().copied().find(|want| {
        FONTS
            .faces()
            .any(|f| f.families.iter().any(|(name, _)| name == want))
    })
}

/// A6 (105 × 148 mm) at 300 dpi.
const WIDTH_PX: u32 = 1240;
const HEIGHT_PX: u32 = 1748;

impl Poster {
    /// The poster as a 1240×1748 PNG (A6 at 300 dpi). Fails rather than print boxes when no
    /// font with Chinese glyphs is installed.
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        let family = cjk_family().ok_or_else(|| {
            anyhow::anyhow!(
                "no font with Chinese glyphs: install fonts-noto-cjk or set POSTER_FONT to a \
                 Noto Sans CJK / Source Han Sans file"
            )
        })?;
        let svg = self.svg()?;
        let options = resvg::usvg::Options {
            fontdb: FONTS.clone(),
            font_family: family.to_owned(),
            ..Default::default()
        };
        let tree = resvg::usvg::Tree::from_str(&svg, &options)?;
        let mut pixmap = resvg::tiny_skia::Pixmap::new(WIDTH_PX, HEIGHT_PX)
            .ok_or_else(|| anyhow::anyhow!("cannot allocate the poster bitmap"))?;
        // resvg draws an SVG at its own size: 105 mm at the CSS 96 dpi is 397 px. Scale it to
        // the 300 dpi canvas, on white paper (transparency prints as nothing, and turns black
        // in tools that drop the alpha channel).
        pixmap.fill(resvg::tiny_skia::Color::WHITE);
        let size = tree.size();
        let scale = resvg::tiny_skia::Transform::from_scale(
            WIDTH_PX as f32 / size.width(),
            HEIGHT_PX as f32 / size.height(),
        );
        resvg::render(&tree, scale, &mut pixmap.as_mut());
        Ok(pixmap.encode_png()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_wrap_and_truncate() {
        assert_eq!(wrap_name("藏家饭店"), ["藏家饭店"]);
        let long = "阿坝藏族羌族自治州马尔康市达萨街藏家特色牦牛肉火锅总店旗舰店第一分店";
        let lines = wrap_name(long);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert_eq!(spaced("VP8P4PCM82HS"), "VP8P 4PCM 82HS");
    }

    /// The PNG has the code (decodes to the URL) and Chinese glyphs (white title text in the
    /// red band, dark text in the instruction line), not blank space where fonts were missing.
    #[test]
    fn png_has_the_code_and_the_chinese_text() {
        let url = "https://ma.example.gov.cn/s/VP8P4PCM82HS";
        let png = Poster::new("壤塘县藏家饭店", "VP8P4PCM82HS", url)
            .unwrap()
            .png()
            .expect("a CJK font is installed (fonts-noto-cjk)");
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (1240, 1748));
        let share = |y0: u32, y1: u32, f: &dyn Fn(&image::Rgb<u8>) -> bool| {
            let mut n = 0u32;
            for y in y0..y1 {
                for x in 0..img.width() {
                    if f(img.get_pixel(x, y)) {
                        n += 1;
                    }
                }
            }
            n as f64 / ((y1 - y0) * img.width()) as f64
        };
        let white_in_band = share(60, 170, &|p| p[0] > 220 && p[1] > 220 && p[2] > 220);
        assert!(white_in_band > 0.03, "title glyphs: {white_in_band}");
        let dark_in_line = share(1440, 1510, &|p| p[0] < 80 && p[1] < 80 && p[2] < 80);
        assert!(dark_in_line > 0.02, "instruction glyphs: {dark_in_line}");
        let gray = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(gray);
        let grids = prepared.detect_grids();
        assert_eq!(grids[0].decode().unwrap().1, url);
    }

    /// The poster fills its canvas at 300 dpi, on opaque white (not the top-left corner at
    /// 96 dpi with transparency around it, which turns black once converted to RGB), and the
    /// code is printed large enough to scan from across a counter.
    #[test]
    fn png_fills_the_a6_canvas_on_white_at_300_dpi() {
        use rqrr::BitGrid;
        let url = "https://ma.example.gov.cn/s/VP8P4PCM82HS";
        let png = Poster::new("壤塘县藏家饭店", "VP8P4PCM82HS", url)
            .unwrap()
            .png()
            .expect("a CJK font is installed (fonts-noto-cjk)");
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!((img.width(), img.height()), (1240, 1748));
        let transparent = img.pixels().filter(|p| p[3] != 255).count();
        assert_eq!(transparent, 0, "every pixel opaque");
        let corner = *img.get_pixel(1239, 1747);
        assert_eq!(
            corner,
            image::Rgba([255, 255, 255, 255]),
            "white background"
        );
        // The bounding box of everything that is not white paper.
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p[0] < 250 || p[1] < 250 || p[2] < 250 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
        assert!(x0 == 0 && x1 == 1239, "content spans the width: {x0}..{x1}");
        assert!(
            y0 == 0 && y1 > 1748 * 9 / 10,
            "content spans the height: {y0}..{y1}"
        );
        let gray = image::DynamicImage::ImageRgba8(img).to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(gray);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, url);
        let [tl, tr, ..] = grids[0].bounds;
        let module = (tr.x - tl.x) as f64 / grids[0].grid.size() as f64;
        assert!(module >= 8.0, "modules of {module:.1} px");
    }

    #[test]
    fn svg_escapes_and_holds_the_code() {
        let p = Poster::new(
            "<b>&\"店\"</b>",
            "VP8P4PCM82HS",
            "https://x.cn/s/VP8P4PCM82HS",
        )
        .unwrap();
        let svg = p.svg().unwrap();
        assert!(svg.contains("放心舒心消费 · 一店一码"));
        assert!(svg.contains("VP8P 4PCM 82HS"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&#60;b&#62;") || svg.contains("&lt;b&gt;"));
    }
}

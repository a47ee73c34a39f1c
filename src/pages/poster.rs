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

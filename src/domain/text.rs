//! Text normalisation for data typed by people or exported from other departments' systems:
//! full-width ASCII (ＡＢＣ１２３), ideographic spaces and runs of whitespace.

/// Full-width ASCII variants (U+FF01–U+FF5E) to ASCII, the ideographic space (U+3000) and
/// no-break space to a plain space.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' | '\u{00A0}' => ' ',
            c => c,
        })
        .collect()
}

/// `fold_width`, then trim and collapse internal whitespace runs to one space.
pub fn clean(s: &str) -> String {
    let folded = fold_width(s);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `clean`, with the empty string as `None`.
pub fn clean_opt(s: &str) -> Option<String> {
    let c = clean(s);
    (!c.is_empty()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_and_spaces() {
        assert_eq!(fold_width("９１５１３２"), "915132");
        assert_eq!(fold_width("ＡＢｃ－"), "ABc-");
        assert_eq!(clean("\u{3000} 阿坝  饭店\t\u{3000}"), "阿坝 饭店");
        assert_eq!(clean_opt("  \u{3000}"), None);
        assert_eq!(clean("汉字不变"), "汉字不变");
    }
}

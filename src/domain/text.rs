//! Text as people type it.
//!
//! Two kinds of text, two rules:
//! - **Identifiers** (USCC, phone numbers, codes, numbers, dates, enum words, header names) are
//!   folded: full-width ASCII (ＡＢＣ１２３) becomes ASCII, because the same code typed on a
//!   Chinese IME must compare equal. [`fold_width`], [`clean_ident`].
//! - **Free text** (names, addresses, scopes, summaries, notes, titles) is trimmed, its
//!   whitespace runs collapsed and put in Unicode NFC, and otherwise kept as typed: full-width
//!   punctuation （，；：） is correct Chinese, not noise. [`clean_text`], [`clean_multiline`].
//!
//! Control characters are refused, not cleaned: PostgreSQL cannot store NUL, and the others
//! are never typed on purpose. [`control_char_error`] names the field.

use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// Full-width ASCII variants (U+FF01–U+FF5E) to ASCII, the ideographic space (U+3000) and
/// no-break space to a plain space. For identifiers only.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' | '\u{00A0}' => ' ',
            c => c,
        })
        .collect()
}

fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// An identifier as typed: `fold_width`, trimmed, internal whitespace runs collapsed.
pub fn clean_ident(s: &str) -> String {
    collapse_whitespace(&fold_width(s))
}

/// One line of free text: NFC, trimmed, whitespace runs (newlines included) collapsed to one
/// space; every other character kept as typed.
pub fn clean_text(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    collapse_whitespace(&nfc)
}

/// `clean_text`, with the empty string as `None`.
pub fn clean_text_opt(s: &str) -> Option<String> {
    let c = clean_text(s);
    (!c.is_empty()).then_some(c)
}

/// Multi-line free text: NFC, each line's whitespace collapsed, runs of blank lines collapsed
/// to one, no leading or trailing blank lines; every other character kept as typed.
pub fn clean_multiline(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    let mut out: Vec<String> = Vec::new();
    for line in nfc.lines().map(collapse_whitespace) {
        if line.is_empty() && out.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// A character that no field accepts: C0 controls but tab, newline and carriage return (which
/// whitespace handling deals with), DEL, C1 controls, and noncharacters that cannot be stored.
pub fn is_refused_char(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => false,
        c if c.is_control() => true,
        '\u{FFFE}' | '\u{FFFF}' => true,
        _ => false,
    }
}

/// The rule every text input obeys, whatever its field: no control characters.
pub fn control_char_error(field: &str, value: &str) -> Option<FieldError> {
    let bad = value.chars().find(|c| is_refused_char(*c))?;
    Some(FieldError::new(
        field,
        "control_character",
        format!(
            "{field} contains the control character U+{:04X}, which is not allowed",
            bad as u32
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identifiers_fold_width() {
        assert_eq!(fold_width("９１５１３２"), "915132");
        assert_eq!(fold_width("ＡＢｃ－"), "ABc-");
        assert_eq!(clean_ident("\u{3000} ５１３２  ３０\t"), "5132 30");
    }

    #[test]
    fn free_text_keeps_chinese_punctuation() {
        let name = "马尔康安康大药房（民族街店）";
        assert_eq!(clean_text(name), name);
        assert_eq!(
            clean_text("  药品零售；医疗器械销售，保健食品。 "),
            "药品零售；医疗器械销售，保健食品。"
        );
        assert_eq!(clean_text("\u{3000} 阿坝  饭店\t\u{3000}"), "阿坝 饭店");
        assert_eq!(clean_text("a\nb"), "a b");
        assert_eq!(clean_text_opt("  \u{3000}"), None);
        // NFC: a decomposed é becomes one code point.
        assert_eq!(clean_text("Cafe\u{301}"), "Caf\u{e9}");
        assert_eq!(
            clean_multiline(" 第一行，\n\n\n 第二行；  \n\n"),
            "第一行，\n\n第二行；"
        );
    }

    #[test]
    fn control_characters_are_named() {
        let e = control_char_error("name", "阿坝\u{0}饭店").unwrap();
        assert_eq!((e.field.as_str(), e.code), ("name", "control_character"));
        assert!(e.message.contains("U+0000"));
        assert!(control_char_error("note", "一行\n二行\t").is_none());
        assert!(control_char_error("note", "bell\u{7}").is_some());
        assert!(control_char_error("note", "c1\u{85}").is_some());
    }

    fn cjk_text() -> impl Strategy<Value = String> {
        // CJK ideographs, full-width punctuation and forms, ASCII letters and single spaces.
        let piece = prop_oneof![
            proptest::char::range('\u{4E00}', '\u{9FFF}').prop_map(String::from),
            proptest::sample::select(vec![
                "，",
                "。",
                "；",
                "：",
                "（",
                "）",
                "、",
                "？",
                "！",
                "“",
                "”",
                "《",
                "》",
                "【",
                "】",
                "——",
                "…",
                "ＡＢＣ",
                "１２３",
                "％",
                "／",
            ])
            .prop_map(String::from),
            "[a-zA-Z0-9]{1,3}",
        ];
        proptest::collection::vec((piece, proptest::bool::weighted(0.2)), 1..30).prop_map(|v| {
            let mut s = String::new();
            for (p, space) in v {
                s.push_str(&p);
                if space {
                    s.push(' ');
                }
            }
            s.trim().to_string()
        })
    }

    proptest! {
        #[test]
        fn clean_text_is_identity_on_clean_cjk_text(s in cjk_text()) {
            prop_assert_eq!(clean_text(&s), s.clone());
            prop_assert_eq!(clean_multiline(&s), s);
        }
    }
}

//! Words shown to people, kept as data: one JSON file per language in `assets/locales/`
//! (flat `key → text`, `{name}` placeholders). Chinese is the reference language and the
//! fallback for a key another language lacks. Adding a language (Tibetan, `bo`) is a new file
//! and one line in `SOURCES`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The languages the product speaks, the first being the default and the fallback.
const SOURCES: &[(&str, &str)] = &[
    ("zh", include_str!("../assets/locales/zh.json")),
    ("en", include_str!("../assets/locales/en.json")),
];

static CATALOGS: LazyLock<Vec<(&'static str, HashMap<String, String>)>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, text)| {
            let map: HashMap<String, String> = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("assets/locales/{lang}.json is not valid: {e}"));
            (*lang, map)
        })
        .collect()
});

/// The language codes with a catalogue, default first.
pub fn languages() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|(l, _)| *l)
}

/// The text for `key` in `lang`, falling back to the default language, then to the key itself
/// (so a missing word shows up as itself rather than as nothing).
pub fn text<'a>(lang: &str, key: &'a str) -> &'a str {
    let cats = &*CATALOGS;
    cats.iter()
        .find(|(l, _)| *l == lang)
        .and_then(|(_, m)| m.get(key))
        .or_else(|| cats[0].1.get(key))
        .map(String::as_str)
        .unwrap_or(key)
}

/// The text for `key` in `lang` (or the default language), if a catalogue has it.
pub fn lookup(lang: &str, key: &str) -> Option<&'static str> {
    let cats = &*CATALOGS;
    cats.iter()
        .find(|(l, _)| *l == lang)
        .and_then(|(_, m)| m.get(key))
        .or_else(|| cats[0].1.get(key))
        .map(String::as_str)
}

/// `text` with `{name}` placeholders filled in.
pub fn format(lang: &str, key: &str, args: &[(&str, &str)]) -> String {
    let mut out = text(lang, key).to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A message in every language, as the API returns it: `{"zh": "…", "en": "…"}`.
pub fn all(key: &str, args: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    languages()
        .map(|l| (l.to_owned(), format(l, key, args)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_of_the_default() {
        let cats = &*CATALOGS;
        let (_, reference) = &cats[0];
        for (lang, map) in &cats[1..] {
            let mut missing: Vec<_> = reference.keys().filter(|k| !map.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        }
    }

    #[test]
    fn lookup_and_fallback() {
        assert_eq!(text("zh", "category.pharmacy"), "药店");
        assert_eq!(text("en", "category.pharmacy"), "Pharmacy");
        assert_eq!(text("bo", "category.pharmacy"), "药店");
        assert_eq!(text("en", "no.such.key"), "no.such.key");
        assert_eq!(
            format(
                "en",
                "reason.recent_penalty",
                &[("date", "2026-01-02"), ("department", "X")]
            ),
            "Administrative penalty in the last 12 months (2026-01-02, X)"
        );
        assert_eq!(all("status.open", &[]).len(), 2);
    }
}

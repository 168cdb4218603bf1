//! The reader's language and the interface's words.
//!
//! Words live in Fluent message files, `locales/<tag>.ftl`, one per
//! language, which a translator edits without touching code; they are
//! compiled into the binary (no files to deploy). A word missing from one
//! language falls back to Japanese, then English: a page never shows a
//! message id. A unit test checks that every file has every message.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language the interface speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// 日本語 (the default).
    Ja,
    /// English.
    En,
    /// 简体中文.
    ZhHans,
    /// 繁體中文.
    ZhHant,
    /// 한국어.
    Ko,
}

/// Every language, in the order the switcher lists them.
pub const LANGS: [Lang; 5] = [Lang::Ja, Lang::En, Lang::ZhHans, Lang::ZhHant, Lang::Ko];

const SOURCES: [(Lang, &str); 5] = [
    (Lang::Ja, include_str!("../locales/ja.ftl")),
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::ZhHans, include_str!("../locales/zh-Hans.ftl")),
    (Lang::ZhHant, include_str!("../locales/zh-Hant.ftl")),
    (Lang::Ko, include_str!("../locales/ko.ftl")),
];

impl Lang {
    /// The BCP 47 tag (`lang` attributes, `?lang=`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
            Lang::ZhHans => "zh-Hans",
            Lang::ZhHant => "zh-Hant",
            Lang::Ko => "ko",
        }
    }

    /// The language's own name (the switcher).
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
            Lang::ZhHans => "简体中文",
            Lang::ZhHant => "繁體中文",
            Lang::Ko => "한국어",
        }
    }

    /// The interface language for a BCP 47 tag, if it speaks one close
    /// enough (`zh-TW` reads Traditional, `zh-CN` and `zh` Simplified).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let primary = t.split(['-', '_']).next().unwrap_or("");
        match primary {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            "zh" => {
                let traditional = ["hant", "tw", "hk", "mo"]
                    .iter()
                    .any(|s| t.split(['-', '_']).skip(1).any(|p| p == *s));
                Some(if traditional {
                    Lang::ZhHant
                } else {
                    Lang::ZhHans
                })
            }
            _ => None,
        }
    }

    /// The language to answer in: `?lang=` when it names one, else the
    /// best of `Accept-Language` by weight, else Japanese.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = query.and_then(Lang::from_tag) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::from_tag(tag) {
                if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                    best = Some((q, l));
                }
            }
        }
        best.map_or(Lang::Ja, |(_, l)| l)
    }
}

struct Bundles(Vec<(Lang, FluentBundle<FluentResource>)>);

fn bundles() -> &'static Bundles {
    static B: OnceLock<Bundles> = OnceLock::new();
    B.get_or_init(|| {
        Bundles(
            SOURCES
                .iter()
                .map(|(lang, src)| {
                    let res = FluentResource::try_new((*src).to_owned())
                        .unwrap_or_else(|(_, errs)| panic!("{}.ftl: {errs:?}", lang.tag()));
                    let id = lang.tag().parse().expect("language tag");
                    let mut b = FluentBundle::new_concurrent(vec![id]);
                    // Pages carry `lang` and `dir`; isolation marks would
                    // only clutter copied text.
                    b.set_use_isolating(false);
                    b.add_resource(res).expect("unique message ids");
                    (*lang, b)
                })
                .collect(),
        )
    })
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    &bundles()
        .0
        .iter()
        .find(|(l, _)| *l == lang)
        .expect("every language has a bundle")
        .1
}

/// The interface's words in one language.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub Lang);

impl Words {
    /// Message `id`.
    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// Message `id` with arguments (`{ $name }` in the file).
    pub fn with(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, v.clone());
        }
        for lang in [self.0, Lang::Ja, Lang::En] {
            let b = bundle(lang);
            if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let s = b.format_pattern(pattern, Some(&fa), &mut errors);
                if errors.is_empty() {
                    return s.into_owned();
                }
                tracing::warn!(id, lang = lang.tag(), ?errors, "message did not format");
            }
        }
        id.to_owned()
    }

    /// Whether message `id` exists (in this language or a fallback).
    pub fn has(&self, id: &str) -> bool {
        [self.0, Lang::Ja, Lang::En]
            .into_iter()
            .any(|l| bundle(l).get_message(id).is_some())
    }

    /// Message `id` with one number argument `n`.
    pub fn n(&self, id: &str, n: i64) -> String {
        self.with(id, &[("n", FluentValue::from(n))])
    }

    /// Message `id` with one text argument `name`.
    pub fn named(&self, id: &str, name: &str) -> String {
        self.with(id, &[("name", FluentValue::from(name))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(src: &str) -> BTreeSet<String> {
        let res = FluentResource::try_new(src.to_owned()).expect("parses");
        res.entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_has_every_message() {
        let ja = ids(SOURCES[0].1);
        assert!(ja.len() > 50, "the Japanese file holds the interface");
        for (lang, src) in &SOURCES[1..] {
            let other = ids(src);
            let missing: Vec<_> = ja.difference(&other).collect();
            let extra: Vec<_> = other.difference(&ja).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}.ftl: missing {missing:?}, not in ja.ftl {extra:?}",
                lang.tag()
            );
        }
    }

    /// A message left in English in another language's file shows
    /// English to its readers (the staff pages and aid threads were, in
    /// Korean and Chinese). Only names that are the same in every
    /// language may be.
    #[test]
    fn no_language_shows_english_words_left_untranslated() {
        const SAME_EVERYWHERE: [&str; 2] = ["nav-api", "prov-json"];
        // Each message's text as written, its arguments as `{}`.
        fn texts(src: &str) -> std::collections::BTreeMap<String, String> {
            use fluent_syntax::ast::{Entry, PatternElement};
            let res = FluentResource::try_new(src.to_owned()).expect("parses");
            res.entries()
                .filter_map(|e| match e {
                    Entry::Message(m) => {
                        let text =
                            m.value
                                .as_ref()?
                                .elements
                                .iter()
                                .fold(String::new(), |mut out, el| {
                                    match el {
                                        PatternElement::TextElement { value } => {
                                            out.push_str(value)
                                        }
                                        PatternElement::Placeable { .. } => out.push_str("{}"),
                                    }
                                    out
                                });
                        Some((m.id.name.to_owned(), text))
                    }
                    _ => None,
                })
                .collect()
        }
        let english = texts(SOURCES[1].1);
        for (lang, src) in SOURCES.iter().filter(|(l, _)| *l != Lang::En) {
            let theirs = texts(src);
            let left: Vec<&String> = english
                .iter()
                .filter(|(id, _)| !SAME_EVERYWHERE.contains(&id.as_str()))
                .filter(|(id, text)| {
                    let has_words = text
                        .split(|c: char| !c.is_ascii_alphabetic())
                        .any(|w| w.len() >= 3);
                    has_words && theirs.get(*id) == Some(*text)
                })
                .map(|(id, _)| id)
                .collect();
            assert!(
                left.is_empty(),
                "{}: in English still: {left:?}",
                lang.tag()
            );
        }
    }

    #[test]
    fn messages_format_with_arguments_in_each_language() {
        for l in LANGS {
            let s = Words(l).n("board-age-hours", 5);
            assert!(s.contains('5'), "{}: {s}", l.tag());
            assert_ne!(Words(l).get("nav-calendar"), "nav-calendar");
        }
        assert_eq!(Words(Lang::En).get("no-such-message"), "no-such-message");
    }

    #[test]
    fn negotiation_prefers_the_query_then_weights() {
        assert_eq!(Lang::negotiate(Some("en"), Some("ko")), Lang::En);
        assert_eq!(Lang::negotiate(Some("xx"), Some("ko")), Lang::Ko);
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=1, en;q=0.5, zh-TW;q=0.8")),
            Lang::ZhHant
        );
        assert_eq!(Lang::negotiate(None, Some("zh-CN")), Lang::ZhHans);
        assert_eq!(Lang::negotiate(None, Some("de, fr")), Lang::Ja);
        assert_eq!(Lang::negotiate(None, None), Lang::Ja);
        assert_eq!(Lang::negotiate(None, Some("en;q=0")), Lang::Ja);
    }
}

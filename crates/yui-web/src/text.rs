//! Content in the reader's language: the text chosen from an entry's
//! languages, with the tag it is written in (each text carries its own
//! `lang` attribute, so a screen reader reads a Japanese title on an
//! English page in Japanese).

use yui_core::LocalizedText;

use crate::i18n::Lang;

/// One text and the language it is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Its BCP 47 tag (empty if unknown).
    pub lang: String,
}

impl Text {
    /// The text of `t` for a reader of `lang` (with fallback), or empty.
    pub fn of(t: &LocalizedText, lang: Lang) -> Text {
        let Some(s) = t.get(lang.tag()) else {
            return Text::default();
        };
        let tag =
            t.0.iter()
                .find(|(_, v)| v.as_str() == s)
                .map(|(l, _)| l.clone())
                .unwrap_or_default();
        Text {
            text: s.to_owned(),
            lang: tag,
        }
    }

    /// Plain text, in the interface's language.
    pub fn plain(s: impl Into<String>, lang: Lang) -> Text {
        Text {
            text: s.into(),
            lang: lang.tag().to_owned(),
        }
    }

    /// True if there is no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The wire name of an enum value (`disaster_prevention`), the key of its
/// message (`area-disaster_prevention`) and its query parameter value.
pub fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Characters of `s` up to `max`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// A query string from pairs, empty values left out: `?a=1&b=2` or "".
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", s.finish())
    } else {
        String::new()
    }
}

/// Percent-encodes one path segment (object ids may hold any character).
pub fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

//! Text analysis for search, without a dictionary: NFKC, lower case,
//! overlapping bigrams over runs of Han and kana (Japanese and Chinese have
//! no spaces between words), and whole words for Latin, Hangul and digits.
//!
//! A bigram index finds a word inside a sentence (老人ホーム in
//! 特別養護老人ホーム) when the query's bigrams are adjacent in the text,
//! which is a phrase query over positions. Each CJK run also ends with its
//! last character as a token of its own, so a one-character query (町) is
//! the term itself (the run's end) or a bigram it begins.
//!
//! Tokens keep the byte offsets of the *original* text, so snippets mark
//! what the author wrote, not its normalised form.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::UnicodeNormalization;

/// The name the analyzer is registered under in the index.
pub const NAME: &str = "yui_cjk";

/// Longest word token kept, in bytes (longer words are cut).
const MAX_WORD_BYTES: usize = 64;

/// Normalises text for comparisons: NFKC, lower case.
pub fn normalize(s: &str) -> String {
    s.nfkc().flat_map(char::to_lowercase).collect()
}

/// A normalised character and the original bytes it came from.
#[derive(Debug, Clone, Copy)]
struct Norm {
    c: char,
    from: usize,
    to: usize,
}

/// Whether `c` starts a new cluster: a character whose compatibility
/// decomposition begins with a combining mark (the half-width voiced mark
/// ﾞ, a combining acute) joins the one before it, so NFKC can compose
/// ｶﾞ into ガ.
fn starts_cluster(c: char) -> bool {
    let mut first = None;
    decompose_compatible(c, |d| {
        if first.is_none() {
            first = Some(d);
        }
    });
    first.is_none_or(|d| canonical_combining_class(d) == 0)
}

fn normalized(text: &str) -> Vec<Norm> {
    let mut out = Vec::with_capacity(text.len());
    let mut start = 0;
    let flush = |from: usize, to: usize, out: &mut Vec<Norm>| {
        if from < to {
            for c in text[from..to].nfkc().flat_map(char::to_lowercase) {
                out.push(Norm { c, from, to });
            }
        }
    };
    for (i, c) in text.char_indices() {
        if i > start && starts_cluster(c) {
            flush(start, i, &mut out);
            start = i;
        }
    }
    flush(start, text.len(), &mut out);
    out
}

/// Han ideographs, kana and the marks that live inside Japanese words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005..=0x3007 // 々 〆 〇
        | 0x3041..=0x3096 // hiragana
        | 0x309D..=0x309F
        | 0x30A1..=0x30FA // katakana
        | 0x30FC..=0x30FF // ー and iteration marks
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Cjk,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

/// One token with its run, for queries: tokens of one run are adjacent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The token text.
    pub text: String,
    /// Index of the run it belongs to.
    pub run: usize,
    /// A CJK run's final character (not a bigram).
    pub tail: bool,
    /// The whole run is this one CJK character.
    pub single: bool,
    /// A bigram or tail of a CJK run (else a word).
    pub cjk: bool,
}

/// Every token of `text`, in order: `(token, original byte range, run, tail, single)`.
fn tokens(text: &str) -> Vec<(Piece, usize, usize)> {
    let chars = normalized(text);
    let mut out = Vec::new();
    let mut i = 0;
    let mut run = 0;
    while i < chars.len() {
        let k = class(chars[i].c);
        let mut j = i + 1;
        while j < chars.len() && class(chars[j].c) == k {
            j += 1;
        }
        match k {
            Class::Cjk => {
                let span = &chars[i..j];
                for w in span.windows(2) {
                    out.push((
                        Piece {
                            text: [w[0].c, w[1].c].iter().collect(),
                            run,
                            tail: false,
                            single: false,
                            cjk: true,
                        },
                        w[0].from,
                        w[1].to,
                    ));
                }
                let last = span[span.len() - 1];
                out.push((
                    Piece {
                        text: last.c.to_string(),
                        run,
                        tail: true,
                        single: span.len() == 1,
                        cjk: true,
                    },
                    last.from,
                    last.to,
                ));
                run += 1;
            }
            Class::Word => {
                let mut word = String::new();
                for n in &chars[i..j] {
                    if word.len() + n.c.len_utf8() > MAX_WORD_BYTES {
                        break;
                    }
                    word.push(n.c);
                }
                out.push((
                    Piece {
                        text: word,
                        run,
                        tail: false,
                        single: false,
                        cjk: false,
                    },
                    chars[i].from,
                    chars[j - 1].to,
                ));
                run += 1;
            }
            Class::Other => {}
        }
        i = j;
    }
    out
}

/// The tokens of a query clause, in order.
pub fn pieces(text: &str) -> Vec<Piece> {
    tokens(text).into_iter().map(|(p, _, _)| p).collect()
}

/// The tantivy tokenizer (see the module documentation).
#[derive(Clone, Default)]
pub struct CjkTokenizer;

/// Its token stream.
pub struct CjkStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for CjkTokenizer {
    type TokenStream<'a> = CjkStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkStream {
        let tokens: Vec<Token> = tokens(text)
            .into_iter()
            .enumerate()
            .map(|(position, (p, from, to))| Token {
                offset_from: from,
                offset_to: to,
                position,
                text: p.text,
                position_length: 1,
            })
            .collect();
        CjkStream {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

impl TokenStream for CjkStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(t) => {
                self.current = t;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        pieces(s).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn japanese_runs_become_bigrams_and_a_tail() {
        assert_eq!(texts("老人ホーム"), ["老人", "人ホ", "ホー", "ーム", "ム"]);
        assert_eq!(texts("町"), ["町"]);
        assert!(pieces("町")[0].single);
    }

    #[test]
    fn latin_and_hangul_are_words_lower_cased() {
        assert_eq!(texts("Winter Cities 2027"), ["winter", "cities", "2027"]);
        assert_eq!(texts("자매 도시"), ["자매", "도시"]);
    }

    #[test]
    fn width_variants_normalise_and_offsets_stay_original() {
        assert_eq!(texts("ｶﾞｲﾄﾞ"), texts("ガイド"));
        assert_eq!(texts("ＡＢＣ"), ["abc"]);
        let text = "ｶﾞｲﾄﾞです";
        for (p, from, to) in tokens(text) {
            assert!(text.is_char_boundary(from) && text.is_char_boundary(to));
            assert!(from < to, "{p:?}");
        }
        let (_, from, to) = &tokens(text)[0];
        assert_eq!(&text[*from..*to], "ｶﾞｲ");
    }

    #[test]
    fn separators_and_controls_split_runs() {
        let p = pieces("防災\u{0}訓練、合同");
        let runs: Vec<usize> = p.iter().map(|p| p.run).collect();
        assert_eq!(runs, [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn any_input_tokenizes_without_panic() {
        let long = "あ".repeat(10_000) + &"x".repeat(10_000);
        assert!(pieces(&long).iter().all(|p| p.text.len() <= MAX_WORD_BYTES));
        for s in ["\"", "((", "\u{FF9E}", "\u{0301}x", "𠮷野家", "\u{10FFFF}"] {
            let _ = pieces(s);
        }
    }
}

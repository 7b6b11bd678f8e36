//! Tokenization of free text (titles, descriptions, tags) for bag-of-words features.
//!
//! Deliberately simple and language-light: Unicode-aware lowercasing, a split on every
//! character that is not alphanumeric (so `"Noise-cancelling"` gives `noise`, `cancelling`, and
//! `"Café"` stays one token), a minimum token length in characters, and an optional small
//! English stop-word list. No stemming: catalog text is short and stems would merge
//! distinct product words (`cameras` and `camera` stay apart; TF-IDF copes).

/// The English stop words dropped by [`StopWords::English`]: function words that appear in
/// nearly every description and carry no topic. Sorted, for binary search.
pub const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "do", "does", "each", "for", "from", "had", "has", "have", "he",
    "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "more", "most", "my",
    "no", "not", "of", "on", "one", "or", "our", "out", "over", "she", "so", "some", "such",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "up", "us", "very", "was", "we", "were", "what", "when", "which", "who", "will", "with",
    "would", "you", "your",
];

/// Which stop words to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWords {
    /// Keep every token.
    None,
    /// Drop [`ENGLISH_STOP_WORDS`].
    English,
}

/// Splits text into lowercase tokens (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokenizer {
    /// Shortest token kept, in characters (`1` keeps everything).
    pub min_len: usize,
    /// Stop words dropped after lowercasing.
    pub stop_words: StopWords,
}

impl Default for Tokenizer {
    /// Tokens of at least two characters, English stop words dropped.
    fn default() -> Self {
        Self {
            min_len: 2,
            stop_words: StopWords::English,
        }
    }
}

impl Tokenizer {
    /// Append the tokens of `text` to `out`, in order of appearance (repeats kept: they are the
    /// term frequencies).
    pub fn tokenize_into(&self, text: &str, out: &mut Vec<String>) {
        for raw in text.split(|c: char| !c.is_alphanumeric()) {
            if raw.is_empty() {
                continue;
            }
            let token = raw.to_lowercase();
            if token.chars().count() < self.min_len {
                continue;
            }
            if self.stop_words == StopWords::English
                && ENGLISH_STOP_WORDS.binary_search(&token.as_str()).is_ok()
            {
                continue;
            }
            out.push(token);
        }
    }

    /// The tokens of `text`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.tokenize_into(text, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stop_word_list_is_sorted_and_lowercase() {
        assert!(ENGLISH_STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(ENGLISH_STOP_WORDS
            .iter()
            .all(|w| w.to_lowercase() == *w && !w.is_empty()));
    }

    #[test]
    fn splits_lowercases_and_drops_stop_words_and_short_tokens() {
        let t = Tokenizer::default();
        assert_eq!(
            t.tokenize("The Noise-cancelling HEADPHONES, with USB-C & a 3.5mm jack!"),
            vec!["noise", "cancelling", "headphones", "usb", "5mm", "jack"]
        );
    }

    #[test]
    fn is_unicode_aware() {
        let t = Tokenizer::default();
        assert_eq!(
            t.tokenize("Crème BRÛLÉE für Straße—ÉTÉ 東京タワー"),
            vec!["crème", "brûlée", "für", "straße", "été", "東京タワー"]
        );
        // Length counts characters, not bytes: "été" (5 bytes) has 3.
        let t3 = Tokenizer {
            min_len: 3,
            stop_words: StopWords::None,
        };
        assert_eq!(t3.tokenize("été au lac"), vec!["été", "lac"]);
    }

    #[test]
    fn keeps_everything_when_asked() {
        let t = Tokenizer {
            min_len: 1,
            stop_words: StopWords::None,
        };
        assert_eq!(
            t.tokenize("a cat and the hat"),
            vec!["a", "cat", "and", "the", "hat"]
        );
        assert!(t.tokenize("  --  ").is_empty());
    }

    proptest! {
        #[test]
        fn tokens_are_lowercase_unseparated_and_long_enough(text in "\\PC{0,60}", min_len in 1usize..4) {
            let t = Tokenizer { min_len, stop_words: StopWords::English };
            for token in t.tokenize(&text) {
                // Lowercasing may add combining marks (`İ` → `i̇`), never separators.
                prop_assert!(!token.chars().any(|c| c.is_whitespace() || c.is_ascii_punctuation()));
                prop_assert!(token.chars().count() >= min_len);
                prop_assert_eq!(token.to_lowercase(), token.clone());
                prop_assert!(ENGLISH_STOP_WORDS.binary_search(&token.as_str()).is_err());
            }
        }
    }
}

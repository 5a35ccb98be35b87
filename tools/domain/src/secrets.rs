//! Secrets kept out of what the server writes: the values the server itself holds (so a trainer
//! that obtains one cannot echo it into a log an agent reads) and values that look like
//! credentials whoever sent them (JWTs, `sk-` API keys, AWS access key ids).

use std::sync::Arc;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shortest held value that is redacted: shorter ones would blank out ordinary words.
const MIN_HELD_LEN: usize = 8;

/// The secret values this server holds. Cheap to clone.
#[derive(Clone, Default)]
pub struct Secrets {
    held: Arc<[String]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} held)", self.held.len())
    }
}

impl Secrets {
    /// The given values, longest first (so a secret that contains another is replaced whole);
    /// empty and very short ones are ignored.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut held: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_HELD_LEN)
            .collect();
        held.sort_by_key(|v| std::cmp::Reverse(v.len()));
        held.dedup();
        Self { held: held.into() }
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// `text` with every held value and every credential-looking value replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_credentials(text);
        for secret in self.held.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `text` with credential-looking words replaced: JWTs (`eyJ…` in three dot-separated parts),
/// `sk-` API keys and AWS access key ids (`AKIA`/`ASIA` and 16 more capitals or digits).
pub fn redact_credentials(text: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_word) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_word(c)).unwrap_or(tail.len());
        // A sentence's full stop after a word is not part of it.
        let word = tail[..end].trim_end_matches('.');
        let end = word.len().max(1).min(end);
        let word = &tail[..end];
        out.push_str(if looks_like_credential(word) {
            REDACTED
        } else {
            word
        });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether one word (letters, digits, `-`, `_`, `.`) is shaped like a credential.
pub fn looks_like_credential(word: &str) -> bool {
    let jwt = word.starts_with("eyJ") && word.split('.').count() == 3 && word.len() >= 20;
    let api_key = word.starts_with("sk-") && word.len() >= 20;
    let aws = (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word.len() == 20
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    jwt || api_key || aws
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_values_are_replaced_wherever_they_appear() {
        let s = Secrets::new(["hunter2hunter2".to_owned(), "short".to_owned()]);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s.redact("SECRET=hunter2hunter2\nx=hunter2hunter2!"),
            "SECRET=[redacted]\nx=[redacted]!"
        );
        assert_eq!(s.redact("short stays"), "short stays");
    }

    #[test]
    fn a_longer_secret_is_replaced_whole() {
        let s = Secrets::new(["abcdefgh".to_owned(), "abcdefgh-and-more".to_owned()]);
        assert_eq!(s.redact("k=abcdefgh-and-more"), "k=[redacted]");
    }

    #[test]
    fn credential_shapes_are_replaced() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let text = format!("token {jwt}, key sk-abcdefghijklmnopqrstu and AKIAIOSFODNN7EXAMPLE.");
        assert_eq!(
            redact_credentials(&text),
            "token [redacted], key [redacted] and [redacted]."
        );
        for plain in [
            "eyJust one",
            "sk-short",
            "AKIAlower0000000000a",
            "v1.2.3",
            "ski-lift",
        ] {
            assert_eq!(redact_credentials(plain), plain);
        }
    }
}

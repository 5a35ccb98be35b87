//! The opaque `cursor` of `list_models`: where the previous page ended (the last row's sort
//! key) and which filters it was for. It is not a capability: whatever it says, a page shows
//! only the models the caller may see.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest cursor accepted (a model name is at most 128 characters).
pub const MAX_LEN: usize = 256;

/// Where a page ends: the last row's urgency rank (0 when not sorted by urgency) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub rank: u8,
    pub name: String,
    /// A hash of the filters the page was asked with.
    pub filters: u64,
}

const VERSION: &str = "c1";

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{VERSION}:{}:{:016x}:{}",
            self.rank, self.filters, self.name
        ))
    }

    /// The cursor in `text`, or why it is not one this server gave for `filters`.
    pub fn decode(text: &str, filters: u64) -> Result<Self, String> {
        let bad = || {
            "`cursor` is not one list_models returned; pass the next_cursor of the previous page \
             unchanged, or omit it to start again"
                .to_owned()
        };
        if text.len() > MAX_LEN {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(4, ':');
        let (Some(VERSION), Some(rank), Some(hash), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let rank = rank.parse().map_err(|_| bad())?;
        let hash = u64::from_str_radix(hash, 16).map_err(|_| bad())?;
        if hash != filters {
            return Err(
                "`cursor` belongs to a listing with other filters; repeat the filters of the page \
                 it came from, or omit it to start again"
                    .into(),
            );
        }
        Ok(Cursor {
            rank,
            name: name.to_owned(),
            filters,
        })
    }
}

/// FNV-1a over the parts: a stable fingerprint of a request's filters.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_refuses_other_filters_and_garbage() {
        let c = Cursor {
            rank: 3,
            name: "fraud:eu".into(),
            filters: fingerprint(&["a", ""]),
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, c.filters), Ok(c.clone()));
        assert!(
            Cursor::decode(&text, fingerprint(&["b", ""]))
                .unwrap_err()
                .contains("other filters")
        );
        for junk in [
            "",
            "!!",
            "YWJj",
            &"A".repeat(300),
            &URL_SAFE_NO_PAD.encode("c1:x:00:a"),
        ] {
            assert!(
                Cursor::decode(junk, c.filters)
                    .unwrap_err()
                    .contains("not one"),
                "{junk}"
            );
        }
        assert_ne!(fingerprint(&["ab", ""]), fingerprint(&["a", "b"]));
    }
}

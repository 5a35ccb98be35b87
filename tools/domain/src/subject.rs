//! Who a principal is, compared the way the approval rule needs.

/// A subject as compared and recorded: surrounding whitespace trimmed, Unicode NFC.
pub fn normalise_subject(sub: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    sub.trim().nfc().collect()
}

/// Whether two subjects name the same principal: equal once normalised, ignoring case. The
/// requester-is-not-the-approver rule uses it, so `Demo-Agent ` cannot approve `demo-agent`.
pub fn same_subject(a: &str, b: &str) -> bool {
    let fold = |s: &str| normalise_subject(s).to_lowercase();
    fold(a) == fold(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_compared_normalised_and_without_case() {
        assert_eq!(normalise_subject("caf\u{65}\u{301}"), "caf\u{e9}");
        assert!(same_subject("Demo-Agent ", "demo-agent"));
        assert!(same_subject("caf\u{65}\u{301}", "CAF\u{c9}"));
        assert!(!same_subject("demo-agent", "demo-agent2"));
    }
}

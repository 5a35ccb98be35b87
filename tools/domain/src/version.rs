//! Version labels the registry hands out.

/// `v<N+1>` where N is the largest number among versions named `v<N>` (0 if none).
pub fn next_version<'a>(taken: impl Iterator<Item = &'a str>) -> String {
    let highest = taken
        .filter_map(|v| v.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()))
        .max()
        .unwrap_or(0);
    format!("v{}", highest + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_after_the_highest_numbered_label() {
        assert_eq!(next_version([].into_iter()), "v1");
        assert_eq!(next_version(["v1", "v2", "v10", "v9"].into_iter()), "v11");
        assert_eq!(
            next_version(["v2", "candidate", "vx", "7"].into_iter()),
            "v3"
        );
    }
}

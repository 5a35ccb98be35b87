//! Text that came from an agent, a data file, a trainer or a backend, made safe to show: no
//! terminal control sequences, no bidirectional overrides that reorder what a reader sees, and
//! code fences its content cannot close.

/// `text` without control characters (C0 but newline and tab, DEL, C1) and without the Unicode
/// bidirectional embeddings, overrides and isolates, so it cannot move a terminal's cursor,
/// recolour or clear it, set its title, or show one order of characters while holding another.
pub fn strip_controls(text: &str) -> String {
    text.chars().filter(|c| !is_hidden_control(*c)).collect()
}

fn is_hidden_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `text` (controls stripped) in a Markdown code fence longer than any run of backticks it
/// holds, so nothing inside can end the fence and be read as Markdown.
pub fn fenced(text: &str) -> String {
    let text = strip_controls(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{text}\n{fence}")
}

/// `text` as one Markdown table cell of code: controls stripped, lines joined, pipes escaped
/// (GitHub's tables split cells at `|` even inside code), in a code span longer than any run
/// of backticks it holds, so it cannot become a link, an image or HTML.
pub fn table_code(text: &str) -> String {
    let text = strip_controls(text)
        .replace(['\n', '\t'], " ")
        .replace('|', "\\|");
    if text.is_empty() {
        return String::new();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    format!("{ticks} {text} {ticks}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_go() {
        let hostile =
            "ok\u{1b}[2J\u{1b}]0;owned\u{7}\r\u{9b}31m \u{202E}evil\u{2066}\u{8}\nnext\tline";
        assert_eq!(strip_controls(hostile), "ok[2J]0;owned31m evil\nnext\tline");
    }

    #[test]
    fn a_table_cell_cannot_split_the_row_or_become_a_link() {
        assert_eq!(table_code("a|b\n[x](http://e)"), "` a\\|b [x](http://e) `");
        assert_eq!(table_code("x``y"), "``` x``y ```");
        assert_eq!(table_code(""), "");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fenced("plain"), "```text\nplain\n```");
        let out = fenced("a ``` b ````` c");
        assert!(out.starts_with("``````text\n"), "{out}");
        assert!(out.ends_with("\n``````"), "{out}");
    }

    proptest! {
        #[test]
        fn nothing_inside_closes_the_fence(text in ".{0,64}", ticks in 0usize..12) {
            let inner = format!("{text}\n{}\n{text}", "`".repeat(ticks));
            let out = fenced(&inner);
            let fence_len = out.chars().take_while(|c| *c == '`').count();
            let body = &out[fence_len + "text\n".len()..out.len() - fence_len - 1];
            // No line of the body is a fence of the same length or longer.
            let closes = |l: &str| {
                l.trim_start().chars().take_while(|c| *c == '`').count() >= fence_len
            };
            prop_assert!(!body.lines().any(closes), "{}", out);
            prop_assert!(!out.chars().any(is_hidden_control));
        }
    }
}

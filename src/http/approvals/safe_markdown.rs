//! Markdown from agents, data, trainers and backends rendered as inert HTML: raw HTML is shown
//! as text, links keep only safe destinations (http, https, mailto and relative URLs; anything
//! else becomes plain text), and images become their alt text, so nothing is fetched from
//! another host and nothing runs.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Whether a link destination is safe to follow: `http:`, `https:`, `mailto:`, or relative
/// (no scheme at all). Control characters and whitespace that browsers strip before reading a
/// scheme (`java\tscript:`) are refused outright.
pub fn safe_link(url: &str) -> bool {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    let scheme_end = url.find(':');
    let path_start = url.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        // A colon after the first `/`, `?` or `#` is part of a relative URL.
        (Some(colon), Some(slash)) if slash < colon => true,
        (Some(colon), _) => {
            let scheme = url[..colon].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        (None, _) => true,
    }
}

/// Markdown to HTML with only inert content.
pub fn render(md: &str) -> String {
    let mut unsafe_links = Vec::new();
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).filter_map(|event| match event {
        Event::Html(t) | Event::InlineHtml(t) => Some(Event::Text(t)),
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let ok = safe_link(dest_url);
            unsafe_links.push(!ok);
            ok.then_some(event)
        }
        Event::End(TagEnd::Link) => (!unsafe_links.pop().unwrap_or(false)).then_some(event),
        // An image's alt text stays as text; the image itself is never loaded.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn links_keep_only_safe_schemes() {
        for ok in [
            "https://example.com/a",
            "http://x",
            "mailto:a@b.c",
            "/approvals/1",
            "report#part",
            "a/b:c",
        ] {
            assert!(safe_link(ok), "{ok}");
        }
        for bad in [
            "javascript:fetch('/approvals')",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            " javascript:x",
        ] {
            assert!(!safe_link(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_markdown_comes_out_inert() {
        let html = render(
            "[open the report](javascript:fetch('/approvals')) ![chart](http://host/pixel.png) \
             <script>x()</script> <img src=x onerror=alert(1)> [ok](https://example.com)",
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("open the report"), "{html}");
        assert!(html.contains("chart"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com\">ok</a>"),
            "{html}"
        );
    }

    /// Every `<tag ...>` the renderer produced, for inspection.
    fn tags(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..]
                .find('>')
                .map_or(rest.len(), |e| start + e + 1);
            out.push(rest[start..end].to_ascii_lowercase());
            rest = &rest[end..];
        }
        out
    }

    /// The attribute names of one tag (quoted values skipped).
    fn attribute_names(tag: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut in_quote = false;
        let mut after_space = false;
        for (i, c) in tag.char_indices() {
            match c {
                '"' => in_quote = !in_quote,
                c if c.is_whitespace() && !in_quote => after_space = true,
                _ if after_space && !in_quote => {
                    let name: String = tag[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    names.push(name);
                    after_space = false;
                }
                _ => {}
            }
        }
        names
    }

    fn hostile_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("[a](javascript:alert(1))".to_owned()),
            Just("[a](JAVASCRIPT:alert(1))".to_owned()),
            Just("![i](http://evil/p.png)".to_owned()),
            Just("<script>alert(1)</script>".to_owned()),
            Just("<img src=x onerror=alert(1)>".to_owned()),
            Just("<a href=\"javascript:x\" onclick=\"y\">".to_owned()),
            Just("[r]: javascript:alert(1)\n\n[r]".to_owned()),
            Just("<javascript:alert(1)>".to_owned()),
            Just("`code`".to_owned()),
            Just("|a|b|\n|-|-|\n|`x|y`|z|".to_owned()),
            Just("\n\n".to_owned()),
            "[ -~]{0,24}",
        ]
    }

    proptest! {
        #[test]
        fn no_active_content_whatever_goes_in(pieces in prop::collection::vec(hostile_piece(), 0..12)) {
            let html = render(&pieces.concat());
            for tag in tags(&html) {
                prop_assert!(!tag.starts_with("<script"), "{tag} in {html}");
                prop_assert!(!tag.starts_with("<img"), "{tag} in {html}");
                prop_assert!(!tag.contains("javascript:"), "{tag} in {html}");
                for attr in attribute_names(&tag) {
                    prop_assert!(!attr.starts_with("on"), "{tag} in {html}");
                }
                if let Some(href) = tag.strip_prefix("<a href=\"") {
                    let url = href.split('"').next().unwrap_or("");
                    prop_assert!(safe_link(url), "{tag} in {html}");
                }
            }
        }
    }
}

//! Rich text conversions for Jira fields.
//!
//! Jira Cloud (REST v3) takes and returns rich text as Atlassian Document Format (ADF) JSON;
//! Jira Data Center (REST v2) takes wiki markup and returns plain or wiki strings. Callers
//! write Markdown (or plain text, which is valid Markdown), so this module converts:
//!
//! * Markdown -> ADF ([`markdown_to_adf`], its own file) and Markdown -> wiki markup
//!   ([`markdown_to_wiki`], its own file), both driven by `pulldown-cmark` events read the
//!   same way (this file);
//! * ADF -> readable text with light Markdown ([`adf_to_text`], [`rich_text_to_string`]).
//!
//! The ADF side only emits node combinations Atlassian's schema accepts, because Jira rejects
//! a whole request over one invalid node. The reading side never panics: its input comes
//! from the network and may be any JSON.

mod adf_to_text;
mod markdown_to_adf;
mod markdown_to_wiki;

pub use adf_to_text::{adf_to_text, rich_text_to_string};
pub use markdown_to_adf::markdown_to_adf;
pub use markdown_to_wiki::markdown_to_wiki;

use pulldown_cmark::{CodeBlockKind, LinkType, Options, Parser};

/// The Markdown dialect both writers accept: CommonMark plus the GitHub extensions people use.
pub(super) fn parser(markdown: &str) -> Parser<'_> {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    Parser::new_ext(markdown, options)
}

/// Windows line endings would otherwise leak `\r` into code blocks.
pub(super) fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The language of a fenced code block: the first word of its info string.
pub(super) fn code_language(kind: &CodeBlockKind) -> Option<String> {
    match kind {
        CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_string),
        CodeBlockKind::Indented => None,
    }
}

/// A link destination as a URL; email autolinks lack their scheme.
pub(super) fn link_href(link_type: LinkType, dest_url: &str) -> String {
    match link_type {
        LinkType::Email if !dest_url.starts_with("mailto:") => format!("mailto:{dest_url}"),
        _ => dest_url.to_string(),
    }
}

/// Lists nested deeper than this flatten into their parent item: no reader needs more, and
/// unbounded nesting would let hostile input build trees too deep to drop or serialize.
pub(super) const MAX_LIST_DEPTH: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    pub(super) fn doc(content: Value) -> Value {
        let mut doc = json!({"type": "doc", "version": 1});
        doc["content"] = content;
        doc
    }

    pub(super) fn text(t: &str) -> Value {
        json!({"type": "text", "text": t})
    }

    pub(super) fn para(content: Value) -> Value {
        let mut para = json!({"type": "paragraph"});
        para["content"] = content;
        para
    }

    #[test]
    fn deeply_nested_markdown_stays_bounded() {
        let lists = "- ".repeat(5000) + "deep";
        let adf = markdown_to_adf(&lists);
        assert!(adf_to_text(&adf).ends_with("deep"));
        let wiki = markdown_to_wiki(&lists);
        assert!(wiki.ends_with(&format!("{} deep", "*".repeat(MAX_LIST_DEPTH))));
        let quotes = "> ".repeat(5000) + "deep";
        let expected = doc(json!([
            {"type": "blockquote", "content": [para(json!([text("deep")]))]}
        ]));
        assert_eq!(markdown_to_adf(&quotes), expected);
        assert_eq!(markdown_to_wiki(&quotes), "bq. deep");
    }

    #[test]
    fn round_trip_preserves_words() {
        let markdown = "\
# Release notes

Plain line one
line two

- first *item*
  - nested `item`
1. ordered **entry**

```sh
cargo build --release
```

> quoted wisdom

Visit [the site](https://example.com) and ~~old~~ news.

| col1 | col2 |
|------|------|
| v1   | v2   |";
        let text = adf_to_text(&markdown_to_adf(markdown));
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        assert_eq!(words(&text), words(markdown), "{text}");
        assert!(text.contains("Plain line one\nline two"), "{text}");
        assert!(text.contains("```sh\ncargo build --release\n```"), "{text}");
        assert!(text.contains("[the site](https://example.com)"), "{text}");
    }
}

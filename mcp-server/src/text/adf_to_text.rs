//! ADF -> readable text with light Markdown, for what Jira returns. Never panics: the input
//! comes from the network and may be any JSON.

use serde_json::Value;

/// Renders an ADF document (or any ADF node) as readable plain text with light Markdown
/// (headings as `#`, bullets as `- `, ordered items as `1. `, code blocks fenced with ```,
/// links as `[text](url)`, mentions as `@Name`, hard breaks as newlines, paragraphs separated by a blank line).
/// Unknown node types: render their children / their `text`/`attrs.text` if any; never panic on any JSON input
/// (non-objects, missing fields, wrong types must be tolerated: this JSON comes from the network).
pub fn adf_to_text(adf: &Value) -> String {
    let text = match adf {
        Value::Array(nodes) => blocks(nodes, 0).join("\n\n"),
        Value::String(text) => text.clone(),
        Value::Object(_) if is_inline(adf) => inline(adf, 0),
        Value::Object(_) => block(adf, 0),
        _ => String::new(),
    };
    text.trim_end().to_string()
}

/// Jira fields holding rich text come back as ADF (Cloud v3) or as a plain/wiki string (DC v2) or null.
/// Returns readable text for any of these: ADF object -> adf_to_text; string -> as is; null -> empty string.
pub fn rich_text_to_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Object(_) | Value::Array(_) => adf_to_text(value),
        other => other.to_string(),
    }
}

/// Deeper nesting than any real document; stops hostile input from exhausting the stack.
const MAX_DEPTH: usize = 100;

/// Inline node types of the ADF schema.
const INLINE_TYPES: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "placeholder",
    "inlineExtension",
    "mediaInline",
];

/// Block node types of the ADF schema; some (`rule`, `media`) have no content.
const BLOCK_TYPES: &[&str] = &[
    "doc",
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "rule",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "mediaSingle",
    "mediaGroup",
    "media",
    "panel",
    "expand",
    "nestedExpand",
    "taskList",
    "taskItem",
    "decisionList",
    "decisionItem",
    "blockCard",
    "embedCard",
    "extension",
    "bodiedExtension",
    "layoutSection",
    "layoutColumn",
];

fn node_type(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.get("attrs")?
        .get(name)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Known inline types, and unknown leaves (no `content` array), render inline.
fn is_inline(node: &Value) -> bool {
    let kind = node_type(node);
    if INLINE_TYPES.contains(&kind) {
        return true;
    }
    let leaf = node.get("content").and_then(Value::as_array).is_none();
    !BLOCK_TYPES.contains(&kind) && leaf
}

/// Renders sibling nodes as blocks: runs of inline nodes join into one paragraph.
fn blocks(nodes: &[Value], depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for node in nodes {
        if is_inline(node) {
            run.push_str(&inline(node, depth));
            continue;
        }
        if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
        let text = block(node, depth);
        if !text.is_empty() {
            out.push(text);
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn block(node: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return String::new();
    }
    let depth = depth + 1;
    let content = children(node);
    match node_type(node) {
        "paragraph" => inlines(content, depth),
        "heading" => heading_text(node, depth),
        "bulletList" | "orderedList" | "taskList" | "decisionList" => list_text(node, depth),
        "listItem" | "taskItem" | "decisionItem" => item_text("- ", node, depth),
        "codeBlock" => code_block_text(node),
        "blockquote" => quote_text(node, depth),
        "rule" => "---".to_string(),
        "table" => table_text(node, depth),
        "tableRow" => row_text(node, depth),
        "media" => media_text(node),
        "blockCard" | "embedCard" => attr(node, "url").unwrap_or_default().to_string(),
        "expand" | "nestedExpand" => expand_text(node, depth),
        _ if content.is_empty() => leaf_text(node),
        _ => blocks(content, depth).join("\n\n"),
    }
}

fn heading_text(node: &Value, depth: usize) -> String {
    let level = node
        .get("attrs")
        .and_then(|attrs| attrs.get("level"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 6);
    let hashes = "#".repeat(usize::try_from(level).unwrap_or(1));
    format!("{hashes} {}", inlines(children(node), depth))
}

fn list_text(node: &Value, depth: usize) -> String {
    let ordered = node_type(node) == "orderedList";
    let mut number = node
        .get("attrs")
        .and_then(|attrs| attrs.get("order"))
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let mut items = Vec::new();
    for item in children(node) {
        let marker = if ordered {
            format!("{number}. ")
        } else {
            item_marker(item)
        };
        number = number.saturating_add(1);
        items.push(item_text(&marker, item, depth));
    }
    items.join("\n")
}

fn item_marker(item: &Value) -> String {
    match (node_type(item), attr(item, "state")) {
        ("taskItem", Some("DONE")) => "- [x] ".to_string(),
        ("taskItem", _) => "- [ ] ".to_string(),
        _ => "- ".to_string(),
    }
}

/// An item's first line follows its marker; later lines align under the first.
fn item_text(marker: &str, item: &Value, depth: usize) -> String {
    let body = if is_inline(item) {
        inline(item, depth)
    } else {
        blocks(children(item), depth).join("\n")
    };
    let indent = " ".repeat(marker.chars().count());
    let mut out = String::new();
    for (index, line) in body.split('\n').enumerate() {
        if index == 0 {
            out.push_str(marker);
            out.push_str(line);
        } else {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indent);
                out.push_str(line);
            }
        }
    }
    out.trim_end().to_string()
}

fn code_block_text(node: &Value) -> String {
    let language = attr(node, "language").unwrap_or_default();
    let code: String = children(node)
        .iter()
        .map(|child| match node_type(child) {
            "hardBreak" => "\n",
            _ => child
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        })
        .collect();
    format!("```{language}\n{}\n```", code.trim_end_matches('\n'))
}

fn quote_text(node: &Value, depth: usize) -> String {
    let body = blocks(children(node), depth).join("\n\n");
    body.split('\n')
        .map(|line| {
            if line.is_empty() {
                ">".to_string()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn table_text(node: &Value, depth: usize) -> String {
    children(node)
        .iter()
        .map(|row| row_text(row, depth))
        .filter(|row| !row.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per row: cells separated by ` | `, line breaks inside cells flattened.
fn row_text(row: &Value, depth: usize) -> String {
    children(row)
        .iter()
        .map(|cell| {
            let text = if is_inline(cell) {
                inline(cell, depth)
            } else {
                blocks(children(cell), depth).join(" ")
            };
            text.replace('\n', " ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn media_text(node: &Value) -> String {
    match (attr(node, "url"), attr(node, "alt")) {
        (Some(url), _) => url.to_string(),
        (None, Some(alt)) => format!("[attachment: {alt}]"),
        (None, None) => "[attachment]".to_string(),
    }
}

fn expand_text(node: &Value, depth: usize) -> String {
    let body = blocks(children(node), depth).join("\n\n");
    match attr(node, "title") {
        Some(title) if body.is_empty() => title.to_string(),
        Some(title) => format!("{title}\n\n{body}"),
        None => body,
    }
}

fn inlines(nodes: &[Value], depth: usize) -> String {
    nodes.iter().map(|node| inline(node, depth)).collect()
}

fn inline(node: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return String::new();
    }
    let depth = depth + 1;
    match node_type(node) {
        "text" => marked_text(node),
        "hardBreak" => "\n".to_string(),
        "mention" => mention_text(node),
        "emoji" => attr(node, "text")
            .or_else(|| attr(node, "shortName"))
            .unwrap_or_default()
            .to_string(),
        "inlineCard" => attr(node, "url").unwrap_or_default().to_string(),
        "date" => date_text(node),
        "mediaInline" => media_text(node),
        _ => match children(node) {
            [] => leaf_text(node),
            content => inlines(content, depth),
        },
    }
}

/// The words of a node we know nothing about: its `text`, else `attrs.text`.
fn leaf_text(node: &Value) -> String {
    match node {
        Value::String(text) => text.clone(),
        _ => node
            .get("text")
            .and_then(Value::as_str)
            .or_else(|| attr(node, "text"))
            .unwrap_or_default()
            .to_string(),
    }
}

fn mention_text(node: &Value) -> String {
    match (attr(node, "text"), attr(node, "id")) {
        (Some(text), _) if text.starts_with('@') => text.to_string(),
        (Some(text), _) => format!("@{text}"),
        (None, Some(id)) => format!("@{id}"),
        (None, None) => "@unknown".to_string(),
    }
}

/// A text node with its marks as Markdown: code innermost, link outermost.
fn marked_text(node: &Value) -> String {
    let mut text = node
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let has = |kind: &str| marks.iter().any(|m| node_type(m) == kind);
    if has("code") {
        text = wrap(&text, "`");
    }
    for (kind, delimiter) in [("strike", "~~"), ("em", "*"), ("strong", "**")] {
        if has(kind) {
            text = wrap(&text, delimiter);
        }
    }
    let href = marks
        .iter()
        .find(|m| node_type(m) == "link")
        .and_then(|m| attr(m, "href"));
    match href {
        Some(href) if text.trim().is_empty() => href.to_string(),
        Some(href) => format!("[{text}]({href})"),
        None => text,
    }
}

/// Wraps text in a delimiter, leaving surrounding spaces outside as Markdown requires.
fn wrap(text: &str, delimiter: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return text.to_string();
    }
    let leading = &text[..text.len() - text.trim_start().len()];
    let trailing = &text[text.trim_end().len()..];
    format!("{leading}{delimiter}{trimmed}{delimiter}{trailing}")
}

/// ADF dates carry a UTC timestamp in milliseconds (as a string, sometimes a number).
fn date_text(node: &Value) -> String {
    let Some(raw) = node.get("attrs").and_then(|attrs| attrs.get("timestamp")) else {
        return String::new();
    };
    let millis = match raw {
        Value::String(text) => text.trim().parse::<i64>().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    match millis {
        Some(millis) => {
            let (year, month, day) = civil_from_days(millis.div_euclid(86_400_000));
            format!("{year:04}-{month:02}-{day:02}")
        }
        None => leaf_text(raw),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::text::markdown_to_adf;

    // --- ADF -> text -----------------------------------------------------------------------

    fn jira_description() -> Value {
        json!({
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
                {"type": "paragraph", "content": [
                    {"type": "text", "text": "Login fails for "},
                    {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Mia"}},
                    {"type": "text", "text": " since "},
                    {"type": "text", "text": "yesterday", "marks": [{"type": "strong"}]},
                    {"type": "text", "text": "."},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "See "},
                    {"type": "inlineCard", "attrs": {"url": "https://acme.atlassian.net/browse/OPS-1"}},
                    {"type": "text", "text": " and "},
                    {"type": "text", "text": "the docs", "marks": [{"type": "link", "attrs": {"href": "https://docs.acme.io"}}]}
                ]},
                {"type": "bulletList", "content": [
                    {"type": "listItem", "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "Open the app"}]},
                        {"type": "orderedList", "content": [
                            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "tap login"}]}]},
                            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "enter "}, {"type": "text", "text": "PIN", "marks": [{"type": "code"}]}]}]}
                        ]}
                    ]},
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Watch it crash"}]}]}
                ]},
                {"type": "codeBlock", "attrs": {"language": "java"}, "content": [
                    {"type": "text", "text": "NullPointerException\n  at Login.java:42"}
                ]},
                {"type": "rule"},
                {"type": "blockquote", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Reported by support"}]}]}
            ]
        })
    }

    #[test]
    fn adf_text_for_realistic_description() {
        let expected = "\
## Steps

Login fails for @Mia since **yesterday**.
See https://acme.atlassian.net/browse/OPS-1 and [the docs](https://docs.acme.io)

- Open the app
  1. tap login
  2. enter `PIN`
- Watch it crash

```java
NullPointerException
  at Login.java:42
```

---

> Reported by support";
        assert_eq!(adf_to_text(&jira_description()), expected);
    }

    #[test]
    fn adf_text_other_nodes() {
        let adf = json!({"type": "doc", "content": [
            {"type": "paragraph", "content": [
                {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
                {"type": "text", "text": " "},
                {"type": "date", "attrs": {"timestamp": "1700000000000"}},
                {"type": "text", "text": " "},
                {"type": "status", "attrs": {"text": "IN PROGRESS", "color": "blue"}},
                {"type": "text", "text": " "},
                {"type": "mention", "attrs": {"id": "abc", "text": "Ola"}}
            ]},
            {"type": "taskList", "content": [
                {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [{"type": "text", "text": "done"}]},
                {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [{"type": "text", "text": "todo"}]}
            ]},
            {"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Key"}]}]},
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Value"}]}]}
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}]},
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "b"}]}]}
                ]}
            ]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"type": "file", "id": "1", "alt": "shot.png"}}]},
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Panel text"}]}
            ]},
            {"type": "expand", "attrs": {"title": "More"}, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "hidden"}]}
            ]},
            {"type": "futureBlock", "content": [{"type": "futureInline", "attrs": {"text": "kept"}}]}
        ]});
        let expected = "😄 2023-11-14 IN PROGRESS @Ola\n\n- [x] done\n- [ ] todo\n\nKey | Value\na | b\n\n[attachment: shot.png]\n\nPanel text\n\nMore\n\nhidden\n\nkept";
        assert_eq!(adf_to_text(&adf), expected);
    }

    #[test]
    fn adf_text_single_nodes_and_order() {
        assert_eq!(adf_to_text(&json!({"type": "text", "text": "hi"})), "hi");
        let list = json!({"type": "orderedList", "attrs": {"order": 5}, "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "five"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "six"}]}]}
        ]});
        assert_eq!(adf_to_text(&list), "5. five\n6. six");
        let spaced = json!({"type": "text", "text": " bold ", "marks": [{"type": "strong"}]});
        assert_eq!(inline(&spaced, 0), " **bold** ");
    }

    #[test]
    fn adf_text_tolerates_garbage() {
        let garbage = [
            json!(null),
            json!(42),
            json!(-1.5),
            json!(true),
            json!("just a string"),
            json!([1, "two", null, {"type": 3}]),
            json!({}),
            json!({"type": null, "content": "not an array"}),
            json!({"type": "doc", "content": {"type": "paragraph"}}),
            json!({"type": "paragraph", "content": [{"type": "text", "text": 5, "marks": "bold"}]}),
            json!({"type": "heading", "attrs": {"level": "high"}, "content": [{"type": "text", "text": "h"}]}),
            json!({"type": "heading", "attrs": {"level": 99}}),
            json!({"type": "orderedList", "attrs": {"order": -3}, "content": [1, [2], {"type": "listItem"}]}),
            json!({"type": "bulletList", "content": [{"type": "listItem", "content": [[], {}]}]}),
            json!({"type": "codeBlock", "attrs": 7, "content": [{"text": ["x"]}]}),
            json!({"type": "mention", "attrs": []}),
            json!({"type": "date", "attrs": {"timestamp": "soon"}}),
            json!({"type": "date", "attrs": {"timestamp": i64::MAX}}),
            json!({"type": "date", "attrs": {"timestamp": i64::MIN}}),
            json!({"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {"href": 1}}, 5]}),
            json!({"type": "table", "content": [{"type": "tableRow", "content": "cells"}]}),
            json!({"type": "media", "attrs": {"url": null}}),
            json!({"type": "emoji"}),
            json!({"type": "inlineCard", "attrs": {"url": {"nested": true}}}),
        ];
        for value in &garbage {
            let _ = adf_to_text(value);
            let _ = rich_text_to_string(value);
        }
        assert_eq!(adf_to_text(&json!(42)), "");
        assert_eq!(
            adf_to_text(&json!({"type": "heading", "attrs": {"level": 99}})),
            "######"
        );
    }

    #[test]
    fn adf_text_survives_deep_nesting() {
        let mut value = json!({"type": "text", "text": "bottom"});
        for _ in 0..500 {
            value = json!({"type": "blockquote", "content": [value]});
        }
        let _ = adf_to_text(&value);
        // Let go of the tree gradually: dropping it in one go recurses as deep as it nests.
        while let Some(inner) = value
            .get_mut("content")
            .and_then(|c| c.as_array_mut())
            .and_then(Vec::pop)
        {
            value = inner;
        }
    }

    #[test]
    fn rich_text_variants() {
        assert_eq!(rich_text_to_string(&Value::Null), "");
        assert_eq!(
            rich_text_to_string(&json!("h1. Wiki *text*")),
            "h1. Wiki *text*"
        );
        assert_eq!(rich_text_to_string(&json!(7)), "7");
        let adf = markdown_to_adf("Hello **you**");
        assert_eq!(rich_text_to_string(&adf), "Hello **you**");
    }
}

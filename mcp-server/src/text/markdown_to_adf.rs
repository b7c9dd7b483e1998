//! Markdown -> Atlassian Document Format, for Jira Cloud (REST v3). Only node combinations
//! Atlassian's schema accepts are emitted: Jira rejects a whole request over one invalid node.

use pulldown_cmark::{Event, Tag, TagEnd};
use serde_json::{Map, Value, json};

use super::{MAX_LIST_DEPTH, code_language, link_href, normalize_newlines, parser};

/// Converts Markdown or plain text to an Atlassian Document Format document
/// (the `{"type":"doc","version":1,"content":[...]}` JSON that Jira Cloud REST API v3 takes
/// for `description`, comment `body` and worklog `comment`).
pub fn markdown_to_adf(markdown: &str) -> Value {
    let markdown = normalize_newlines(markdown);
    let mut builder = AdfBuilder::new(link_budget(markdown.len()));
    for event in parser(&markdown) {
        builder.event(event);
    }
    builder.finish()
}

/// Bytes of link targets (and titles) that ADF text nodes may copy, for Markdown of `len` bytes.
///
/// ADF puts a link on every text node it covers, so a link around many differently marked
/// pieces (`[*a*b*a*b…](long-url)`) repeats its target once per piece: quadratic in the input.
/// Real documents repeat a target a few times at most; past this budget new text nodes keep
/// their words but lose the link.
fn link_budget(len: usize) -> usize {
    const COPIES_PER_BYTE: usize = 4;
    const FLOOR: usize = 64 * 1024;
    len.saturating_mul(COPIES_PER_BYTE).saturating_add(FLOOR)
}

// ---------------------------------------------------------------------------------------------
// Markdown -> ADF
// ---------------------------------------------------------------------------------------------

/// The kind of node a frame builds; its children collect in [`Frame::content`].
enum NodeKind {
    Doc,
    /// `implicit` paragraphs wrap loose inline content (tight list items), which ADF forbids.
    Paragraph {
        implicit: bool,
    },
    Heading(u8),
    /// A heading where ADF allows none (list items, quotes): a bold paragraph instead.
    DemotedHeading,
    BulletList,
    OrderedList(u64),
    ListItem,
    CodeBlock {
        language: Option<String>,
        text: String,
    },
    Blockquote,
    /// A construct ADF does not allow here (a quote in a quote or list); its children join the parent.
    Transparent,
}

struct Frame {
    kind: NodeKind,
    content: Vec<Value>,
}

/// Which of the active marks a text node takes.
#[derive(Clone, Copy)]
enum Style {
    /// None: separators the converter adds itself.
    Plain,
    /// All of them.
    Marked,
    /// An inline code span: ADF's `code` mark combines only with `link`.
    Code,
}

/// The inline marks in force, at most one of each type.
///
/// ADF forbids two marks of one type on a node, and copying every open span onto every text
/// node made nested emphasis (`*a *a … x … a* a*`) quadratic in time and output. So a span
/// whose mark type is already active adds nothing. Links follow the same rule: the outermost
/// link wins (an image inside a link's text keeps the link around it).
struct Marks {
    /// The distinct active marks, in the order their spans opened.
    active: Vec<Value>,
    /// One entry per open Markdown span: whether it added a mark to `active`. Spans nest, so
    /// the last span that added a mark owns the last active mark.
    spans: Vec<bool>,
    /// The `code` mark, kept here to lend out like the active ones.
    code: Value,
    /// What is left of [`link_budget`].
    link_budget: usize,
}

impl Marks {
    fn new(link_budget: usize) -> Self {
        Self {
            active: Vec::new(),
            spans: Vec::new(),
            code: mark("code"),
            link_budget,
        }
    }

    /// Opens a span; `None` for a span ADF has no mark for (superscript, an empty link).
    fn open(&mut self, mark: Option<Value>) {
        let added = match mark {
            Some(mark) if !self.has(&mark["type"]) => {
                self.active.push(mark);
                true
            }
            _ => false,
        };
        self.spans.push(added);
    }

    fn close(&mut self) {
        if self.spans.pop() == Some(true) {
            self.active.pop();
        }
    }

    fn has(&self, kind: &Value) -> bool {
        self.active.iter().any(|m| &m["type"] == kind)
    }

    /// The marks a text node of `style` takes, borrowed: only a new node needs copies.
    fn of(&self, style: Style) -> Vec<&Value> {
        match style {
            Style::Plain => Vec::new(),
            Style::Marked => self.active.iter().collect(),
            Style::Code => self
                .active
                .iter()
                .filter(|m| is_link(m))
                .chain([&self.code])
                .collect(),
        }
    }

    /// Copies of the marks for a new text node, its link paid for out of the budget.
    fn take(&mut self, style: Style) -> Vec<Value> {
        let cost: usize = self.of(style).into_iter().map(link_cost).sum();
        let linked = cost <= self.link_budget;
        if linked {
            self.link_budget -= cost;
        }
        let marks = self.of(style).into_iter();
        marks.filter(|m| linked || !is_link(m)).cloned().collect()
    }
}

fn is_link(mark: &Value) -> bool {
    mark["type"] == "link"
}

/// The bytes a copy of `mark` adds beyond a plain mark: a link's target and title.
fn link_cost(mark: &Value) -> usize {
    let attr_len = |name: &str| mark["attrs"][name].as_str().map_or(0, str::len);
    attr_len("href") + attr_len("title")
}

/// Builds an ADF document from a stream of Markdown events.
struct AdfBuilder {
    stack: Vec<Frame>,
    marks: Marks,
    /// Open images: their URL, and whether their alt text produced any text yet.
    images: Vec<(String, bool)>,
    /// Cells seen in the current table row, to place the ` | ` separators.
    row_cells: usize,
}

impl AdfBuilder {
    fn new(link_budget: usize) -> Self {
        let doc = Frame {
            kind: NodeKind::Doc,
            content: Vec::new(),
        };
        Self {
            stack: vec![doc],
            marks: Marks::new(link_budget),
            images: Vec::new(),
            row_cells: 0,
        }
    }

    fn finish(mut self) -> Value {
        while self.stack.len() > 1 {
            self.close();
        }
        let content = self.stack.pop().map(|doc| doc.content).unwrap_or_default();
        let mut doc = Map::new();
        doc.insert("type".into(), json!("doc"));
        doc.insert("version".into(), json!(1));
        doc.insert("content".into(), Value::Array(content));
        Value::Object(doc)
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.text(&text)
            }
            Event::Code(code) => self.code(&code),
            Event::Html(html) => self.html_line(&html),
            Event::InlineHtml(html) => self.text(&html),
            Event::FootnoteReference(label) => self.text(&format!("[^{label}]")),
            // Plain-text users expect their line breaks kept, so soft breaks become hard ones.
            Event::SoftBreak | Event::HardBreak => self.push_inline(json!({"type": "hardBreak"})),
            Event::Rule => self.rule(),
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            // Raw HTML keeps its text, as a paragraph.
            Tag::Paragraph | Tag::HtmlBlock => self.open(NodeKind::Paragraph { implicit: false }),
            Tag::Heading { level, .. } => self.heading(level as u8),
            Tag::BlockQuote(_) if self.in_container() => self.open(NodeKind::Transparent),
            Tag::BlockQuote(_) => self.open(NodeKind::Blockquote),
            Tag::CodeBlock(kind) => self.open(NodeKind::CodeBlock {
                language: code_language(&kind),
                text: String::new(),
            }),
            Tag::TableHead | Tag::TableRow => {
                self.row_cells = 0;
                self.open(NodeKind::Paragraph { implicit: false });
            }
            Tag::TableCell => self.table_cell(),
            Tag::List(_) if self.list_depth() >= MAX_LIST_DEPTH => self.open(NodeKind::Transparent),
            Tag::List(Some(start)) => self.open(NodeKind::OrderedList(start)),
            Tag::List(None) => self.open(NodeKind::BulletList),
            Tag::Item => self.item(),
            Tag::Emphasis => self.marks.open(Some(mark("em"))),
            Tag::Strong => self.marks.open(Some(mark("strong"))),
            Tag::Strikethrough => self.marks.open(Some(mark("strike"))),
            Tag::Superscript | Tag::Subscript => self.marks.open(None),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => self.push_link(&link_href(link_type, &dest_url), &title),
            Tag::Image { dest_url, .. } => {
                self.push_link(&dest_url, "");
                self.images.push((dest_url.to_string(), false));
            }
            Tag::Table(_)
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.close_implicit(),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                if matches!(self.top(), Some(NodeKind::DemotedHeading)) {
                    self.marks.close();
                }
                self.close();
            }
            TagEnd::Paragraph
            | TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::List(_)
            | TagEnd::Item
            | TagEnd::TableHead
            | TagEnd::TableRow => self.close(),
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link => self.marks.close(),
            TagEnd::Image => self.end_image(),
            TagEnd::Table
            | TagEnd::TableCell
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.close_implicit(),
        }
    }

    fn top(&self) -> Option<&NodeKind> {
        self.stack.last().map(|frame| &frame.kind)
    }

    /// Inside a list item or quote, where ADF allows only paragraphs, lists and code.
    fn in_container(&self) -> bool {
        self.stack
            .iter()
            .any(|frame| matches!(frame.kind, NodeKind::ListItem | NodeKind::Blockquote))
    }

    fn list_depth(&self) -> usize {
        let is_list =
            |frame: &&Frame| matches!(frame.kind, NodeKind::BulletList | NodeKind::OrderedList(_));
        self.stack.iter().filter(is_list).count()
    }

    /// Items of a flattened list flatten too; items sit directly in their list's frame.
    fn item(&mut self) {
        self.close_implicit();
        if matches!(self.top(), Some(NodeKind::Transparent)) {
            self.open(NodeKind::Transparent);
        } else {
            self.open(NodeKind::ListItem);
        }
    }

    fn open(&mut self, kind: NodeKind) {
        self.close_implicit();
        self.stack.push(Frame {
            kind,
            content: Vec::new(),
        });
    }

    fn heading(&mut self, level: u8) {
        if self.in_container() {
            self.open(NodeKind::DemotedHeading);
            self.marks.open(Some(mark("strong")));
        } else {
            self.open(NodeKind::Heading(level));
        }
    }

    /// Closes the top frame (never the document) and hands its node(s) to the parent.
    fn close(&mut self) {
        self.close_implicit();
        self.close_top();
    }

    fn close_implicit(&mut self) {
        if matches!(self.top(), Some(NodeKind::Paragraph { implicit: true })) {
            self.close_top();
        }
    }

    fn close_top(&mut self) {
        if self.stack.len() < 2 {
            return;
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let nodes = frame_to_nodes(frame);
        if let Some(parent) = self.stack.last_mut() {
            parent.content.extend(nodes);
        }
    }

    fn rule(&mut self) {
        self.close_implicit();
        // ADF has no rule inside list items or quotes; a rule carries no words, so skip it there.
        if !self.in_container()
            && let Some(frame) = self.stack.last_mut()
        {
            frame.content.push(json!({"type": "rule"}));
        }
    }

    fn table_cell(&mut self) {
        if self.row_cells > 0 {
            self.push_text(" | ", Style::Plain);
        }
        self.row_cells += 1;
    }

    /// A link needs a target; [`Marks`] keeps only the outermost of nested links.
    fn push_link(&mut self, href: &str, title: &str) {
        if href.is_empty() {
            self.marks.open(None);
            return;
        }
        let mut attrs = Map::new();
        attrs.insert("href".into(), json!(href));
        if !title.is_empty() {
            attrs.insert("title".into(), json!(title));
        }
        self.marks
            .open(Some(json!({"type": "link", "attrs": attrs})));
    }

    /// An image without alt text still shows up: as its URL, linked.
    fn end_image(&mut self) {
        if let Some((url, false)) = self.images.pop() {
            self.push_text(&url, Style::Marked);
        }
        self.marks.close();
    }

    fn text(&mut self, text: &str) {
        if let Some(Frame {
            kind: NodeKind::CodeBlock { text: code, .. },
            ..
        }) = self.stack.last_mut()
        {
            code.push_str(text);
            return;
        }
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                self.push_inline(json!({"type": "hardBreak"}));
            }
            self.push_text(line, Style::Marked);
        }
    }

    fn code(&mut self, code: &str) {
        self.push_text(code, Style::Code);
    }

    /// Raw HTML blocks arrive a line at a time; keep them as text, one line each.
    fn html_line(&mut self, html: &str) {
        let has_content = self
            .stack
            .last()
            .is_some_and(|frame| !frame.content.is_empty());
        if has_content && matches!(self.top(), Some(NodeKind::Paragraph { .. })) {
            self.push_inline(json!({"type": "hardBreak"}));
        }
        self.text(html.trim_end_matches('\n'));
    }

    /// Appends a text node, merging it into the previous one when the marks match.
    fn push_text(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return; // ADF forbids empty text nodes
        }
        if let Some(image) = self.images.last_mut() {
            image.1 = true;
        }
        self.ensure_inline_container();
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if extend_last_text(&mut frame.content, text, self.marks.of(style)) {
            return;
        }
        // Checked again: a link the budget refused may leave marks equal to the last node's.
        let marks = self.marks.take(style);
        if !extend_last_text(&mut frame.content, text, &marks) {
            frame.content.push(text_node(text, marks));
        }
    }

    fn push_inline(&mut self, node: Value) {
        self.ensure_inline_container();
        if let Some(frame) = self.stack.last_mut() {
            frame.content.push(node);
        }
    }

    /// Inline content outside a paragraph (tight list items, table cells) gets one.
    fn ensure_inline_container(&mut self) {
        let inline_ok = matches!(
            self.top(),
            Some(NodeKind::Paragraph { .. } | NodeKind::Heading(_) | NodeKind::DemotedHeading)
        );
        if !inline_ok {
            self.stack.push(Frame {
                kind: NodeKind::Paragraph { implicit: true },
                content: Vec::new(),
            });
        }
    }
}

fn mark(kind: &str) -> Value {
    json!({"type": kind})
}

fn text_node(text: &str, marks: Vec<Value>) -> Value {
    let mut node = Map::new();
    node.insert("type".into(), json!("text"));
    node.insert("text".into(), json!(text));
    if !marks.is_empty() {
        node.insert("marks".into(), Value::Array(marks));
    }
    Value::Object(node)
}

/// Builds a block node, moving `content` in: `json!` would deep-copy it by serializing.
fn block_node(kind: &str, attrs: Option<Value>, content: Vec<Value>) -> Value {
    let mut node = Map::new();
    node.insert("type".into(), json!(kind));
    if let Some(attrs) = attrs {
        node.insert("attrs".into(), attrs);
    }
    node.insert("content".into(), Value::Array(content));
    Value::Object(node)
}

/// Appends `text` to the last node of `content` if that is a text node with exactly `marks`.
fn extend_last_text<'a>(
    content: &mut [Value],
    text: &str,
    marks: impl IntoIterator<Item = &'a Value>,
) -> bool {
    let Some(last) = content.last_mut() else {
        return false;
    };
    if last["type"] != "text" || !same_marks(last, marks) {
        return false;
    }
    match last.get_mut("text") {
        Some(Value::String(existing)) => {
            existing.push_str(text);
            true
        }
        _ => false,
    }
}

fn same_marks<'a>(node: &Value, marks: impl IntoIterator<Item = &'a Value>) -> bool {
    let existing = node.get("marks").and_then(Value::as_array);
    existing.map_or(&[][..], Vec::as_slice).iter().eq(marks)
}

/// The ADF node(s) a finished frame becomes.
fn frame_to_nodes(frame: Frame) -> Vec<Value> {
    let content = frame.content;
    let node = match frame.kind {
        NodeKind::Doc | NodeKind::Transparent => return content,
        NodeKind::Paragraph { .. } | NodeKind::DemotedHeading => paragraph(content),
        NodeKind::Heading(level) => block_node("heading", Some(json!({"level": level})), content),
        NodeKind::BulletList => block_node("bulletList", None, content),
        NodeKind::OrderedList(1) => block_node("orderedList", None, content),
        NodeKind::OrderedList(order) => {
            block_node("orderedList", Some(json!({"order": order})), content)
        }
        NodeKind::ListItem => list_item(content),
        NodeKind::CodeBlock { language, text } => code_block(language, &text),
        NodeKind::Blockquote if content.is_empty() => {
            block_node("blockquote", None, vec![paragraph(Vec::new())])
        }
        NodeKind::Blockquote => block_node("blockquote", None, content),
    };
    vec![node]
}

fn paragraph(content: Vec<Value>) -> Value {
    block_node("paragraph", None, content)
}

/// ADF list items must start with a paragraph (or code), never with a nested list.
fn list_item(mut content: Vec<Value>) -> Value {
    let starts_ok = content
        .first()
        .is_some_and(|first| first["type"] == "paragraph" || first["type"] == "codeBlock");
    if !starts_ok {
        content.insert(0, paragraph(Vec::new()));
    }
    block_node("listItem", None, content)
}

fn code_block(language: Option<String>, text: &str) -> Value {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let content = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    };
    let attrs = language.map(|language| json!({"language": language}));
    block_node("codeBlock", attrs, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::adf_to_text;
    use crate::text::tests::{doc, para, text};

    /// Every text node anywhere in the tree.
    fn text_nodes(value: &Value) -> Vec<&Value> {
        let mut found = Vec::new();
        if value["type"] == "text" {
            found.push(value);
        }
        let children = value["content"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for child in children {
            found.extend(text_nodes(child));
        }
        found
    }

    // --- Markdown -> ADF -------------------------------------------------------------------

    #[test]
    fn adf_empty_input_gives_empty_doc() {
        assert_eq!(markdown_to_adf(""), doc(json!([])));
        assert_eq!(markdown_to_adf("   \n\n  "), doc(json!([])));
    }

    #[test]
    fn adf_plain_text_keeps_line_breaks_and_paragraphs() {
        let adf = markdown_to_adf("Hello\nworld\n\nSecond paragraph");
        let expected = doc(json!([
            para(json!([text("Hello"), {"type": "hardBreak"}, text("world")])),
            para(json!([text("Second paragraph")])),
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_windows_newlines() {
        let adf = markdown_to_adf("a\r\nb\r\n\r\nc");
        let expected = doc(json!([
            para(json!([text("a"), {"type": "hardBreak"}, text("b")])),
            para(json!([text("c")])),
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_headings() {
        let adf = markdown_to_adf("# Title\n\n### Sub");
        let expected = doc(json!([
            {"type": "heading", "attrs": {"level": 1}, "content": [text("Title")]},
            {"type": "heading", "attrs": {"level": 3}, "content": [text("Sub")]},
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_inline_marks() {
        let adf = markdown_to_adf("**bold** *it* `code` ~~gone~~ [site](https://example.com)");
        let expected = doc(json!([para(json!([
            {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
            text(" "),
            {"type": "text", "text": "it", "marks": [{"type": "em"}]},
            text(" "),
            {"type": "text", "text": "code", "marks": [{"type": "code"}]},
            text(" "),
            {"type": "text", "text": "gone", "marks": [{"type": "strike"}]},
            text(" "),
            {"type": "text", "text": "site",
             "marks": [{"type": "link", "attrs": {"href": "https://example.com"}}]},
        ]))]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_nested_marks_and_code_only_with_link() {
        let adf = markdown_to_adf("***both*** and [`x` link](http://a.b)");
        let nodes = text_nodes(&adf);
        assert_eq!(
            nodes[0],
            &json!({"type": "text", "text": "both", "marks": [{"type": "em"}, {"type": "strong"}]})
        );
        let code = nodes.iter().find(|n| n["text"] == "x").copied();
        assert_eq!(
            code,
            Some(&json!({"type": "text", "text": "x", "marks": [
                {"type": "link", "attrs": {"href": "http://a.b"}}, {"type": "code"}
            ]}))
        );
        let bold_code = markdown_to_adf("**a `b` c**");
        let b = text_nodes(&bold_code)
            .into_iter()
            .find(|n| n["text"] == "b")
            .cloned();
        assert_eq!(
            b,
            Some(json!({"type": "text", "text": "b", "marks": [{"type": "code"}]}))
        );
    }

    /// The mark types on a text node, in order.
    fn mark_types(node: &Value) -> Vec<&str> {
        let marks = node["marks"].as_array().map_or(&[][..], Vec::as_slice);
        marks.iter().filter_map(|m| m["type"].as_str()).collect()
    }

    #[test]
    fn adf_nested_spans_of_one_type_mark_once() {
        let cases = [
            ("*a _b_ c*", "b", vec!["em"]),
            ("**a __b__ c**", "b", vec!["strong"]),
            ("~~a ~~b~~ c~~", "b", vec!["strike"]),
            ("> # **b**", "b", vec!["strong"]),
            ("*a **b _c_** d*", "c", vec!["em", "strong"]),
        ];
        for (markdown, word, expected) in cases {
            let adf = markdown_to_adf(markdown);
            let has_word = |n: &&Value| n["text"].as_str().is_some_and(|t| t.contains(word));
            let node = text_nodes(&adf).into_iter().find(has_word);
            assert_eq!(node.map(mark_types), Some(expected), "{markdown}: {adf}");
        }
    }

    #[test]
    fn adf_nested_links_keep_the_outermost() {
        let adf = markdown_to_adf("[![alt](http://img.png) text](http://page)");
        let nodes = text_nodes(&adf);
        assert_eq!(nodes.len(), 1, "{adf}");
        assert_eq!(nodes[0]["text"], "alt text");
        assert_eq!(
            nodes[0]["marks"],
            json!([{"type": "link", "attrs": {"href": "http://page"}}])
        );
    }

    /// Input from the tracker: 3000 nested emphasis spans took 21 s and 126 MB of ADF.
    #[test]
    fn adf_deeply_nested_emphasis_stays_small_and_fast() {
        let markdown = "*a ".repeat(3000) + "x" + &" a*".repeat(3000);
        let start = std::time::Instant::now();
        let adf = markdown_to_adf(&markdown);
        let bytes = serde_json::to_vec(&adf).map_or(usize::MAX, |json| json.len());
        let elapsed = start.elapsed();
        assert!(bytes < 1 << 20, "{bytes} bytes of ADF");
        assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
        for node in text_nodes(&adf) {
            assert_eq!(mark_types(node), ["em"], "{node}");
        }
        assert!(adf_to_text(&adf).contains('x'));
    }

    /// A link around many differently marked pieces repeats its target on every piece.
    #[test]
    fn adf_link_targets_cannot_multiply_the_output() {
        let target = "http://x.io/".to_string() + &"p".repeat(30_000);
        let inputs = [
            format!("[{}]({target})", "*a*b".repeat(8_000)),
            format!("{}\n\n[r]: {target}\n", "[a][r]".repeat(5_000)),
        ];
        for markdown in inputs {
            let adf = markdown_to_adf(&markdown);
            let bytes = serde_json::to_vec(&adf).map_or(usize::MAX, |json| json.len());
            assert!(bytes <= 20 * markdown.len(), "{bytes} bytes of ADF");
            let linked = text_nodes(&adf)
                .iter()
                .filter(|n| mark_types(n).contains(&"link"))
                .count();
            assert!(linked > 0, "the budget allows the first links");
            let words = adf_to_text(&adf);
            assert!(words.matches('a').count() >= 5_000, "words are kept");
        }
        // Ordinary documents stay well inside the budget.
        let adf = markdown_to_adf(&format!("[**a** b *c* `d`]({target})"));
        assert!(
            text_nodes(&adf)
                .iter()
                .all(|n| mark_types(n).contains(&"link"))
        );
    }

    #[test]
    fn adf_nested_bullet_list() {
        let adf = markdown_to_adf("- one\n  - inner\n- two");
        let expected = doc(json!([{"type": "bulletList", "content": [
            {"type": "listItem", "content": [
                para(json!([text("one")])),
                {"type": "bulletList", "content": [
                    {"type": "listItem", "content": [para(json!([text("inner")]))]}
                ]}
            ]},
            {"type": "listItem", "content": [para(json!([text("two")]))]}
        ]}]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_ordered_list_with_start_and_nested_bullets() {
        let adf = markdown_to_adf("3. three\n4. four\n   - sub");
        let list = &adf["content"][0];
        assert_eq!(list["type"], "orderedList");
        assert_eq!(list["attrs"], json!({"order": 3}));
        assert_eq!(list["content"][1]["content"][1]["type"], "bulletList");
        let plain = markdown_to_adf("1. a\n2. b");
        assert_eq!(plain["content"][0].get("attrs"), None);
        assert_eq!(
            plain["content"][0]["content"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn adf_loose_list_and_item_starting_with_list() {
        let loose = markdown_to_adf("- a\n\n  more\n\n- b");
        let item = &loose["content"][0]["content"][0];
        assert_eq!(
            item["content"],
            json!([para(json!([text("a")])), para(json!([text("more")]))])
        );
        let nested_first = markdown_to_adf("- - deep");
        let item = &nested_first["content"][0]["content"][0];
        assert_eq!(item["content"][0], para(json!([])));
        assert_eq!(item["content"][1]["type"], "bulletList");
    }

    #[test]
    fn adf_fenced_code_with_language() {
        let adf = markdown_to_adf("```rust\nfn main() {\n    println!(\"hi\");\n}\n```");
        let expected = doc(json!([{
            "type": "codeBlock",
            "attrs": {"language": "rust"},
            "content": [text("fn main() {\n    println!(\"hi\");\n}")]
        }]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_code_without_language_and_empty_code() {
        let adf = markdown_to_adf("```\nx = 1\n```\n\n```\n```");
        let expected = doc(json!([
            {"type": "codeBlock", "content": [text("x = 1")]},
            {"type": "codeBlock", "content": []},
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_blockquote_and_rule() {
        let adf = markdown_to_adf("> quoted\n> line\n\n---\n\nafter");
        let expected = doc(json!([
            {"type": "blockquote", "content": [
                para(json!([text("quoted"), {"type": "hardBreak"}, text("line")]))
            ]},
            {"type": "rule"},
            para(json!([text("after")])),
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_keeps_structures_valid_inside_containers() {
        // Nested quotes flatten; headings in quotes become bold paragraphs; rules in lists vanish.
        let adf = markdown_to_adf("> outer\n>\n> > inner\n>\n> # Head");
        let quote = &adf["content"][0];
        assert_eq!(quote["type"], "blockquote");
        assert_eq!(
            quote["content"],
            json!([
                para(json!([text("outer")])),
                para(json!([text("inner")])),
                para(json!([{"type": "text", "text": "Head", "marks": [{"type": "strong"}]}])),
            ])
        );
        let list = markdown_to_adf("- a\n\n  ***\n- b");
        assert!(!list.to_string().contains("\"rule\""));
    }

    #[test]
    fn adf_hard_break_from_trailing_spaces() {
        let adf = markdown_to_adf("one  \ntwo");
        assert_eq!(
            adf,
            doc(json!([para(
                json!([text("one"), {"type": "hardBreak"}, text("two")])
            )]))
        );
    }

    #[test]
    fn adf_table_as_paragraphs() {
        let adf = markdown_to_adf("| A | B |\n|---|---|\n| 1 | 2 |");
        let expected = doc(json!([
            para(json!([text("A | B")])),
            para(json!([text("1 | 2")])),
        ]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_image_becomes_link() {
        let adf = markdown_to_adf("![logo](https://x.io/a.png) and ![](https://x.io/b.png)");
        let link = |href: &str| json!([{"type": "link", "attrs": {"href": href}}]);
        let expected = doc(json!([para(json!([
            {"type": "text", "text": "logo", "marks": link("https://x.io/a.png")},
            text(" and "),
            {"type": "text", "text": "https://x.io/b.png", "marks": link("https://x.io/b.png")},
        ]))]));
        assert_eq!(adf, expected);
    }

    #[test]
    fn adf_links_edge_cases() {
        let adf = markdown_to_adf("<me@example.com> [empty]() [t](http://x \"Title\")");
        let nodes = text_nodes(&adf);
        assert_eq!(
            nodes[0]["marks"][0]["attrs"]["href"],
            "mailto:me@example.com"
        );
        let empty = nodes
            .iter()
            .find(|n| n["text"].as_str().is_some_and(|t| t.contains("empty")));
        assert_eq!(empty.map(|n| n.get("marks")), Some(None));
        let titled = nodes.iter().find(|n| n["text"] == "t").copied();
        assert_eq!(
            titled.map(|n| n["marks"][0]["attrs"].clone()),
            Some(json!({"href": "http://x", "title": "Title"}))
        );
    }

    #[test]
    fn adf_task_list_and_html_keep_text() {
        let adf = markdown_to_adf("- [x] done\n- [ ] todo\n\n<div>\nhi\n</div>");
        let words = adf_to_text(&adf);
        assert!(words.contains("[x] done"), "{words}");
        assert!(words.contains("[ ] todo"), "{words}");
        assert!(words.contains("hi"), "{words}");
    }

    #[test]
    fn adf_never_emits_empty_text_nodes() {
        let inputs = [
            "",
            "**\u{200b}**",
            "a\n\nb",
            "- \n- x",
            "> ",
            "#",
            "``` \n```",
            "[](http://x)",
            "![](x)",
            "<br>",
            "|a|\n|-|\n||",
        ];
        for input in inputs {
            let adf = markdown_to_adf(input);
            for node in text_nodes(&adf) {
                assert_ne!(node["text"], "", "empty text node for {input:?}: {adf}");
            }
        }
    }
}

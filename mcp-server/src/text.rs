//! Rich text conversions for Jira fields.
//!
//! Jira Cloud (REST v3) takes and returns rich text as Atlassian Document Format (ADF) JSON;
//! Jira Data Center (REST v2) takes wiki markup and returns plain or wiki strings. Callers
//! write Markdown (or plain text, which is valid Markdown), so this module converts:
//!
//! * Markdown -> ADF ([`markdown_to_adf`]) and Markdown -> wiki markup ([`markdown_to_wiki`]),
//!   both driven by `pulldown-cmark` events;
//! * ADF -> readable text with light Markdown ([`adf_to_text`], [`rich_text_to_string`]).
//!
//! The ADF side only emits node combinations Atlassian's schema accepts, because Jira rejects
//! a whole request over one invalid node. The reading side never panics: its input comes
//! from the network and may be any JSON.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};

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

/// Converts Markdown or plain text to Jira wiki markup (what Jira Data Center REST API v2 takes).
pub fn markdown_to_wiki(markdown: &str) -> String {
    let markdown = normalize_newlines(markdown);
    let mut writer = WikiWriter::new();
    for event in parser(&markdown) {
        writer.event(event);
    }
    writer.finish()
}

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

/// The Markdown dialect both writers accept: CommonMark plus the GitHub extensions people use.
fn parser(markdown: &str) -> Parser<'_> {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    Parser::new_ext(markdown, options)
}

/// Windows line endings would otherwise leak `\r` into code blocks.
fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The language of a fenced code block: the first word of its info string.
fn code_language(kind: &CodeBlockKind) -> Option<String> {
    match kind {
        CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_string),
        CodeBlockKind::Indented => None,
    }
}

/// A link destination as a URL; email autolinks lack their scheme.
fn link_href(link_type: LinkType, dest_url: &str) -> String {
    match link_type {
        LinkType::Email if !dest_url.starts_with("mailto:") => format!("mailto:{dest_url}"),
        _ => dest_url.to_string(),
    }
}

/// Lists nested deeper than this flatten into their parent item: no reader needs more, and
/// unbounded nesting would let hostile input build trees too deep to drop or serialize.
const MAX_LIST_DEPTH: usize = 32;

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
            Tag::Paragraph => self.open(NodeKind::Paragraph { implicit: false }),
            Tag::Heading { level, .. } => self.heading(level as u8),
            Tag::BlockQuote(_) if self.in_container() => self.open(NodeKind::Transparent),
            Tag::BlockQuote(_) => self.open(NodeKind::Blockquote),
            Tag::CodeBlock(kind) => self.open(NodeKind::CodeBlock {
                language: code_language(&kind),
                text: String::new(),
            }),
            Tag::HtmlBlock => self.open(NodeKind::Paragraph { implicit: false }),
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

// ---------------------------------------------------------------------------------------------
// Markdown -> Jira wiki markup
// ---------------------------------------------------------------------------------------------

/// A line break inside a list item: a bare newline would end the item.
const WIKI_ITEM_BREAK: &str = " \\\\ ";

/// Writes Jira wiki markup from a stream of Markdown events.
struct WikiWriter {
    /// Output; a quote writes into its own buffer to pick `bq.` or `{quote}` once it ends.
    buffers: Vec<String>,
    /// Markers of the open lists, outermost first: `*` bullet, `#` numbered.
    lists: Vec<char>,
    /// Whether the current list item has no content yet after its marker.
    item_fresh: bool,
    /// List state suspended while a quote is open.
    saved: Vec<(Vec<char>, bool)>,
    /// Quotes inside a quote: wiki markup has no nesting, so they merge into the outer one.
    nested_quotes: usize,
    /// Open links: where their `[` is in the buffer, and their target.
    links: Vec<(usize, String)>,
    in_code_block: bool,
    in_table_head: bool,
    /// Buffer length at the start of the open table cell, if any.
    cell_start: Option<usize>,
}

impl WikiWriter {
    fn new() -> Self {
        Self {
            buffers: vec![String::new()],
            lists: Vec::new(),
            item_fresh: false,
            saved: Vec::new(),
            nested_quotes: 0,
            links: Vec::new(),
            in_code_block: false,
            in_table_head: false,
            cell_start: None,
        }
    }

    fn finish(mut self) -> String {
        // Only outer quotes own a buffer; forget inner ones so each pass pops one.
        self.nested_quotes = 0;
        while self.buffers.len() > 1 {
            self.end_quote();
        }
        let out = self.buffers.pop().unwrap_or_default();
        out.trim_end().to_string()
    }

    fn out(&mut self) -> &mut String {
        if self.buffers.is_empty() {
            self.buffers.push(String::new());
        }
        let last = self.buffers.len() - 1;
        &mut self.buffers[last]
    }

    fn write(&mut self, text: &str) {
        self.out().push_str(text);
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.text(&text)
            }
            Event::Code(code) => self.code(&code),
            Event::Html(html) | Event::InlineHtml(html) => self.write(&html),
            Event::FootnoteReference(label) => self.text(&format!("[^{label}]")),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Rule => {
                self.begin_block();
                self.write("----");
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.begin_paragraph(),
            Tag::Heading { level, .. } => {
                self.begin_paragraph();
                // Headings exist only at line start; inside a list item keep the words.
                if self.lists.is_empty() {
                    let marker = format!("h{}. ", level as u8);
                    self.write(&marker);
                }
            }
            Tag::BlockQuote(_) => self.begin_quote(),
            Tag::CodeBlock(kind) => self.begin_code_block(code_language(&kind)),
            Tag::HtmlBlock | Tag::Table(_) => self.begin_block(),
            Tag::TableHead => self.in_table_head = true,
            Tag::TableRow => self.write("\n"),
            Tag::TableCell => {
                let marker = if self.in_table_head { "||" } else { "|" };
                self.write(marker);
                self.cell_start = Some(self.out().len());
            }
            Tag::List(start) => self.begin_list(if start.is_some() { '#' } else { '*' }),
            Tag::Item => self.begin_item(),
            Tag::Emphasis => self.write("_"),
            Tag::Strong => self.write("*"),
            Tag::Strikethrough => self.write("-"),
            Tag::Superscript => self.write("^"),
            Tag::Subscript => self.write("~"),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.begin_link(link_href(link_type, &dest_url)),
            Tag::Image { dest_url, .. } => self.begin_link(dest_url.to_string()),
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.begin_block(),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::BlockQuote(_) => self.end_quote(),
            TagEnd::CodeBlock => self.end_code_block(),
            TagEnd::HtmlBlock => {
                let trimmed_len = self.out().trim_end_matches('\n').len();
                self.out().truncate(trimmed_len);
            }
            TagEnd::TableHead => {
                self.write("||");
                self.in_table_head = false;
            }
            TagEnd::TableRow => self.write("|"),
            TagEnd::TableCell => self.end_cell(),
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Item => self.item_fresh = false,
            TagEnd::Emphasis => self.write("_"),
            TagEnd::Strong => self.write("*"),
            TagEnd::Strikethrough => self.write("-"),
            TagEnd::Superscript => self.write("^"),
            TagEnd::Subscript => self.write("~"),
            TagEnd::Link | TagEnd::Image => self.end_link(),
            TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::Table
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// Starts a block that is not running text (code, table, rule, quote).
    fn begin_block(&mut self) {
        if self.lists.is_empty() {
            self.blank_line();
        } else if self.item_fresh {
            self.item_fresh = false;
        } else {
            self.write("\n");
        }
    }

    /// Starts a paragraph; a later paragraph of the same list item continues on a broken line.
    fn begin_paragraph(&mut self) {
        if self.lists.is_empty() {
            self.blank_line();
        } else if self.item_fresh {
            self.item_fresh = false;
        } else {
            self.write(WIKI_ITEM_BREAK);
        }
    }

    /// Ends the output so far with a blank line, unless nothing was written yet.
    fn blank_line(&mut self) {
        let out = self.out();
        if out.is_empty() {
            return;
        }
        let newlines = out.len() - out.trim_end_matches('\n').len();
        for _ in newlines..2 {
            out.push('\n');
        }
    }

    fn line_break(&mut self) {
        if self.lists.is_empty() {
            self.write("\n");
        } else {
            self.write(WIKI_ITEM_BREAK);
        }
    }

    fn begin_list(&mut self, marker: char) {
        if self.lists.is_empty() {
            self.blank_line();
        }
        self.lists.push(marker);
    }

    fn begin_item(&mut self) {
        let out = self.out();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let marker: String = self.lists.iter().take(MAX_LIST_DEPTH).collect();
        self.write(&format!("{marker} "));
        self.item_fresh = true;
    }

    fn begin_code_block(&mut self, language: Option<String>) {
        self.begin_block();
        match language {
            Some(language) => self.write(&format!("{{code:{language}}}\n")),
            None => self.write("{code}\n"),
        }
        self.in_code_block = true;
    }

    fn end_code_block(&mut self) {
        let out = self.out();
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("{code}");
        self.in_code_block = false;
    }

    fn begin_quote(&mut self) {
        if !self.saved.is_empty() {
            self.nested_quotes += 1;
            return;
        }
        let lists = std::mem::take(&mut self.lists);
        self.saved.push((lists, self.item_fresh));
        self.item_fresh = false;
        self.buffers.push(String::new());
    }

    /// `bq.` covers one line only; anything longer needs a `{quote}` block.
    fn end_quote(&mut self) {
        if self.nested_quotes > 0 {
            self.nested_quotes -= 1;
            return;
        }
        let quoted = self.buffers.pop().unwrap_or_default();
        if let Some((lists, item_fresh)) = self.saved.pop() {
            self.lists = lists;
            self.item_fresh = item_fresh;
        }
        let quoted = quoted.trim_end();
        if quoted.is_empty() {
            return;
        }
        self.begin_block();
        // `bq.` takes one plain line; a heading's `h2.` must stay at line start.
        let one_line = !quoted.contains('\n');
        let heading = matches!(quoted.as_bytes(), [b'h', b'1'..=b'6', b'.', ..]);
        if !one_line || heading {
            self.write(&format!("{{quote}}\n{quoted}\n{{quote}}"));
        } else {
            self.write(&format!("bq. {quoted}"));
        }
    }

    fn end_cell(&mut self) {
        // An empty cell needs a space, or its bars merge with the next cell's.
        let len = self.out().len();
        if self.cell_start == Some(len) {
            self.write(" ");
        }
        self.cell_start = None;
    }

    fn begin_link(&mut self, url: String) {
        let start = self.out().len();
        self.links.push((start, url));
        self.write("[");
    }

    fn end_link(&mut self) {
        let Some((start, url)) = self.links.pop() else {
            return;
        };
        let out = self.out();
        let label = out.get(start + 1..).unwrap_or_default();
        if label.is_empty() || label == url {
            out.truncate(start);
            out.push_str(&format!("[{url}]"));
        } else {
            out.push_str(&format!("|{url}]"));
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_code_block {
            self.write(text);
            return;
        }
        let at_line_start = self.out().is_empty() || self.out().ends_with('\n');
        let escaped = self.escape(text, at_line_start);
        self.write(&escaped);
    }

    fn code(&mut self, code: &str) {
        if code.is_empty() {
            return;
        }
        let escaped = self.escape(code, false);
        self.write(&format!("{{{{{escaped}}}}}"));
    }

    /// Escapes the characters that would start wiki links, macros or (at line start) lists.
    fn escape(&self, text: &str, at_line_start: bool) -> String {
        let escape_bar = self.cell_start.is_some() || !self.links.is_empty();
        let mut escaped = String::with_capacity(text.len());
        for (index, c) in text.chars().enumerate() {
            let special = match c {
                '[' | ']' | '{' | '}' => true,
                '|' => escape_bar,
                '*' | '#' | '-' => at_line_start && index == 0,
                _ => false,
            };
            if special {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        escaped
    }
}

// ---------------------------------------------------------------------------------------------
// ADF -> text
// ---------------------------------------------------------------------------------------------

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

    fn doc(content: Value) -> Value {
        json!({"type": "doc", "version": 1, "content": content})
    }

    fn text(t: &str) -> Value {
        json!({"type": "text", "text": t})
    }

    fn para(content: Value) -> Value {
        json!({"type": "paragraph", "content": content})
    }

    /// Every text node anywhere in the tree.
    fn text_nodes(value: &Value) -> Vec<&Value> {
        let mut found = Vec::new();
        if value["type"] == "text" {
            found.push(value);
        }
        for child in children(value) {
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

    // --- Markdown -> wiki ------------------------------------------------------------------

    #[test]
    fn wiki_empty_input() {
        assert_eq!(markdown_to_wiki(""), "");
    }

    #[test]
    fn wiki_plain_text_keeps_newlines() {
        assert_eq!(
            markdown_to_wiki("Hello\nworld\n\nSecond"),
            "Hello\nworld\n\nSecond"
        );
    }

    #[test]
    fn wiki_headings_and_inline_marks() {
        let wiki = markdown_to_wiki(
            "## Title\n\n**b** *i* `c` ~~s~~ [site](https://e.com) <https://e.com>",
        );
        assert_eq!(
            wiki,
            "h2. Title\n\n*b* _i_ {{c}} -s- [site|https://e.com] [https://e.com]"
        );
    }

    #[test]
    fn wiki_nested_lists() {
        let wiki = markdown_to_wiki("- a\n  - b\n    1. c\n- d\n\n1. one\n2. two\n   - x");
        assert_eq!(wiki, "* a\n** b\n**# c\n* d\n\n# one\n# two\n#* x");
    }

    #[test]
    fn wiki_paragraph_then_list_then_paragraph() {
        let wiki = markdown_to_wiki("Intro:\n\n- a\n- b\n\nOutro");
        assert_eq!(wiki, "Intro:\n\n* a\n* b\n\nOutro");
    }

    #[test]
    fn wiki_code_blocks() {
        assert_eq!(
            markdown_to_wiki("```python\nprint(1)\n```"),
            "{code:python}\nprint(1)\n{code}"
        );
        assert_eq!(
            markdown_to_wiki("text\n\n    indented\n"),
            "text\n\n{code}\nindented\n{code}"
        );
    }

    #[test]
    fn wiki_blockquotes() {
        assert_eq!(markdown_to_wiki("> quoted"), "bq. quoted");
        assert_eq!(
            markdown_to_wiki("> one\n>\n> two"),
            "{quote}\none\n\ntwo\n{quote}"
        );
        assert_eq!(markdown_to_wiki("> # Head"), "{quote}\nh1. Head\n{quote}");
    }

    #[test]
    fn wiki_nested_quote_merges() {
        assert_eq!(
            markdown_to_wiki("> a\n>\n> > b"),
            "{quote}\na\n\nb\n{quote}"
        );
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
    fn wiki_rule_and_table() {
        assert_eq!(markdown_to_wiki("a\n\n---\n\nb"), "a\n\n----\n\nb");
        assert_eq!(
            markdown_to_wiki("| A | B |\n|---|---|\n| 1 |  |"),
            "||A||B||\n|1| |"
        );
    }

    #[test]
    fn wiki_escapes_markup_characters() {
        assert_eq!(markdown_to_wiki("[WIP] {x}"), "\\[WIP\\] \\{x\\}");
        assert_eq!(markdown_to_wiki("\\# not a list"), "\\# not a list");
        assert_eq!(markdown_to_wiki("[a|b](http://x)"), "[a\\|b|http://x]");
    }

    #[test]
    fn wiki_list_item_line_breaks_stay_in_item() {
        assert_eq!(markdown_to_wiki("- a\n  b"), "* a \\\\ b");
    }

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

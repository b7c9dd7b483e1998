//! Markdown -> Jira wiki markup, for Jira Data Center (REST v2).

use pulldown_cmark::{Event, Tag, TagEnd};

use super::{MAX_LIST_DEPTH, code_language, link_href, normalize_newlines, parser};

/// Converts Markdown or plain text to Jira wiki markup (what Jira Data Center REST API v2 takes).
pub fn markdown_to_wiki(markdown: &str) -> String {
    let markdown = normalize_newlines(markdown);
    let mut writer = WikiWriter::new();
    for event in parser(&markdown) {
        writer.event(event);
    }
    writer.finish()
}

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
            Tag::HtmlBlock
            | Tag::Table(_)
            | Tag::FootnoteDefinition(_)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The ADF that Markdown converts to, and that the Cloud tools send to Jira, is valid against
//! Atlassian's ADF JSON schema, free of duplicate marks, and linear in size in its input.
//!
//! The schema lives outside the repository, in `shared/adf-schema/full.json` beside the clone
//! (or beside a worktree's parent); it is found by walking up from this crate.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::*;
use jira_mcp::text::markdown_to_adf;
use jsonschema::Validator;
use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCHEMA: &str = "shared/adf-schema/full.json";

/// `SCHEMA` in the nearest ancestor of this crate that has it.
fn schema_path() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join(SCHEMA))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Atlassian's ADF schema not found: no ancestor of {} has {SCHEMA}",
                manifest.display()
            )
        })
}

/// A validator for the schema, compiled once. The schema declares JSON Schema draft 4.
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let path = schema_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("the ADF schema is JSON");
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-04/schema#",
        "the ADF schema changed draft"
    );
    jsonschema::draft4::new(&schema).expect("the ADF schema compiles")
});

/// Why `adf` is not valid ADF (at most a few reasons), or `None` if it is.
fn schema_errors(adf: &Value) -> Option<String> {
    let errors: Vec<String> = VALIDATOR
        .iter_errors(adf)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("\n"))
}

/// Every node (object with a `type`) in the tree.
fn nodes(value: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    let mut todo = vec![value];
    while let Some(node) = todo.pop() {
        if node.get("type").is_some_and(Value::is_string) {
            found.push(node);
        }
        if let Some(content) = node.get("content").and_then(Value::as_array) {
            todo.extend(content);
        }
    }
    found
}

/// A mark type that some node carries more than once, if any.
fn duplicate_mark(adf: &Value) -> Option<String> {
    nodes(adf).into_iter().find_map(|node| {
        let marks = node.get("marks").and_then(Value::as_array)?;
        let types: Vec<&Value> = marks.iter().map(|m| &m["type"]).collect();
        let repeated = types
            .iter()
            .enumerate()
            .find(|(i, t)| types[..*i].contains(t))?;
        Some(format!("{} twice on {node}", repeated.1))
    })
}

fn serialized_len(adf: &Value) -> usize {
    serde_json::to_vec(adf).map_or(usize::MAX, |json| json.len())
}

// --- Random Markdown ------------------------------------------------------------------------

// Markdown-ish tokens: every construct the converter handles, and their broken halves.
const SPACING: &[&str] = &[" ", " ", "\n", "\n\n", "  \n", "\\\n", "\t", "\r\n"];
const EMPHASIS: &[&str] = &["*", "_", "**", "__", "***", "~~", "~", "^"];
const CODE_SPANS: &[&str] = &["`", "``", "`code`", "`` a`b ``"];
const LINKS: &[&str] = &[
    "[",
    "]",
    "](",
    ")",
    "[text](http://x.io/p)",
    "[t](http://x.io \"Title\")",
    "[](http://e)",
    "[x]()",
    "<https://a.b/c>",
    "<me@example.com>",
    "![alt](http://i.io/a.png)",
    "![](http://i.io/b.png)",
    "[r]",
    "[text][r]",
    "[r][]",
    "\n[r]: http://r.io/ref\n",
];
const LISTS: &[&str] = &[
    "\n- ", "\n* ", "\n+ ", "\n1. ", "\n7) ", "\n  - ", "\n    - ", "\n   1. ", "\n- [ ] ",
    "\n- [x] ", "\n-\n",
];
const HEADINGS: &[&str] = &[
    "\n# ",
    "\n## ",
    "\n###### ",
    "\n####### ",
    "\nT\n===\n",
    "\nS\n---\n",
];
const QUOTES: &[&str] = &["\n> ", "> ", "\n> > ", "\n>\n"];
const BLOCKS: &[&str] = &[
    "\n```rust\n",
    "\n```\n",
    "\n~~~\n",
    "\n    indented\n",
    "\n---\n",
    "\n***\n",
    "\n| a | b |\n|---|:-:|\n| c | d |\n",
    "|",
    "\n|x|\n|-|\n",
];
const HTML: &[&str] = &[
    "<b>",
    "</b>",
    "<br>",
    "\n<div>\n",
    "\n</div>\n",
    "<!-- c -->",
];
const ESCAPES: &[&str] = &[
    "&amp;", "&lt;", "&#1;", "&#0;", "&nbsp;", "\\*", "\\_", "\\[",
];
const UNICODE: &[&str] = &["é", "漢字", "\u{200b}", "\u{1}"];

static TOKENS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let groups = [
        SPACING, EMPHASIS, CODE_SPANS, LINKS, LISTS, HEADINGS, QUOTES, BLOCKS, HTML, ESCAPES,
        UNICODE,
    ];
    groups.concat()
});

fn plain_word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,8}"
}

/// Inline fragments nested in emphasis, links and code, well-formed or not.
fn inline_fragment() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(TOKENS.clone()).prop_map(str::to_string);
    let leaf = prop_oneof![plain_word(), token];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let parts = prop::collection::vec(inner, 1..4).prop_map(|parts| parts.join(" "));
        (parts, 0..9usize).prop_map(|(body, wrap)| match wrap {
            0 => format!("*{body}*"),
            1 => format!("_{body}_"),
            2 => format!("**{body}**"),
            3 => format!("__{body}__"),
            4 => format!("~~{body}~~"),
            5 => format!("[{body}](http://l.io/{wrap})"),
            6 => format!("![{body}](http://i.io/x.png)"),
            7 => format!("`{body}`"),
            _ => format!("***{body}***"),
        })
    })
}

/// Markdown of up to `max_parts` parts, cut to at most 64 KiB. Each part is a token, a plain
/// word or a nested fragment, picked from small generated pools: generating every part with
/// the recursive strategy would take seconds in debug builds.
fn markdown(max_parts: usize) -> impl Strategy<Value = String> {
    let fragments = prop::collection::vec(inline_fragment(), 1..12);
    let words = prop::collection::vec(plain_word(), 1..12);
    let picks = prop::collection::vec(any::<u32>(), 0..max_parts);
    (fragments, words, picks).prop_map(|(fragments, words, picks)| {
        let mut text = String::new();
        for pick in picks {
            let (kind, index) = (pick % 8, (pick / 8) as usize);
            text.push_str(match kind {
                0..=2 => &words[index % words.len()],
                3 => &fragments[index % fragments.len()],
                _ => TOKENS[index % TOKENS.len()],
            });
        }
        let mut end = text.len().min(64 * 1024);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text
    })
}

/// Mostly short documents, and some long enough to show any superlinear growth.
fn any_markdown() -> impl Strategy<Value = String> {
    prop_oneof![4 => markdown(64), 1 => markdown(16_000)]
}

/// Nested emphasis, the tracker's reproduction in general form: `depth` spans of `*`/`_`/`**`.
fn nested_emphasis() -> impl Strategy<Value = String> {
    const DELIMITERS: &[&str] = &["*", "_", "**", "~~"];
    let delimiter = proptest::sample::select(DELIMITERS);
    (prop::collection::vec(delimiter, 1..2000), plain_word()).prop_map(|(delims, word)| {
        let open: String = delims.iter().map(|d| format!("{d}{word} ")).collect();
        let close: String = delims.iter().rev().map(|d| format!(" {word}{d}")).collect();
        format!("{open}x{close}")
    })
}

/// Output bytes allowed per input byte. The costliest construct measured is lists nested on one
/// line (`- * - * … a`): each 2-byte `- ` opens a list, an item and the empty paragraph ADF
/// wants before a nested list, ~100 bytes, so ~49 bytes per input byte (down to 32 levels;
/// deeper ones flatten). Next come empty items `-\n` (~33), empty headings `#\n` (~26) and
/// single-letter lines `a\n` (~24: a text node and a hard break). Link targets copied onto
/// text nodes are capped by the converter at 4 bytes per input byte plus 64 KiB. 64 leaves
/// headroom, while the quadratic growth this guards against (126 MB from 18 KB before the fix)
/// exceeds it by far.
const BYTES_PER_INPUT_BYTE: usize = 64;
/// The converter's 64 KiB floor for link targets (up to 6 times that once JSON-escaped), and
/// the 100 KB of reference-link targets pulldown-cmark may expand even in a small input.
const FIXED_BYTES: usize = 512 * 1024;

/// Checks one conversion; `Err` says what is wrong.
fn check(markdown: &str) -> Result<(), String> {
    let adf = markdown_to_adf(markdown);
    let bytes = serialized_len(&adf);
    let limit = BYTES_PER_INPUT_BYTE * markdown.len() + FIXED_BYTES;
    if bytes > limit {
        return Err(format!(
            "{bytes} bytes of ADF from {} bytes",
            markdown.len()
        ));
    }
    if let Some(duplicate) = duplicate_mark(&adf) {
        return Err(duplicate);
    }
    match schema_errors(&adf) {
        Some(errors) => Err(format!("invalid ADF:\n{errors}\n{adf}")),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_markdown_gives_valid_linear_adf(markdown in any_markdown()) {
        if let Err(problem) = check(&markdown) {
            prop_assert!(false, "{problem}\nfor Markdown {markdown:?}");
        }
    }

    #[test]
    fn nested_emphasis_gives_valid_linear_adf(markdown in nested_emphasis()) {
        if let Err(problem) = check(&markdown) {
            prop_assert!(false, "{problem}\nfor Markdown of {} bytes", markdown.len());
        }
    }
}

// --- A fixed corpus -------------------------------------------------------------------------

const CORPUS: &[&str] = &[
    "",
    "   ",
    "plain text",
    "line one\nline two\r\nline three\n\nnext paragraph",
    "# H1\n## H2\n### H3\n#### H4\n##### H5\n###### H6\n####### not a heading",
    "Setext\n======\n\nSub\n---",
    "#",
    "**bold** *em* _em_ __bold__ ***both*** ~~strike~~ ~~**all *three***~~",
    "*a _b **c __d__ c** b_ a*",
    "`code` **`bold code`** *a `b` c* [`linked code`](http://x.io)",
    "[link](https://example.com) [titled](https://example.com \"The title\") [empty]()",
    "<https://auto.link/path?q=1> <me@example.com> www.not-a-link.com",
    "![alt text](https://x.io/a.png) ![](https://x.io/b.png) [![img](https://x.io/c.png)](https://x.io)",
    "[ref link][r] and [r]\n\n[r]: https://ref.io \"Ref\"",
    "- a\n- b\n  - c\n    - d\n      1. e\n      2. f\n- g",
    "1. one\n2. two\n\n   para in item\n\n3. three",
    "5. starts at five\n6. six",
    "- \n- x\n-\n\n  y",
    "- # heading in item\n- > quote in item\n- ```\n  code in item\n  ```\n- ---",
    "- [x] done\n- [ ] todo\n  - [ ] nested todo",
    "> quote\n> > nested quote\n>\n> - list in quote\n> # heading in quote\n> ```sh\n> ls\n> ```",
    ">",
    "> ---",
    "```rust\nfn main() {}\n```\n\n```\nno language\n```\n\n~~~ python extra words\nprint(1)\n~~~",
    "    indented code\n    second line",
    "```\n```",
    "| A | B |\n|---|:-:|\n| 1 | **2** |\n| `3` | [4](http://4.io) |",
    "|a|\n|-|\n||",
    "hard  \nbreak and\\\nbackslash break",
    "a\n\n---\n\nb\n\n***\n\n___",
    "<div>\n<b>html block</b>\n</div>\n\ninline <span>html</span> and <br> break",
    "<!-- comment -->",
    "&amp; &lt; &gt; &quot; &#35; &#x41; &nbsp; &#0; &#1;",
    "\\*not em\\* \\# \\[x\\]",
    "emoji 😀, accents é, CJK 漢字, zero width \u{200b}, tab\there, bell \u{7}",
    "x^2^ and H~2~O",
    "[^1] footnote-ish\n\n[^1]: note",
    "**unclosed *emphasis and [unclosed link(",
    "`unclosed code",
];

#[test]
fn corpus_gives_valid_adf() {
    let deep_list = "- ".repeat(40) + "deep";
    let deep_quote = "> ".repeat(40) + "deep";
    let everything = CORPUS.join("\n\n");
    let extra = [deep_list.as_str(), deep_quote.as_str(), everything.as_str()];
    let mut failures = Vec::new();
    for markdown in CORPUS.iter().chain(&extra) {
        if let Err(problem) = check(markdown) {
            failures.push(format!("{markdown:?}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_schema_rejects_invalid_adf() {
    let bad = [
        json!({"type": "doc", "version": 1, "content": [{"type": "text", "text": "bare"}]}),
        json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": ""}]}
        ]}),
        json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "x", "marks": [{"type": "code"}, {"type": "strong"}]}
        ]}]}),
    ];
    for adf in &bad {
        assert!(schema_errors(adf).is_some(), "accepted {adf}");
    }
    assert_eq!(schema_errors(&markdown_to_adf("ok")), None);
}

// --- What the Cloud tools send ----------------------------------------------------------------

const RICH: &str = "\
# Summary

Some **bold**, *em*, ~~gone~~, `code` and a [link](https://example.com \"t\").

- item with *nested _em_ and **marks***
  1. ordered
     - [ ] task
> quoted `code`
> - list in quote

```rust
let x = 1;
```

| a | b |
|---|---|
| 1 | 2 |

![shot](https://x.io/s.png) <https://auto.io>  
<b>html</b>

---";

/// Every ADF document in `value`, wherever a request put it.
fn adf_documents(value: &Value) -> Vec<&Value> {
    match value {
        Value::Object(map) if map.get("type") == Some(&json!("doc")) => vec![value],
        Value::Object(map) => map.values().flat_map(adf_documents).collect(),
        Value::Array(items) => items.iter().flat_map(adf_documents).collect(),
        _ => Vec::new(),
    }
}

async fn answer(server: &MockServer, verb: &str, api_path: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(cloud(api_path)))
        .respond_with(response)
        .mount(server)
        .await;
}

fn json_answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

#[tokio::test]
async fn cloud_tools_send_valid_adf() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(json_answer(200, "cloud/accessible-resources.json"))
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "issue",
        json_answer(201, "jira/create-issue.json"),
    )
    .await;
    answer(&server, "PUT", "issue/ED-1", ResponseTemplate::new(204)).await;
    let transitions = json_answer(200, "jira/transitions.json");
    answer(&server, "GET", "issue/ED-1/transitions", transitions).await;
    let transitioned = ResponseTemplate::new(204);
    answer(&server, "POST", "issue/ED-1/transitions", transitioned).await;
    let comment = json_answer(201, "jira/comment.json");
    answer(&server, "POST", "issue/ED-1/comment", comment).await;
    let worklog = json_answer(201, "jira/worklog.json");
    answer(&server, "POST", "issue/ED-1/worklog", worklog).await;
    answer(&server, "POST", "issueLink", ResponseTemplate::new(201)).await;

    let calls = [
        (
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "New", "description": RICH}),
        ),
        (
            "edit_issue",
            json!({"issue_key": "ED-1", "description": RICH}),
        ),
        (
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "done", "comment": RICH}),
        ),
        ("add_comment", json!({"issue_key": "ED-1", "body": RICH})),
        (
            "add_worklog",
            json!({"issue_key": "ED-1", "time_spent": "1h", "comment": RICH}),
        ),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-2", "outward_issue": "ED-1", "comment": RICH}),
        ),
    ];
    for (tool, args) in &calls {
        ok(&client, tool, args.clone()).await;
    }

    let requests = server.received_requests().await.unwrap_or_default();
    let bodies: Vec<Value> = requests
        .iter()
        .filter_map(|request| serde_json::from_slice(&request.body).ok())
        .collect();
    let documents: Vec<&Value> = bodies.iter().flat_map(adf_documents).collect();
    assert_eq!(documents.len(), calls.len(), "one document per tool call");
    for adf in documents {
        let text = adf.to_string();
        assert!(
            text.contains("nested ") && text.contains("https://auto.io"),
            "{text}"
        );
        assert_eq!(schema_errors(adf), None, "Jira would reject {adf}");
        assert_eq!(duplicate_mark(adf), None);
    }
}

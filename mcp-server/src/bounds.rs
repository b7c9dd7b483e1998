//! Bounds on what a tool result carries: a Jira description, comment or
//! custom field can be megabytes, which would flood the model's context.
//! Each text field is cut at a limit, with a visible marker that says how
//! much was left out and how to get it.

use serde_json::Value;

/// Characters of each text field shown unless the caller asks for more.
pub const DEFAULT_TEXT_CHARS: u32 = 8_000;
/// The most a caller may ask for per field.
pub const MAX_TEXT_CHARS: u32 = 1_000_000;

/// How long a text field may be, and what to call to read all of one.
#[derive(Clone, Copy, Debug)]
pub struct TextLimit<'a> {
    /// Characters per field.
    pub chars: u32,
    /// The tool that returns the whole field with a larger `max_text_length`.
    pub tool: &'a str,
    /// The issue the text belongs to, for the marker's advice.
    pub issue_key: &'a str,
}

impl TextLimit<'_> {
    /// `text`, or its first `chars` characters and a marker.
    pub fn text(&self, text: String) -> String {
        let limit = self.chars as usize;
        let Some((cut, _)) = text.char_indices().nth(limit) else {
            return text;
        };
        let total = text.chars().count();
        let wanted = total.min(MAX_TEXT_CHARS as usize);
        format!(
            "{}\n[… {} more characters not shown. Call {} with issue_key `{}` and \
             max_text_length {wanted} to read all of this field]",
            &text[..cut],
            total - limit,
            self.tool,
            self.issue_key,
        )
    }

    /// A field's value, with strings cut and other values cut as their JSON
    /// text when that is longer than the limit.
    pub fn value(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Null | Value::Bool(_) | Value::Number(_) => value,
            other => {
                let json = other.to_string();
                if json.len() <= self.chars as usize {
                    other
                } else {
                    Value::String(self.text(json))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limit(chars: u32) -> TextLimit<'static> {
        TextLimit {
            chars,
            tool: "get_issue",
            issue_key: "ED-1",
        }
    }

    #[test]
    fn short_text_is_untouched_and_long_text_is_cut_with_a_marker() {
        assert_eq!(limit(10).text("short".into()), "short");
        let cut = limit(10).text("é".repeat(25));
        assert!(cut.starts_with(&"é".repeat(10)), "{cut}");
        assert!(
            cut.contains("15 more characters") && cut.contains("max_text_length 25"),
            "{cut}"
        );
    }

    #[test]
    fn large_structured_values_become_cut_json_text() {
        let big = json!({"options": vec!["value"; 100]});
        let Value::String(cut) = limit(50).value(big) else {
            panic!("not cut");
        };
        assert!(cut.starts_with("{\"options\":"), "{cut}");
        assert_eq!(limit(50).value(json!([1, 2])), json!([1, 2]));
    }
}

//! Checks of tool arguments before any request is sent: a malformed key or
//! an out-of-range number gets an error that says what is expected, and
//! Jira is never asked.

use crate::tool_error::ToolError;

/// Jira allows project keys of up to 255 characters (10 by default).
const MAX_PROJECT_KEY: usize = 255;

/// An issue key (`ED-12`, case-insensitive) or a numeric issue id.
pub fn issue_key(key: &str) -> Result<&str, ToolError> {
    let valid = match key.rsplit_once('-') {
        Some((project, number)) => is_project_key(project) && is_positive_number(number),
        None => is_positive_number(key),
    };
    if valid {
        Ok(key)
    } else {
        Err(ToolError::new(format!(
            "`{}` is not an issue key: give a key like `ED-12` (project key, a hyphen, a \
             number) or a numeric issue id",
            shown(key)
        )))
    }
}

/// A project key (`ED`: a letter, then letters, digits or underscores) or a
/// numeric project id.
pub fn project_key(key: &str) -> Result<&str, ToolError> {
    if is_project_key(key) || is_positive_number(key) {
        Ok(key)
    } else {
        Err(ToolError::new(format!(
            "`{}` is not a project key: give a key like `ED` (a letter, then letters, digits \
             or underscores, at most {MAX_PROJECT_KEY} characters) or a numeric project id; \
             list_projects shows them",
            shown(key)
        )))
    }
}

/// `value` if it lies in `range`, else an error naming the argument.
pub fn in_range(
    name: &str,
    value: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ToolError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ToolError::new(format!(
            "`{name}` must be between {} and {}, not {value}",
            range.start(),
            range.end()
        )))
    }
}

fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= MAX_PROJECT_KEY
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_positive_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The start of a rejected value, so that a 10 MB argument is not echoed.
fn shown(value: &str) -> String {
    const SHOWN: usize = 40;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids_pass() {
        for key in ["ED-1", "ed-12", "A_B2-99", "10042"] {
            assert_eq!(issue_key(key).unwrap(), key);
        }
        for key in ["ED", "A1_B", "10000"] {
            assert_eq!(project_key(key).unwrap(), key);
        }
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them_whole() {
        let huge = "A".repeat(10 * 1024 * 1024);
        for key in [
            "",
            "..",
            "../ED-1",
            "ED-",
            "-1",
            "ED-1/comment",
            "ED-1?x=1",
            "1ED-2",
            huge.as_str(),
        ] {
            let err = issue_key(key).unwrap_err();
            assert!(err.message.contains("not an issue key"), "{key}");
            assert!(err.message.len() < 400);
        }
        for key in ["", "..", "E D", "1ED", "ED/..", huge.as_str()] {
            assert!(project_key(key).is_err(), "{key}");
        }
    }

    #[test]
    fn out_of_range_numbers_are_named() {
        assert_eq!(in_range("max_results", 5, 1..=100).unwrap(), 5);
        let err = in_range("max_results", 500, 1..=100).unwrap_err();
        assert!(
            err.message
                .contains("`max_results` must be between 1 and 100, not 500")
        );
        assert!(in_range("max_results", 0, 1..=100).is_err());
    }
}

//! Scoping a user's JQL to the allowed projects: the query is wrapped in
//! parentheses behind a `project in (…)` clause, with its `ORDER BY` kept at
//! the end, so that an `OR` cannot reach past the allowlist. A query whose
//! parentheses or quotes do not balance is refused: it could close the
//! wrapping parenthesis itself.

use crate::tool_error::ToolError;

/// `jql` limited to `projects` (keys, already validated).
pub fn scoped(jql: &str, projects: &[String]) -> Result<String, ToolError> {
    let (filter, order) = split_order_by(jql)?;
    let keys: Vec<String> = projects.iter().map(|k| format!("\"{k}\"")).collect();
    let mut out = format!("project in ({})", keys.join(", "));
    if !filter.trim().is_empty() {
        out.push_str(&format!(" AND ({})", filter.trim()));
    }
    if let Some(order) = order {
        out.push_str(&format!(" {}", order.trim()));
    }
    Ok(out)
}

/// The query before its top-level `ORDER BY`, and the `ORDER BY` clause.
fn split_order_by(jql: &str) -> Result<(&str, Option<&str>), ToolError> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut order_at = None;
    for (i, c) in jql.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1).ok_or_else(unbalanced)?;
            }
            (None, _) if depth == 0 && order_at.is_none() && starts_order_by(jql, i) => {
                order_at = Some(i);
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return Err(unbalanced());
    }
    Ok(match order_at {
        Some(i) => (&jql[..i], Some(&jql[i..])),
        None => (jql, None),
    })
}

/// True when `ORDER BY` starts at byte `i` as whole words.
fn starts_order_by(jql: &str, i: usize) -> bool {
    let before_ok = jql[..i]
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || c == ')');
    let Some(after_order) = strip_word(&jql[i..], "order") else {
        return false;
    };
    let by = after_order.trim_start();
    before_ok
        && by.len() < after_order.len()
        && strip_word(by, "by")
            .is_some_and(|tail| tail.is_empty() || tail.starts_with(char::is_whitespace))
}

/// `text` after a leading `word` (any case), if it starts with it.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    head.eq_ignore_ascii_case(word).then(|| &text[word.len()..])
}

fn unbalanced() -> ToolError {
    ToolError::new(
        "the JQL's parentheses or quotes do not balance; fix the query (this server limits \
         searches to its allowed projects and cannot scope an unbalanced query)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(jql: &str) -> Result<String, ToolError> {
        scoped(jql, &["ED".to_string(), "OPS".to_string()])
    }

    #[test]
    fn or_cannot_escape_the_project_clause() {
        assert_eq!(
            scope("project = ED OR project = SECRET").unwrap(),
            "project in (\"ED\", \"OPS\") AND (project = ED OR project = SECRET)"
        );
    }

    #[test]
    fn order_by_stays_last() {
        assert_eq!(
            scope("status = Done OR project = SECRET order   by created DESC").unwrap(),
            "project in (\"ED\", \"OPS\") AND (status = Done OR project = SECRET) order   by created DESC"
        );
        assert_eq!(
            scope("ORDER BY updated").unwrap(),
            "project in (\"ED\", \"OPS\") ORDER BY updated"
        );
        assert_eq!(scope("").unwrap(), "project in (\"ED\", \"OPS\")");
    }

    #[test]
    fn quoted_text_is_not_syntax() {
        assert_eq!(
            scope(r#"summary ~ "order by ) OR (x" ORDER BY key"#).unwrap(),
            r#"project in ("ED", "OPS") AND (summary ~ "order by ) OR (x") ORDER BY key"#
        );
        assert!(scope(r#"summary ~ "a \" ) OR project = SECRET""#).is_ok());
        // Words that only look like the keyword are not the clause.
        assert!(
            scope("reorder by = 1")
                .unwrap()
                .ends_with("(reorder by = 1)")
        );
        assert!(scope("order byx = 1").unwrap().ends_with("(order byx = 1)"));
    }

    #[test]
    fn unbalanced_queries_are_refused() {
        for jql in [
            "x = 1) OR (project = SECRET",
            "x = 1) OR project = SECRET ORDER BY key",
            "(x = 1",
            "summary ~ \"open",
            "x = 1 -- ) OR (project = SECRET",
        ] {
            assert!(scope(jql).is_err(), "{jql}");
        }
    }

    #[test]
    fn comment_like_text_stays_inside_the_parentheses() {
        let scoped = scope("status = Done /* OR project = SECRET */").unwrap();
        assert_eq!(
            scoped,
            "project in (\"ED\", \"OPS\") AND (status = Done /* OR project = SECRET */)"
        );
    }
}

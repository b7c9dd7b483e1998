//! The HTML this server shows (the consent page and error pages): escaping,
//! the page frame, and the headers that keep it from being framed, cached
//! or made to run scripts.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::errors::no_store;

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// True for a character that changes how text around it is shown rather
/// than showing itself: controls (Cc), format characters (Cf: the
/// right-to-left override U+202E, zero-width spaces and joiners) and the
/// line and paragraph separators (Zl, Zp). A client's name or redirect URI
/// holding one could show the user something other than what it is. (The
/// standard library knows only Cc; Cf has some 170 scattered members.)
pub fn is_invisible(c: char) -> bool {
    use unicode_general_category::{GeneralCategory, get_general_category};
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `text` with every [`is_invisible`] character replaced by U+FFFD, so
/// that it shows.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_invisible) {
        text.chars()
            .map(|c| if is_invisible(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// A page: `title` (text) and `body` (HTML the caller escaped).
pub fn frame(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n<h1>{title}</h1>\n\
         {body}\n</main></body></html>\n",
        title = escape(title),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#172b4d}\
main{max-width:36rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px}\
code{word-break:break-all}button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}";

/// An HTML answer with the security headers. `form_targets` are the
/// origins a form on this page may end up at (a redirect after a POST
/// counts for `form-action` in some browsers).
pub fn html(status: StatusCode, page: String, form_targets: &[String]) -> Response {
    let mut response = (status, Html(page)).into_response();
    let headers = response.headers_mut();
    let mut form_action = String::from("'self'");
    for origin in form_targets {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(headers);
    response
}

/// An error page: nothing is redirected, the user reads what to do.
pub fn error(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!("<p>{}</p>", escape(message));
    html(status, frame(title, &body), &[])
}

/// The origin of a URL (`scheme://host[:port]`), for `form-action`.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_and_separator_characters_are_made_visible() {
        for c in [
            '\u{202E}', '\u{200B}', '\u{2028}', '\u{2029}', '\u{1b}', '\u{FEFF}',
        ] {
            assert!(super::is_invisible(c), "{c:?}");
        }
        for c in ['a', 'с', ' ', '€', '中'] {
            assert!(!super::is_invisible(c), "{c:?}");
        }
        assert_eq!(super::visible("abc\u{202E}def"), "abc\u{FFFD}def");
        assert_eq!(super::visible("plain"), "plain");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/script&gt;"
        );
    }
}

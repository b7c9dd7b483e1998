//! Reading the authorization server's redirect: from the loopback listener's
//! request, or from what a user pasted (the redirected URL, a query string,
//! or the code followed by its state).

use oauth2::AuthorizationCode;
use url::Url;

use crate::error::{Error, Result, describe};

/// What a redirect carried, once its `state` matched.
#[derive(Debug)]
pub(crate) enum Callback {
    /// The user granted access.
    Code(AuthorizationCode),
    /// The user (or a policy) refused: `error` and `error_description`.
    Denied {
        error: String,
        description: Option<String>,
    },
}

impl Callback {
    /// The code, or the denial as an error.
    pub(crate) fn into_code(self) -> Result<AuthorizationCode> {
        match self {
            Callback::Code(code) => Ok(code),
            Callback::Denied { error, description } => Err(Error::AuthorizationDenied {
                error,
                description: describe(description.as_deref()),
            }),
        }
    }
}

/// Why a redirect was not accepted; the listener answers it and keeps waiting.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    MissingState,
    WrongState,
    NoCode,
}

impl Rejected {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Rejected::MissingState => {
                "The redirect carries no state parameter, so it cannot be trusted."
            }
            Rejected::WrongState => {
                "The redirect's state does not match this login (an old or forged link). Use the newest authorization URL."
            }
            Rejected::NoCode => "The redirect carries neither a code nor an error.",
        }
    }
}

/// Reads a redirect's query string, checking `state` first.
pub(crate) fn parse_query(query: &str, expected_state: &str) -> Result<Callback, Rejected> {
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        *slot = Some(value.into_owned());
    }
    match state {
        None => return Err(Rejected::MissingState),
        Some(state) if state != expected_state => return Err(Rejected::WrongState),
        Some(_) => {}
    }
    match (code, error) {
        (_, Some(error)) => Ok(Callback::Denied { error, description }),
        (Some(code), None) => Ok(Callback::Code(AuthorizationCode::new(code))),
        (None, None) => Err(Rejected::NoCode),
    }
}

/// Reads what a user pasted to complete a login by hand.
pub(crate) fn parse_pasted(input: &str, expected_state: &str) -> Result<AuthorizationCode> {
    let input = input.trim();
    let query = if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).map_err(|e| {
            Error::InvalidCallback(format!(
                "the pasted URL is not valid ({e}); copy the whole address from the browser"
            ))
        })?;
        url.query().unwrap_or_default().to_string()
    } else if input.contains("code=") || input.contains("error=") {
        input.trim_start_matches('?').to_string()
    } else {
        let mut parts = input.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(code), Some(state), None) => url::form_urlencoded::Serializer::new(String::new())
                .append_pair("code", code)
                .append_pair("state", state)
                .finish(),
            _ => {
                return Err(Error::InvalidCallback(
                    "paste the whole URL the browser was redirected to, or the code followed by \
                     a space and the state from that URL"
                        .into(),
                ));
            }
        }
    };
    parse_query(&query, expected_state)
        .map_err(|rejected| Error::InvalidCallback(rejected.message().into()))?
        .into_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_url_query_and_code_with_state_are_accepted() {
        for input in [
            "http://localhost:8080/callback?code=abc&state=s1",
            "  code=abc&state=s1 ",
            "?state=s1&code=abc",
            "abc s1",
        ] {
            assert_eq!(
                parse_pasted(input, "s1").unwrap().secret(),
                "abc",
                "{input}"
            );
        }
    }

    #[test]
    fn pasted_input_with_the_wrong_or_no_state_is_refused() {
        assert!(parse_pasted("http://localhost/cb?code=abc&state=other", "s1").is_err());
        assert!(parse_pasted("http://localhost/cb?code=abc", "s1").is_err());
        assert!(parse_pasted("abc", "s1").is_err());
    }

    #[test]
    fn a_denial_becomes_an_error_naming_it() {
        let err = parse_pasted(
            "http://localhost/cb?error=access_denied&error_description=User+said+no&state=s1",
            "s1",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`access_denied`: User said no"),
            "{err}"
        );
    }
}

//! Client authentication at `/token` and `/revoke`, per registration:
//! `none` (a public client names itself with `client_id`),
//! `client_secret_post` or `client_secret_basic`.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::errors::OAuthError;
use super::pkce::constant_time_eq;
use crate::team::store::{ClientAuth, ClientRecord, TeamStore, TokenHash};

/// Credentials found in a request.
struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

/// Finds the client a request authenticates as, checking its secret the way
/// it registered.
pub async fn authenticate_client(
    store: &dyn TeamStore,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientRecord, OAuthError> {
    let presented = presented(headers, form)?;
    let basic = presented.basic;
    let unknown = || {
        OAuthError::invalid_client(
            "unknown client, or wrong credentials: register the client again (POST /register)",
            basic,
        )
    };
    let client = store
        .client(&presented.client_id)
        .await?
        .ok_or_else(unknown)?;
    match &client.auth {
        ClientAuth::None => {
            if presented.secret.is_some() {
                return Err(OAuthError::invalid_client(
                    "this client registered as public (token_endpoint_auth_method=none): send \
                     client_id only, without a secret",
                    basic,
                ));
            }
        }
        ClientAuth::Secret {
            method,
            secret_hash,
        } => {
            let used = if basic {
                "client_secret_basic"
            } else {
                "client_secret_post"
            };
            let Some(secret) = presented.secret else {
                return Err(OAuthError::invalid_client(
                    format!("this client must authenticate with {method}: send its client_secret"),
                    basic,
                ));
            };
            if used != method {
                return Err(OAuthError::invalid_client(
                    format!("this client registered {method}; it sent its secret with {used}"),
                    basic,
                ));
            }
            let hash = TokenHash::of(&secret);
            if !constant_time_eq(hash.as_str().as_bytes(), secret_hash.as_str().as_bytes()) {
                return Err(unknown());
            }
        }
    }
    Ok(client)
}

fn presented(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Presented, OAuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let (id, secret) = parse_basic(value.to_str().unwrap_or_default()).ok_or_else(|| {
            OAuthError::invalid_client(
                "the Authorization header is not HTTP Basic with client_id:client_secret",
                true,
            )
        })?;
        if form.contains_key("client_secret") {
            return Err(OAuthError::invalid_request(
                "send the client secret once: in the Authorization header or in the body, not both",
            ));
        }
        if form.get("client_id").is_some_and(|form_id| *form_id != id) {
            return Err(OAuthError::invalid_client(
                "client_id in the body differs from the one in the Authorization header",
                true,
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            basic: true,
        });
    }
    let client_id = form.get("client_id").filter(|id| !id.is_empty()).ok_or_else(|| {
        OAuthError::invalid_client(
            "no client credentials: send client_id (and client_secret for a confidential client)",
            false,
        )
    })?;
    Ok(Presented {
        client_id: client_id.clone(),
        secret: form.get("client_secret").cloned(),
        basic: false,
    })
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

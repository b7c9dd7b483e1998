//! The versioned JSON layout of a stored token set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::token::{Site, TokenSet};

/// The format version this crate writes and reads.
pub(crate) const VERSION: u32 = 1;

/// Only the version, read first so that a newer file gets a clear error.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

/// Version 1 of the token file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredV1 {
    version: u32,
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    /// Unix seconds.
    obtained_at: u64,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site: Option<Site>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Clamped far in the future (year ~5000), so a hand-edited file cannot
/// overflow `SystemTime`.
fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.min(100_000_000_000))
}

impl From<&TokenSet> for StoredV1 {
    fn from(t: &TokenSet) -> StoredV1 {
        StoredV1 {
            version: VERSION,
            access_token: t.access_token.secret().clone(),
            refresh_token: t.refresh_token.as_ref().map(|r| r.secret().clone()),
            expires_at: t.expires_at.map(unix),
            obtained_at: unix(t.obtained_at),
            scopes: t.scopes.clone(),
            site: t.site.clone(),
        }
    }
}

impl From<StoredV1> for TokenSet {
    fn from(s: StoredV1) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(s.access_token),
            refresh_token: s.refresh_token.map(RefreshToken::new),
            expires_at: s.expires_at.map(from_unix),
            obtained_at: from_unix(s.obtained_at),
            scopes: s.scopes,
            site: s.site,
        }
    }
}

/// Describes a JSON error by kind and position only: the message of a type
/// error can quote a value, and values here are secrets.
pub(crate) fn describe_json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "JSON of the wrong shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// Why bytes did not decode into a token set.
pub(crate) enum DecodeError {
    /// Not JSON, or JSON of another shape.
    Corrupt(String),
    /// A format version this crate does not read.
    Version(u32),
}

/// Reads a stored token set, checking the version first.
pub(crate) fn decode(bytes: &[u8]) -> Result<TokenSet, DecodeError> {
    let corrupt = |e: serde_json::Error| DecodeError::Corrupt(describe_json_error(&e));
    let Versioned { version } = serde_json::from_slice(bytes).map_err(corrupt)?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let stored: StoredV1 = serde_json::from_slice(bytes).map_err(corrupt)?;
    Ok(stored.into())
}

/// Writes a token set in the current format.
pub(crate) fn encode(tokens: &TokenSet) -> Vec<u8> {
    // Strings and integers only: serialization cannot fail.
    serde_json::to_vec_pretty(&StoredV1::from(tokens)).unwrap_or_default()
}

//! The token set: what the token endpoint hands out, plus what we must remember
//! about it (when it expires, which site it belongs to).

use std::time::{Duration, SystemTime};

use oauth2::{AccessToken, RefreshToken, TokenResponse};
use url::Url;

/// How long a token minted moments ago counts as fresh. Jira rejecting a fresh
/// token is not about expiry, so refreshing again would only burn a rotation.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(30);

/// The shortest lifetime a token is credited with, whatever `expires_in`
/// said. A server that answers `expires_in: 0` (or 1) would otherwise make
/// every request refresh, burning a rotation each time; if Jira rejects the
/// token sooner, the 401 path refreshes it once.
pub const MIN_LIFETIME: Duration = FRESH_FOR;

/// The Jira site a token set was issued for.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Site {
    /// Atlassian Cloud id (`ex/jira/{cloud_id}`); `None` on Data Center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    /// The site's own URL, e.g. `https://your-site.atlassian.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    /// The site's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.url, &self.cloud_id) {
            (Some(url), Some(id)) => write!(f, "{url} (cloud id {id})"),
            (Some(url), None) => write!(f, "{url}"),
            (None, Some(id)) => write!(f, "cloud id {id}"),
            (None, None) => f.write_str("an unnamed site"),
        }
    }
}

/// One access token, the refresh token that came with it, and their metadata.
///
/// `Debug` shows everything but the secrets, which print as `[redacted]`.
#[derive(Clone, Debug)]
pub struct TokenSet {
    /// The bearer token sent to Jira.
    pub access_token: AccessToken,
    /// The refresh token; `None` for the client-credentials grant.
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires; `None` if the server did not say.
    pub expires_at: Option<SystemTime>,
    /// When the request that produced this token was sent.
    pub obtained_at: SystemTime,
    /// The scopes granted (or requested, if the server did not echo them).
    pub scopes: Vec<String>,
    /// The site this token set belongs to, once known.
    pub site: Option<Site>,
}

impl TokenSet {
    /// Builds a token set from a token endpoint response.
    ///
    /// `sent_at` is when the request was sent, so that `expires_in` is never
    /// counted from a later moment than the server counted it from.
    /// `previous` supplies the refresh token, scopes and site when the response
    /// leaves them out (a response without `refresh_token` keeps the old one).
    pub fn from_response<R: TokenResponse>(
        response: &R,
        sent_at: SystemTime,
        previous: Option<&TokenSet>,
        requested_scopes: &[String],
    ) -> TokenSet {
        let scopes = match response.scopes() {
            Some(scopes) => scopes.iter().map(|s| s.to_string()).collect(),
            None => previous
                .map(|p| p.scopes.clone())
                .unwrap_or_else(|| requested_scopes.to_vec()),
        };
        TokenSet {
            access_token: response.access_token().clone(),
            refresh_token: response
                .refresh_token()
                .cloned()
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            // checked: `expires_in` comes from the network and may be absurd.
            expires_at: response
                .expires_in()
                .and_then(|ttl| sent_at.checked_add(ttl)),
            obtained_at: sent_at,
            scopes,
            site: previous.and_then(|p| p.site.clone()),
        }
    }

    /// True when the access token expires within `skew` of `now`.
    ///
    /// The skew never exceeds half the token's lifetime, so a short-lived token
    /// is still used for a while; and the lifetime counts as at least
    /// [`MIN_LIFETIME`].
    pub fn expires_within(&self, skew: Duration, now: SystemTime) -> bool {
        let Some(expires_at) = self.credited_expiry() else {
            return false;
        };
        let lifetime = expires_at
            .duration_since(self.obtained_at)
            .unwrap_or_default();
        let skew = skew.min(lifetime / 2);
        match expires_at.checked_sub(skew) {
            Some(refresh_at) => now >= refresh_at,
            None => true,
        }
    }

    /// The expiry used for refresh decisions: `expires_at`, but no earlier
    /// than [`MIN_LIFETIME`] after the token was obtained.
    pub(crate) fn credited_expiry(&self) -> Option<SystemTime> {
        let expires_at = self.expires_at?;
        Some(match self.obtained_at.checked_add(MIN_LIFETIME) {
            Some(floor) => expires_at.max(floor),
            None => expires_at,
        })
    }

    /// True when this token was minted less than a few seconds before `now`.
    pub(crate) fn is_fresh(&self, now: SystemTime) -> bool {
        now.duration_since(self.obtained_at)
            .map(|age| age < FRESH_FOR)
            .unwrap_or(true)
    }

    /// True when both sets carry the same access token.
    pub(crate) fn same_access_token(&self, other: &TokenSet) -> bool {
        self.access_token.secret() == other.access_token.secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(lifetime: u64) -> TokenSet {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        TokenSet {
            access_token: AccessToken::new("at".into()),
            refresh_token: None,
            expires_at: Some(now + Duration::from_secs(lifetime)),
            obtained_at: now,
            scopes: vec![],
            site: None,
        }
    }

    #[test]
    fn skew_window_triggers_refresh_before_expiry() {
        let t = token(3600);
        let skew = Duration::from_secs(300);
        assert!(!t.expires_within(skew, t.obtained_at + Duration::from_secs(3299)));
        assert!(t.expires_within(skew, t.obtained_at + Duration::from_secs(3300)));
    }

    #[test]
    fn skew_is_capped_at_half_the_lifetime() {
        let t = token(60);
        let skew = Duration::from_secs(300);
        assert!(!t.expires_within(skew, t.obtained_at + Duration::from_secs(29)));
        assert!(t.expires_within(skew, t.obtained_at + Duration::from_secs(30)));
    }

    #[test]
    fn a_token_counts_as_living_at_least_the_minimum_lifetime() {
        let skew = Duration::from_secs(300);
        for lifetime in [0, 1, 5] {
            let t = token(lifetime);
            let half = MIN_LIFETIME / 2;
            assert!(!t.expires_within(skew, t.obtained_at + half - Duration::from_secs(1)));
            assert!(t.expires_within(skew, t.obtained_at + half));
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut t = token(10);
        t.access_token = AccessToken::new("super-secret-access".into());
        t.refresh_token = Some(RefreshToken::new("super-secret-refresh".into()));
        let shown = format!("{t:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
    }
}

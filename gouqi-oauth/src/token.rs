//! The token set: what the token endpoint hands out, plus what we must remember
//! about it (when it expires, which site it belongs to).

use std::time::{Duration, SystemTime};

use oauth2::{AccessToken, RefreshToken, TokenResponse};
use url::Url;

/// How long a token minted moments ago counts as fresh, if it is also still
/// short of its stated expiry (see [`TokenSet::rejected_while_fresh`]).
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(30);

/// The refresh-ahead margin is at most this fraction (1/12) of a token's
/// stated lifetime: Atlassian's default of 5 minutes of a 1-hour token,
/// scaled down for shorter tokens. A token is therefore always used for at
/// least 11/12 of its lifetime, which spaces proactive refreshes at least that
/// far apart; a skew larger than the lifetime never means a refresh per call.
pub(crate) const MAX_SKEW_SHARE: u32 = 12;

/// A 401 this close to the stated expiry is taken for expiry: `expires_in`
/// is whole seconds, and servers that round their own clock (a JWT's `exp`)
/// end a token up to a second sooner than it says.
pub(crate) const EXPIRY_LEEWAY: Duration = Duration::from_secs(1);

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

    /// When the access token is due for a refresh: its stated expiry minus
    /// the refresh-ahead margin, which is `skew` but at most
    /// 1/12 of the stated lifetime. A token is never due
    /// later than its stated expiry: no lifetime is ever credited beyond it.
    ///
    /// `None` when the server stated no lifetime: no `expires_in`, or
    /// `expires_in: 0`, which would make the token dead on arrival and is
    /// taken to mean "not stated" (the token is used until Jira rejects it,
    /// then refreshed once), so that it cannot make every request refresh.
    pub fn refresh_at(&self, skew: Duration) -> Option<SystemTime> {
        let expires_at = self.expires_at?;
        match expires_at.duration_since(self.obtained_at) {
            Ok(lifetime) if lifetime.is_zero() => None,
            Ok(lifetime) => {
                let margin = skew.min(lifetime / MAX_SKEW_SHARE);
                Some(expires_at.checked_sub(margin).unwrap_or(self.obtained_at))
            }
            // Expiring before it was obtained: a damaged record, so expired.
            Err(_) => Some(expires_at),
        }
    }

    /// True when the access token is due for a refresh at `now` (see
    /// [`TokenSet::refresh_at`]).
    pub fn expires_within(&self, skew: Duration, now: SystemTime) -> bool {
        self.refresh_at(skew).is_some_and(|due| now >= due)
    }

    /// True when Jira rejecting this token at `now` cannot be its expiry: it
    /// was minted under [`FRESH_FOR`] ago *and* is more than
    /// [`EXPIRY_LEEWAY`] short of its stated expiry (or no expiry was
    /// stated). A token rejected past (or within a second of) its stated
    /// expiry has simply expired, whatever its age.
    pub(crate) fn rejected_while_fresh(&self, now: SystemTime) -> bool {
        let young = now
            .duration_since(self.obtained_at)
            .map(|age| age < FRESH_FOR)
            .unwrap_or(true);
        let before_expiry = match self.refresh_at(Duration::ZERO) {
            Some(expires_at) => now
                .checked_add(EXPIRY_LEEWAY)
                .is_some_and(|later| later < expires_at),
            None => true,
        };
        young && before_expiry
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
    fn skew_is_capped_at_a_twelfth_of_the_lifetime() {
        let t = token(60);
        let skew = Duration::from_secs(300);
        assert!(!t.expires_within(skew, t.obtained_at + Duration::from_millis(54_999)));
        assert!(t.expires_within(skew, t.obtained_at + Duration::from_secs(55)));
    }

    #[test]
    fn a_short_token_is_used_until_just_before_its_stated_expiry_and_never_past_it() {
        let skew = Duration::from_secs(300);
        for lifetime in [1, 2, 5, 8, 29] {
            let t = token(lifetime);
            let stated = Duration::from_secs(lifetime);
            let due = stated - stated / MAX_SKEW_SHARE;
            let at = |d: Duration| t.obtained_at + d;
            assert!(
                !t.expires_within(skew, at(due - Duration::from_millis(1))),
                "{lifetime}"
            );
            assert!(t.expires_within(skew, at(due)), "{lifetime}");
            assert!(t.expires_within(skew, at(stated)), "{lifetime}");
            assert!(t.expires_within(skew, at(stated * 10)), "{lifetime}");
        }
    }

    #[test]
    fn a_zero_lifetime_counts_as_not_stated() {
        let t = token(0);
        assert_eq!(t.refresh_at(Duration::from_secs(300)), None);
        assert!(!t.expires_within(Duration::ZERO, t.obtained_at + Duration::from_secs(3600)));
    }

    #[test]
    fn a_token_expiring_before_it_was_obtained_is_expired() {
        let mut t = token(10);
        t.expires_at = Some(t.obtained_at - Duration::from_secs(1));
        assert!(t.expires_within(Duration::ZERO, t.obtained_at));
    }

    #[test]
    fn a_rejection_is_fresh_only_when_young_and_short_of_the_stated_expiry() {
        let short = token(8);
        let at = |d: u64| short.obtained_at + Duration::from_millis(d);
        assert!(short.rejected_while_fresh(at(2_000)));
        assert!(short.rejected_while_fresh(at(6_999)));
        // Within a second of the stated expiry, or past it: expired.
        assert!(!short.rejected_while_fresh(at(7_000)));
        assert!(!short.rejected_while_fresh(at(8_500)));
        assert!(!short.rejected_while_fresh(at(60_000)));

        let long = token(3600);
        assert!(long.rejected_while_fresh(long.obtained_at + Duration::from_secs(29)));
        assert!(!long.rejected_while_fresh(long.obtained_at + Duration::from_secs(30)));

        let mut unstated = token(0);
        assert!(unstated.rejected_while_fresh(unstated.obtained_at + Duration::from_secs(29)));
        unstated.expires_at = None;
        assert!(unstated.rejected_while_fresh(unstated.obtained_at + Duration::from_secs(29)));
        assert!(!unstated.rejected_while_fresh(unstated.obtained_at + Duration::from_secs(30)));
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

//! Jira Cloud site discovery: which sites a 3LO token may reach, which one
//! to use, and the API base URL for it.

use oauth2::AccessToken;
use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
use crate::network::{HttpSettings, network_error};
use crate::token::Site;

/// One entry of `GET {api}/oauth/token/accessible-resources`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessibleResource {
    /// The cloud id.
    pub id: String,
    /// The site URL, e.g. `https://your-site.atlassian.net`.
    pub url: Url,
    /// The site name.
    pub name: String,
    /// The scopes granted on this site.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The site's avatar.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

impl AccessibleResource {
    /// The site binding stored with the tokens.
    pub fn site(&self) -> Site {
        Site {
            cloud_id: Some(self.id.clone()),
            url: Some(self.url.clone()),
            name: Some(self.name.clone()),
        }
    }
}

/// Lists the sites `token` may reach. `api` is the gateway
/// (`https://api.atlassian.com`, or an override).
pub async fn accessible_resources_with(
    api: &Url,
    token: &AccessToken,
    settings: &HttpSettings,
) -> Result<Vec<AccessibleResource>> {
    let url = join(api, "oauth/token/accessible-resources")?;
    let client = settings
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(crate::transport::client_build_error)?;
    let response = client
        .get(url.clone())
        .bearer_auth(token.secret())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| network_error(&e, &url))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::SiteSelection(format!(
            "listing the accessible Jira sites at {url} answered HTTP {status}; check the API URL \
             and that the app has Jira scopes"
        )));
    }
    response.json().await.map_err(|e| {
        Error::SiteSelection(format!(
            "the accessible-resources answer from {url} is not a site list: {}",
            e.without_url()
        ))
    })
}

/// Picks the site: the one with `cloud_id`, else the one at `site_url`, else
/// the only one. Several candidates are an error that lists them all.
pub(crate) fn select_site<'a>(
    resources: &'a [AccessibleResource],
    cloud_id: Option<&str>,
    site_url: Option<&Url>,
) -> Result<&'a AccessibleResource> {
    if let Some(id) = cloud_id {
        return resources
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(&format!("cloud id {id}"), resources));
    }
    if let Some(wanted) = site_url {
        return resources
            .iter()
            .find(|r| same_site(&r.url, wanted))
            .ok_or_else(|| not_found(wanted.as_str(), resources));
    }
    match resources {
        [only] => Ok(only),
        [] => Err(Error::SiteSelection(
            "this authorization reaches no Jira site: grant the app access to a site on the consent page".into(),
        )),
        several => Err(Error::SiteSelection(format!(
            "this authorization reaches {} Jira sites; configure which one to use (its cloud id, \
             or its site URL):\n{}",
            several.len(),
            list(several)
        ))),
    }
}

/// The Jira REST base for a Cloud site behind the gateway, with the trailing
/// slash gouqi's relative joins need.
pub fn cloud_api_base(api: &Url, cloud_id: &str) -> Result<Url> {
    join(api, &format!("ex/jira/{cloud_id}/"))
}

fn join(base: &Url, path: &str) -> Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path)
        .map_err(|e| Error::Config(format!("cannot build a URL from {base} and {path}: {e}")))
}

fn same_site(a: &Url, b: &Url) -> bool {
    a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

fn not_found(wanted: &str, resources: &[AccessibleResource]) -> Error {
    Error::SiteSelection(format!(
        "this authorization does not reach the configured Jira site {wanted}. Log in with an \
         account of that site, or configure one of the sites it does reach:\n{}",
        list(resources)
    ))
}

fn list(resources: &[AccessibleResource]) -> String {
    resources
        .iter()
        .map(|r| format!("  - {} ({}), cloud id {}", r.name, r.url, r.id))
        .collect::<Vec<_>>()
        .join("\n")
}

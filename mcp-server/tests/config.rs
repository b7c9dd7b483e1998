//! Configuration: precedence (flags > environment > TOML file > defaults) and
//! an error naming the variable for each invalid value.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jira_mcp::config::{Auth, Config, ConfigError, Deployment, Flags, Grant, Source};

fn load(
    flags: &[(&'static str, &str)],
    env: &[(&str, &str)],
    file: Option<&str>,
) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let default_file = file.map(|text| {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    let flags = Flags {
        config: None,
        values: flags.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    };
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_from(&flags, &move |name| env.get(name).cloned(), default_file)
}

const OAUTH: [(&str, &str); 2] = [
    ("JIRA_OAUTH_CLIENT_ID", "id"),
    ("JIRA_OAUTH_CLIENT_SECRET", "secret"),
];

fn oauth(config: &Config) -> &jira_mcp::config::OAuthSettings {
    match &config.auth {
        Some(Auth::OAuth(settings)) => settings,
        other => panic!("expected OAuth, got {other:?}"),
    }
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let file = r#"
        url = "https://from-file.atlassian.net"
        oauth_client_id = "file-id"
        oauth_client_secret = "file-secret"
        oauth_redirect_uri = "http://localhost:9000/cb"
        oauth_scopes = ["read:jira-work", "offline_access"]
        oauth_cloud_id = "file-cloud"
    "#;
    let env = [
        ("JIRA_URL", "https://from-env.atlassian.net"),
        ("JIRA_OAUTH_CLIENT_ID", "env-id"),
    ];
    let flags = [("JIRA_URL", "https://from-flag.atlassian.net")];
    let config = load(&flags, &env, Some(file)).unwrap();
    assert_eq!(
        config.url.as_ref().unwrap().as_str(),
        "https://from-flag.atlassian.net/"
    );
    let settings = oauth(&config);
    assert_eq!(settings.client_id, "env-id");
    assert_eq!(settings.redirect_uri.as_str(), "http://localhost:9000/cb");
    assert_eq!(settings.scopes, ["read:jira-work", "offline_access"]);
    assert_eq!(settings.cloud_id.as_deref(), Some("file-cloud"));
    assert_eq!(settings.grant, Grant::AuthorizationCode);
    assert!(config.file.is_some());
}

#[test]
fn defaults_follow_the_deployment() {
    let cloud = load(&[("JIRA_URL", "https://x.atlassian.net")], &OAUTH, None).unwrap();
    assert_eq!(cloud.deployment, Deployment::Cloud);
    assert_eq!(
        oauth(&cloud).scopes,
        [
            "read:jira-work",
            "write:jira-work",
            "read:jira-user",
            "offline_access"
        ]
    );
    assert_eq!(
        oauth(&cloud).redirect_uri.as_str(),
        "http://localhost:8080/callback"
    );
    let dc = load(&[("JIRA_URL", "https://jira.example.com")], &OAUTH, None).unwrap();
    assert_eq!(dc.deployment, Deployment::DataCenter);
    assert_eq!(oauth(&dc).scopes, ["WRITE"]);
    assert!(oauth(&dc).token_file.ends_with("tokens.json"));
}

#[test]
fn the_auth_type_is_inferred_from_the_credentials_given() {
    let url = [("JIRA_URL", "https://jira.example.com")];
    let api = load(
        &url,
        &[("JIRA_USERNAME", "me@example.com"), ("JIRA_API_TOKEN", "t")],
        None,
    )
    .unwrap();
    assert!(matches!(api.auth, Some(Auth::ApiToken { .. })));
    let pat = load(
        &url,
        &[("JIRA_AUTH_TYPE", "pat"), ("JIRA_TOKEN", "t")],
        None,
    )
    .unwrap();
    assert!(matches!(pat.auth, Some(Auth::Pat { .. })));
    let none = load(&[], &[], None).unwrap();
    assert!(
        none.auth.is_none(),
        "nothing configured still loads: the server starts unconfigured"
    );
}

/// Settings, the variable the error must name, and a hint it must give.
type Case = (
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

/// Each invalid value, and the variable its error must name.
#[test]
fn each_invalid_value_names_its_variable() {
    let cases: Vec<Case> = vec![
        (vec![("JIRA_URL", "not a url")], "JIRA_URL", "not a URL"),
        (vec![("JIRA_URL", "ftp://jira")], "JIRA_URL", "https://"),
        (
            vec![("JIRA_DEPLOYMENT", "hybrid")],
            "JIRA_DEPLOYMENT",
            "cloud, datacenter",
        ),
        (
            vec![("JIRA_AUTH_TYPE", "kerberos")],
            "JIRA_AUTH_TYPE",
            "oauth, api_token, pat, basic, bearer, anonymous",
        ),
        (
            vec![
                ("JIRA_AUTH_TYPE", "api_token"),
                ("JIRA_URL", "https://x.atlassian.net"),
            ],
            "JIRA_USERNAME",
            "email",
        ),
        (
            vec![
                ("JIRA_AUTH_TYPE", "api_token"),
                ("JIRA_URL", "https://x.atlassian.net"),
                ("JIRA_USERNAME", "me"),
            ],
            "JIRA_API_TOKEN",
            "API token",
        ),
        (
            vec![("JIRA_AUTH_TYPE", "basic"), ("JIRA_USERNAME", "me")],
            "JIRA_URL",
            "required",
        ),
        (
            vec![
                ("JIRA_AUTH_TYPE", "basic"),
                ("JIRA_URL", "https://j.example.com"),
                ("JIRA_USERNAME", "me"),
            ],
            "JIRA_PASSWORD",
            "password",
        ),
        (
            vec![
                ("JIRA_AUTH_TYPE", "pat"),
                ("JIRA_URL", "https://j.example.com"),
            ],
            "JIRA_TOKEN",
            "personal access token",
        ),
        (
            vec![
                ("JIRA_AUTH_TYPE", "bearer"),
                ("JIRA_URL", "https://j.example.com"),
            ],
            "JIRA_TOKEN",
            "bearer token",
        ),
        (
            vec![("JIRA_AUTH_TYPE", "oauth")],
            "JIRA_OAUTH_CLIENT_ID",
            "client id",
        ),
        (
            vec![("JIRA_AUTH_TYPE", "oauth"), ("JIRA_OAUTH_CLIENT_ID", "id")],
            "JIRA_OAUTH_CLIENT_SECRET",
            "secret",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_REDIRECT_URI", "localhost:8080"),
            ],
            "JIRA_OAUTH_REDIRECT_URI",
            "http://localhost:8080/callback",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_GRANT", "password"),
            ],
            "JIRA_OAUTH_GRANT",
            "authorization_code, client_credentials",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_SCOPES", "  "),
            ],
            "JIRA_OAUTH_SCOPES",
            "scopes",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_TOKEN_URL", "nope"),
            ],
            "JIRA_OAUTH_TOKEN_URL",
            "https://auth.atlassian.com/oauth/token",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_AUTHORIZE_URL", "nope"),
            ],
            "JIRA_OAUTH_AUTHORIZE_URL",
            "https://auth.atlassian.com/authorize",
        ),
        (
            vec![
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_OAUTH_API_URL", "nope"),
            ],
            "JIRA_OAUTH_API_URL",
            "https://api.atlassian.com",
        ),
        (
            vec![
                ("JIRA_DEPLOYMENT", "datacenter"),
                ("JIRA_OAUTH_CLIENT_ID", "id"),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
            ],
            "JIRA_URL",
            "Data Center",
        ),
    ];
    for (env, variable, hint) in cases {
        let err = load(&[], &env, None).expect_err(variable);
        let text = err.to_string();
        assert_eq!(err.variable, variable, "{text}");
        assert!(
            text.contains(hint),
            "{variable}: `{text}` should mention `{hint}`"
        );
        assert!(
            !text.contains("secret") || variable.contains("SECRET"),
            "{text}"
        );
    }
}

#[test]
fn an_invalid_value_says_where_it_came_from() {
    let err = load(&[], &[], Some("deployment = \"moon\"")).unwrap_err();
    assert!(matches!(err.origin, Some(Source::File(_))), "{err}");
    assert!(err.to_string().contains("config file"), "{err}");
    let err = load(&[("JIRA_AUTH_TYPE", "nope")], &[], None).unwrap_err();
    assert_eq!(err.origin, Some(Source::Flag));
}

#[test]
fn unknown_or_mistyped_file_keys_are_errors() {
    let unknown = load(&[], &[], Some("client_id = \"x\"")).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown key `client_id`")
            && unknown.to_string().contains("oauth_client_id"),
        "{unknown}"
    );
    let typed = load(&[], &[], Some("url = 42")).unwrap_err();
    assert_eq!(typed.variable, "JIRA_URL");
    let broken = load(&[], &[], Some("url = ")).unwrap_err();
    assert!(broken.to_string().contains("not valid TOML"), "{broken}");
}

#[test]
fn an_explicit_config_file_must_exist() {
    let flags = Flags {
        config: Some(PathBuf::from("/nonexistent/jira-mcp.toml")),
        values: BTreeMap::new(),
    };
    let err = Config::load_from(&flags, &|_| None, None).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/jira-mcp.toml"),
        "{err}"
    );
}

/// A syntax error on a line with a secret must not print the secret: MCP
/// hosts keep stderr as logs.
#[test]
fn a_toml_syntax_error_never_echoes_a_secret() {
    for text in [
        "oauth_client_secret = \"s3cr3t-value-1\" x",
        "api_token = \"s3cr3t-value-1\nurl = \"https://x\"",
        "password = s3cr3t-value-1",
        "url = \"https://x\"\n\n  oauth_client_secret = 's3cr3t-value-1' = 2",
    ] {
        let err = load(&[], &[], Some(text)).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("not valid TOML") && shown.contains("line"),
            "{shown}"
        );
    }
}

#[test]
fn a_file_error_names_what_chose_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jira.toml");
    std::fs::write(&path, "url = ").unwrap();
    let by_flag = Flags {
        config: Some(path.clone()),
        values: BTreeMap::new(),
    };
    let err = Config::load_from(&by_flag, &|_| None, None).unwrap_err();
    assert_eq!(err.variable, "--config", "{err}");

    let env_path = path.display().to_string();
    let err = Config::load_from(
        &Flags::default(),
        &move |name| (name == "JIRA_MCP_CONFIG").then(|| env_path.clone()),
        None,
    )
    .unwrap_err();
    assert_eq!(err.variable, "JIRA_MCP_CONFIG", "{err}");

    let err = Config::load_from(&Flags::default(), &|_| None, Some(path)).unwrap_err();
    assert_eq!(err.variable, "the default config file", "{err}");
    assert!(err.to_string().contains("jira.toml"), "{err}");
}

/// A build without the team server refuses its address, naming the feature,
/// rather than ignoring it and serving stdio.
#[cfg(not(feature = "team"))]
#[test]
fn the_team_server_address_is_refused_without_the_team_feature() {
    let env = [
        ("JIRA_AUTH_TYPE", "oauth"),
        ("JIRA_OAUTH_CLIENT_ID", "id"),
        ("JIRA_OAUTH_CLIENT_SECRET", "secret"),
        ("JIRA_MCP_HTTP_ADDR", "127.0.0.1:8080"),
    ];
    let err = load(&[], &env, None).unwrap_err();
    assert_eq!(err.variable, "JIRA_MCP_HTTP_ADDR", "{err}");
    assert!(err.to_string().contains("cargo feature `team`"), "{err}");
}

/// The team server's settings (read only in builds with it).
#[cfg(feature = "team")]
mod team {
    use super::*;

    /// The team server's settings with secrets in files (compose `secrets:`,
    /// Kubernetes secrets): `NAME_FILE` names the file.
    fn team_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("JIRA_AUTH_TYPE", "oauth"),
            ("JIRA_OAUTH_CLIENT_ID", "id"),
            ("JIRA_MCP_HTTP_ADDR", "127.0.0.1:8080"),
        ];
        env.extend_from_slice(extra);
        env
    }

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn team_secrets_and_the_database_password_come_from_files() {
        use gouqi_oauth::secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        // As `echo` and `openssl rand` write them: one trailing newline.
        let key = file("key", &format!("{KEY}\n"));
        let secret = file("secret", "client-secret\n");
        // A base64 password with the characters that broke the URL.
        let password = file("password", "ab/cd+ef=\n");
        let config = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY_FILE", &key),
                ("JIRA_OAUTH_CLIENT_SECRET_FILE", &secret),
                (
                    "JIRA_MCP_DATABASE_URL",
                    "postgres://jira_mcp@postgres:5432/jira_mcp",
                ),
                ("JIRA_MCP_DATABASE_PASSWORD_FILE", &password),
            ]),
            None,
        )
        .unwrap();
        let team = config.team.as_ref().unwrap();
        assert_eq!(team.encryption_key.expose_secret(), KEY);
        assert_eq!(
            oauth(&config)
                .client_secret
                .as_ref()
                .unwrap()
                .expose_secret(),
            "client-secret"
        );
        // Percent-encoded into the URL, which sqlx decodes back.
        let url = team.database_url.expose_secret();
        assert_eq!(
            url,
            "postgres://jira_mcp:ab%2Fcd+ef%3D@postgres:5432/jira_mcp"
        );
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        assert_eq!(options.get_host(), "postgres");
        assert_eq!(options.get_database(), Some("jira_mcp"));
        // Debug never shows them.
        let debug = format!("{config:?}");
        for secret in [KEY, "client-secret", "ab/cd", "ab%2Fcd"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn a_secret_file_that_is_missing_empty_or_doubled_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").display().to_string();
        let err = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY_FILE", &missing),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("JIRA_MCP_ENCRYPTION_KEY_FILE") && err.contains(&missing),
            "{err}"
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY", KEY),
                (
                    "JIRA_OAUTH_CLIENT_SECRET_FILE",
                    &empty.display().to_string(),
                ),
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("JIRA_OAUTH_CLIENT_SECRET") && err.contains("empty"),
            "{err}"
        );

        let key = dir.path().join("key");
        std::fs::write(&key, KEY).unwrap();
        let err = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY", KEY),
                ("JIRA_MCP_ENCRYPTION_KEY_FILE", &key.display().to_string()),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("keep only one"), "{err}");
    }

    #[test]
    fn a_database_url_whose_password_needs_encoding_says_so_without_showing_it() {
        for password in ["ab/cd+ef=", "a?b", "a#b", "50%off"] {
            let url = format!("postgres://jira_mcp:{password}@postgres:5432/jira_mcp");
            let err = load(
                &[],
                &team_env(&[
                    ("JIRA_MCP_ENCRYPTION_KEY", KEY),
                    ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                    ("JIRA_MCP_DATABASE_URL", &url),
                ]),
                None,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("JIRA_MCP_DATABASE_URL")
                    && err.contains("percent-encoded")
                    && err.contains("JIRA_MCP_DATABASE_PASSWORD"),
                "{err}"
            );
            assert!(!err.contains(password), "the password is in: {err}");
        }
        // Encoded, it is accepted as is.
        let config = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY", KEY),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                (
                    "JIRA_MCP_DATABASE_URL",
                    "postgres://jira_mcp:ab%2Fcd+ef%3D@postgres:5432/jira_mcp",
                ),
            ]),
            None,
        );
        assert!(config.is_ok(), "{config:?}");
        // A password in both places is refused.
        let err = load(
            &[],
            &team_env(&[
                ("JIRA_MCP_ENCRYPTION_KEY", KEY),
                ("JIRA_OAUTH_CLIENT_SECRET", "s"),
                ("JIRA_MCP_DATABASE_URL", "postgres://u:p@postgres/db"),
                ("JIRA_MCP_DATABASE_PASSWORD", "q"),
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("keep only one"), "{err}");
    }
}

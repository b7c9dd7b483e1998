//! A simulated Atlassian on loopback, for trying jira-mcp without an account:
//!
//! ```sh
//! cargo run -p e2e-tests --bin atlassian-sim -- [--port N] [--access-ttl SECS] [--sites 1|2] [--consent] [--strict]
//! ```
//!
//! It prints the environment variables that point jira-mcp at it, and the
//! commands to run with the jira-mcp built in this checkout.

use std::time::Duration;

use e2e_tests::binary;
use e2e_tests::sim::{CLOUD_ID, Options, Simulator};

const USAGE: &str = "\
usage: atlassian-sim [--port N] [--access-ttl SECS] [--sites 1|2] [--consent] [--strict]

  --port N            listen on 127.0.0.1:N (default: a free port)
  --access-ttl SECS   access-token lifetime (default: 3600)
  --sites 1|2         how many Jira sites the account reaches (default: 1)
  --consent           show a consent page with Accept / Deny instead of auto-approving
  --strict            any replay of a used refresh token revokes the grant; by default,
                      as at Atlassian, a used refresh token may be replayed for 10 minutes

Several users: GET /authorize acts as the recorded user, or as the user named by an
`X-Sim-User: NAME` header (account id 712020:sim-user-NAME). For tests of token expiry,
POST /_sim/expire-access-tokens[?user=NAME] expires access tokens at once.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some((options, port)) = parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let sim = Simulator::start_on(options.clone(), listener).await;
        print_instructions(&sim, &options);
        tokio::signal::ctrl_c().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

/// The options and port, or `None` for `--help`.
fn parse(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<(Options, u16)>, Box<dyn std::error::Error>> {
    let mut options = Options::default();
    let mut port = 0u16;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => port = value("--port")?.parse()?,
            "--access-ttl" => {
                options.access_ttl = Duration::from_secs(value("--access-ttl")?.parse()?)
            }
            "--sites" => options.sites = value("--sites")?.parse()?,
            "--consent" => options.auto_approve = false,
            "--strict" => options.reuse_interval = Options::strict().reuse_interval,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other}; see --help").into()),
        }
    }
    Ok(Some((options, port)))
}

fn print_instructions(sim: &Simulator, options: &Options) {
    let token_file = std::env::temp_dir().join("jira-mcp-sim-tokens.json");
    let replays = if options.reuse_interval.is_zero() {
        "strict: any replay of a used refresh token revokes the grant".to_string()
    } else {
        format!(
            "a used refresh token may be replayed for {} s",
            options.reuse_interval.as_secs()
        )
    };
    println!(
        "Simulated Atlassian at {} (loopback only). Access tokens live {} s; refresh tokens rotate ({replays}).",
        sim.uri(),
        options.access_ttl.as_secs()
    );
    println!("Point jira-mcp at it with:\n");
    for (name, value) in sim.env("http://127.0.0.1:8080/callback", &token_file) {
        println!("export {name}='{value}'");
    }
    // Not on PATH as a rule: the binary this checkout built, or cargo run.
    let jira_mcp = match binary::locate() {
        Some(path) => format!("'{}'", path.display()),
        None => "cargo run -p jira-mcp --".to_string(),
    };
    println!(
        "\nThen log in (consent is {}) and start the server:\n\n  {jira_mcp} auth login\n  {jira_mcp} serve",
        if options.auto_approve {
            "auto-approved"
        } else {
            "a page with Accept / Deny"
        }
    );
    // A token file of its own: the user's tokens are not the service account's.
    let service_file = std::env::temp_dir().join("jira-mcp-sim-service-tokens.json");
    println!(
        "\nOr act as the app's service account (client-credentials grant, no login):\n\n  \
         export JIRA_OAUTH_GRANT=client_credentials JIRA_OAUTH_CLOUD_ID='{CLOUD_ID}' \
         JIRA_OAUTH_TOKEN_FILE='{}'\n  {jira_mcp} serve",
        service_file.display()
    );
    println!("\nCtrl-C stops the simulator.");
}

//! A simulated Atlassian on loopback, for trying jira-mcp without an account:
//!
//! ```sh
//! cargo run -p e2e-tests --bin atlassian-sim -- [--port N] [--access-ttl SECS] [--sites 1|2] [--consent]
//! ```
//!
//! It prints the environment variables that point jira-mcp at it.

use std::time::Duration;

use e2e_tests::sim::{Options, Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = Options::default();
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => port = value("--port")?.parse()?,
            "--access-ttl" => {
                options.access_ttl = Duration::from_secs(value("--access-ttl")?.parse()?)
            }
            "--sites" => options.sites = value("--sites")?.parse()?,
            "--consent" => options.auto_approve = false,
            "--help" | "-h" => {
                println!(
                    "usage: atlassian-sim [--port N] [--access-ttl SECS] [--sites 1|2] [--consent]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}; see --help").into()),
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let sim = Simulator::start_on(options.clone(), listener).await;
        let token_file = std::env::temp_dir().join("jira-mcp-sim-tokens.json");
        println!(
            "Simulated Atlassian at {} (loopback only). Access tokens live {} s.",
            sim.uri(),
            options.access_ttl.as_secs()
        );
        println!("Point jira-mcp at it with:\n");
        for (name, value) in sim.env("http://127.0.0.1:8080/callback", &token_file) {
            println!("export {name}='{value}'");
        }
        println!(
            "\nThen: jira-mcp auth login   (consent is {}). Ctrl-C stops the simulator.",
            if options.auto_approve {
                "auto-approved"
            } else {
                "a page with Accept / Deny"
            }
        );
        tokio::signal::ctrl_c().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

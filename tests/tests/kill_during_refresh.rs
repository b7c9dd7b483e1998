//! `kill -9` of `jira-mcp serve` during a refresh never logs the user out:
//! 20 trials against the default simulator (Atlassian's 10-minute reuse
//! interval), each killing the server at a different moment of a refresh,
//! then checking that a new server process works from the token file.
//!
//! The refresh is the `refresh_oauth_token` tool (a forced refresh): it runs
//! the same lock, load, renew, save path as a refresh on expiry, but on
//! demand, so that 20 trials need no waiting for tokens to expire.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e_tests::binary::{self, McpClient, call};
use e2e_tests::sim::{Options, Simulator};
use gouqi_oauth::{FileStore, TokenStore};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const TRIALS: usize = 20;

/// When, in a refresh, the server is killed.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// The simulator has rotated but holds the answer back for a second: the
    /// server dies before the new pair arrives, the file keeps the old one.
    BeforeResponse,
    /// The answer is held `delay` and the kill comes `after` the request
    /// arrived: a few milliseconds either side of the save.
    AroundSave { delay: Duration, after: Duration },
    /// As soon as the token file has changed: just after the save.
    AfterSave,
}

fn moment(trial: usize) -> Moment {
    let ms = |n: usize| Duration::from_millis(n as u64);
    match trial % 4 {
        0 => Moment::BeforeResponse,
        1 => Moment::AroundSave {
            delay: Duration::ZERO,
            after: ms(trial % 3),
        },
        2 => Moment::AroundSave {
            delay: ms(1 + trial % 5),
            after: ms(trial % 7),
        },
        _ => Moment::AfterSave,
    }
}

impl Moment {
    fn token_delay(self) -> Duration {
        match self {
            Moment::BeforeResponse => Duration::from_secs(1),
            Moment::AroundSave { delay, .. } => delay,
            Moment::AfterSave => Duration::ZERO,
        }
    }
}

/// Polls `done` every millisecond for up to 10 s.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits for the chosen moment of the refresh that has just been asked for.
async fn reach(moment: Moment, sim: &Simulator, requests: usize, file: &Path, before: &[u8]) {
    let requested = || sim.counters().token_requests > requests;
    match moment {
        Moment::BeforeResponse => wait_for("the token request", requested).await,
        Moment::AroundSave { after, .. } => {
            wait_for("the token request", requested).await;
            tokio::time::sleep(after).await;
        }
        Moment::AfterSave => {
            wait_for("the save", || {
                std::fs::read(file).is_ok_and(|now| now != before)
            })
            .await
        }
    }
}

async fn ok(client: &McpClient, tool: &str, args: Value) -> Value {
    let (is_error, text) = call(client, tool, args).await;
    assert!(!is_error, "{tool}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn kill_9_during_a_refresh_never_logs_the_user_out() {
    let started = Instant::now();
    let sim = Simulator::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let env = sim.env(&binary::free_redirect_uri(), &file);
    let login = binary::login(&env).await;
    assert!(login.success, "auth login failed:\n{}", login.stderr);

    let (mut client, mut child) = binary::serve_child(&env).await;
    let (mut kept_old, mut saved_new) = (0, 0);
    for trial in 0..TRIALS {
        let moment = moment(trial);
        let before = std::fs::read(&file).unwrap();
        let requests = sim.counters().token_requests;
        sim.set_token_delay(moment.token_delay());
        // The call's own outcome is moot: the server dies under it.
        let pending = tokio::spawn(async move {
            let _ = client
                .call_tool(CallToolRequestParams::new("refresh_oauth_token"))
                .await;
        });
        reach(moment, &sim, requests, &file, &before).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        pending.abort();
        let _ = pending.await;

        // The file is one complete token set, the old or the new one.
        let after = std::fs::read(&file).unwrap();
        assert!(
            FileStore::new(&file).load().unwrap().is_some(),
            "trial {trial}"
        );
        match moment {
            Moment::BeforeResponse => assert_eq!(after, before, "trial {trial}"),
            Moment::AfterSave => assert_ne!(after, before, "trial {trial}"),
            Moment::AroundSave { .. } => {}
        }
        let kept = after == before;
        println!(
            "trial {trial:2} {moment:?}: the file holds the {} token set",
            if kept { "old" } else { "new" }
        );
        if kept {
            kept_old += 1
        } else {
            saved_new += 1
        }

        // A new process: a tool call works, and so does the refresh token it
        // found in the file (the next trial kills this process mid-refresh).
        sim.set_token_delay(Duration::ZERO);
        (client, child) = binary::serve_child(&env).await;
        let me = ok(&client, "get_current_user", json!({})).await;
        assert_eq!(
            me["display_name"], "Mia Krystof",
            "trial {trial} ({moment:?})"
        );
        ok(&client, "refresh_oauth_token", json!({})).await;
        let counters = sim.counters();
        assert_eq!(
            (counters.revocations, counters.invalid_grants),
            (0, 0),
            "trial {trial} ({moment:?}): {counters:?}"
        );
    }
    let _ = client.cancel().await;

    // One refresh per kill (each reached the simulator) and one per check.
    let counters = sim.counters();
    assert_eq!(
        (counters.logins, counters.refreshes, counters.token_requests),
        (1, 2 * TRIALS, 1 + 2 * TRIALS),
        "{counters:?}"
    );
    assert!(
        kept_old >= TRIALS / 4 && saved_new >= TRIALS / 4,
        "old {kept_old}, new {saved_new}"
    );
    println!(
        "{TRIALS} kills in {:.1} s: {kept_old} left the old token set, {saved_new} the new one",
        started.elapsed().as_secs_f64()
    );
}

//! How a command ends: its [`Outcome`], and the shutdown on a signal that
//! both servers (stdio and `serve --http`) share, with a grace period for
//! token refreshes in flight.

use std::process::ExitCode;
use std::time::Duration;

/// What a subcommand returns: an exit code, or a message for stderr.
pub type Outcome = Result<ExitCode, String>;

/// How long an exit waits for a token refresh in flight to be saved.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// SIGTERM or Ctrl-C: end the session the way a closed stdin does.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => return,
                _ = tokio::signal::ctrl_c() => return,
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

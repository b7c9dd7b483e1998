//! Structured results through the official MCP Python SDK (PyPI `mcp`, pinned
//! in `tests/python/requirements.txt`): `.ci/python-env` makes the venv, then
//! `tests/python/check_structured.py` runs `jira-mcp serve` over stdio against
//! the simulated Atlassian, lists the tools and calls a representative set;
//! the SDK's `ClientSession.call_tool` validates each `structuredContent`
//! against the declared `outputSchema`, and the script checks again with
//! `jsonschema`.
//!
//! With `CI` set, a missing Python or venv fails the test; without it, the
//! test is skipped with the reason printed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const SIM: &str = env!("CARGO_BIN_EXE_atlassian-sim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Without Python the check cannot run: on CI that is a failure, elsewhere
/// a skip that says why.
fn unavailable(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("the Python SDK check cannot run on CI: {reason}");
    }
    eprintln!("skipped (CI is not set): {reason}");
}

/// The venv's python, from `.ci/python-env`.
fn python_env() -> Result<PathBuf, String> {
    let output = std::process::Command::new("bash")
        .arg(root().join(".ci/python-env"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run .ci/python-env: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            ".ci/python-env failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!(".ci/python-env printed no python: {stdout}"))
    }
}

/// The value of the `key: value` line `key` in `output`.
fn count(output: &str, key: &str) -> usize {
    let prefix = format!("{key}: ");
    output
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` count in the output:\n{output}"))
}

#[tokio::test]
async fn the_official_python_sdk_validates_every_structured_result() {
    let python = match python_env() {
        Ok(python) => python,
        Err(reason) => return unavailable(&reason),
    };
    let jira_mcp = e2e_tests::binary::path();
    let started = Instant::now();
    let run = tokio::process::Command::new(&python)
        .arg(root().join("tests/python/check_structured.py"))
        .arg("--jira-mcp")
        .arg(&jira_mcp)
        .arg("--sim")
        .arg(SIM)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("check_structured.py finishes within 3 minutes")
        .expect("run check_structured.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "check_structured.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    eprintln!(
        "Python SDK check took {:.1} s:\n{stdout}",
        started.elapsed().as_secs_f64()
    );

    // Every tool the server has: one output schema file each.
    let tools = std::fs::read_dir(root().join("mcp-server/schemas/output"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(count(&stdout, "tools listed"), tools);
    assert_eq!(count(&stdout, "output schemas"), tools);
    assert!(count(&stdout, "calls validated") >= 25, "{stdout}");
    assert_eq!(count(&stdout, "toolsets covered"), 9);
    assert_eq!(count(&stdout, "bad results refused"), 2);
    let requirements =
        std::fs::read_to_string(root().join("tests/python/requirements.txt")).unwrap();
    let pinned = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("mcp=="))
        .expect("requirements.txt pins mcp exactly");
    assert!(
        stdout.lines().any(|l| l == format!("sdk: mcp {pinned}")),
        "the pinned SDK ran: {stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("OK"), "{stdout}");
}

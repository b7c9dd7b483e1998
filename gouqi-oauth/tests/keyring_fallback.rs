//! Without a keyring service (headless Linux, containers) the keyring store
//! falls back to the token file, says so, and keeps working.
#![cfg(all(feature = "keyring", target_os = "linux"))]

mod common;

use common::*;
use gouqi_oauth::{FileStore, TokenStore};
use gouqi_oauth::{KeyringBackend, KeyringStore};

#[test]
fn no_keyring_service_means_the_token_file_is_used() {
    // Point the Secret Service client at a bus that does not exist. This is
    // the only test in this binary, so changing the environment is safe.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus") };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let store = KeyringStore::new("gouqi-oauth-test", "someone", FileStore::new(&file));

    assert_eq!(store.backend(), KeyringBackend::File);
    assert!(store.location().contains("tokens.json"));
    store.save(&valid_tokens("access-1", "refresh-1")).unwrap();
    assert!(file.exists());
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.refresh_token.unwrap().secret(), "refresh-1");
    store.clear().unwrap();
    assert!(store.load().unwrap().is_none());
}

//! Sealing secrets before they reach the database: AES-256-GCM with a random
//! nonce per seal, bound to the row it belongs to (the AAD), and named by the
//! key that sealed it so that keys can be rotated.
//!
//! A sealed value is `version (1) | key id (4) | nonce (12) | ciphertext+tag`.
//! The key id is the first 4 bytes of the key's SHA-256: enough to pick the
//! key among a handful, and it reveals nothing usable about the key.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{StoreError, StoreResult};

/// The layout version written as the first byte.
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
const KEY_LEN: usize = 32;

/// Why an encryption key was refused. Never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is not standard base64 of exactly 32 bytes.
    #[error(
        "{which} is not a valid encryption key ({problem}): it must be 32 random bytes in \
         standard base64. Make one with `openssl rand -base64 32`"
    )]
    Invalid {
        /// Which setting: the current key, or the n-th previous key.
        which: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// One AES-256-GCM key and its id.
struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
}

impl Key {
    fn from_base64(text: &str, which: &str) -> Result<Key, KeyError> {
        let invalid = |problem: String| KeyError::Invalid {
            which: which.to_string(),
            problem,
        };
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| invalid("not standard base64".into()))?;
        if bytes.len() != KEY_LEN {
            return Err(invalid(format!(
                "{} bytes instead of {KEY_LEN}",
                bytes.len()
            )));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|_| invalid("rejected by AES-256".into()))?;
        let digest = Sha256::digest(&bytes);
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Ok(Key { id, cipher })
    }
}

/// Seals and opens secrets with the current key; opens with previous keys
/// too, so that a rotated key keeps old rows readable until they are
/// re-sealed. `Debug` shows key ids only.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |k: &Key| k.id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        f.debug_struct("Sealer")
            .field("current_key_id", &hex(&self.current))
            .field(
                "previous_key_ids",
                &self.previous.iter().map(hex).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Sealer {
    /// A sealer from base64 keys: `current` seals, `previous` (older keys,
    /// still able to open what they sealed) only open.
    pub fn from_base64(current: &str, previous: &[String]) -> Result<Sealer, KeyError> {
        let current = Key::from_base64(current, "JIRA_MCP_ENCRYPTION_KEY")?;
        let previous = previous
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let which = format!("key {} of JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS", i + 1);
                Key::from_base64(key, &which)
            })
            .collect::<Result<_, _>>()?;
        Ok(Sealer { current, previous })
    }

    /// A new random key, in the base64 form [`Sealer::from_base64`] reads.
    pub fn generate_key() -> String {
        let mut key = [0u8; KEY_LEN];
        fill_random(&mut key);
        STANDARD.encode(key)
    }

    /// Encrypts `plaintext` with the current key, bound to `aad` (the row it
    /// belongs to: the same `aad` is needed to open it).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        // AES-GCM fails only past 64 GiB of plaintext or 2^61 bytes of AAD.
        let ciphertext = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .expect("AES-GCM encrypts any input under 64 GiB");
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`Sealer::seal`] produced with this `aad`, with whichever
    /// known key sealed it. [`StoreError::Undecryptable`] when no known key
    /// sealed it, or it was altered, or it belongs to another row.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> StoreResult<Vec<u8>> {
        let (key_id, nonce, ciphertext) = split(sealed)?;
        let key = self.key(key_id).ok_or(StoreError::Undecryptable)?;
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        key.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| StoreError::Undecryptable)
    }

    /// True when `sealed` was sealed with another key than the current one:
    /// the next write should re-seal it.
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        match split(sealed) {
            Ok((key_id, _, _)) => key_id != self.current.id,
            Err(_) => true,
        }
    }

    fn key(&self, id: [u8; KEY_ID_LEN]) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }
}

/// The key id, nonce and ciphertext of a sealed value.
fn split(sealed: &[u8]) -> StoreResult<([u8; KEY_ID_LEN], [u8; NONCE_LEN], &[u8])> {
    if sealed.len() < HEADER_LEN || sealed[0] != VERSION {
        // Also what an unknown future layout looks like: it cannot be opened.
        return Err(StoreError::Undecryptable);
    }
    let mut key_id = [0; KEY_ID_LEN];
    key_id.copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
    let mut nonce = [0; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
    Ok((key_id, nonce, &sealed[HEADER_LEN..]))
}

/// Fills `buf` from the operating system's random source.
fn fill_random(buf: &mut [u8]) {
    // Without a working OS random source no secret can be made safely.
    getrandom::fill(buf).expect("the operating system's random source failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"refresh-token-SECRET-0123456789";

    fn sealer() -> (Sealer, String) {
        let key = Sealer::generate_key();
        (Sealer::from_base64(&key, &[]).unwrap(), key)
    }

    #[test]
    fn round_trip() {
        let (sealer, _) = sealer();
        let sealed = sealer.seal(SECRET, b"user-1");
        assert_eq!(sealer.open(&sealed, b"user-1").unwrap(), SECRET);
        assert!(!sealer.needs_reseal(&sealed));
    }

    #[test]
    fn each_seal_uses_a_new_nonce() {
        let (sealer, _) = sealer();
        assert_ne!(sealer.seal(SECRET, b"u"), sealer.seal(SECRET, b"u"));
    }

    #[test]
    fn another_rows_aad_cannot_open_it() {
        let (sealer, _) = sealer();
        let sealed = sealer.seal(SECRET, b"user-1");
        assert!(matches!(
            sealer.open(&sealed, b"user-2"),
            Err(StoreError::Undecryptable)
        ));
    }

    #[test]
    fn another_key_cannot_open_it() {
        let (a, _) = sealer();
        let (b, _) = sealer();
        let sealed = a.seal(SECRET, b"u");
        assert!(matches!(
            b.open(&sealed, b"u"),
            Err(StoreError::Undecryptable)
        ));
    }

    #[test]
    fn a_previous_key_opens_and_asks_for_a_reseal() {
        let (old, old_key) = sealer();
        let sealed = old.seal(SECRET, b"u");
        let rotated = Sealer::from_base64(&Sealer::generate_key(), &[old_key]).unwrap();
        assert_eq!(rotated.open(&sealed, b"u").unwrap(), SECRET);
        assert!(rotated.needs_reseal(&sealed));
        let resealed = rotated.seal(SECRET, b"u");
        assert!(!rotated.needs_reseal(&resealed));
        // The old sealer cannot read what the new key sealed.
        assert!(old.open(&resealed, b"u").is_err());
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let (sealer, _) = sealer();
        let sealed = sealer.seal(SECRET, b"u");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(sealer.open(&tampered, b"u").is_err(), "byte {i}");
        }
        assert!(sealer.open(&sealed[..HEADER_LEN + 3], b"u").is_err());
        assert!(sealer.open(&[], b"u").is_err());
    }

    #[test]
    fn the_plaintext_is_not_in_the_output() {
        let (sealer, _) = sealer();
        let sealed = sealer.seal(SECRET, b"u");
        assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET));
        assert!(!sealed.windows(8).any(|w| w == &SECRET[..8]));
    }

    #[test]
    fn bad_keys_are_refused_with_advice_and_without_the_key() {
        for bad in ["not base64!", "c2hvcnQ=", ""] {
            let err = Sealer::from_base64(bad, &[]).unwrap_err().to_string();
            assert!(err.contains("openssl rand -base64 32"), "{err}");
            assert!(err.contains("JIRA_MCP_ENCRYPTION_KEY"), "{err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
        let err = Sealer::from_base64(&Sealer::generate_key(), &["c2hvcnQ=".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key 1 of JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS"),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let key = Sealer::generate_key();
        let sealer = Sealer::from_base64(&key, std::slice::from_ref(&key)).unwrap();
        let debug = format!("{sealer:?}");
        assert!(!debug.contains(&key), "{debug}");
        assert!(debug.contains("current_key_id"), "{debug}");
    }
}

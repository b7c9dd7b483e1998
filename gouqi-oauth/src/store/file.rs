//! The token file: versioned JSON, mode 0600 in a 0700 directory, replaced
//! atomically (temp file, fsync, rename), locked across processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::format::{self, DecodeError};
use super::{StoreLock, TokenStore};
use crate::error::StoreError;
use crate::token::TokenSet;

/// Stores the token set in a JSON file.
///
/// Writes never leave a half-written file: the new set goes to a temporary
/// file in the same directory, which is flushed to disk and then renamed over
/// the old one. A file that cannot be parsed is reported, never overwritten.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileStore {
    /// A store at `path`. Nothing is created until the first save.
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        let path = path.into();
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        FileStore { path, lock_path }
    }

    /// The default location for `app`'s tokens: the user's state directory
    /// where the platform has one (`~/.local/state/{app}/tokens.json` on
    /// Linux), else the config directory.
    pub fn default_path(app: &str) -> Result<PathBuf, StoreError> {
        let dirs = directories::ProjectDirs::from("", "", app).ok_or(StoreError::Backend {
            backend: "file",
            message: "cannot find the home directory to place the token file in; \
                      set an explicit token file path"
                .into(),
        })?;
        let dir = dirs.state_dir().unwrap_or_else(|| dirs.config_dir());
        Ok(dir.join("tokens.json"))
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    fn ensure_dir(&self) -> Result<(), StoreError> {
        let dir = self.dir();
        if dir.exists() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| StoreError::Write {
            action: "create the directory",
            path: dir.to_path_buf(),
            source,
        })
    }

    fn parse(&self, bytes: &[u8]) -> Result<TokenSet, StoreError> {
        format::decode(bytes).map_err(|e| match e {
            DecodeError::Corrupt(detail) => StoreError::Corrupt {
                path: self.path.clone(),
                detail,
            },
            DecodeError::Version(found) => StoreError::UnsupportedVersion {
                path: self.path.clone(),
                found,
                supported: format::VERSION,
            },
        })
    }

    /// Writes `bytes` to a new temporary file beside the token file and flushes
    /// it to disk. Dropping the result without [`persist`] leaves the token
    /// file as it was and deletes the temporary file.
    fn write_temp(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = self.dir();
        let write_err = |source| StoreError::Write {
            action: "write a temporary token file in",
            path: dir.to_path_buf(),
            source,
        };
        // tempfile creates the file with mode 0600 on Unix.
        let mut temp = tempfile::Builder::new()
            .prefix(".tokens-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(write_err)?;
        temp.write_all(bytes).map_err(write_err)?;
        temp.as_file().sync_all().map_err(write_err)?;
        Ok(temp)
    }

    fn persist(&self, temp: tempfile::NamedTempFile) -> Result<(), StoreError> {
        temp.persist(&self.path).map_err(|e| StoreError::Write {
            action: "replace",
            path: self.path.clone(),
            source: e.error,
        })?;
        // The rename itself is only durable once the directory is flushed.
        #[cfg(unix)]
        if let Ok(dir) = File::open(self.dir()) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => self.parse(&bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Unreadable {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        // Refuse to replace a file we cannot understand: it may be the only
        // copy of a grant, written by a newer program or damaged by hand.
        self.load()?;
        self.ensure_dir()?;
        let temp = self.write_temp(&format::encode(tokens))?;
        self.persist(temp)
    }

    fn clear(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Write {
                action: "remove",
                path: self.path.clone(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn lock(&self) -> Result<StoreLock, StoreError> {
        self.ensure_dir()?;
        let lock_err = |source| StoreError::Write {
            action: "lock",
            path: self.lock_path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&self.lock_path).map_err(lock_err)?;
        // An advisory lock: the OS releases it when the holder exits, even on SIGKILL.
        file.lock().map_err(lock_err)?;
        Ok(StoreLock::new(file))
    }

    fn location(&self) -> String {
        format!("the token file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::{AccessToken, RefreshToken};
    use std::time::{Duration, SystemTime};

    fn tokens(n: u32) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(format!("access-{n}")),
            refresh_token: Some(RefreshToken::new(format!("refresh-{n}"))),
            expires_at: Some(SystemTime::now() + Duration::from_secs(3600)),
            obtained_at: SystemTime::now(),
            scopes: vec!["read:jira-work".into()],
            site: None,
        }
    }

    /// A writer interrupted after writing its temp file but before renaming it
    /// (crash, SIGKILL) leaves the complete old token set in place.
    #[test]
    fn interrupted_write_leaves_the_old_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("tokens.json"));
        store.save(&tokens(1)).unwrap();

        let temp = store.write_temp(&format::encode(&tokens(2))).unwrap();
        let (file, temp_path) = temp.keep().unwrap(); // as if the process died here
        drop(file);

        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.access_token.secret(), "access-1");
        assert!(temp_path.exists());
        // The next writer is not disturbed by the leftover temp file.
        store.save(&tokens(3)).unwrap();
        assert_eq!(
            store.load().unwrap().unwrap().access_token.secret(),
            "access-3"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_new_dir_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("nested/tokens.json"));
        store.save(&tokens(1)).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("nested")), 0o700);
    }
}

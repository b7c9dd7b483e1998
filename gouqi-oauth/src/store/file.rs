//! The token file: versioned JSON, mode 0600 in a 0700 directory, replaced
//! atomically (temp file, fsync, rename), locked across processes.
//!
//! A symbolic link at the path is followed: the file it points to is read,
//! replaced (the temp file is written beside it) and locked, so that every
//! path that leads to one file shares one copy and one lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::format::{self, DecodeError};
use super::{StoreLock, TokenStore};
use crate::error::StoreError;
use crate::token::TokenSet;

/// How long [`FileStore::lock`] waits for another holder by default. A
/// refresh holds the lock for one token request (with its retries); a holder
/// that keeps it longer is stopped or stuck.
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiting process retries the lock.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Stores the token set in a JSON file.
///
/// Writes never leave a half-written file: the new set goes to a temporary
/// file in the same directory, which is flushed to disk and then renamed over
/// the old one. A file that cannot be parsed is reported, never overwritten.
/// On Unix a file owned by another user is refused, and one readable by
/// others is tightened to mode 0600 (with a warning).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock_timeout: Duration,
}

/// The file actually used, once a symbolic link at the path is followed.
struct Target {
    file: PathBuf,
    lock: PathBuf,
}

impl FileStore {
    /// A store at `path`. Nothing is created until the first save.
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Sets how long [`TokenStore::lock`] waits for another process before
    /// giving up with [`StoreError::LockTimeout`].
    pub fn lock_timeout(mut self, timeout: Duration) -> FileStore {
        self.lock_timeout = timeout;
        self
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

    /// The token file, as configured (a symbolic link is followed on use).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Follows a symbolic link at the path; a link to nowhere is an error
    /// rather than a reason to write a second copy beside it.
    fn target(&self) -> Result<Target, StoreError> {
        let is_link = fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink());
        let file = if is_link {
            fs::canonicalize(&self.path).map_err(|source| StoreError::Write {
                action: "follow the symbolic link",
                path: self.path.clone(),
                source,
            })?
        } else {
            self.path.clone()
        };
        let mut lock_name = file.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock = file.with_file_name(lock_name);
        Ok(Target { file, lock })
    }

    fn parse(file: &Path, bytes: &[u8]) -> Result<TokenSet, StoreError> {
        format::decode(bytes).map_err(|e| match e {
            DecodeError::Corrupt(detail) => StoreError::Corrupt {
                path: file.to_path_buf(),
                detail,
            },
            DecodeError::Version(found) => StoreError::UnsupportedVersion {
                path: file.to_path_buf(),
                found,
                supported: format::VERSION,
            },
        })
    }

    fn read(file: &Path) -> Result<Option<TokenSet>, StoreError> {
        match fs::metadata(file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Ok(meta) if meta.is_dir() => {
                return Err(StoreError::NotAFile {
                    path: file.to_path_buf(),
                });
            }
            Ok(meta) => check_owner_and_mode(file, &meta)?,
            Err(_) => {}
        }
        match fs::read(file) {
            Ok(bytes) => Self::parse(file, &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Unreadable {
                path: file.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes `bytes` to a new temporary file beside `file` and flushes it to
    /// disk. Dropping the result without [`FileStore::persist`] leaves the
    /// token file as it was and deletes the temporary file.
    fn write_temp(file: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = dir_of(file);
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

    fn persist(file: &Path, temp: tempfile::NamedTempFile) -> Result<(), StoreError> {
        temp.persist(file).map_err(|e| StoreError::Write {
            action: "replace",
            path: file.to_path_buf(),
            source: e.error,
        })?;
        sync_dir(dir_of(file));
        Ok(())
    }

    /// Opens the lock file and takes its lock, polling until the timeout.
    fn acquire(&self, lock_path: &Path) -> Result<File, StoreError> {
        let lock_err = |source| StoreError::Write {
            action: "lock",
            path: lock_path.to_path_buf(),
            source,
        };
        let started = Instant::now();
        loop {
            let file = open_lock_file(lock_path).map_err(lock_err)?;
            match file.try_lock() {
                // The holder may have removed the lock file (a logout) while
                // we waited on it: then lock the file now at the path instead.
                Ok(()) if same_file(&file, lock_path) => return Ok(file),
                Ok(()) | Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(lock_err(e)),
            }
            if started.elapsed() >= self.lock_timeout {
                return Err(StoreError::LockTimeout {
                    path: lock_path.to_path_buf(),
                    waited: self.lock_timeout,
                    holder: read_holder(lock_path),
                });
            }
            std::thread::sleep(LOCK_POLL);
        }
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        Self::read(&self.target()?.file)
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        let target = self.target()?;
        // Refuse to replace a file we cannot understand: it may be the only
        // copy of a grant, written by a newer program or damaged by hand.
        Self::read(&target.file)?;
        ensure_dir(dir_of(&target.file))?;
        let temp = Self::write_temp(&target.file, &format::encode(tokens))?;
        Self::persist(&target.file, temp)
    }

    fn clear(&self) -> Result<bool, StoreError> {
        let target = self.target()?;
        if fs::metadata(&target.file).is_ok_and(|m| m.is_dir()) {
            return Err(StoreError::NotAFile { path: target.file });
        }
        let removed = remove_if_present(&target.file)?;
        // Safe to remove while held: waiters re-check the path (see `acquire`).
        remove_if_present(&target.lock)?;
        Ok(removed)
    }

    fn lock(&self) -> Result<StoreLock, StoreError> {
        let target = self.target()?;
        ensure_dir(dir_of(&target.lock))?;
        let mut file = self.acquire(&target.lock)?;
        // Name the holder for anyone who times out waiting (best effort).
        let _ = record_holder(&mut file);
        // An advisory lock: the OS releases it when the holder exits, even on SIGKILL.
        Ok(StoreLock::new(file))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let target = self.target()?;
        Self::read(&target.file)?;
        ensure_dir(dir_of(&target.file))?;
        // A temp file that is dropped: proves the directory takes new files.
        Self::write_temp(&target.file, b"").map(drop)
    }

    fn location(&self) -> String {
        format!("the token file {}", self.path.display())
    }
}

fn dir_of(file: &Path) -> &Path {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
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

/// The rename itself is only durable once the directory is flushed.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn remove_if_present(file: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Write {
            action: "remove",
            path: file.to_path_buf(),
            source,
        }),
    }
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// True when `file` is still the file at `path` (not one unlinked meanwhile).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

fn record_holder(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())
}

fn read_holder(lock_path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(lock_path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Refuses another user's token file and tightens one others can read.
#[cfg(unix)]
fn check_owner_and_mode(file: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::NotOwned {
            path: file.to_path_buf(),
            owner: meta.uid(),
            you: me,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %file.display(),
            mode = format!("{mode:o}"),
            "the token file was readable by other users; its mode is now 0600"
        );
        fs::set_permissions(file, fs::Permissions::from_mode(0o600)).map_err(|source| {
            StoreError::Write {
                action: "restrict the permissions (chmod 600) of",
                path: file.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_file: &Path, _meta: &fs::Metadata) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::{AccessToken, RefreshToken};
    use std::time::SystemTime;

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

        let temp = FileStore::write_temp(store.path(), &format::encode(&tokens(2))).unwrap();
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

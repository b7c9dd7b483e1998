//! Per-user locks inside one process: what `lock_grant` needs when only one
//! process uses the database (SQLite).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gouqi_oauth::StoreLock;
use tokio::sync::OwnedMutexGuard;

use super::{StoreError, StoreResult, UserId};

type Entry = Arc<tokio::sync::Mutex<()>>;

/// One async mutex per user who has a holder or a waiter; a user's entry is
/// removed when the last of them is gone, so the map does not grow with the
/// number of users ever seen.
#[derive(Debug, Default, Clone)]
pub(super) struct UserLocks {
    map: Arc<Mutex<HashMap<UserId, Entry>>>,
}

impl UserLocks {
    fn map(&self) -> MutexGuard<'_, HashMap<UserId, Entry>> {
        // The map stays consistent even if a holder panicked.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `user`'s lock, waiting at most `wait`.
    pub(super) async fn lock(&self, user: &UserId, wait: Duration) -> StoreResult<StoreLock> {
        let entry = self.map().entry(user.clone()).or_default().clone();
        match tokio::time::timeout(wait, entry.clone().lock_owned()).await {
            Ok(guard) => Ok(StoreLock::new(Held {
                guard: Some(guard),
                entry: Some(entry),
                user: user.clone(),
                locks: self.clone(),
            })),
            Err(_) => {
                self.release(user, entry);
                Err(StoreError::LockTimeout { waited: wait })
            }
        }
    }

    /// Drops one reference to `user`'s entry, and the entry itself when no
    /// holder or waiter is left. Every clone of an entry is made under the
    /// map's lock, so the count read here is exact.
    fn release(&self, user: &UserId, entry: Entry) {
        let mut map = self.map();
        drop(entry);
        if map.get(user).is_some_and(|e| Arc::strong_count(e) == 1) {
            map.remove(user);
        }
    }

    /// How many users have an entry (for tests of the cleanup).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

/// A held user lock; dropping it releases the lock, then the entry.
struct Held {
    guard: Option<OwnedMutexGuard<()>>,
    entry: Option<Entry>,
    user: UserId,
    locks: UserLocks,
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.guard.take());
        if let Some(entry) = self.entry.take() {
            self.locks.release(&self.user, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId(name.into())
    }

    #[tokio::test]
    async fn entries_go_away_when_unused() {
        let locks = UserLocks::default();
        let a = locks
            .lock(&user("a"), Duration::from_secs(1))
            .await
            .unwrap();
        let b = locks
            .lock(&user("b"), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(locks.len(), 2);
        // A waiter that gives up leaves the holder's entry in place.
        let timed_out = locks.lock(&user("a"), Duration::from_millis(20)).await;
        assert!(matches!(timed_out, Err(StoreError::LockTimeout { .. })));
        assert_eq!(locks.len(), 2);
        drop(a);
        drop(b);
        assert_eq!(locks.len(), 0);
    }
}

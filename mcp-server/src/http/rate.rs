//! The per-client rate limit: a token bucket per MCP client id, holding
//! `JIRA_MCP_RATE_LIMIT` calls and refilled at that many per minute. The
//! buckets are an LRU, so memory stays bounded whatever the clients do.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Buckets kept (a client forgotten starts again with a full bucket).
const CLIENTS: usize = 10_000;

/// Token buckets by client id.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<LruCache<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute` calls per minute per client, in bursts up to that many.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(LruCache::new(
                NonZeroUsize::new(CLIENTS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Takes one call for `client`, or says how long until one is allowed.
    pub fn take(&self, client: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.get_or_insert_mut(client.to_string(), || Bucket {
            tokens: self.per_minute,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(self.per_minute);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

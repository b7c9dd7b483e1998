//! Token-bucket rate limits: per MCP client id on `/mcp` (holding
//! `JIRA_MCP_RATE_LIMIT` calls, refilled at that many per minute), and per
//! address on the authorization endpoints (`authz::limits`). The buckets
//! are an LRU, so memory stays bounded whatever the callers do.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Buckets kept (a client forgotten starts again with a full bucket).
const CLIENTS: usize = 10_000;

/// Token buckets by key (a client id, an address).
pub struct RateLimiter {
    /// The bucket's size: calls allowed in a burst.
    capacity: f64,
    /// Calls added back per second.
    rate: f64,
    buckets: Mutex<LruCache<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute` calls per minute per client, in bursts up to that many.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter::per(per_minute, Duration::from_secs(60))
    }

    /// `limit` calls per `period` per key, in bursts up to that many.
    pub fn per(limit: u32, period: Duration) -> RateLimiter {
        let capacity = f64::from(limit.max(1));
        RateLimiter {
            capacity,
            rate: capacity / period.as_secs_f64().max(1.0),
            buckets: Mutex::new(LruCache::new(
                NonZeroUsize::new(CLIENTS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Takes one call for `client`, or says how long until one is allowed.
    pub fn take(&self, client: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = self.rate;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.get_or_insert_mut(client.to_string(), || Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(self.capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

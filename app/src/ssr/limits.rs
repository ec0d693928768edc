//! What one client may ask of this process: token buckets for sign-ins (per client address) and
//! for state-changing server functions (per session), and a cap on the live-run streams one
//! session holds open. Kept in memory: each imlink process counts on its own.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::state::LimitPolicy;

/// Buckets kept before full (idle) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// A token bucket per key: `per_minute` tokens at most, refilled evenly over a minute.
pub struct Throttle {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    pub fn new(per_minute: u32) -> Self {
        Throttle {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key`; when none is left, how long until one is.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = refilled.min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// Open streams per key, at most `cap` each.
pub struct StreamSlots {
    cap: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream; the slot is given back when it is dropped.
pub struct StreamSlot {
    key: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamSlots {
    pub fn new(cap: u32) -> Self {
        StreamSlots {
            cap: cap.max(1) as usize,
            open: Arc::default(),
        }
    }

    /// A slot for `key`, unless it already holds `cap` streams.
    pub fn acquire(&self, key: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key.to_string()).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            key: key.to_string(),
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// This process's limits.
pub struct Limits {
    pub sign_ins: Throttle,
    pub actions: Throttle,
    pub streams: StreamSlots,
    refused_local_sign_ins: AtomicU64,
}

impl Limits {
    pub fn new(policy: LimitPolicy) -> Self {
        Limits {
            sign_ins: Throttle::new(policy.sign_ins_per_minute),
            actions: Throttle::new(policy.actions_per_minute),
            streams: StreamSlots::new(policy.streams_per_session),
            refused_local_sign_ins: AtomicU64::new(0),
        }
    }

    /// Counts a sign-in attempt (any method) from the client behind `peer` and `headers`;
    /// the wait before the next one is allowed when over `limits.sign_ins_per_minute`.
    pub fn take_sign_in(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        trusted_proxies: &[IpAddr],
    ) -> Result<(), Duration> {
        let key = client_key(peer, headers, trusted_proxies);
        self.sign_ins.take(&key).inspect_err(|_| {
            tracing::warn!(client = %key, "sign-in attempts rate limited");
        })
    }

    /// Counts a refused demo sign-in; returns how many this process has refused.
    pub fn count_refused_local_sign_in(&self) -> u64 {
        self.refused_local_sign_ins.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// How many demo sign-ins this process has refused.
    pub fn refused_local_sign_ins(&self) -> u64 {
        self.refused_local_sign_ins.load(Ordering::Relaxed)
    }
}

/// Seconds to tell a client to wait (`Retry-After`), at least one.
pub fn retry_after_seconds(wait: Duration) -> u32 {
    wait.as_secs_f64().ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// The client's address as a key for per-client limits and logs (`unknown` without one).
pub fn client_key(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> String {
    client_address(peer, headers, trusted_proxies)
        .map_or_else(|| "unknown".to_string(), |c| c.to_string())
}

/// The client's address: the connection's peer, or, when the peer is one of
/// `trusted_proxies`, the nearest address in `X-Forwarded-For` that is not a trusted proxy.
pub fn client_address(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?.ip().to_canonical();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(|a| a.to_canonical())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted_proxies.contains(a))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_evenly() {
        let t = Throttle::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.take_at("a", start), Ok(()));
        }
        let wait = t.take_at("a", start).unwrap_err();
        assert!(
            (19.0..=20.5).contains(&wait.as_secs_f64()),
            "one token every 20 s: {wait:?}"
        );
        assert_eq!(retry_after_seconds(wait), 20);
        // Other keys have their own bucket.
        assert_eq!(t.take_at("b", start), Ok(()));
        // 20 seconds later one token is back, and only one.
        let later = start + Duration::from_secs(20);
        assert_eq!(t.take_at("a", later), Ok(()));
        assert!(t.take_at("a", later).is_err());
    }

    #[test]
    fn stream_slots_are_given_back_when_dropped() {
        let slots = StreamSlots::new(2);
        let a = slots.acquire("s").expect("first");
        let _b = slots.acquire("s").expect("second");
        assert!(slots.acquire("s").is_none());
        assert!(slots.acquire("t").is_some());
        drop(a);
        assert!(slots.acquire("s").is_some());
    }

    #[test]
    fn the_client_address_is_believed_from_trusted_proxies_only() {
        let peer: SocketAddr = "10.0.0.5:41000".parse().unwrap();
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 192.0.2.7"),
        );
        assert_eq!(
            client_address(Some(peer), &headers, &[]),
            Some(proxy),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_address(Some(peer), &headers, &[proxy]),
            Some("192.0.2.7".parse().unwrap()),
            "the address the trusted proxy saw, not what the client claimed before it"
        );
        assert_eq!(
            client_address(Some(peer), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(client_address(None, &headers, &[]), None);
    }
}

//! Log-in rate limits that let a room in and keep guessers out.
//!
//! A workshop's room logs in within the same minute from one address (a
//! classroom behind one NAT), so successes are not what is limited:
//! - **failures** (a wrong password, an unknown email) per account and per
//!   client address: after `limit` of them within a minute the account (or
//!   address) gets 429 for every attempt — the right password too — until
//!   the oldest of them is a minute old. This locks one account against
//!   guessing and slows password spraying across many accounts from one
//!   address;
//! - **successful log-ins** per address, with a ceiling high enough for a
//!   room (governor's GCRA, counted when the password was right).
//!
//! Governor cannot tell whether a key is exhausted without spending a cell,
//! which a lock that refuses before the password is checked needs; the
//! failures are therefore a window of times per key (at most `limit` each).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// How long a failure counts.
const WINDOW: Duration = Duration::from_secs(60);

/// The failures of the last minute per key.
#[derive(Debug)]
struct Failures<K> {
    limit: usize,
    seen: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn new(limit: u32) -> Self {
        Self { limit: (limit as usize).max(1), seen: Mutex::new(HashMap::new()) }
    }

    /// How long `key` stays locked, if it has `limit` failures within the window.
    fn locked_for(&self, key: &K, now: Instant) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let times = seen.get_mut(key)?;
        while times.front().is_some_and(|&t| now.duration_since(t) >= WINDOW) {
            times.pop_front();
        }
        let oldest = *times.front()?;
        (times.len() >= self.limit).then(|| WINDOW.saturating_sub(now.duration_since(oldest)))
    }

    fn record(&self, key: K, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let times = seen.entry(key).or_default();
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    fn forget_idle(&self, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, times| times.back().is_some_and(|&t| now.duration_since(t) < WINDOW));
    }
}

/// The log-in limits: failures per account and per address, successes per address.
#[derive(Debug)]
pub struct LoginLimits {
    failures_per_account: Failures<String>,
    failures_per_ip: Failures<IpAddr>,
    logins_per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn too_many(wait: Duration) -> AppError {
    let secs = wait.as_secs() + 1;
    AppError::too_many_requests(format!("Too many log-in attempts. Wait {secs} seconds and try again."), secs)
}

impl LoginLimits {
    /// Allows `failures_per_account` failed attempts per minute on one
    /// email, `failures_per_ip` per minute from one address, and
    /// `logins_per_ip` successful log-ins per minute from one address (a
    /// zero is treated as one).
    pub fn new(failures_per_account: u32, failures_per_ip: u32, logins_per_ip: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(logins_per_ip).unwrap_or(NonZeroU32::MIN));
        Self {
            failures_per_account: Failures::new(failures_per_account),
            failures_per_ip: Failures::new(failures_per_ip),
            logins_per_ip: RateLimiter::keyed(quota),
        }
    }

    /// Before the password is checked: refuses an account or an address
    /// that has used its failures.
    ///
    /// # Errors
    /// 429 with the seconds until the oldest failure is a minute old.
    pub fn before(&self, email_key: &str, ip: IpAddr) -> Result<(), AppError> {
        let now = Instant::now();
        let account = self.failures_per_account.locked_for(&email_key.to_owned(), now);
        match (account, self.failures_per_ip.locked_for(&ip, now)) {
            (None, None) => Ok(()),
            (a, b) => Err(too_many(a.unwrap_or_default().max(b.unwrap_or_default()))),
        }
    }

    /// A wrong password or unknown email: counts against the account and the address.
    pub fn failed(&self, email_key: &str, ip: IpAddr) {
        let now = Instant::now();
        self.failures_per_account.record(email_key.to_owned(), now);
        self.failures_per_ip.record(ip, now);
    }

    /// A right password: counts against the address's ceiling of log-ins.
    ///
    /// # Errors
    /// 429 past the ceiling, with the seconds until the next one.
    pub fn succeeded(&self, ip: IpAddr) -> Result<(), AppError> {
        self.logins_per_ip.check_key(&ip).map_err(|n| too_many(n.wait_time_from(DefaultClock::default().now())))
    }

    /// Forgets keys with nothing left to count (bounds memory).
    pub fn forget_idle(&self) {
        let now = Instant::now();
        self.failures_per_account.forget_idle(now);
        self.failures_per_ip.forget_idle(now);
        self.logins_per_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_for_a_minute_from_the_oldest() {
        let failures = Failures::new(3);
        let t0 = Instant::now();
        for k in 0..3 {
            assert_eq!(failures.locked_for(&"ada", t0), None);
            failures.record("ada", t0 + Duration::from_secs(k));
        }
        let at = t0 + Duration::from_secs(10);
        assert_eq!(failures.locked_for(&"ada", at), Some(Duration::from_secs(50)));
        assert_eq!(failures.locked_for(&"bob", at), None, "other keys are not locked");
        // A minute after the first failure, two remain: open again.
        assert_eq!(failures.locked_for(&"ada", t0 + WINDOW), None);
        failures.forget_idle(t0 + WINDOW + Duration::from_secs(3));
        assert!(failures.seen.lock().unwrap().is_empty());
    }

    #[test]
    fn successes_do_not_lock_and_have_their_own_ceiling() {
        let limits = LoginLimits::new(2, 3, 4);
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..4 {
            assert!(limits.before("ada", a).is_ok());
            assert!(limits.succeeded(a).is_ok());
        }
        let err = limits.succeeded(a).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS, "the fifth log-in in a minute");
        limits.failed("bob", a);
        limits.failed("bob", a);
        assert!(limits.before("bob", a).is_err(), "two failures lock bob");
        assert!(limits.before("cy", a).is_ok(), "but not the address, which allows 3");
        limits.failed("cy", a);
        assert!(limits.before("dee", a).is_err(), "the address's third failure locks it for every account");
    }
}

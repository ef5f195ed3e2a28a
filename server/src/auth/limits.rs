//! Log-in rate limits (governor's GCRA), keyed by account and by client IP.
//! Every attempt counts, successful or not; both limits must allow it.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// The two limiters of log-in attempts.
#[derive(Debug)]
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    /// Allows `per_account` attempts per minute for one email and `per_ip`
    /// per minute from one address (a zero is treated as one).
    pub fn new(per_account: u32, per_ip: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self { per_account: RateLimiter::keyed(quota(per_account)), per_ip: RateLimiter::keyed(quota(per_ip)) }
    }

    /// Counts one attempt at `email_key` from `ip`.
    ///
    /// # Errors
    /// 429 with the seconds to wait when either limit is exhausted.
    pub fn check(&self, email_key: &str, ip: IpAddr) -> Result<(), AppError> {
        let clock = DefaultClock::default();
        let wait = match (self.per_ip.check_key(&ip), self.per_account.check_key(&email_key.to_owned())) {
            (Err(n), _) | (_, Err(n)) => n.wait_time_from(clock.now()),
            (Ok(()), Ok(())) => return Ok(()),
        };
        let secs = wait.as_secs() + 1;
        Err(AppError::too_many_requests(format!("Too many log-in attempts. Wait {secs} seconds and try again."), secs))
    }

    /// Forgets keys whose limits are fully replenished (bounds memory).
    pub fn forget_idle(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_and_ip_limits_are_separate() {
        let limits = LoginLimits::new(2, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(limits.check("ada", a).is_ok());
        assert!(limits.check("ada", b).is_ok());
        let err = limits.check("ada", a).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS, "third try on one account");
        assert!(limits.check("bob", a).is_ok(), "other accounts are not affected");
        assert!(limits.check("cy", a).is_err(), "but address a has used its 3 (+1 refused) attempts");
    }
}

//! Rate limits (governor): per authenticated principal, one quota for read tools and a stricter
//! one for high-privilege tools; and per connection address in front of authentication. Keys
//! never come from client-sent headers.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::ToolClass;

/// A quota: sustained rate per minute and burst size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateQuota {
    fn governor(self) -> Quota {
        let rate = NonZeroU32::new(self.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::per_minute(rate).allow_burst(burst)
    }
}

/// A refused call: which quota, and when a retry can succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "rate limit: the {quota} quota ({} per minute, burst {}) of `{key}` is used up; retry in {:.1} s",
    limit.per_minute,
    limit.burst,
    retry_after.as_secs_f64()
)]
pub struct QuotaExceeded {
    pub quota: &'static str,
    pub key: String,
    pub limit: RateQuota,
    pub retry_after: Duration,
}

struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    quota: RateQuota,
    name: &'static str,
}

impl<K: Hash + Eq + Clone + std::fmt::Display> Keyed<K> {
    fn new(name: &'static str, quota: RateQuota) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota.governor()),
            quota,
            name,
        }
    }

    fn check(&self, key: &K) -> Result<(), QuotaExceeded> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| QuotaExceeded {
                quota: self.name,
                key: key.to_string(),
                limit: self.quota,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Per-principal quotas for tool calls.
pub struct RateLimits {
    read: Keyed<String>,
    high: Keyed<String>,
}

impl RateLimits {
    pub fn new(read: RateQuota, high_privilege: RateQuota) -> Self {
        Self {
            read: Keyed::new("read", read),
            high: Keyed::new("high-privilege", high_privilege),
        }
    }

    /// Counts one call of a `class` tool by `subject`.
    pub fn check(&self, subject: &str, class: ToolClass) -> Result<(), QuotaExceeded> {
        let key = subject.to_owned();
        match class {
            ToolClass::Read => self.read.check(&key),
            ToolClass::HighPrivilege => self.high.check(&key),
        }
    }

    /// Drops the state of principals whose quota is full again (bounds memory).
    pub fn forget_idle(&self) {
        self.read.forget_idle();
        self.high.forget_idle();
    }
}

/// Requests per connection address, checked before the token is looked at.
pub struct AddressLimiter(Keyed<IpAddr>);

impl AddressLimiter {
    pub fn new(quota: RateQuota) -> Self {
        Self(Keyed::new("per-address", quota))
    }

    pub fn check(&self, addr: IpAddr) -> Result<(), QuotaExceeded> {
        self.0.check(&addr)
    }

    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_refused_per_key_and_class_with_a_retry_time() {
        let limits = RateLimits::new(
            RateQuota {
                per_minute: 60,
                burst: 3,
            },
            RateQuota {
                per_minute: 6,
                burst: 1,
            },
        );
        for _ in 0..3 {
            assert!(limits.check("a", ToolClass::Read).is_ok());
        }
        let refused = limits.check("a", ToolClass::Read).err();
        assert!(
            matches!(&refused, Some(q) if q.quota == "read" && q.retry_after > Duration::ZERO && q.retry_after <= Duration::from_secs(1))
        );
        assert!(
            refused
                .map(|q| q.to_string())
                .unwrap_or_default()
                .contains("retry in")
        );
        // Another principal and the other class have their own buckets.
        assert!(limits.check("b", ToolClass::Read).is_ok());
        assert!(limits.check("a", ToolClass::HighPrivilege).is_ok());
        let high = limits.check("a", ToolClass::HighPrivilege).err();
        assert!(
            matches!(high, Some(q) if q.quota == "high-privilege" && q.retry_after > Duration::from_secs(5))
        );
    }
}

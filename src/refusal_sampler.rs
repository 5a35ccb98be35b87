//! Which per-address quota refusals reach the trace: the first of each address in each minute.
//! Every refusal is still counted in `mlops_refusals_total`; a flood from one address writes at
//! most one row a minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Addresses remembered at most; past it, those not seen this minute are forgotten.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Default)]
pub struct RefusalSampler {
    /// The minute (Unix time / 60) each address was last traced in.
    traced: Mutex<HashMap<IpAddr, i64>>,
}

impl RefusalSampler {
    /// Whether a refusal of `address` in `minute` should be traced.
    pub fn should_trace(&self, address: IpAddr, minute: i64) -> bool {
        let Ok(mut traced) = self.traced.lock() else {
            return true;
        };
        if traced.len() >= MAX_ADDRESSES {
            traced.retain(|_, m| *m == minute);
            if traced.len() >= MAX_ADDRESSES {
                traced.clear();
            }
        }
        traced.insert(address, minute) != Some(minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trace_per_address_per_minute() {
        let s = RefusalSampler::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(s.should_trace(a, 100));
        assert!(!s.should_trace(a, 100));
        assert!(s.should_trace(b, 100));
        assert!(s.should_trace(a, 101));
        assert!(!s.should_trace(a, 101));
    }

    #[test]
    fn memory_stays_bounded() {
        let s = RefusalSampler::default();
        for i in 0..(MAX_ADDRESSES as u32 + 10) {
            s.should_trace(IpAddr::from(i.to_be_bytes()), 7);
        }
        let kept = s.traced.lock().map(|t| t.len()).unwrap_or(usize::MAX);
        assert!(kept <= MAX_ADDRESSES, "{kept}");
    }
}

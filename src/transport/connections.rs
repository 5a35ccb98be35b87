//! What keeps connections from exhausting the server: a cap on connections served at once, an
//! idle timeout that closes a connection sending no request (HTTP/2 included, which hyper's
//! header-read timeout does not cover), and accept errors (out of file descriptors) met with
//! back-off and logged at a bounded rate instead of a spinning loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a connection last started a request, shared by its service and its watcher.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the newest request.
    last_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    /// A request started now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long since the newest request (or since the connection opened).
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }
}

/// Back-off after failed accepts, and a log line at most once a second that says how many
/// failures it stands for.
#[derive(Debug)]
pub struct AcceptBackoff {
    delay: Duration,
    last_log: Option<Instant>,
    unlogged: u64,
}

const FIRST_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(1);

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            delay: FIRST_DELAY,
            last_log: None,
            unlogged: 0,
        }
    }
}

impl AcceptBackoff {
    /// An accept succeeded: the next failure waits the shortest time again.
    pub fn succeeded(&mut self) {
        self.delay = FIRST_DELAY;
    }

    /// An accept failed with `error`: logs (rate-bounded) and returns how long to wait.
    pub fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.unlogged += 1;
        if self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::warn!(%error, failures = self.unlogged, "accepting connections failed; backing off");
            self.last_log = Some(Instant::now());
            self.unlogged = 0;
        }
        let wait = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::other("too many open files");
        let waits: Vec<Duration> = (0..10).map(|_| b.failed(&e)).collect();
        assert_eq!(waits[0], Duration::from_millis(5));
        assert_eq!(waits[1], Duration::from_millis(10));
        assert_eq!(waits[9], Duration::from_secs(1));
        b.succeeded();
        assert_eq!(b.failed(&e), Duration::from_millis(5));
    }

    #[test]
    fn activity_measures_idleness_from_the_newest_request() {
        let a = Activity::new();
        assert!(a.idle_for() < Duration::from_secs(1));
        a.touch();
        assert!(a.idle_for() < Duration::from_secs(1));
    }
}

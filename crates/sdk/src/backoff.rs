//! Reconnect delays: exponential backoff with "equal jitter".

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The delays between reconnect attempts: `initial`, doubling up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial,
            max: max.max(initial),
        }
    }

    /// The un-randomised delay before the next attempt; advances the sequence.
    pub(crate) fn next_base(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// The delay before the next attempt, randomised into `[base / 2, base]`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        jitter(self.next_base(), random_u64())
    }
}

/// `base / 2` plus a share of `base / 2` chosen by `random`.
fn jitter(base: Duration, random: u64) -> Duration {
    let half = base / 2;
    let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = random
        .checked_rem(half_nanos.saturating_add(1))
        .unwrap_or(0);
    half + Duration::from_nanos(extra)
}

/// A random number from the standard library's per-instance hash keys: enough for jitter,
/// without a dependency on a random number crate.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_100ms_to_5s() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let seq: Vec<u128> = (0..10).map(|_| backoff.next_base().as_millis()).collect();
        assert_eq!(
            seq,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]
        );
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let base = Duration::from_millis(800);
        for random in [
            0,
            1,
            399_999_999,
            400_000_000,
            400_000_001,
            u64::MAX,
            random_u64(),
        ] {
            let delay = jitter(base, random);
            assert!(delay >= base / 2 && delay <= base, "{random}: {delay:?}");
        }
        assert_eq!(jitter(base, 0), base / 2);
        assert_eq!(jitter(base, 400_000_000), base);
        assert_eq!(jitter(Duration::ZERO, 7), Duration::ZERO);
    }

    #[test]
    fn randomised_delays_follow_the_sequence() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for base in [100, 200, 400, 800, 1600, 3200, 5000, 5000] {
            let delay = backoff.next_delay();
            let base = Duration::from_millis(base);
            assert!(delay >= base / 2 && delay <= base, "{delay:?} for {base:?}");
        }
    }
}

//! Demo mode's UserSig signing: whether it is public, and the server-wide rate of signing.

use std::sync::Mutex;
use std::time::Instant;

use crate::rate::TokenBucket;

/// Demo UserSigs signed per second, server-wide, after a burst of [`DEMO_SIG_BURST`]: plenty
/// for people trying the web chat, and no mass sign-up.
const DEMO_SIGS_PER_SECOND: u32 = 1;
const DEMO_SIG_BURST: u32 = 20;

/// What demo mode keeps: whether it is public, and the rate limit of its signing.
#[derive(Debug)]
pub struct DemoSigner {
    pub(crate) public: bool,
    bucket: Mutex<TokenBucket>,
}

impl DemoSigner {
    /// Demo signing; `public` lifts the check that requests are addressed to loopback.
    pub fn new(public: bool) -> Self {
        Self {
            public,
            bucket: Mutex::new(TokenBucket::new(DEMO_SIGS_PER_SECOND, DEMO_SIG_BURST)),
        }
    }

    pub(crate) fn try_take(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        bucket.try_take(Instant::now())
    }
}

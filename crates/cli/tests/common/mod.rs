//! Running the real `tidings` binary in tests: `tidings serve` on an ephemeral port, its
//! address read from the banner, the process killed when the handle drops; and UserSigs for it.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The secret key every test server is started with.
pub const KEY: &str = "cli-test-key";
/// The default SDKAppID, which test servers keep.
pub const SDKAPPID: u64 = 1_400_000_000;

/// A child process killed (SIGKILL) when the test ends, passing or failing.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `tidings serve`.
pub struct Serving {
    pub process: KillOnDrop,
    /// Its WebSocket URL.
    pub url: String,
}

/// Starts `tidings serve --listen 127.0.0.1:0 --secret-key KEY` with `args` added, and waits
/// for its banner.
pub fn serve<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--listen", "127.0.0.1:0", "--secret-key", KEY])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tidings starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Log lines may come before the banner.
    let banner = lines
        .by_ref()
        .map(|line| line.expect("readable"))
        .find(|line| line.contains("listening on http://"))
        .expect("a banner line");
    let address = banner
        .rsplit("http://")
        .next()
        .expect("address in banner")
        .trim()
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Serving {
        process: KillOnDrop(child),
        url: format!("ws://{address}/ws"),
    }
}

/// A UserSig for `user`, valid for an hour.
pub fn sig(user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    tidings_usersig::generate(SDKAPPID, KEY, user, 3600, now as i64)
}

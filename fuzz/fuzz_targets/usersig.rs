//! Fuzzes the UserSig verifier (Tencent's base64 variant, zlib, JSON, HMAC): any input must be
//! answered with an error or a verified signature that has not expired, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

const SDKAPPID: u64 = 1_400_000_000;
const KEY: &str = "fuzz-key";
/// The seeds were signed at 1,700,000,000 for a day.
const NOW: i64 = 1_700_000_100;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input is "<user>\n<usersig>"; without a newline, all of it is a UserSig for "alice".
    let (user, user_sig) = text.split_once('\n').unwrap_or(("alice", text));
    if let Ok(verified) = tidings_usersig::verify(SDKAPPID, KEY, user, user_sig, NOW) {
        assert!(verified.expires_at >= NOW, "accepted an expired UserSig: {verified:?}");
    }
});

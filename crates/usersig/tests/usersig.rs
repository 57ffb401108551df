//! Tests of UserSig generation and verification: Tencent's vector, round trips, every rejection
//! reason, and hostile input that must be rejected without panicking.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use std::io::Write as _;
use tidings_usersig::{
    DEFAULT_EXPIRE_SECS, UserSigError, VerifiedSig, generate, generate_with_userbuf, verify,
};

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const APPID: u64 = 1_400_000_000;
const TIME: i64 = 1_700_000_000;
const EXPIRE: u64 = 15_552_000;
const VECTOR_SIG: &str = "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=";
/// The UserSig Tencent's Python package `tls-sig-api-v2` 1.1 makes for the inputs above.
const TENCENT_USERSIG: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__";

/// Packs a JSON text the way a UserSig is packed (zlib, base64, Tencent's character swap).
fn pack(json: &str) -> String {
    pack_bytes(&zlib(json.as_bytes()))
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("write to Vec");
    enc.finish().expect("finish to Vec")
}

fn pack_bytes(data: &[u8]) -> String {
    STANDARD
        .encode(data)
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

/// Reverses [`pack`], giving the JSON text.
fn unpack_raw(user_sig: &str) -> Vec<u8> {
    use std::io::Read as _;
    let b64 = user_sig
        .replace('*', "+")
        .replace('-', "/")
        .replace('_', "=");
    let compressed = STANDARD.decode(b64).expect("base64");
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .expect("zlib");
    json
}

/// Reverses [`pack`], giving the parsed JSON.
fn unpack(user_sig: &str) -> serde_json::Value {
    serde_json::from_slice(&unpack_raw(user_sig)).expect("json")
}

fn is_malformed(r: &Result<VerifiedSig, UserSigError>) -> bool {
    matches!(r, Err(UserSigError::Malformed(_)))
}

#[test]
fn section7_vector_sig_field() {
    let user_sig = generate(APPID, KEY, "xiaojun", EXPIRE, TIME);
    let doc = unpack(&user_sig);
    assert_eq!(doc["TLS.sig"], VECTOR_SIG);
    assert_eq!(doc["TLS.ver"], "2.0");
    assert_eq!(doc["TLS.identifier"], "xiaojun");
    assert_eq!(doc["TLS.sdkappid"], APPID);
    assert_eq!(doc["TLS.expire"], EXPIRE);
    assert_eq!(doc["TLS.time"], TIME);
}

#[test]
fn generate_makes_the_same_json_as_tencent() {
    // The JSON document is byte-for-byte what Tencent's Python package compresses; the zlib bytes
    // themselves depend on the compressor (Tencent's own libraries differ there too).
    let ours = unpack_raw(&generate(APPID, KEY, "xiaojun", EXPIRE, TIME));
    let theirs = unpack_raw(TENCENT_USERSIG);
    assert_eq!(String::from_utf8(ours), String::from_utf8(theirs));
}

#[test]
fn tencent_usersig_verifies_with_injected_clock() {
    let v = verify(APPID, KEY, "xiaojun", TENCENT_USERSIG, 1_700_000_100).expect("valid");
    assert_eq!(
        v,
        VerifiedSig {
            issued_at: TIME,
            expires_at: 1_715_552_000
        }
    );
    // Still valid at the last second, expired one second later.
    assert!(verify(APPID, KEY, "xiaojun", TENCENT_USERSIG, 1_715_552_000).is_ok());
    assert_eq!(
        verify(APPID, KEY, "xiaojun", TENCENT_USERSIG, 1_715_552_001),
        Err(UserSigError::Expired)
    );
}

#[test]
fn round_trip() {
    for (id, expire) in [
        ("alice", DEFAULT_EXPIRE_SECS),
        ("", 1),
        ("user with spaces & \"quotes\" \\ é 😀\n", 60),
        ("x", 0),
    ] {
        let s = generate(42, "k", id, expire, 1_000);
        let v = verify(42, "k", id, &s, 1_000).expect("round trip");
        assert_eq!(v.issued_at, 1_000);
        assert_eq!(v.expires_at, 1_000 + i64::try_from(expire).expect("fits"));
    }
}

#[test]
fn round_trip_with_userbuf() {
    let s = generate_with_userbuf(APPID, KEY, "xiaojun", 86_400, TIME, b"abc");
    assert_eq!(unpack(&s)["TLS.userbuf"], "YWJj");
    assert!(verify(APPID, KEY, "xiaojun", &s, TIME).is_ok());

    // The userbuf is covered by the HMAC.
    let mut doc = unpack(&s);
    doc["TLS.userbuf"] = "YWJk".into();
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &pack(&doc.to_string()), TIME),
        Err(UserSigError::KeyMismatch)
    );
    // Dropping it breaks the HMAC too.
    let mut doc = unpack(&s);
    doc.as_object_mut().expect("object").remove("TLS.userbuf");
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &pack(&doc.to_string()), TIME),
        Err(UserSigError::KeyMismatch)
    );
}

#[test]
fn extreme_values_do_not_overflow() {
    let s = generate(u64::MAX, "k", "u", u64::MAX, i64::MAX);
    let v = verify(u64::MAX, "k", "u", &s, i64::MAX).expect("valid");
    assert_eq!(
        v,
        VerifiedSig {
            issued_at: i64::MAX,
            expires_at: i64::MAX
        }
    );
    let s = generate(0, "k", "u", 0, i64::MIN);
    assert_eq!(
        verify(0, "k", "u", &s, i64::MIN).map(|v| v.expires_at),
        Ok(i64::MIN)
    );
    assert_eq!(
        verify(0, "k", "u", &s, i64::MIN + 1),
        Err(UserSigError::Expired)
    );
}

#[test]
fn wrong_key_or_tampered_sig_is_key_mismatch() {
    assert_eq!(
        verify(APPID, "another key", "xiaojun", TENCENT_USERSIG, TIME),
        Err(UserSigError::KeyMismatch)
    );
    let mut doc = unpack(TENCENT_USERSIG);
    doc["TLS.sig"] = "MvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=".into();
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &pack(&doc.to_string()), TIME),
        Err(UserSigError::KeyMismatch)
    );
    // A truncated signature is a mismatch, not a panic.
    doc["TLS.sig"] = "LvA7".into();
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &pack(&doc.to_string()), TIME),
        Err(UserSigError::KeyMismatch)
    );
    // Stretching the lifetime invalidates the HMAC.
    let mut doc = unpack(TENCENT_USERSIG);
    doc["TLS.expire"] = (EXPIRE * 100).into();
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &pack(&doc.to_string()), TIME),
        Err(UserSigError::KeyMismatch)
    );
}

#[test]
fn key_mismatch_is_reported_before_expiry() {
    assert_eq!(
        verify(APPID, "wrong", "xiaojun", TENCENT_USERSIG, 1_800_000_000),
        Err(UserSigError::KeyMismatch)
    );
}

#[test]
fn other_user_is_identifier_mismatch() {
    assert_eq!(
        verify(APPID, KEY, "xiaojun2", TENCENT_USERSIG, TIME),
        Err(UserSigError::IdentifierMismatch)
    );
    // Checked before the key.
    assert_eq!(
        verify(APPID, "wrong", "someone", TENCENT_USERSIG, TIME),
        Err(UserSigError::IdentifierMismatch)
    );
}

#[test]
fn other_appid_is_sdkappid_mismatch() {
    assert_eq!(
        verify(1_400_000_001, KEY, "xiaojun", TENCENT_USERSIG, TIME),
        Err(UserSigError::SdkAppIdMismatch)
    );
    // Checked before the identifier.
    assert_eq!(
        verify(1, KEY, "someone", TENCENT_USERSIG, TIME),
        Err(UserSigError::SdkAppIdMismatch)
    );
}

#[test]
fn other_json_layouts_and_string_numbers_are_accepted() {
    // Go-style compact JSON with a different key order, a trailing newline, no TLS.ver, stored
    // (level 0) zlib and numbers given as strings.
    let json = format!(
        "{{\"TLS.sig\":\"{VECTOR_SIG}\",\"TLS.time\":\"{TIME}\",\"TLS.expire\":{EXPIRE},\
         \"TLS.sdkappid\":\"{APPID}\",\"TLS.identifier\":\"xiaojun\",\"extra\":[1,2]}}\n"
    );
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::none());
    enc.write_all(json.as_bytes()).expect("write");
    let s = pack_bytes(&enc.finish().expect("finish"));
    assert_eq!(
        verify(APPID, KEY, "xiaojun", &s, TIME),
        Ok(VerifiedSig {
            issued_at: TIME,
            expires_at: 1_715_552_000
        })
    );
    // Padding is optional on the outer base64.
    let trimmed = TENCENT_USERSIG.trim_end_matches('_');
    assert!(verify(APPID, KEY, "xiaojun", trimmed, TIME).is_ok());
}

#[test]
fn empty_is_empty() {
    assert_eq!(
        verify(APPID, KEY, "xiaojun", "", TIME),
        Err(UserSigError::Empty)
    );
}

#[test]
fn garbage_is_malformed() {
    let not_zlib = pack_bytes(b"hello, this is not zlib at all");
    let not_json = pack("this is not { json");
    let not_object = pack("[1,2,3]");
    let truncated = &TENCENT_USERSIG[..TENCENT_USERSIG.len() / 2];
    let huge = "A".repeat(100_000);
    let cases: Vec<String> = vec![
        "abc".into(),
        " ".into(),
        "!!!!".into(),
        "é😀".into(),
        "\0\0\0\0".into(),
        not_zlib,
        not_json,
        not_object,
        truncated.into(),
        huge,
        pack("{}"),
        pack("null"),
        // Missing each field in turn.
        pack(r#"{"TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#),
        pack(r#"{"TLS.identifier":"xiaojun","TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1}"#,
        ),
        // Ill-typed fields.
        pack(
            r#"{"TLS.identifier":7,"TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":-1,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000.5,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":"14e8","TLS.time":1,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1e300,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":99999999999999999999,"TLS.expire":1,"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":[],"TLS.sig":"AA=="}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":"*not base64*"}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":5}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA==","TLS.userbuf":1}"#,
        ),
        pack(
            r#"{"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1,"TLS.expire":1,"TLS.sig":"AA==","TLS.userbuf":"!"}"#,
        ),
        // Deeply nested JSON must hit serde_json's recursion limit, not the stack.
        pack(&format!("{}{}", "[".repeat(2_000), "]".repeat(2_000))),
    ];
    for (i, case) in cases.iter().enumerate() {
        let r = verify(APPID, KEY, "xiaojun", case, TIME);
        assert!(is_malformed(&r), "case {i} ({case:.60}): {r:?}");
    }
}

#[test]
fn zip_bomb_is_malformed_without_blowing_up() {
    // 10 MB of spaces inside a JSON string compresses to ~10 KB; after base64 that exceeds the
    // input cap, so also try a smaller bomb that fits the input cap but not the output cap.
    for n in [10_000_000usize, 1_000_000, 5_000] {
        let json = format!("{{\"pad\":\"{}\"}}", " ".repeat(n));
        let s = pack(&json);
        let r = verify(APPID, KEY, "xiaojun", &s, TIME);
        assert!(is_malformed(&r), "bomb of {n} bytes: {r:?}");
    }
}

#[test]
fn error_messages() {
    assert_eq!(UserSigError::Empty.to_string(), "user signature is empty");
    assert_eq!(
        UserSigError::Malformed("invalid JSON".into()).to_string(),
        "user signature is malformed: invalid JSON"
    );
    for e in [
        UserSigError::Empty,
        UserSigError::SdkAppIdMismatch,
        UserSigError::IdentifierMismatch,
        UserSigError::KeyMismatch,
        UserSigError::Expired,
    ] {
        let msg = e.to_string();
        assert!(!msg.ends_with('.') && !msg.is_empty(), "{msg}");
    }
}

/// A tiny deterministic PRNG (xorshift64*), so the fuzz loop needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }
}

#[test]
fn fuzz_random_strings_never_panic() {
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_+/= {}\"";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let valid = TENCENT_USERSIG.as_bytes();
    for round in 0..20_000 {
        let s: String = match round % 4 {
            // Random characters from the base64-ish alphabet.
            0 => (0..rng.below(300))
                .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
                .collect(),
            // Arbitrary Unicode scalar values.
            1 => (0..rng.below(100))
                .filter_map(|_| {
                    char::from_u32(u32::try_from(rng.next() % 0x11_0000).expect("fits"))
                })
                .collect(),
            // The valid UserSig with a few characters mutated.
            2 => {
                let mut b = valid.to_vec();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(b.len());
                    b[i] = ALPHABET[rng.below(ALPHABET.len())];
                }
                String::from_utf8(b).expect("ascii")
            }
            // Valid zlib of random bytes.
            _ => {
                let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                pack_bytes(&zlib(&bytes))
            }
        };
        match verify(APPID, KEY, "xiaojun", &s, TIME) {
            // Only a mutation of the genuine UserSig can pass, and only if it still decodes to the
            // genuine document (e.g. the padding or bytes after the zlib stream changed).
            Ok(_) => {
                assert_eq!(round % 4, 2, "{s}");
                assert_eq!(unpack(&s), unpack(TENCENT_USERSIG));
            }
            Err(UserSigError::Empty) => assert!(s.is_empty()),
            Err(_) => {}
        }
    }
}

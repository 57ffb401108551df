//! Cross-implementation tests against Tencent's own Python package `tls-sig-api-v2`
//! (`pip install tls-sig-api-v2`): UserSigs made by Python verify in Rust, and UserSigs made in
//! Rust check out with the package's own decoding and signing code.
//!
//! The package (1.1) has no `verify_sig`, so the Python side verifies with the package's
//! `base64_decode_url` and its private HMAC routine, and also regenerates the UserSig at the same
//! clock to compare the JSON documents. If `python3` or the package is missing these tests fail,
//! unless `TIDINGS_SKIP_PYTHON_INTEROP=1` is set.

use std::process::Command;

use tidings_usersig::{UserSigError, VerifiedSig, generate, generate_with_userbuf, verify};

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const APPID: u64 = 1_400_000_000;

/// The identifiers both directions are tried with (printable ASCII, punctuation, non-ASCII).
const IDENTIFIERS: &[&str] = &[
    "xiaojun",
    "user@example.com",
    "with space, \"quotes\" and \\backslash",
    "名字",
    "a",
];

/// Generates a UserSig with Tencent's package at a fixed clock.
/// Arguments: sdkappid key identifier expire now [userbuf].
const PY_GENERATE: &str = r#"
import sys
import TLSSigAPIv2 as m
appid, key, ident, expire, now = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
m.time.time = lambda: now
api = m.TLSSigAPIv2(appid, key)
if len(sys.argv) > 6:
    print(api.gen_sig_with_userbuf(ident, expire, sys.argv[6].encode("utf-8")))
else:
    print(api.gen_sig(ident, expire))
"#;

/// Checks a UserSig with Tencent's package. Prints `OK` or the list of problems.
/// Arguments: sdkappid key identifier usersig now.
const PY_CHECK: &str = r#"
import base64, json, sys, zlib
import TLSSigAPIv2 as m
appid, key, ident, usersig, now = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
raw = zlib.decompress(m.base64_decode_url(usersig.encode("ascii")))
doc = json.loads(raw)
api = m.TLSSigAPIv2(appid, key)
userbuf = doc.get("TLS.userbuf")
problems = []
if doc.get("TLS.ver") != "2.0":
    problems.append("TLS.ver is %r" % doc.get("TLS.ver"))
if doc["TLS.sdkappid"] != appid:
    problems.append("sdkappid mismatch")
if doc["TLS.identifier"] != ident:
    problems.append("identifier mismatch")
expected = api._TLSSigAPIv2__hmacsha256(ident, doc["TLS.time"], doc["TLS.expire"], userbuf).decode()
if doc["TLS.sig"] != expected:
    problems.append("signature mismatch: %s != %s" % (doc["TLS.sig"], expected))
if now > doc["TLS.time"] + doc["TLS.expire"]:
    problems.append("expired")
m.time.time = lambda: doc["TLS.time"]
if userbuf is None:
    theirs = api.gen_sig(ident, doc["TLS.expire"])
else:
    theirs = api.gen_sig_with_userbuf(ident, doc["TLS.expire"], base64.b64decode(userbuf))
theirs_raw = zlib.decompress(m.base64_decode_url(theirs.encode("ascii")))
if theirs_raw != raw:
    problems.append("JSON differs from the package's: %r != %r" % (raw, theirs_raw))
print("OK" if not problems else "; ".join(problems))
"#;

/// Returns whether Tencent's package can be imported; fails the test with install instructions if
/// it cannot, unless `TIDINGS_SKIP_PYTHON_INTEROP=1`.
fn python_package_available() -> bool {
    let skip = std::env::var("TIDINGS_SKIP_PYTHON_INTEROP").is_ok_and(|v| v == "1");
    let problem = match Command::new("python3")
        .args(["-c", "import TLSSigAPIv2"])
        .output()
    {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`python3 -c 'import TLSSigAPIv2'` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("python3 could not be run: {e}"),
    };
    if skip {
        eprintln!(
            "note: skipping the Python interop test (TIDINGS_SKIP_PYTHON_INTEROP=1): {problem}"
        );
        return false;
    }
    panic!(
        "{problem}\nThe Python interop tests need Tencent's package: run `pip install tls-sig-api-v2` \
         (or set TIDINGS_SKIP_PYTHON_INTEROP=1 to skip them)"
    );
}

/// Runs a Python script with arguments and returns its trimmed stdout, failing on any error.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("python3 printed UTF-8")
        .trim()
        .to_owned()
}

fn py_generate(ident: &str, expire: u64, now: i64, userbuf: Option<&str>) -> String {
    let (appid, expire, now) = (APPID.to_string(), expire.to_string(), now.to_string());
    let mut args = vec![appid.as_str(), KEY, ident, expire.as_str(), now.as_str()];
    args.extend(userbuf);
    python(PY_GENERATE, &args)
}

fn py_check(ident: &str, user_sig: &str, now: i64) -> String {
    let (appid, now) = (APPID.to_string(), now.to_string());
    python(
        PY_CHECK,
        &[appid.as_str(), KEY, ident, user_sig, now.as_str()],
    )
}

#[test]
fn python_reproduces_the_section7_usersig() {
    if !python_package_available() {
        return;
    }
    assert_eq!(
        py_generate("xiaojun", 15_552_000, 1_700_000_000, None),
        "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__"
    );
}

#[test]
fn python_usersigs_verify_in_rust() {
    if !python_package_available() {
        return;
    }
    let now = 1_750_000_000;
    for ident in IDENTIFIERS {
        let sig = py_generate(ident, 86_400, now, None);
        assert_eq!(
            verify(APPID, KEY, ident, &sig, now + 10),
            Ok(VerifiedSig {
                issued_at: now,
                expires_at: now + 86_400
            }),
            "identifier {ident:?}, UserSig {sig}"
        );
        assert_eq!(
            verify(APPID, KEY, ident, &sig, now + 86_401),
            Err(UserSigError::Expired)
        );
        assert_eq!(
            verify(APPID, "not the key", ident, &sig, now),
            Err(UserSigError::KeyMismatch)
        );
        assert_eq!(
            verify(APPID, KEY, "someone else", &sig, now),
            Err(UserSigError::IdentifierMismatch)
        );
        assert_eq!(
            verify(APPID + 1, KEY, ident, &sig, now),
            Err(UserSigError::SdkAppIdMismatch)
        );
    }

    // With a userbuf, as the package's own example does.
    let sig = py_generate("xiaojun", 86_400 * 180, now, Some("abc"));
    assert!(verify(APPID, KEY, "xiaojun", &sig, now).is_ok(), "{sig}");
}

#[test]
fn rust_usersigs_check_out_in_python() {
    if !python_package_available() {
        return;
    }
    let now = 1_750_000_000;
    for ident in IDENTIFIERS {
        let sig = generate(APPID, KEY, ident, 86_400, now);
        assert_eq!(py_check(ident, &sig, now), "OK", "identifier {ident:?}");
    }
    let sig = generate_with_userbuf(APPID, KEY, "xiaojun", 3_600, now, b"abc");
    assert_eq!(py_check("xiaojun", &sig, now), "OK");

    // The Python-side check really rejects: a Rust UserSig under another key fails there.
    let sig = generate(APPID, "another key", "xiaojun", 86_400, now);
    assert!(
        py_check("xiaojun", &sig, now).contains("signature mismatch"),
        "Python accepted a UserSig signed with the wrong key"
    );
}

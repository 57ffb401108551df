//! Tencent Cloud IM UserSig (TLSSigAPIv2): generation and verification.
//!
//! A UserSig is a zlib-compressed JSON document carrying the SDKAppID, the user's identifier, the
//! issue time, the lifetime and an HMAC-SHA256 signature over those fields, encoded with standard
//! base64 whose `+`, `/` and `=` are replaced by `*`, `-` and `_`.
//!
//! [`generate`] builds the UserSig the way Tencent's libraries do: its JSON document is
//! byte-for-byte the one Tencent's Python package `tls-sig-api-v2` compresses for the same inputs
//! and clock (only the deflate bytes may differ, as they do between zlib builds and between
//! Tencent's own implementations). [`verify`] parses the document instead of comparing bytes, so
//! UserSigs made by any of Tencent's implementations (which differ in JSON key order, whitespace
//! and zlib level) are accepted. Verification never panics and never allocates much, whatever the
//! input.
//!
//! The clock is always passed in (`now_unix`), so callers and tests control time.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The default UserSig lifetime Tencent's libraries use: 180 days, in seconds.
pub const DEFAULT_EXPIRE_SECS: u64 = 180 * 86_400;

/// Longest UserSig string [`verify`] will look at; longer input is rejected as malformed.
const MAX_USER_SIG_LEN: usize = 8 * 1024;

/// Largest decompressed JSON document [`verify`] will accept.
const MAX_JSON_LEN: usize = 4 * 1024;

/// The `TLS.ver` value of TLSSigAPIv2 signatures.
const VERSION: &str = "2.0";

type HmacSha256 = Hmac<Sha256>;

/// What a successfully verified UserSig says about its validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedSig {
    /// Unix time (seconds) at which the signature was issued (`TLS.time`).
    pub issued_at: i64,
    /// Unix time (seconds) after which the signature is expired (`TLS.time + TLS.expire`,
    /// saturated to the `i64` range). The signature is still valid at exactly this second.
    pub expires_at: i64,
}

/// Why a UserSig was rejected by [`verify`].
///
/// Variants are checked in declaration order, so e.g. a forged signature for another user reports
/// [`UserSigError::IdentifierMismatch`], and an expired signature is only reported as
/// [`UserSigError::Expired`] once its HMAC has been checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserSigError {
    /// The UserSig string is empty.
    #[error("user signature is empty")]
    Empty,
    /// The UserSig cannot be decoded (base64, zlib, JSON, missing or ill-typed fields, too long).
    #[error("user signature is malformed: {0}")]
    Malformed(String),
    /// The UserSig was issued for another SDKAppID.
    #[error("user signature was issued for a different SDKAppID")]
    SdkAppIdMismatch,
    /// The UserSig was issued for another user identifier.
    #[error("user signature was issued for a different user identifier")]
    IdentifierMismatch,
    /// The UserSig's HMAC does not match: it was signed with another secret key or tampered with.
    #[error("user signature does not match the secret key")]
    KeyMismatch,
    /// The UserSig is authentic but its lifetime is over.
    #[error("user signature has expired")]
    Expired,
}

/// Generates a UserSig for `identifier`, issued at `now_unix` and valid for `expire_secs` seconds.
///
/// The signed content and the JSON document (key order and separators included) are exactly those
/// of Tencent's `TLSSigAPIv2.gen_sig` for the same inputs and clock; the JSON is compressed with
/// zlib at the default level and encoded with Tencent's base64 variant.
pub fn generate(
    sdkappid: u64,
    secret_key: &str,
    identifier: &str,
    expire_secs: u64,
    now_unix: i64,
) -> String {
    generate_inner(
        sdkappid,
        secret_key,
        identifier,
        expire_secs,
        now_unix,
        None,
    )
}

/// Like [`generate`], but embeds `userbuf` (`TLS.userbuf`) in the signed content, as Tencent's
/// `gen_sig_with_userbuf` does (used by TRTC's PrivateMapKey; IM itself does not need it).
pub fn generate_with_userbuf(
    sdkappid: u64,
    secret_key: &str,
    identifier: &str,
    expire_secs: u64,
    now_unix: i64,
    userbuf: &[u8],
) -> String {
    let userbuf = STANDARD.encode(userbuf);
    generate_inner(
        sdkappid,
        secret_key,
        identifier,
        expire_secs,
        now_unix,
        Some(&userbuf),
    )
}

fn generate_inner(
    sdkappid: u64,
    secret_key: &str,
    identifier: &str,
    expire_secs: u64,
    now_unix: i64,
    userbuf_b64: Option<&str>,
) -> String {
    let content = content_to_sign(
        identifier,
        sdkappid,
        i128::from(now_unix),
        i128::from(expire_secs),
        userbuf_b64,
    );
    let sig = STANDARD.encode(
        hmac_for(secret_key)
            .chain_update(content)
            .finalize()
            .into_bytes(),
    );

    // Same key order and separators as Python's `json.dumps` of Tencent's dict.
    let mut json = String::with_capacity(192);
    json.push_str("{\"TLS.ver\": ");
    push_json_string(&mut json, VERSION);
    json.push_str(", \"TLS.identifier\": ");
    push_json_string(&mut json, identifier);
    json.push_str(&format!(
        ", \"TLS.sdkappid\": {sdkappid}, \"TLS.expire\": {expire_secs}, \"TLS.time\": {now_unix}"
    ));
    if let Some(userbuf) = userbuf_b64 {
        json.push_str(", \"TLS.userbuf\": ");
        push_json_string(&mut json, userbuf);
    }
    json.push_str(", \"TLS.sig\": ");
    push_json_string(&mut json, &sig);
    json.push('}');

    STANDARD
        .encode(zlib_compress(json.as_bytes()))
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            other => other,
        })
        .collect()
}

/// Verifies `user_sig` for `identifier` under `sdkappid` and `secret_key` at time `now_unix`.
///
/// Checks, in this order: empty input ([`UserSigError::Empty`]), decodability
/// ([`UserSigError::Malformed`]), SDKAppID ([`UserSigError::SdkAppIdMismatch`]), identifier
/// ([`UserSigError::IdentifierMismatch`]), HMAC in constant time ([`UserSigError::KeyMismatch`]) and
/// finally expiry, `now_unix > TLS.time + TLS.expire` ([`UserSigError::Expired`]).
///
/// Numeric fields may be JSON numbers or decimal strings. `TLS.userbuf`, when present, is part of
/// the signed content. Input longer than 8 KiB or decompressing to more than 4 KiB is malformed.
pub fn verify(
    sdkappid: u64,
    secret_key: &str,
    identifier: &str,
    user_sig: &str,
    now_unix: i64,
) -> Result<VerifiedSig, UserSigError> {
    if user_sig.is_empty() {
        return Err(UserSigError::Empty);
    }
    let doc = decode(user_sig)?;

    if doc.sdkappid != u128::from(sdkappid) {
        return Err(UserSigError::SdkAppIdMismatch);
    }
    if doc.identifier != identifier {
        return Err(UserSigError::IdentifierMismatch);
    }

    let content = content_to_sign(
        &doc.identifier,
        sdkappid,
        doc.time,
        doc.expire,
        doc.userbuf.as_deref(),
    );
    hmac_for(secret_key)
        .chain_update(content)
        .verify_slice(&doc.sig)
        .map_err(|_| UserSigError::KeyMismatch)?;

    let expires_at = doc.time + doc.expire;
    if i128::from(now_unix) > expires_at {
        return Err(UserSigError::Expired);
    }
    Ok(VerifiedSig {
        issued_at: clamp_i64(doc.time),
        expires_at: clamp_i64(expires_at),
    })
}

/// The fields of a decoded UserSig document, before any check against the caller's values.
struct SigDoc {
    identifier: String,
    sdkappid: u128,
    time: i128,
    expire: i128,
    /// `TLS.userbuf` exactly as it appears in the document (canonical standard base64).
    userbuf: Option<String>,
    /// `TLS.sig`, base64-decoded.
    sig: Vec<u8>,
}

fn malformed(what: impl Into<String>) -> UserSigError {
    UserSigError::Malformed(what.into())
}

fn decode(user_sig: &str) -> Result<SigDoc, UserSigError> {
    if user_sig.len() > MAX_USER_SIG_LEN {
        return Err(malformed(format!("longer than {MAX_USER_SIG_LEN} bytes")));
    }
    let b64: Vec<u8> = user_sig
        .bytes()
        .map(|b| match b {
            b'*' => b'+',
            b'-' => b'/',
            b'_' => b'=',
            other => other,
        })
        .collect();
    let compressed = STANDARD_PAD_INDIFFERENT
        .decode(&b64)
        .map_err(|e| malformed(format!("invalid base64: {e}")))?;

    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON_LEN as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|e| malformed(format!("invalid zlib data: {e}")))?;
    if json.len() > MAX_JSON_LEN {
        return Err(malformed(format!(
            "decompresses to more than {MAX_JSON_LEN} bytes"
        )));
    }

    let map: Map<String, Value> =
        serde_json::from_slice(&json).map_err(|e| malformed(format!("invalid JSON: {e}")))?;

    let identifier = match map.get("TLS.identifier") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(malformed("TLS.identifier is not a string")),
        None => return Err(malformed("TLS.identifier is missing")),
    };
    let sdkappid = int_field(&map, "TLS.sdkappid")?;
    let sdkappid = u128::try_from(sdkappid).map_err(|_| malformed("TLS.sdkappid is negative"))?;
    let time = int_field(&map, "TLS.time")?;
    if i64::try_from(time).is_err() {
        return Err(malformed("TLS.time is out of range"));
    }
    let expire = int_field(&map, "TLS.expire")?;
    let sig = match map.get("TLS.sig") {
        Some(Value::String(s)) => STANDARD_PAD_INDIFFERENT
            .decode(s)
            .map_err(|e| malformed(format!("TLS.sig is not base64: {e}")))?,
        Some(_) => return Err(malformed("TLS.sig is not a string")),
        None => return Err(malformed("TLS.sig is missing")),
    };
    let userbuf = match map.get("TLS.userbuf") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            STANDARD
                .decode(s)
                .map_err(|e| malformed(format!("TLS.userbuf is not base64: {e}")))?;
            Some(s.clone())
        }
        Some(_) => return Err(malformed("TLS.userbuf is not a string")),
    };

    Ok(SigDoc {
        identifier,
        sdkappid,
        time,
        expire,
        userbuf,
        sig,
    })
}

/// Reads an integer field given either as a JSON integer or as a decimal string.
///
/// The range is that of `i64` ∪ `u64`, so sums of two such values cannot overflow an `i128`.
fn int_field(map: &Map<String, Value>, key: &str) -> Result<i128, UserSigError> {
    let parsed = match map.get(key) {
        None => return Err(malformed(format!("{key} is missing"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Some(Value::String(s)) if s.len() <= 24 => s.trim().parse::<i128>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(v) if v >= i128::from(i64::MIN) && v <= i128::from(u64::MAX) => Ok(v),
        _ => Err(malformed(format!("{key} is not an integer in range"))),
    }
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The exact text Tencent signs; numbers in canonical decimal.
fn content_to_sign(
    identifier: &str,
    sdkappid: u64,
    time: i128,
    expire: i128,
    userbuf_b64: Option<&str>,
) -> String {
    let mut content = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(userbuf) = userbuf_b64 {
        content.push_str(&format!("TLS.userbuf:{userbuf}\n"));
    }
    content
}

fn hmac_for(secret_key: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails; fall back defensively anyway.
    HmacSha256::new_from_slice(secret_key.as_bytes())
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
}

fn zlib_compress(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len()), Compression::default());
    // Writing into a Vec cannot fail.
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

/// Appends `s` as a JSON string literal the way Python's `json.dumps` (with `ensure_ascii`) does.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_matches_python() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\n\u{1}\u{7f}é😀");
        assert_eq!(s, r#""a\"b\\c\n\u0001\u007f\u00e9\ud83d\ude00""#);
    }

    #[test]
    fn content_layout() {
        assert_eq!(
            content_to_sign("u", 1, 2, 3, Some("YWJj")),
            "TLS.identifier:u\nTLS.sdkappid:1\nTLS.time:2\nTLS.expire:3\nTLS.userbuf:YWJj\n"
        );
    }

    #[test]
    fn clamp() {
        assert_eq!(clamp_i64(i128::from(i64::MAX) + 5), i64::MAX);
        assert_eq!(clamp_i64(i128::from(i64::MIN) - 5), i64::MIN);
        assert_eq!(clamp_i64(42), 42);
    }
}

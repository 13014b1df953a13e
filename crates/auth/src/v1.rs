//! Signature V1 (HMAC-SHA1), reference section (b).
//!
//! The client signs the *decoded* parameter set (query merged with a form
//! body, see [`crate::params`]) minus `Signature` itself. Each name and value
//! is re-encoded with the vendor's RFC 3986 encoding, the pairs are sorted by
//! name and joined `name=value` with `&`: the canonicalised query string. The
//! string to sign is `METHOD&%2F&` followed by that whole string encoded once
//! more, so a reserved byte of a name or value ends up as `%25XY` and the
//! separators as `%3D`/`%26`. The key is the AccessKey secret with `&`
//! appended (the empty "token secret" of the OAuth 1 heritage), and the
//! signature travels as standard, padded Base64 in the `Signature` parameter.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::params::{HEX_UPPER, Params, SortedPair, UNRESERVED, percent_encode_into};

/// The parameter that carries the signature and is therefore never signed.
pub const SIGNATURE_PARAM: &str = "Signature";

/// Base64 length of a 20-byte SHA-1 MAC (with padding).
const SIGNATURE_B64_LEN: usize = 28;

/// Canonicalized query string: all params except "Signature", names+values percent_encode()d, sorted by name bytes, joined "k=v" with "&"; empty values included ("SignatureType=").
///
/// Sorting is by the *decoded* name bytes, as the SDKs sort their map keys
/// before encoding; for names holding bytes such as `:` or `{` that differs
/// from sorting the encoded names.
pub fn canonical_query(params: &Params) -> String {
    let sorted = signed_pairs(params);
    let mut out = String::with_capacity(estimate(&sorted));
    for (i, pair) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, pair.name);
        out.push('=');
        percent_encode_into(&mut out, pair.value);
    }
    out
}

/// METHOD + "&%2F&" + percent_encode(canonical_query). The method is ASCII-uppercased.
///
/// Built in one pass: encoding the canonical query again only rewrites the
/// `%` of each escape (hex digits are unreserved) and the `=`/`&` separators,
/// so names and values are written directly with a `%25` escape prefix.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    let sorted = signed_pairs(params);
    let mut out = Vec::with_capacity(method.len() + 5 + estimate(&sorted) * 5 / 4);
    out.extend(method.bytes().map(|b| b.to_ascii_uppercase()));
    out.extend_from_slice(b"&%2F&");
    for (i, pair) in sorted.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"%26");
        }
        double_encode(&mut out, pair.name.as_bytes());
        out.extend_from_slice(b"%3D");
        double_encode(&mut out, pair.value.as_bytes());
    }
    // Escapes are ASCII and everything else is copied from `&str`s whole
    // (uppercasing only touches ASCII bytes), so this cannot fail.
    String::from_utf8(out).expect("string to sign is UTF-8")
}

/// `percent_encode(percent_encode(s))` in one pass: the second round only
/// rewrites the `%` of each escape, because hex digits are unreserved.
fn double_encode(out: &mut Vec<u8>, s: &[u8]) {
    let mut run_start = 0;
    for (i, &b) in s.iter().enumerate() {
        if UNRESERVED[b as usize] {
            continue;
        }
        out.extend_from_slice(&s[run_start..i]);
        out.extend_from_slice(&[
            b'%',
            b'2',
            b'5',
            HEX_UPPER[(b >> 4) as usize],
            HEX_UPPER[(b & 0x0f) as usize],
        ]);
        run_start = i + 1;
    }
    out.extend_from_slice(&s[run_start..]);
}

/// Base64(HMAC-SHA1(key = secret + "&", sts))
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    STANDARD.encode(mac(secret, string_to_sign))
}

/// Constant-time comparison of signature(secret, sts) with `provided` (already decoded base64 text).
///
/// The comparison is on the canonical Base64 text, so a non-canonical
/// encoding of the right bytes (missing padding, stray low bits) is refused
/// just like a wrong MAC. Only the length of `provided` can leak through timing.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    let tag = mac(secret, string_to_sign);
    let mut expected = [0u8; SIGNATURE_B64_LEN];
    let written = STANDARD
        .encode_slice(tag, &mut expected)
        .expect("a SHA-1 MAC always encodes to 28 Base64 bytes");
    expected[..written].ct_eq(provided.as_bytes()).into()
}

fn mac(secret: &str, data: &str) -> [u8; 20] {
    // The key is secret + "&"; build it on the stack for ordinary secrets
    // (Alibaba secrets are 30 characters) to keep the verify path allocation-free.
    const STACK_KEY: usize = 128;
    let secret = secret.as_bytes();
    let mut stack = [0u8; STACK_KEY];
    let heap;
    let key: &[u8] = if secret.len() < STACK_KEY {
        stack[..secret.len()].copy_from_slice(secret);
        stack[secret.len()] = b'&';
        &stack[..=secret.len()]
    } else {
        heap = [secret, b"&"].concat();
        &heap
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

fn signed_pairs(params: &Params) -> Vec<SortedPair<'_>> {
    let mut sorted = params.sorted();
    sorted.retain(|pair| pair.name != SIGNATURE_PARAM);
    sorted
}

fn estimate(pairs: &[SortedPair<'_>]) -> usize {
    pairs.iter().map(|p| p.name.len() + p.value.len() + 2).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference (b) worked example.
    fn worked() -> Params {
        Params::from_pairs([
            ("Action", "CreateUser"),
            ("Version", "2015-05-01"),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("UserName", "alice"),
            ("DisplayName", "AliceZhang"),
            ("Comments", "a b*c~d/e+f"),
            ("AccessKeyId", "testid"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureType", ""),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Timestamp", "2026-01-02T03:04:05Z"),
            ("Signature", "l6YHB1MTIkXLXK+8n4zimvg6e7s="),
        ])
    }

    const WORKED_CQS: &str = "AccessKeyId=testid&Action=CreateUser&Comments=a%20b%2Ac~d%2Fe%2Bf&DisplayName=AliceZhang&Format=JSON&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureType=&SignatureVersion=1.0&Timestamp=2026-01-02T03%3A04%3A05Z&UserName=alice&Version=2015-05-01";
    const WORKED_STS: &str = "POST&%2F&AccessKeyId%3Dtestid%26Action%3DCreateUser%26Comments%3Da%2520b%252Ac~d%252Fe%252Bf%26DisplayName%3DAliceZhang%26Format%3DJSON%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2026-01-02T03%253A04%253A05Z%26UserName%3Dalice%26Version%3D2015-05-01";
    const WORKED_SIG: &str = "l6YHB1MTIkXLXK+8n4zimvg6e7s=";

    #[test]
    fn worked_example() {
        let p = worked();
        assert_eq!(canonical_query(&p), WORKED_CQS);
        assert_eq!(string_to_sign("POST", &p), WORKED_STS);
        assert_eq!(signature("testsecret", WORKED_STS), WORKED_SIG);
        assert!(verify("testsecret", WORKED_STS, WORKED_SIG));
    }

    #[test]
    fn string_to_sign_is_encoded_canonical_query() {
        let p = worked();
        let mut manual = String::from("POST&%2F&");
        crate::params::percent_encode_into(&mut manual, &canonical_query(&p));
        assert_eq!(string_to_sign("POST", &p), manual);
    }

    #[test]
    fn double_encoding_matches_two_passes() {
        use crate::params::percent_encode;
        for s in ["", "plain", "a b*c~d/e+f", "%41", "张三😀", "\u{7f}\0"] {
            let mut once = Vec::new();
            double_encode(&mut once, s.as_bytes());
            assert_eq!(
                String::from_utf8(once).unwrap(),
                percent_encode(&percent_encode(s)),
                "{s:?}"
            );
        }
    }

    #[test]
    fn method_is_uppercased_and_signed() {
        let p = worked();
        assert_eq!(string_to_sign("post", &p), WORKED_STS);
        assert!(string_to_sign("GET", &p).starts_with("GET&%2F&"));
        assert!(!verify(
            "testsecret",
            &string_to_sign("GET", &p),
            WORKED_SIG
        ));
    }

    #[test]
    fn empty_params() {
        let p = Params::default();
        assert_eq!(canonical_query(&p), "");
        assert_eq!(string_to_sign("GET", &p), "GET&%2F&");
        let only_sig = Params::from_pairs([("Signature", "x")]);
        assert_eq!(canonical_query(&only_sig), "");
    }

    #[test]
    fn only_exact_signature_name_is_excluded() {
        let p = Params::from_pairs([("signature", "a"), ("Signature", "b"), ("SignatureX", "c")]);
        assert_eq!(canonical_query(&p), "SignatureX=c&signature=a");
    }

    #[test]
    fn verify_rejects_any_change() {
        assert!(!verify("testsecreT", WORKED_STS, WORKED_SIG));
        assert!(!verify("testsecret", &WORKED_STS[1..], WORKED_SIG));
        assert!(!verify("testsecret", WORKED_STS, ""));
        assert!(!verify("testsecret", WORKED_STS, &WORKED_SIG[..27]));
        assert!(!verify("testsecret", WORKED_STS, &format!("{WORKED_SIG}=")));
        assert!(!verify(
            "testsecret",
            WORKED_STS,
            "l6YHB1MTIkXLXK+8n4zimvg6e7s"
        ));
        for i in 0..WORKED_SIG.len() {
            let mut bytes = WORKED_SIG.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(!verify("testsecret", WORKED_STS, &tampered), "{tampered}");
        }
    }

    #[test]
    fn long_secret_uses_heap_key() {
        let secret = "s".repeat(300);
        let sig = signature(&secret, "data");
        assert!(verify(&secret, "data", &sig));
        assert!(!verify(&secret[1..], "data", &sig));
        // Stack and heap paths agree at the boundary.
        for len in [126, 127, 128, 129] {
            let secret = "k".repeat(len);
            let mut key = secret.clone().into_bytes();
            key.push(b'&');
            let mut reference = Hmac::<Sha1>::new_from_slice(&key).unwrap();
            reference.update(b"data");
            let expected = STANDARD.encode(reference.finalize().into_bytes());
            assert_eq!(signature(&secret, "data"), expected, "len {len}");
        }
    }
}

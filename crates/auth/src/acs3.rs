//! ACS3-HMAC-SHA256 ("V3") signatures, reference section (c).
//!
//! The credentials live in one header:
//! `Authorization: ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<h1;h2;…>,Signature=<hex>`.
//! The client hashes a canonical request made of six newline-separated parts:
//! the method, the path (`/` for RPC), the canonical query (decoded query
//! pairs re-encoded as in V1, sorted by name, `&`-joined), one `name:value\n`
//! line per signed header (so the block ends with its own newline), the
//! signed header names joined with `;`, and the hex SHA-256 of the exact body
//! bytes (also sent as `x-acs-content-sha256`). The string to sign is the
//! algorithm name, a newline and the hex SHA-256 of that canonical request;
//! the signature is lowercase hex HMAC-SHA256 keyed with the bare secret
//! (unlike V1 there is no trailing `&`).
//!
//! The header list is whatever the client declared in `SignedHeaders`, never a
//! fixed list: the tea SDK signs `accept` and `user-agent` too, the vendor's
//! own example signs only `host` and `x-acs-*`. Which headers the server
//! *requires* to be signed is policy for the caller, not part of this module.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::params::{Params, percent_encode_into};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Headers a server requires in `SignedHeaders` (reference §c: every
/// common header present must be signed); `content-type` too when there is
/// a body. [`crate::sign::acs3_request`] signs at least these.
pub const REQUIRED_SIGNED_HEADERS: &[&str] = &[
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why an `Authorization` header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    #[error("malformed Authorization header")]
    Malformed,
}

/// Formats the header value exactly as the SDKs send it, so
/// `parse_authorization(&auth.to_string()) == Ok(auth)` for any valid header.
impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM} Credential={},SignedHeaders={},Signature={}",
            self.access_key_id,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// Strict parse of `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<h1;h2>,Signature=<64 lowercase hex>`.
///
/// Other algorithm tokens (ACS3-HMAC-SM3, ACS3-RSA-SHA256, anything else) -> UnsupportedAlgorithm.
/// Missing/duplicated/empty parts, signed header names not lowercase or not sorted ascending or duplicated, signature not 64 lowercase hex -> Malformed.
///
/// The three parts may come in any order, but no whitespace is tolerated
/// around them: every SDK emits exactly one space after the algorithm and
/// none after the commas, and a lenient parser would only widen what an
/// attacker can feed to the canonicaliser.
pub fn parse_authorization(value: &str) -> Result<Authorization, AuthorizationError> {
    use AuthorizationError::{Malformed, UnsupportedAlgorithm};

    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm.is_empty() {
        return Err(Malformed);
    }
    if algorithm != ALGORITHM {
        return Err(UnsupportedAlgorithm);
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, val) = part.split_once('=').ok_or(Malformed)?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(Malformed),
        };
        if slot.replace(val).is_some() || val.is_empty() {
            return Err(Malformed);
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(Malformed);
    };

    if !credential.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Malformed);
    }
    let headers: Vec<&str> = signed_headers.split(';').collect();
    if !headers.iter().all(|h| is_lowercase_token(h)) || !headers.is_sorted_by(|a, b| a < b) {
        return Err(Malformed);
    }
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(Malformed);
    }

    Ok(Authorization {
        access_key_id: credential.to_owned(),
        signed_headers: headers.into_iter().map(str::to_owned).collect(),
        signature: signature.to_owned(),
    })
}

/// A non-empty HTTP header name (RFC 9110 token) without uppercase letters.
fn is_lowercase_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The canonical query string: decoded query pairs re-encoded with
/// [`crate::percent_encode`], sorted by name, `k=v` joined with `&`; `""` when empty.
pub fn canonical_query(query: &Params) -> String {
    let mut out = String::new();
    write_canonical_query(&mut out, query);
    out
}

fn write_canonical_query(out: &mut String, query: &Params) {
    for (i, pair) in query.sorted().iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(out, pair.name);
        out.push('=');
        percent_encode_into(out, pair.value);
    }
}

/// Canonical request per reference (c): METHOD \n path \n canonical query \n canonical headers (one "name:trimmed value\n" per signed header, in signed_headers order; multiple values of one header joined with ",") \n signed_headers joined ";" \n payload_hash.
///
/// `header` returns all values of a header by lowercase name (empty vec if absent).
/// The canonical query: form-decoded query params, percent_encode()d, sorted by name, "k=v" joined "&" ("" if no params).
/// The method is ASCII-uppercased; an absent header yields `name:` with an
/// empty value (requiring presence is the caller's policy).
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &Params,
    signed_headers: &[String],
    header: &dyn Fn(&str) -> Vec<String>,
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.extend(method.chars().map(|c| c.to_ascii_uppercase()));
    out.push('\n');
    out.push_str(path);
    out.push('\n');
    write_canonical_query(&mut out, query);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        for (i, value) in header(name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(value.trim_ascii());
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// "ACS3-HMAC-SHA256\n" + sha256_hex(canonical_request)
pub fn string_to_sign(canonical_request: &str) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + 1 + 64);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(&sha256_hex(canonical_request.as_bytes()));
    out
}

/// lowercase hex HMAC-SHA256(key = secret (no "&"), sts)
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    hex::encode(mac(secret, string_to_sign))
}

/// Constant-time comparison of [`signature`] with `provided_hex`; only lowercase hex matches.
pub fn verify(secret: &str, string_to_sign: &str, provided_hex: &str) -> bool {
    let mut expected = [0u8; 64];
    hex::encode_to_slice(mac(secret, string_to_sign), &mut expected)
        .expect("a SHA-256 MAC is 64 hex digits");
    expected.ct_eq(provided_hex.as_bytes()).into()
}

fn mac(secret: &str, data: &str) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKED_SIG: &str = "5dba8f24550b5543b8fba3117ebc2f8f7f619e44471d9836e33149be98f21a18";
    const WORKED_AUTH: &str = "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=5dba8f24550b5543b8fba3117ebc2f8f7f619e44471d9836e33149be98f21a18";

    fn worked_headers(name: &str) -> Vec<String> {
        let v = match name {
            "host" => "ram.aliyuncs.com",
            "x-acs-action" => "CreateUser",
            "x-acs-content-sha256" => EMPTY_PAYLOAD_SHA256,
            "x-acs-date" => "2026-01-02T03:04:05Z",
            "x-acs-signature-nonce" => "3156853299f313e23d1673dc12e1703d",
            "x-acs-version" => "2015-05-01",
            _ => return vec![],
        };
        vec![v.to_owned()]
    }

    /// Reference (c) worked example.
    #[test]
    fn worked_example() {
        let auth = parse_authorization(WORKED_AUTH).unwrap();
        assert_eq!(auth.access_key_id, "testid");
        assert_eq!(auth.signature, WORKED_SIG);
        let query =
            Params::parse_form(b"Comments=a+b%2Ac~d%2Fe%2Bf&DisplayName=AliceZhang&UserName=alice")
                .unwrap();
        let cr = canonical_request(
            "POST",
            "/",
            &query,
            &auth.signed_headers,
            &worked_headers,
            EMPTY_PAYLOAD_SHA256,
        );
        assert_eq!(
            cr,
            "POST\n/\nComments=a%20b%2Ac~d%2Fe%2Bf&DisplayName=AliceZhang&UserName=alice\n\
             host:ram.aliyuncs.com\nx-acs-action:CreateUser\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2026-01-02T03:04:05Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2015-05-01\n\n\
             host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign(&cr);
        assert_eq!(
            sts,
            "ACS3-HMAC-SHA256\n8175b9e0dca0017c3a9d040e8a3e56dd88155098429a7973915fddf902a90cd3"
        );
        assert_eq!(signature("testsecret", &sts), WORKED_SIG);
        assert!(verify("testsecret", &sts, WORKED_SIG));
        assert!(!verify("testsecret&", &sts, WORKED_SIG));
        assert!(!verify("testsecret", &sts, &WORKED_SIG.to_uppercase()));
        assert!(!verify("testsecret", &sts, &WORKED_SIG[..63]));
        assert_eq!(auth.to_string(), WORKED_AUTH);
    }

    #[test]
    fn empty_payload_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_PAYLOAD_SHA256);
    }

    #[test]
    fn header_values_trimmed_and_joined() {
        let headers = |name: &str| match name {
            "x-multi" => vec![" a ".to_owned(), "\tb".to_owned()],
            "x-one" => vec!["  v  ".to_owned()],
            _ => vec![],
        };
        let signed = vec![
            "x-absent".to_owned(),
            "x-multi".to_owned(),
            "x-one".to_owned(),
        ];
        let cr = canonical_request("get", "/", &Params::default(), &signed, &headers, "h");
        assert_eq!(
            cr,
            "GET\n/\n\nx-absent:\nx-multi:a,b\nx-one:v\n\nx-absent;x-multi;x-one\nh"
        );
    }

    #[test]
    fn parse_rejects_other_algorithms() {
        for v in [
            "ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00",
            "ACS3-RSA-SHA256 Credential=a,SignedHeaders=host,Signature=00",
            "acs3-hmac-sha256 Credential=a,SignedHeaders=host,Signature=00",
            "Bearer xyz",
            "ACS3-HMAC-SHA256\tCredential=a",
            "ACS3-HMAC-SHA2567",
        ] {
            assert_eq!(
                parse_authorization(v),
                Err(AuthorizationError::UnsupportedAlgorithm),
                "{v}"
            );
        }
    }

    #[test]
    fn parse_rejects_malformed() {
        let sig = WORKED_SIG;
        let bad = [
            String::new(),
            " ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=x".to_owned(),
            "ACS3-HMAC-SHA256".to_owned(),
            "ACS3-HMAC-SHA256 ".to_owned(),
            format!("ACS3-HMAC-SHA256  Credential=a,SignedHeaders=host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a, SignedHeaders=host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig} "),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},"),
            format!("ACS3-HMAC-SHA256 SignedHeaders=host,Signature={sig}"),
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host".to_owned(),
            format!("ACS3-HMAC-SHA256 Credential=a,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a b,SignedHeaders=host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature={sig}"),
            format!(
                "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature={sig}"
            ),
            format!(
                "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,SignedHeaders=host,Signature={sig}"
            ),
            format!(
                "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},Signature={sig}"
            ),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},Extra=1"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=x-acs-date;host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x-acs-date,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=ho st,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host:x,Signature={sig}"),
            format!(
                "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={}",
                sig.to_uppercase()
            ),
            format!(
                "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={}",
                &sig[1..]
            ),
            format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig}0"),
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=zz".to_owned(),
            format!("ACS3-HMAC-SHA256 credential=a,SignedHeaders=host,Signature={sig}"),
            format!("ACS3-HMAC-SHA256 Credential,SignedHeaders=host,Signature={sig}"),
        ];
        for v in &bad {
            assert_eq!(
                parse_authorization(v),
                Err(AuthorizationError::Malformed),
                "{v:?}"
            );
        }
    }

    #[test]
    fn parse_accepts_any_part_order() {
        let v = format!("ACS3-HMAC-SHA256 Signature={WORKED_SIG},SignedHeaders=a;b,Credential=id");
        let auth = parse_authorization(&v).unwrap();
        assert_eq!(auth.access_key_id, "id");
        assert_eq!(auth.signed_headers, vec!["a", "b"]);
        assert_eq!(auth.signature, WORKED_SIG);
    }
}

//! Client-side signing, the mirror image of [`crate::v1`] and [`crate::acs3`]
//! (reference sections (b), (c) and a.3/a.4), for test helpers and the load
//! generator.
//!
//! V1 requests carry everything in the query: the common parameters of a.3
//! are added, the string to sign is built from the full set, and the Base64
//! signature is appended as the last `Signature` pair. ACS3 requests keep only
//! business parameters in the query and move action, version, date, nonce,
//! body hash and credentials into `x-acs-*` headers plus `Authorization`,
//! signing the same header set the tea SDK signs.
//!
//! Pure by design: the caller supplies nonce and timestamp, so a test can pin
//! them and reproduce a vector byte for byte.

use time::OffsetDateTime;

use crate::params::{Params, percent_encode_into};
use crate::{acs3, v1};

pub use crate::timestamp::{format_timestamp, parse_timestamp};

/// Adds AccessKeyId, SignatureMethod=HMAC-SHA1, SignatureVersion=1.0, SignatureNonce, Timestamp (format YYYY-MM-DDThh:mm:ssZ) to `params` (which already holds Action, Version, Format and business params), computes the signature for `method`, and returns the full query string (every pair percent_encode()d, Signature last) ready to put after "/?".
///
/// Pairs keep `params` order with the added common parameters after them; a
/// `Signature` already present is dropped and replaced.
pub fn v1_query(
    method: &str,
    mut params: Params,
    access_key_id: &str,
    secret: &str,
    nonce: &str,
    timestamp: OffsetDateTime,
) -> String {
    params.remove(v1::SIGNATURE_PARAM);
    params.insert("AccessKeyId", access_key_id);
    params.insert("SignatureMethod", "HMAC-SHA1");
    params.insert("SignatureVersion", "1.0");
    params.insert("SignatureNonce", nonce);
    params.insert("Timestamp", format_timestamp(timestamp));
    let signature = v1::signature(secret, &v1::string_to_sign(method, &params));
    let mut query = encode_pairs(params.iter());
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("Signature=");
    percent_encode_into(&mut query, &signature);
    query
}

/// Everything needed to send an ACS3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Request {
    /// Encoded query string (canonical order), may be empty.
    pub query: String,
    /// Lowercase names incl. host, x-acs-action, x-acs-version, x-acs-date,
    /// x-acs-signature-nonce, x-acs-content-sha256, authorization (and
    /// content-type when it was signed).
    pub headers: Vec<(String, String)>,
}

impl Acs3Request {
    /// The first value of a header by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Signs like the tea SDK: signed headers = host, x-acs-action, x-acs-content-sha256, x-acs-date, x-acs-signature-nonce, x-acs-version (plus content-type when body is non-empty and content_type is Some).
///
/// `query` holds decoded business parameters; the returned query string is
/// their canonical form, which is also valid form encoding.
#[allow(clippy::too_many_arguments)] // mirrors the wire inputs one to one
pub fn acs3_request(
    method: &str,
    host: &str,
    action: &str,
    version: &str,
    query: &Params,
    body: &[u8],
    content_type: Option<&str>,
    access_key_id: &str,
    secret: &str,
    nonce: &str,
    timestamp: OffsetDateTime,
) -> Acs3Request {
    let payload_hash = acs3::sha256_hex(body);
    // Kept in ascending name order: it doubles as the SignedHeaders list.
    let mut headers: Vec<(String, String)> = Vec::with_capacity(8);
    if let (false, Some(ct)) = (body.is_empty(), content_type) {
        headers.push(("content-type".into(), ct.into()));
    }
    headers.extend([
        ("host".into(), host.into()),
        ("x-acs-action".into(), action.into()),
        ("x-acs-content-sha256".into(), payload_hash.clone()),
        ("x-acs-date".into(), format_timestamp(timestamp)),
        ("x-acs-signature-nonce".into(), nonce.into()),
        ("x-acs-version".into(), version.into()),
    ]);
    let signed_headers: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    let lookup = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let canonical =
        acs3::canonical_request(method, "/", query, &signed_headers, &lookup, &payload_hash);
    let authorization = acs3::Authorization {
        access_key_id: access_key_id.to_owned(),
        signed_headers,
        signature: acs3::signature(secret, &acs3::string_to_sign(&canonical)),
    };
    headers.push(("authorization".into(), authorization.to_string()));
    Acs3Request {
        query: acs3::canonical_query(query),
        headers,
    }
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn lookup(req: &Acs3Request) -> impl Fn(&str) -> Vec<String> + '_ {
        move |name| {
            req.headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect()
        }
    }

    /// Verifies `query` the way the server will: decode, rebuild, compare.
    fn server_verifies_v1(method: &str, query: &str, secret: &str) -> bool {
        let params = Params::parse_form(query.as_bytes()).unwrap();
        let provided = params.get("Signature").unwrap().to_owned();
        v1::verify(secret, &v1::string_to_sign(method, &params), &provided)
    }

    #[test]
    fn v1_reproduces_reference_worked_example() {
        let params = Params::from_pairs([
            ("Action", "CreateUser"),
            ("Version", "2015-05-01"),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("UserName", "alice"),
            ("DisplayName", "AliceZhang"),
            ("Comments", "a b*c~d/e+f"),
            ("SignatureType", ""),
        ]);
        let q = v1_query(
            "POST",
            params,
            "testid",
            "testsecret",
            "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
            datetime!(2026-01-02 03:04:05 UTC),
        );
        assert_eq!(
            q,
            "Action=CreateUser&Version=2015-05-01&Format=JSON&RegionId=cn-hangzhou&UserName=alice&DisplayName=AliceZhang&Comments=a%20b%2Ac~d%2Fe%2Bf&SignatureType=&AccessKeyId=testid&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Timestamp=2026-01-02T03%3A04%3A05Z&Signature=l6YHB1MTIkXLXK%2B8n4zimvg6e7s%3D"
        );
        assert!(server_verifies_v1("POST", &q, "testsecret"));
        assert!(!server_verifies_v1("GET", &q, "testsecret"));
        assert!(!server_verifies_v1("POST", &q, "testsecreT"));
    }

    #[test]
    fn v1_reproduces_ram_doc_example() {
        let params = Params::from_pairs([
            ("Action", "CreateUser"),
            ("Version", "2015-05-01"),
            ("Format", "JSON"),
            ("UserName", "test"),
        ]);
        let q = v1_query(
            "GET",
            params,
            "testid",
            "testsecret",
            "6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2",
            datetime!(2015-08-18 03:15:45 UTC),
        );
        assert!(
            q.ends_with("&Signature=kRA2cnpJVacIhDMzXnoNZG9tDCI%3D"),
            "{q}"
        );
        assert!(server_verifies_v1("GET", &q, "testsecret"));
    }

    #[test]
    fn v1_replaces_stale_signature_and_handles_empty_params() {
        let params = Params::from_pairs([("Signature", "old"), ("Action", "GetUser")]);
        let q = v1_query(
            "POST",
            params,
            "id",
            "s",
            "n",
            datetime!(2026-01-02 03:04:05 UTC),
        );
        assert_eq!(q.matches("Signature=").count(), 1);
        assert!(q.starts_with("Action=GetUser&"));
        assert!(server_verifies_v1("POST", &q, "s"));

        let q = v1_query(
            "GET",
            Params::default(),
            "id",
            "s",
            "n",
            datetime!(2026-01-02 03:04:05 UTC),
        );
        assert!(q.starts_with("AccessKeyId=id&"));
        assert!(server_verifies_v1("GET", &q, "s"));
    }

    #[test]
    fn v1_timestamp_is_utc() {
        let q = v1_query(
            "GET",
            Params::default(),
            "id",
            "s",
            "n",
            datetime!(2026-01-02 11:04:05 +08:00),
        );
        assert!(q.contains("Timestamp=2026-01-02T03%3A04%3A05Z"), "{q}");
    }

    #[test]
    fn acs3_reproduces_reference_worked_example() {
        let query = Params::from_pairs([
            ("UserName", "alice"),
            ("DisplayName", "AliceZhang"),
            ("Comments", "a b*c~d/e+f"),
        ]);
        let req = acs3_request(
            "POST",
            "ram.aliyuncs.com",
            "CreateUser",
            "2015-05-01",
            &query,
            b"",
            Some("application/json"),
            "testid",
            "testsecret",
            "3156853299f313e23d1673dc12e1703d",
            datetime!(2026-01-02 03:04:05 UTC),
        );
        assert_eq!(
            req.query,
            "Comments=a%20b%2Ac~d%2Fe%2Bf&DisplayName=AliceZhang&UserName=alice"
        );
        assert_eq!(
            req.header("authorization"),
            Some(
                "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=5dba8f24550b5543b8fba3117ebc2f8f7f619e44471d9836e33149be98f21a18"
            )
        );
        assert_eq!(
            req.header("content-type"),
            None,
            "empty body: content-type not signed"
        );
        assert_eq!(
            req.header("x-acs-content-sha256"),
            Some(acs3::EMPTY_PAYLOAD_SHA256)
        );
    }

    #[test]
    fn acs3_round_trip_with_body() {
        let body = br#"{"ShowSize":10,"CurrentPage":1}"#;
        let query = Params::from_pairs([("ShowSize", "10"), ("CurrentPage", "1")]);
        let req = acs3_request(
            "post",
            "127.0.0.1:8080",
            "DescribeUserCertificateList",
            "2018-07-13",
            &query,
            body,
            Some("application/json; charset=utf-8"),
            "testid",
            "testsecret",
            "nonce",
            datetime!(2026-11-22 20:50:05 UTC),
        );
        let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "content-type",
                "host",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-version",
                "authorization"
            ]
        );
        assert_eq!(req.header("x-acs-date"), Some("2026-11-22T20:50:05Z"));

        // Server side, from nothing but what would go on the wire.
        let auth = acs3::parse_authorization(req.header("authorization").unwrap()).unwrap();
        assert_eq!(auth.access_key_id, "testid");
        let hash = acs3::sha256_hex(body);
        assert_eq!(req.header("x-acs-content-sha256"), Some(hash.as_str()));
        let parsed_query = Params::parse_form(req.query.as_bytes()).unwrap();
        let headers = lookup(&req);
        let cr = acs3::canonical_request(
            "POST",
            "/",
            &parsed_query,
            &auth.signed_headers,
            &headers,
            &hash,
        );
        let sts = acs3::string_to_sign(&cr);
        assert!(acs3::verify("testsecret", &sts, &auth.signature));
        assert!(!acs3::verify("testsecreT", &sts, &auth.signature));
        let cr_get = acs3::canonical_request(
            "GET",
            "/",
            &parsed_query,
            &auth.signed_headers,
            &headers,
            &hash,
        );
        assert!(!acs3::verify(
            "testsecret",
            &acs3::string_to_sign(&cr_get),
            &auth.signature
        ));
    }

    #[test]
    fn acs3_without_content_type_or_query() {
        let req = acs3_request(
            "POST",
            "h",
            "A",
            "V",
            &Params::default(),
            b"x",
            None,
            "id",
            "s",
            "n",
            datetime!(2026-01-01 0:00 UTC),
        );
        assert_eq!(req.query, "");
        assert_eq!(req.header("content-type"), None);
        let auth = acs3::parse_authorization(req.header("authorization").unwrap()).unwrap();
        assert_eq!(auth.signed_headers.len(), 6);
    }

    #[test]
    fn timestamp_reexports() {
        let t = datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t));
    }

    #[test]
    fn acs3_signs_every_required_header() {
        let req = acs3_request(
            "POST",
            "127.0.0.1:8080",
            "GetUser",
            "2015-05-01",
            &Params::default(),
            b"",
            None,
            "id",
            "secret",
            "n",
            time::macros::datetime!(2026-01-02 03:04:05 UTC),
        );
        let auth = crate::acs3::parse_authorization(req.header("authorization").unwrap()).unwrap();
        for h in crate::acs3::REQUIRED_SIGNED_HEADERS {
            assert!(auth.signed_headers.iter().any(|s| s == h), "{h} not signed");
        }
    }
}

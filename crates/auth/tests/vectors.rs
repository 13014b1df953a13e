//! Conformance against the captured SDK traffic and documented examples in
//! `tests/vectors/` (copies of `shared/reference/vectors/aliyun-*.json`; field
//! meanings in that folder's README).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use trustdesk_auth::{Params, acs3, parse_timestamp, sign, v1};

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn vectors(file: &Value) -> &Vec<Value> {
    file["vectors"].as_array().expect("vectors array")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {key}"))
}

/// All values of a header, by case-insensitive name, in received order.
fn header_values(request: &Value, name: &str) -> Vec<String> {
    request["headers"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|h| h[1].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn body_bytes(request: &Value) -> Vec<u8> {
    match request["body_base64"].as_str() {
        Some(b64) => STANDARD.decode(b64).unwrap(),
        None => request["body"].as_str().unwrap_or("").as_bytes().to_vec(),
    }
}

/// What the server sees for a V1 request: query, merged with a form body.
fn v1_params(request: &Value) -> Params {
    let mut params = Params::parse_form(str_of(request, "raw_query").as_bytes()).unwrap();
    let is_form = header_values(request, "content-type")
        .iter()
        .any(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.merge(Params::parse_form(&body_bytes(request)).unwrap());
    }
    params
}

/// Replace the byte at `i` with a different printable ASCII character.
fn tamper(s: &str, i: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[i] = match bytes[i] {
        b'A' => b'B',
        c if c.is_ascii() => b'A',
        // Keep UTF-8 valid: replace the whole character.
        _ => return tamper_char(s, i),
    };
    String::from_utf8(bytes).unwrap()
}

fn tamper_char(s: &str, i: usize) -> String {
    let start = (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap();
    let ch = s[start..].chars().next().unwrap();
    format!("{}A{}", &s[..start], &s[start + ch.len_utf8()..])
}

/// Full V1 check of one vector plus tampering; returns the number of checks run.
fn check_v1(v: &Value, secret: &str) -> usize {
    let id = str_of(v, "id");
    let request = &v["request"];
    let expected = &v["expected"];
    let method = str_of(request, "method");
    let params = v1_params(request);

    if let Some(map) = v["params"].as_object() {
        assert_eq!(params.len(), map.len(), "{id}: decoded parameter count");
        for (name, value) in map {
            assert_eq!(params.get(name), value.as_str(), "{id}: param {name}");
        }
    }

    let cqs = v1::canonical_query(&params);
    assert_eq!(cqs, str_of(expected, "canonical_query_string"), "{id}");
    let sts = v1::string_to_sign(method, &params);
    assert_eq!(sts, str_of(expected, "string_to_sign"), "{id}");
    let sig = str_of(expected, "signature");
    assert_eq!(v1::signature(secret, &sts), sig, "{id}");
    assert!(v1::verify(secret, &sts, sig), "{id}");
    if let Some(sent) = params.get("Signature") {
        assert_eq!(sent, sig, "{id}: Signature parameter");
    }
    if let Some(key) = expected["hmac_key"].as_str() {
        assert_eq!(key, format!("{secret}&"), "{id}");
    }

    let mut checks = 0;
    for i in 0..sig.len() {
        assert!(
            !v1::verify(secret, &sts, &tamper(sig, i)),
            "{id}: sig byte {i}"
        );
        checks += 1;
    }
    for i in 0..sts.len() {
        assert!(
            !v1::verify(secret, &tamper(&sts, i), sig),
            "{id}: sts byte {i}"
        );
        checks += 1;
    }
    // Any signed parameter changed, added or dropped.
    for (name, value) in params.iter().filter(|(n, _)| *n != "Signature") {
        let mut changed = params.clone();
        changed.insert(name, format!("{value}x"));
        assert!(
            !v1::verify(secret, &v1::string_to_sign(method, &changed), sig),
            "{id}: {name}"
        );
        let mut dropped = params.clone();
        dropped.remove(name);
        assert!(
            !v1::verify(secret, &v1::string_to_sign(method, &dropped), sig),
            "{id}: -{name}"
        );
        checks += 2;
    }
    let mut added = params.clone();
    added.insert("Extra", "");
    assert!(
        !v1::verify(secret, &v1::string_to_sign(method, &added), sig),
        "{id}: +Extra"
    );
    let other = if method == "GET" { "POST" } else { "GET" };
    assert!(
        !v1::verify(secret, &v1::string_to_sign(other, &params), sig),
        "{id}: method"
    );
    assert!(!v1::verify(&tamper(secret, 0), &sts, sig), "{id}: secret");
    checks + 3
}

/// Full ACS3 check of one vector plus tampering; returns the number of checks run.
fn check_acs3(v: &Value, secret: &str) -> usize {
    let id = str_of(v, "id");
    let request = &v["request"];
    let expected = &v["expected"];
    let method = str_of(request, "method");

    let auth_text = match expected["authorization"].as_str() {
        Some(a) => a.to_owned(),
        None => header_values(request, "authorization").remove(0),
    };
    if let Some(sent) = header_values(request, "authorization").first() {
        assert_eq!(*sent, auth_text, "{id}: Authorization header");
    }
    let auth = acs3::parse_authorization(&auth_text).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(auth.access_key_id, str_of(v, "access_key_id"), "{id}");
    let expected_signed: Vec<&str> = expected["signed_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(auth.signed_headers, expected_signed, "{id}");
    assert_eq!(auth.to_string(), auth_text, "{id}: Display round trip");

    let body = body_bytes(request);
    let payload_hash = acs3::sha256_hex(&body);
    if let Some(h) = expected["payload_hash"].as_str() {
        assert_eq!(payload_hash, h, "{id}");
    }
    assert_eq!(
        header_values(request, "x-acs-content-sha256"),
        vec![payload_hash.clone()],
        "{id}"
    );

    let query = Params::parse_form(str_of(request, "raw_query").as_bytes()).unwrap();
    let path = str_of(request, "path");
    let lookup = |name: &str| header_values(request, name);
    let cr = acs3::canonical_request(
        method,
        path,
        &query,
        &auth.signed_headers,
        &lookup,
        &payload_hash,
    );
    assert_eq!(cr, str_of(expected, "canonical_request"), "{id}");
    if let Some(h) = expected["hashed_canonical_request"].as_str() {
        assert_eq!(acs3::sha256_hex(cr.as_bytes()), h, "{id}");
    }
    let sts = acs3::string_to_sign(&cr);
    assert_eq!(sts, str_of(expected, "string_to_sign"), "{id}");
    let sig = str_of(expected, "signature");
    assert_eq!(auth.signature, sig, "{id}");
    assert_eq!(acs3::signature(secret, &sts), sig, "{id}");
    assert!(acs3::verify(secret, &sts, sig), "{id}");

    let mut checks = 0;
    for i in 0..sig.len() {
        assert!(
            !acs3::verify(secret, &sts, &tamper(sig, i)),
            "{id}: sig byte {i}"
        );
        checks += 1;
    }
    for i in 0..cr.len() {
        let changed = acs3::string_to_sign(&tamper(&cr, i));
        assert!(
            !acs3::verify(secret, &changed, sig),
            "{id}: canonical request byte {i}"
        );
        checks += 1;
    }
    // Each signed header value changed by one character.
    for name in &auth.signed_headers {
        let altered = |n: &str| {
            let mut values = header_values(request, n);
            if n == name.as_str() {
                values[0] = tamper(&values[0], 0);
            }
            values
        };
        let cr = acs3::canonical_request(
            method,
            path,
            &query,
            &auth.signed_headers,
            &altered,
            &payload_hash,
        );
        assert!(
            !acs3::verify(secret, &acs3::string_to_sign(&cr), sig),
            "{id}: header {name}"
        );
        checks += 1;
    }
    // Each query value changed; one byte of the body changed.
    for (name, value) in query.iter() {
        let mut changed = query.clone();
        changed.insert(name, format!("{value}x"));
        let cr = acs3::canonical_request(
            method,
            path,
            &changed,
            &auth.signed_headers,
            &lookup,
            &payload_hash,
        );
        assert!(
            !acs3::verify(secret, &acs3::string_to_sign(&cr), sig),
            "{id}: query {name}"
        );
        checks += 1;
    }
    let mut body2 = body.clone();
    match body2.first_mut() {
        Some(b) => *b ^= 1,
        None => body2.push(b' '),
    }
    let hash2 = acs3::sha256_hex(&body2);
    assert_ne!(hash2, payload_hash, "{id}");
    let cr = acs3::canonical_request(method, path, &query, &auth.signed_headers, &lookup, &hash2);
    assert!(
        !acs3::verify(secret, &acs3::string_to_sign(&cr), sig),
        "{id}: body"
    );
    assert!(
        !acs3::verify(&format!("{secret}&"), &sts, sig),
        "{id}: V1-style key"
    );
    checks + 2
}

#[test]
fn v1_captured_vectors() {
    let file = load("aliyun-v1.json");
    let vs = vectors(&file);
    assert_eq!(vs.len(), 38);
    let mut checks = 0;
    for v in vs {
        assert_eq!(str_of(v, "signature_version"), "V1");
        checks += check_v1(v, str_of(v, "access_key_secret"));
    }
    assert!(checks > 38 * 100, "{checks}");
}

#[test]
fn acs3_captured_vectors() {
    let file = load("aliyun-acs3.json");
    let vs = vectors(&file);
    assert_eq!(vs.len(), 17);
    for v in vs {
        assert_eq!(str_of(v, "signature_version"), acs3::ALGORITHM);
        check_acs3(v, str_of(v, "access_key_secret"));
    }
}

#[test]
fn doc_examples() {
    let file = load("aliyun-doc-examples.json");
    let vs = vectors(&file);
    let ids: Vec<&str> = vs.iter().map(|v| str_of(v, "id")).collect();
    assert_eq!(
        ids,
        vec![
            "doc/ram-signature-page-v1",
            "doc/v3-signature-page-acs3",
            "worked/v1-createuser-post",
            "worked/acs3-createuser-post",
        ]
    );
    for v in vs {
        let secret = str_of(v, "access_key_secret");
        match str_of(v, "signature_version") {
            "V1" => check_v1(v, secret),
            acs3::ALGORITHM => check_acs3(v, secret),
            other => panic!("unknown signature version {other}"),
        };
    }
    // The documented values, spelled out so a vector-file edit cannot hide a regression.
    let sig = |id: &str| {
        let v = vs.iter().find(|v| str_of(v, "id") == id).unwrap();
        str_of(&v["expected"], "signature").to_owned()
    };
    assert_eq!(
        sig("doc/ram-signature-page-v1"),
        "kRA2cnpJVacIhDMzXnoNZG9tDCI="
    );
    assert_eq!(
        sig("doc/v3-signature-page-acs3"),
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
    assert_eq!(
        sig("worked/v1-createuser-post"),
        "l6YHB1MTIkXLXK+8n4zimvg6e7s="
    );
    assert_eq!(
        sig("worked/acs3-createuser-post"),
        "5dba8f24550b5543b8fba3117ebc2f8f7f619e44471d9836e33149be98f21a18"
    );
}

#[test]
fn negative_vectors_are_rejected() {
    let file = load("aliyun-negative.json");
    let default_secret = str_of(&file, "access_key_secret");
    let vs = vectors(&file);
    assert_eq!(vs.len(), 6);
    for v in vs {
        let id = str_of(v, "id");
        let request = &v["request"];
        let expected = &v["expected"];
        let method = str_of(request, "method");
        // The wrong-secret case states the server's secret only in prose.
        let change = str_of(v, "change");
        let secret = change
            .strip_prefix("server holds secret \"")
            .and_then(|rest| rest.split('"').next())
            .unwrap_or(default_secret);
        // Absent only for the body-changed case, whose signature is the one sent.
        let provided = expected["provided_signature"].as_str();

        if str_of(v, "signature_version") == "V1" {
            let params = v1_params(request);
            let provided = provided.unwrap();
            assert_eq!(params.get("Signature"), Some(provided), "{id}");
            let sts = v1::string_to_sign(method, &params);
            assert_eq!(sts, str_of(expected, "string_to_sign"), "{id}");
            let server_sig = expected["signature"]
                .as_str()
                .or(expected["signature_with_server_secret"].as_str())
                .unwrap();
            assert_eq!(v1::signature(secret, &sts), server_sig, "{id}");
            assert!(!v1::verify(secret, &sts, provided), "{id} must be rejected");
            continue;
        }

        let auth_text = header_values(request, "authorization").remove(0);
        let auth = acs3::parse_authorization(&auth_text).unwrap();
        let provided = provided.unwrap_or(&auth.signature);
        assert_eq!(auth.signature, provided, "{id}");
        let body = body_bytes(request);
        let body_hash = acs3::sha256_hex(&body);
        let sent_hash = header_values(request, "x-acs-content-sha256").remove(0);
        if let Some(h) = expected["body_sha256"].as_str() {
            // Rejected before any HMAC: the body does not match its declared hash.
            assert_eq!(body_hash, h, "{id}");
            assert_eq!(
                sent_hash,
                str_of(expected, "x-acs-content-sha256_sent"),
                "{id}"
            );
            assert_ne!(body_hash, sent_hash, "{id} must be rejected");
        }
        let query = Params::parse_form(str_of(request, "raw_query").as_bytes()).unwrap();
        let lookup = |name: &str| header_values(request, name);
        let path = str_of(request, "path");
        let cr = acs3::canonical_request(
            method,
            path,
            &query,
            &auth.signed_headers,
            &lookup,
            &body_hash,
        );
        if let Some(c) = expected["canonical_request"].as_str() {
            assert_eq!(cr, c, "{id}");
        }
        let sts = acs3::string_to_sign(&cr);
        if let Some(s) = expected["string_to_sign"].as_str() {
            assert_eq!(sts, s, "{id}");
        }
        if let Some(s) = expected["signature"].as_str() {
            assert_eq!(acs3::signature(secret, &sts), s, "{id}");
        }
        assert!(
            !acs3::verify(secret, &sts, provided),
            "{id} must be rejected"
        );
    }
}

/// `sign::v1_query` reproduces every captured V1 signature from the decoded
/// business parameters plus the vector's own nonce and timestamp.
#[test]
fn v1_query_reproduces_captured_signatures() {
    const ADDED: [&str; 6] = [
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Signature",
    ];
    let files = [load("aliyun-v1.json"), load("aliyun-doc-examples.json")];
    let mut reproduced = 0;
    for v in files.iter().flat_map(vectors) {
        if str_of(v, "signature_version") != "V1" {
            continue;
        }
        let id = str_of(v, "id");
        let request = &v["request"];
        let params = v1_params(request);
        let business = Params::from_pairs(params.iter().filter(|(n, _)| !ADDED.contains(n)));
        let timestamp = parse_timestamp(params.get("Timestamp").unwrap()).unwrap();
        let method = str_of(request, "method");
        let query = sign::v1_query(
            method,
            business,
            params.get("AccessKeyId").unwrap(),
            str_of(v, "access_key_secret"),
            params.get("SignatureNonce").unwrap(),
            timestamp,
        );
        let sent = Params::parse_form(query.as_bytes()).unwrap();
        assert_eq!(
            sent.len(),
            params.len() + usize::from(params.get("Signature").is_none()),
            "{id}"
        );
        assert_eq!(
            sent.get("Signature"),
            Some(str_of(&v["expected"], "signature")),
            "{id}"
        );
        assert!(query.ends_with(&format!(
            "&Signature={}",
            trustdesk_auth::percent_encode(str_of(&v["expected"], "signature"))
        )));
        reproduced += 1;
    }
    assert_eq!(reproduced, 40);
}

/// `sign::acs3_request` signs exactly the header set of the vendor's own
/// examples, so it must reproduce both of them.
#[test]
fn acs3_request_reproduces_doc_examples() {
    let file = load("aliyun-doc-examples.json");
    for v in vectors(&file) {
        if str_of(v, "signature_version") != acs3::ALGORITHM {
            continue;
        }
        let id = str_of(v, "id");
        let request = &v["request"];
        let h = |name: &str| header_values(request, name).remove(0);
        let query = Params::parse_form(str_of(request, "raw_query").as_bytes()).unwrap();
        let out = sign::acs3_request(
            str_of(request, "method"),
            &h("host"),
            &h("x-acs-action"),
            &h("x-acs-version"),
            &query,
            &body_bytes(request),
            None,
            str_of(v, "access_key_id"),
            str_of(v, "access_key_secret"),
            &h("x-acs-signature-nonce"),
            parse_timestamp(&h("x-acs-date")).unwrap(),
        );
        let auth = acs3::parse_authorization(out.header("authorization").unwrap()).unwrap();
        assert_eq!(auth.signature, str_of(&v["expected"], "signature"), "{id}");
        for name in &auth.signed_headers {
            assert_eq!(out.header(name), Some(h(name).as_str()), "{id}: {name}");
        }
    }
}

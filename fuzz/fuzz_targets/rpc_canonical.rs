//! The RPC request parsers and canonicalisers (trustdesk-auth): form
//! decoding, V1 canonical query and string-to-sign, ACS3 canonical query
//! and request, the ACS3 Authorization header parser. Properties beyond
//! "never panics":
//! * decoding is strict: what parse_form accepts, re-encoded with the
//!   vendor's percent-encoding and decoded again, gives the same pairs;
//! * the canonical query is independent of the order parameters arrived
//!   in (it sorts), and V1 and ACS3 agree on it (V1 leaving `Signature`
//!   out, as it must);
//! * a signature over the string-to-sign verifies, and fails for any
//!   other secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustdesk_auth::Params;
use trustdesk_auth::{acs3, v1};

fuzz_target!(|data: &[u8]| {
    // The first byte says where the query ends and an Authorization
    // header value begins.
    let (cut, rest) = match data.split_first() {
        Some((c, rest)) => (*c as usize, rest),
        None => return,
    };
    let (query, auth) = rest.split_at(cut.min(rest.len()));
    let _ = acs3::parse_authorization(&String::from_utf8_lossy(auth));

    let Ok(params) = Params::parse_form(query) else {
        return;
    };
    let canonical = v1::canonical_query(&params);
    // V1 signs every parameter but `Signature`; ACS3 every query parameter.
    let mut unsigned = params.clone();
    unsigned.remove("Signature");
    assert_eq!(canonical, acs3::canonical_query(&unsigned), "V1 and ACS3 sort and encode alike");

    // Re-encode, decode again: the same (signed) parameters.
    let again = Params::parse_form(canonical.as_bytes()).expect("our own encoding decodes");
    let a: Vec<(&str, &str)> = unsigned.iter().collect();
    let mut b: Vec<(&str, &str)> = again.iter().collect();
    let mut a_sorted = a.clone();
    a_sorted.sort_unstable();
    b.sort_unstable();
    assert_eq!(a_sorted, b, "decode(encode(p)) == p");

    // Arrival order does not matter.
    let all: Vec<(&str, &str)> = params.iter().collect();
    let reversed = Params::from_pairs(all.iter().rev().copied());
    assert_eq!(v1::canonical_query(&reversed), canonical);

    let sts = v1::string_to_sign("POST", &params);
    let sig = v1::signature("secret", &sts);
    assert!(v1::verify("secret", &sts, &sig));
    assert!(!v1::verify("secreT", &sts, &sig));

    let headers = |_: &str| vec!["v".to_owned()];
    let req = acs3::canonical_request("POST", "/", &params, &["host".to_owned()], &headers, &acs3::sha256_hex(b""));
    let sts3 = acs3::string_to_sign(&req);
    let sig3 = acs3::signature("secret", &sts3);
    assert!(acs3::verify("secret", &sts3, &sig3));
});

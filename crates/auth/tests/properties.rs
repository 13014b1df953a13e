//! Property tests for the encoders and canonicalisation.

use proptest::prelude::*;
use trustdesk_auth::{Params, acs3, percent_encode, sign, v1};

/// Distinct names with arbitrary Unicode values, in arbitrary order.
fn param_set() -> impl Strategy<Value = Vec<(String, String)>> {
    // Names drawn from a small alphabet too, so shared prefixes (the
    // `Signature*` family) and prefix-of-another names are common.
    let name = prop_oneof![any::<String>(), "[Sa\\x00:1]{0,12}"];
    prop::collection::btree_map(name, any::<String>(), 0..12)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #[test]
    fn canonical_query_ignores_order(pairs in param_set(), seed in any::<u64>()) {
        let a = Params::from_pairs(pairs.clone());
        let mut shuffled = pairs;
        // Deterministic rotation plus reversal: a different arrival order.
        if !shuffled.is_empty() {
            let k = (seed as usize) % shuffled.len();
            shuffled.rotate_left(k);
        }
        shuffled.reverse();
        let b = Params::from_pairs(shuffled);
        prop_assert_eq!(v1::canonical_query(&a), v1::canonical_query(&b));
        prop_assert_eq!(v1::string_to_sign("POST", &a), v1::string_to_sign("POST", &b));
        prop_assert_eq!(acs3::canonical_query(&a), acs3::canonical_query(&b));
    }

    #[test]
    fn canonical_query_matches_naive_reference(pairs in param_set()) {
        // BTreeMap<String, _> orders by bytes, like the SDKs' sorted map keys.
        let reference: std::collections::BTreeMap<&str, &str> = pairs
            .iter()
            .filter(|(n, _)| n != "Signature")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let expected = reference
            .iter()
            .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let p = Params::from_pairs(pairs.clone());
        prop_assert_eq!(v1::canonical_query(&p), expected);
    }

    #[test]
    fn percent_encode_alphabet(s in any::<String>()) {
        let enc = percent_encode(&s);
        let b = enc.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                prop_assert!(b.get(i + 1).is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)));
                prop_assert!(b.get(i + 2).is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)));
                i += 3;
            } else {
                prop_assert!(b[i].is_ascii_alphanumeric() || b"-_.~".contains(&b[i]), "byte {:?}", b[i] as char);
                i += 1;
            }
        }
        // Exactly one escape per reserved byte, none for unreserved ones.
        let reserved = s.bytes().filter(|c| !(c.is_ascii_alphanumeric() || b"-_.~".contains(c))).count();
        prop_assert_eq!(enc.len(), s.len() + 2 * reserved);
    }

    #[test]
    fn parse_form_round_trips(pairs in param_set()) {
        let raw = form_encode(&pairs);
        let parsed = Params::parse_form(raw.as_bytes()).unwrap();
        // Empty names with empty values encode to "=" which still parses as one pair.
        prop_assert_eq!(parsed.len(), pairs.len());
        for (n, v) in &pairs {
            prop_assert_eq!(parsed.get(n), Some(v.as_str()));
        }
        // `+` for space (as the tea SDK sends) decodes the same.
        let plus = raw.replace("%20", "+");
        prop_assert_eq!(Params::parse_form(plus.as_bytes()).unwrap(), parsed);
    }

    #[test]
    fn parse_form_never_panics(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Params::parse_form(&raw);
    }

    #[test]
    fn one_pass_string_to_sign_matches_definition(pairs in param_set(), get in any::<bool>()) {
        let p = Params::from_pairs(pairs);
        let method = if get { "GET" } else { "POST" };
        let expected = format!("{method}&%2F&{}", percent_encode(&v1::canonical_query(&p)));
        prop_assert_eq!(v1::string_to_sign(method, &p), expected);
    }

    #[test]
    fn v1_sign_verify_round_trip(pairs in param_set(), secret in any::<String>(), nonce in "[0-9a-f]{32}") {
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let q = sign::v1_query("POST", Params::from_pairs(pairs), "id", &secret, &nonce, t);
        let parsed = Params::parse_form(q.as_bytes()).unwrap();
        let sig = parsed.get("Signature").unwrap();
        prop_assert!(v1::verify(&secret, &v1::string_to_sign("POST", &parsed), sig));
    }
}

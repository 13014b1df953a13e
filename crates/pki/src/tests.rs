//! Tests of the public API: openssl-made fixtures (tests/fixtures, see its
//! README) and chains generated with rcgen. Every test uses a fixed `now`.

use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SignatureAlgorithm,
};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

macro_rules! fx {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}

/// Inside every fixture's validity (2025-01-01 .. 2045-01-01).
const NOW: OffsetDateTime = datetime!(2030-06-01 00:00 UTC);

fn limits() -> Limits {
    Limits::default()
}

fn import_at(cert: &str, key: &str, now: OffsetDateTime) -> Result<Imported, ImportError> {
    import(cert, key, now, &limits())
}

fn import_ok(cert: &str, key: &str) -> Imported {
    match import_at(cert, key, NOW) {
        Ok(imported) => imported,
        Err(e) => panic!("import failed: {e:?}"),
    }
}

fn import_err(cert: &str, key: &str) -> ImportError {
    match import_at(cert, key, NOW) {
        Ok(imported) => panic!("import succeeded: {:?}", imported.bundle.certs),
        Err(e) => e,
    }
}

fn cat(parts: &[&str]) -> String {
    parts.concat()
}

fn chain_of(leaf: &str) -> String {
    cat(&[leaf, fx!("int-ca.pem"), fx!("root-ca.pem")])
}

fn load_err(key: &str) -> ImportError {
    match load_key(key, &limits()) {
        Ok(loaded) => panic!("load_key succeeded: {:?}", loaded.kind),
        Err(e) => e,
    }
}

fn unsupported_detail(e: ImportError) -> String {
    match e {
        ImportError::KeyUnsupported { detail } => detail,
        other => panic!("expected KeyUnsupported, got {other:?}"),
    }
}

fn chain_not_match(e: ImportError) -> (usize, usize, String) {
    match e {
        ImportError::ChainNotMatch {
            index,
            prev,
            detail,
        } => (index, prev, detail),
        other => panic!("expected ChainNotMatch, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// rcgen helpers

const NOT_BEFORE: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);
const NOT_AFTER: OffsetDateTime = datetime!(2045-01-01 00:00 UTC);

fn params(cn: &str, ca: bool) -> CertificateParams {
    let mut p = CertificateParams::new(if ca { vec![] } else { vec![cn.to_owned()] }).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, "rcgen tests");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = NOT_BEFORE;
    p.not_after = NOT_AFTER;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    p
}

/// A generated root → intermediate → leaf chain.
struct Chain {
    root: String,
    intermediate: String,
    leaf: String,
    leaf_key: String,
}

impl Chain {
    fn bundle(&self) -> String {
        cat(&[&self.leaf, &self.intermediate, &self.root])
    }
}

fn generate(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).unwrap()
}

/// One RSA-2048 key, generated once (slow in debug builds).
fn rsa2048_generated() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| generate(&rcgen::PKCS_RSA_SHA256))
}

fn make_chain(root_key: &KeyPair, int_key: &KeyPair, leaf_key: &KeyPair) -> Chain {
    let root_params = params("rcgen root", true);
    let root = root_params.self_signed(root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, root_key);
    let int_params = params("rcgen intermediate", true);
    let intermediate = int_params.signed_by(int_key, &root_issuer).unwrap();
    let int_issuer = Issuer::from_params(&int_params, int_key);
    let leaf = params("leaf.rcgen.test", false)
        .signed_by(leaf_key, &int_issuer)
        .unwrap();
    Chain {
        root: root.pem(),
        intermediate: intermediate.pem(),
        leaf: leaf.pem(),
        leaf_key: leaf_key.serialize_pem(),
    }
}

/// A key pair from a fixture, usable by rcgen as a signer.
fn fixture_signer(pem: &str, alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::from_pem_and_sign_algo(pem, alg).unwrap()
}

// ---------------------------------------------------------------------------
// Happy paths

#[test]
fn rsa_2048_pkcs1_with_full_chain() {
    let imported = import_ok(fx!("chain.pem"), fx!("rsa2048.key"));
    assert_eq!(imported.key_kind, KeyKind::Rsa { bits: 2048 });
    assert_eq!(imported.bundle.certs.len(), 3);
    assert_eq!(imported.bundle.der.len(), 3);
    assert_eq!(
        imported.bundle.leaf().public_key,
        KeyKind::Rsa { bits: 2048 }
    );
    assert_eq!(
        imported.bundle.certs[1].public_key,
        KeyKind::Ec(Curve::P384)
    );
    assert_eq!(
        imported.bundle.certs[2].public_key,
        KeyKind::Rsa { bits: 3072 }
    );
    // openssl writes the same canonical form we normalise to.
    assert_eq!(imported.cert_pem, fx!("chain.pem"));
    assert_eq!(&*imported.key_pem, fx!("rsa2048.key").trim());
}

#[test]
fn every_supported_key_type_and_format() {
    let cases: &[(&str, &str, KeyKind)] = &[
        (
            fx!("rsa2048.pem"),
            fx!("rsa2048.key"),
            KeyKind::Rsa { bits: 2048 },
        ),
        (
            fx!("rsa2048.pem"),
            fx!("rsa2048-pkcs8.key"),
            KeyKind::Rsa { bits: 2048 },
        ),
        (
            fx!("rsa3072.pem"),
            fx!("rsa3072.key"),
            KeyKind::Rsa { bits: 3072 },
        ),
        (
            fx!("rsa4096.pem"),
            fx!("rsa4096.key"),
            KeyKind::Rsa { bits: 4096 },
        ),
        (fx!("p256.pem"), fx!("p256.key"), KeyKind::Ec(Curve::P256)),
        (
            fx!("p256.pem"),
            fx!("p256-pkcs8.key"),
            KeyKind::Ec(Curve::P256),
        ),
        (fx!("p384.pem"), fx!("p384.key"), KeyKind::Ec(Curve::P384)),
        (fx!("p521.pem"), fx!("p521.key"), KeyKind::Ec(Curve::P521)),
        (
            fx!("p521.pem"),
            fx!("p521-pkcs8.key"),
            KeyKind::Ec(Curve::P521),
        ),
        (fx!("ed25519.pem"), fx!("ed25519.key"), KeyKind::Ed25519),
    ];
    for (cert, key, kind) in cases {
        // Alone, and with the chain (ECDSA P-384/SHA-256 and RSA SHA-256
        // signatures verified on the way).
        for bundle in [cert.to_string(), chain_of(cert)] {
            let imported =
                import_at(&bundle, key, NOW).unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
            assert_eq!(imported.key_kind, *kind);
            assert_eq!(imported.bundle.leaf().public_key, *kind);
        }
        let loaded = load_key(key, &limits()).unwrap();
        assert_eq!(loaded.kind, *kind);
    }
    // The CA certificates with their own keys (PKCS#8 RSA-3072, SEC1 P-384).
    let root = import_ok(fx!("root-ca.pem"), fx!("root-ca.key"));
    assert_eq!(root.key_kind, KeyKind::Rsa { bits: 3072 });
    let int = import_ok(
        &cat(&[fx!("int-ca.pem"), fx!("root-ca.pem")]),
        fx!("int-ca.key"),
    );
    assert_eq!(int.key_kind, KeyKind::Ec(Curve::P384));
}

#[test]
fn rsa_pss_signed_leaf() {
    let bundle = cat(&[fx!("pss-leaf.pem"), fx!("root-ca.pem")]);
    let imported = import_ok(&bundle, fx!("p256.key"));
    assert_eq!(imported.bundle.certs.len(), 2);
}

#[test]
fn generated_chains_with_every_signature_family() {
    // P-256 root (ECDSA P-256/SHA-256) → Ed25519 intermediate (Ed25519) →
    // P-384 leaf.
    let chain = make_chain(
        &generate(&rcgen::PKCS_ECDSA_P256_SHA256),
        &generate(&rcgen::PKCS_ED25519),
        &generate(&rcgen::PKCS_ECDSA_P384_SHA384),
    );
    let imported = import_ok(&chain.bundle(), &chain.leaf_key);
    assert_eq!(imported.key_kind, KeyKind::Ec(Curve::P384));
    assert_eq!(imported.bundle.certs[1].public_key, KeyKind::Ed25519);
    assert!(imported.bundle.certs[1].is_ca);
    assert_eq!(imported.bundle.certs[2].issuer, "rcgen root");

    // P-521 root (ECDSA P-521/SHA-512) → P-384 intermediate → Ed25519 leaf.
    let chain = make_chain(
        &generate(&rcgen::PKCS_ECDSA_P521_SHA512),
        &generate(&rcgen::PKCS_ECDSA_P384_SHA384),
        &generate(&rcgen::PKCS_ED25519),
    );
    let imported = import_ok(&chain.bundle(), &chain.leaf_key);
    assert_eq!(imported.key_kind, KeyKind::Ed25519);
    assert_eq!(
        imported.bundle.certs[2].public_key,
        KeyKind::Ec(Curve::P521)
    );

    // RSA root signing with SHA-512 and SHA-384 (fixture key, no RSA
    // generation needed) → P-256 intermediate → generated RSA-2048 leaf.
    for alg in [&rcgen::PKCS_RSA_SHA512, &rcgen::PKCS_RSA_SHA384] {
        let root = fixture_signer(fx!("root-ca.key"), alg);
        let chain = make_chain(
            &root,
            &generate(&rcgen::PKCS_ECDSA_P256_SHA256),
            rsa2048_generated(),
        );
        let imported = import_ok(&chain.bundle(), &chain.leaf_key);
        assert_eq!(imported.key_kind, KeyKind::Rsa { bits: 2048 });
    }
}

#[test]
fn p256_import_of_generated_pkcs8_key() {
    let key = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let cert = params("p256.rcgen.test", false).self_signed(&key).unwrap();
    let imported = import_ok(&cert.pem(), &key.serialize_pem());
    assert_eq!(imported.key_kind, KeyKind::Ec(Curve::P256));
    let info = imported.bundle.leaf();
    assert_eq!(info.subject, "CN=p256.rcgen.test,O=rcgen tests");
    assert_eq!(info.issuer, "p256.rcgen.test");
    assert_eq!(info.sans, ["p256.rcgen.test"]);
}

// ---------------------------------------------------------------------------
// Framing variants

#[test]
fn crlf_line_ends() {
    let cert = fx!("chain.pem").replace('\n', "\r\n");
    let key = fx!("rsa2048.key").replace('\n', "\r\n");
    let imported = import_ok(&cert, &key);
    assert_eq!(imported.cert_pem, fx!("chain.pem"));
    assert_eq!(&*imported.key_pem, key.trim());
    // Old Mac line ends, too.
    let cr = fx!("p256.pem").replace('\n', "\r");
    import_ok(&cr, &fx!("p256.key").replace('\n', "\r"));
}

#[test]
fn p256_crlf_key_and_chain() {
    let cert = chain_of(fx!("p256.pem")).replace('\n', "\r\n");
    let key = fx!("p256.key").replace('\n', "\r\n");
    let imported = import_ok(&cert, &key);
    assert_eq!(imported.cert_pem, chain_of(fx!("p256.pem")));
}

#[test]
fn text_around_blocks_and_other_labels_are_ignored() {
    let cert = cat(&[
        "Bag Attributes\n    friendlyName: www.example.test\nsubject=CN = www.example.test\n",
        fx!("rsa2048.pem"),
        "\nissuer=CN = Trustdesk Fixture Intermediate CA\n",
        fx!("int-ca.pem"),
        "-----BEGIN X509 CRL-----\nnot even base64!\n-----END X509 CRL-----\n",
        fx!("root-ca.pem"),
        "trailing words\n",
    ]);
    let key = cat(&[
        "  \n-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n",
        fx!("rsa2048.key"),
        "-----BEGIN CERTIFICATE-----\n????\n-----END CERTIFICATE-----\n\n",
    ]);
    let imported = import_ok(&cert, &key);
    assert_eq!(imported.cert_pem, fx!("chain.pem"));
    assert_eq!(&*imported.key_pem, key.trim());
}

#[test]
fn flattened_and_indented_pem() {
    // Line breaks turned into spaces (a web form or JSON field did it).
    let cert = chain_of(fx!("p256.pem")).replace('\n', " ");
    let key = fx!("p256-pkcs8.key").replace('\n', " ");
    let imported = import_ok(&cert, &key);
    assert_eq!(imported.bundle.certs.len(), 3);
    assert_eq!(imported.cert_pem, chain_of(fx!("p256.pem")));

    let indented: String = fx!("p256.pem")
        .lines()
        .map(|l| format!("\t  {l}  \n"))
        .collect();
    import_ok(&indented, fx!("p256.key"));
}

// ---------------------------------------------------------------------------
// Metadata

#[test]
fn leaf_metadata_matches_openssl() {
    let bundle = parse_bundle(fx!("chain.pem"), &limits()).unwrap();
    let leaf = bundle.leaf();
    let reference = fx!("rsa2048.fingerprints.txt");
    let value = |prefix: &str| -> String {
        reference
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .replace(':', "")
    };
    assert_eq!(leaf.sha1_fingerprint, value("sha1 Fingerprint="));
    assert_eq!(leaf.sha256_fingerprint, value("sha256 Fingerprint="));
    assert_eq!(leaf.serial_hex, value("serial="));
    assert_eq!(leaf.serial_hex, "9F3A5C7E11223344");
    assert_eq!(leaf.sha1_fingerprint.len(), 40);
    assert_eq!(leaf.sha256_fingerprint.len(), 64);

    assert_eq!(
        leaf.subject,
        "CN=www.example.test,O=Example\\, Ltd.,L=杭州,ST=Zhejiang,C=CN"
    );
    assert_eq!(leaf.common_name.as_deref(), Some("www.example.test"));
    assert_eq!(
        leaf.sans,
        [
            "www.example.test",
            "example.test",
            "192.0.2.10",
            "2001:db8::1"
        ]
    );
    assert_eq!(leaf.issuer, "Trustdesk Fixture Intermediate CA");
    assert_eq!(
        leaf.issuer_dn,
        "CN=Trustdesk Fixture Intermediate CA,O=Trustdesk Fixtures,C=CN"
    );
    assert_eq!(leaf.organization, "Example, Ltd.");
    assert_eq!(leaf.province, "Zhejiang");
    assert_eq!(leaf.city, "杭州");
    assert_eq!(leaf.country, "CN");
    assert_eq!(leaf.not_before, datetime!(2025-01-01 00:00 UTC));
    assert_eq!(leaf.not_after, datetime!(2045-01-01 00:00 UTC));
    assert_eq!(leaf.public_key, KeyKind::Rsa { bits: 2048 });
    assert_eq!(leaf.key_usages, ["digitalSignature", "keyEncipherment"]);
    assert_eq!(leaf.extended_key_usages, ["serverAuth", "clientAuth"]);
    assert!(!leaf.is_ca);

    let int = &bundle.certs[1];
    assert!(int.is_ca);
    assert_eq!(int.key_usages, ["keyCertSign", "cRLSign"]);
    assert!(int.extended_key_usages.is_empty());
    assert!(int.sans.is_empty());
    assert_eq!(int.serial_hex, "1000");
    assert_eq!(int.issuer, "Trustdesk Fixture Root CA");
    assert_eq!(int.province, "");
    assert_eq!(int.city, "");

    let root = &bundle.certs[2];
    assert_eq!(root.subject, root.issuer_dn);
    assert_eq!(root.serial_hex, "01");
}

#[test]
fn issuer_display_falls_back_to_o_then_dn() {
    let key = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut p = params("x", false);
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "DE");
    p.distinguished_name
        .push(DnType::OrganizationName, "Only O");
    let info = parse_bundle(&p.self_signed(&key).unwrap().pem(), &limits()).unwrap();
    assert_eq!(info.leaf().issuer, "Only O");
    assert_eq!(info.leaf().common_name, None);
    assert_eq!(info.leaf().subject, "O=Only O,C=DE");

    let mut p = params("x", false);
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "DE");
    p.distinguished_name.push(DnType::LocalityName, "Berlin");
    let info = parse_bundle(&p.self_signed(&key).unwrap().pem(), &limits()).unwrap();
    assert_eq!(info.leaf().issuer, "L=Berlin,C=DE");
    assert_eq!(info.leaf().city, "Berlin");
}

#[test]
fn sans_ip_and_eku_names() {
    let key = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut p = params("ip.test", false);
    p.subject_alt_names = vec![
        SanType::IpAddress("10.1.2.3".parse().unwrap()),
        SanType::DnsName("a.ip.test".try_into().unwrap()),
        SanType::Rfc822Name("x@ip.test".try_into().unwrap()),
        SanType::IpAddress("fe80::1:2".parse().unwrap()),
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::CodeSigning,
        ExtendedKeyUsagePurpose::EmailProtection,
        ExtendedKeyUsagePurpose::TimeStamping,
        ExtendedKeyUsagePurpose::OcspSigning,
        ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 99999, 1]),
    ];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyAgreement,
    ];
    p.serial_number = Some(vec![0x00, 0x00, 0x7f, 0x01].into());
    let info = parse_bundle(&p.self_signed(&key).unwrap().pem(), &limits()).unwrap();
    let leaf = info.leaf();
    assert_eq!(leaf.sans, ["10.1.2.3", "a.ip.test", "fe80::1:2"]);
    assert_eq!(
        leaf.extended_key_usages,
        [
            "codeSigning",
            "emailProtection",
            "timeStamping",
            "OCSPSigning",
            "1.3.6.1.4.1.99999.1"
        ]
    );
    assert_eq!(
        leaf.key_usages,
        ["digitalSignature", "nonRepudiation", "keyAgreement"]
    );
    assert_eq!(leaf.serial_hex, "7F01");
}

// ---------------------------------------------------------------------------
// The key/certificate match is byte-wise on the BIT STRING contents.

#[test]
fn key_match_compares_subject_public_key_bytes() {
    use x509_parser::prelude::FromDer;
    for (cert, key) in [
        (fx!("rsa2048.pem"), fx!("rsa2048.key")),
        (fx!("p384.pem"), fx!("p384.key")),
        (fx!("ed25519.pem"), fx!("ed25519.key")),
    ] {
        let bundle = parse_bundle(cert, &limits()).unwrap();
        let (_, x509) =
            x509_parser::certificate::X509Certificate::from_der(&bundle.der[0]).unwrap();
        let spki_bits = &x509.tbs_certificate.subject_pki.subject_public_key.data;
        let loaded = load_key(key, &limits()).unwrap();
        assert_eq!(&loaded.public_key[..], &spki_bits[..]);
    }
    // The same P-256 key pair, certified with a compressed point: the bytes
    // differ, so it does not match (documented behaviour).
    let compressed = parse_bundle(fx!("p256-compressed.pem"), &limits()).unwrap();
    assert_eq!(compressed.leaf().public_key, KeyKind::Ec(Curve::P256));
    assert_eq!(
        import_err(fx!("p256-compressed.pem"), fx!("p256.key")),
        ImportError::KeyMismatch
    );
    import_ok(fx!("p256.pem"), fx!("p256.key"));
}

// ---------------------------------------------------------------------------
// Every refusal

#[test]
fn sizes_are_checked_first() {
    let small = Limits {
        max_cert_bytes: 100,
        max_key_bytes: 50,
        ..Limits::default()
    };
    let big_garbage = "x".repeat(101);
    assert_eq!(
        import(&big_garbage, "", NOW, &small).unwrap_err(),
        ImportError::CertTooLarge {
            size: 101,
            limit: 100
        }
    );
    // The key size is checked before the certificate is parsed.
    assert_eq!(
        import("not pem", &"k".repeat(51), NOW, &small).unwrap_err(),
        ImportError::KeyTooLarge {
            size: 51,
            limit: 50
        }
    );
    assert!(matches!(
        parse_bundle(&big_garbage, &small),
        Err(ImportError::CertTooLarge { .. })
    ));
    assert!(matches!(
        load_key(&"k".repeat(51), &small),
        Err(ImportError::KeyTooLarge { .. })
    ));
    let default = limits();
    let huge = "a".repeat(default.max_cert_bytes + 1);
    assert!(matches!(
        import(&huge, fx!("p256.key"), NOW, &default),
        Err(ImportError::CertTooLarge { .. })
    ));
}

#[test]
fn cert_not_pem() {
    for (input, needle) in [
        ("", "BEGIN"),
        ("MIIBkTCCATegAwIBAgIU", "BEGIN"),
        (
            "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n",
            "invalid base64",
        ),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "no END line"),
    ] {
        match import_err(input, fx!("p256.key")) {
            ImportError::CertNotPem { detail } => assert!(detail.contains(needle), "{detail}"),
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn private_key_in_the_cert_field() {
    for key in [
        fx!("p256.key"),
        fx!("rsa2048-pkcs8.key"),
        fx!("encrypted-pkcs8.key"),
    ] {
        let cert = cat(&[fx!("p256.pem"), key]);
        match import_err(&cert, fx!("p256.key")) {
            ImportError::CertNotPem { detail } => {
                assert!(detail.contains("Key field"), "{detail}");
                assert!(detail.contains("private key"), "{detail}");
                let base64_line = key.lines().nth(1).unwrap();
                assert!(!detail.contains(base64_line));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn no_certificate() {
    let only_public_key =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
    assert_eq!(
        import_err(only_public_key, fx!("p256.key")),
        ImportError::NoCertificate
    );
    assert_eq!(
        parse_bundle(
            "-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----",
            &limits()
        )
        .unwrap_err(),
        ImportError::NoCertificate
    );
}

#[test]
fn cert_unparsable() {
    let garbage = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        import_err(garbage, fx!("p256.key")),
        ImportError::CertUnparsable { index: 0, .. }
    ));
    let second = cat(&[fx!("p256.pem"), garbage]);
    assert!(matches!(
        import_err(&second, fx!("p256.key")),
        ImportError::CertUnparsable { index: 1, .. }
    ));
    // Trailing bytes after the certificate's DER.
    let bundle = parse_bundle(fx!("p256.pem"), &limits()).unwrap();
    let mut der = bundle.der[0].clone();
    der.push(0);
    let mut padded = String::new();
    pem::encode_block(&mut padded, "CERTIFICATE", &der);
    match import_err(&padded, fx!("p256.key")) {
        ImportError::CertUnparsable { index: 0, detail } => {
            assert!(detail.contains("trailing"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chain_too_long() {
    let tight = Limits {
        max_chain_len: 2,
        ..Limits::default()
    };
    assert_eq!(
        import(fx!("chain.pem"), fx!("rsa2048.key"), NOW, &tight).unwrap_err(),
        ImportError::ChainTooLong { count: 3, limit: 2 }
    );
    let eleven = fx!("p256.pem").repeat(11);
    assert_eq!(
        import_err(&eleven, fx!("p256.key")),
        ImportError::ChainTooLong {
            count: 11,
            limit: 10
        }
    );
}

#[test]
fn multiple_leaves() {
    let two = cat(&[fx!("rsa2048.pem"), fx!("p256.pem")]);
    assert_eq!(
        import_err(&two, fx!("rsa2048.key")),
        ImportError::MultipleLeaves { index: 1, prev: 0 }
    );
    let later = cat(&[fx!("rsa2048.pem"), fx!("int-ca.pem"), fx!("p256.pem")]);
    assert_eq!(
        import_err(&later, fx!("rsa2048.key")),
        ImportError::MultipleLeaves { index: 2, prev: 1 }
    );
}

#[test]
fn chain_out_of_order() {
    let bundle = cat(&[fx!("rsa2048.pem"), fx!("root-ca.pem"), fx!("int-ca.pem")]);
    let (index, prev, detail) = chain_not_match(import_err(&bundle, fx!("rsa2048.key")));
    assert_eq!((index, prev), (1, 0));
    assert_eq!(detail, "issuer name does not match");

    // The intermediate first: the leaf is then certificate 1, not a CA.
    let bundle = cat(&[fx!("int-ca.pem"), fx!("rsa2048.pem")]);
    assert_eq!(
        parse_bundle(&bundle, &limits()).unwrap_err(),
        ImportError::MultipleLeaves { index: 1, prev: 0 }
    );
}

#[test]
fn duplicated_certificates() {
    let bundle = cat(&[fx!("rsa2048.pem"), fx!("int-ca.pem"), fx!("int-ca.pem")]);
    let (index, prev, detail) = chain_not_match(import_err(&bundle, fx!("rsa2048.key")));
    assert_eq!((index, prev), (2, 1));
    assert!(detail.contains("duplicate of certificate 1"), "{detail}");

    let twice = fx!("root-ca.pem").repeat(2);
    let (index, _, detail) = chain_not_match(parse_bundle(&twice, &limits()).unwrap_err());
    assert_eq!(index, 1);
    assert!(detail.contains("duplicate of certificate 0"), "{detail}");
}

#[test]
fn chain_certificate_that_did_not_sign() {
    // Two CAs with the same name and different keys: the name matches, the
    // signature does not.
    let real = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let impostor = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let ca_params = params("same name CA", true);
    let impostor_cert = ca_params.self_signed(&impostor).unwrap();
    let issuer = Issuer::from_params(&ca_params, &real);
    let leaf_key = generate(&rcgen::PKCS_ED25519);
    let leaf = params("leaf.test", false)
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let bundle = cat(&[&leaf.pem(), &impostor_cert.pem()]);
    let (index, prev, detail) = chain_not_match(import_err(&bundle, &leaf_key.serialize_pem()));
    assert_eq!((index, prev), (1, 0));
    assert_eq!(detail, "signature does not verify");

    let real_cert = ca_params.self_signed(&real).unwrap();
    import_ok(
        &cat(&[&leaf.pem(), &real_cert.pem()]),
        &leaf_key.serialize_pem(),
    );

    // A different key type under the right name: RSA key, ECDSA signature.
    let rsa_impostor = fixture_signer(fx!("rsa2048.key"), &rcgen::PKCS_RSA_SHA256);
    let rsa_cert = ca_params.self_signed(&rsa_impostor).unwrap();
    let (_, _, detail) = chain_not_match(
        parse_bundle(&cat(&[&leaf.pem(), &rsa_cert.pem()]), &limits()).unwrap_err(),
    );
    assert!(
        detail.contains("does not fit signature algorithm"),
        "{detail}"
    );
}

#[test]
fn chain_certificate_with_unsupported_key() {
    let bundle = cat(&[fx!("k1-leaf.pem"), fx!("k1-ca.pem"), fx!("root-ca.pem")]);
    let (index, prev, detail) = chain_not_match(import_err(&bundle, fx!("p256.key")));
    assert_eq!((index, prev), (1, 0));
    assert!(detail.contains("unsupported issuer public key"), "{detail}");
    assert!(detail.contains("secp256k1"), "{detail}");
    // The same leaf alone is fine: the chain is optional.
    import_ok(fx!("k1-leaf.pem"), fx!("p256.key"));
}

/// Re-encodes the first certificate of `pem_text` with `edit` applied to
/// its DER.
fn edit_cert(pem_text: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut der = parse_bundle(pem_text, &limits()).unwrap().der.remove(0);
    edit(&mut der);
    let mut out = String::new();
    pem::encode_block(&mut out, "CERTIFICATE", &der);
    out
}

fn positions(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn unsupported_or_inconsistent_signature_algorithm() {
    // ecdsa-with-SHA256 turned into ecdsa-with-SHA224 in both places.
    let sha224 = edit_cert(fx!("p256.pem"), |der| {
        let at = positions(der, der::oid::ECDSA_WITH_SHA256);
        assert_eq!(at.len(), 2);
        for i in at {
            der[i + der::oid::ECDSA_WITH_SHA256.len() - 1] = 0x01;
        }
    });
    let (index, prev, detail) =
        chain_not_match(parse_bundle(&cat(&[&sha224, fx!("int-ca.pem")]), &limits()).unwrap_err());
    assert_eq!((index, prev), (1, 0));
    assert_eq!(
        detail,
        "unsupported signature algorithm 1.2.840.10045.4.3.1"
    );
    // Without the chain nothing verifies the leaf's signature.
    import_ok(&sha224, fx!("p256.key"));

    // Only the outer signatureAlgorithm changed to ecdsa-with-SHA384.
    let split = edit_cert(fx!("p256.pem"), |der| {
        let at = positions(der, der::oid::ECDSA_WITH_SHA256);
        der[at[1] + der::oid::ECDSA_WITH_SHA256.len() - 1] = 0x03;
    });
    let (_, _, detail) =
        chain_not_match(parse_bundle(&cat(&[&split, fx!("int-ca.pem")]), &limits()).unwrap_err());
    assert!(
        detail.contains("two signature algorithm fields differ"),
        "{detail}"
    );

    // A flipped bit in the signature value.
    let bad_sig = edit_cert(fx!("p256.pem"), |der| {
        let last = der.len() - 1;
        der[last] ^= 0x01;
    });
    let (_, _, detail) =
        chain_not_match(parse_bundle(&cat(&[&bad_sig, fx!("int-ca.pem")]), &limits()).unwrap_err());
    assert_eq!(detail, "signature does not verify");
}

#[test]
fn key_not_pem() {
    for (input, needle) in [
        ("", "BEGIN"),
        (
            "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49",
            "BEGIN",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nMIG%%%\n-----END PRIVATE KEY-----\n",
            "invalid base64",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIGH\n", "no END line"),
    ] {
        match import_err(fx!("p256.pem"), input) {
            ImportError::KeyNotPem { detail } => {
                assert!(detail.contains(needle), "{detail}");
                assert!(!detail.contains("MIG"), "{detail}");
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn no_key() {
    assert_eq!(
        import_err(fx!("p256.pem"), fx!("p256.pem")),
        ImportError::NoKey
    );
    let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
    assert_eq!(load_err(public), ImportError::NoKey);
}

#[test]
fn multiple_keys() {
    let two = cat(&[fx!("p256.key"), fx!("p256-pkcs8.key")]);
    assert_eq!(import_err(fx!("p256.pem"), &two), ImportError::MultipleKeys);
    let with_encrypted = cat(&[fx!("p256.key"), fx!("encrypted-pkcs8.key")]);
    assert_eq!(load_err(&with_encrypted), ImportError::MultipleKeys);
}

#[test]
fn encrypted_keys() {
    assert_eq!(
        import_err(fx!("p256.pem"), fx!("encrypted-pkcs8.key")),
        ImportError::KeyEncrypted
    );
    assert_eq!(
        import_err(fx!("rsa2048.pem"), fx!("encrypted-legacy.key")),
        ImportError::KeyEncrypted
    );
    // Headers are found before decoding, even when the body is broken.
    let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0011\n\n!!!\n-----END EC PRIVATE KEY-----\n";
    assert_eq!(load_err(legacy), ImportError::KeyEncrypted);
    let flat = fx!("encrypted-legacy.key").replace('\n', " ");
    assert_eq!(load_err(&flat), ImportError::KeyEncrypted);
    let crlf = fx!("encrypted-legacy.key").replace('\n', "\r\n");
    assert_eq!(load_err(&crlf), ImportError::KeyEncrypted);
}

#[test]
fn key_unparsable() {
    // Right label, wrong contents.
    let garbage = "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        load_err(garbage),
        ImportError::KeyUnparsable { .. }
    ));
    // A PKCS#8 key under the PKCS#1 label.
    let relabelled = fx!("rsa2048-pkcs8.key").replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert!(matches!(
        load_err(&relabelled),
        ImportError::KeyUnparsable { .. }
    ));
    // A SEC1 key without its curve parameters.
    let der = key_der(fx!("p256.key"));
    let no_params = strip_sec1_parameters(&der);
    let mut pem_text = String::new();
    pem::encode_block(&mut pem_text, "EC PRIVATE KEY", &no_params);
    match load_err(&pem_text) {
        ImportError::KeyUnparsable { detail } => assert!(detail.contains("curve"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // A well-formed RSA key whose components are inconsistent: aws-lc-rs'
    // consistency check refuses it.
    let mut der = key_der(fx!("rsa2048.key"));
    let last = der.len() - 10;
    der[last] ^= 0x01;
    let mut pem_text = String::new();
    pem::encode_block(&mut pem_text, "RSA PRIVATE KEY", &der);
    match import_err(fx!("rsa2048.pem"), &pem_text) {
        ImportError::KeyUnparsable { detail } => {
            assert!(detail.contains("rejected"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

fn key_der(pem_text: &str) -> Vec<u8> {
    pem::blocks(pem_text).unwrap()[0]
        .decode_secret()
        .unwrap()
        .to_vec()
}

/// Rebuilds a SEC1 ECPrivateKey without its `[0]` parameters.
fn strip_sec1_parameters(der: &[u8]) -> Vec<u8> {
    let mut outer = der::Reader::new(der);
    let mut seq = der::Reader::new(outer.expect(der::TAG_SEQUENCE).unwrap());
    let mut body = Vec::new();
    while !seq.is_empty() {
        let tlv = seq.read().unwrap();
        if tlv.tag != der::TAG_CTX0 {
            body.extend_from_slice(tlv.raw);
        }
    }
    assert!(body.len() < 128);
    let mut out = vec![der::TAG_SEQUENCE, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

#[test]
fn key_unsupported() {
    let cases: &[(&str, &str)] = &[
        (
            fx!("rsa1024.key"),
            "RSA-1024: RSA keys must be 2048 to 4096 bits",
        ),
        (fx!("secp256k1.key"), "secp256k1 (1.3.132.0.10)"),
        (fx!("brainpool.key"), "brainpoolP256r1"),
        (fx!("dsa.key"), "DSA"),
        (fx!("dsa-traditional.key"), "DSA"),
        (fx!("ed448.key"), "Ed448"),
        (fx!("x25519.key"), "X25519"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n",
            "OpenSSH",
        ),
    ];
    for (key, needle) in cases {
        let detail = unsupported_detail(load_err(key));
        assert!(detail.contains(needle), "{needle}: {detail}");
    }
    // Through import, with the matching certificates.
    let detail = unsupported_detail(import_err(fx!("rsa1024.pem"), fx!("rsa1024.key")));
    assert_eq!(detail, "RSA-1024: RSA keys must be 2048 to 4096 bits");
    // A leaf certificate with an unsupported key type.
    let detail = unsupported_detail(import_err(fx!("secp256k1.pem"), fx!("secp256k1.key")));
    assert!(detail.contains("secp256k1"), "{detail}");
    let detail =
        unsupported_detail(parse_bundle(&chain_of(fx!("dsa.pem")), &limits()).unwrap_err());
    assert!(detail.contains("DSA"), "{detail}");
    // An RSA-1024 certificate still parses (its metadata is representable).
    let bundle = parse_bundle(fx!("rsa1024.pem"), &limits()).unwrap();
    assert_eq!(bundle.leaf().public_key, KeyKind::Rsa { bits: 1024 });
}

#[test]
fn key_mismatch() {
    for (cert, key) in [
        (fx!("rsa2048.pem"), fx!("rsa4096.key")),
        (fx!("rsa2048.pem"), fx!("p256.key")),
        (fx!("p256.pem"), fx!("p384.key")),
        (fx!("ed25519.pem"), fx!("p256-pkcs8.key")),
        (fx!("p384.pem"), fx!("int-ca.key")),
    ] {
        assert_eq!(import_err(cert, key), ImportError::KeyMismatch);
    }
    let chain = make_chain(
        &generate(&rcgen::PKCS_ED25519),
        &generate(&rcgen::PKCS_ED25519),
        &generate(&rcgen::PKCS_ED25519),
    );
    let other = generate(&rcgen::PKCS_ED25519).serialize_pem();
    assert_eq!(
        import_err(&chain.bundle(), &other),
        ImportError::KeyMismatch
    );
}

#[test]
fn validity_window() {
    let cert = fx!("p256.pem");
    let key = fx!("p256.key");
    assert_eq!(
        import_at(cert, key, datetime!(2045-01-01 00:00:01 UTC)).unwrap_err(),
        ImportError::Expired {
            not_after: "2045-01-01T00:00:00Z".to_owned()
        }
    );
    assert_eq!(
        import_at(cert, key, datetime!(2024-12-31 23:54:59 UTC)).unwrap_err(),
        ImportError::NotYetValid {
            not_before: "2025-01-01T00:00:00Z".to_owned()
        }
    );
    // Boundaries: the last valid second, and notBefore within the skew.
    import_at(cert, key, datetime!(2045-01-01 00:00:00 UTC)).unwrap();
    import_at(cert, key, datetime!(2024-12-31 23:55:00 UTC)).unwrap();
    // `now` in another offset is the same instant.
    import_at(cert, key, datetime!(2045-01-01 08:00:00 +08:00)).unwrap();
    assert!(matches!(
        import_at(cert, key, datetime!(2045-01-01 08:00:01 +08:00)),
        Err(ImportError::Expired { .. })
    ));
    // A huge skew does not overflow.
    let lenient = Limits {
        not_before_skew: time::Duration::MAX,
        ..Limits::default()
    };
    import(cert, key, datetime!(2000-01-01 00:00 UTC), &lenient).unwrap();
    // The validity check comes last: a mismatching key wins over expiry.
    assert_eq!(
        import_at(cert, fx!("p384.key"), datetime!(2050-01-01 00:00 UTC)).unwrap_err(),
        ImportError::KeyMismatch
    );
}

#[test]
fn error_messages_name_the_problem_without_key_material() {
    let e = import_err(fx!("p256.pem"), fx!("encrypted-pkcs8.key"));
    assert_eq!(
        e.to_string(),
        "the private key is encrypted; upload it unencrypted"
    );
    let e = import_err(fx!("rsa1024.pem"), fx!("rsa1024.key"));
    assert_eq!(
        e.to_string(),
        "key type or size not supported: RSA-1024: RSA keys must be 2048 to 4096 bits"
    );
}

// ---------------------------------------------------------------------------
// Never panic

mod never_panic {
    use proptest::prelude::*;

    use super::*;

    fn exercise(cert: &str, key: &str) {
        let _ = import(cert, key, NOW, &limits());
        let _ = parse_bundle(cert, &limits());
        let _ = load_key(key, &limits());
        let _ = parse_bundle(key, &limits());
        let _ = load_key(cert, &limits());
    }

    /// Valid inputs whose mutations are interesting; the slow RSA key
    /// loads of debug builds are kept out of the mutation set.
    const SEEDS: &[(&str, &str)] = &[
        (fx!("p256.pem"), fx!("p256.key")),
        (fx!("ed25519.pem"), fx!("ed25519.key")),
        (fx!("p384.pem"), fx!("p256-pkcs8.key")),
        (fx!("int-ca.pem"), fx!("encrypted-legacy.key")),
    ];

    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(usize, u8),
        Insert(usize, u8),
        Delete(usize, usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let byte = prop_oneof![
            Just(b'-'),
            Just(b'\n'),
            Just(b'='),
            Just(b':'),
            Just(b'A'),
            Just(b' '),
            0x20u8..0x7f
        ];
        prop_oneof![
            (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
            (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
            (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn apply(text: &str, mutations: &[Mutation]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for m in mutations {
            let len = bytes.len().max(1);
            match *m {
                Mutation::Replace(i, b) => {
                    if !bytes.is_empty() {
                        let i = i % len;
                        bytes[i] = b;
                    }
                }
                Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
                Mutation::Delete(i, n) => {
                    let start = i % len;
                    let end = (start + n).min(bytes.len());
                    bytes.drain(start.min(end)..end);
                }
                Mutation::Truncate(i) => bytes.truncate(i % len),
            }
        }
        // Fixtures are ASCII and mutations insert ASCII.
        String::from_utf8(bytes).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_strings(cert in any::<String>(), key in any::<String>()) {
            exercise(&cert, &key);
        }

        #[test]
        fn pem_shaped_strings(
            label in prop_oneof![
                Just("CERTIFICATE"), Just("PRIVATE KEY"), Just("EC PRIVATE KEY"),
                Just("RSA PRIVATE KEY"), Just("ENCRYPTED PRIVATE KEY"), Just("X")
            ],
            body in "[A-Za-z0-9+/=: \r\n-]{0,200}",
            tail in ".{0,20}",
        ) {
            let text = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n{tail}");
            exercise(&text, &text);
        }

        #[test]
        fn mutated_valid_pem(
            seed in 0..SEEDS.len(),
            cert_mutations in proptest::collection::vec(mutation(), 0..4),
            key_mutations in proptest::collection::vec(mutation(), 0..4),
        ) {
            let (cert, key) = SEEDS[seed];
            exercise(&apply(cert, &cert_mutations), &apply(key, &key_mutations));
        }

        #[test]
        fn mutated_der_inside_valid_framing(
            seed in 0..SEEDS.len(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let (cert, key) = SEEDS[seed];
            let mut cert_der = key_der(cert);
            let mut key_der_bytes = key_der(key);
            for (i, b) in &flips {
                let at = i % cert_der.len();
                cert_der[at] ^= b | 1;
                let at = i % key_der_bytes.len();
                key_der_bytes[at] ^= b | 1;
            }
            let label = pem::blocks(key).unwrap()[0].label;
            let mut cert_pem = String::new();
            pem::encode_block(&mut cert_pem, "CERTIFICATE", &cert_der);
            let mut key_pem = String::new();
            pem::encode_block(&mut key_pem, label, &key_der_bytes);
            exercise(&cert_pem, &key_pem);
        }
    }
}

//! Certificate + key upload checks on arbitrary input.
//!
//! The input is split at its first NUL byte into the `Cert` and `Key`
//! fields (without a NUL, the whole input is used for both). Besides "no
//! panic", checks the invariants that tie the three entry points together.

#![no_main]

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use trustdesk_pki::{Limits, import, load_key, parse_bundle};

/// 2030-06-01T00:00:00Z: inside the seed certificates' validity.
const NOW_UNIX: i64 = 1_906_502_400;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (cert, key) = text.split_once('\0').unwrap_or((&text, &text));
    let now = OffsetDateTime::from_unix_timestamp(NOW_UNIX).unwrap();
    let limits = Limits::default();

    let bundle = parse_bundle(cert, &limits);
    let loaded = load_key(key, &limits);
    let Ok(imported) = import(cert, key, now, &limits) else {
        return;
    };

    // `import` accepts only what both parts accept, and agrees with them.
    let bundle = bundle.expect("import accepted a bundle that parse_bundle refuses");
    let loaded = loaded.expect("import accepted a key that load_key refuses");
    assert_eq!(bundle.der, imported.bundle.der);
    assert_eq!(bundle.certs, imported.bundle.certs);
    assert_eq!(loaded.kind, imported.key_kind);
    assert_eq!(imported.bundle.leaf().public_key, imported.key_kind);
    assert_eq!(&*imported.key_pem, key.trim());

    // The normalised PEM parses back to the same certificates.
    let unlimited = Limits {
        max_cert_bytes: usize::MAX,
        ..Limits::default()
    };
    let again = parse_bundle(&imported.cert_pem, &unlimited)
        .expect("the normalised certificate PEM does not parse");
    assert_eq!(again.der, imported.bundle.der);
    assert_eq!(again.certs, imported.bundle.certs);
});

//! Times `import` (and its parts) on the committed fixtures.
//!
//! `cargo run --release -p trustdesk-pki --example bench_import [iterations]`
//!
//! Single-threaded; prints µs per operation for each step, the best of
//! five rounds of `iterations` (default 2,000) operations.

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, RsaKeyPair};
use time::macros::datetime;
use trustdesk_pki::{Limits, import, load_key, parse_bundle};

macro_rules! fx {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}

fn der_of(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    decode_base64(&b64)
}

fn decode_base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn time_it(name: &str, iterations: u32, mut f: impl FnMut()) {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iterations {
            f();
        }
        let per_op = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        best = best.min(per_op);
    }
    println!("{name:<58} {best:>9.2} µs/op");
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("iterations"))
        .unwrap_or(2_000);
    let limits = Limits::default();
    let now = datetime!(2030-06-01 00:00 UTC);
    let chain_rsa = fx!("chain.pem");
    let cases = [
        (
            "RSA-2048 PKCS#1, leaf only",
            fx!("rsa2048.pem"),
            fx!("rsa2048.key"),
        ),
        (
            "RSA-2048 PKCS#8, leaf only",
            fx!("rsa2048.pem"),
            fx!("rsa2048-pkcs8.key"),
        ),
        (
            "RSA-2048 PKCS#1, leaf + 2 CA certs",
            chain_rsa,
            fx!("rsa2048.key"),
        ),
        ("P-256 SEC1, leaf only", fx!("p256.pem"), fx!("p256.key")),
        (
            "P-256 PKCS#8, leaf only",
            fx!("p256.pem"),
            fx!("p256-pkcs8.key"),
        ),
        (
            "Ed25519 PKCS#8, leaf only",
            fx!("ed25519.pem"),
            fx!("ed25519.key"),
        ),
    ];
    println!("{iterations} iterations per round, best of 5 rounds");
    for (name, cert, key) in cases {
        import(cert, key, now, &limits).expect("fixture imports");
        time_it(&format!("import: {name}"), iterations, || {
            black_box(import(black_box(cert), black_box(key), now, &limits).unwrap());
        });
    }
    println!();
    time_it("parse_bundle: RSA-2048 leaf", iterations, || {
        black_box(parse_bundle(black_box(fx!("rsa2048.pem")), &limits).unwrap());
    });
    time_it(
        "parse_bundle: RSA-2048 leaf + 2 CA certs (2 sig checks)",
        iterations,
        || {
            black_box(parse_bundle(black_box(chain_rsa), &limits).unwrap());
        },
    );
    let leaf_int = [fx!("p256.pem"), fx!("int-ca.pem")].concat();
    time_it(
        "parse_bundle: leaf + int (1 ECDSA P-384 check)",
        iterations,
        || {
            black_box(parse_bundle(black_box(&leaf_int), &limits).unwrap());
        },
    );
    let int_root = [fx!("int-ca.pem"), fx!("root-ca.pem")].concat();
    time_it(
        "parse_bundle: int + root (1 RSA-3072 check)",
        iterations,
        || {
            black_box(parse_bundle(black_box(&int_root), &limits).unwrap());
        },
    );
    time_it("parse_bundle: P-256 leaf", iterations, || {
        black_box(parse_bundle(black_box(fx!("p256.pem")), &limits).unwrap());
    });
    time_it("load_key: RSA-2048 PKCS#1", iterations, || {
        black_box(load_key(black_box(fx!("rsa2048.key")), &limits).unwrap());
    });
    time_it("load_key: P-256 SEC1", iterations, || {
        black_box(load_key(black_box(fx!("p256.key")), &limits).unwrap());
    });
    println!();
    let rsa_der = der_of(fx!("rsa2048.key"));
    time_it(
        "baseline: aws-lc-rs RsaKeyPair::from_der (RSA-2048)",
        iterations,
        || {
            black_box(RsaKeyPair::from_der(black_box(&rsa_der)).unwrap());
        },
    );
    let p256_der = der_of(fx!("p256-pkcs8.key"));
    time_it(
        "baseline: aws-lc-rs EcdsaKeyPair::from_pkcs8 (P-256)",
        iterations,
        || {
            black_box(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, black_box(&p256_der))
                    .unwrap(),
            );
        },
    );
}

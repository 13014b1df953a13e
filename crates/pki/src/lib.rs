//! Import checks for uploaded certificates and private keys (CAS
//! `CreateUserCertificate`, reference aliyun-rpc.md §f.1).
//!
//! Synchronous and free of I/O so it can be fuzzed and unit-tested. The
//! service layer calls [`import`] once per upload with the request's clock
//! reading; every refusal is an [`ImportError`] variant that the API face
//! maps to one vendor-style code.
//!
//! PUBLIC API CONTRACT (other crates code against this; keep it):
//! `Limits`, `KeyKind`, `Curve`, `CertInfo`, `Imported`, `ImportError`,
//! `import`, `parse_bundle`, `load_key`.
//!
//! # What [`import`] checks, in order
//!
//! 1. Sizes of both fields ([`Limits`]), before any parsing.
//! 2. The certificate bundle ([`parse_bundle`]): PEM framing, at most
//!    `max_chain_len` certificates, each one parsed by x509-parser exactly
//!    once, then the chain: certificate *i* (i ≥ 1) must be the issuer of
//!    certificate *i − 1* — subject DN equal (raw DER) to the issuer DN and
//!    a signature that verifies with its key. No trust anchor, no path
//!    validation: this is the vendor's "certificate chain does not match".
//! 3. The private key ([`load_key`]), classified from its DER first and
//!    then loaded with aws-lc-rs.
//! 4. Key/certificate match: the key's public key bytes against the leaf's
//!    subjectPublicKey BIT STRING contents, compared byte for byte (RSA: DER
//!    `RSAPublicKey`; EC: the point; Ed25519: 32 bytes). A certificate that
//!    encodes the same EC key as a *compressed* point therefore does not
//!    match; certificates practically never carry compressed points, and
//!    refusing is the safe side.
//! 5. Validity at `now`: expired, or `notBefore` later than `now` plus
//!    `not_before_skew`.
//!
//! # Policy choices
//!
//! * RSA keys must be 2048 to 4096 bits. The vendor accepts 2048–4096;
//!   aws-lc-rs would load up to 8192, but we chose not to accept 8192-bit
//!   keys (a TLS handshake cost nobody needs, and outside the vendor's
//!   range). EC keys must be on P-256, P-384 or P-521; Ed25519 is accepted.
//!   DSA, Ed448, X25519/X448, RSASSA-PSS-restricted keys, secp256k1,
//!   brainpool and other curves are refused as unsupported, with a reason.
//! * Encrypted keys (`ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy
//!   `Proc-Type: 4,ENCRYPTED` / `DEK-Info` headers) are refused: the API has
//!   no password parameter. Detected from the label and headers, before
//!   any base64 decoding.
//! * Key loading calls aws-lc-rs directly (`RsaKeyPair::from_der` /
//!   `from_pkcs8`, `EcdsaKeyPair::from_private_key_der` / `from_pkcs8`,
//!   `Ed25519KeyPair::from_pkcs8_maybe_unchecked`). rustls' aws-lc-rs
//!   provider (`load_private_key` + `CertifiedKey::keys_match`) is a thin
//!   wrapper over exactly these calls plus an SPKI byte comparison; calling
//!   them directly gives the same verdicts, lets us classify keys first for
//!   precise errors, and avoids compiling rustls into this crate. RSA
//!   loading runs AWS-LC's `RSA_check_key`, a consistency check of the key
//!   components (not a primality test, which would cost ~200× more;
//!   limits.md §5) — intended.
//! * Chain signatures are verified with aws-lc-rs `UnparsedPublicKey`
//!   (RSA PKCS#1 v1.5 with SHA-1/256/384/512, RSASSA-PSS with SHA-256/384/512,
//!   ECDSA on P-256/384/521 with SHA-256/384/512, Ed25519), not with
//!   x509-parser's `verify` feature, which would pull in ring.
//! * A leaf certificate whose public key is of an unsupported type (DSA,
//!   Ed448, secp256k1, ...) makes [`parse_bundle`] (and so [`import`])
//!   return [`ImportError::KeyUnsupported`]: [`CertInfo::public_key`] only
//!   represents supported kinds. A chain certificate with such a key cannot
//!   verify the signature below it, so it yields
//!   [`ImportError::ChainNotMatch`] ("unsupported issuer public key").
//! * Secrets: decoded private key DER lives in `Zeroizing` buffers; error
//!   messages never contain key material (at most a PEM label).

use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

mod cert;
mod der;
mod key;
mod pem;
#[cfg(test)]
mod tests;

/// Size and shape limits, checked before any parsing work.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted `Cert` field (PEM text, chain included), bytes.
    pub max_cert_bytes: usize,
    /// Largest accepted `Key` field (PEM text), bytes.
    pub max_key_bytes: usize,
    /// Most certificates in one bundle (leaf + chain).
    pub max_chain_len: usize,
    /// Tolerated clock skew for `notBefore` in the future.
    pub not_before_skew: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_cert_bytes: 64 * 1024,
            max_key_bytes: 16 * 1024,
            max_chain_len: 10,
            not_before_skew: Duration::minutes(5),
        }
    }
}

/// Named elliptic curves accepted for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

/// A public/private key's algorithm and size, as far as imports care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: u32 },
    Ec(Curve),
    Ed25519,
}

/// Metadata of one parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject DN, RFC 4514 style (`CN=a.example,O=Example`).
    pub subject: String,
    /// Subject common name, if present.
    pub common_name: Option<String>,
    /// DNS names and IP addresses of subjectAltName, in certificate order.
    pub sans: Vec<String>,
    /// Issuer display name: issuer CN, else O, else the whole DN.
    pub issuer: String,
    /// Issuer DN, RFC 4514 style.
    pub issuer_dn: String,
    /// Subject O, ST, L and C attributes ("" when absent).
    pub organization: String,
    pub province: String,
    pub city: String,
    pub country: String,
    /// Serial number, uppercase hex without separators.
    pub serial_hex: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The certificate's public key.
    pub public_key: KeyKind,
    /// SHA-1 / SHA-256 over the DER, uppercase hex without separators.
    pub sha1_fingerprint: String,
    pub sha256_fingerprint: String,
    /// keyUsage names (`digitalSignature`, `keyEncipherment`, ...).
    pub key_usages: Vec<String>,
    /// extendedKeyUsage names (`serverAuth`, `clientAuth`, or dotted OIDs).
    pub extended_key_usages: Vec<String>,
    /// basicConstraints CA flag.
    pub is_ca: bool,
}

/// A parsed certificate bundle: leaf first, then its chain in order.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub certs: Vec<CertInfo>,
    /// DER of each certificate, same order as `certs`.
    pub der: Vec<Vec<u8>>,
}

impl Bundle {
    pub fn leaf(&self) -> &CertInfo {
        &self.certs[0]
    }
}

/// A loaded, unencrypted private key.
pub struct PrivateKey {
    pub kind: KeyKind,
    /// Public key bytes as they appear in a certificate's
    /// subjectPublicKey BIT STRING.
    pub public_key: Vec<u8>,
}

/// The result of a successful [`import`].
#[derive(Debug)]
pub struct Imported {
    pub bundle: Bundle,
    pub key_kind: KeyKind,
    /// The certificate field as PEM, normalised: every block re-encoded
    /// with 64-column base64, `\n` line ends, leaf first.
    pub cert_pem: String,
    /// The key field as uploaded (trimmed), for storage under envelope
    /// encryption and for returning to permitted callers.
    pub key_pem: Zeroizing<String>,
}

/// Why an upload was refused. Every variant names the problem in its
/// message; messages never contain key material. `index`/`prev` count
/// from 0 (the leaf); messages count from #1, as people do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the certificate field is {size} bytes, over the limit of {limit}")]
    CertTooLarge { size: usize, limit: usize },
    #[error("the key field is {size} bytes, over the limit of {limit}")]
    KeyTooLarge { size: usize, limit: usize },
    #[error("the certificate field is not PEM: {detail}")]
    CertNotPem { detail: String },
    #[error("the certificate field contains no CERTIFICATE block")]
    NoCertificate,
    #[error("certificate #{} of the Cert field cannot be parsed as X.509: {detail}", .index + 1)]
    CertUnparsable { index: usize, detail: String },
    #[error("the certificate field holds {count} certificates, over the limit of {limit}")]
    ChainTooLong { count: usize, limit: usize },
    #[error(
        "certificate #{} of the Cert field is another end-entity certificate, not the issuer of certificate #{}: upload one leaf (first), followed only by its issuing CA certificates",
        .index + 1,
        .prev + 1
    )]
    MultipleLeaves { index: usize, prev: usize },
    #[error(
        "certificate #{} of the Cert field does not issue certificate #{}: {detail} (put the leaf first, then each certificate's issuer)",
        .index + 1,
        .prev + 1
    )]
    ChainNotMatch {
        index: usize,
        prev: usize,
        detail: String,
    },
    #[error("the key field is not PEM: {detail}")]
    KeyNotPem { detail: String },
    #[error("the key field contains no private key block")]
    NoKey,
    #[error("the key field contains more than one private key")]
    MultipleKeys,
    #[error("the private key is encrypted; upload it unencrypted")]
    KeyEncrypted,
    #[error("the private key cannot be parsed: {detail}")]
    KeyUnparsable { detail: String },
    #[error("key type or size not supported: {detail}")]
    KeyUnsupported { detail: String },
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    #[error("the certificate expired on {not_after}")]
    Expired { not_after: String },
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid { not_before: String },
}

/// Checks and parses an upload: sizes, certificate bundle and chain, key,
/// key/certificate match, validity at `now`.
pub fn import(
    cert_pem: &str,
    key_pem: &str,
    now: OffsetDateTime,
    limits: &Limits,
) -> Result<Imported, ImportError> {
    if cert_pem.len() > limits.max_cert_bytes {
        return Err(ImportError::CertTooLarge {
            size: cert_pem.len(),
            limit: limits.max_cert_bytes,
        });
    }
    if key_pem.len() > limits.max_key_bytes {
        return Err(ImportError::KeyTooLarge {
            size: key_pem.len(),
            limit: limits.max_key_bytes,
        });
    }
    let (bundle, leaf_public_key) = cert::parse(cert_pem, limits)?;
    let key = key::load(key_pem, limits)?;
    if key.public_key != leaf_public_key {
        return Err(ImportError::KeyMismatch);
    }
    let leaf = bundle.leaf();
    if now > leaf.not_after {
        return Err(ImportError::Expired {
            not_after: format_time(leaf.not_after),
        });
    }
    // An overflowing skew means "any notBefore is fine".
    if let Some(latest) = now.checked_add(limits.not_before_skew)
        && leaf.not_before > latest
    {
        return Err(ImportError::NotYetValid {
            not_before: format_time(leaf.not_before),
        });
    }
    let mut normalised =
        String::with_capacity(bundle.der.iter().map(|d| d.len() * 4 / 3 + 80).sum());
    for der in &bundle.der {
        pem::encode_block(&mut normalised, "CERTIFICATE", der);
    }
    Ok(Imported {
        key_kind: key.kind,
        bundle,
        cert_pem: normalised,
        key_pem: Zeroizing::new(key_pem.trim().to_owned()),
    })
}

/// `2027-01-01T00:00:00Z`.
fn format_time(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a PEM bundle (leaf first) and checks the chain order and
/// signatures. No validity-period check.
pub fn parse_bundle(cert_pem: &str, limits: &Limits) -> Result<Bundle, ImportError> {
    cert::parse(cert_pem, limits).map(|(bundle, _)| bundle)
}

/// Loads one unencrypted private key from PEM (PKCS#1, SEC1 or PKCS#8).
pub fn load_key(key_pem: &str, limits: &Limits) -> Result<PrivateKey, ImportError> {
    key::load(key_pem, limits)
}

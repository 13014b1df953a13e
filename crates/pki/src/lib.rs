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

use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

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
/// message; messages never contain key material.
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
    #[error("certificate {index} cannot be parsed as X.509: {detail}")]
    CertUnparsable { index: usize, detail: String },
    #[error("the certificate field holds {count} certificates, over the limit of {limit}")]
    ChainTooLong { count: usize, limit: usize },
    #[error("certificate {index} is another end-entity certificate, not the issuer of certificate {prev}: upload one leaf, followed only by its issuing CA certificates")]
    MultipleLeaves { index: usize, prev: usize },
    #[error("certificate {index} does not issue certificate {prev}: {detail}")]
    ChainNotMatch { index: usize, prev: usize, detail: String },
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
    let _ = (cert_pem, key_pem, now, limits);
    todo!()
}

/// Parses a PEM bundle (leaf first) and checks the chain order and
/// signatures. No validity-period check.
pub fn parse_bundle(cert_pem: &str, limits: &Limits) -> Result<Bundle, ImportError> {
    let _ = (cert_pem, limits);
    todo!()
}

/// Loads one unencrypted private key from PEM (PKCS#1, SEC1 or PKCS#8).
pub fn load_key(key_pem: &str, limits: &Limits) -> Result<PrivateKey, ImportError> {
    let _ = (key_pem, limits);
    todo!()
}

//! Uploaded certificates: a leaf, its chain and its private key, owned by an
//! account (CAS 2018-07-13 semantics, reference aliyun-rpc.md §f).
//!
//! The domain keeps the parsed metadata the faces list and filter on, the
//! certificate bundle as PEM, and the private key only in sealed form (the
//! service seals and opens it; stores treat it as opaque bytes).
//!
//! Import checks live in `trustdesk-pki`; their outcome reaches the faces
//! as an [`ImportRejection`], whose [`ImportProblem`] each face maps to its
//! vendor's code and whose message names the problem.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::validate::CertificateName;

/// A certificate's id: CAS `CertId`, a JSON number on the wire. Assigned by
/// the store in upload order, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateId(pub u64);

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the import checks found in an upload (and what the certificate
/// says about itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub name: CertificateName,
    /// Subject CN of the leaf ("" when it has none).
    pub common_name: String,
    /// DNS names and IP addresses of the leaf's subjectAltName.
    pub sans: Vec<String>,
    /// Issuer display name (CN, else O, else the DN).
    pub issuer: String,
    /// Subject DN, RFC 4514 style.
    pub subject: String,
    pub organization: String,
    pub province: String,
    pub city: String,
    pub country: String,
    /// Serial number, uppercase hex.
    pub serial: String,
    /// Uppercase hex over the leaf's DER.
    pub sha1_fingerprint: String,
    pub sha256_fingerprint: String,
    /// `RSA-2048`, `EC-P256`, `Ed25519`, ...
    pub key_algorithm: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl CertificateInfo {
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        now > self.not_after
    }
}

/// A stored certificate's metadata (no PEM, no key): what lists show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: CertificateId,
    pub account: AccountId,
    pub created_at: OffsetDateTime,
    pub info: CertificateInfo,
}

/// What the store inserts for an upload; the id is assigned on insert.
#[derive(Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub account: AccountId,
    pub created_at: OffsetDateTime,
    pub info: CertificateInfo,
    /// Leaf then chain, normalised PEM.
    pub cert_pem: String,
    /// Envelope-encrypted private key PEM (opaque here).
    pub sealed_key: Vec<u8>,
}

/// A certificate with its PEM bundle and sealed key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub cert: Certificate,
    pub cert_pem: String,
    pub sealed_key: Vec<u8>,
}

fn sealed_len(v: &[u8]) -> impl fmt::Debug {
    fmt::from_fn(move |f| write!(f, "<{} sealed bytes>", v.len()))
}

impl fmt::Debug for NewCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCertificate")
            .field("account", &self.account)
            .field("info", &self.info)
            .field("sealed_key", &sealed_len(&self.sealed_key))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCertificate")
            .field("cert", &self.cert)
            .field("sealed_key", &sealed_len(&self.sealed_key))
            .finish_non_exhaustive()
    }
}

/// One page of an account's certificates (offset paging: the vendor's API
/// pages by number) and how many the account holds in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePage {
    pub total: u64,
    pub certificates: Vec<Certificate>,
}

/// Why an upload was refused, in domain terms. Each face maps the kind to
/// one vendor code; the message (from the import checks) names the
/// problem and never contains key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportProblem {
    /// The certificate or key field is over its size limit.
    TooLarge,
    /// The certificate field is not PEM.
    CertNotPem,
    /// PEM, but no CERTIFICATE block.
    NoCertificate,
    /// A certificate's DER does not parse as X.509.
    CertUnparsable,
    /// More certificates than a chain may hold.
    ChainTooLong,
    /// A second end-entity certificate where an issuer should follow.
    MultipleLeaves,
    /// The chain is out of order or a certificate does not sign the one
    /// before it.
    ChainNotMatch,
    /// The key field is not PEM or holds no (or several) private keys.
    KeyNotPem,
    /// The key is encrypted (PKCS#8 or legacy PEM encryption).
    KeyEncrypted,
    /// The key's DER does not parse.
    KeyUnparsable,
    /// Key type, curve or size not supported.
    KeyUnsupported,
    /// The key is not the certificate's.
    KeyMismatch,
    /// The leaf certificate has expired.
    Expired,
    /// The leaf certificate is not valid yet.
    NotYetValid,
}

/// An upload refused by the import checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ImportRejection {
    pub problem: ImportProblem,
    pub message: String,
}

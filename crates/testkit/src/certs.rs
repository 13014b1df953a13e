//! Certificate material for tests, made with rcgen: a root CA, an
//! intermediate and leaves, with keys of the kinds uploads accept. Validity
//! is set around a given instant so tests with a fixed clock stay valid.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

/// Key kinds to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rsa2048,
    P256,
    P384,
    Ed25519,
}

impl Alg {
    fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            Alg::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            Alg::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Alg::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Alg::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    pub fn key(self) -> KeyPair {
        KeyPair::generate_for(self.rcgen()).expect("key generation")
    }
}

/// A PEM certificate and its PKCS#8 PEM key.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
}

/// A CA that can issue leaves.
pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str, around: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = around - Duration::days(3650);
    p.not_after = around + Duration::days(3650);
    p
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str, alg: Alg, around: OffsetDateTime) -> Self {
        let params = ca_params(cn, around);
        let key = alg.key();
        let cert = params.self_signed(&key).expect("self-signed root");
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA signed by `self`.
    pub fn intermediate(&self, cn: &str, alg: Alg, around: OffsetDateTime) -> Self {
        let params = ca_params(cn, around);
        let key = alg.key();
        let cert = params.signed_by(&key, &self.issuer).expect("intermediate");
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (first one is the CN), valid from
    /// `not_before` to `not_after`.
    pub fn leaf_valid(
        &self,
        names: &[&str],
        alg: Alg,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Pair {
        let key = alg.key();
        let params = leaf_params(names, not_before, not_after);
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
        }
    }

    /// A leaf valid for a year around `around`.
    pub fn leaf(&self, names: &[&str], alg: Alg, around: OffsetDateTime) -> Pair {
        self.leaf_valid(
            names,
            alg,
            around - Duration::days(30),
            around + Duration::days(335),
        )
    }
}

fn leaf_params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut d = dn(names.first().copied().unwrap_or("leaf.example.com"));
    d.push(DnType::OrganizationName, "Example Ltd");
    d.push(DnType::StateOrProvinceName, "Zhejiang");
    d.push(DnType::LocalityName, "Hangzhou");
    d.push(DnType::CountryName, "CN");
    p.distinguished_name = d;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().expect("DNS name")),
        })
        .collect();
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

/// A self-signed leaf (no CA) valid for a year around `around`.
pub fn self_signed(names: &[&str], alg: Alg, around: OffsetDateTime) -> Pair {
    let key = alg.key();
    let params = leaf_params(
        names,
        around - Duration::days(30),
        around + Duration::days(335),
    );
    let cert = params.self_signed(&key).expect("self-signed leaf");
    Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
    }
}

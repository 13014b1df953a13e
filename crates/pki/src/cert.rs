//! Certificate bundles: framing, X.509 parsing (x509-parser, once per
//! certificate), metadata, and the chain rules of [`crate::parse_bundle`].
//!
//! Chain signatures are verified with aws-lc-rs directly (x509-parser's
//! `verify` feature would pull in ring). The chain check is about order and
//! issuance only: no trust anchors, validity periods of CA certificates,
//! name constraints or path lengths — the vendor's check is the same
//! "certificate chain does not match".

use std::net::{Ipv4Addr, Ipv6Addr};

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::OID_X509_EXT_BASIC_CONSTRAINTS;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::der::{self, Reader, Tlv, oid};
use crate::pem;
use crate::{Bundle, CertInfo, Curve, ImportError, KeyKind, Limits};

/// Parses the `Cert` field; see [`crate::parse_bundle`].
///
/// Also returns the leaf's subjectPublicKey BIT STRING contents for the
/// key match, so that `import` does not parse the leaf twice.
pub(crate) fn parse(cert_pem: &str, limits: &Limits) -> Result<(Bundle, Vec<u8>), ImportError> {
    if cert_pem.len() > limits.max_cert_bytes {
        return Err(ImportError::CertTooLarge {
            size: cert_pem.len(),
            limit: limits.max_cert_bytes,
        });
    }
    let blocks =
        pem::blocks(cert_pem).map_err(|e| ImportError::CertNotPem { detail: e.detail() })?;
    if let Some(key) = blocks.iter().find(|b| b.is_private_key()) {
        return Err(ImportError::CertNotPem {
            detail: format!(
                "a private key (\"{}\" block) was found in the Cert field; \
                 put only certificates there and the key in the Key field",
                key.label
            ),
        });
    }
    let cert_blocks: Vec<&pem::Block<'_>> =
        blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
    if cert_blocks.is_empty() {
        return Err(ImportError::NoCertificate);
    }
    if cert_blocks.len() > limits.max_chain_len {
        return Err(ImportError::ChainTooLong {
            count: cert_blocks.len(),
            limit: limits.max_chain_len,
        });
    }

    let mut ders = Vec::with_capacity(cert_blocks.len());
    for (index, block) in cert_blocks.iter().enumerate() {
        let mut der = Vec::new();
        block
            .decode_into(&mut der)
            .map_err(|e| ImportError::CertNotPem {
                detail: format!("certificate #{}: {e}", index + 1),
            })?;
        ders.push(der);
    }

    let parsed = ders
        .iter()
        .enumerate()
        .map(|(index, der)| parse_one(index, der))
        .collect::<Result<Vec<_>, _>>()?;

    for index in 1..parsed.len() {
        check_link(&parsed, &ders, index)?;
    }

    let mut certs = Vec::with_capacity(parsed.len());
    for (index, (cert, der)) in parsed.iter().zip(&ders).enumerate() {
        let kind = match key_kind(&cert.tbs_certificate.subject_pki) {
            Ok(kind) => kind,
            Err(SpkiError::Malformed) => {
                return Err(ImportError::CertUnparsable {
                    index,
                    detail: "malformed subject public key".to_owned(),
                });
            }
            // Chain certificates get here only after verifying a signature,
            // which needs a supported key; so this is the leaf.
            Err(SpkiError::Unsupported(what)) => {
                return Err(ImportError::KeyUnsupported {
                    detail: format!("the leaf certificate's public key is not supported: {what}"),
                });
            }
        };
        certs.push(cert_info(index, cert, der, kind)?);
    }
    let leaf_public_key = parsed[0]
        .tbs_certificate
        .subject_pki
        .subject_public_key
        .data
        .to_vec();
    drop(parsed);
    Ok((Bundle { certs, der: ders }, leaf_public_key))
}

fn parse_one(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, ImportError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(ImportError::CertUnparsable {
            index,
            detail: "trailing data after the certificate".to_owned(),
        }),
        // x509-parser's own text is a Rust debug rendering of parser
        // internals; the kind of failure is what helps a user.
        Err(e) => Err(ImportError::CertUnparsable {
            index,
            detail: match e {
                x509_parser::nom::Err::Incomplete(_) => "the DER data ends early".to_owned(),
                x509_parser::nom::Err::Error(x509_parser::error::X509Error::Der(_))
                | x509_parser::nom::Err::Failure(x509_parser::error::X509Error::Der(_)) => {
                    "the DER structure is not a certificate".to_owned()
                }
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                    format!("invalid X.509 content ({e})")
                }
            },
        }),
    }
}

/// Checks that `parsed[index]` issued `parsed[index - 1]`.
fn check_link(
    parsed: &[X509Certificate<'_>],
    ders: &[Vec<u8>],
    index: usize,
) -> Result<(), ImportError> {
    let prev = index - 1;
    let not_match = |detail: String| ImportError::ChainNotMatch {
        index,
        prev,
        detail,
    };
    if let Some(first) = ders[..index].iter().position(|d| *d == ders[index]) {
        return Err(not_match(format!(
            "it is a duplicate of certificate {first}"
        )));
    }
    let cert = &parsed[index].tbs_certificate;
    let child = &parsed[prev];
    let names_match = cert.subject.as_raw() == child.tbs_certificate.issuer.as_raw();
    if !names_match && !is_ca(index, &parsed[index])? {
        return Err(ImportError::MultipleLeaves { index, prev });
    }
    if !names_match {
        return Err(not_match("issuer name does not match".to_owned()));
    }
    verify_signature(child, &cert.subject_pki).map_err(not_match)
}

fn is_ca(index: usize, cert: &X509Certificate<'_>) -> Result<bool, ImportError> {
    let unparsable = |detail: String| ImportError::CertUnparsable { index, detail };
    // x509-parser reports a malformed basicConstraints as absent; refuse it.
    let ext = cert
        .tbs_certificate
        .get_extension_unique(&OID_X509_EXT_BASIC_CONSTRAINTS)
        .map_err(|e| unparsable(format!("basicConstraints extension: {e}")))?;
    if let Some(e) = ext.and_then(|ext| ext.parsed_extension().error()) {
        return Err(unparsable(format!(
            "invalid basicConstraints extension: {e}"
        )));
    }
    match cert.tbs_certificate.basic_constraints() {
        Ok(bc) => Ok(bc.is_some_and(|bc| bc.value.ca)),
        Err(e) => Err(unparsable(format!("basicConstraints extension: {e}"))),
    }
}

/// Verifies `child`'s signature with the issuer's public key. The error
/// is the `ChainNotMatch` detail.
fn verify_signature(
    child: &X509Certificate<'_>,
    issuer_spki: &SubjectPublicKeyInfo<'_>,
) -> Result<(), String> {
    if child.signature_algorithm != child.tbs_certificate.signature {
        return Err("the certificate's two signature algorithm fields differ".to_owned());
    }
    let alg = verification_algorithm(child, issuer_spki)?;
    let key = UnparsedPublicKey::new(alg, &issuer_spki.subject_public_key.data[..]);
    key.verify(
        child.tbs_certificate.as_ref(),
        &child.signature_value.data[..],
    )
    .map_err(|_| "signature does not verify".to_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn verification_algorithm(
    child: &X509Certificate<'_>,
    issuer_spki: &SubjectPublicKeyInfo<'_>,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    let sig_oid = child.signature_algorithm.algorithm.as_bytes();
    let unsupported_sig = || {
        format!(
            "unsupported signature algorithm {}",
            der::oid_to_string(sig_oid)
        )
    };
    let issuer_kind = key_kind(issuer_spki).map_err(|e| match e {
        SpkiError::Malformed => "the issuer's public key is malformed".to_owned(),
        SpkiError::Unsupported(what) => format!("unsupported issuer public key ({what})"),
    })?;
    let wrong_key = || {
        format!(
            "the issuer's public key does not fit signature algorithm {}",
            der::oid_to_string(sig_oid)
        )
    };

    let rsa_pkcs1 = match sig_oid {
        oid::SHA1_WITH_RSA => Some(Hash::Sha1),
        oid::SHA256_WITH_RSA => Some(Hash::Sha256),
        oid::SHA384_WITH_RSA => Some(Hash::Sha384),
        oid::SHA512_WITH_RSA => Some(Hash::Sha512),
        _ => None,
    };
    let rsa_hash = match rsa_pkcs1 {
        Some(hash) => Some((hash, false)),
        None if sig_oid == oid::RSASSA_PSS => Some((
            pss_hash(
                child
                    .signature_algorithm
                    .parameters
                    .as_ref()
                    .map(|p| p.data),
            )
            .ok_or_else(|| {
                "unsupported signature algorithm RSASSA-PSS with these parameters (SHA-256, \
                     SHA-384 or SHA-512, MGF1 with the same hash, salt of the hash length are \
                     supported)"
                    .to_owned()
            })?,
            true,
        )),
        None => None,
    };
    if let Some((hash, pss)) = rsa_hash {
        let KeyKind::Rsa { bits } = issuer_kind else {
            return Err(wrong_key());
        };
        if !(2048..=8192).contains(&bits) {
            return Err(format!(
                "unsupported issuer public key (RSA-{bits}; 2048 to 8192 bits are supported)"
            ));
        }
        return Ok(match (hash, pss) {
            (Hash::Sha1, false) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            (Hash::Sha256, false) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (Hash::Sha384, false) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (Hash::Sha512, false) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (Hash::Sha256, true) => &signature::RSA_PSS_2048_8192_SHA256,
            (Hash::Sha384, true) => &signature::RSA_PSS_2048_8192_SHA384,
            (Hash::Sha512, true) => &signature::RSA_PSS_2048_8192_SHA512,
            (Hash::Sha1, true) => return Err(unsupported_sig()),
        });
    }

    let ecdsa_hash = match sig_oid {
        oid::ECDSA_WITH_SHA256 => Some(Hash::Sha256),
        oid::ECDSA_WITH_SHA384 => Some(Hash::Sha384),
        oid::ECDSA_WITH_SHA512 => Some(Hash::Sha512),
        _ => None,
    };
    if let Some(hash) = ecdsa_hash {
        let KeyKind::Ec(curve) = issuer_kind else {
            return Err(wrong_key());
        };
        return Ok(match (curve, hash) {
            (Curve::P256, Hash::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
            (Curve::P256, Hash::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
            (Curve::P256, Hash::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
            (Curve::P384, Hash::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
            (Curve::P384, Hash::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
            (Curve::P384, Hash::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
            (Curve::P521, Hash::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
            (Curve::P521, Hash::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
            (Curve::P521, Hash::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
            (_, Hash::Sha1) => return Err(unsupported_sig()),
        });
    }

    if sig_oid == oid::ED25519 {
        return match issuer_kind {
            KeyKind::Ed25519 => Ok(&signature::ED25519),
            _ => Err(wrong_key()),
        };
    }
    Err(unsupported_sig())
}

/// The hash of RSASSA-PSS parameters we can verify: MGF1 with the same
/// hash and a salt as long as the hash (what everyone issues).
fn pss_hash(params: Option<&[u8]>) -> Option<Hash> {
    let mut r = Reader::new(params?);
    let alg_oid = |v: &[u8]| -> Option<Vec<u8>> {
        let seq = der::single(v, der::TAG_SEQUENCE).ok()?;
        Some(Reader::new(seq).expect(der::TAG_OID).ok()?.to_vec())
    };
    let mut hash = oid::SHA1.to_vec();
    let mut mgf_hash = oid::SHA1.to_vec();
    let mut salt: u64 = 20;
    if let Some(v) = r.optional(der::TAG_CTX0).ok()? {
        hash = alg_oid(v)?;
    }
    if let Some(v) = r.optional(der::TAG_CTX1).ok()? {
        let mut mgf = Reader::new(der::single(v, der::TAG_SEQUENCE).ok()?);
        if mgf.expect(der::TAG_OID).ok()? != oid::MGF1 {
            return None;
        }
        mgf_hash = alg_oid(mgf.read().ok()?.raw)?;
    }
    if let Some(v) = r.optional(der::TAG_CTX2).ok()? {
        let int = der::single(v, der::TAG_INTEGER).ok()?;
        if int.len() > 4 {
            return None;
        }
        salt = int.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b));
    }
    let (hash, len) = match hash.as_slice() {
        oid::SHA256 => (Hash::Sha256, 32),
        oid::SHA384 => (Hash::Sha384, 48),
        oid::SHA512 => (Hash::Sha512, 64),
        _ => return None,
    };
    (mgf_hash == hash_oid(hash) && salt == len).then_some(hash)
}

fn hash_oid(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha1 => oid::SHA1,
        Hash::Sha256 => oid::SHA256,
        Hash::Sha384 => oid::SHA384,
        Hash::Sha512 => oid::SHA512,
    }
}

enum SpkiError {
    Malformed,
    /// A description of the unsupported key (`EC secp256k1 (1.3.132.0.10)`).
    Unsupported(String),
}

/// The key kind of a certificate's public key.
fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, SpkiError> {
    let alg = spki.algorithm.algorithm.as_bytes();
    let key = &spki.subject_public_key.data[..];
    match alg {
        oid::RSA_ENCRYPTION | oid::RSASSA_PSS => {
            let bits = der::rsa_modulus_bits(key, false).map_err(|_| SpkiError::Malformed)?;
            Ok(KeyKind::Rsa { bits })
        }
        oid::EC_PUBLIC_KEY => {
            let params = spki.algorithm.parameters.as_ref();
            let curve = match params {
                Some(p) if p.tag().0 == u32::from(der::TAG_OID) => p.data,
                Some(_) => {
                    return Err(SpkiError::Unsupported(
                        "EC key with explicit curve parameters".to_owned(),
                    ));
                }
                None => return Err(SpkiError::Malformed),
            };
            named_curve(curve)
                .map(KeyKind::Ec)
                .ok_or_else(|| SpkiError::Unsupported(format!("EC {}", der::curve_name(curve))))
        }
        oid::ED25519 => Ok(KeyKind::Ed25519),
        other => Err(SpkiError::Unsupported(der::key_algorithm_name(other))),
    }
}

pub(crate) fn named_curve(curve: &[u8]) -> Option<Curve> {
    match curve {
        oid::P256 => Some(Curve::P256),
        oid::P384 => Some(Curve::P384),
        oid::P521 => Some(Curve::P521),
        _ => None,
    }
}

fn cert_info(
    index: usize,
    cert: &X509Certificate<'_>,
    der: &[u8],
    public_key: KeyKind,
) -> Result<CertInfo, ImportError> {
    let unparsable = |detail: String| ImportError::CertUnparsable { index, detail };
    let tbs = &cert.tbs_certificate;
    let subject = Name::parse(tbs.subject.as_raw())
        .map_err(|_| unparsable("malformed subject name".to_owned()))?;
    let issuer = Name::parse(tbs.issuer.as_raw())
        .map_err(|_| unparsable("malformed issuer name".to_owned()))?;

    let mut sans = Vec::new();
    let san = tbs
        .subject_alternative_name()
        .map_err(|e| unparsable(format!("subjectAltName extension: {e}")))?;
    for name in san.iter().flat_map(|san| san.value.general_names.iter()) {
        match name {
            GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
            GeneralName::IPAddress(ip) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*ip) {
                    sans.push(Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(*ip) {
                    sans.push(Ipv6Addr::from(v6).to_string());
                }
            }
            _ => {}
        }
    }

    let mut key_usages = Vec::new();
    let ku = tbs
        .key_usage()
        .map_err(|e| unparsable(format!("keyUsage extension: {e}")))?;
    if let Some(ku) = ku {
        let ku = ku.value;
        for (set, name) in [
            (ku.digital_signature(), "digitalSignature"),
            (ku.non_repudiation(), "nonRepudiation"),
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
            (ku.encipher_only(), "encipherOnly"),
            (ku.decipher_only(), "decipherOnly"),
        ] {
            if set {
                key_usages.push(name.to_owned());
            }
        }
    }

    let mut extended_key_usages = Vec::new();
    let eku = tbs
        .extended_key_usage()
        .map_err(|e| unparsable(format!("extendedKeyUsage extension: {e}")))?;
    if let Some(eku) = eku {
        let eku = eku.value;
        for (set, name) in [
            (eku.any, "anyExtendedKeyUsage"),
            (eku.server_auth, "serverAuth"),
            (eku.client_auth, "clientAuth"),
            (eku.code_signing, "codeSigning"),
            (eku.email_protection, "emailProtection"),
            (eku.time_stamping, "timeStamping"),
            (eku.ocsp_signing, "OCSPSigning"),
        ] {
            if set {
                extended_key_usages.push(name.to_owned());
            }
        }
        extended_key_usages.extend(eku.other.iter().map(|o| o.to_id_string()));
    }

    let serial = tbs.raw_serial();
    let significant = serial
        .iter()
        .position(|&b| b != 0)
        .map_or(serial.len().saturating_sub(1), |p| p);
    let serial_hex = hex::encode_upper(&serial[significant..]);

    let issuer_display = issuer
        .first(oid::AT_CN)
        .or_else(|| issuer.first(oid::AT_O))
        .unwrap_or_else(|| issuer.to_rfc4514());

    Ok(CertInfo {
        subject: subject.to_rfc4514(),
        common_name: subject.first(oid::AT_CN),
        sans,
        issuer: issuer_display,
        issuer_dn: issuer.to_rfc4514(),
        organization: subject.first(oid::AT_O).unwrap_or_default(),
        province: subject.first(oid::AT_ST).unwrap_or_default(),
        city: subject.first(oid::AT_L).unwrap_or_default(),
        country: subject.first(oid::AT_C).unwrap_or_default(),
        serial_hex,
        not_before: tbs.validity.not_before.to_datetime(),
        not_after: tbs.validity.not_after.to_datetime(),
        public_key,
        sha1_fingerprint: hex::encode_upper(Sha1::digest(der)),
        sha256_fingerprint: hex::encode_upper(Sha256::digest(der)),
        key_usages,
        extended_key_usages,
        is_ca: is_ca(index, cert)?,
    })
}

/// A distinguished name as RDNs of (attribute type OID, value) pairs, in
/// DER order.
struct Name<'a> {
    rdns: Vec<Vec<(&'a [u8], Tlv<'a>)>>,
}

impl<'a> Name<'a> {
    fn parse(raw: &'a [u8]) -> Result<Self, der::DerError> {
        let mut rdns = Vec::new();
        let mut seq = Reader::new(der::single(raw, der::TAG_SEQUENCE)?);
        while !seq.is_empty() {
            let mut set = Reader::new(seq.expect(der::TAG_SET)?);
            let mut rdn = Vec::new();
            while !set.is_empty() {
                let mut atv = Reader::new(set.expect(der::TAG_SEQUENCE)?);
                let attr_type = atv.expect(der::TAG_OID)?;
                let value = atv.read()?;
                rdn.push((attr_type, value));
            }
            rdns.push(rdn);
        }
        Ok(Self { rdns })
    }

    /// The first value of attribute `attr` in DER order, if it is a string.
    fn first(&self, attr: &[u8]) -> Option<String> {
        self.rdns
            .iter()
            .flatten()
            .find(|(t, _)| *t == attr)
            .and_then(|(_, v)| directory_string(v))
    }

    /// RFC 4514 string: RDNs in reverse order, `,` between RDNs, `+`
    /// inside one; short names for the RFC 4514 attribute types (and
    /// `emailAddress`, as OpenSSL prints it), dotted OIDs otherwise; values
    /// that are not strings as `#` + hex of their DER.
    fn to_rfc4514(&self) -> String {
        let mut out = String::new();
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                out.push(',');
            }
            for (j, (attr_type, value)) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push('+');
                }
                match attribute_short_name(attr_type) {
                    Some(name) => out.push_str(name),
                    None => out.push_str(&der::oid_to_string(attr_type)),
                }
                out.push('=');
                match directory_string(value) {
                    Some(s) => escape_rfc4514(&mut out, &s),
                    None => {
                        out.push('#');
                        out.push_str(&hex::encode_upper(value.raw));
                    }
                }
            }
        }
        out
    }
}

fn attribute_short_name(attr: &[u8]) -> Option<&'static str> {
    Some(match attr {
        oid::AT_CN => "CN",
        oid::AT_L => "L",
        oid::AT_ST => "ST",
        oid::AT_O => "O",
        oid::AT_OU => "OU",
        oid::AT_C => "C",
        oid::AT_STREET => "STREET",
        oid::AT_DC => "DC",
        oid::AT_UID => "UID",
        oid::AT_EMAIL => "emailAddress",
        oid::AT_SERIAL_NUMBER => "serialNumber",
        _ => return None,
    })
}

/// Decodes the ASN.1 string types used in names.
fn directory_string(value: &Tlv<'_>) -> Option<String> {
    let bytes = value.value;
    match value.tag {
        // UTF8String; NumericString, PrintableString, IA5String and
        // VisibleString are ASCII subsets (read leniently as UTF-8).
        0x0c | 0x12 | 0x13 | 0x16 | 0x1a => std::str::from_utf8(bytes).ok().map(str::to_owned),
        // TeletexString: in practice Latin-1.
        0x14 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e if bytes.len().is_multiple_of(2) => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        // UniversalString: UTF-32BE.
        0x1c if bytes.len().is_multiple_of(4) => bytes
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

fn escape_rfc4514(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:02X}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_escaping() {
        let mut s = String::new();
        escape_rfc4514(&mut s, "#a, b+c;\"<>\\ \u{0}x ");
        assert_eq!(s, "\\#a\\, b\\+c\\;\\\"\\<\\>\\\\ \\00x\\ ");
        let mut s = String::new();
        escape_rfc4514(&mut s, " ");
        assert_eq!(s, "\\ ");
        let mut s = String::new();
        escape_rfc4514(&mut s, "杭州 a#");
        assert_eq!(s, "杭州 a#");
    }

    #[test]
    fn name_formatting() {
        // SEQUENCE { SET { C=CN }, SET { O=a+OU=b (BMPString) },
        //            SET { 2.5.4.99 = INTEGER 5 } }
        let name = [
            0x30, 0x2a, //
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'C', b'N', //
            0x31, 0x11, //
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'a', //
            0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x0b, //
            0x31, 0x08, 0x30, 0x06, 0x06, 0x03, 0x55, 0x04, 0x63, 0x02, 0x01, 0x05,
        ];
        // Fix up: the OU attribute above is deliberately truncated inside
        // its SET, which must be refused rather than misread.
        assert!(Name::parse(&name).is_err());

        let name = [
            0x30, 0x30, //
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'C', b'N', //
            0x31, 0x15, //
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'a', //
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x1e, 0x02, 0x00, b'b', //
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x63, 0x02, 0x01, 0x05,
        ];
        let parsed = Name::parse(&name).unwrap();
        assert_eq!(parsed.to_rfc4514(), "2.5.4.99=#020105,O=a+OU=b,C=CN");
        assert_eq!(parsed.first(oid::AT_OU).as_deref(), Some("b"));
        assert_eq!(parsed.first(oid::AT_CN), None);
    }

    #[test]
    fn pss_parameters() {
        // RSASSA-PSS-params for SHA-256 / MGF1-SHA-256 / salt 32.
        let sha256_alg = [
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00,
        ];
        let mut params = vec![0xa0, sha256_alg.len() as u8];
        params.extend_from_slice(&sha256_alg);
        let mut mgf = vec![0x06, 0x09];
        mgf.extend_from_slice(oid::MGF1);
        mgf.extend_from_slice(&sha256_alg);
        params.extend_from_slice(&[0xa1, mgf.len() as u8 + 2, 0x30, mgf.len() as u8]);
        params.extend_from_slice(&mgf);
        let good = [params.clone(), vec![0xa2, 0x03, 0x02, 0x01, 0x20]].concat();
        assert!(pss_hash(Some(&good)) == Some(Hash::Sha256));
        let bad_salt = [params, vec![0xa2, 0x03, 0x02, 0x01, 0x10]].concat();
        assert!(pss_hash(Some(&bad_salt)).is_none());
        // Defaults (SHA-1) are not supported.
        assert!(pss_hash(Some(&[])).is_none());
        assert!(pss_hash(None).is_none());
    }
}

//! Private keys: find the one key block, refuse encrypted ones, classify
//! the key from its DER (format, algorithm, size, curve), then load it with
//! aws-lc-rs. See the crate documentation for the policy choices.

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use zeroize::Zeroizing;

use crate::cert::named_curve;
use crate::der::{self, Reader, oid};
use crate::pem;
use crate::{Curve, ImportError, KeyKind, Limits, PrivateKey};

/// Smallest and largest accepted RSA modulus, in bits.
pub(crate) const RSA_MIN_BITS: u32 = 2048;
pub(crate) const RSA_MAX_BITS: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `RSA PRIVATE KEY`: PKCS#1 `RSAPrivateKey`.
    Pkcs1,
    /// `EC PRIVATE KEY`: SEC1 / RFC 5915 `ECPrivateKey`.
    Sec1,
    /// `PRIVATE KEY`: PKCS#8 / RFC 5958 `OneAsymmetricKey`.
    Pkcs8,
}

/// See [`crate::load_key`].
pub(crate) fn load(key_pem: &str, limits: &Limits) -> Result<PrivateKey, ImportError> {
    if key_pem.len() > limits.max_key_bytes {
        return Err(ImportError::KeyTooLarge {
            size: key_pem.len(),
            limit: limits.max_key_bytes,
        });
    }
    let blocks = pem::blocks(key_pem).map_err(|e| ImportError::KeyNotPem { detail: e.detail() })?;
    let mut keys = blocks.iter().filter(|b| b.is_private_key());
    let block = keys.next().ok_or(ImportError::NoKey)?;
    if keys.next().is_some() {
        return Err(ImportError::MultipleKeys);
    }
    // Before any decoding: the label or the legacy headers say it all.
    if block.label == "ENCRYPTED PRIVATE KEY" || block.has_encryption_headers() {
        return Err(ImportError::KeyEncrypted);
    }
    let format = match block.label {
        "RSA PRIVATE KEY" => Format::Pkcs1,
        "EC PRIVATE KEY" => Format::Sec1,
        "PRIVATE KEY" => Format::Pkcs8,
        "DSA PRIVATE KEY" => return Err(unsupported("DSA keys are not supported".to_owned())),
        "OPENSSH PRIVATE KEY" => {
            return Err(unsupported(
                "the OpenSSH key format is not supported; convert the key to PEM \
                 (PKCS#8, PKCS#1 or SEC1)"
                    .to_owned(),
            ));
        }
        other => {
            return Err(unsupported(format!(
                "the \"{other}\" format is not supported"
            )));
        }
    };
    let der = block.decode_secret().map_err(|e| ImportError::KeyNotPem {
        detail: format!("the {} block: {e}", block.label),
    })?;
    let class = classify(format, &der)?;
    load_classified(class, &der)
}

fn unsupported(detail: String) -> ImportError {
    ImportError::KeyUnsupported { detail }
}

fn unparsable(detail: &str) -> ImportError {
    ImportError::KeyUnparsable {
        detail: detail.to_owned(),
    }
}

/// What the key is, learnt from its DER before aws-lc-rs sees it, so that
/// refusals can name the reason (aws-lc-rs only says "rejected").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Class {
    kind: KeyKind,
    format: Format,
}

fn classify(format: Format, der: &[u8]) -> Result<Class, ImportError> {
    let kind = match format {
        Format::Pkcs1 => rsa_kind(der)?,
        Format::Sec1 => ec_kind(sec1_curve(der)?)?,
        Format::Pkcs8 => pkcs8_kind(der)?,
    };
    Ok(Class { kind, format })
}

fn rsa_kind(rsa_private_key: &[u8]) -> Result<KeyKind, ImportError> {
    let bits = der::rsa_modulus_bits(rsa_private_key, true)
        .map_err(|_| unparsable("malformed RSAPrivateKey structure"))?;
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(unsupported(format!(
            "RSA-{bits}: RSA keys must be {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
        )));
    }
    Ok(KeyKind::Rsa { bits })
}

fn ec_kind(curve: &[u8]) -> Result<KeyKind, ImportError> {
    named_curve(curve).map(KeyKind::Ec).ok_or_else(|| {
        unsupported(format!(
            "EC keys on {} are not supported (P-256, P-384 and P-521 are)",
            der::curve_name(curve)
        ))
    })
}

/// The named curve of a SEC1 `ECPrivateKey`:
/// `SEQUENCE { version, privateKey OCTET STRING, [0] parameters OPTIONAL,
/// [1] publicKey OPTIONAL }`.
fn sec1_curve(der: &[u8]) -> Result<&[u8], ImportError> {
    let malformed = || unparsable("malformed ECPrivateKey structure");
    let mut seq = Reader::new(
        Reader::new(der)
            .expect(der::TAG_SEQUENCE)
            .map_err(|_| malformed())?,
    );
    seq.expect(der::TAG_INTEGER).map_err(|_| malformed())?;
    seq.expect(der::TAG_OCTET_STRING).map_err(|_| malformed())?;
    let Some(params) = seq.optional(der::TAG_CTX0).map_err(|_| malformed())? else {
        return Err(unparsable("the EC private key does not name its curve"));
    };
    ec_parameters(params)
}

/// `ECParameters ::= CHOICE { namedCurve OID, implicitCA NULL,
/// specifiedCurve SEQUENCE }`: only named curves are supported.
fn ec_parameters(params: &[u8]) -> Result<&[u8], ImportError> {
    let tlv = Reader::new(params)
        .read()
        .map_err(|_| unparsable("malformed EC parameters"))?;
    match tlv.tag {
        der::TAG_OID => Ok(tlv.value),
        der::TAG_SEQUENCE | der::TAG_NULL => Err(unsupported(
            "EC keys with explicit curve parameters are not supported; use a named curve"
                .to_owned(),
        )),
        _ => Err(unparsable("malformed EC parameters")),
    }
}

/// `SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING, ... }`.
fn pkcs8_kind(der: &[u8]) -> Result<KeyKind, ImportError> {
    let malformed = || unparsable("malformed PKCS#8 PrivateKeyInfo structure");
    let mut seq = Reader::new(
        Reader::new(der)
            .expect(der::TAG_SEQUENCE)
            .map_err(|_| malformed())?,
    );
    seq.expect(der::TAG_INTEGER).map_err(|_| malformed())?;
    let mut alg = Reader::new(seq.expect(der::TAG_SEQUENCE).map_err(|_| malformed())?);
    let alg_oid = alg.expect(der::TAG_OID).map_err(|_| malformed())?;
    let params = if alg.is_empty() {
        None
    } else {
        Some(alg.read().map_err(|_| malformed())?)
    };
    let private_key = seq.expect(der::TAG_OCTET_STRING).map_err(|_| malformed())?;
    match alg_oid {
        oid::RSA_ENCRYPTION => rsa_kind(private_key),
        oid::EC_PUBLIC_KEY => match params {
            Some(p) => ec_kind(ec_parameters(p.raw)?),
            // RFC 5915 allows the curve inside the ECPrivateKey instead.
            None => ec_kind(sec1_curve(private_key)?),
        },
        oid::ED25519 => Ok(KeyKind::Ed25519),
        oid::RSASSA_PSS => Err(unsupported(
            "RSASSA-PSS-restricted RSA keys are not supported; use a plain RSA \
             (rsaEncryption) key"
                .to_owned(),
        )),
        other => Err(unsupported(format!(
            "{} keys are not supported",
            der::key_algorithm_name(other)
        ))),
    }
}

fn load_classified(class: Class, der: &Zeroizing<Vec<u8>>) -> Result<PrivateKey, ImportError> {
    let rejected = |e: aws_lc_rs::error::KeyRejected| ImportError::KeyUnparsable {
        detail: format!("the key was rejected by the crypto library ({e})"),
    };
    let public_key = match (class.kind, class.format) {
        (KeyKind::Rsa { .. }, Format::Pkcs1) => RsaKeyPair::from_der(der)
            .map_err(rejected)?
            .public_key()
            .as_ref()
            .to_vec(),
        (KeyKind::Rsa { .. }, _) => RsaKeyPair::from_pkcs8(der)
            .map_err(rejected)?
            .public_key()
            .as_ref()
            .to_vec(),
        (KeyKind::Ec(curve), format) => {
            let alg = match curve {
                Curve::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                Curve::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                Curve::P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            };
            let pair = if format == Format::Pkcs8 {
                EcdsaKeyPair::from_pkcs8(alg, der)
            } else {
                EcdsaKeyPair::from_private_key_der(alg, der)
            };
            pair.map_err(rejected)?.public_key().as_ref().to_vec()
        }
        (KeyKind::Ed25519, _) => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(rejected)?
            .public_key()
            .as_ref()
            .to_vec(),
    };
    Ok(PrivateKey {
        kind: class.kind,
        public_key,
    })
}

//! A tiny, bounds-checked DER reader (definite lengths, one-byte tags) and
//! the object identifiers this crate looks at.
//!
//! Only what the key classification and a few certificate details need:
//! x509-parser reads the certificates, aws-lc-rs reads the keys; this reader
//! only peeks at algorithm identifiers, curve parameters and modulus sizes
//! so that refusals can be precise. It never panics: every length is
//! checked against the remaining input.

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_NULL: u8 = 0x05;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;
/// `[0]`, `[1]`, `[2]` constructed (EXPLICIT) context tags.
pub(crate) const TAG_CTX0: u8 = 0xA0;
pub(crate) const TAG_CTX1: u8 = 0xA1;
pub(crate) const TAG_CTX2: u8 = 0xA2;

/// Malformed DER; carries no detail on purpose (callers say what they were
/// reading, and key bytes must never reach a message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError;

/// One element: its tag, its contents, and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(DerError)?;
        if tag & 0x1f == 0x1f {
            // High tag numbers never occur in the structures we read.
            return Err(DerError);
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                // 0x80 is the BER indefinite form; > 4 bytes is absurd here.
                return Err(DerError);
            }
            let (len_bytes, rest) = after_len.split_at_checked(count).ok_or(DerError)?;
            after_len = rest;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (value, rest) = after_len.split_at_checked(len).ok_or(DerError)?;
        let header_len = input.len() - after_len.len();
        let raw = input.get(..header_len + len).ok_or(DerError)?;
        self.rest = rest;
        Ok(Tlv { tag, value, raw })
    }

    /// The next element's contents, which must carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let tlv = self.read()?;
        if tlv.tag == tag {
            Ok(tlv.value)
        } else {
            Err(DerError)
        }
    }

    /// Like [`Reader::expect`], but only if the next tag is `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Reads exactly one element with `tag` spanning all of `input`.
pub(crate) fn single(input: &[u8], tag: u8) -> Result<&[u8], DerError> {
    let mut r = Reader::new(input);
    let value = r.expect(tag)?;
    if r.is_empty() {
        Ok(value)
    } else {
        Err(DerError)
    }
}

/// Bit length of a big-endian unsigned INTEGER's contents (sign byte and
/// other leading zeros ignored).
pub(crate) fn integer_bits(value: &[u8]) -> u32 {
    let Some(start) = value.iter().position(|&b| b != 0) else {
        return 0;
    };
    let significant = &value[start..];
    let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
    (len - 1).saturating_mul(8) + (8 - significant[0].leading_zeros())
}

/// The modulus size of a DER `RSAPublicKey` or the first two INTEGERs of
/// an `RSAPrivateKey` (`version`, `modulus`) — `skip_version` selects which.
pub(crate) fn rsa_modulus_bits(der: &[u8], skip_version: bool) -> Result<u32, DerError> {
    let mut seq = Reader::new(single_prefix(der, TAG_SEQUENCE)?);
    if skip_version {
        seq.expect(TAG_INTEGER)?;
    }
    let modulus = seq.expect(TAG_INTEGER)?;
    // The public exponent must follow in both structures.
    seq.expect(TAG_INTEGER)?;
    Ok(integer_bits(modulus))
}

/// Contents of the first element of `input`, which must carry `tag`;
/// trailing bytes are tolerated (aws-lc-rs judges the whole encoding).
fn single_prefix(input: &[u8], tag: u8) -> Result<&[u8], DerError> {
    Reader::new(input).expect(tag)
}

/// Dotted-decimal form of an OID's contents (`1.2.840.113549.1.1.1`).
pub(crate) fn oid_to_string(oid: &[u8]) -> String {
    let mut out = String::new();
    let mut arc: u64 = 0;
    let mut first = true;
    let mut pending = false;
    for &b in oid {
        if arc > (u64::MAX >> 7) {
            return format!("OID:{}", hex::encode(oid));
        }
        arc = (arc << 7) | u64::from(b & 0x7f);
        pending = true;
        if b & 0x80 == 0 {
            if first {
                let (a, b) = match arc {
                    0..40 => (0, arc),
                    40..80 => (1, arc - 40),
                    _ => (2, arc - 80),
                };
                out.push_str(&format!("{a}.{b}"));
                first = false;
            } else {
                out.push_str(&format!(".{arc}"));
            }
            arc = 0;
            pending = false;
        }
    }
    if pending || out.is_empty() {
        return format!("OID:{}", hex::encode(oid));
    }
    out
}

/// Object identifiers (contents octets, without tag and length).
pub(crate) mod oid {
    // Key algorithms.
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub(crate) const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    pub(crate) const MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    pub(crate) const ED448: &[u8] = &[0x2b, 0x65, 0x71];
    pub(crate) const X25519: &[u8] = &[0x2b, 0x65, 0x6e];
    pub(crate) const X448: &[u8] = &[0x2b, 0x65, 0x6f];
    pub(crate) const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
    pub(crate) const DH: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01];

    // Named curves.
    pub(crate) const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub(crate) const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub(crate) const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    pub(crate) const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
    pub(crate) const SECP224R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x21];
    pub(crate) const P192: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
    pub(crate) const BRAINPOOL_P256R1: &[u8] =
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
    pub(crate) const BRAINPOOL_P384R1: &[u8] =
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b];
    pub(crate) const BRAINPOOL_P512R1: &[u8] =
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d];
    pub(crate) const SM2: &[u8] = &[0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d];

    // Signature algorithms.
    pub(crate) const SHA1_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
    pub(crate) const SHA256_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    pub(crate) const SHA384_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    pub(crate) const SHA512_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
    pub(crate) const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    pub(crate) const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    pub(crate) const ECDSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];

    // Digests (RSASSA-PSS parameters).
    pub(crate) const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    pub(crate) const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    pub(crate) const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    pub(crate) const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

    // Name attributes.
    pub(crate) const AT_CN: &[u8] = &[0x55, 0x04, 0x03];
    pub(crate) const AT_SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 0x05];
    pub(crate) const AT_C: &[u8] = &[0x55, 0x04, 0x06];
    pub(crate) const AT_L: &[u8] = &[0x55, 0x04, 0x07];
    pub(crate) const AT_ST: &[u8] = &[0x55, 0x04, 0x08];
    pub(crate) const AT_STREET: &[u8] = &[0x55, 0x04, 0x09];
    pub(crate) const AT_O: &[u8] = &[0x55, 0x04, 0x0a];
    pub(crate) const AT_OU: &[u8] = &[0x55, 0x04, 0x0b];
    pub(crate) const AT_DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    pub(crate) const AT_UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    pub(crate) const AT_EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
}

/// Human name of a curve OID for error messages, with the dotted OID.
pub(crate) fn curve_name(curve: &[u8]) -> String {
    let name = match curve {
        oid::P256 => "P-256",
        oid::P384 => "P-384",
        oid::P521 => "P-521",
        oid::SECP256K1 => "secp256k1",
        oid::SECP224R1 => "secp224r1",
        oid::P192 => "P-192",
        oid::BRAINPOOL_P256R1 => "brainpoolP256r1",
        oid::BRAINPOOL_P384R1 => "brainpoolP384r1",
        oid::BRAINPOOL_P512R1 => "brainpoolP512r1",
        oid::SM2 => "SM2",
        _ => return format!("curve {}", oid_to_string(curve)),
    };
    format!("{name} ({})", oid_to_string(curve))
}

/// Human name of a key algorithm OID for error messages.
pub(crate) fn key_algorithm_name(alg: &[u8]) -> String {
    match alg {
        oid::RSA_ENCRYPTION => "RSA".to_owned(),
        oid::RSASSA_PSS => "RSASSA-PSS".to_owned(),
        oid::EC_PUBLIC_KEY => "EC".to_owned(),
        oid::ED25519 => "Ed25519".to_owned(),
        oid::ED448 => "Ed448".to_owned(),
        oid::X25519 => "X25519".to_owned(),
        oid::X448 => "X448".to_owned(),
        oid::DSA => "DSA".to_owned(),
        oid::DH => "DH".to_owned(),
        _ => format!("algorithm {}", oid_to_string(alg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7u8, 256));
        let mut r = Reader::new(&long);
        let tlv = r.read().unwrap();
        assert_eq!(tlv.tag, TAG_OCTET_STRING);
        assert_eq!(tlv.value.len(), 256);
        assert_eq!(tlv.raw.len(), 260);
        assert!(r.is_empty());

        assert_eq!(single(&[0x05, 0x00], TAG_NULL), Ok(&[][..]));
    }

    #[test]
    fn rejects_truncated_and_odd_encodings() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x00],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x1f, 0x01, 0x00],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(
                Reader::new(bad).read().map(|t| t.tag),
                Err(DerError),
                "{bad:?}"
            );
        }
        assert_eq!(single(&[0x05, 0x00, 0x00], TAG_NULL), Err(DerError));
        assert_eq!(single(&[0x04, 0x00], TAG_NULL), Err(DerError));
    }

    #[test]
    fn integer_bit_lengths() {
        assert_eq!(integer_bits(&[]), 0);
        assert_eq!(integer_bits(&[0x00]), 0);
        assert_eq!(integer_bits(&[0x01]), 1);
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x7f, 0xff]), 15);
    }

    #[test]
    fn oid_strings() {
        assert_eq!(oid_to_string(oid::RSA_ENCRYPTION), "1.2.840.113549.1.1.1");
        assert_eq!(oid_to_string(oid::P384), "1.3.132.0.34");
        assert_eq!(oid_to_string(oid::AT_DC), "0.9.2342.19200300.100.1.25");
        assert_eq!(oid_to_string(&[0x88, 0x37, 0x03]), "2.999.3");
        assert_eq!(oid_to_string(&[0x2a, 0x86]), "OID:2a86");
        assert_eq!(oid_to_string(&[]), "OID:");
        assert_eq!(
            oid_to_string(&[0xff; 12]),
            format!("OID:{}", "ff".repeat(12))
        );
    }
}

//! Secrets at rest and in memory.
//!
//! * [`MasterKey`]: the 256-bit key-encryption key (KEK). It comes from the
//!   environment or a file at start-up and is never stored in the database.
//! * [`seal`] / [`open`]: envelope encryption. Every record gets a fresh
//!   256-bit data key (DEK); the plaintext is sealed under the DEK with
//!   AES-256-GCM and the DEK is sealed under the KEK. Both seals carry
//!   associated data naming the row (`access_keys/<id>/secret`), so a sealed
//!   value copied into another row fails to open. Rotating the KEK only
//!   re-wraps DEKs.
//! * Secret newtypes with redacted `Debug` and no `Display`, zeroized on drop.
//! * Generation of vendor-shaped credentials and numeric ids from the OS
//!   random source.
//!
//! Sealed layout (version 1), all lengths fixed except the ciphertext:
//!
//! ```text
//! 0x01 | kek_id (8) | wrap_nonce (12) | wrapped_dek (32 + 16 tag) | data_nonce (12) | ciphertext + tag (16)
//! ```
//! `kek_id` is the first 8 bytes of SHA-256 of the KEK: it tells an operator
//! which master key a row needs without revealing anything about it.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const KEK_ID_LEN: usize = 8;
const HEADER_LEN: usize = 1 + KEK_ID_LEN + NONCE_LEN + KEY_LEN + TAG_LEN + NONCE_LEN;

/// Errors of this crate. Messages never contain secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("master key must be 32 bytes of base64 (got {0} bytes)")]
    MasterKeyLength(usize),
    #[error("master key is not valid base64")]
    MasterKeyEncoding,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value was made with another master key (key id {0})")]
    WrongMasterKey(String),
    #[error("sealed value failed authentication (tampered or moved between rows)")]
    Tampered,
    #[error("the operating system's random source failed")]
    Random,
}

/// The key-encryption key.
pub struct MasterKey {
    key: LessSafeKey,
    id: [u8; KEK_ID_LEN],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id {})", self.id_hex())
    }
}

impl MasterKey {
    /// From raw bytes (exactly 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() != KEY_LEN {
            return Err(SecretError::MasterKeyLength(bytes.len()));
        }
        let digest = digest::digest(&digest::SHA256, bytes);
        let mut id = [0u8; KEK_ID_LEN];
        id.copy_from_slice(&digest.as_ref()[..KEK_ID_LEN]);
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes)
                .map_err(|_| SecretError::MasterKeyLength(bytes.len()))?,
        );
        Ok(Self { key, id })
    }

    /// From base64 text (surrounding whitespace ignored, so a file written
    /// with a trailing newline works).
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SecretError::MasterKeyEncoding)?,
        );
        Self::from_bytes(&bytes)
    }

    /// A fresh random key, returned with its base64 form for writing to a
    /// file once.
    pub fn generate() -> Result<(Self, Zeroizing<String>), SecretError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_fill(bytes.as_mut())?;
        let text = Zeroizing::new(STANDARD.encode(bytes.as_ref()));
        Ok((Self::from_bytes(bytes.as_ref())?, text))
    }

    /// Public identifier of this key (hex of 8 bytes).
    pub fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Fills `buf` from the OS random source.
pub fn random_fill(buf: &mut [u8]) -> Result<(), SecretError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| SecretError::Random)
}

fn seal_with(
    key: &LessSafeKey,
    plaintext: &[u8],
    aad: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SecretError> {
    let mut nonce = [0u8; NONCE_LEN];
    random_fill(&mut nonce)?;
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let mut tail = out.split_off(start);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut tail,
    )
    .map_err(|_| SecretError::Malformed)?;
    out.extend_from_slice(&tail);
    tail.iter_mut().for_each(|b| *b = 0);
    Ok(())
}

fn dek_aad(aad: &[u8]) -> Vec<u8> {
    let mut v = b"trustdesk-dek:".to_vec();
    v.extend_from_slice(aad);
    v
}

/// Seals `plaintext` for the row named by `aad`.
pub fn seal(master: &MasterKey, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, SecretError> {
    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    random_fill(dek.as_mut())?;
    let data_key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, dek.as_ref()).map_err(|_| SecretError::Malformed)?,
    );

    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&master.id);
    seal_with(
        &master.key,
        dek.as_ref(),
        &dek_aad(aad.as_bytes()),
        &mut out,
    )?;
    seal_with(&data_key, plaintext, aad.as_bytes(), &mut out)?;
    Ok(out)
}

/// Opens a value sealed by [`seal`] for the same row.
pub fn open(
    master: &MasterKey,
    sealed: &[u8],
    aad: &str,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != VERSION {
        return Err(SecretError::Malformed);
    }
    let kek_id = &sealed[1..1 + KEK_ID_LEN];
    if kek_id != master.id {
        return Err(SecretError::WrongMasterKey(
            kek_id.iter().map(|b| format!("{b:02x}")).collect(),
        ));
    }
    let mut pos = 1 + KEK_ID_LEN;
    let wrap_nonce = nonce_at(sealed, pos)?;
    pos += NONCE_LEN;
    let mut wrapped = Zeroizing::new(sealed[pos..pos + KEY_LEN + TAG_LEN].to_vec());
    pos += KEY_LEN + TAG_LEN;
    let dek = master
        .key
        .open_in_place(
            wrap_nonce,
            Aad::from(dek_aad(aad.as_bytes()).as_slice()),
            &mut wrapped,
        )
        .map_err(|_| SecretError::Tampered)?;
    let data_key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, dek).map_err(|_| SecretError::Malformed)?);
    let data_nonce = nonce_at(sealed, pos)?;
    pos += NONCE_LEN;
    let mut body = Zeroizing::new(sealed[pos..].to_vec());
    let len = data_key
        .open_in_place(data_nonce, Aad::from(aad.as_bytes()), &mut body)
        .map_err(|_| SecretError::Tampered)?
        .len();
    body.truncate(len);
    Ok(body)
}

fn nonce_at(buf: &[u8], pos: usize) -> Result<Nonce, SecretError> {
    let bytes: [u8; NONCE_LEN] = buf
        .get(pos..pos + NONCE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(SecretError::Malformed)?;
    Ok(Nonce::assume_unique_for_key(bytes))
}

// ---- secret newtypes ----

/// An AccessKey secret in clear, only in memory. No `Display`; `Debug` is
/// redacted; zeroized on drop.
#[derive(Clone)]
pub struct AccessKeySecret(Zeroizing<String>);

impl AccessKeySecret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The clear value, for signing checks and for the one response that
    /// hands a new secret to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeySecret(**redacted**)")
    }
}

/// Row-binding associated data for an access key's secret.
pub fn access_key_aad(access_key_id: &str) -> String {
    format!("access_keys/{access_key_id}/secret")
}

/// Seals an access key secret for its row.
pub fn seal_access_key_secret(
    master: &MasterKey,
    access_key_id: &str,
    secret: &AccessKeySecret,
) -> Result<Vec<u8>, SecretError> {
    seal(
        master,
        secret.expose().as_bytes(),
        &access_key_aad(access_key_id),
    )
}

/// Opens an access key secret sealed for its row.
pub fn open_access_key_secret(
    master: &MasterKey,
    access_key_id: &str,
    sealed: &[u8],
) -> Result<AccessKeySecret, SecretError> {
    let bytes = open(master, sealed, &access_key_aad(access_key_id))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SecretError::Malformed)?;
    Ok(AccessKeySecret::new(text.to_owned()))
}

// ---- generation ----

const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` characters uniformly from `[A-Za-z0-9]` (rejection sampling, so no
/// character is more likely than another).
pub fn random_alnum(n: usize) -> Result<String, SecretError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        random_fill(&mut buf)?;
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the first 8 characters.
            if b < 248 && out.len() < n {
                out.push(ALNUM[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// A new AccessKeyId in the vendor's shape: `LTAI` + 20 alphanumerics.
pub fn generate_access_key_id() -> Result<String, SecretError> {
    Ok(format!("LTAI{}", random_alnum(20)?))
}

/// A new AccessKey secret in the vendor's shape: 30 alphanumerics.
pub fn generate_access_key_secret() -> Result<AccessKeySecret, SecretError> {
    Ok(AccessKeySecret::new(random_alnum(30)?))
}

/// A uniformly random number with exactly 16 decimal digits (account and
/// user ids look like this on the vendor's side).
pub fn random_16_digits() -> Result<u64, SecretError> {
    uniform(SIXTEEN_DIGITS_LOW, 9_999_999_999_999_999)
}

const SIXTEEN_DIGITS_LOW: u64 = 1_000_000_000_000_000;

/// A uniformly random number in `low..=high`.
fn uniform(low: u64, high: u64) -> Result<u64, SecretError> {
    let span = high - low + 1;
    // Largest multiple of span below 2^64, to avoid modulo bias.
    let limit = u64::MAX - (u64::MAX % span);
    loop {
        let mut b = [0u8; 8];
        random_fill(&mut b)?;
        let v = u64::from_le_bytes(b);
        if v < limit {
            return Ok(low + v % span);
        }
    }
}

/// A new CertCentral API key: 47 alphanumerics (the length of the
/// vendor's documented examples), about 280 bits of entropy.
pub fn generate_api_key() -> Result<AccessKeySecret, SecretError> {
    Ok(AccessKeySecret::new(random_alnum(47)?))
}

/// What is stored of an API key: its SHA-256. A plain hash suffices (no
/// salt, no slow KDF) because generated keys carry ~280 random bits, so
/// the hash cannot be inverted by guessing; it also makes the lookup of a
/// request's key a single indexed read.
pub fn api_key_hash(key: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A uniformly random 16-digit number no larger than 2^53 - 1, so that
/// clients reading it as a JSON number (JavaScript) keep every digit.
pub fn random_16_digits_json_safe() -> Result<u64, SecretError> {
    uniform(SIXTEEN_DIGITS_LOW, 9_007_199_254_740_991)
}

/// `n` random bytes as lowercase hex (container `public_id`, `ekey`,
/// service-user names).
pub fn random_hex(n: usize) -> Result<String, SecretError> {
    let mut b = vec![0u8; n];
    random_fill(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn api_keys_and_json_safe_ids() {
        let k = generate_api_key().unwrap();
        assert_eq!(k.expose().len(), 47);
        assert!(k.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        // SHA-256("abc"), FIPS 180-2 example.
        assert_eq!(api_key_hash("abc")[..4], [0xba, 0x78, 0x16, 0xbf],);
        for _ in 0..1000 {
            let id = random_16_digits_json_safe().unwrap();
            assert!((1_000_000_000_000_000..=9_007_199_254_740_991).contains(&id));
        }
        assert_eq!(random_hex(16).unwrap().len(), 32);
    }

    #[test]
    fn round_trip_and_row_binding() {
        let k = key();
        let sealed = seal(
            &k,
            b"PupkTg8jdmau1cXxYacgE736PJabcd",
            "access_keys/A/secret",
        )
        .unwrap();
        assert_eq!(
            &open(&k, &sealed, "access_keys/A/secret").unwrap()[..],
            b"PupkTg8jdmau1cXxYacgE736PJabcd"
        );
        assert_eq!(
            open(&k, &sealed, "access_keys/B/secret"),
            Err(SecretError::Tampered)
        );
        assert!(
            !sealed.windows(10).any(|w| w == b"PupkTg8jdm"),
            "plaintext must not appear in the sealed bytes"
        );
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let k = key();
        let sealed = seal(&k, b"secret", "r").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(open(&k, &t, "r").is_err(), "byte {i}");
        }
        assert!(open(&k, &sealed[..sealed.len() - 1], "r").is_err());
    }

    #[test]
    fn wrong_master_key_is_named() {
        let sealed = seal(&key(), b"x", "r").unwrap();
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(matches!(
            open(&other, &sealed, "r"),
            Err(SecretError::WrongMasterKey(_))
        ));
    }

    #[test]
    fn master_key_parsing() {
        let (k, text) = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&format!("{}\n", text.as_str())).unwrap();
        assert_eq!(k.id_hex(), again.id_hex());
        assert_eq!(
            MasterKey::from_base64("AAAA").unwrap_err(),
            SecretError::MasterKeyLength(3)
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SecretError::MasterKeyEncoding
        );
        assert!(!format!("{k:?}").contains(text.as_str()));
    }

    #[test]
    fn generated_credentials_have_vendor_shape() {
        let id = generate_access_key_id().unwrap();
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("LTAI") && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        let secret = generate_access_key_secret().unwrap();
        assert_eq!(secret.expose().len(), 30);
        assert_eq!(format!("{secret:?}"), "AccessKeySecret(**redacted**)");
        for _ in 0..1000 {
            let n = random_16_digits().unwrap();
            assert_eq!(n.to_string().len(), 16);
        }
    }

    proptest::proptest! {
        #[test]
        fn seal_open_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512), aad in ".{0,40}") {
            let k = key();
            let sealed = seal(&k, &data, &aad).unwrap();
            proptest::prop_assert_eq!(&open(&k, &sealed, &aad).unwrap()[..], &data[..]);
        }
    }
}

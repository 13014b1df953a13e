//! PEM framing (RFC 7468, with RFC 1421 headers tolerated) and base64.
//!
//! Our own small parser rather than `rustls-pki-types`' `pem_slice_iter`:
//! the import checks need the labels it skips (`ENCRYPTED PRIVATE KEY`,
//! `DSA PRIVATE KEY`, ...), the legacy `Proc-Type`/`DEK-Info` headers
//! *before* any base64 decoding, and the block count before decoding
//! anything. Framing searches the text for the `-----BEGIN ` /
//! `-----END ` markers rather than on lines, so CRLF, CR-only, indented
//! blocks, text around blocks and blocks flattened onto one line (line
//! breaks turned into spaces by a form or a JSON field) all work. It never
//! panics and is linear in the input.
//!
//! Decoding maps base64 characters to values without data-dependent
//! branches or table look-ups (the `base64ct` technique), so decoding a
//! private key does not leak its bytes through timing; only whitespace and
//! padding, which are not secret, take branches.

use zeroize::Zeroizing;

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";
/// Longest label we accept (the longest standard one is 27 bytes).
const MAX_LABEL: usize = 64;

/// One framed block, not yet decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block<'a> {
    /// The label, printable ASCII (`CERTIFICATE`, `EC PRIVATE KEY`, ...).
    pub label: &'a str,
    /// Everything between the BEGIN and END markers: optional RFC 1421
    /// headers, then base64 with arbitrary whitespace.
    pub body: &'a [u8],
}

impl<'a> Block<'a> {
    /// Whether the label names a private key of any format.
    pub(crate) fn is_private_key(&self) -> bool {
        self.label.ends_with("PRIVATE KEY")
    }

    /// Splits the body into RFC 1421 header lines (`Name: value`, their
    /// indented continuation lines, up to the first blank line) and the
    /// base64 part. Only the (short) header lines are scanned for text.
    fn split(&self) -> (Headers, &'a [u8]) {
        let mut headers = Headers::default();
        let mut rest = self.body;
        let mut in_header = false;
        loop {
            let (line, next) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            let trimmed = line.trim_ascii();
            let continuation =
                in_header && !trimmed.is_empty() && matches!(line.first(), Some(b' ' | b'\t'));
            if trimmed.is_empty() {
                if next.is_empty() {
                    return (headers, next);
                }
                // A blank line ends the header section.
                in_header = false;
                rest = next;
                continue;
            }
            if continuation || trimmed.contains(&b':') {
                in_header = true;
                headers.inspect(trimmed);
                rest = next;
                if next.is_empty() {
                    return (headers, next);
                }
                continue;
            }
            return (headers, rest);
        }
    }

    /// Legacy OpenSSL encryption headers (`Proc-Type: 4,ENCRYPTED`,
    /// `DEK-Info: ...`), found without decoding anything.
    pub(crate) fn has_encryption_headers(&self) -> bool {
        self.split().0.encrypted
    }

    /// Decodes a public body (a certificate) into `out` (cleared first).
    pub(crate) fn decode_into(&self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        decode_base64(self.split().1, out, false)
    }

    /// Decodes a secret body into a buffer that is zeroized on drop,
    /// mapping characters without data-dependent branches.
    pub(crate) fn decode_secret(&self) -> Result<Zeroizing<Vec<u8>>, &'static str> {
        let mut out = Zeroizing::new(Vec::new());
        decode_base64(self.split().1, &mut out, true)?;
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct Headers {
    proc_type_encrypted: bool,
    dek_info: bool,
    encrypted: bool,
}

impl Headers {
    fn inspect(&mut self, line: &[u8]) {
        if let Some(i) = find_ci(line, b"Proc-Type:") {
            self.proc_type_encrypted |= find_ci(&line[i..], b"ENCRYPTED").is_some();
        }
        self.dek_info |= find_ci(line, b"DEK-Info:").is_some();
        self.encrypted = self.proc_type_encrypted || self.dek_info;
    }
}

/// Why framing failed. Messages quote at most a validated label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// No `-----BEGIN ` marker at all.
    NoBlock,
    Malformed(String),
}

impl FrameError {
    pub(crate) fn detail(&self) -> String {
        match self {
            FrameError::NoBlock => "no \"-----BEGIN\" line found".to_owned(),
            FrameError::Malformed(detail) => detail.clone(),
        }
    }
}

/// Position of `needle` in `input` at or after `from` (a char boundary:
/// callers only pass offsets next to ASCII bytes; `get` keeps it panic-free
/// anyway). `str::find` skips quickly through base64 runs.
fn find_from(input: &str, from: usize, needle: &str) -> Option<usize> {
    input.get(from..)?.find(needle).map(|i| from + i)
}

fn find_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Frames every block in `input`, in order. Text outside blocks is ignored.
pub(crate) fn blocks(input: &str) -> Result<Vec<Block<'_>>, FrameError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut next_begin = find_from(input, 0, BEGIN);
    while let Some(begin) = next_begin {
        let label_start = begin + BEGIN.len();
        let label_end = find_from(input, label_start, DASHES).ok_or_else(|| {
            FrameError::Malformed("a \"-----BEGIN\" line is not closed by \"-----\"".to_owned())
        })?;
        let label = input.get(label_start..label_end).unwrap_or("");
        if label.is_empty()
            || label.len() > MAX_LABEL
            || !label.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(FrameError::Malformed(
                "a \"-----BEGIN\" line has a malformed label".to_owned(),
            ));
        }
        let body_start = label_end + DASHES.len();
        let body_end = find_from(input, body_start, END).ok_or_else(|| {
            FrameError::Malformed(format!("\"-----BEGIN {label}-----\" has no END line"))
        })?;
        next_begin = find_from(input, body_start, BEGIN);
        if next_begin.is_some_and(|next| next < body_end) {
            return Err(FrameError::Malformed(format!(
                "\"-----BEGIN {label}-----\" has no END line before the next BEGIN line"
            )));
        }
        let end_label_start = body_end + END.len();
        let matches_label = bytes
            .get(end_label_start..)
            .and_then(|rest| rest.strip_prefix(label.as_bytes()))
            .is_some_and(|rest| rest.starts_with(DASHES.as_bytes()));
        if !matches_label {
            return Err(FrameError::Malformed(format!(
                "the END line of \"-----BEGIN {label}-----\" does not name the same label"
            )));
        }
        let after_end = end_label_start + label.len() + DASHES.len();
        if next_begin.is_some_and(|next| next < after_end) {
            // `-----END X-----BEGIN Y-----`: the dashes cannot serve both.
            next_begin = find_from(input, after_end, BEGIN);
        }
        out.push(Block {
            label,
            body: &bytes[body_start..body_end],
        });
    }
    if out.is_empty() {
        return Err(FrameError::NoBlock);
    }
    Ok(out)
}

/// Value of one base64 character, or -1, without branches on `c`.
#[inline(always)]
const fn decode_6bits(c: u8) -> i16 {
    let c = c as i16;
    let mut ret: i16 = -1;
    // 'A'..='Z' -> 0..=25
    ret += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64);
    // 'a'..='z' -> 26..=51
    ret += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70);
    // '0'..='9' -> 52..=61
    ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5);
    // '+' -> 62
    ret += (((0x2a - c) & (c - 0x2c)) >> 8) & 63;
    // '/' -> 63
    ret += (((0x2e - c) & (c - 0x30)) >> 8) & 64;
    ret
}

/// [`decode_6bits`] as a table, for public data (certificates).
static DECODE_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode_6bits(i as u8);
        i += 1;
    }
    table
};

/// Decodes standard base64 with `=` padding (padding may be omitted);
/// ASCII whitespace anywhere is skipped. Trailing bits are not checked.
/// `out` is cleared and sized once up front, so a secret is never left
/// behind in a reallocated buffer. `secret` selects the branch-free
/// character mapping over the (faster) table look-up.
pub(crate) fn decode_base64(
    data: &[u8],
    out: &mut Vec<u8>,
    secret: bool,
) -> Result<(), &'static str> {
    if secret {
        decode_with(data, out, decode_6bits)
    } else {
        decode_with(data, out, |c| DECODE_TABLE[usize::from(c)])
    }
}

#[inline(always)]
fn decode_with(
    data: &[u8],
    out: &mut Vec<u8>,
    map: impl Fn(u8) -> i16,
) -> Result<(), &'static str> {
    out.clear();
    out.reserve_exact(data.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut sextets = 0u8;
    let mut padding = 0u8;
    let mut invalid: i16 = 0;
    for &c in data {
        if c.is_ascii_whitespace() || c == 0x0b {
            continue;
        }
        if c == b'=' {
            padding += 1;
            if padding > 2 {
                return Err("too much base64 padding");
            }
            continue;
        }
        if padding > 0 {
            return Err("base64 data after padding");
        }
        let v = map(c);
        invalid |= v;
        acc = (acc << 6) | (v as u32 & 0x3f);
        sextets += 1;
        if sextets == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            sextets = 0;
        }
    }
    if invalid < 0 {
        return Err("invalid base64 character");
    }
    match (sextets, padding) {
        (0, 0) => {}
        (2, 0 | 2) => out.push((acc >> 4) as u8),
        (3, 0 | 1) => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return Err("truncated base64"),
    }
    if out.is_empty() {
        return Err("empty block");
    }
    Ok(())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `der` as a PEM block: 64-column base64, `\n` line ends.
pub(crate) fn encode_block(out: &mut String, label: &str, der: &[u8]) {
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut column = 0;
    let mut push = |out: &mut String, c: u8| {
        out.push(char::from(c));
        column += 1;
        if column == 64 {
            out.push('\n');
            column = 0;
        }
    };
    let mut chunks = der.chunks_exact(3);
    for chunk in &mut chunks {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            push(out, ALPHABET[((n >> shift) & 0x3f) as usize]);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            push(out, ALPHABET[((n >> 18) & 0x3f) as usize]);
            push(out, ALPHABET[((n >> 12) & 0x3f) as usize]);
            push(out, b'=');
            push(out, b'=');
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            push(out, ALPHABET[((n >> 18) & 0x3f) as usize]);
            push(out, ALPHABET[((n >> 12) & 0x3f) as usize]);
            push(out, ALPHABET[((n >> 6) & 0x3f) as usize]);
            push(out, b'=');
        }
        _ => {}
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(der: &[u8]) -> String {
        let mut s = String::new();
        encode_block(&mut s, "X", der);
        s
    }

    #[test]
    fn base64_round_trip_all_lengths() {
        for len in 0..200usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let pem = encode(&data);
            for line in pem.lines() {
                assert!(line.len() <= 64, "{line}");
            }
            let blocks = blocks(&pem).unwrap();
            assert_eq!(blocks.len(), 1);
            if len == 0 {
                assert_eq!(blocks[0].decode_secret(), Err("empty block"));
            } else {
                assert_eq!(
                    &blocks[0].decode_secret().unwrap()[..],
                    &data[..],
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn decoder_matches_alphabet() {
        for c in 0..=255u8 {
            let expected = ALPHABET
                .iter()
                .position(|&a| a == c)
                .map_or(-1, |p| p as i16);
            assert_eq!(decode_6bits(c), expected, "{c:#x}");
            assert_eq!(DECODE_TABLE[usize::from(c)], expected, "{c:#x}");
        }
    }

    fn decode_base64(data: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::new();
        let secret = super::decode_base64(data, &mut out, true).map(|()| out.clone());
        let public = super::decode_base64(data, &mut out, false).map(|()| out);
        assert_eq!(secret, public);
        secret
    }

    #[test]
    fn base64_errors() {
        assert_eq!(
            decode_base64(b"QUJD!").unwrap_err(),
            "invalid base64 character"
        );
        assert_eq!(
            decode_base64(b"QQ===").unwrap_err(),
            "too much base64 padding"
        );
        assert_eq!(
            decode_base64(b"QQ==QQ").unwrap_err(),
            "base64 data after padding"
        );
        assert_eq!(decode_base64(b"Q").unwrap_err(), "truncated base64");
        assert_eq!(decode_base64(b"QQ=").unwrap_err(), "truncated base64");
        assert_eq!(&decode_base64(b"QQ").unwrap()[..], b"A");
        assert_eq!(&decode_base64(b" Q U\r\nJ D ").unwrap()[..], b"ABC");
    }

    #[test]
    fn framing_variants() {
        let crlf =
            "junk\r\n-----BEGIN CERTIFICATE-----\r\nQUJD\r\n-----END CERTIFICATE-----\r\ntrailer";
        let b = blocks(crlf).unwrap();
        assert_eq!(b[0].label, "CERTIFICATE");
        assert_eq!(&b[0].decode_secret().unwrap()[..], b"ABC");

        let flat = "-----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE----- -----BEGIN X----- QQ== -----END X-----";
        let b = blocks(flat).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(&b[0].decode_secret().unwrap()[..], b"ABCDEF");
        assert_eq!(b[1].label, "X");

        let headers = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nQUJD\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(headers).unwrap();
        assert!(b[0].has_encryption_headers());
        assert!(b[0].is_private_key());
        assert_eq!(&b[0].decode_secret().unwrap()[..], b"ABC");

        let comment = "-----BEGIN CERTIFICATE-----\nComment: a\n  continued\n\nQUJD\n-----END CERTIFICATE-----";
        let b = blocks(comment).unwrap();
        assert!(!b[0].has_encryption_headers());
        assert_eq!(&b[0].decode_secret().unwrap()[..], b"ABC");
    }

    #[test]
    fn framing_errors() {
        assert_eq!(blocks("").unwrap_err(), FrameError::NoBlock);
        assert_eq!(blocks("QUJD").unwrap_err(), FrameError::NoBlock);
        for bad in [
            "-----BEGIN CERTIFICATE\nQUJD\n",
            "-----BEGIN CERTIFICATE-----\nQUJD\n",
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END PRIVATE KEY-----",
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----",
            "-----BEGIN -----\n-----END -----",
            "-----BEGIN \u{1}-----\n-----END \u{1}-----",
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE",
        ] {
            assert!(
                matches!(blocks(bad), Err(FrameError::Malformed(_))),
                "{bad:?}"
            );
        }
        // A non-ASCII byte right after the marker must not split a char.
        assert!(blocks("-----BEGIN é-----").is_err());
        assert!(blocks("-----BEGIN X-----é-----END X-----é").is_ok());
    }
}

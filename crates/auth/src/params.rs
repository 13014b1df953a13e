//! Request parameters and the two text encodings the RPC API uses for them.
//!
//! On the wire (reference section (a), a.2) parameters arrive as
//! `application/x-www-form-urlencoded` text in the query string and, for form
//! posts, in the body as well: pairs separated by `&`, name and value separated
//! by the first `=`, `+` meaning a space and `%XX` an escaped byte, the decoded
//! bytes being UTF-8. The body is merged over the query because both official
//! SDKs sign a *map*: a name present in both places was signed once, with the
//! body's value.
//!
//! The signatures (reference sections (b) and (c)) then re-encode every decoded
//! name and value with the vendor's RFC 3986 flavour ([`percent_encode`]):
//! only `A-Z a-z 0-9 - _ . ~` stay literal, every other UTF-8 byte becomes
//! `%XY` with uppercase hex. That differs from form encoding (space is `%20`,
//! never `+`; `*` is escaped and `~` is not, the reverse of Java's
//! `URLEncoder`), which is why the server must canonicalise from decoded
//! values and never from the bytes the client sent.

use std::collections::HashMap;
use std::fmt;

/// Decoded request parameters in arrival order; names are case-sensitive; a name appears once.
///
/// All decoded text lives in one buffer addressed by spans, so decoding a
/// typical 16-parameter query costs two allocations instead of thirty-odd:
/// the server decodes every request, and the per-string allocations were
/// most of the cost of a V1 check. Text of replaced or removed entries stays
/// in the buffer until the `Params` is dropped.
#[derive(Clone, Default)]
pub struct Params {
    text: String,
    pairs: Vec<(Span, Span)>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// Why a form-encoded parameter string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("malformed percent-encoding")]
    BadEscape,
    #[error("parameter is not valid UTF-8")]
    NotUtf8,
    #[error("parameter {0} appears more than once")]
    Duplicate(String),
}

/// Below this many entries a quadratic name scan beats hashing; above it the
/// scan would let a 64 KiB query of tiny pairs cost billions of comparisons.
const LINEAR_SCAN_LIMIT: usize = 32;

impl Params {
    /// Decode an application/x-www-form-urlencoded string: `+` is space, %XX decoded as UTF-8.
    ///
    /// Invalid percent escapes (e.g. "%zz", "%4") or invalid UTF-8 after decoding -> Err(ParamError::...).
    /// Empty pairs ("a=1&&b=2") are skipped; "a" without "=" means value "".
    /// A name repeated within ONE source: Err(ParamError::Duplicate(name)) (ambiguous which one was signed).
    pub fn parse_form(raw: &[u8]) -> Result<Params, ParamError> {
        // One pass over the input: runs of ordinary bytes are copied whole,
        // and only the five bytes with meaning (& = % + and, in a value, a
        // literal =) stop the scan.
        let mut buf = Vec::with_capacity(raw.len());
        let mut pairs = Vec::with_capacity(raw.len() / 16 + 1);
        let mut pair_start = 0; // in `raw`, to recognise empty pairs
        let mut name_start = 0; // in `buf`
        let mut name_end = None; // in `buf`, once the first `=` is seen
        let mut run_start = 0; // in `raw`, pending ordinary bytes
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if !FORM_SPECIAL[b as usize] {
                i += 1;
                continue;
            }
            buf.extend_from_slice(&raw[run_start..i]);
            match b {
                b'+' => buf.push(b' '),
                b'%' => {
                    let hi = raw.get(i + 1).copied().and_then(hex_value);
                    let lo = raw.get(i + 2).copied().and_then(hex_value);
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => buf.push(hi << 4 | lo),
                        _ => return Err(ParamError::BadEscape),
                    }
                    i += 2;
                }
                b'=' if name_end.is_none() => name_end = Some(buf.len()),
                b'=' => buf.push(b'='),
                _ => {
                    // b'&'
                    if i > pair_start {
                        pairs.push(finish_pair(name_start, name_end, buf.len()));
                    }
                    pair_start = i + 1;
                    name_start = buf.len();
                    name_end = None;
                }
            }
            i += 1;
            run_start = i;
        }
        buf.extend_from_slice(&raw[run_start..]);
        if raw.len() > pair_start {
            pairs.push(finish_pair(name_start, name_end, buf.len()));
        }
        // One validation of the whole buffer; each piece is then valid on its
        // own exactly when it starts and ends on character boundaries (bytes
        // of two pieces could otherwise form one character across the seam).
        let text = String::from_utf8(buf).map_err(|_| ParamError::NotUtf8)?;
        let on_boundaries = pairs.iter().all(|(n, v)| {
            text.is_char_boundary(n.start)
                && text.is_char_boundary(n.end)
                && text.is_char_boundary(v.end)
        });
        if !on_boundaries {
            return Err(ParamError::NotUtf8);
        }
        let params = Params { text, pairs };
        if let Some(dup) = params.first_duplicate() {
            return Err(ParamError::Duplicate(dup.to_owned()));
        }
        Ok(params)
    }

    /// Merge `other` (the form body) over self (the query): same name in both = one parameter, body value wins.
    ///
    /// Names only in `other` are appended in `other`'s order.
    pub fn merge(&mut self, other: Params) {
        self.set_all(other.iter(), other.len());
    }

    /// The value of `name` (exact, case-sensitive match).
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.position(name)?;
        Some(self.slice(self.pairs[i].1))
    }

    /// Pairs in arrival order (query order, then body-only names).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|&(n, v)| (self.slice(n), self.slice(v)))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Set `name` to `value`, replacing the value in place if the name is present.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set(&name.into(), &value.into());
    }

    /// Remove `name`, returning its value if it was present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.position(name)?;
        let (_, value) = self.pairs.remove(i);
        Some(self.slice(value).to_owned())
    }

    /// Build from pairs; a later pair with the same name replaces the earlier value.
    pub fn from_pairs<I, K, V>(pairs: I) -> Params
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let owned: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut params = Params::default();
        params.set_all(
            owned.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            owned.len(),
        );
        params
    }

    /// Pairs sorted by name bytes, the order both signature versions sign in.
    ///
    /// Sorting the *decoded* names is what the SDKs do (they sort their map
    /// keys, then encode); sorting encoded names would differ for names holding
    /// bytes such as `:` or `{`. Names are unique, so an unstable sort is exact.
    ///
    /// Each entry carries its name's first eight bytes as a big-endian integer
    /// so most comparisons are one integer compare instead of a `memcmp`
    /// call; sorting was a third of the V1 string-to-sign time without it.
    pub(crate) fn sorted(&self) -> Vec<SortedPair<'_>> {
        let mut sorted: Vec<SortedPair<'_>> = self
            .iter()
            .map(|(name, value)| SortedPair {
                key: prefix_key(name.as_bytes()),
                name,
                value,
            })
            .collect();
        sorted.sort_unstable_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        });
        sorted
    }

    fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.pairs.iter().position(|&(n, _)| self.slice(n) == name)
    }

    fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len(),
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => self.pairs[i].1 = self.push_text(value),
            None => self.push_pair(name, value),
        }
    }

    fn push_pair(&mut self, name: &str, value: &str) {
        let name = self.push_text(name);
        let value = self.push_text(value);
        self.pairs.push((name, value));
    }

    /// `set` for many pairs without going quadratic on large inputs.
    fn set_all<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)>, count: usize) {
        if self.len() + count <= LINEAR_SCAN_LIMIT {
            for (name, value) in pairs {
                self.set(name, value);
            }
            return;
        }
        let mut index: HashMap<String, usize> = self
            .pairs
            .iter()
            .enumerate()
            .map(|(i, &(n, _))| (self.slice(n).to_owned(), i))
            .collect();
        for (name, value) in pairs {
            match index.get(name) {
                Some(&i) => self.pairs[i].1 = self.push_text(value),
                None => {
                    index.insert(name.to_owned(), self.pairs.len());
                    self.push_pair(name, value);
                }
            }
        }
    }

    fn first_duplicate(&self) -> Option<&str> {
        if self.len() <= LINEAR_SCAN_LIMIT {
            return self.pairs.iter().enumerate().find_map(|(i, &(name, _))| {
                let name = self.slice(name);
                self.pairs[..i]
                    .iter()
                    .any(|&(n, _)| self.slice(n) == name)
                    .then_some(name)
            });
        }
        let mut names: Vec<&str> = self.iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

/// One entry of [`Params::sorted`].
pub(crate) struct SortedPair<'a> {
    key: u64,
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
}

/// Big-endian first eight bytes, zero-padded: orders like the bytes themselves
/// except that ties (equal prefixes, or a name that is a prefix padded with
/// NULs) must fall back to a full comparison.
fn prefix_key(name: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    let n = name.len().min(8);
    key[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(key)
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Params {}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Params")
            .field(&self.iter().collect::<Vec<_>>())
            .finish()
    }
}

/// Spans of one decoded pair; a pair without `=` has an empty value.
fn finish_pair(name_start: usize, name_end: Option<usize>, end: usize) -> (Span, Span) {
    let name_end = name_end.unwrap_or(end);
    (
        Span {
            start: name_start,
            end: name_end,
        },
        Span {
            start: name_end,
            end,
        },
    )
}

/// Bytes that interrupt a literal run while form-decoding.
const FORM_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'&' as usize] = true;
    table[b'=' as usize] = true;
    table[b'%' as usize] = true;
    table[b'+' as usize] = true;
    table
};

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `true` for the bytes the vendor leaves literal: `A-Z a-z 0-9 - _ . ~`.
pub(crate) const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// RFC 3986 percent-encoding as the vendor specifies: A-Z a-z 0-9 - _ . ~ literal, everything else %XY uppercase hex over UTF-8 bytes (space -> %20, * -> %2A, + -> %2B, / -> %2F).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    percent_encode_into(&mut out, s);
    out
}

/// [`percent_encode`] appending to `out`.
pub fn percent_encode_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UNRESERVED[b as usize] {
            continue;
        }
        // A non-empty run holds ASCII bytes only, so both its ends are char
        // boundaries; an empty one may sit inside a multi-byte character.
        if run_start < i {
            out.push_str(&s[run_start..i]);
        }
        out.push('%');
        out.push(char::from(HEX_UPPER[(b >> 4) as usize]));
        out.push(char::from(HEX_UPPER[(b & 0x0f) as usize]));
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Params, ParamError> {
        Params::parse_form(s.as_bytes())
    }

    #[test]
    fn decodes_plus_and_escapes() {
        let p = parse("a=x+y&b=%E5%BC%A0%e4%b8%89&c=%2B%25").unwrap();
        assert_eq!(p.get("a"), Some("x y"));
        assert_eq!(p.get("b"), Some("张三"));
        assert_eq!(p.get("c"), Some("+%"));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn skips_empty_pairs_and_defaults_missing_value() {
        let p = parse("&a=1&&b&c=&").unwrap();
        let pairs: Vec<_> = p.iter().collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", ""), ("c", "")]);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("&&&").unwrap().is_empty());
    }

    #[test]
    fn value_may_contain_equals() {
        let p = parse("Signature=abc%3D&x=a=b").unwrap();
        assert_eq!(p.get("Signature"), Some("abc="));
        assert_eq!(p.get("x"), Some("a=b"));
    }

    #[test]
    fn names_are_case_sensitive() {
        let p = parse("Timestamp=1&TimeStamp=2").unwrap();
        assert_eq!(p.get("Timestamp"), Some("1"));
        assert_eq!(p.get("TimeStamp"), Some("2"));
        assert_eq!(p.get("timestamp"), None);
    }

    #[test]
    fn bad_escapes_are_rejected() {
        for raw in [
            "a=%zz", "a=%", "a=%4", "a=%4g", "%=1", "a=b%", "a%2=1", "a=%%41",
        ] {
            assert_eq!(parse(raw), Err(ParamError::BadEscape), "{raw}");
        }
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        for raw in ["a=%e4%b8", "a=%ff", "%c3=1", "a=%ed%a0%80"] {
            assert_eq!(parse(raw), Err(ParamError::NotUtf8), "{raw}");
        }
        // Valid together ("中" = E4 B8 AD) but split between name and value.
        assert_eq!(parse("%E4%B8=%AD"), Err(ParamError::NotUtf8));
        assert_eq!(parse("a=%E4&b%B8%AD=1"), Err(ParamError::NotUtf8));
        assert_eq!(
            Params::parse_form(b"a=\xe4\xb8"),
            Err(ParamError::NotUtf8),
            "raw invalid bytes"
        );
        assert_eq!(
            Params::parse_form("a=张".as_bytes()).unwrap().get("a"),
            Some("张")
        );
    }

    #[test]
    fn duplicates_within_one_source_are_rejected() {
        assert_eq!(parse("a=1&b=2&a=3"), Err(ParamError::Duplicate("a".into())));
        // Duplicates are judged after decoding.
        assert_eq!(
            parse("a+b=1&a%20b=2"),
            Err(ParamError::Duplicate("a b".into()))
        );
        assert_eq!(parse("a=1&a=1"), Err(ParamError::Duplicate("a".into())));
        // The hashed path for large inputs.
        let mut raw: String = (0..100).map(|i| format!("p{i}=v&")).collect();
        assert!(parse(&raw).is_ok());
        raw.push_str("p42=again");
        assert_eq!(parse(&raw), Err(ParamError::Duplicate("p42".into())));
    }

    #[test]
    fn merge_body_wins_and_appends() {
        let mut q = parse("Action=A&ShowSize=10&x=1").unwrap();
        q.merge(parse("ShowSize=20&y=2").unwrap());
        let pairs: Vec<_> = q.iter().collect();
        assert_eq!(
            pairs,
            vec![("Action", "A"), ("ShowSize", "20"), ("x", "1"), ("y", "2")]
        );
    }

    #[test]
    fn merge_large_matches_small_path() {
        let query: String = (0..50).map(|i| format!("q{i}=a&")).collect();
        let body: String = (25..75).map(|i| format!("q{i}=b&")).collect();
        let mut big = parse(&query).unwrap();
        big.merge(parse(&body).unwrap());
        assert_eq!(big.len(), 75);
        assert_eq!(big.get("q0"), Some("a"));
        assert_eq!(big.get("q30"), Some("b"));
        assert_eq!(big.get("q74"), Some("b"));
        let mut slow = parse(&query).unwrap();
        for (n, v) in parse(&body).unwrap().iter() {
            slow.insert(n, v);
        }
        assert_eq!(big, slow);
    }

    #[test]
    fn insert_remove_from_pairs() {
        let mut p = Params::from_pairs([("a", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
        p.insert("b", "4");
        p.insert("c", "5");
        assert_eq!(p.get("b"), Some("4"));
        assert_eq!(p.remove("a"), Some("3".to_owned()));
        assert_eq!(p.remove("a"), None);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("b", "4"), ("c", "5")]);
    }

    #[test]
    fn sorted_uses_decoded_name_bytes() {
        // Encoded, ':' would become "%3A" and sort before '1'; the SDKs sort the
        // decoded keys, where '1' (0x31) precedes ':' (0x3A).
        let p = Params::from_pairs([("a:", "x"), ("a1", "y"), ("B", "z"), ("a", "w")]);
        let names: Vec<_> = p.sorted().iter().map(|e| e.name).collect();
        assert_eq!(names, vec!["B", "a", "a1", "a:"]);
        // Prefix-key ties: shared 8-byte prefixes and embedded NULs.
        let p = Params::from_pairs([
            ("SignatureVersion", ""),
            ("SignatureMethod", ""),
            ("Signature", ""),
            ("a\0", ""),
            ("a", ""),
            ("a\0\0\0\0\0\0\0\0", ""),
            ("SignatureNonce", ""),
        ]);
        let names: Vec<_> = p.sorted().iter().map(|e| e.name).collect();
        let mut expected: Vec<_> = p.iter().map(|(n, _)| n).collect();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn percent_encode_vendor_flavour() {
        assert_eq!(percent_encode("a b*c~d/e+f"), "a%20b%2Ac~d%2Fe%2Bf");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            percent_encode("2026-01-02T03:04:05Z"),
            "2026-01-02T03%3A04%3A05Z"
        );
        assert_eq!(percent_encode("张"), "%E5%BC%A0");
        assert_eq!(percent_encode("😀"), "%F0%9F%98%80");
        assert_eq!(percent_encode("%"), "%25");
        assert_eq!(percent_encode(""), "");
        assert_eq!(percent_encode("=&"), "%3D%26");
        let mut out = String::from("x=");
        percent_encode_into(&mut out, "a b");
        assert_eq!(out, "x=a%20b");
    }

    #[test]
    fn unreserved_table() {
        let literal: String = (0u8..=255)
            .filter(|&b| UNRESERVED[b as usize])
            .map(char::from)
            .collect();
        assert_eq!(
            literal,
            "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
        );
    }
}

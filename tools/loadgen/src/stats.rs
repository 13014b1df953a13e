//! Counting: per-worker tallies (every latency kept, in µs), their merge,
//! exact percentiles, error classification, and the process's own CPU time.

use std::collections::HashMap;

/// What one worker saw during the measured window (and, separately counted,
/// during warm-up).
#[derive(Default)]
pub struct Tally {
    /// Latency of every measured request that got a complete response, in µs.
    pub latencies_us: Vec<u32>,
    /// Measured requests attempted (responses + transport failures).
    pub requests: u64,
    /// Measured 2xx responses.
    pub ok: u64,
    /// Measured failures by class: `HTTP <status> <code>` or `transport: …`.
    pub errors: HashMap<String, u64>,
    /// First non-2xx body (or transport error) seen.
    pub sample_error: Option<String>,
    /// Warm-up requests sent and 2xx answers (not in the figures above).
    pub warmup_requests: u64,
    pub warmup_ok: u64,
    /// TCP connections opened (1 unless the server closed some).
    pub connections: u64,
    /// list-users / cert-list / cc-list-users --deep: times a worker reached
    /// the last page (warm-up included).
    pub list_ends: u64,
}

impl Tally {
    pub fn error(&mut self, class: String, sample: impl FnOnce() -> String) {
        *self.errors.entry(class).or_default() += 1;
        if self.sample_error.is_none() {
            self.sample_error = Some(sample());
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.requests += other.requests;
        self.ok += other.ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        if self.sample_error.is_none() {
            self.sample_error = other.sample_error;
        }
        self.warmup_requests += other.warmup_requests;
        self.warmup_ok += other.warmup_ok;
        self.connections += other.connections;
        self.list_ends += other.list_ends;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Error classes, most frequent first.
    pub fn top_errors(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.errors.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// Nearest-rank percentile of sorted µs values, in ms (NaN when empty).
pub fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[idx]) / 1000.0
}

/// The vendor error code of a non-2xx body: `"Code":"…"` in JSON,
/// `<Code>…</Code>` in XML (Alibaba), the first `errors[].code` of a
/// CertCentral envelope (`{"errors":[{"code":"…","message":"…"}]}`); `-` if
/// there is none.
pub fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            let code = v.get("Code").or_else(|| v.pointer("/errors/0/code"));
            if let Some(code) = code.and_then(|c| c.as_str()) {
                return code.to_owned();
            }
        }
    } else if let Some(code) = between(trimmed, "<Code>", "</Code>") {
        return code.to_owned();
    }
    "-".to_owned()
}

/// Text between the first `open` and the next `close`.
pub fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// cert-list --deep: whether a DescribeUserCertificateList page is empty.
pub fn empty_certificate_page(body: &[u8], xml: bool) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return true;
    };
    if xml {
        !text.contains("<CertificateList>")
    } else {
        text.contains("\"CertificateList\":[]")
    }
}

/// The ListUsers continuation: `Some(marker)` when the page says
/// `IsTruncated` true, `None` at the end of the list.
///
/// A byte scan instead of a full parse, to keep the client's CPU per page
/// low: in JSON a `"` inside a string value is always escaped, so
/// `"Marker":"` can only be the key itself (user entries carry no `Marker`).
pub fn next_marker(body: &[u8], xml: bool) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if xml {
        if between(text, "<IsTruncated>", "</IsTruncated>")? != "true" {
            return None;
        }
        let raw = between(text, "<Marker>", "</Marker>")?;
        return Some(
            raw.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
    }
    if !text.contains("\"IsTruncated\":true") {
        if text.contains("\"IsTruncated\":false") {
            return None;
        }
        // Not the compact layout the scan expects: parse properly.
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        return (v.get("IsTruncated")? == true)
            .then(|| v.get("Marker")?.as_str().map(str::to_owned))
            .flatten();
    }
    let start = text.find("\"Marker\":\"")? + "\"Marker\":".len();
    let rest = &text[start + 1..];
    let end = rest.find('"')?;
    let raw = &rest[..end];
    if raw.contains('\\') {
        // Escaped characters: let the JSON parser decode the whole string.
        let mut end = 0;
        let bytes = rest.as_bytes();
        while end < bytes.len() {
            match bytes[end] {
                b'\\' => end += 2,
                b'"' => break,
                _ => end += 1,
            }
        }
        return serde_json::from_str(&text[start..start + 1 + end + 1]).ok();
    }
    Some(raw.to_owned())
}

/// cc-list-users --deep: `page.total` of a CertCentral list answer
/// (`{"users":[…],"page":{"total":N,"limit":L,"offset":O}}`), `None` if the
/// body has none.
///
/// A byte scan of the compact layout the face sends, for the same reason as
/// [`next_marker`]: `"page":{` outside a string can only be the envelope's
/// key (user entries have no `page` object), and it comes after the users,
/// so the last one is taken. Anything else is parsed properly.
pub fn cc_page_total(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let scanned = text.rfind("\"page\":{\"total\":").and_then(|at| {
        let digits = &text[at + "\"page\":{\"total\":".len()..];
        let end = digits.find(|c: char| !c.is_ascii_digit())?;
        digits[..end].parse().ok()
    });
    if scanned.is_some() {
        return scanned;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.pointer("/page/total")?.as_u64()
}

/// CPU seconds (user + system) this process has used so far: fields 14 and
/// 15 (`utime`, `stime`) of `/proc/self/stat`, converted with the usual
/// Linux `CLK_TCK` of 100 ticks per second (assumed, not queried; this
/// crate has no libc dependency). Resolution 10 ms. NaN if unreadable.
pub fn own_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name (field 2) may contain spaces; count after its ')'.
    let Some((_, after)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so utime (14) is index 11.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) as f64 / 100.0,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&v, 1.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 0.5), 7.0);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }

    #[test]
    fn codes_from_json_and_xml() {
        let json = br#"{"RequestId":"X","HostId":"h","Code":"EntityNotExist.User","Message":"m"}"#;
        assert_eq!(error_code(json), "EntityNotExist.User");
        let xml = b"<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>X</RequestId><Code>SignatureDoesNotMatch</Code></Error>";
        assert_eq!(error_code(xml), "SignatureDoesNotMatch");
        assert_eq!(error_code(b"Bad Request"), "-");
        let cc = br#"{"errors":[{"code":"access_denied|access_denied_invalid_key","message":"m"},{"code":"x","message":"y"}]}"#;
        assert_eq!(error_code(cc), "access_denied|access_denied_invalid_key");
        assert_eq!(error_code(br#"{"errors":[]}"#), "-");
    }

    #[test]
    fn markers() {
        let page = br#"{"RequestId":"X","IsTruncated":true,"Marker":"abc123","Users":{"User":[{"UserName":"Marker"}]}}"#;
        assert_eq!(next_marker(page, false).as_deref(), Some("abc123"));
        let last = br#"{"RequestId":"X","IsTruncated":false,"Users":{"User":[]}}"#;
        assert_eq!(next_marker(last, false), None);
        let escaped = br#"{"IsTruncated":true,"Marker":"a\"b\\c\u0041"}"#;
        assert_eq!(next_marker(escaped, false).as_deref(), Some("a\"b\\cA"));
        let xml = b"<ListUsersResponse><Users/><IsTruncated>true</IsTruncated><Marker>a&amp;b</Marker></ListUsersResponse>";
        assert_eq!(next_marker(xml, true).as_deref(), Some("a&b"));
        let xml_end =
            b"<ListUsersResponse><Users/><IsTruncated>false</IsTruncated></ListUsersResponse>";
        assert_eq!(next_marker(xml_end, true), None);
        let spaced = br#"{"IsTruncated": true, "Marker": "m1"}"#;
        assert_eq!(next_marker(spaced, false).as_deref(), Some("m1"));
    }

    #[test]
    fn certcentral_page_totals() {
        let page = br#"{"users":[{"id":1,"username":"page","first_name":"\"page\":{\"total\":9}"}],"page":{"total":71483,"limit":100,"offset":0}}"#;
        assert_eq!(cc_page_total(page), Some(71483));
        let empty = br#"{"users":[],"page":{"total":0,"limit":100,"offset":0}}"#;
        assert_eq!(cc_page_total(empty), Some(0));
        let spaced = br#"{"page": {"limit": 100, "total": 12}, "users": []}"#;
        assert_eq!(cc_page_total(spaced), Some(12));
        assert_eq!(cc_page_total(br#"{"users":[]}"#), None);
        assert_eq!(cc_page_total(b"not json"), None);
    }

    #[test]
    fn cpu_time_is_readable() {
        assert!(own_cpu_seconds() >= 0.0);
    }
}

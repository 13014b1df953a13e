//! Typed access to business parameters, with the vendor's errors for
//! absent or invalid values. Names are case-sensitive (`username` is not
//! `UserName`); unknown parameters are ignored, as the vendor does.

use trustdesk_auth::Params;
use trustdesk_domain::Problem;

use crate::error::RpcError;

/// Longest value accepted for an identifier-like parameter we only look up
/// (e.g. `UserAccessKeyId`); longer values cannot exist, so they are refused
/// before any work is done.
const MAX_LOOKUP_LEN: usize = 128;

/// The parameters of a verified request.
#[derive(Debug, Clone)]
pub struct Args(pub Params);

impl Args {
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// Present (possibly empty) or `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, RpcError> {
        self.0
            .get(name)
            .ok_or_else(|| RpcError::missing_parameter(name))
    }

    /// A required value parsed by a domain constructor; its problem is
    /// reported under `name`.
    pub fn parse<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Problem>,
    ) -> Result<T, RpcError> {
        parse(self.required(name)?).map_err(|p| RpcError::validation(name, p))
    }

    /// An optional value; absent or empty means not given.
    pub fn parse_opt<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Problem>,
    ) -> Result<Option<T>, RpcError> {
        match self.0.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse(v)
                .map(Some)
                .map_err(|p| RpcError::validation(name, p)),
        }
    }

    /// For update-style parameters: absent leaves the value alone
    /// (`None`), an empty value clears it (`Some(None)`).
    pub fn parse_patch<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Problem>,
    ) -> Result<Option<Option<T>>, RpcError> {
        match self.0.get(name) {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(v) => parse(v)
                .map(|t| Some(Some(t)))
                .map_err(|p| RpcError::validation(name, p)),
        }
    }

    /// A required identifier we only look up.
    pub fn lookup_id(&self, name: &'static str) -> Result<&str, RpcError> {
        let v = self.required(name)?;
        if v.is_empty() || v.chars().count() > MAX_LOOKUP_LEN {
            return Err(RpcError::invalid_parameter(name));
        }
        Ok(v)
    }

    /// An optional integer within `range`; anything else is
    /// `InvalidParameter.<name>`.
    pub fn int_in(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
    ) -> Result<u32, RpcError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| RpcError::invalid_parameter(name)),
        }
    }
}

/// List markers: an opaque token, base64url of `<list>:<position>`, so a
/// marker of one list is refused by another (`InvalidParameter.Marker`).
pub fn encode_marker(list: &str, position: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}{position}"))
}

impl Args {
    /// The `Marker` of `list` (`None` when absent or empty).
    pub fn marker(&self, list: &str) -> Result<Option<i64>, RpcError> {
        use base64::Engine;
        match self.0.get("Marker") {
            None | Some("") => Ok(None),
            Some(m) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix(list).and_then(|n| n.parse::<i64>().ok()))
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| RpcError::invalid_parameter("Marker")),
        }
    }
}

/// Booleans arrive as `true`/`false` from most clients and `True`/`False`
/// from the Python SDKs.
pub fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Args {
        Args(Params::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn required_optional_and_ranges() {
        let a = args(&[("UserName", "alice"), ("MaxItems", "1001"), ("Empty", "")]);
        assert_eq!(a.required("UserName").unwrap(), "alice");
        assert_eq!(a.required("username").unwrap_err().code, "MissingParameter");
        assert_eq!(
            a.int_in("MaxItems", 1..=1000, 100).unwrap_err().code,
            "InvalidParameter.MaxItems"
        );
        assert_eq!(a.int_in("Absent", 1..=1000, 100).unwrap(), 100);
        assert_eq!(
            a.parse_opt("Empty", |_| Err::<(), _>(Problem::Format))
                .unwrap(),
            None
        );
        assert_eq!(
            a.parse_patch("Empty", |_| Ok::<_, Problem>(1)).unwrap(),
            Some(None)
        );
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}

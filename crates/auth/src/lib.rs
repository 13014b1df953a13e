//! Alibaba Cloud RPC ("POP") request signatures, as a pure library: no I/O,
//! no async, no clock. Callers pass in the bytes they received (or the nonce
//! and time they want to sign with) and get canonical strings, signatures and
//! yes/no answers back. Contract: `shared/reference/aliyun-rpc.md`.
//!
//! Module map:
//!
//! * [`params`] — section (a), a.2: form-decoding the query string and a form
//!   body into one parameter set, and the vendor's RFC 3986 percent-encoding
//!   that both signature versions canonicalise with.
//! * [`v1`] — section (b): Signature V1. All parameters but `Signature`,
//!   re-encoded, sorted, joined; `METHOD&%2F&` + that string encoded again;
//!   Base64 HMAC-SHA1 keyed with `secret&`.
//! * [`acs3`] — section (c): ACS3-HMAC-SHA256. `Authorization` header parsing,
//!   the six-part canonical request (method, path, query, the headers the
//!   client chose to sign, their names, body hash), hex HMAC-SHA256 keyed with
//!   the bare secret.
//! * [`timestamp`] — sections a.3/a.4: the `YYYY-MM-DDThh:mm:ssZ` format of
//!   `Timestamp` and `x-acs-date`.
//! * [`sign`] — the client side of both versions, for tests and the load
//!   generator.
//!
//! Every comparison of a computed signature with a provided one is constant
//! time. Policy — which headers must be signed, timestamp windows, nonce
//! replay, error codes of section (d) — belongs to the caller.

pub mod acs3;
pub mod params;
pub mod sign;
pub mod timestamp;
pub mod v1;

pub use params::{ParamError, Params, percent_encode, percent_encode_into};
pub use timestamp::{format_timestamp, parse_timestamp};

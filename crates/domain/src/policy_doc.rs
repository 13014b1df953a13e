//! The RAM policy language (reference aliyun-rpc.md §e.12): parsing a
//! document into [`PolicyDocument`], writing it back
//! ([`PolicyDocument::to_json`]), and the conditions of its statements.
//!
//! Wire map:
//! ```json
//! {"Version":"1","Statement":[{"Effect":"Allow"|"Deny",
//!   "Action":"svc:Name"|[...], "Resource":"acs:svc:region:account:id"|[...],
//!   "Condition":{"<Operator>":{"<key>":value|[values]}}}]}
//! ```
//!
//! The text is read with `serde_json` into a [`Value`] and walked by hand,
//! so that every refusal ([`MalformedPolicy`]) names the path of the bad
//! part: `Statement[1].Effect must be "Allow" or "Deny"`,
//! `Statement[0].Condition.IpAddress."acs:SourceIp"[1] is not an IP
//! address or CIDR block: 10.0.0.300/8`, `the document is not valid JSON
//! at line 3 column 5: …`.
//!
//! # Choices where the reference is silent (\[INF\], each one tested)
//!
//! * A document is at most 6,144 characters (Unicode scalar values, not
//!   bytes; reference §e.11). The length is checked before anything else.
//! * `Version` must be the string `"1"` (not the number 1).
//! * `Statement` is a non-empty list of statements, or a single statement
//!   object (the vendor's console accepts both). Paths then read
//!   `Statement.Effect` instead of `Statement[0].Effect`.
//! * Unknown keys at the top level or in a statement are refused, naming
//!   the key (`Id`, `Sid`, `NotAction`, `NotResource`, `Principal`
//!   included: they are not part of the RAM identity-policy language we
//!   serve). Key names and `Effect` values are case-sensitive.
//! * A key given twice in one JSON object keeps its last value (what
//!   `serde_json` does); nothing is merged.
//! * `Action` entries are `*` or `<service>:<name>` with exactly one colon,
//!   both parts non-empty, made of ASCII letters, digits, `-`, `_`, `.`,
//!   `*` and `?`. `Resource` entries are `*` or an ARN
//!   `acs:<service>:<region>:<account>:<relative-id>`: five
//!   colon-separated parts (the relative id may itself hold colons), the
//!   service and the relative id non-empty, region and account possibly
//!   empty (`acs:ram::123:role/x` is how the vendor writes role ARNs), no
//!   control characters. Both may use `*` and `?`. Empty strings, empty
//!   lists and non-string entries are refused.
//! * `Condition`, when present, is a non-empty object of operators, each a
//!   non-empty object of keys, each a value or a non-empty list of values
//!   (strings, numbers or booleans). Values are checked against their
//!   operator when the document is parsed, so a bad CIDR or date is refused
//!   up front, never ignored at evaluation:
//!   - `Numeric*`: a finite decimal number, as a JSON number or a string
//!     (`5`, `"2.5"`, `"1e3"`).
//!   - `Date*`: an RFC 3339 date-time (`2026-01-01T00:00:00Z`, fractions
//!     of a second and offsets such as `+08:00` allowed); a date without a
//!     time or a number is refused.
//!   - `Bool`: `true` / `false` as JSON booleans or strings, in any case
//!     (`"True"`, as the vendor accepts for boolean parameters).
//!   - `IpAddress` / `NotIpAddress`: an IPv4 or IPv6 address (a /32 or
//!     /128) or a CIDR block; host bits after the prefix are ignored
//!     (`10.1.2.3/8` = `10.0.0.0/8`); a prefix is one to three decimal
//!     digits (`/08` is accepted, `/0008`, `/+8` and `/33` are not); no
//!     zone ids (`fe80::1%eth0`) or brackets.
//!   - `String*`: any value, compared as text (numbers and booleans by
//!     their JSON spelling).
//!
//! # Conditions at evaluation
//!
//! Within one key the values are OR-ed; for a negated operator
//! (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`,
//! `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) the request's value
//! must match none of them. Keys within an operator, and operators, are
//! AND-ed (each key of each operator is one [`Condition`]; a statement
//! applies when all hold).
//!
//! * Condition keys compare ignoring ASCII case (`ACS:SOURCEIP` =
//!   `acs:SourceIp`); the global keys are `acs:SourceIp`,
//!   `acs:CurrentTime`, `acs:SecureTransport` and `acs:MFAPresent`
//!   ([`RequestContext::value`]).
//! * A key the request does not carry (an unknown key, or `acs:SourceIp`
//!   when the address is unknown) makes its condition false, for the
//!   negated operators as well: a statement never applies on missing
//!   evidence. (An `Allow` then does not allow, a `Deny` does not deny; a
//!   request that must be refused when its address is unknown needs an
//!   `Allow` with `IpAddress`, not a `Deny` with `NotIpAddress`.)
//! * So does a value of another type than the operator compares
//!   (`NumericEquals` on `acs:SourceIp`, `DateLessThan` on
//!   `acs:SecureTransport`): it is treated like an absent key. The
//!   `String*` operators compare any value by its text: an address as
//!   `std` prints it (`10.0.0.1`, `2001:db8::1`), the time in RFC 3339,
//!   a boolean as `true` / `false`.
//! * `StringLike` uses the action/resource wildcards (`*`, `?`) and is
//!   case-sensitive; `StringEqualsIgnoreCase` compares after Unicode
//!   lower-casing.
//! * Dates compare as instants (`14:00+02:00` = `12:00Z`).
//! * An IPv4 block also matches the IPv4-mapped IPv6 form of its addresses
//!   (`::ffff:10.1.2.3` is in `10.0.0.0/8`), as a dual-stack listener
//!   reports IPv4 peers that way; otherwise IPv4 blocks never match IPv6
//!   addresses and IPv6 blocks never match IPv4 addresses (`::/0` does not
//!   match `10.0.0.1`).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::policy::{Effect, PolicyDocument, Statement, wildcard_match};

/// Longest document accepted, in characters (reference §e.11).
pub const MAX_DOCUMENT_CHARS: usize = 6144;

/// Why a document was refused; the message points at the bad part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPolicy(pub String);

impl fmt::Display for MalformedPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MalformedPolicy {}

fn bad(msg: impl Into<String>) -> MalformedPolicy {
    MalformedPolicy(msg.into())
}

// ---- the request ----

/// What a request brings for conditions to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    /// `acs:CurrentTime`.
    pub current_time: OffsetDateTime,
    /// `acs:SourceIp`, when known.
    pub source_ip: Option<IpAddr>,
    /// `acs:SecureTransport`.
    pub secure_transport: bool,
    /// `acs:MFAPresent`.
    pub mfa_present: bool,
}

impl RequestContext {
    /// At `time`, from an unknown address, over plain transport, no MFA.
    pub fn at(time: OffsetDateTime) -> Self {
        Self {
            current_time: time,
            source_ip: None,
            secure_transport: false,
            mfa_present: false,
        }
    }

    /// The request's value for a condition key (compared ignoring ASCII
    /// case); `None` when the request does not carry it.
    pub fn value(&self, key: &str) -> Option<ContextValue<'static>> {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("acs:SourceIp") {
            self.source_ip.map(ContextValue::Ip)
        } else if is("acs:CurrentTime") {
            Some(ContextValue::Date(self.current_time))
        } else if is("acs:SecureTransport") {
            Some(ContextValue::Bool(self.secure_transport))
        } else if is("acs:MFAPresent") {
            Some(ContextValue::Bool(self.mfa_present))
        } else {
            None
        }
    }
}

/// A request's value for a condition key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ContextValue<'a> {
    Str(&'a str),
    Num(f64),
    Date(OffsetDateTime),
    Bool(bool),
    Ip(IpAddr),
}

impl ContextValue<'_> {
    /// The value as the `String*` operators see it.
    fn text(&self) -> Cow<'_, str> {
        match self {
            ContextValue::Str(s) => Cow::Borrowed(s),
            ContextValue::Num(n) => Cow::Owned(n.to_string()),
            ContextValue::Date(t) => Cow::Owned(t.format(&Rfc3339).unwrap_or_default()),
            ContextValue::Bool(true) => Cow::Borrowed("true"),
            ContextValue::Bool(false) => Cow::Borrowed("false"),
            ContextValue::Ip(ip) => Cow::Owned(ip.to_string()),
        }
    }
}

// ---- operators ----

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

/// How a request's value is set against one of the condition's values
/// (`request <cmp> value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, actual: T, expected: T) -> bool {
        match self {
            Cmp::Eq => actual == expected,
            Cmp::Lt => actual < expected,
            Cmp::Le => actual <= expected,
            Cmp::Gt => actual > expected,
            Cmp::Ge => actual >= expected,
        }
    }
}

/// What an operator compares, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Text { ignore_case: bool, like: bool },
    Number(Cmp),
    Date(Cmp),
    Bool,
    Ip,
}

impl Operator {
    pub const ALL: &'static [Operator] = &[
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringEqualsIgnoreCase,
        Operator::StringNotEqualsIgnoreCase,
        Operator::StringLike,
        Operator::StringNotLike,
        Operator::NumericEquals,
        Operator::NumericNotEquals,
        Operator::NumericLessThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThan,
        Operator::NumericGreaterThanEquals,
        Operator::DateEquals,
        Operator::DateNotEquals,
        Operator::DateLessThan,
        Operator::DateLessThanEquals,
        Operator::DateGreaterThan,
        Operator::DateGreaterThanEquals,
        Operator::Bool,
        Operator::IpAddress,
        Operator::NotIpAddress,
    ];

    /// The operator's name in a document (exact case).
    pub fn name(self) -> &'static str {
        use Operator as O;
        match self {
            O::StringEquals => "StringEquals",
            O::StringNotEquals => "StringNotEquals",
            O::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            O::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            O::StringLike => "StringLike",
            O::StringNotLike => "StringNotLike",
            O::NumericEquals => "NumericEquals",
            O::NumericNotEquals => "NumericNotEquals",
            O::NumericLessThan => "NumericLessThan",
            O::NumericLessThanEquals => "NumericLessThanEquals",
            O::NumericGreaterThan => "NumericGreaterThan",
            O::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            O::DateEquals => "DateEquals",
            O::DateNotEquals => "DateNotEquals",
            O::DateLessThan => "DateLessThan",
            O::DateLessThanEquals => "DateLessThanEquals",
            O::DateGreaterThan => "DateGreaterThan",
            O::DateGreaterThanEquals => "DateGreaterThanEquals",
            O::Bool => "Bool",
            O::IpAddress => "IpAddress",
            O::NotIpAddress => "NotIpAddress",
        }
    }

    /// The operator of that name (exact case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.name() == name)
    }

    /// True for operators that hold when no value matches.
    pub fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
        )
    }

    fn test(self) -> Test {
        use Operator as O;
        let text = |ignore_case, like| Test::Text { ignore_case, like };
        match self {
            O::StringEquals | O::StringNotEquals => text(false, false),
            O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => text(true, false),
            O::StringLike | O::StringNotLike => text(false, true),
            O::NumericEquals | O::NumericNotEquals => Test::Number(Cmp::Eq),
            O::NumericLessThan => Test::Number(Cmp::Lt),
            O::NumericLessThanEquals => Test::Number(Cmp::Le),
            O::NumericGreaterThan => Test::Number(Cmp::Gt),
            O::NumericGreaterThanEquals => Test::Number(Cmp::Ge),
            O::DateEquals | O::DateNotEquals => Test::Date(Cmp::Eq),
            O::DateLessThan => Test::Date(Cmp::Lt),
            O::DateLessThanEquals => Test::Date(Cmp::Le),
            O::DateGreaterThan => Test::Date(Cmp::Gt),
            O::DateGreaterThanEquals => Test::Date(Cmp::Ge),
            O::Bool => Test::Bool,
            O::IpAddress | O::NotIpAddress => Test::Ip,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---- IP networks ----

/// An IP network (a single address is a /32 or /128). Parsed and matched
/// with `std` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `a.b.c.d`, `a.b.c.d/n` (n ≤ 32), an IPv6 address, or `v6/n`
    /// (n ≤ 128).
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|n| *n <= max)?
            }
            Some(_) => return None,
        };
        Some(Self { addr, prefix })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the network (see the module docs for IPv4-
    /// mapped IPv6 addresses).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                // /0 shifts by 32: no bits compared.
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            // An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is its IPv4 address.
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

// ---- conditions ----

/// A condition value, checked against its operator when parsed.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Str(String),
    /// Finite.
    Num(f64),
    Date(OffsetDateTime),
    Bool(bool),
    Net(IpNet),
}

impl Expected {
    fn to_json(&self) -> Value {
        match self {
            Expected::Str(s) => Value::String(s.clone()),
            // Integers as JSON numbers; other values as the shortest
            // decimal that reads back exactly, in a string (`serde_json`
            // may round a JSON fraction in the last place; `f64::from_str`
            // does not).
            Expected::Num(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
                Value::from(*n as i64)
            }
            Expected::Num(n) => Value::String(n.to_string()),
            Expected::Date(t) => Value::String(t.format(&Rfc3339).unwrap_or_default()),
            Expected::Bool(b) => Value::Bool(*b),
            Expected::Net(n) => Value::String(n.to_string()),
        }
    }
}

/// One key of one operator: `"<Operator>": {"<key>": [values]}`. A
/// statement's conditions are all AND-ed.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Operator,
    /// The key as written; it matches the request's keys ignoring ASCII
    /// case.
    pub key: String,
    /// Never empty; OR-ed.
    values: Vec<Expected>,
}

// Numbers are finite (checked when parsed), so equality is total.
impl Eq for Condition {}

impl Condition {
    /// Whether the request satisfies this condition.
    pub fn holds(&self, ctx: &RequestContext) -> bool {
        self.holds_for(ctx.value(&self.key))
    }

    /// Whether a request whose value for [`Self::key`] is `actual`
    /// (`None`: the request does not carry the key) satisfies this
    /// condition.
    pub fn holds_for(&self, actual: Option<ContextValue<'_>>) -> bool {
        let Some(actual) = actual else {
            return false;
        };
        let values = &self.values;
        let any = match (self.op.test(), actual) {
            (Test::Text { ignore_case, like }, actual) => {
                let text = actual.text();
                values.iter().any(|v| match v {
                    Expected::Str(s) if like => wildcard_match(s, &text, false),
                    Expected::Str(s) if ignore_case => s
                        .chars()
                        .flat_map(char::to_lowercase)
                        .eq(text.chars().flat_map(char::to_lowercase)),
                    Expected::Str(s) => *s == *text,
                    _ => false,
                })
            }
            (Test::Number(cmp), ContextValue::Num(n)) => values
                .iter()
                .any(|v| matches!(v, Expected::Num(e) if cmp.holds(n, *e))),
            (Test::Date(cmp), ContextValue::Date(t)) => values
                .iter()
                .any(|v| matches!(v, Expected::Date(e) if cmp.holds(t, *e))),
            (Test::Bool, ContextValue::Bool(b)) => values
                .iter()
                .any(|v| matches!(v, Expected::Bool(e) if *e == b)),
            (Test::Ip, ContextValue::Ip(ip)) => values
                .iter()
                .any(|v| matches!(v, Expected::Net(n) if n.contains(ip))),
            // A value the operator cannot compare: as if absent.
            _ => return false,
        };
        any != self.op.negated()
    }
}

// ---- parsing ----

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string or a non-empty list of strings, each checked by `check`.
fn strings(
    v: &Value,
    path: &str,
    check: fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<String>, MalformedPolicy> {
    let one = |s: &Value, at: &str| -> Result<String, MalformedPolicy> {
        match s {
            Value::String(s) => {
                check(s).map_err(|why| bad(format!("{at} {why}: {s:?}")))?;
                Ok(s.clone())
            }
            other => Err(bad(format!(
                "{at} must be a string, not {}",
                kind_of(other)
            ))),
        }
    };
    match v {
        Value::Array(items) if items.is_empty() => Err(bad(format!("{path} must not be empty"))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| one(s, &format!("{path}[{i}]")))
            .collect(),
        other => Ok(vec![one(other, path)?]),
    }
}

fn check_action(s: &str) -> Result<(), &'static str> {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.*?".contains(&b))
    };
    match s.split_once(':') {
        _ if s == "*" => Ok(()),
        Some((svc, name)) if part(svc) && part(name) => Ok(()),
        _ => Err("is not an action (`*` or `<service>:<action>`)"),
    }
}

fn check_resource(s: &str) -> Result<(), &'static str> {
    if s == "*" {
        return Ok(());
    }
    let mut parts = s.splitn(5, ':');
    let ok = parts.next() == Some("acs")
        && parts.next().is_some_and(|svc| !svc.is_empty())
        && parts.next().is_some()
        && parts.next().is_some()
        && parts.next().is_some_and(|id| !id.is_empty())
        && !s.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err("is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`)")
    }
}

fn expected(op: Operator, v: &Value, at: &str) -> Result<Expected, MalformedPolicy> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(bad(format!(
                "{at} must be a string, number or boolean, not {}",
                kind_of(other)
            )));
        }
    };
    Ok(match op.test() {
        Test::Text { .. } => Expected::Str(text),
        Test::Number(_) => Expected::Num(
            text.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad(format!("{at} is not a number: {text:?}")))?,
        ),
        Test::Date(_) => Expected::Date(OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
            bad(format!(
                "{at} is not an RFC 3339 date and time (like 2026-01-01T00:00:00Z): {text:?}"
            ))
        })?),
        Test::Bool => Expected::Bool(if text.eq_ignore_ascii_case("true") {
            true
        } else if text.eq_ignore_ascii_case("false") {
            false
        } else {
            return Err(bad(format!("{at} is not true or false: {text:?}")));
        }),
        Test::Ip => Expected::Net(
            IpNet::parse(&text)
                .ok_or_else(|| bad(format!("{at} is not an IP address or CIDR block: {text}")))?,
        ),
    })
}

fn conditions(v: &Value, path: &str) -> Result<Vec<Condition>, MalformedPolicy> {
    let Value::Object(ops) = v else {
        return Err(bad(format!("{path} must be an object, not {}", kind_of(v))));
    };
    if ops.is_empty() {
        return Err(bad(format!("{path} must not be empty")));
    }
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let op = Operator::parse(op_name)
            .ok_or_else(|| bad(format!("{path} has an unknown operator {op_name:?}")))?;
        let at = format!("{path}.{op_name}");
        let Value::Object(keys) = keys else {
            return Err(bad(format!(
                "{at} must be an object, not {}",
                kind_of(keys)
            )));
        };
        if keys.is_empty() {
            return Err(bad(format!("{at} must not be empty")));
        }
        for (key, values) in keys {
            if key.is_empty() {
                return Err(bad(format!("{at} has an empty condition key")));
            }
            let at = format!("{at}.{key:?}");
            let values = match values {
                Value::Array(items) if items.is_empty() => {
                    return Err(bad(format!("{at} must not be empty")));
                }
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| expected(op, v, &format!("{at}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                one => vec![expected(op, one, &at)?],
            };
            out.push(Condition {
                op,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn statement(v: &Value, path: &str) -> Result<Statement, MalformedPolicy> {
    let Value::Object(fields) = v else {
        return Err(bad(format!("{path} must be an object, not {}", kind_of(v))));
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "Effect" | "Action" | "Resource" | "Condition"))
    {
        return Err(bad(format!("{path} has an unsupported element {key:?}")));
    }
    let effect = match fields.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(_) => return Err(bad(format!("{path}.Effect must be \"Allow\" or \"Deny\""))),
        None => return Err(bad(format!("{path}.Effect is missing"))),
    };
    let actions = match fields.get("Action") {
        Some(v) => strings(v, &format!("{path}.Action"), check_action)?,
        None => return Err(bad(format!("{path}.Action is missing"))),
    };
    let resources = match fields.get("Resource") {
        Some(v) => strings(v, &format!("{path}.Resource"), check_resource)?,
        None => return Err(bad(format!("{path}.Resource is missing"))),
    };
    let conditions = match fields.get("Condition") {
        Some(v) => conditions(v, &format!("{path}.Condition"))?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        conditions,
    })
}

/// `serde_json`'s message, with the position first.
fn not_json(e: &serde_json::Error) -> MalformedPolicy {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let what = full
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&full);
    bad(format!(
        "the document is not valid JSON at line {line} column {column}: {what}"
    ))
}

impl PolicyDocument {
    /// Parses and checks a policy document (see the module docs for the
    /// grammar and the messages).
    pub fn parse(text: &str) -> Result<Self, MalformedPolicy> {
        if text.len() > MAX_DOCUMENT_CHARS {
            let n = text.chars().count();
            if n > MAX_DOCUMENT_CHARS {
                return Err(bad(format!(
                    "the document has {n} characters; at most {MAX_DOCUMENT_CHARS} are allowed"
                )));
            }
        }
        let v: Value = serde_json::from_str(text).map_err(|e| not_json(&e))?;
        let Value::Object(top) = &v else {
            return Err(bad(format!(
                "the document must be a JSON object, not {}",
                kind_of(&v)
            )));
        };
        if let Some(key) = top.keys().find(|k| *k != "Version" && *k != "Statement") {
            return Err(bad(format!(
                "the document has an unsupported element {key:?}"
            )));
        }
        match top.get("Version") {
            Some(Value::String(s)) if s == "1" => {}
            Some(_) => return Err(bad("Version must be \"1\"")),
            None => return Err(bad("Version is missing")),
        }
        let statements = match top.get("Statement") {
            None => return Err(bad("Statement is missing")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(bad("Statement must not be empty"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, s)| statement(s, &format!("Statement[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(one @ Value::Object(_)) => vec![statement(one, "Statement")?],
            Some(other) => {
                return Err(bad(format!(
                    "Statement must be a statement or a list of statements, not {}",
                    kind_of(other)
                )));
            }
        };
        Ok(PolicyDocument { statements })
    }

    /// The document in the policy language: `Statement`, `Action`,
    /// `Resource` and condition values always as lists. [`Self::parse`]
    /// gives back an equal document for any document it accepted (and for
    /// any built in code whose patterns it would accept).
    pub fn to_json(&self) -> String {
        let statements: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut st = Map::new();
                let effect = match s.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                };
                st.insert("Effect".into(), effect.into());
                st.insert("Action".into(), s.actions.clone().into());
                st.insert("Resource".into(), s.resources.clone().into());
                if !s.conditions.is_empty() {
                    let mut ops = Map::new();
                    for c in &s.conditions {
                        let keys = ops
                            .entry(c.op.name())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(keys) = keys {
                            keys.insert(
                                c.key.clone(),
                                Value::Array(c.values.iter().map(Expected::to_json).collect()),
                            );
                        }
                    }
                    st.insert("Condition".into(), Value::Object(ops));
                }
                Value::Object(st)
            })
            .collect();
        serde_json::json!({"Version": "1", "Statement": statements}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn err(text: &str) -> String {
        match PolicyDocument::parse(text) {
            Ok(d) => panic!("accepted: {text}\n{d:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A document of one statement with the given JSON members.
    fn with(members: &str) -> String {
        format!(r#"{{"Version":"1","Statement":[{{{members}}}]}}"#)
    }

    /// A document of one `Allow * on *` statement with this `Condition`.
    fn with_condition(condition: &str) -> String {
        with(&format!(
            r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}"#
        ))
    }

    #[test]
    fn every_refusal_names_the_bad_part() {
        let ok = r#""Effect":"Allow","Action":"*","Resource":"*""#;
        let cases: Vec<(String, &str)> = vec![
            (
                "{".into(),
                "the document is not valid JSON at line 1 column 1: EOF while parsing an object",
            ),
            (
                "{\n  \"Version\": \"1\",\n    x\n}".into(),
                "the document is not valid JSON at line 3 column 5: key must be a string",
            ),
            (
                String::new(),
                "the document is not valid JSON at line 1 column 0: EOF while parsing a value",
            ),
            (
                "[]".into(),
                "the document must be a JSON object, not a list",
            ),
            (
                r#""x""#.into(),
                "the document must be a JSON object, not a string",
            ),
            (r#"{"Statement":[]}"#.into(), "Version is missing"),
            (
                r#"{"Version":"2","Statement":[]}"#.into(),
                r#"Version must be "1""#,
            ),
            (
                r#"{"Version":1,"Statement":[]}"#.into(),
                r#"Version must be "1""#,
            ),
            (r#"{"Version":"1"}"#.into(), "Statement is missing"),
            (
                r#"{"Version":"1","Statement":[]}"#.into(),
                "Statement must not be empty",
            ),
            (
                r#"{"Version":"1","Statement":"x"}"#.into(),
                "Statement must be a statement or a list of statements, not a string",
            ),
            (
                r#"{"Version":"1","Id":"x","Statement":[]}"#.into(),
                r#"the document has an unsupported element "Id""#,
            ),
            (
                r#"{"version":"1","Statement":[]}"#.into(),
                r#"the document has an unsupported element "version""#,
            ),
            (
                r#"{"Version":"1","Statement":[1]}"#.into(),
                "Statement[0] must be an object, not a number",
            ),
            (
                format!(
                    r#"{{"Version":"1","Statement":[{{{ok}}},{{"Effect":"allow","Action":"*","Resource":"*"}}]}}"#
                ),
                r#"Statement[1].Effect must be "Allow" or "Deny""#,
            ),
            (
                with(r#""Effect":true,"Action":"*","Resource":"*""#),
                r#"Statement[0].Effect must be "Allow" or "Deny""#,
            ),
            (
                r#"{"Version":"1","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}"#
                    .into(),
                r#"Statement.Effect must be "Allow" or "Deny""#,
            ),
            (
                with(r#""Action":"*","Resource":"*""#),
                "Statement[0].Effect is missing",
            ),
            (
                with(r#""Effect":"Allow","Resource":"*""#),
                "Statement[0].Action is missing",
            ),
            (
                with(r#""Effect":"Allow","Action":"*""#),
                "Statement[0].Resource is missing",
            ),
            (
                with(r#""Effect":"Allow","Action":[],"Resource":"*""#),
                "Statement[0].Action must not be empty",
            ),
            (
                with(r#""Effect":"Allow","Action":{},"Resource":"*""#),
                "Statement[0].Action must be a string, not an object",
            ),
            (
                with(r#""Effect":"Allow","Action":["ram:GetUser",""],"Resource":"*""#),
                r#"Statement[0].Action[1] is not an action (`*` or `<service>:<action>`): """#,
            ),
            (
                with(r#""Effect":"Allow","Action":["ram:GetUser",7],"Resource":"*""#),
                "Statement[0].Action[1] must be a string, not a number",
            ),
            (
                with(r#""Effect":"Allow","Action":"GetUser","Resource":"*""#),
                r#"Statement[0].Action is not an action (`*` or `<service>:<action>`): "GetUser""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"ram:","Resource":"*""#),
                r#"Statement[0].Action is not an action (`*` or `<service>:<action>`): "ram:""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"ram:Get:User","Resource":"*""#),
                r#"Statement[0].Action is not an action (`*` or `<service>:<action>`): "ram:Get:User""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"ram:Get User","Resource":"*""#),
                r#"Statement[0].Action is not an action (`*` or `<service>:<action>`): "ram:Get User""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::x""#),
                r#"Statement[0].Resource is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`): "arn:aws:s3:::x""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":["*","acs:ram:*:1"]"#),
                r#"Statement[0].Resource[1] is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`): "acs:ram:*:1""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":"acs::*:1:user/a""#),
                r#"Statement[0].Resource is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`): "acs::*:1:user/a""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":"acs:ram:*:1:""#),
                r#"Statement[0].Resource is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`): "acs:ram:*:1:""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":"acs:ram:*:1:user/\n""#),
                r#"Statement[0].Resource is not a resource (`*` or `acs:<service>:<region>:<account>:<relative-id>`): "acs:ram:*:1:user/\n""#,
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":[]"#),
                "Statement[0].Resource must not be empty",
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":[3]"#),
                "Statement[0].Resource[0] must be a string, not a number",
            ),
            (
                with(r#""Effect":"Allow","Action":"*","Resource":null"#),
                "Statement[0].Resource must be a string, not null",
            ),
            (
                with(r#""Effect":"Allow","NotAction":"*","Resource":"*""#),
                r#"Statement[0] has an unsupported element "NotAction""#,
            ),
            (
                with(r#""Sid":"x","Effect":"Allow","Action":"*","Resource":"*""#),
                r#"Statement[0] has an unsupported element "Sid""#,
            ),
            (
                with_condition("[]"),
                "Statement[0].Condition must be an object, not a list",
            ),
            (
                with_condition("{}"),
                "Statement[0].Condition must not be empty",
            ),
            (
                with_condition(r#"{"StringEqualz":{"k":"v"}}"#),
                r#"Statement[0].Condition has an unknown operator "StringEqualz""#,
            ),
            (
                with_condition(r#"{"stringequals":{"k":"v"}}"#),
                r#"Statement[0].Condition has an unknown operator "stringequals""#,
            ),
            (
                with_condition(r#"{"StringEquals":"v"}"#),
                "Statement[0].Condition.StringEquals must be an object, not a string",
            ),
            (
                with_condition(r#"{"StringEquals":{}}"#),
                "Statement[0].Condition.StringEquals must not be empty",
            ),
            (
                with_condition(r#"{"StringEquals":{"":"v"}}"#),
                "Statement[0].Condition.StringEquals has an empty condition key",
            ),
            (
                with_condition(r#"{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.300/8"]}}"#),
                r#"Statement[0].Condition.IpAddress."acs:SourceIp"[1] is not an IP address or CIDR block: 10.0.0.300/8"#,
            ),
            (
                with_condition(r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}"#),
                r#"Statement[0].Condition.IpAddress."acs:SourceIp" is not an IP address or CIDR block: 10.0.0.0/33"#,
            ),
            (
                with_condition(r#"{"NotIpAddress":{"acs:SourceIp":"2001:db8::/129"}}"#),
                r#"Statement[0].Condition.NotIpAddress."acs:SourceIp" is not an IP address or CIDR block: 2001:db8::/129"#,
            ),
            (
                with_condition(r#"{"IpAddress":{"acs:SourceIp":"localhost"}}"#),
                r#"Statement[0].Condition.IpAddress."acs:SourceIp" is not an IP address or CIDR block: localhost"#,
            ),
            (
                with_condition(r#"{"IpAddress":{"acs:SourceIp":true}}"#),
                r#"Statement[0].Condition.IpAddress."acs:SourceIp" is not an IP address or CIDR block: true"#,
            ),
            (
                with_condition(r#"{"DateLessThan":{"acs:CurrentTime":"tomorrow"}}"#),
                r#"Statement[0].Condition.DateLessThan."acs:CurrentTime" is not an RFC 3339 date and time (like 2026-01-01T00:00:00Z): "tomorrow""#,
            ),
            (
                with_condition(
                    r#"{"DateGreaterThan":{"acs:CurrentTime":["2026-01-01T00:00:00Z","2026-01-01"]}}"#,
                ),
                r#"Statement[0].Condition.DateGreaterThan."acs:CurrentTime"[1] is not an RFC 3339 date and time (like 2026-01-01T00:00:00Z): "2026-01-01""#,
            ),
            (
                with_condition(r#"{"DateEquals":{"acs:CurrentTime":1767225600}}"#),
                r#"Statement[0].Condition.DateEquals."acs:CurrentTime" is not an RFC 3339 date and time (like 2026-01-01T00:00:00Z): "1767225600""#,
            ),
            (
                with_condition(r#"{"DateEquals":{"acs:CurrentTime":"2026-13-01T00:00:00Z"}}"#),
                r#"Statement[0].Condition.DateEquals."acs:CurrentTime" is not an RFC 3339 date and time (like 2026-01-01T00:00:00Z): "2026-13-01T00:00:00Z""#,
            ),
            (
                with_condition(r#"{"NumericLessThan":{"k":"ten"}}"#),
                r#"Statement[0].Condition.NumericLessThan."k" is not a number: "ten""#,
            ),
            (
                with_condition(r#"{"NumericEquals":{"k":[1,"NaN"]}}"#),
                r#"Statement[0].Condition.NumericEquals."k"[1] is not a number: "NaN""#,
            ),
            (
                with_condition(r#"{"NumericEquals":{"k":"inf"}}"#),
                r#"Statement[0].Condition.NumericEquals."k" is not a number: "inf""#,
            ),
            (
                with_condition(r#"{"NumericEquals":{"k":true}}"#),
                r#"Statement[0].Condition.NumericEquals."k" is not a number: "true""#,
            ),
            (
                with_condition(r#"{"Bool":{"acs:SecureTransport":"yes"}}"#),
                r#"Statement[0].Condition.Bool."acs:SecureTransport" is not true or false: "yes""#,
            ),
            (
                with_condition(r#"{"Bool":{"acs:SecureTransport":1}}"#),
                r#"Statement[0].Condition.Bool."acs:SecureTransport" is not true or false: "1""#,
            ),
            (
                with_condition(r#"{"Bool":{"acs:SecureTransport":[]}}"#),
                r#"Statement[0].Condition.Bool."acs:SecureTransport" must not be empty"#,
            ),
            (
                with_condition(r#"{"Bool":{"acs:SecureTransport":{"a":1}}}"#),
                r#"Statement[0].Condition.Bool."acs:SecureTransport" must be a string, number or boolean, not an object"#,
            ),
            (
                with_condition(r#"{"StringEquals":{"k":["a",null]}}"#),
                r#"Statement[0].Condition.StringEquals."k"[1] must be a string, number or boolean, not null"#,
            ),
            (
                with_condition(r#"{"StringEquals":{"k":[["a"]]}}"#),
                r#"Statement[0].Condition.StringEquals."k"[0] must be a string, number or boolean, not a list"#,
            ),
        ];
        for (doc, want) in &cases {
            assert_eq!(err(doc), *want, "{doc}");
        }
    }

    #[test]
    fn the_length_limit_counts_characters() {
        // A document of exactly `n` characters.
        let sized = |n: usize, filler: char| {
            let head = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"acs:ram:*:1:user/"#;
            let tail = r#""}]}"#;
            let pad: String = std::iter::repeat_n(filler, n - head.len() - tail.len()).collect();
            format!("{head}{pad}{tail}")
        };
        assert!(PolicyDocument::parse(&sized(MAX_DOCUMENT_CHARS, 'a')).is_ok());
        assert_eq!(
            err(&sized(MAX_DOCUMENT_CHARS + 1, 'a')),
            "the document has 6145 characters; at most 6144 are allowed"
        );
        // 6,144 characters of three bytes each: accepted.
        let wide = sized(MAX_DOCUMENT_CHARS, '用');
        assert!(wide.len() > 2 * MAX_DOCUMENT_CHARS);
        assert!(PolicyDocument::parse(&wide).is_ok());
        assert_eq!(
            err(&sized(MAX_DOCUMENT_CHARS + 1, '用')),
            "the document has 6145 characters; at most 6144 are allowed"
        );
    }

    #[test]
    fn accepted_shapes() {
        // A single statement object.
        let d = PolicyDocument::parse(
            r#"{"Version":"1","Statement":{"Effect":"Deny","Action":["ram:*"],"Resource":"acs:ram:*:*:user/*"}}"#,
        )
        .unwrap();
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.statements[0].effect, Effect::Deny);
        assert_eq!(d.statements[0].actions, ["ram:*"]);
        assert_eq!(d.statements[0].resources, ["acs:ram:*:*:user/*"]);
        assert!(d.statements[0].conditions.is_empty());
        // Strings or lists; the order of members is free; whitespace.
        let d = PolicyDocument::parse(
            "{ \"Statement\" : [ { \"Resource\" : [\"acs:ram::1234567890123456:role/admin\", \"acs:ecs:cn-hangzhou:*:instance/i-1:x\"],\n \"Action\" : \"*:Describe*\", \"Effect\" : \"Allow\" } ], \"Version\" : \"1\" }",
        )
        .unwrap();
        assert_eq!(d.statements[0].actions, ["*:Describe*"]);
        assert_eq!(d.statements[0].resources.len(), 2);
        // A key given twice: the last one counts.
        let d = PolicyDocument::parse(
            r#"{"Version":"2","Version":"1","Statement":{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(d.statements[0].effect, Effect::Allow);
        // Every operator, values of every accepted form.
        let doc = with_condition(
            r#"{
            "StringEquals":{"a":"x","b":5,"c":true},
            "StringNotEquals":{"a":["x","y"]},
            "StringEqualsIgnoreCase":{"a":"X"},
            "StringNotEqualsIgnoreCase":{"a":"X"},
            "StringLike":{"a":"x*"},
            "StringNotLike":{"a":"x?"},
            "NumericEquals":{"n":5},
            "NumericNotEquals":{"n":"5"},
            "NumericLessThan":{"n":"-2.5"},
            "NumericLessThanEquals":{"n":1e3},
            "NumericGreaterThan":{"n":"1e3"},
            "NumericGreaterThanEquals":{"n":[0,1]},
            "DateEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},
            "DateNotEquals":{"acs:CurrentTime":"2026-01-01T08:00:00+08:00"},
            "DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00.5Z"},
            "DateLessThanEquals":{"acs:CurrentTime":"2026-01-01T00:00:00-05:30"},
            "DateGreaterThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},
            "DateGreaterThanEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},
            "Bool":{"acs:SecureTransport":["true",false,"True","FALSE"]},
            "IpAddress":{"acs:SourceIp":["10.0.0.1","10.0.0.0/8","::1","2001:db8::/32","0.0.0.0/0","::/0"]},
            "NotIpAddress":{"acs:SourceIp":"192.168.0.0/16"}}"#,
        );
        let d = PolicyDocument::parse(&doc).unwrap();
        assert_eq!(d.statements[0].conditions.len(), 23);
        let ops: Vec<Operator> = d.statements[0].conditions.iter().map(|c| c.op).collect();
        for op in Operator::ALL {
            assert!(ops.contains(op), "{op}");
        }
    }

    #[test]
    fn writing_back_gives_the_same_document() {
        for text in [
            with(r#""Effect":"Allow","Action":"*","Resource":"*""#),
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["ram:Get*","ram:List?"],"Resource":["acs:ram:*:1:user/*","*"]},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
            with_condition(
                r#"{"StringEquals":{"A":["x",5,true]},"NumericLessThan":{"n":[5,"2.5",1e3]},
                    "DateLessThan":{"acs:CurrentTime":"2026-01-01T08:00:00+08:00"},
                    "Bool":{"acs:MFAPresent":"True","ACS:MFAPRESENT":false},
                    "IpAddress":{"acs:SourceIp":["10.1.2.3/8","2001:DB8::1","::/0"]}}"#,
            ),
        ] {
            let d = PolicyDocument::parse(&text).unwrap();
            let json = d.to_json();
            assert_eq!(PolicyDocument::parse(&json).unwrap(), d, "{json}");
        }
        // A fraction `serde_json` reads one ulp off from `f64::from_str`
        // (found by the property test below): written back exactly.
        let d = PolicyDocument::parse(&with_condition(
            r#"{"NumericLessThan":{"k":[-229177106.01921666,"-229177106.01921666"]}}"#,
        ))
        .unwrap();
        assert_eq!(PolicyDocument::parse(&d.to_json()).unwrap(), d);
        // Documents built in code (CertCentral roles) write out too.
        let role = crate::certcentral::AccessRole::Administrator.policy();
        assert_eq!(PolicyDocument::parse(&role.to_json()).unwrap(), role);
    }

    fn ctx() -> RequestContext {
        RequestContext {
            current_time: datetime!(2026-06-01 12:00:00 UTC),
            source_ip: Some("10.1.2.3".parse().unwrap()),
            secure_transport: false,
            mfa_present: false,
        }
    }

    /// The statement's conditions, parsed from one `Condition` object.
    fn parsed(condition: &str) -> Vec<Condition> {
        let doc = with_condition(condition);
        let d = PolicyDocument::parse(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        d.statements.into_iter().next().unwrap().conditions
    }

    fn cond(op: &str, key: &str, values: &str, ctx: &RequestContext) -> bool {
        parsed(&format!(r#"{{"{op}":{{"{key}":{values}}}}}"#))
            .iter()
            .all(|c| c.holds(ctx))
    }

    /// Every operator that compares something the request carries, on
    /// both sides of its boundary. (Numeric operators: no global key is a
    /// number; see `numeric_operators`.)
    #[test]
    fn every_operator_both_ways() {
        let table: &[(&str, &str, &str, bool)] = &[
            ("IpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, true),
            ("IpAddress", "acs:SourceIp", r#""11.0.0.0/8""#, false),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.3""#, true),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.3/32""#, true),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.4/32""#, false),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.4/31""#, false),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.2/31""#, true),
            ("IpAddress", "acs:SourceIp", r#""0.0.0.0/0""#, true),
            ("IpAddress", "acs:SourceIp", r#""::/0""#, false),
            (
                "IpAddress",
                "acs:SourceIp",
                r#"["192.168.0.0/16","10.1.2.3"]"#,
                true,
            ),
            ("NotIpAddress", "acs:SourceIp", r#""192.168.0.0/16""#, true),
            ("NotIpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, false),
            (
                "NotIpAddress",
                "acs:SourceIp",
                r#"["192.168.0.0/16","10.0.0.0/8"]"#,
                false,
            ),
            ("NotIpAddress", "acs:SourceIp", r#""::/0""#, true),
            ("IpAddress", "ACS:SOURCEIP", r#""10.0.0.0/8""#, true),
            (
                "DateLessThan",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:01Z""#,
                true,
            ),
            (
                "DateLessThan",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                false,
            ),
            (
                "DateLessThanEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                true,
            ),
            (
                "DateLessThanEquals",
                "acs:CurrentTime",
                r#""2026-06-01T11:59:59.999Z""#,
                false,
            ),
            (
                "DateGreaterThan",
                "acs:CurrentTime",
                r#""2026-06-01T11:59:59Z""#,
                true,
            ),
            (
                "DateGreaterThan",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                false,
            ),
            (
                "DateGreaterThanEquals",
                "acs:CurrentTime",
                r#""2026-06-01T14:00:00+02:00""#,
                true,
            ),
            (
                "DateGreaterThanEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00.001Z""#,
                false,
            ),
            (
                "DateEquals",
                "acs:CurrentTime",
                r#""2026-06-01T20:00:00+08:00""#,
                true,
            ),
            (
                "DateEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:01Z""#,
                false,
            ),
            (
                "DateNotEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                false,
            ),
            (
                "DateNotEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:01Z""#,
                true,
            ),
            ("Bool", "acs:SecureTransport", r#""false""#, true),
            ("Bool", "acs:SecureTransport", "true", false),
            ("Bool", "acs:SecureTransport", r#"["true","FALSE"]"#, true),
            ("Bool", "acs:MFAPresent", r#"["True"]"#, false),
            ("Bool", "acs:MFAPresent", "false", true),
            ("StringEquals", "acs:SourceIp", r#""10.1.2.3""#, true),
            ("StringEquals", "acs:SourceIp", r#""10.1.2.30""#, false),
            (
                "StringEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                true,
            ),
            ("StringEquals", "acs:SecureTransport", "false", true),
            ("StringNotEquals", "acs:SourceIp", r#""10.1.2.3""#, false),
            ("StringNotEquals", "acs:SourceIp", r#""10.1.2.4""#, true),
            (
                "StringEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""FALSE""#,
                true,
            ),
            (
                "StringEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""TRUE""#,
                false,
            ),
            (
                "StringNotEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""TRUE""#,
                true,
            ),
            (
                "StringNotEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""False""#,
                false,
            ),
            ("StringLike", "acs:SourceIp", r#""10.1.*""#, true),
            ("StringLike", "acs:SourceIp", r#""10.?.2.3""#, true),
            ("StringLike", "acs:SourceIp", r#""10.??.2.3""#, false),
            ("StringNotLike", "acs:SourceIp", r#""10.1.*""#, false),
            ("StringNotLike", "acs:SourceIp", r#""192.*""#, true),
            // A value of another type than the operator compares: false,
            // negated or not.
            ("NumericLessThan", "acs:SourceIp", "5", false),
            ("NumericNotEquals", "acs:SourceIp", "5", false),
            (
                "DateNotEquals",
                "acs:SourceIp",
                r#""2026-06-01T12:00:00Z""#,
                false,
            ),
            ("IpAddress", "acs:CurrentTime", r#""0.0.0.0/0""#, false),
            (
                "NotIpAddress",
                "acs:SecureTransport",
                r#""10.0.0.0/8""#,
                false,
            ),
            ("Bool", "acs:SourceIp", "true", false),
            // A key the request does not carry: false, negated or not.
            ("StringEquals", "acs:UserAgent", r#""x""#, false),
            ("StringNotEquals", "acs:UserAgent", r#""x""#, false),
            ("StringNotLike", "acs:UserAgent", r#""x""#, false),
            ("NumericNotEquals", "acs:UserAgent", "1", false),
        ];
        for (op, key, values, want) in table {
            assert_eq!(cond(op, key, values, &ctx()), *want, "{op} {key} {values}");
        }
        // No address known: every address condition is false.
        let unknown = RequestContext {
            source_ip: None,
            ..ctx()
        };
        for (op, values) in [
            ("IpAddress", r#""0.0.0.0/0""#),
            ("NotIpAddress", r#""10.0.0.0/8""#),
            ("StringNotEquals", r#""x""#),
        ] {
            assert!(!cond(op, "acs:SourceIp", values, &unknown), "{op}");
        }
    }

    #[test]
    fn numeric_operators() {
        let n = |op: &str, values: &str, actual: f64| {
            parsed(&format!(r#"{{"{op}":{{"k":{values}}}}}"#))
                .iter()
                .all(|c| c.holds_for(Some(ContextValue::Num(actual))))
        };
        let table: &[(&str, &str, f64, bool)] = &[
            ("NumericEquals", "5", 5.0, true),
            ("NumericEquals", r#""5.0""#, 5.0, true),
            ("NumericEquals", "5", 5.5, false),
            ("NumericEquals", "[1,2,5]", 5.0, true),
            ("NumericNotEquals", "5", 5.0, false),
            ("NumericNotEquals", "5", 4.0, true),
            ("NumericNotEquals", "[4,5]", 4.0, false),
            ("NumericLessThan", "5", 4.999, true),
            ("NumericLessThan", "5", 5.0, false),
            ("NumericLessThanEquals", "5", 5.0, true),
            ("NumericLessThanEquals", "5", 5.001, false),
            ("NumericGreaterThan", r#""-1e3""#, -999.0, true),
            ("NumericGreaterThan", "5", 5.0, false),
            ("NumericGreaterThanEquals", "5", 5.0, true),
            ("NumericGreaterThanEquals", "5", 4.0, false),
            ("NumericGreaterThanEquals", "[10,4]", 4.0, true),
        ];
        for (op, values, actual, want) in table {
            assert_eq!(n(op, values, *actual), *want, "{op} {values} {actual}");
        }
        // A string value is not a number to compare; a number is text to
        // the string operators.
        let c = &parsed(r#"{"NumericEquals":{"k":5}}"#)[0];
        assert!(!c.holds_for(Some(ContextValue::Str("5"))));
        let c = &parsed(r#"{"StringEquals":{"k":"5"}}"#)[0];
        assert!(c.holds_for(Some(ContextValue::Num(5.0))));
        assert!(!c.holds_for(None));
    }

    #[test]
    fn string_operators_on_text() {
        let s = |op: &str, values: &str, actual: &str| {
            parsed(&format!(r#"{{"{op}":{{"k":{values}}}}}"#))
                .iter()
                .all(|c| c.holds_for(Some(ContextValue::Str(actual))))
        };
        assert!(s("StringEquals", r#""Ab""#, "Ab"));
        assert!(!s("StringEquals", r#""Ab""#, "ab"));
        assert!(s("StringEqualsIgnoreCase", r#""ÄB""#, "äb"));
        assert!(!s("StringNotEqualsIgnoreCase", r#""ÄB""#, "äb"));
        assert!(s("StringLike", r#""a*c""#, "abbbc"));
        assert!(!s("StringLike", r#""A*c""#, "abbbc"), "case-sensitive");
        assert!(s("StringLike", r#""é?""#, "éü"));
        assert!(s("StringNotLike", r#"["x*","y*"]"#, "z"));
        assert!(!s("StringNotLike", r#"["x*","z*"]"#, "z"));
    }

    #[test]
    fn values_or_keys_and_operators_and() {
        // Values of a key: OR.
        let c = parsed(r#"{"IpAddress":{"acs:SourceIp":["192.168.0.0/16","10.0.0.0/8"]}}"#);
        assert_eq!(c.len(), 1);
        assert!(c[0].holds(&ctx()));
        // Keys of an operator: AND.
        let c = parsed(r#"{"Bool":{"acs:SecureTransport":"false","acs:MFAPresent":"true"}}"#);
        assert_eq!(c.len(), 2);
        assert!(!c.iter().all(|x| x.holds(&ctx())));
        let mfa = RequestContext {
            mfa_present: true,
            ..ctx()
        };
        assert!(c.iter().all(|x| x.holds(&mfa)));
        // Operators: AND.
        let c = parsed(
            r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"DateLessThan":{"acs:CurrentTime":"2026-06-01T12:00:00Z"}}"#,
        );
        assert!(!c.iter().all(|x| x.holds(&ctx())), "the date fails");
        let earlier = RequestContext {
            current_time: datetime!(2026-05-31 00:00:00 UTC),
            ..ctx()
        };
        assert!(c.iter().all(|x| x.holds(&earlier)));
        let outside = RequestContext {
            source_ip: Some("11.0.0.1".parse().unwrap()),
            ..earlier
        };
        assert!(!c.iter().all(|x| x.holds(&outside)), "the address fails");
        // The same key twice (differing in case) in one operator: both.
        let c = parsed(r#"{"Bool":{"acs:MFAPresent":"true","ACS:MFAPRESENT":"false"}}"#);
        assert!(!c.iter().all(|x| x.holds(&mfa)));
    }

    #[test]
    fn ip_networks() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let net = |s: &str| IpNet::parse(s).unwrap();
        let n = net("192.168.1.0/24");
        assert!(n.contains(ip("192.168.1.0")));
        assert!(n.contains(ip("192.168.1.255")));
        assert!(!n.contains(ip("192.168.2.0")));
        assert!(!n.contains(ip("192.168.0.255")));
        assert!(n.contains(ip("::ffff:192.168.1.7")), "IPv4-mapped");
        assert!(
            !n.contains(ip("::192.168.1.7")),
            "IPv4-compatible is not mapped"
        );
        // Host bits after the prefix do not matter.
        assert_eq!(net("10.1.2.3/8").prefix(), 8);
        assert!(net("10.1.2.3/8").contains(ip("10.200.0.1")));
        // /0 and /32.
        assert!(net("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(net("203.0.113.9/0").contains(ip("0.0.0.0")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")), "families differ");
        assert!(net("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
        assert!(net("10.0.0.1/32").contains(ip("10.0.0.1")));
        assert!(!net("10.0.0.1/32").contains(ip("10.0.0.0")));
        assert_eq!(net("10.0.0.1"), net("10.0.0.1/32"));
        // IPv6: /0, /32, /127, /128.
        let n6 = net("2001:db8::/32");
        assert!(n6.contains(ip("2001:db8:ffff::1")));
        assert!(n6.contains(ip("2001:0db8::")));
        assert!(!n6.contains(ip("2001:db9::1")));
        assert!(!n6.contains(ip("10.0.0.1")), "families differ");
        assert!(net("::/0").contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!net("::/0").contains(ip("0.0.0.0")), "families differ");
        assert!(net("::1/128").contains(ip("::1")));
        assert!(!net("::1/128").contains(ip("::")));
        assert!(net("::/127").contains(ip("::1")));
        assert!(!net("::/127").contains(ip("::2")));
        assert_eq!(net("::1"), net("::1/128"));
        assert!(
            !net("::ffff:10.0.0.0/104").contains(ip("10.0.0.1")),
            "an IPv6 block never holds an IPv4 address"
        );
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0/8",
            "010.0.0.1",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/0008",
            "10.0.0.0/8/8",
            " 10.0.0.0/8",
            "10.0.0.0 /8",
            "[::1]",
            "fe80::1%eth0",
        ] {
            assert!(IpNet::parse(bad).is_none(), "{bad:?}");
        }
    }

    fn arb_condition() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            (
                prop::sample::select(vec!["IpAddress", "NotIpAddress"]),
                any::<[u8; 4]>(),
                0u8..=32
            )
                .prop_map(|(op, a, p)| format!(
                    r#""{op}":{{"acs:SourceIp":"{}/{p}"}}"#,
                    std::net::Ipv4Addr::from(a)
                )),
            (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, p)| format!(
                r#""IpAddress":{{"acs:SourceIp":["{}/{p}"]}}"#,
                std::net::Ipv6Addr::from(a)
            )),
            (
                prop::sample::select(Operator::ALL.to_vec()),
                0i64..4_000_000_000
            )
                .prop_filter_map("date operators", |(op, secs)| {
                    let t = OffsetDateTime::from_unix_timestamp(secs).ok()?;
                    matches!(op.test(), Test::Date(_)).then(|| {
                        format!(
                            r#""{op}":{{"acs:CurrentTime":"{}"}}"#,
                            t.format(&Rfc3339).unwrap()
                        )
                    })
                }),
            (-1e9f64..1e9).prop_map(|n| format!(r#""NumericLessThan":{{"k":[{n}, "{n}"]}}"#)),
            ("[a-zA-Z0-9*?é]{0,8}", any::<bool>()).prop_map(|(s, b)| format!(
                r#""StringLike":{{"K":["{s}", {b}, 12]}},"Bool":{{"acs:MFAPresent":{b}}}"#
            )),
        ]
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = PolicyDocument::parse(&s);
        }

        #[test]
        fn parse_of_to_json_is_the_identity(
            conditions in proptest::collection::vec(arb_condition(), 0..4),
            action in "(\\*|[a-z-]{1,8}:[A-Za-z*?]{1,8})",
            resource in "(\\*|acs:[a-z]{1,5}:[a-z*-]{0,4}:[0-9*]{0,6}:[a-z/*?é:]{1,10})",
        ) {
            let condition = if conditions.is_empty() {
                String::new()
            } else {
                format!(r#","Condition":{{{}}}"#, conditions.join(","))
            };
            let text = with(&format!(
                r#""Effect":"Deny","Action":["{action}","ram:GetUser"],"Resource":"{resource}"{condition}"#
            ));
            // Random operators may repeat: the last one wins in both.
            let d = PolicyDocument::parse(&text).unwrap();
            let again = PolicyDocument::parse(&d.to_json()).unwrap();
            proptest::prop_assert_eq!(again, d);
        }
    }
}

//! The RAM policy language (reference aliyun-rpc.md §e.12): parsing a
//! document into [`PolicyDocument`], and the conditions of its statements.
//!
//! Wire map:
//! ```json
//! {"Version":"1","Statement":[{"Effect":"Allow"|"Deny",
//!   "Action":"svc:Name"|[...], "Resource":"acs:svc:region:account:id"|[...],
//!   "Condition":{"<Operator>":{"<key>":value|[values]}}}]}
//! ```
//!
//! Choices where the reference is silent ([INF], tested):
//! * `Statement` may also be a single statement object (the vendor's
//!   console accepts both); an empty list is refused.
//! * Unknown keys at the top level or in a statement are refused, naming
//!   the key (`NotAction`, `NotResource`, `Principal` included: they are
//!   not part of the RAM identity-policy language we serve).
//! * `Action` entries are `*` or `<service>:<name>`; `Resource` entries `*`
//!   or start with `acs:`. Both may use `*` and `?`. Empty strings and
//!   empty lists are refused.
//! * Condition values may be strings, numbers or booleans (or lists of
//!   them); they are checked against the operator when the document is
//!   parsed, so a bad CIDR or date is refused up front, not ignored later.
//!   Dates are RFC 3339 (`2026-01-01T00:00:00Z`, offsets allowed).
//! * Condition keys compare ignoring ASCII case. A key the request does
//!   not carry makes its condition false (also for the negated operators),
//!   so a statement never applies on missing evidence.
//! * A document is at most 6,144 characters.

use std::fmt;
use std::net::IpAddr;

use serde_json::Value;
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
}

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

impl Operator {
    const ALL: &'static [(&'static str, Operator)] = &[
        ("StringEquals", Operator::StringEquals),
        ("StringNotEquals", Operator::StringNotEquals),
        ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
        (
            "StringNotEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase,
        ),
        ("StringLike", Operator::StringLike),
        ("StringNotLike", Operator::StringNotLike),
        ("NumericEquals", Operator::NumericEquals),
        ("NumericNotEquals", Operator::NumericNotEquals),
        ("NumericLessThan", Operator::NumericLessThan),
        ("NumericLessThanEquals", Operator::NumericLessThanEquals),
        ("NumericGreaterThan", Operator::NumericGreaterThan),
        (
            "NumericGreaterThanEquals",
            Operator::NumericGreaterThanEquals,
        ),
        ("DateEquals", Operator::DateEquals),
        ("DateNotEquals", Operator::DateNotEquals),
        ("DateLessThan", Operator::DateLessThan),
        ("DateLessThanEquals", Operator::DateLessThanEquals),
        ("DateGreaterThan", Operator::DateGreaterThan),
        ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
        ("Bool", Operator::Bool),
        ("IpAddress", Operator::IpAddress),
        ("NotIpAddress", Operator::NotIpAddress),
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
    }

    /// True for operators that hold when no value matches.
    fn negated(self) -> bool {
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
}

/// An IP network (a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
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

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
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

/// A condition value, checked against its operator when parsed.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Str(String),
    Num(f64),
    Date(OffsetDateTime),
    Bool(bool),
    Net(IpNet),
}

/// One `"<Operator>": {"<key>": [values]}` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Operator,
    /// The key in lower case.
    pub key: String,
    values: Vec<Expected>,
}

impl Eq for Condition {}

/// A request's value for a condition key.
enum Actual {
    Ip(IpAddr),
    Date(OffsetDateTime),
    Bool(bool),
}

impl Actual {
    fn text(&self) -> String {
        match self {
            Actual::Ip(ip) => ip.to_string(),
            Actual::Date(t) => t.format(&Rfc3339).unwrap_or_default(),
            Actual::Bool(b) => b.to_string(),
        }
    }
}

fn lookup(ctx: &RequestContext, key: &str) -> Option<Actual> {
    match key {
        "acs:sourceip" => ctx.source_ip.map(Actual::Ip),
        "acs:currenttime" => Some(Actual::Date(ctx.current_time)),
        "acs:securetransport" => Some(Actual::Bool(ctx.secure_transport)),
        "acs:mfapresent" => Some(Actual::Bool(ctx.mfa_present)),
        _ => None,
    }
}

impl Condition {
    /// Whether the request satisfies this condition.
    pub fn holds(&self, ctx: &RequestContext) -> bool {
        let Some(actual) = lookup(ctx, &self.key) else {
            return false;
        };
        let any = self.values.iter().any(|v| self.matches(&actual, v));
        if self.op.negated() { !any } else { any }
    }

    fn matches(&self, actual: &Actual, expected: &Expected) -> bool {
        use Operator as O;
        match (self.op, expected) {
            (O::StringEquals | O::StringNotEquals, Expected::Str(s)) => actual.text() == *s,
            (O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase, Expected::Str(s)) => {
                actual.text().eq_ignore_ascii_case(s)
            }
            (O::StringLike | O::StringNotLike, Expected::Str(s)) => {
                wildcard_match(s, &actual.text(), false)
            }
            // No global key is numeric; a numeric condition on one of them
            // compares nothing.
            (_, Expected::Num(_)) => false,
            (op, Expected::Date(d)) => match actual {
                Actual::Date(t) => match op {
                    O::DateEquals | O::DateNotEquals => t == d,
                    O::DateLessThan => t < d,
                    O::DateLessThanEquals => t <= d,
                    O::DateGreaterThan => t > d,
                    O::DateGreaterThanEquals => t >= d,
                    _ => false,
                },
                _ => false,
            },
            (_, Expected::Bool(b)) => matches!(actual, Actual::Bool(a) if a == b),
            (_, Expected::Net(net)) => matches!(actual, Actual::Ip(ip) if net.contains(*ip)),
            _ => false,
        }
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
    check: impl Fn(&str) -> Result<(), String>,
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

fn check_action(s: &str) -> Result<(), String> {
    if s == "*" {
        return Ok(());
    }
    match s.split_once(':') {
        Some((svc, name))
            if !svc.is_empty()
                && !name.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:*?.".contains(&b)) =>
        {
            Ok(())
        }
        _ => Err("is not an action (`*` or `<service>:<action>`)".into()),
    }
}

fn check_resource(s: &str) -> Result<(), String> {
    if s == "*" || (s.starts_with("acs:") && !s.chars().any(char::is_control)) {
        Ok(())
    } else {
        Err("is not a resource (`*` or an ARN starting with `acs:`)".into())
    }
}

fn expected(op: Operator, v: &Value, at: &str) -> Result<Expected, MalformedPolicy> {
    use Operator as O;
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
    Ok(match op {
        O::StringEquals
        | O::StringNotEquals
        | O::StringEqualsIgnoreCase
        | O::StringNotEqualsIgnoreCase
        | O::StringLike
        | O::StringNotLike => Expected::Str(text),
        O::NumericEquals
        | O::NumericNotEquals
        | O::NumericLessThan
        | O::NumericLessThanEquals
        | O::NumericGreaterThan
        | O::NumericGreaterThanEquals => Expected::Num(
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad(format!("{at} is not a number: {text:?}")))?,
        ),
        O::DateEquals
        | O::DateNotEquals
        | O::DateLessThan
        | O::DateLessThanEquals
        | O::DateGreaterThan
        | O::DateGreaterThanEquals => Expected::Date(
            OffsetDateTime::parse(&text, &Rfc3339)
                .map_err(|_| bad(format!("{at} is not an RFC 3339 date: {text:?}")))?,
        ),
        O::Bool => Expected::Bool(match text.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad(format!("{at} is not true or false: {text:?}"))),
        }),
        O::IpAddress | O::NotIpAddress => Expected::Net(
            IpNet::parse(&text)
                .ok_or_else(|| bad(format!("{at} is not an IP address or CIDR block: {text}")))?,
        ),
    })
}

fn conditions(v: &Value, path: &str) -> Result<Vec<Condition>, MalformedPolicy> {
    let Value::Object(ops) = v else {
        return Err(bad(format!("{path} must be an object, not {}", kind_of(v))));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let at = format!("{path}.{op_name}");
        let op = Operator::parse(op_name)
            .ok_or_else(|| bad(format!("{path} has an unknown operator {op_name:?}")))?;
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
            let at = format!("{at}.{key:?}");
            if key.is_empty() {
                return Err(bad(format!("{at}: a condition key must not be empty")));
            }
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
                key: key.to_ascii_lowercase(),
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
    for key in fields.keys() {
        if !matches!(key.as_str(), "Effect" | "Action" | "Resource" | "Condition") {
            return Err(bad(format!("{path} has an unsupported element {key:?}")));
        }
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

impl PolicyDocument {
    /// Parses and checks a policy document.
    pub fn parse(text: &str) -> Result<Self, MalformedPolicy> {
        let n = text.chars().count();
        if n > MAX_DOCUMENT_CHARS {
            return Err(bad(format!(
                "the document has {n} characters; at most {MAX_DOCUMENT_CHARS} are allowed"
            )));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| bad(format!("the document is not valid JSON: {e}")))?;
        let Value::Object(top) = &v else {
            return Err(bad(format!(
                "the document must be a JSON object, not {}",
                kind_of(&v)
            )));
        };
        for key in top.keys() {
            if key != "Version" && key != "Statement" {
                return Err(bad(format!(
                    "the document has an unsupported element {key:?}"
                )));
            }
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
                    "Statement must be a list of statements, not {}",
                    kind_of(other)
                )));
            }
        };
        Ok(PolicyDocument { statements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn err(text: &str) -> String {
        PolicyDocument::parse(text).unwrap_err().0
    }

    #[test]
    fn refusals_name_the_bad_part() {
        let cases: &[(&str, &str)] = &[
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object, not a list"),
            (r#"{"Statement":[]}"#, "Version is missing"),
            (r#"{"Version":"2","Statement":[]}"#, "Version must be \"1\""),
            (r#"{"Version":1,"Statement":[]}"#, "Version must be \"1\""),
            (r#"{"Version":"1"}"#, "Statement is missing"),
            (
                r#"{"Version":"1","Statement":[]}"#,
                "Statement must not be empty",
            ),
            (
                r#"{"Version":"1","Statement":"x"}"#,
                "Statement must be a list of statements, not a string",
            ),
            (
                r#"{"Version":"1","Id":"x","Statement":[]}"#,
                "unsupported element \"Id\"",
            ),
            (
                r#"{"Version":"1","Statement":[1]}"#,
                "Statement[0] must be an object, not a number",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"allow","Action":"*","Resource":"*"}]}"#,
                "Statement[1].Effect must be \"Allow\" or \"Deny\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Action":"*","Resource":"*"}]}"#,
                "Statement[0].Effect is missing",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
                "Statement[0].Action is missing",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
                "Statement[0].Action must not be empty",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:GetUser",""],"Resource":"*"}]}"#,
                "Statement[0].Action[1] is not an action",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"GetUser","Resource":"*"}]}"#,
                "Statement[0].Action is not an action",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::x"}]}"#,
                "Statement[0].Resource is not a resource",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":[3]}]}"#,
                "Statement[0].Resource[0] must be a string, not a number",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}"#,
                "Statement[0] has an unsupported element \"NotAction\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.300/8"]}}}]}"#,
                "Statement[0].Condition.IpAddress.\"acs:SourceIp\"[1] is not an IP address or CIDR block: 10.0.0.300/8",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}}]}"#,
                "is not an IP address or CIDR block: 10.0.0.0/33",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}]}"#,
                "Statement[0].Condition has an unknown operator \"StringEqualz\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"tomorrow"}}}]}"#,
                "is not an RFC 3339 date: \"tomorrow\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"k":"ten"}}}]}"#,
                "is not a number: \"ten\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"yes"}}}]}"#,
                "is not true or false: \"yes\"",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":[]}}}]}"#,
                "must not be empty",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":{"a":1}}}}]}"#,
                "must be a string, number or boolean, not an object",
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}]}"#,
                "Statement[0].Condition must be an object, not a list",
            ),
        ];
        for (doc, want) in cases {
            let got = err(doc);
            assert!(got.contains(want), "{doc}\n  got: {got}\n want: {want}");
        }
        let long = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"acs:{}"}}]}}"#,
            "a".repeat(6200)
        );
        assert!(err(&long).contains("at most 6144"));
    }

    #[test]
    fn a_single_statement_object_is_accepted() {
        let d = PolicyDocument::parse(
            r#"{"Version":"1","Statement":{"Effect":"Deny","Action":["ram:*"],"Resource":"acs:ram:*:*:user/*"}}"#,
        )
        .unwrap();
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.statements[0].effect, Effect::Deny);
    }

    fn ctx() -> RequestContext {
        RequestContext {
            current_time: datetime!(2026-06-01 12:00:00 UTC),
            source_ip: Some("10.1.2.3".parse().unwrap()),
            secure_transport: false,
            mfa_present: false,
        }
    }

    fn cond(op: &str, key: &str, values: &str) -> bool {
        let doc = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"{op}":{{"{key}":{values}}}}}}}]}}"#
        );
        let d = PolicyDocument::parse(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        d.statements[0].conditions.iter().all(|c| c.holds(&ctx()))
    }

    #[test]
    fn every_operator_both_ways() {
        let table: &[(&str, &str, &str, bool)] = &[
            ("IpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, true),
            (
                "IpAddress",
                "acs:SourceIp",
                r#"["192.168.0.0/16","10.1.2.3"]"#,
                true,
            ),
            ("IpAddress", "acs:SourceIp", r#""10.1.2.4/32""#, false),
            ("IpAddress", "acs:SourceIp", r#""0.0.0.0/0""#, true),
            ("IpAddress", "acs:SourceIp", r#""::/0""#, false),
            ("NotIpAddress", "acs:SourceIp", r#""192.168.0.0/16""#, true),
            (
                "NotIpAddress",
                "acs:SourceIp",
                r#"["192.168.0.0/16","10.0.0.0/8"]"#,
                false,
            ),
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
                "DateGreaterThan",
                "acs:CurrentTime",
                r#""2026-06-01T11:59:59Z""#,
                true,
            ),
            (
                "DateGreaterThanEquals",
                "acs:CurrentTime",
                r#""2026-06-01T14:00:00+02:00""#,
                true,
            ),
            (
                "DateEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                true,
            ),
            (
                "DateNotEquals",
                "acs:CurrentTime",
                r#""2026-06-01T12:00:00Z""#,
                false,
            ),
            ("Bool", "acs:SecureTransport", r#""false""#, true),
            ("Bool", "acs:SecureTransport", "true", false),
            ("Bool", "acs:MFAPresent", r#"["True"]"#, false),
            ("StringEquals", "acs:SourceIp", r#""10.1.2.3""#, true),
            ("StringNotEquals", "acs:SourceIp", r#""10.1.2.3""#, false),
            (
                "StringEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""FALSE""#,
                true,
            ),
            (
                "StringNotEqualsIgnoreCase",
                "acs:SecureTransport",
                r#""TRUE""#,
                true,
            ),
            ("StringLike", "acs:SourceIp", r#""10.1.*""#, true),
            ("StringLike", "acs:SourceIp", r#""10.?.2.3""#, true),
            ("StringNotLike", "acs:SourceIp", r#""10.1.*""#, false),
            ("NumericLessThan", "acs:SourceIp", "5", false),
            // A key the request does not carry: false, negated or not.
            ("StringEquals", "acs:UserAgent", r#""x""#, false),
            ("StringNotEquals", "acs:UserAgent", r#""x""#, false),
        ];
        for (op, key, values, want) in table {
            assert_eq!(cond(op, key, values), *want, "{op} {key} {values}");
        }
    }

    #[test]
    fn keys_and_operators_are_anded() {
        let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
            "IpAddress":{"acs:SourceIp":"10.0.0.0/8"},
            "Bool":{"acs:SecureTransport":"false","acs:MFAPresent":"true"}}}]}"#;
        let d = PolicyDocument::parse(doc).unwrap();
        assert!(!d.statements[0].conditions.iter().all(|c| c.holds(&ctx())));
        let mut c = ctx();
        c.mfa_present = true;
        assert!(d.statements[0].conditions.iter().all(|x| x.holds(&c)));
        c.source_ip = None;
        assert!(
            !d.statements[0].conditions.iter().all(|x| x.holds(&c)),
            "no address: false"
        );
    }

    #[test]
    fn ip_networks() {
        let v4 = |s: &str| -> IpAddr { s.parse().unwrap() };
        let n = IpNet::parse("192.168.1.0/24").unwrap();
        assert!(n.contains(v4("192.168.1.255")));
        assert!(!n.contains(v4("192.168.2.0")));
        assert!(n.contains(v4("::ffff:192.168.1.7")), "IPv4-mapped");
        let n6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(n6.contains(v4("2001:db8:ffff::1")));
        assert!(!n6.contains(v4("2001:db9::1")));
        assert!(!n6.contains(v4("10.0.0.1")));
        assert!(IpNet::parse("::1/128").unwrap().contains(v4("::1")));
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0/8",
            "::1/129",
            "10.0.0.0/-1",
            "10.0.0.0/0008",
        ] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = PolicyDocument::parse(&s);
        }
    }
}

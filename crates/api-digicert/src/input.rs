//! Request bodies and list parameters, checked field by field in the
//! reference's order (§4, §5, §6.2–§6.8, §7, §8).
//!
//! Each field gets at most one error, from the first failing check of
//! required → type → length → charset/format; all of them are returned,
//! in the endpoint's field-table order. Choices where the reference is
//! silent ([inferred]):
//! * an optional string that is `null`, `""` or blank counts as absent;
//! * a JSON value of the wrong type is `invalid_param|<f>`;
//! * any non-empty body is parsed as JSON whatever its `Content-Type`
//!   (a trailing newline is fine); an empty, unparsable or non-object body
//!   where one is needed is `bad_request_format`;
//! * `is_saml_sso_only` accepts `true`/`false` and `"true"`/`"false"`;
//! * `filters[search]` with a leading `%` means "contains" (further `%`
//!   at either end are dropped); otherwise exact; both ignore ASCII case;
//! * `filters[status]` other than `active` matches nobody (every user is
//!   active); unknown `filters[...]` keys are ignored.

use serde_json::{Map, Value};
use trustdesk_domain::certcentral::fields::{self, FieldProblem};
use trustdesk_domain::certcentral::{
    AccessRole, Direction, KeyRole, Search, UserKind, UserQuery, UserSort,
};
use trustdesk_domain::{ContainerId, Email, UserName};

use crate::error::{
    ApiError, Item, invalid, invalid_access_role, invalid_email, required, too_long,
    username_charset,
};

/// The body as a JSON object, or `bad_request_format`.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_format()),
    }
}

fn problem(field: &str, p: FieldProblem) -> Item {
    match p {
        FieldProblem::Missing => required(field),
        FieldProblem::TooLong(max) => too_long(field, max),
        FieldProblem::Charset => username_charset(),
        FieldProblem::Email => invalid_email(),
    }
}

/// Collects field errors while reading a body.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    pub errors: Vec<Item>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Self {
            obj,
            errors: Vec::new(),
        }
    }

    fn present(&self, f: &str) -> Option<&'a Value> {
        self.obj.get(f).filter(|v| !v.is_null())
    }

    /// A required string passing `check`.
    pub fn required(
        &mut self,
        f: &str,
        check: impl Fn(&str) -> Result<(), FieldProblem>,
    ) -> Option<String> {
        match self.present(f) {
            None => {
                self.errors.push(required(f));
                None
            }
            Some(Value::String(s)) => match check(s) {
                Ok(()) => Some(s.clone()),
                Err(p) => {
                    self.errors.push(problem(f, p));
                    None
                }
            },
            Some(_) => {
                self.errors.push(invalid(f));
                None
            }
        }
    }

    /// An optional string: `None` when absent (or null / blank).
    pub fn optional(
        &mut self,
        f: &str,
        check: impl Fn(&str) -> Result<(), FieldProblem>,
    ) -> Option<String> {
        match self.present(f) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => match check(s) {
                Ok(()) => Some(s.clone()),
                Err(p) => {
                    self.errors.push(problem(f, p));
                    None
                }
            },
            Some(_) => {
                self.errors.push(invalid(f));
                None
            }
        }
    }

    pub fn has(&self, f: &str) -> bool {
        self.present(f).is_some()
    }

    pub fn bool(&mut self, f: &str) -> Option<bool> {
        match self.present(f)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => {
                self.errors.push(invalid(f));
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub fn int(&mut self, f: &str) -> Option<u64> {
        match self.present(f)? {
            Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
            _ => {
                self.errors.push(invalid(f));
                None
            }
        }
    }

    /// An optional `[int, …]` of container ids.
    pub fn ids(&mut self, f: &str) -> Option<Vec<ContainerId>> {
        let v = self.present(f)?;
        let ids: Option<Vec<ContainerId>> = v.as_array().and_then(|a| {
            a.iter()
                .map(|x| x.as_u64().map(ContainerId))
                .collect::<Option<Vec<_>>>()
        });
        if ids.is_none() {
            self.errors.push(invalid(f));
        }
        ids
    }

    /// `container`: `{"id": int}`.
    pub fn container(&mut self) -> Option<ContainerId> {
        let v = self.present("container")?;
        let id = v.get("id").and_then(Value::as_u64).map(ContainerId);
        if id.is_none() {
            self.errors.push(invalid("container.id"));
        }
        id
    }

    /// `access_roles`: exactly one `{"id": int}` naming a known role.
    pub fn access_roles(&mut self) -> Option<AccessRole> {
        let Some(v) = self.present("access_roles") else {
            self.errors.push(required("access_roles"));
            return None;
        };
        let id = match v.as_array().map(Vec::as_slice) {
            Some([one]) => one.get("id").and_then(Value::as_u64),
            _ => None,
        };
        let Some(id) = id else {
            self.errors.push(invalid("access_roles"));
            return None;
        };
        let role = AccessRole::from_id(id);
        if role.is_none() {
            self.errors.push(invalid_access_role());
        }
        role
    }

    /// `restricted_to_role_id`: one of 0, 100–103.
    pub fn key_role(&mut self) -> Option<KeyRole> {
        let id = self.int("restricted_to_role_id")?;
        let role = KeyRole::from_id(id);
        if role.is_none() {
            self.errors.push(invalid("restricted_to_role_id"));
        }
        role
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.errors))
        }
    }
}

pub fn username(v: &str) -> Result<(), FieldProblem> {
    fields::username(v)
}

pub fn name(v: &str) -> Result<(), FieldProblem> {
    fields::name(v)
}

pub fn email(v: &str) -> Result<(), FieldProblem> {
    fields::email(v)
}

pub fn short(v: &str) -> Result<(), FieldProblem> {
    fields::short_text(v, fields::MAX_JOB_TITLE)
}

/// Key names, container descriptions: at most 255 characters [inferred].
pub fn text255(v: &str) -> Result<(), FieldProblem> {
    fields::short_text(v, 255)
}

/// Container names: at most 128 characters [inferred].
pub fn text128(v: &str) -> Result<(), FieldProblem> {
    fields::short_text(v, 128)
}

/// A username that passed the CertCentral rules, as the shared record's
/// name (RAM's stricter rules are applied at RAM's edge; see the domain's
/// `certcentral` module docs).
pub fn user_name(v: String) -> UserName {
    UserName::from_trusted(v)
}

pub fn email_value(v: String) -> Email {
    Email::from_trusted(v)
}

/// Largest and default page size.
pub const MAX_LIMIT: u32 = 1000;

/// A user list's query: the store query, whether to embed containers, and
/// whether the status filter already excludes everyone.
pub struct ListUsers {
    pub query: UserQuery,
    pub with_container: bool,
    pub nobody: bool,
}

pub fn list_users(pairs: &[(String, String)], kind: UserKind) -> Result<ListUsers, ApiError> {
    let mut errors = Vec::new();
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let offset = match get("offset") {
        None => 0,
        Some(v) => v.parse::<u64>().unwrap_or_else(|_| {
            errors.push(invalid("offset"));
            0
        }),
    };
    let limit = match get("limit") {
        None => MAX_LIMIT,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => n.min(u64::from(MAX_LIMIT)) as u32,
            _ => {
                errors.push(invalid("limit"));
                MAX_LIMIT
            }
        },
    };
    let mut sort = Vec::new();
    if let Some(v) = get("sort") {
        for key in v.split(',').filter(|k| !k.is_empty()) {
            let (dir, name) = match key.strip_prefix('-') {
                Some(rest) => (Direction::Descending, rest),
                None => (Direction::Ascending, key.strip_prefix('+').unwrap_or(key)),
            };
            match UserSort::parse(name) {
                Some(s) => sort.push((s, dir)),
                None => {
                    errors.push(invalid("sort"));
                    break;
                }
            }
        }
    }
    let containers = match get("container_id") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(vec![ContainerId(n)]),
            Err(_) => {
                errors.push(invalid("container_id"));
                None
            }
        },
    };
    let role = match get("access_role_id") {
        None => None,
        Some(v) => match v.parse::<u64>().ok().and_then(AccessRole::from_id) {
            Some(r) => Some(r),
            None => {
                errors.push(invalid("access_role_id"));
                None
            }
        },
    };
    let search = get("filters[search]").and_then(|v| {
        let (contains, rest) = match v.strip_prefix('%') {
            Some(rest) => (true, rest.trim_matches('%')),
            None => (false, v),
        };
        if rest.is_empty() {
            None
        } else if contains {
            Some(Search::Contains(rest.to_owned()))
        } else {
            Some(Search::Exact(rest.to_owned()))
        }
    });
    let nobody = get("filters[status]").is_some_and(|s| s != "active");
    let with_container = get("without_container") != Some("true");
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    Ok(ListUsers {
        query: UserQuery {
            kind,
            containers,
            role,
            search,
            sort,
            offset,
            limit,
        },
        with_container,
        nobody,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        crate::wire::query_pairs(q).unwrap()
    }

    #[test]
    fn list_defaults_and_clamping() {
        let l = list_users(&pairs(""), UserKind::Standard).unwrap();
        assert_eq!((l.query.offset, l.query.limit), (0, 1000));
        let l = list_users(&pairs("limit=5000&offset=7"), UserKind::Standard).unwrap();
        assert_eq!((l.query.offset, l.query.limit), (7, 1000));
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=x",
            "offset=-1",
            "sort=color",
            "access_role_id=9",
            "container_id=a",
        ] {
            let e = list_users(&pairs(bad), UserKind::Standard).err().unwrap();
            assert!(e.errors[0].code.starts_with("invalid_param|"), "{bad}");
        }
    }

    #[test]
    fn search_sort_and_filters() {
        let l = list_users(
            &pairs("filters%5Bsearch%5D=%25jill&sort=-username,id&filters[status]=pending&without_container=true"),
            UserKind::Standard,
        )
        .unwrap();
        assert_eq!(l.query.search, Some(Search::Contains("jill".into())));
        assert_eq!(
            l.query.sort,
            vec![
                (UserSort::Username, Direction::Descending),
                (UserSort::Id, Direction::Ascending)
            ]
        );
        assert!(l.nobody);
        assert!(!l.with_container);
        let l = list_users(&pairs("filters[search]=Jill"), UserKind::Standard).unwrap();
        assert_eq!(l.query.search, Some(Search::Exact("Jill".into())));
    }

    #[test]
    fn fields_report_one_error_each_in_order() {
        let body = br#"{"username":"bad name","first_name":"","email":"nope","job_title":5,"access_roles":[{"id":9}]}"#;
        let obj = object(body).unwrap();
        let mut f = Fields::new(&obj);
        f.required("username", username);
        f.required("first_name", name);
        f.required("last_name", name);
        f.required("email", email);
        f.optional("job_title", short);
        f.access_roles();
        let codes: Vec<String> = f.errors.iter().map(|e| e.code.clone()).collect();
        assert_eq!(
            codes,
            [
                "invalid_param|username",
                "required_param|first_name",
                "required_param|last_name",
                "invalid_email",
                "invalid_param|job_title",
                "invalid_access_role"
            ]
        );
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(object(b"").is_err());
        assert!(object(b"[1]").is_err());
        assert!(object(b"{\"a\":1}\n").is_ok(), "a trailing newline is fine");
        assert!(object(b"<user/>").is_err());
    }
}

//! Response bodies in the vendor's key order (serde field order), with
//! unset optional values omitted (never `null`, never `""`; reference
//! §3, §6.1, §7, §8, §9), and the query-string reader.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use time::OffsetDateTime;
use trustdesk_domain::certcentral::{AccessRole, KeyRole};
use trustdesk_domain::{ApiKey, Container, User};

/// A JSON response with the vendor's headers.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private,no-cache"),
    );
    r
}

pub fn ok<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(status, body),
        Err(e) => {
            tracing::error!(error = %e, "serialising a CertCentral response failed");
            crate::error::ApiError::internal().into_response()
        }
    }
}

/// 204: no body, no `Content-Type`.
pub fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// `2023-10-13T15:15:13+00:00`.
pub fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[derive(Serialize)]
pub struct Id {
    pub id: u64,
}

#[derive(Serialize)]
pub struct IdAndKey<'a> {
    pub id: u64,
    pub api_key: &'a str,
}

#[derive(Serialize)]
pub struct Role {
    pub id: u32,
    pub name: &'static str,
}

impl From<AccessRole> for Role {
    fn from(r: AccessRole) -> Self {
        Role {
            id: r.id(),
            name: r.name(),
        }
    }
}

#[derive(Serialize)]
pub struct Roles {
    pub access_roles: Vec<Role>,
}

impl Roles {
    pub fn access() -> Self {
        Roles {
            access_roles: AccessRole::ALL.iter().map(|r| Role::from(*r)).collect(),
        }
    }

    pub fn keys() -> Self {
        Roles {
            access_roles: KeyRole::ALL
                .iter()
                .filter_map(|k| k.name().map(|name| Role { id: k.id(), name }))
                .collect(),
        }
    }
}

/// A container as embedded in a user.
#[derive(Serialize)]
pub struct ContainerRef<'a> {
    pub id: u64,
    pub public_id: &'a str,
    pub name: &'a str,
    pub parent_id: u64,
    pub template_id: u32,
    pub ekey: &'a str,
    pub has_logo: bool,
    pub is_active: bool,
}

impl<'a> From<&'a Container> for ContainerRef<'a> {
    fn from(c: &'a Container) -> Self {
        ContainerRef {
            id: c.id.0,
            public_id: &c.public_id,
            name: &c.name,
            parent_id: c.parent.map_or(0, |p| p.0),
            template_id: c.template_id,
            ekey: &c.ekey,
            has_logo: false,
            is_active: c.active,
        }
    }
}

/// A container as `/container` shows it. We hold no domains or
/// organizations, so those lists are empty; user assignments live on the
/// users (`container_assignments`), so `user_id_assignments` is left out.
#[derive(Serialize)]
pub struct ContainerFull<'a> {
    pub id: u64,
    pub public_id: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parent_id: u64,
    pub template_id: u32,
    pub ekey: &'a str,
    pub has_logo: bool,
    pub is_active: bool,
    pub allowed_domain_names: [&'a str; 0],
    pub organization_assignments: [&'a str; 0],
}

impl<'a> From<&'a Container> for ContainerFull<'a> {
    fn from(c: &'a Container) -> Self {
        ContainerFull {
            id: c.id.0,
            public_id: &c.public_id,
            name: &c.name,
            description: c.description.as_deref(),
            parent_id: c.parent.map_or(0, |p| p.0),
            template_id: c.template_id,
            ekey: &c.ekey,
            has_logo: false,
            is_active: c.active,
            allowed_domain_names: [],
            organization_assignments: [],
        }
    }
}

#[derive(Serialize)]
pub struct Containers<'a> {
    pub containers: Vec<ContainerFull<'a>>,
}

/// A user as list items show it (§6.1 fields 1–15).
#[derive(Serialize)]
pub struct UserItem<'a> {
    pub id: u64,
    pub username: &'a str,
    pub account_id: u64,
    pub first_name: &'a str,
    pub last_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<&'a str>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef<'a>>,
    pub access_roles: [Role; 1],
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub has_container_assignments: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_assignments: Option<Vec<ContainerRef<'a>>>,
}

impl<'a> UserItem<'a> {
    /// `containers`: the account's, to embed the user's own and its
    /// assignments; `with_container` false for `without_container=true`.
    pub fn new(u: &'a User, containers: &'a [Container], with_container: bool) -> Self {
        let find = |id| {
            containers
                .iter()
                .find(|c| c.id == id)
                .map(ContainerRef::from)
        };
        let assigned = &u.profile.container_assignments;
        UserItem {
            id: u.id.0,
            username: u.name.as_str(),
            account_id: u.account.0,
            first_name: u.first_name(),
            last_name: u.last_name(),
            email: u.email.as_ref().map(|e| e.as_str()),
            job_title: u.profile.job_title.as_deref(),
            telephone: u.profile.telephone.as_deref(),
            status: "active",
            last_login_date: u.last_login_at.map(date),
            container: if with_container {
                find(u.profile.container)
            } else {
                None
            },
            access_roles: [Role::from(u.profile.role)],
            kind: u.profile.kind.as_str(),
            has_container_assignments: !assigned.is_empty(),
            container_assignments: (!assigned.is_empty())
                .then(|| assigned.iter().filter_map(|id| find(*id)).collect()),
        }
    }
}

/// A user as `GET /user/{id}` and `/user/me` show it: the list fields and
/// the get-only ones.
#[derive(Serialize)]
pub struct UserFull<'a> {
    #[serde(flatten)]
    pub item: UserItem<'a>,
    pub is_cert_central: bool,
    pub is_enterprise: bool,
    pub is_saml_sso_only: bool,
    pub language_id: u32,
    pub account_language_id: u32,
    pub container_visibility: Vec<ContainerRef<'a>>,
}

#[derive(Serialize)]
pub struct Page {
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Serialize)]
pub struct Users<'a> {
    pub users: Vec<UserItem<'a>>,
    pub page: Page,
}

#[derive(Serialize)]
pub struct KeyOwner<'a> {
    pub id: u64,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// An API key's metadata (§8); never the key.
#[derive(Serialize)]
pub struct Key<'a> {
    pub id: u64,
    pub user: KeyOwner<'a>,
    pub status: &'static str,
    pub create_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
    pub name: &'a str,
    pub is_legacy: bool,
    pub restricted_to_role_id: u32,
}

impl<'a> Key<'a> {
    pub fn new(k: &'a ApiKey, owner: &'a User) -> Self {
        Key {
            id: k.id.0,
            user: KeyOwner {
                id: owner.id.0,
                first_name: owner.first_name(),
                last_name: owner.last_name(),
            },
            status: k.status.as_str(),
            create_date: date(k.created_at),
            last_used_date: k.last_used_at.map(date),
            name: &k.name,
            is_legacy: false,
            restricted_to_role_id: k.role.id(),
        }
    }
}

#[derive(Serialize)]
pub struct Keys<'a> {
    pub api_keys: Vec<Key<'a>>,
}

/// `GET /account` (§9), in the recorded key order and JSON types.
#[derive(Serialize)]
pub struct Account<'a> {
    pub id: u64,
    pub primary_organization_id: u64,
    pub primary_organization_name: &'a str,
    pub primary_organization_country: &'a str,
    pub make_renewal_calls: bool,
    pub express_install_enabled: bool,
    pub display_rep: bool,
    pub rep_photo_id: u64,
    pub balance_negative_limit: u64,
    pub root_container_id: u64,
    pub cert_transparency: &'a str,
    pub cert_central_type: &'a str,
    pub billing_account_id: u64,
    pub billing_account_name: &'a str,
    pub language_id: u32,
    pub migrated: bool,
    pub has_auth_key: bool,
    pub client_mgr_photo_id: u64,
    pub ent_support_plan: &'a str,
    pub default_country: &'a str,
}

/// The query string as decoded `(key, value)` pairs: `+` is a space and
/// `%XX` escapes are decoded in keys and values (so `filters%5Bstatus%5D`
/// is `filters[status]`). A malformed escape or invalid UTF-8 makes the
/// whole query unreadable (`None`).
pub fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Some(out)
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_are_percent_decoded() {
        assert_eq!(
            query_pairs("limit=100&offset=0&filters%5Bstatus%5D=issued&filters[search]=%25jo+n"),
            Some(vec![
                ("limit".into(), "100".into()),
                ("offset".into(), "0".into()),
                ("filters[status]".into(), "issued".into()),
                ("filters[search]".into(), "%jo n".into()),
            ])
        );
        assert_eq!(query_pairs("a=%zz"), None);
        assert_eq!(query_pairs("a=%ff"), None, "invalid UTF-8");
        assert_eq!(query_pairs("a=%4"), None);
    }

    #[test]
    fn dates_carry_an_explicit_utc_offset() {
        let t = time::macros::datetime!(2023-10-13 15:15:13 UTC);
        assert_eq!(date(t), "2023-10-13T15:15:13+00:00");
    }
}

//! RAM 2015-05-01 handlers: one function per action, each turning
//! parameters into a use-case call and its result into the vendor's
//! response shape (reference §e.1–§e.10).
//!
//! Choices where the reference is silent ([INF]):
//! * Optional attributes never set are omitted from responses.
//! * On `CreateUser`, an empty optional value (`Comments=`) means "not
//!   given"; on `UpdateUser`, an empty `New*` value clears the attribute
//!   (except `NewDisplayName` and `NewUserName`, whose rules require 1+
//!   characters).
//! * `ListUsers` lists in creation order; `Marker` is an opaque token
//!   (base64url of our keyset cursor) and a token we did not issue is
//!   `InvalidParameter.Marker`.
//! * Authorization runs before business validation, so an unauthorized
//!   caller learns nothing about parameter rules or existing users.

use axum::response::Response;
use serde::Serialize;
use trustdesk_domain::{
    AccessKey, AccessKeyId, Authorized, Comments, DisplayName, Email, KeyStatus, MobilePhone,
    NewUser, User, UserCursor, UserName, UserPatch,
};
use trustdesk_service::{KeyTarget, Service};

use crate::action::Action;
use crate::encode::{Reply, vendor_date};
use crate::error::RpcError;
use crate::params::{Args, encode_marker};

/// Runs an authorized RAM action.
pub(crate) async fn run(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    match reply.action {
        Action::CreateUser => create_user(service, auth, args, reply).await,
        Action::GetUser => get_user(service, auth, args, reply).await,
        Action::UpdateUser => update_user(service, auth, args, reply).await,
        Action::DeleteUser => delete_user(service, auth, args, reply).await,
        Action::ListUsers => list_users(service, auth, args, reply).await,
        Action::CreateAccessKey => create_access_key(service, auth, args, reply).await,
        Action::ListAccessKeys => list_access_keys(service, auth, args, reply).await,
        Action::UpdateAccessKey => update_access_key(service, auth, args, reply).await,
        Action::DeleteAccessKey => delete_access_key(service, auth, args, reply).await,
        Action::GetAccessKeyLastUsed => access_key_last_used(service, auth, args, reply).await,
        // Groups, policies and attachments.
        _ => crate::iam::run(service, auth, args, reply).await,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UserOut {
    user_id: String,
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mobile_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<String>,
    create_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_date: Option<String>,
}

/// Which date fields an action's user shape carries.
#[derive(Clone, Copy)]
enum UserShape {
    /// `CreateUser`: no `UpdateDate`, no `LastLoginDate`.
    Created,
    /// `UpdateUser`, `ListUsers`: `UpdateDate`, no `LastLoginDate`.
    Listed,
    /// `GetUser`: everything.
    Full,
}

impl UserOut {
    fn new(u: User, shape: UserShape) -> Self {
        let (update, login) = match shape {
            UserShape::Created => (false, false),
            UserShape::Listed => (true, false),
            UserShape::Full => (true, true),
        };
        // A user added through CertCentral shows "<first> <last>" until
        // RAM sets a DisplayName (domain `certcentral` module docs).
        let display_name = u.ram_display_name();
        Self {
            user_id: u.id.to_string(),
            user_name: u.name.into_string(),
            display_name,
            mobile_phone: u.mobile_phone.map(MobilePhone::into_string),
            email: u.email.map(Email::into_string),
            comments: u.comments.map(Comments::into_string),
            create_date: vendor_date(u.created_at),
            update_date: update.then(|| vendor_date(u.updated_at)),
            last_login_date: if login {
                u.last_login_at.map(vendor_date)
            } else {
                None
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UserResponse<'a> {
    request_id: &'a str,
    user: UserOut,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListUsersResponse<'a> {
    request_id: &'a str,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    users: UserList,
}

#[derive(Serialize)]
struct UserList {
    #[serde(rename = "User")]
    items: Vec<UserOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NewKeyOut<'a> {
    access_key_id: &'a str,
    access_key_secret: &'a str,
    status: &'static str,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccessKeyResponse<'a> {
    request_id: &'a str,
    access_key: NewKeyOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyOut {
    access_key_id: String,
    status: &'static str,
    create_date: String,
}

impl From<AccessKey> for KeyOut {
    fn from(k: AccessKey) -> Self {
        Self {
            access_key_id: k.id.0,
            status: k.status.as_str(),
            create_date: vendor_date(k.created_at),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAccessKeysResponse<'a> {
    request_id: &'a str,
    access_keys: KeyList,
}

#[derive(Serialize)]
struct KeyList {
    #[serde(rename = "AccessKey")]
    items: Vec<KeyOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LastUsedResponse<'a> {
    request_id: &'a str,
    access_key_last_used: LastUsedOut,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LastUsedOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_date: Option<String>,
}

// ---- markers ----

const MARKER_PREFIX: &str = "users:";

// ---- users ----

async fn create_user(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let new = NewUser {
        name: args.parse("UserName", UserName::parse)?,
        display_name: args.parse_opt("DisplayName", DisplayName::parse)?,
        mobile_phone: args.parse_opt("MobilePhone", MobilePhone::parse)?,
        email: args.parse_opt("Email", Email::parse)?,
        comments: args.parse_opt("Comments", Comments::parse)?,
    };
    let user = svc.create_user(auth, new).await?;
    reply.send(&UserResponse {
        request_id: reply.request_id.as_str(),
        user: UserOut::new(user, UserShape::Created),
    })
}

async fn get_user(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = args.parse("UserName", UserName::parse)?;
    let user = svc.get_user(auth, &name).await?;
    reply.send(&UserResponse {
        request_id: reply.request_id.as_str(),
        user: UserOut::new(user, UserShape::Full),
    })
}

async fn update_user(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = args.parse("UserName", UserName::parse)?;
    let patch = UserPatch {
        name: args
            .optional("NewUserName")
            .map(|_| args.parse("NewUserName", UserName::parse))
            .transpose()?,
        display_name: args
            .optional("NewDisplayName")
            .map(|_| args.parse("NewDisplayName", DisplayName::parse))
            .transpose()?,
        mobile_phone: args.parse_patch("NewMobilePhone", MobilePhone::parse)?,
        email: args.parse_patch("NewEmail", Email::parse)?,
        comments: args.parse_patch("NewComments", Comments::parse)?,
        profile: trustdesk_domain::ProfilePatch::default(),
    };
    let user = svc.update_user(auth, &name, patch).await?;
    reply.send(&UserResponse {
        request_id: reply.request_id.as_str(),
        user: UserOut::new(user, UserShape::Listed),
    })
}

async fn delete_user(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = args.parse("UserName", UserName::parse)?;
    svc.delete_user(auth, &name).await?;
    reply.empty()
}

async fn list_users(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let max_items = args.int_in("MaxItems", 1..=1000, 100)?;
    let after = args.marker(MARKER_PREFIX)?.map(UserCursor);
    let page = svc.list_users(auth, after, max_items).await?;
    reply.send(&ListUsersResponse {
        request_id: reply.request_id.as_str(),
        is_truncated: page.next.is_some(),
        marker: page.next.map(|c| encode_marker(MARKER_PREFIX, c.0)),
        users: UserList {
            items: page
                .users
                .into_iter()
                .map(|u| UserOut::new(u, UserShape::Listed))
                .collect(),
        },
    })
}

// ---- access keys ----

fn key_target(args: &Args) -> Result<KeyTarget, RpcError> {
    Ok(match args.parse_opt("UserName", UserName::parse)? {
        Some(name) => KeyTarget::User(name),
        None => KeyTarget::Caller,
    })
}

fn user_key_id(args: &Args) -> Result<AccessKeyId, RpcError> {
    Ok(AccessKeyId(args.lookup_id("UserAccessKeyId")?.to_owned()))
}

async fn create_access_key(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let target = key_target(args)?;
    let (key, secret) = svc.create_access_key(auth, &target).await?;
    reply.send(&CreateAccessKeyResponse {
        request_id: reply.request_id.as_str(),
        access_key: NewKeyOut {
            access_key_id: key.id.as_str(),
            access_key_secret: secret.expose(),
            status: key.status.as_str(),
            create_date: vendor_date(key.created_at),
        },
    })
}

async fn list_access_keys(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let target = key_target(args)?;
    let keys = svc.list_access_keys(auth, &target).await?;
    reply.send(&ListAccessKeysResponse {
        request_id: reply.request_id.as_str(),
        access_keys: KeyList {
            items: keys.into_iter().map(KeyOut::from).collect(),
        },
    })
}

async fn update_access_key(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let target = key_target(args)?;
    let id = user_key_id(args)?;
    let status = KeyStatus::parse(args.required("Status")?)
        .ok_or_else(|| RpcError::invalid_parameter("Status"))?;
    svc.update_access_key(auth, &target, &id, status).await?;
    reply.empty()
}

async fn delete_access_key(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let target = key_target(args)?;
    let id = user_key_id(args)?;
    svc.delete_access_key(auth, &target, &id).await?;
    reply.empty()
}

async fn access_key_last_used(
    svc: &Service,
    auth: trustdesk_domain::Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let target = key_target(args)?;
    let id = user_key_id(args)?;
    let last = svc.access_key_last_used(auth, &target, &id).await?;
    reply.send(&LastUsedResponse {
        request_id: reply.request_id.as_str(),
        access_key_last_used: LastUsedOut {
            last_used_date: last.map(vendor_date),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::to_xml_with_root;
    use pretty_assertions::assert_eq;
    use time::macros::datetime;
    use trustdesk_domain::{AccountId, UserId};

    fn user() -> User {
        User {
            id: UserId(1227489245380721),
            account: AccountId(1234567890123456),
            name: UserName::parse("zhangqiang").unwrap(),
            display_name: Some(DisplayName::parse("zhangqiang").unwrap()),
            mobile_phone: Some(MobilePhone::parse("86-18600008888").unwrap()),
            email: Some(Email::parse("zhangqiang@example.com").unwrap()),
            comments: Some(Comments::parse("This is a cloud computing engineer.").unwrap()),
            created_at: datetime!(2015-01-23 12:33:18 UTC),
            updated_at: datetime!(2015-02-11 03:15:21 UTC),
            last_login_at: None,
            profile: trustdesk_domain::Profile::for_ram_user(trustdesk_domain::ContainerId(1)),
        }
    }

    const RID: &str = "04F0F334-1335-436C-A1D7-6C044FE73368";

    #[test]
    fn golden_create_user_json_and_xml() {
        let body = UserResponse {
            request_id: RID,
            user: UserOut::new(user(), UserShape::Created),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"RequestId":"04F0F334-1335-436C-A1D7-6C044FE73368","User":{"UserId":"1227489245380721","UserName":"zhangqiang","DisplayName":"zhangqiang","MobilePhone":"86-18600008888","Email":"zhangqiang@example.com","Comments":"This is a cloud computing engineer.","CreateDate":"2015-01-23T12:33:18Z"}}"#
        );
        assert_eq!(
            to_xml_with_root("CreateUserResponse", &body).unwrap(),
            "<?xml version='1.0' encoding='UTF-8'?>\
             <CreateUserResponse>\
                 <RequestId>04F0F334-1335-436C-A1D7-6C044FE73368</RequestId>\
                 <User>\
                     <UserId>1227489245380721</UserId>\
                     <UserName>zhangqiang</UserName>\
                     <DisplayName>zhangqiang</DisplayName>\
                     <MobilePhone>86-18600008888</MobilePhone>\
                     <Email>zhangqiang@example.com</Email>\
                     <Comments>This is a cloud computing engineer.</Comments>\
                     <CreateDate>2015-01-23T12:33:18Z</CreateDate>\
                 </User>\
             </CreateUserResponse>"
        );
    }

    #[test]
    fn golden_list_users_json_and_xml() {
        let body = ListUsersResponse {
            request_id: RID,
            is_truncated: true,
            marker: Some("EXAMPLE".into()),
            users: UserList {
                items: vec![UserOut::new(user(), UserShape::Listed)],
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"RequestId":"04F0F334-1335-436C-A1D7-6C044FE73368","IsTruncated":true,"Marker":"EXAMPLE","Users":{"User":[{"UserId":"1227489245380721","UserName":"zhangqiang","DisplayName":"zhangqiang","MobilePhone":"86-18600008888","Email":"zhangqiang@example.com","Comments":"This is a cloud computing engineer.","CreateDate":"2015-01-23T12:33:18Z","UpdateDate":"2015-02-11T03:15:21Z"}]}}"#
        );
        let xml = to_xml_with_root("ListUsersResponse", &body).unwrap();
        assert!(xml.contains("<IsTruncated>true</IsTruncated><Marker>EXAMPLE</Marker><Users><User><UserId>1227489245380721</UserId>"), "{xml}");
        let empty = ListUsersResponse {
            request_id: RID,
            is_truncated: false,
            marker: None,
            users: UserList { items: vec![] },
        };
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"RequestId":"04F0F334-1335-436C-A1D7-6C044FE73368","IsTruncated":false,"Users":{"User":[]}}"#
        );
        let xml = to_xml_with_root("ListUsersResponse", &empty).unwrap();
        assert!(
            xml.ends_with("<IsTruncated>false</IsTruncated><Users/></ListUsersResponse>"),
            "{xml}"
        );
    }

    #[test]
    fn golden_list_access_keys_xml() {
        let body = ListAccessKeysResponse {
            request_id: RID,
            access_keys: KeyList {
                items: vec![KeyOut {
                    access_key_id: "LTAI4GFTgcR8m8cZQDTHabcd".into(),
                    status: "Active",
                    create_date: "2015-01-23T12:33:18Z".into(),
                }],
            },
        };
        assert_eq!(
            to_xml_with_root("ListAccessKeysResponse", &body).unwrap(),
            "<?xml version='1.0' encoding='UTF-8'?>\
             <ListAccessKeysResponse>\
                 <RequestId>04F0F334-1335-436C-A1D7-6C044FE73368</RequestId>\
                 <AccessKeys><AccessKey>\
                     <AccessKeyId>LTAI4GFTgcR8m8cZQDTHabcd</AccessKeyId>\
                     <Status>Active</Status>\
                     <CreateDate>2015-01-23T12:33:18Z</CreateDate>\
                 </AccessKey></AccessKeys>\
             </ListAccessKeysResponse>"
        );
    }

    #[test]
    fn markers_round_trip_and_reject_garbage() {
        let marker = |m: &str| Args(trustdesk_auth::Params::from_pairs([("Marker", m)]));
        let m = encode_marker(MARKER_PREFIX, 42);
        assert_eq!(marker(&m).marker(MARKER_PREFIX).unwrap(), Some(42));
        for bad in [
            "garbage",
            "dXNlcnM6LTE",
            "!!!",
            &encode_marker("groups:", 1),
        ] {
            assert_eq!(
                marker(bad).marker(MARKER_PREFIX).unwrap_err().code,
                "InvalidParameter.Marker",
                "{bad}"
            );
        }
    }
}

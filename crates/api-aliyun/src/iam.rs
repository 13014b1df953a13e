//! RAM 2015-05-01 group, policy and attachment handlers (reference §e.11,
//! §e.12): one function per action, parameters to use case, result to the
//! vendor's shape.
//!
//! Choices where the reference is silent ([INF]):
//! * `ListGroups` and `ListUsersForGroup` list in creation / joining order
//!   with opaque markers like `ListUsers`; `ListPolicies` lists system
//!   policies (by name) before custom ones (by name), its marker is an
//!   opaque position in that list.
//! * `PolicyType` is case-sensitive (`System`, `Custom`); anything else is
//!   `InvalidParameter.PolicyType`. Actions that only make sense for
//!   custom policies (`CreatePolicyVersion`, `DeletePolicy`, …) answer
//!   `EntityNotExist.Policy` for a system policy's name.
//! * `SetAsDefault` and `CascadingDelete` take `true`/`false` in any case;
//!   another value is `InvalidParameter.<Name>`. `RotateStrategy` is `None`
//!   (default) or `DeleteOldestNonDefaultVersionWhenLimitExceeded`.
//! * `Tag` on `CreatePolicy` / `ListPolicies` is accepted and ignored
//!   (tags are not stored yet); `ResourceGroupId` on attachments likewise.
//! * `ListEntitiesForPolicy` always returns an empty `Roles` list (roles
//!   are not served).

use axum::response::Response;
use serde::Serialize;
use trustdesk_domain::{
    AttachTarget, Authorized, Comments, Description, Group, GroupCursor, GroupName, GroupPatch,
    ManagedPolicy, PolicyName, PolicyType, PolicyVersion, RotateStrategy, UserName,
};
use trustdesk_service::Service;

use crate::action::Action;
use crate::encode::{Reply, vendor_date};
use crate::error::RpcError;
use crate::params::{Args, encode_marker, parse_bool};

/// Runs an authorized group / policy action.
pub(crate) async fn run(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    use Action as A;
    match reply.action {
        A::CreateGroup => create_group(svc, auth, args, reply).await,
        A::GetGroup => get_group(svc, auth, args, reply).await,
        A::UpdateGroup => update_group(svc, auth, args, reply).await,
        A::DeleteGroup => {
            svc.delete_group(auth, &group_name(args)?).await?;
            reply.empty()
        }
        A::ListGroups => list_groups(svc, auth, args, reply).await,
        A::AddUserToGroup => {
            let (g, u) = (group_name(args)?, user_name(args)?);
            svc.add_user_to_group(auth, &g, &u)
                .await
                .map_err(RpcError::membership)?;
            reply.empty()
        }
        A::RemoveUserFromGroup => {
            let (g, u) = (group_name(args)?, user_name(args)?);
            svc.remove_user_from_group(auth, &g, &u)
                .await
                .map_err(RpcError::membership)?;
            reply.empty()
        }
        A::ListGroupsForUser => groups_for_user(svc, auth, args, reply).await,
        A::ListUsersForGroup => users_for_group(svc, auth, args, reply).await,
        A::CreatePolicy => create_policy(svc, auth, args, reply).await,
        A::GetPolicy => get_policy(svc, auth, args, reply).await,
        A::UpdatePolicyDescription => update_description(svc, auth, args, reply).await,
        A::DeletePolicy => {
            let name = policy_name(args)?;
            let cascade = flag(args, "CascadingDelete")?;
            svc.delete_policy(auth, &name, cascade).await?;
            reply.empty()
        }
        A::ListPolicies => list_policies(svc, auth, args, reply).await,
        A::CreatePolicyVersion => create_version(svc, auth, args, reply).await,
        A::GetPolicyVersion => {
            let (kind, name) = (policy_type(args)?, policy_name(args)?);
            let version = version_id(args)?;
            let v = svc.get_policy_version(auth, kind, &name, version).await?;
            reply.send(&VersionResponse {
                request_id: reply.request_id.as_str(),
                policy_version: VersionOut::from(v),
            })
        }
        A::ListPolicyVersions => {
            let (kind, name) = (policy_type(args)?, policy_name(args)?);
            let versions = svc.list_policy_versions(auth, kind, &name).await?;
            reply.send(&VersionsResponse {
                request_id: reply.request_id.as_str(),
                policy_versions: VersionList {
                    items: versions.into_iter().map(VersionOut::from).collect(),
                },
            })
        }
        A::SetDefaultPolicyVersion => {
            let name = policy_name(args)?;
            svc.set_default_policy_version(auth, &name, version_id(args)?)
                .await?;
            reply.empty()
        }
        A::DeletePolicyVersion => {
            let name = policy_name(args)?;
            svc.delete_policy_version(auth, &name, version_id(args)?)
                .await?;
            reply.empty()
        }
        A::AttachPolicyToUser | A::AttachPolicyToGroup => {
            let (kind, name) = (policy_type(args)?, policy_name(args)?);
            let target = target(args, reply.action)?;
            svc.attach_policy(auth, kind, &name, &target)
                .await
                .map_err(|e| RpcError::attachment(e, &target))?;
            reply.empty()
        }
        A::DetachPolicyFromUser | A::DetachPolicyFromGroup => {
            let (kind, name) = (policy_type(args)?, policy_name(args)?);
            let target = target(args, reply.action)?;
            svc.detach_policy(auth, kind, &name, &target)
                .await
                .map_err(|e| RpcError::attachment(e, &target))?;
            reply.empty()
        }
        A::ListPoliciesForUser | A::ListPoliciesForGroup => {
            let target = target(args, reply.action)?;
            let list = svc.list_policies_for(auth, &target).await?;
            reply.send(&AttachedResponse {
                request_id: reply.request_id.as_str(),
                policies: AttachedList {
                    items: list
                        .into_iter()
                        .map(|(a, p)| AttachedOut {
                            policy_name: a.name.into_string(),
                            policy_type: a.kind.as_str(),
                            description: p.description.map(Description::into_string),
                            default_version: p.default_version,
                            attach_date: vendor_date(a.attached_at),
                        })
                        .collect(),
                },
            })
        }
        A::ListEntitiesForPolicy => entities(svc, auth, args, reply).await,
        _ => Err(RpcError::action_not_found()),
    }
}

// ---- parameters ----

fn group_name(args: &Args) -> Result<GroupName, RpcError> {
    args.parse("GroupName", GroupName::parse)
}

fn user_name(args: &Args) -> Result<UserName, RpcError> {
    args.parse("UserName", UserName::parse)
}

fn policy_name(args: &Args) -> Result<PolicyName, RpcError> {
    args.parse("PolicyName", PolicyName::parse)
}

fn policy_type(args: &Args) -> Result<PolicyType, RpcError> {
    PolicyType::parse(args.required("PolicyType")?)
        .ok_or_else(|| RpcError::invalid_parameter("PolicyType"))
}

fn version_id(args: &Args) -> Result<&str, RpcError> {
    args.lookup_id("VersionId")
}

fn flag(args: &Args, name: &'static str) -> Result<bool, RpcError> {
    match args.optional(name) {
        None | Some("") => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| RpcError::invalid_parameter(name)),
    }
}

/// `PolicyDocument`: required, at most 6,144 characters (checked before
/// parsing, so an oversized document costs nothing).
fn document(args: &Args) -> Result<&str, RpcError> {
    let text = args.required("PolicyDocument")?;
    if text.chars().count() > 6144 {
        return Err(RpcError::validation(
            "PolicyDocument",
            trustdesk_domain::Problem::Length,
        ));
    }
    Ok(text)
}

fn target(args: &Args, action: Action) -> Result<AttachTarget, RpcError> {
    use Action as A;
    Ok(match action {
        A::AttachPolicyToUser | A::DetachPolicyFromUser | A::ListPoliciesForUser => {
            AttachTarget::User(user_name(args)?)
        }
        _ => AttachTarget::Group(group_name(args)?),
    })
}

const GROUP_MARKER: &str = "groups:";
const MEMBER_MARKER: &str = "members:";
const POLICY_MARKER: &str = "policies:";

// ---- groups ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupOut {
    group_id: String,
    group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<String>,
    create_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_date: Option<String>,
}

impl GroupOut {
    fn new(g: Group, with_update: bool) -> Self {
        Self {
            group_id: g.id.to_string(),
            group_name: g.name.into_string(),
            comments: g.comments.map(Comments::into_string),
            create_date: vendor_date(g.created_at),
            update_date: with_update.then(|| vendor_date(g.updated_at)),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupResponse<'a> {
    request_id: &'a str,
    group: GroupOut,
}

async fn create_group(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = group_name(args)?;
    let comments = args.parse_opt("Comments", Comments::parse)?;
    let g = svc.create_group(auth, name, comments).await?;
    reply.send(&GroupResponse {
        request_id: reply.request_id.as_str(),
        group: GroupOut::new(g, false),
    })
}

async fn get_group(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let g = svc.get_group(auth, &group_name(args)?).await?;
    reply.send(&GroupResponse {
        request_id: reply.request_id.as_str(),
        group: GroupOut::new(g, true),
    })
}

async fn update_group(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = group_name(args)?;
    let patch = GroupPatch {
        name: args.parse_opt("NewGroupName", GroupName::parse)?,
        comments: args.parse_patch("NewComments", Comments::parse)?,
    };
    let g = svc.update_group(auth, &name, patch).await?;
    reply.send(&GroupResponse {
        request_id: reply.request_id.as_str(),
        group: GroupOut::new(g, true),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupsResponse<'a> {
    request_id: &'a str,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    groups: GroupList,
}

#[derive(Serialize)]
struct GroupList {
    #[serde(rename = "Group")]
    items: Vec<GroupOut>,
}

async fn list_groups(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let max = args.int_in("MaxItems", 1..=100, 100)?;
    let after = args.marker(GROUP_MARKER)?.map(GroupCursor);
    let page = svc.list_groups(auth, after, max).await?;
    reply.send(&GroupsResponse {
        request_id: reply.request_id.as_str(),
        is_truncated: page.next.is_some(),
        marker: page.next.map(|c| encode_marker(GROUP_MARKER, c.0)),
        groups: GroupList {
            items: page
                .groups
                .into_iter()
                .map(|g| GroupOut::new(g, true))
                .collect(),
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JoinedOut {
    group_id: String,
    group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<String>,
    join_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JoinedResponse<'a> {
    request_id: &'a str,
    groups: JoinedList,
}

#[derive(Serialize)]
struct JoinedList {
    #[serde(rename = "Group")]
    items: Vec<JoinedOut>,
}

async fn groups_for_user(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let list = svc.list_groups_for_user(auth, &user_name(args)?).await?;
    reply.send(&JoinedResponse {
        request_id: reply.request_id.as_str(),
        groups: JoinedList {
            items: list
                .into_iter()
                .map(|m| JoinedOut {
                    group_id: m.group.id.to_string(),
                    group_name: m.group.name.into_string(),
                    comments: m.group.comments.map(Comments::into_string),
                    join_date: vendor_date(m.joined_at),
                })
                .collect(),
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MemberOut {
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    join_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MembersResponse<'a> {
    request_id: &'a str,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    users: MemberList,
}

#[derive(Serialize)]
struct MemberList {
    #[serde(rename = "User")]
    items: Vec<MemberOut>,
}

async fn users_for_group(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let group = group_name(args)?;
    let max = args.int_in("MaxItems", 1..=1000, 100)?;
    let after = args.marker(MEMBER_MARKER)?.map(GroupCursor);
    let page = svc.list_users_for_group(auth, &group, after, max).await?;
    reply.send(&MembersResponse {
        request_id: reply.request_id.as_str(),
        is_truncated: page.next.is_some(),
        marker: page.next.map(|c| encode_marker(MEMBER_MARKER, c.0)),
        users: MemberList {
            items: page
                .members
                .into_iter()
                .map(|m| MemberOut {
                    display_name: m.user.ram_display_name(),
                    user_name: m.user.name.into_string(),
                    join_date: vendor_date(m.joined_at),
                })
                .collect(),
        },
    })
}

// ---- policies ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyOut {
    policy_name: String,
    policy_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    default_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_count: Option<u64>,
    create_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_date: Option<String>,
}

/// Which fields a policy shape carries.
#[derive(Clone, Copy)]
enum PolicyShape {
    /// `CreatePolicy`: no count, no update date.
    Created,
    /// `GetPolicy`, `ListPolicies`, `UpdatePolicyDescription`.
    Full,
}

impl PolicyOut {
    fn new(p: ManagedPolicy, shape: PolicyShape) -> Self {
        let full = matches!(shape, PolicyShape::Full);
        Self {
            policy_name: p.name.into_string(),
            policy_type: p.kind.as_str(),
            description: p.description.map(Description::into_string),
            default_version: p.default_version,
            attachment_count: full.then_some(p.attachment_count),
            create_date: vendor_date(p.created_at),
            update_date: full.then(|| vendor_date(p.updated_at)),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyResponse<'a> {
    request_id: &'a str,
    policy: PolicyOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_policy_version: Option<VersionOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionOut {
    version_id: String,
    is_default_version: bool,
    policy_document: String,
    create_date: String,
}

impl From<PolicyVersion> for VersionOut {
    fn from(v: PolicyVersion) -> Self {
        Self {
            version_id: v.id,
            is_default_version: v.is_default,
            policy_document: v.document,
            create_date: vendor_date(v.created_at),
        }
    }
}

async fn create_policy(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = policy_name(args)?;
    let doc = document(args)?.to_owned();
    let description = args.parse_opt("Description", Description::parse)?;
    let p = svc.create_policy(auth, name, doc, description).await?;
    reply.send(&PolicyResponse {
        request_id: reply.request_id.as_str(),
        policy: PolicyOut::new(p, PolicyShape::Created),
        default_policy_version: None,
    })
}

async fn get_policy(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let (kind, name) = (policy_type(args)?, policy_name(args)?);
    let (p, v) = svc.get_policy(auth, kind, &name).await?;
    reply.send(&PolicyResponse {
        request_id: reply.request_id.as_str(),
        policy: PolicyOut::new(p, PolicyShape::Full),
        default_policy_version: Some(VersionOut::from(v)),
    })
}

async fn update_description(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = policy_name(args)?;
    let description = args.parse_opt("NewDescription", Description::parse)?;
    let p = svc
        .update_policy_description(auth, &name, description)
        .await?;
    reply.send(&PolicyResponse {
        request_id: reply.request_id.as_str(),
        policy: PolicyOut::new(p, PolicyShape::Full),
        default_policy_version: None,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PoliciesResponse<'a> {
    request_id: &'a str,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    policies: PolicyList,
}

#[derive(Serialize)]
struct PolicyList {
    #[serde(rename = "Policy")]
    items: Vec<PolicyOut>,
}

async fn list_policies(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let kind = match args.optional("PolicyType") {
        None | Some("") => None,
        Some(v) => {
            Some(PolicyType::parse(v).ok_or_else(|| RpcError::invalid_parameter("PolicyType"))?)
        }
    };
    let max = args.int_in("MaxItems", 1..=1000, 100)? as usize;
    let start = args.marker(POLICY_MARKER)?.unwrap_or(0) as usize;
    let all = svc.list_policies(auth, kind).await?;
    let end = (start + max).min(all.len());
    let truncated = end < all.len();
    let items = all
        .into_iter()
        .skip(start)
        .take(max)
        .map(|p| PolicyOut::new(p, PolicyShape::Full))
        .collect();
    reply.send(&PoliciesResponse {
        request_id: reply.request_id.as_str(),
        is_truncated: truncated,
        marker: truncated.then(|| encode_marker(POLICY_MARKER, end as i64)),
        policies: PolicyList { items },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionResponse<'a> {
    request_id: &'a str,
    policy_version: VersionOut,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionsResponse<'a> {
    request_id: &'a str,
    policy_versions: VersionList,
}

#[derive(Serialize)]
struct VersionList {
    #[serde(rename = "PolicyVersion")]
    items: Vec<VersionOut>,
}

async fn create_version(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = policy_name(args)?;
    let doc = document(args)?;
    let set_default = flag(args, "SetAsDefault")?;
    let rotate = match args.optional("RotateStrategy") {
        None | Some("") | Some("None") => RotateStrategy::None,
        Some("DeleteOldestNonDefaultVersionWhenLimitExceeded") => {
            RotateStrategy::DeleteOldestNonDefaultVersionWhenLimitExceeded
        }
        Some(_) => return Err(RpcError::invalid_parameter("RotateStrategy")),
    };
    let v = svc
        .create_policy_version(auth, &name, doc, set_default, rotate)
        .await?;
    reply.send(&VersionResponse {
        request_id: reply.request_id.as_str(),
        policy_version: VersionOut::from(v),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttachedOut {
    policy_name: String,
    policy_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    default_version: String,
    attach_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttachedResponse<'a> {
    request_id: &'a str,
    policies: AttachedList,
}

#[derive(Serialize)]
struct AttachedList {
    #[serde(rename = "Policy")]
    items: Vec<AttachedOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EntityUserOut {
    user_name: String,
    user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    attach_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EntityGroupOut {
    group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<String>,
    attach_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EntitiesResponse<'a> {
    request_id: &'a str,
    users: EntityUsers,
    groups: EntityGroups,
    roles: EntityRoles,
}

#[derive(Serialize)]
struct EntityUsers {
    #[serde(rename = "User")]
    items: Vec<EntityUserOut>,
}

#[derive(Serialize)]
struct EntityGroups {
    #[serde(rename = "Group")]
    items: Vec<EntityGroupOut>,
}

#[derive(Serialize)]
struct EntityRoles {
    #[serde(rename = "Role")]
    items: Vec<EntityGroupOut>,
}

async fn entities(
    svc: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let (kind, name) = (policy_type(args)?, policy_name(args)?);
    let e = svc.list_entities_for_policy(auth, kind, &name).await?;
    reply.send(&EntitiesResponse {
        request_id: reply.request_id.as_str(),
        users: EntityUsers {
            items: e
                .users
                .into_iter()
                .map(|(u, at)| EntityUserOut {
                    display_name: u.ram_display_name(),
                    user_id: u.id.to_string(),
                    user_name: u.name.into_string(),
                    attach_date: vendor_date(at),
                })
                .collect(),
        },
        groups: EntityGroups {
            items: e
                .groups
                .into_iter()
                .map(|(g, at)| EntityGroupOut {
                    group_name: g.name.into_string(),
                    comments: g.comments.map(Comments::into_string),
                    attach_date: vendor_date(at),
                })
                .collect(),
        },
        roles: EntityRoles { items: Vec::new() },
    })
}

//! Every CertCentral route this face serves, parsed from method and path
//! (relative to `/services/v2`), each naming the [`Operation`] whose
//! permission it needs: the face's single table (reference §6–§9).
//!
//! Paths match with or without one trailing slash; `HEAD` is `GET`
//! (hyper drops the body). `{user_id}` is digits or `me`; anything else in
//! an id position is no route, as is an unknown path or a known path with
//! the wrong method (404 `not_found|route`, reference §1).

use trustdesk_domain::certcentral::Operation;
use trustdesk_domain::{ApiKeyId, ContainerId, UserId};

/// `{user_id}`: a number or the key's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef {
    Me,
    Id(UserId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Account,
    ListUsers,
    ListServiceUsers,
    AddUser,
    GetUser(UserRef),
    UpdateUser(UserRef),
    DeleteUser(UserRef),
    SetUserRole(UserRef),
    SetContainerAssignments(UserRef),
    ResendCreateEmail(UserRef),
    UsernameAvailable,
    ListContainers,
    GetContainer(ContainerId),
    ContainerParent(ContainerId),
    ContainerChildren(ContainerId),
    CreateContainer(ContainerId),
    UpdateContainer(ContainerId),
    ContainerRoles(ContainerId),
    ListKeys,
    GetKey(ApiKeyId),
    CreateKey(UserRef),
    UpdateKey(ApiKeyId),
    SetKeyStatus(ApiKeyId),
    KeyRoles,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn user_ref(s: &str) -> Option<UserRef> {
    if s == "me" {
        Some(UserRef::Me)
    } else {
        number(s).map(|n| UserRef::Id(UserId(n)))
    }
}

impl Route {
    /// The route for `method` on `path` (relative to `/services/v2`), or
    /// `None`. The second value of `UsernameAvailable` lives in the path
    /// and is read by the handler.
    pub fn parse(method: &str, path: &str) -> Option<Route> {
        let method = if method == "HEAD" { "GET" } else { method };
        let path = path.strip_prefix('/').unwrap_or(path);
        let path = path.strip_suffix('/').unwrap_or(path);
        let segs: Vec<&str> = path.split('/').collect();
        use Route as R;
        let container = |s: &str| number(s).map(ContainerId);
        let key = |s: &str| number(s).map(ApiKeyId);
        Some(match (method, segs.as_slice()) {
            ("GET", ["account"]) => R::Account,
            ("GET", ["user"]) => R::ListUsers,
            ("POST", ["user"]) => R::AddUser,
            ("GET", ["user", "api-only"]) | ("GET", ["service-user"]) => R::ListServiceUsers,
            ("GET", ["user", "availability", name]) if !name.is_empty() => R::UsernameAvailable,
            ("GET", ["user", id]) => R::GetUser(user_ref(id)?),
            ("PUT", ["user", id]) => R::UpdateUser(user_ref(id)?),
            ("DELETE", ["user", id]) => R::DeleteUser(user_ref(id)?),
            ("PUT", ["user", id, "role"]) => R::SetUserRole(user_ref(id)?),
            ("PUT", ["user", id, "container-assignments"]) => {
                R::SetContainerAssignments(user_ref(id)?)
            }
            ("GET", ["user", id, "resend-create-email"]) => R::ResendCreateEmail(user_ref(id)?),
            ("GET", ["container"]) => R::ListContainers,
            ("GET", ["container", id]) => R::GetContainer(container(id)?),
            ("PUT", ["container", id]) => R::UpdateContainer(container(id)?),
            ("GET", ["container", id, "parent"]) => R::ContainerParent(container(id)?),
            ("GET", ["container", id, "children"]) => R::ContainerChildren(container(id)?),
            ("POST", ["container", id, "children"]) => R::CreateContainer(container(id)?),
            ("GET", ["container", id, "role"]) => R::ContainerRoles(container(id)?),
            ("GET", ["key"]) => R::ListKeys,
            ("GET", ["key", "api-roles"]) => R::KeyRoles,
            ("GET", ["key", id]) => R::GetKey(key(id)?),
            ("PUT", ["key", id]) => R::UpdateKey(key(id)?),
            ("PUT", ["key", id, "status"]) => R::SetKeyStatus(key(id)?),
            ("POST", ["key", "user", id]) => R::CreateKey(user_ref(id)?),
            _ => return None,
        })
    }

    /// The operation (and so the permission) the route needs. Adding a
    /// service user is told apart from adding a user by the body, so the
    /// face asks again with [`Operation::AddServiceUser`] for those.
    pub fn operation(self) -> Operation {
        use Operation as O;
        use Route as R;
        match self {
            R::Account => O::GetAccount,
            R::ListUsers | R::UsernameAvailable => O::ListUsers,
            R::ListServiceUsers => O::ListServiceUsers,
            R::AddUser => O::AddUser,
            R::GetUser(UserRef::Me) => O::GetCurrentUser,
            R::GetUser(UserRef::Id(_)) => O::GetUser,
            R::UpdateUser(_) => O::UpdateUser,
            R::DeleteUser(_) => O::DeleteUser,
            R::SetUserRole(_) => O::SetUserRole,
            R::SetContainerAssignments(_) | R::ResendCreateEmail(_) => O::SetContainerAssignments,
            R::ListContainers | R::ContainerChildren(_) => O::ListContainers,
            R::GetContainer(_) | R::ContainerParent(_) => O::GetContainer,
            R::CreateContainer(_) => O::CreateContainer,
            R::UpdateContainer(_) => O::UpdateContainer,
            R::ContainerRoles(_) => O::ListContainerRoles,
            R::ListKeys => O::ListApiKeys,
            R::GetKey(_) => O::GetApiKey,
            R::CreateKey(_) => O::CreateApiKey,
            R::UpdateKey(_) => O::UpdateApiKey,
            R::SetKeyStatus(_) => O::SetApiKeyStatus,
            R::KeyRoles => O::ListApiKeyRoles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_and_without_a_trailing_slash() {
        assert_eq!(Route::parse("GET", "/user"), Some(Route::ListUsers));
        assert_eq!(Route::parse("GET", "/user/"), Some(Route::ListUsers));
        assert_eq!(
            Route::parse("GET", "/user/me/"),
            Some(Route::GetUser(UserRef::Me))
        );
        assert_eq!(
            Route::parse("HEAD", "/user/12"),
            Some(Route::GetUser(UserRef::Id(UserId(12))))
        );
        assert_eq!(
            Route::parse("POST", "/key/user/7"),
            Some(Route::CreateKey(UserRef::Id(UserId(7))))
        );
        assert_eq!(Route::parse("GET", "/key/api-roles"), Some(Route::KeyRoles));
    }

    #[test]
    fn unknown_paths_methods_and_ids_are_no_route() {
        for (m, p) in [
            ("PATCH", "/user/1"),
            ("DELETE", "/key/1"),
            ("POST", "/user/1"),
            ("GET", "/user/abc"),
            ("GET", "/user/-1"),
            ("GET", "/user/99999999999999999999"),
            ("GET", "/user//"),
            ("GET", "/order/certificate"),
            ("GET", "/"),
            ("GET", ""),
            ("GET", "/user/1/2/3"),
        ] {
            assert_eq!(Route::parse(m, p), None, "{m} {p}");
        }
    }

    /// Every operation is reachable through some route, and every route
    /// names one (the completeness check the policy work relies on).
    #[test]
    fn every_operation_has_a_route() {
        let samples = [
            ("GET", "/account"),
            ("GET", "/user"),
            ("GET", "/user/api-only"),
            ("POST", "/user"),
            ("GET", "/user/me"),
            ("GET", "/user/1"),
            ("PUT", "/user/1"),
            ("DELETE", "/user/1"),
            ("PUT", "/user/1/role"),
            ("PUT", "/user/1/container-assignments"),
            ("GET", "/container"),
            ("GET", "/container/1"),
            ("POST", "/container/1/children"),
            ("PUT", "/container/1"),
            ("GET", "/container/1/role"),
            ("GET", "/key"),
            ("GET", "/key/1"),
            ("POST", "/key/user/1"),
            ("PUT", "/key/1"),
            ("PUT", "/key/1/status"),
            ("GET", "/key/api-roles"),
        ];
        let mut seen: Vec<Operation> = samples
            .iter()
            .map(|(m, p)| Route::parse(m, p).unwrap().operation())
            .collect();
        seen.push(Operation::AddServiceUser);
        for op in Operation::ALL {
            assert!(seen.contains(op), "{op:?} has no route");
        }
    }
}

//! Every RPC operation served, named exactly as the vendor names it, with
//! the API version it belongs to and the permission its caller needs.
//! Adding an action is one variant here, one arm in its API's `dispatch`
//! (`ram` or `cas`).

/// A product API version the face serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// RAM, `Version=2015-05-01`.
    Ram,
    /// Certificate service (CAS), `Version=2018-07-13`.
    Cas,
}

impl Api {
    pub const ALL: &'static [Api] = &[Api::Ram, Api::Cas];

    pub fn version(self) -> &'static str {
        match self {
            Api::Ram => "2015-05-01",
            Api::Cas => "2018-07-13",
        }
    }

    pub fn from_version(v: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.version() == v)
    }

    /// The vendor's host for this product, used as `HostId` when the
    /// request did not name one.
    pub fn vendor_host(self) -> &'static str {
        match self {
            Api::Ram => "ram.aliyuncs.com",
            Api::Cas => "cas.aliyuncs.com",
        }
    }

    /// The service code its permissions are written with (RAM policies).
    pub fn service_code(self) -> &'static str {
        match self {
            Api::Ram => "ram",
            Api::Cas => "yundun-cert",
        }
    }
}

macro_rules! actions {
    ($($api:ident :: $name:ident => $perm:literal),* $(,)?) => {
        /// RPC actions, spelled as on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($name),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name),*];

            /// Wire name, e.g. `CreateUser`.
            pub fn name(self) -> &'static str {
                match self { $(Action::$name => stringify!($name)),* }
            }

            /// The API version the action belongs to.
            pub fn api(self) -> Api {
                match self { $(Action::$name => Api::$api),* }
            }

            /// Permission a caller's policies must allow, `service:Action`.
            pub fn permission(self) -> &'static str {
                match self { $(Action::$name => $perm),* }
            }
        }
    };
}

actions! {
    Ram::CreateUser => "ram:CreateUser",
    Ram::GetUser => "ram:GetUser",
    Ram::UpdateUser => "ram:UpdateUser",
    Ram::DeleteUser => "ram:DeleteUser",
    Ram::ListUsers => "ram:ListUsers",
    Ram::CreateAccessKey => "ram:CreateAccessKey",
    Ram::ListAccessKeys => "ram:ListAccessKeys",
    Ram::UpdateAccessKey => "ram:UpdateAccessKey",
    Ram::DeleteAccessKey => "ram:DeleteAccessKey",
    Ram::GetAccessKeyLastUsed => "ram:GetAccessKeyLastUsed",
    Ram::CreateGroup => "ram:CreateGroup",
    Ram::GetGroup => "ram:GetGroup",
    Ram::UpdateGroup => "ram:UpdateGroup",
    Ram::DeleteGroup => "ram:DeleteGroup",
    Ram::ListGroups => "ram:ListGroups",
    Ram::AddUserToGroup => "ram:AddUserToGroup",
    Ram::RemoveUserFromGroup => "ram:RemoveUserFromGroup",
    Ram::ListGroupsForUser => "ram:ListGroupsForUser",
    Ram::ListUsersForGroup => "ram:ListUsersForGroup",
    Ram::CreatePolicy => "ram:CreatePolicy",
    Ram::GetPolicy => "ram:GetPolicy",
    Ram::UpdatePolicyDescription => "ram:UpdatePolicyDescription",
    Ram::DeletePolicy => "ram:DeletePolicy",
    Ram::ListPolicies => "ram:ListPolicies",
    Ram::CreatePolicyVersion => "ram:CreatePolicyVersion",
    Ram::GetPolicyVersion => "ram:GetPolicyVersion",
    Ram::ListPolicyVersions => "ram:ListPolicyVersions",
    Ram::SetDefaultPolicyVersion => "ram:SetDefaultPolicyVersion",
    Ram::DeletePolicyVersion => "ram:DeletePolicyVersion",
    Ram::AttachPolicyToUser => "ram:AttachPolicyToUser",
    Ram::DetachPolicyFromUser => "ram:DetachPolicyFromUser",
    Ram::AttachPolicyToGroup => "ram:AttachPolicyToGroup",
    Ram::DetachPolicyFromGroup => "ram:DetachPolicyFromGroup",
    Ram::ListPoliciesForUser => "ram:ListPoliciesForUser",
    Ram::ListPoliciesForGroup => "ram:ListPoliciesForGroup",
    Ram::ListEntitiesForPolicy => "ram:ListEntitiesForPolicy",
    Cas::CreateUserCertificate => "yundun-cert:CreateUserCertificate",
    Cas::DescribeUserCertificateDetail => "yundun-cert:DescribeUserCertificateDetail",
    Cas::DescribeUserCertificateList => "yundun-cert:DescribeUserCertificateList",
    Cas::DeleteUserCertificate => "yundun-cert:DeleteUserCertificate",
    Cas::CreateDVOrderAudit => "yundun-cert:CreateDVOrderAudit",
    Cas::DescribeDVOrderResult => "yundun-cert:DescribeDVOrderResult",
    Cas::DescribeOrderInstanceList => "yundun-cert:DescribeOrderInstanceList",
}

impl Action {
    /// Looks an action up within one API version. Names are
    /// case-sensitive, as on the vendor's gateway.
    pub fn find(api: Api, name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.api() == api && a.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_and_names_its_permission() {
        for a in Action::ALL {
            assert_eq!(Action::find(a.api(), a.name()), Some(*a));
            let (service, op) = a.permission().split_once(':').unwrap();
            assert_eq!(service, a.api().service_code());
            assert_eq!(
                op,
                a.name(),
                "permission of {a:?} must name the action itself"
            );
        }
        assert_eq!(Action::find(Api::Ram, "createuser"), None);
        assert_eq!(Api::from_version("2015-05-01"), Some(Api::Ram));
        assert_eq!(Api::from_version("2018-07-13"), Some(Api::Cas));
        assert_eq!(Api::from_version("2014-05-01"), None);
        let cas = Action::ALL.iter().filter(|a| a.api() == Api::Cas).count();
        assert_eq!(cas, 7, "the reference lists seven CAS 2018-07-13 actions");
        let ram = Action::ALL.iter().filter(|a| a.api() == Api::Ram).count();
        assert_eq!(
            ram,
            10 + 26,
            "users and keys, then groups, policies, attachments"
        );
        assert_eq!(Action::find(Api::Ram, "CreateUserCertificate"), None);
    }
}

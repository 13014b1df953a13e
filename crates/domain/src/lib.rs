//! trustdesk's domain model: identifiers, validated values, the user and
//! access-key aggregates, errors, store traits and the policy evaluator.
//!
//! Nothing here performs I/O or reads the wall clock: time comes in through
//! [`Clock`], storage through the object-safe traits in [`store`]. Every API
//! face (Alibaba RPC today, CertCentral and the native API later) speaks to
//! this one model through the service crate, so a user created on one face is
//! the same record on every other.

pub mod access_key;
pub mod audit;
pub mod certcentral;
pub mod certificate;
pub mod clock;
pub mod error;
pub mod group;
pub mod ids;
pub mod policy;
pub mod policy_doc;
pub mod ram_policy;
pub mod rows;
pub mod store;
pub mod user;
pub mod validate;

pub use access_key::{AccessKey, KeyOwner, KeyStatus, NewAccessKey, StoredAccessKey};
pub use audit::{AuditEvent, AuditOutcome};
pub use certcentral::{
    AccessRole, ApiKey, ApiKeyStatus, Container, KeyRole, NewApiKey, NewContainer, Profile,
    ProfilePatch, UserKind, UserListing, UserQuery,
};
pub use certificate::{
    Certificate, CertificateId, CertificateInfo, CertificatePage, ImportProblem, ImportRejection,
    NewCertificate, StoredCertificate,
};
pub use clock::{Clock, SystemClock};
pub use error::{Entity, Error, OrNotFound, StoreError};
pub use group::{Group, GroupCursor, GroupMembership, GroupPage, GroupPatch, Member, MemberPage};
pub use ids::{AccessKeyId, AccountId, ApiKeyId, ContainerId, GroupId, UserId};
pub use policy::{Authorized, Decision, Principal, PrincipalKind};
pub use ram_policy::{
    AttachTarget, Attachment, EffectivePolicy, ManagedPolicy, NewPolicy, PolicyEntities,
    PolicyLimits, PolicyType, PolicyVersion, RotateStrategy,
};
pub use store::{
    AccessKeyStore, Account, AccountStore, ApiKeyStore, AuditStore, CertificateStore,
    ContainerStore, GroupStore, NonceStore, PolicyStore, Store, UserCursor, UserPage, UserStore,
};
pub use user::{NewUser, User, UserPatch};
pub use validate::{
    CertificateName, Comments, Description, DisplayName, Email, GroupName, MobilePhone, PolicyName,
    Problem, UserName,
};

//! STUB
#![allow(unused_imports)]
use async_trait::async_trait;
use time::OffsetDateTime;
use trustdesk_domain::store::*;
use trustdesk_domain::*;
use trustdesk_domain::ram_policy::*;
use trustdesk_domain::certcentral::*;
use trustdesk_domain::group::*;

use crate::PgStore;

#[async_trait]
impl GroupStore for PgStore {
    async fn create_group(&self, _group: &Group, _max_groups: u32) -> Result<(), StoreError> {
        todo!()
    }
    async fn group( &self, _account: AccountId, _name: &GroupName, ) -> Result<Option<Group>, StoreError> {
        todo!()
    }
    async fn update_group( &self, _account: AccountId, _name: &GroupName, _patch: &GroupPatch, _now: OffsetDateTime, ) -> Result<Group, StoreError> {
        todo!()
    }
    async fn delete_group(&self, _account: AccountId, _name: &GroupName) -> Result<(), StoreError> {
        todo!()
    }
    async fn list_groups( &self, _account: AccountId, _after: Option<GroupCursor>, _limit: u32, ) -> Result<GroupPage, StoreError> {
        todo!()
    }
    async fn add_user_to_group( &self, _account: AccountId, _group: &GroupName, _user: &UserName, _max_per_user: u32, _now: OffsetDateTime, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn remove_user_from_group( &self, _account: AccountId, _group: &GroupName, _user: &UserName, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn groups_for_user( &self, _account: AccountId, _user: &UserName, ) -> Result<Vec<GroupMembership>, StoreError> {
        todo!()
    }
    async fn users_for_group( &self, _account: AccountId, _group: &GroupName, _after: Option<GroupCursor>, _limit: u32, ) -> Result<MemberPage, StoreError> {
        todo!()
    }
}

#[async_trait]
impl PolicyStore for PgStore {
    async fn create_policy( &self, _policy: &NewPolicy, _max_policies: u32, ) -> Result<ManagedPolicy, StoreError> {
        todo!()
    }
    async fn custom_policy( &self, _account: AccountId, _name: &PolicyName, ) -> Result<Option<ManagedPolicy>, StoreError> {
        todo!()
    }
    async fn custom_policies(&self, _account: AccountId) -> Result<Vec<ManagedPolicy>, StoreError> {
        todo!()
    }
    async fn system_attachment_counts( &self, _account: AccountId, ) -> Result<Vec<(PolicyName, u64)>, StoreError> {
        todo!()
    }
    async fn update_policy_description( &self, _account: AccountId, _name: &PolicyName, _description: Option<&Description>, _now: OffsetDateTime, ) -> Result<ManagedPolicy, StoreError> {
        todo!()
    }
    async fn delete_policy( &self, _account: AccountId, _name: &PolicyName, _cascade: bool, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn policy_versions( &self, _account: AccountId, _name: &PolicyName, ) -> Result<Vec<PolicyVersion>, StoreError> {
        todo!()
    }
    async fn create_policy_version( &self, _account: AccountId, _name: &PolicyName, _document: &str, _set_default: bool, _rotate: RotateStrategy, _max_versions: u32, _now: OffsetDateTime, ) -> Result<PolicyVersion, StoreError> {
        todo!()
    }
    async fn set_default_policy_version( &self, _account: AccountId, _name: &PolicyName, _version: &str, _now: OffsetDateTime, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn delete_policy_version( &self, _account: AccountId, _name: &PolicyName, _version: &str, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn attach_policy( &self, _account: AccountId, _kind: PolicyType, _name: &PolicyName, _target: &AttachTarget, _max: u32, _now: OffsetDateTime, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn detach_policy( &self, _account: AccountId, _kind: PolicyType, _name: &PolicyName, _target: &AttachTarget, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn policies_for( &self, _account: AccountId, _target: &AttachTarget, ) -> Result<Vec<Attachment>, StoreError> {
        todo!()
    }
    async fn entities_for_policy( &self, _account: AccountId, _kind: PolicyType, _name: &PolicyName, ) -> Result<PolicyEntities, StoreError> {
        todo!()
    }
    async fn effective_policies( &self, _account: AccountId, _user: UserId, ) -> Result<Vec<EffectivePolicy>, StoreError> {
        todo!()
    }
    async fn policy_epoch(&self, _account: AccountId) -> Result<u64, StoreError> {
        todo!()
    }
}

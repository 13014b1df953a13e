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
impl ContainerStore for PgStore {
    async fn containers(&self, _account: AccountId) -> Result<Vec<Container>, StoreError> {
        todo!()
    }
    async fn create_container(&self, _container: &NewContainer) -> Result<ContainerId, StoreError> {
        todo!()
    }
    async fn update_container( &self, _account: AccountId, _id: ContainerId, _name: &str, _description: Option<&str>, ) -> Result<(), StoreError> {
        todo!()
    }
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn api_key_by_hash(&self, _hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        todo!()
    }
    async fn create_api_key(&self, _key: &NewApiKey) -> Result<ApiKeyId, StoreError> {
        todo!()
    }
    async fn api_key(&self, _account: AccountId, _id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        todo!()
    }
    async fn list_api_keys( &self, _account: AccountId, _user: Option<UserId>, ) -> Result<Vec<ApiKey>, StoreError> {
        todo!()
    }
    async fn update_api_key( &self, _account: AccountId, _id: ApiKeyId, _name: &str, _role: KeyRole, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn set_api_key_status( &self, _account: AccountId, _id: ApiKeyId, _status: ApiKeyStatus, ) -> Result<(), StoreError> {
        todo!()
    }
    async fn record_api_key_usage( &self, _usage: &[(ApiKeyId, OffsetDateTime)], ) -> Result<(), StoreError> {
        todo!()
    }
}

pub(crate) async fn insert_root_container(
    _conn: &mut sqlx::PgConnection,
    _c: &NewContainer,
) -> Result<(), StoreError> {
    todo!()
}

pub(crate) async fn insert_api_key(
    _conn: &mut sqlx::PgConnection,
    _k: &NewApiKey,
) -> Result<ApiKeyId, StoreError> {
    todo!()
}

pub(crate) async fn query_users(
    _pool: &sqlx::PgPool,
    _account: AccountId,
    _q: &UserQuery,
) -> Result<UserListing, StoreError> {
    todo!()
}

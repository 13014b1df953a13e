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
impl CertificateStore for PgStore {
    async fn create_certificate( &self, _cert: &NewCertificate, _audit: &AuditEvent, ) -> Result<CertificateId, StoreError> {
        todo!()
    }
    async fn certificate( &self, _account: AccountId, _id: CertificateId, ) -> Result<Option<StoredCertificate>, StoreError> {
        todo!()
    }
    async fn list_certificates( &self, _account: AccountId, _offset: u64, _limit: u32, ) -> Result<CertificatePage, StoreError> {
        todo!()
    }
    async fn delete_certificate( &self, _account: AccountId, _id: CertificateId, _audit: &AuditEvent, ) -> Result<(), StoreError> {
        todo!()
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, _event: &AuditEvent) -> Result<(), StoreError> {
        todo!()
    }
    async fn audit_events( &self, _account: AccountId, _after: u64, _limit: u32, ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        todo!()
    }
}

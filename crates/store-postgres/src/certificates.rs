//! Certificates and the audit trail.
//!
//! An upload is one transaction: the certificate's id is drawn from its
//! identity sequence first (ids grow and are never reused, on every node),
//! so the audit event inserted beside it can name it. A taken name is a
//! unique violation of `(account_id, name)` and takes the whole
//! transaction back, the drawn id becoming a gap. The account's total is
//! `account_count(account, 2)`: a column plus delta rows kept by triggers
//! (migrations 0001, 0002), so a listing never counts rows.
//!
//! Audit ids come from a sequence too. Transactions on several nodes may
//! commit out of id order, so a reader paging with `after` right at the
//! tail can see a later id before an earlier one commits; `trustdesk
//! audit` reads settled history, where this does not arise.

use async_trait::async_trait;
use sqlx::PgConnection;
use trustdesk_domain::store::{AuditStore, CertificateStore};
use trustdesk_domain::{
    AccessKeyId, AccountId, AuditEvent, AuditOutcome, CertificateId, CertificatePage, Entity,
    NewCertificate, StoreError, StoredCertificate,
};

use crate::{PgStore, backend, classify, db, from_ts, touched, transaction, ts};
use trustdesk_domain::rows::CertificateRow;

async fn insert_audit(conn: &mut PgConnection, e: &AuditEvent) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO audit_events (at, account_id, actor, access_key_id, action, resource, outcome, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ts(e.at),
        e.account.0 as i64,
        e.actor,
        e.access_key.as_str(),
        e.action,
        e.resource,
        e.outcome.as_str(),
        e.request_id
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The audit event of an upload names the id the insert assigned: a
/// trailing `*` of its resource is replaced by it.
fn with_id(audit: &AuditEvent, id: i64) -> AuditEvent {
    let mut e = audit.clone();
    if let Some(prefix) = e.resource.strip_suffix('*') {
        e.resource = format!("{prefix}{id}");
    }
    e
}

#[async_trait]
impl CertificateStore for PgStore {
    async fn create_certificate(
        &self,
        cert: &NewCertificate,
        audit: &AuditEvent,
    ) -> Result<CertificateId, StoreError> {
        let c = cert;
        let i = &c.info;
        let sans = serde_json::to_string(&i.sans).map_err(backend)?;
        transaction!(self, |conn| {
            let id = sqlx::query_scalar!(
                r#"SELECT nextval(pg_get_serial_sequence('certificates', 'id')) AS "id!""#
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            sqlx::query!(
                    r#"INSERT INTO certificates (id, account_id, name, common_name, sans, issuer, subject,
                                                 organization, province, city, country, serial, sha1_fingerprint,
                                                 sha256_fingerprint, key_algorithm, not_before, not_after, created_at,
                                                 cert_pem, key_sealed)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"#,
                    id,
                    c.account.0 as i64,
                    i.name.as_str(),
                    i.common_name,
                    sans,
                    i.issuer,
                    i.subject,
                    i.organization,
                    i.province,
                    i.city,
                    i.country,
                    i.serial,
                    i.sha1_fingerprint,
                    i.sha256_fingerprint,
                    i.key_algorithm,
                    ts(i.not_before),
                    ts(i.not_after),
                    ts(c.created_at),
                    c.cert_pem,
                    c.sealed_key
                )
                .execute(&mut *conn)
                .await
                // The id is fresh from the sequence, so the name is the only
                // unique key that can collide.
                .map_err(|e| {
                    classify(
                        e,
                        StoreError::AlreadyExists(Entity::Certificate),
                        StoreError::NotFound(Entity::Account),
                    )
                })?;
            insert_audit(conn, &with_id(audit, id)).await?;
            Ok(CertificateId(id as u64))
        })
    }

    async fn certificate(
        &self,
        account: AccountId,
        id: CertificateId,
    ) -> Result<Option<StoredCertificate>, StoreError> {
        let Ok(id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let row = sqlx::query!(
            r#"SELECT id, account_id, name, common_name, sans, issuer, subject, organization, province,
                      city, country, serial, sha1_fingerprint, sha256_fingerprint, key_algorithm, not_before,
                      not_after, created_at, cert_pem, key_sealed
               FROM certificates WHERE id = $1 AND account_id = $2"#,
            id,
            account.0 as i64
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            let cert = trustdesk_domain::certificate_row!(r).into_certificate()?;
            Ok(StoredCertificate {
                cert,
                cert_pem: r.cert_pem,
                sealed_key: r.key_sealed,
            })
        })
        .transpose()
    }

    async fn list_certificates(
        &self,
        account: AccountId,
        offset: u64,
        limit: u32,
    ) -> Result<CertificatePage, StoreError> {
        let account = account.0 as i64;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut conn = self.pool.acquire().await.map_err(db)?;
        // Two statements, not one transaction: the total and the page may
        // straddle a concurrent upload, as they may on the vendor's side.
        let total = sqlx::query_scalar!(r#"SELECT account_count($1, 2::smallint) AS "n""#, account)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?
            .unwrap_or(0);
        // The offset is walked in the narrow (account_id, id) index; only
        // the page's rows are read from the table.
        let rows = sqlx::query_as!(
            CertificateRow,
            r#"SELECT id, account_id, name, common_name, sans, issuer, subject, organization, province,
                      city, country, serial, sha1_fingerprint, sha256_fingerprint, key_algorithm,
                      not_before, not_after, created_at
               FROM certificates
               WHERE id IN (SELECT id FROM certificates WHERE account_id = $1 ORDER BY id LIMIT $2 OFFSET $3)
               ORDER BY id"#,
            account,
            i64::from(limit),
            offset
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let certificates = rows
            .into_iter()
            .map(CertificateRow::into_certificate)
            .collect::<Result<_, _>>()?;
        Ok(CertificatePage {
            total: total.max(0) as u64,
            certificates,
        })
    }

    async fn delete_certificate(
        &self,
        account: AccountId,
        id: CertificateId,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::Certificate));
        };
        let account = account.0 as i64;
        transaction!(self, |conn| {
            let done = sqlx::query!(
                "DELETE FROM certificates WHERE id = $1 AND account_id = $2",
                id,
                account
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            touched(done, Entity::Certificate)?;
            insert_audit(conn, audit).await
        })
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_audit(&mut conn, event).await
    }

    async fn audit_events(
        &self,
        account: AccountId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"SELECT id, at, account_id, actor, access_key_id, action, resource, outcome, request_id
               FROM audit_events WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3"#,
            account.0 as i64,
            after,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let outcome = AuditOutcome::parse(&r.outcome)
                    .ok_or_else(|| backend(format!("bad audit outcome {}", r.outcome)))?;
                Ok((
                    r.id as u64,
                    AuditEvent {
                        at: from_ts(r.at),
                        account: AccountId(r.account_id as u64),
                        actor: r.actor,
                        access_key: AccessKeyId(r.access_key_id),
                        action: r.action,
                        resource: r.resource,
                        outcome,
                        request_id: r.request_id,
                    },
                ))
            })
            .collect()
    }
}

//! Certificates and the audit trail.
//!
//! Names are unique per account through the unique index
//! `(account_id, name)`; an insert that hits it does nothing
//! (`ON CONFLICT DO NOTHING … RETURNING id` returns no row), so a name clash
//! is told apart from a missing account (foreign key) without reading error
//! messages. The account's total is `accounts.certificate_count`, kept by
//! triggers, so a listing never counts rows.
//!
//! Listing pages by offset because the vendor's API pages by number. The
//! offset is walked in the narrow `(account_id, id)` index inside a
//! subquery, and only the page's rows are read from the table, as one
//! aggregated JSON row (see the user listing in `lib.rs` for why).

use async_trait::async_trait;
use serde::Deserialize;
use sqlx::SqliteConnection;
use trustdesk_domain::store::{AuditStore, CertificateStore};
use trustdesk_domain::{
    AccessKeyId, AccountId, AuditEvent, AuditOutcome, Certificate, CertificateId, CertificateInfo,
    CertificateName, CertificatePage, Entity, NewCertificate, StoreError, StoredCertificate,
};

use crate::writer::Writes;
use crate::{SqliteStore, backend, classify, from_ts, job, ts};

/// One certificate's metadata columns, in the order of [`META_COLUMNS`]
/// (a JSON array in listings, a row in lookups).
#[derive(Deserialize)]
struct MetaRow {
    id: i64,
    account_id: i64,
    name: String,
    common_name: String,
    sans: String,
    issuer: String,
    subject: String,
    organization: String,
    province: String,
    city: String,
    country: String,
    serial: String,
    sha1_fingerprint: String,
    sha256_fingerprint: String,
    key_algorithm: String,
    not_before: i64,
    not_after: i64,
    created_at: i64,
}

impl MetaRow {
    fn into_certificate(self) -> Result<Certificate, StoreError> {
        let sans: Vec<String> = serde_json::from_str(&self.sans).map_err(backend)?;
        Ok(Certificate {
            id: CertificateId(self.id as u64),
            account: AccountId(self.account_id as u64),
            created_at: from_ts(self.created_at),
            info: CertificateInfo {
                name: CertificateName::from_trusted(self.name),
                common_name: self.common_name,
                sans,
                issuer: self.issuer,
                subject: self.subject,
                organization: self.organization,
                province: self.province,
                city: self.city,
                country: self.country,
                serial: self.serial,
                sha1_fingerprint: self.sha1_fingerprint,
                sha256_fingerprint: self.sha256_fingerprint,
                key_algorithm: self.key_algorithm,
                not_before: from_ts(self.not_before),
                not_after: from_ts(self.not_after),
            },
        })
    }
}

async fn insert_audit(conn: &mut SqliteConnection, e: &AuditEvent) -> Result<(), StoreError> {
    let at = ts(e.at);
    let account = e.account.0 as i64;
    let (actor, key, action) = (&e.actor, e.access_key.as_str(), &e.action);
    let (resource, outcome, request) = (&e.resource, e.outcome.as_str(), &e.request_id);
    sqlx::query!(
        "INSERT INTO audit_events (at, account_id, actor, access_key_id, action, resource, outcome, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        at,
        account,
        actor,
        key,
        action,
        resource,
        outcome,
        request
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
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
impl CertificateStore for SqliteStore {
    async fn create_certificate(
        &self,
        cert: &NewCertificate,
        audit: &AuditEvent,
    ) -> Result<CertificateId, StoreError> {
        let (c, audit) = (cert.clone(), audit.clone());
        let work = job(move |conn| {
            Box::pin(async move {
                let i = &c.info;
                let account = c.account.0 as i64;
                let name = i.name.as_str();
                let sans = serde_json::to_string(&i.sans).map_err(backend)?;
                let (not_before, not_after, created) =
                    (ts(i.not_before), ts(i.not_after), ts(c.created_at));
                let id = sqlx::query_scalar!(
                    r#"INSERT INTO certificates (account_id, name, common_name, sans, issuer, subject, organization,
                                                 province, city, country, serial, sha1_fingerprint, sha256_fingerprint,
                                                 key_algorithm, not_before, not_after, created_at, cert_pem, key_sealed)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                       ON CONFLICT (account_id, name) DO NOTHING
                       RETURNING id AS "id!: i64""#,
                    account,
                    name,
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
                    not_before,
                    not_after,
                    created,
                    c.cert_pem,
                    c.sealed_key
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| {
                    classify(
                        e,
                        backend("unexpected unique violation on certificates"),
                        StoreError::NotFound(Entity::Account),
                    )
                })?;
                let Some(id) = id else {
                    return Err(StoreError::AlreadyExists(Entity::Certificate));
                };
                insert_audit(conn, &with_id(&audit, id)).await?;
                Ok(CertificateId(id as u64))
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }

    async fn certificate(
        &self,
        account: AccountId,
        id: CertificateId,
    ) -> Result<Option<StoredCertificate>, StoreError> {
        let Ok(id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let account = account.0 as i64;
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64", account_id, name, common_name, sans, issuer, subject, organization, province,
                      city, country, serial, sha1_fingerprint, sha256_fingerprint, key_algorithm, not_before,
                      not_after, created_at, cert_pem, key_sealed
               FROM certificates WHERE id = $1 AND account_id = $2"#,
            id,
            account
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
        row.map(|r| {
            let cert = MetaRow {
                id: r.id,
                account_id: r.account_id,
                name: r.name,
                common_name: r.common_name,
                sans: r.sans,
                issuer: r.issuer,
                subject: r.subject,
                organization: r.organization,
                province: r.province,
                city: r.city,
                country: r.country,
                serial: r.serial,
                sha1_fingerprint: r.sha1_fingerprint,
                sha256_fingerprint: r.sha256_fingerprint,
                key_algorithm: r.key_algorithm,
                not_before: r.not_before,
                not_after: r.not_after,
                created_at: r.created_at,
            }
            .into_certificate()?;
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
        let limit = i64::from(limit);
        let row = sqlx::query!(
            r#"SELECT (SELECT certificate_count FROM accounts WHERE id = $1) AS "total: i64",
                      (SELECT json_group_array(json_array(id, account_id, name, common_name, sans, issuer, subject,
                                                          organization, province, city, country, serial,
                                                          sha1_fingerprint, sha256_fingerprint, key_algorithm,
                                                          not_before, not_after, created_at))
                       FROM (SELECT * FROM certificates
                             WHERE id IN (SELECT id FROM certificates WHERE account_id = $1
                                          ORDER BY id LIMIT $2 OFFSET $3))) AS "page!: String""#,
            account,
            limit,
            offset
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let mut rows: Vec<MetaRow> = serde_json::from_str(&row.page).map_err(backend)?;
        rows.sort_unstable_by_key(|r| r.id);
        let certificates = rows
            .into_iter()
            .map(MetaRow::into_certificate)
            .collect::<Result<_, _>>()?;
        Ok(CertificatePage {
            total: row.total.unwrap_or(0).max(0) as u64,
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
        let audit = audit.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    "DELETE FROM certificates WHERE id = $1 AND account_id = $2",
                    id,
                    account
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(Entity::Certificate));
                }
                insert_audit(conn, &audit).await
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.write(
            Writes::One,
            move |conn| Box::pin(async move { insert_audit(conn, &event).await }),
            |_| (),
        )
        .await
    }

    async fn audit_events(
        &self,
        account: AccountId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        let account = account.0 as i64;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"SELECT id AS "id!: i64", at, account_id, actor, access_key_id, action, resource, outcome, request_id
               FROM audit_events WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3"#,
            account,
            after,
            limit
        )
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
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

//! Certificates and the audit trail.
//!
//! An upload is one statement: an insert into the `certificate_uploads`
//! view, whose trigger inserts the certificate and its audit event
//! (migration 0003), so the writer makes one round trip and SQLite's
//! statement atomicity keeps the two together. The id is chosen here, not
//! by SQLite, so the audit event can name it: the store keeps the last id
//! handed out (read from `sqlite_sequence` at open; only the writer task
//! uses it, one job at a time) and the insert names the next one
//! explicitly, which also advances `sqlite_sequence`, so ids grow and are
//! never reused, across restarts too. A failed batch may leave a gap.
//!
//! Names are unique per account through the unique index
//! `(account_id, name)`: a taken name makes the statement fail with a
//! unique violation, a missing account with a foreign-key violation, and
//! nothing of it stays. The id cannot be what collided (it is above every
//! id ever used), which a read on that rare path confirms. The account's
//! total is `accounts.certificate_count`, kept by triggers, so a listing
//! never counts rows.
//!
//! Listing pages by offset because the vendor's API pages by number. The
//! offset is walked in the narrow `(account_id, id)` index inside a
//! subquery, and only the page's rows are read from the table, as one
//! aggregated JSON row (see the user listing in `lib.rs` for why).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::SqliteConnection;
use trustdesk_domain::store::{AuditStore, CertificateStore};
use trustdesk_domain::{
    AccessKeyId, AccountId, AuditEvent, AuditOutcome, CertificateId, CertificatePage, Entity,
    NewCertificate, StoreError, StoredCertificate,
};

use crate::writer::Writes;
use crate::{SqliteStore, backend, classify, from_ts, job, ts};
use trustdesk_domain::rows::CertificateRow;

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

/// The last certificate id used: the higher of SQLite's AUTOINCREMENT
/// counter and the largest id present.
pub(crate) async fn last_id(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'certificates'), 0),
                      COALESCE((SELECT max(id) FROM certificates), 0)) AS "last!: i64""#
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)
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

async fn name_taken(
    conn: &mut SqliteConnection,
    account: i64,
    name: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM certificates WHERE account_id = $1 AND name = $2) AS "taken!: bool""#,
        account,
        name
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)
}

#[async_trait]
impl CertificateStore for SqliteStore {
    async fn create_certificate(
        &self,
        cert: &NewCertificate,
        audit: &AuditEvent,
    ) -> Result<CertificateId, StoreError> {
        let (c, audit) = (cert.clone(), audit.clone());
        let ids = self.certificate_ids.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                // Runs on the writer task, one job at a time: nothing else
                // reads or moves the counter in between.
                let id = ids.load(Ordering::Acquire) + 1;
                let audit = with_id(&audit, id);
                let i = &c.info;
                let account = c.account.0 as i64;
                let name = i.name.as_str();
                let sans = serde_json::to_string(&i.sans).map_err(backend)?;
                let (not_before, not_after, created) =
                    (ts(i.not_before), ts(i.not_after), ts(c.created_at));
                let audit_at = ts(audit.at);
                let inserted = sqlx::query!(
                    r#"INSERT INTO certificate_uploads (id, account_id, name, common_name, sans, issuer, subject,
                                                        organization, province, city, country, serial, sha1_fingerprint,
                                                        sha256_fingerprint, key_algorithm, not_before, not_after, created_at,
                                                        cert_pem, key_sealed, audit_at, audit_actor, audit_access_key_id,
                                                        audit_action, audit_resource, audit_request_id)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                               $21, $22, $23, $24, $25, $26)"#,
                    id,
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
                    c.sealed_key,
                    audit_at,
                    audit.actor,
                    audit.access_key.0,
                    audit.action,
                    audit.resource,
                    audit.request_id
                )
                .execute(&mut *conn)
                .await;
                match inserted {
                    Ok(_) => {
                        ids.store(id, Ordering::Release);
                        Ok(CertificateId(id as u64))
                    }
                    Err(e) => {
                        let refusal = classify(
                            e,
                            StoreError::AlreadyExists(Entity::Certificate),
                            StoreError::NotFound(Entity::Account),
                        );
                        if matches!(refusal, StoreError::AlreadyExists(_))
                            && !name_taken(conn, account, name).await?
                        {
                            return Err(backend(format!(
                                "certificate id {id} collided; is another process writing to this database?"
                            )));
                        }
                        Err(refusal)
                    }
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
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
        let mut rows: Vec<CertificateRow> = serde_json::from_str(&row.page).map_err(backend)?;
        rows.sort_unstable_by_key(|r| r.id);
        let certificates = rows
            .into_iter()
            .map(CertificateRow::into_certificate)
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use trustdesk_domain::store::AccountStore;
    use trustdesk_domain::{
        AccessKey, Account, AuditOutcome, KeyOwner, KeyStatus, StoredAccessKey,
    };

    use trustdesk_domain::{CertificateInfo, CertificateName};

    use super::*;
    use crate::SqliteOptions;

    const T: time::OffsetDateTime = datetime!(2026-03-04 05:06:07 UTC);
    const ACCT: AccountId = AccountId(1_000_000_000_000_002);

    fn upload(name: &str) -> NewCertificate {
        NewCertificate {
            account: ACCT,
            created_at: T,
            info: CertificateInfo {
                name: CertificateName::parse(name).unwrap(),
                common_name: "a.example.com".into(),
                sans: vec!["a.example.com".into()],
                issuer: "CA".into(),
                subject: "CN=a.example.com".into(),
                organization: String::new(),
                province: String::new(),
                city: String::new(),
                country: String::new(),
                serial: "01".into(),
                sha1_fingerprint: "AA".into(),
                sha256_fingerprint: "BB".into(),
                key_algorithm: "EC-P256".into(),
                not_before: T,
                not_after: T,
            },
            cert_pem: "pem".into(),
            sealed_key: vec![1, 2, 3],
        }
    }

    fn event() -> AuditEvent {
        AuditEvent {
            at: T,
            account: ACCT,
            actor: "root".into(),
            access_key: AccessKeyId("LTAIk".into()),
            action: "yundun-cert:CreateUserCertificate".into(),
            resource: "certificate/*".into(),
            outcome: AuditOutcome::Success,
            request_id: "R".into(),
        }
    }

    /// Ids are chosen by the store; they must keep growing across restarts,
    /// also after the newest certificate was deleted.
    #[tokio::test]
    async fn ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("ids.db").to_str().unwrap().to_owned();
        let (a, b);
        {
            let store = SqliteStore::open(&url, SqliteOptions::default())
                .await
                .unwrap();
            let root = StoredAccessKey {
                key: AccessKey {
                    id: AccessKeyId("LTAIroot".into()),
                    account: ACCT,
                    owner: KeyOwner::Root,
                    status: KeyStatus::Active,
                    created_at: T,
                    last_used_at: None,
                },
                sealed_secret: vec![0],
            };
            store
                .create_account(
                    &Account {
                        id: ACCT,
                        created_at: T,
                    },
                    &crate::tests::root_container(ACCT),
                    &root,
                )
                .await
                .unwrap();
            a = store
                .create_certificate(&upload("a"), &event())
                .await
                .unwrap();
            b = store
                .create_certificate(&upload("b"), &event())
                .await
                .unwrap();
            assert!(matches!(
                store.create_certificate(&upload("b"), &event()).await,
                Err(StoreError::AlreadyExists(Entity::Certificate))
            ));
            store.delete_certificate(ACCT, b, &event()).await.unwrap();
        }
        let store = SqliteStore::open(&url, SqliteOptions::default())
            .await
            .unwrap();
        let c = store
            .create_certificate(&upload("c"), &event())
            .await
            .unwrap();
        assert_eq!((a.0, b.0, c.0), (1, 2, 3), "a refused upload burns no id");
        let events = store.audit_events(ACCT, 0, 10).await.unwrap();
        let resources: Vec<&str> = events.iter().map(|(_, e)| e.resource.as_str()).collect();
        assert_eq!(
            resources,
            [
                "certificate/1",
                "certificate/2",
                "certificate/*",
                "certificate/3"
            ],
            "uploads name their id; the delete's event is recorded as given"
        );
    }
}

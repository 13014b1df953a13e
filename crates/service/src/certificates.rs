//! Uploaded certificates (CAS 2018-07-13 semantics): upload with the import
//! checks of `trustdesk-pki`, detail (which discloses the private key and is
//! therefore audited), listing and deletion.
//!
//! The private key is sealed with the master key under a per-record data
//! key, bound to `certificates/<account>/<name>/key` (a certificate's name
//! is unique in its account and never changes), so a sealed key copied to
//! another row does not open.
//!
//! The import checks cost ~200 µs of CPU for an RSA-2048 key (the key load
//! dominates; limits.md §5). They run inline on the request's worker: a
//! hop to the blocking pool would cost more than it frees at that size.

use time::OffsetDateTime;
use trustdesk_domain::policy::resource;
use trustdesk_domain::{
    AuditEvent, AuditOutcome, Authorized, Certificate, CertificateId, CertificateInfo,
    CertificateName, CertificatePage, Error, ImportProblem, ImportRejection, NewCertificate,
    Principal,
};
use trustdesk_pki::{Curve, ImportError, KeyKind};
use zeroize::Zeroizing;

use crate::ram::internal;
use crate::{RequestId, Service};

/// Permissions whose use and refused attempts go to the audit trail.
pub const AUDITED: &[&str] = &[
    "yundun-cert:CreateUserCertificate",
    "yundun-cert:DeleteUserCertificate",
    "yundun-cert:DescribeUserCertificateDetail",
];

/// A certificate with its PEM bundle and private key in clear.
pub struct CertificateDetail {
    pub cert: Certificate,
    pub cert_pem: String,
    pub key_pem: Zeroizing<String>,
}

fn key_aad(account: trustdesk_domain::AccountId, name: &CertificateName) -> String {
    format!("certificates/{account}/{name}/key")
}

/// `RSA-2048`, `EC-P256`, `Ed25519`.
pub fn key_algorithm(kind: KeyKind) -> String {
    match kind {
        KeyKind::Rsa { bits } => format!("RSA-{bits}"),
        KeyKind::Ec(Curve::P256) => "EC-P256".to_owned(),
        KeyKind::Ec(Curve::P384) => "EC-P384".to_owned(),
        KeyKind::Ec(Curve::P521) => "EC-P521".to_owned(),
        KeyKind::Ed25519 => "Ed25519".to_owned(),
    }
}

/// The import checks' verdict in domain terms.
fn rejection(e: ImportError) -> Error {
    let problem = match &e {
        ImportError::CertTooLarge { .. } | ImportError::KeyTooLarge { .. } => {
            ImportProblem::TooLarge
        }
        ImportError::CertNotPem { .. } => ImportProblem::CertNotPem,
        ImportError::NoCertificate => ImportProblem::NoCertificate,
        ImportError::CertUnparsable { .. } => ImportProblem::CertUnparsable,
        ImportError::ChainTooLong { .. } => ImportProblem::ChainTooLong,
        ImportError::MultipleLeaves { .. } => ImportProblem::MultipleLeaves,
        ImportError::ChainNotMatch { .. } => ImportProblem::ChainNotMatch,
        ImportError::KeyNotPem { .. } | ImportError::NoKey | ImportError::MultipleKeys => {
            ImportProblem::KeyNotPem
        }
        ImportError::KeyEncrypted => ImportProblem::KeyEncrypted,
        ImportError::KeyUnparsable { .. } => ImportProblem::KeyUnparsable,
        ImportError::KeyUnsupported { .. } => ImportProblem::KeyUnsupported,
        ImportError::KeyMismatch => ImportProblem::KeyMismatch,
        ImportError::Expired { .. } => ImportProblem::Expired,
        ImportError::NotYetValid { .. } => ImportProblem::NotYetValid,
    };
    Error::Rejected(ImportRejection {
        problem,
        message: e.to_string(),
    })
}

impl Service {
    /// The resource name of certificate `id` (or `*`) in the caller's account.
    pub fn certificate_resource(&self, principal: &Principal, id: &str) -> String {
        resource::cas_certificate(principal.account, id)
    }

    fn audit_event(
        &self,
        principal: &Principal,
        action: &str,
        resource: String,
        outcome: AuditOutcome,
        request: &RequestId,
    ) -> AuditEvent {
        AuditEvent {
            at: self.inner.clock.now(),
            account: principal.account,
            actor: AuditEvent::actor_of(principal),
            access_key: principal.access_key.clone(),
            action: action.to_owned(),
            resource,
            outcome,
            request_id: request.as_str().to_owned(),
        }
    }

    /// Records a refused attempt at an audited permission. A failure to
    /// record is logged; the caller is refused either way.
    pub(crate) async fn audit_denial(
        &self,
        principal: &Principal,
        permission: &str,
        resource: &str,
        request: &RequestId,
    ) {
        if !AUDITED.contains(&permission) {
            return;
        }
        let event = self.audit_event(
            principal,
            permission,
            resource.to_owned(),
            AuditOutcome::Denied,
            request,
        );
        if let Err(e) = self.inner.store.record_audit(&event).await {
            tracing::error!(error = %e, permission, "recording a refused call in the audit trail failed");
        }
    }

    /// Checks and stores an upload; returns the new certificate's id.
    pub async fn upload_certificate(
        &self,
        auth: Authorized,
        name: CertificateName,
        cert_pem: &str,
        key_pem: &str,
        request: &RequestId,
    ) -> Result<CertificateId, Error> {
        auth.require("yundun-cert:CreateUserCertificate")?;
        let principal = auth.principal();
        let now = self.inner.clock.now();
        let imported = trustdesk_pki::import(cert_pem, key_pem, now, &self.inner.limits.import)
            .map_err(rejection)?;
        let leaf = imported.bundle.leaf();
        let info = CertificateInfo {
            common_name: leaf.common_name.clone().unwrap_or_default(),
            sans: leaf.sans.clone(),
            issuer: leaf.issuer.clone(),
            subject: leaf.subject.clone(),
            organization: leaf.organization.clone(),
            province: leaf.province.clone(),
            city: leaf.city.clone(),
            country: leaf.country.clone(),
            serial: leaf.serial_hex.clone(),
            sha1_fingerprint: leaf.sha1_fingerprint.clone(),
            sha256_fingerprint: leaf.sha256_fingerprint.clone(),
            key_algorithm: key_algorithm(imported.key_kind),
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            name,
        };
        let sealed_key = trustdesk_secrets::seal(
            &self.inner.master,
            imported.key_pem.as_bytes(),
            &key_aad(principal.account, &info.name),
        )
        .map_err(internal)?;
        let record = NewCertificate {
            account: principal.account,
            created_at: now,
            info,
            cert_pem: imported.cert_pem,
            sealed_key,
        };
        let audit = self.audit_event(
            principal,
            auth.permission(),
            self.certificate_resource(principal, "*"),
            AuditOutcome::Success,
            request,
        );
        self.inner
            .store
            .create_certificate(&record, &audit)
            .await
            .map_err(|e| Error::from_store(e, &record.info.name))
    }

    /// The certificate with its private key in clear, or `None` if the
    /// account has no such certificate. Every call is written to the audit
    /// trail before the key is handed out; if that write fails, so does
    /// the call.
    pub async fn certificate_detail(
        &self,
        auth: Authorized,
        id: CertificateId,
        request: &RequestId,
    ) -> Result<Option<CertificateDetail>, Error> {
        auth.require("yundun-cert:DescribeUserCertificateDetail")?;
        let principal = auth.principal();
        let stored = self.inner.store.certificate(principal.account, id).await?;
        let outcome = match stored {
            Some(_) => AuditOutcome::Success,
            None => AuditOutcome::NotFound,
        };
        let event = self.audit_event(
            principal,
            auth.permission(),
            self.certificate_resource(principal, &id.to_string()),
            outcome,
            request,
        );
        self.inner.store.record_audit(&event).await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let aad = key_aad(principal.account, &stored.cert.info.name);
        let key = trustdesk_secrets::open(&self.inner.master, &stored.sealed_key, &aad)
            .map_err(internal)?;
        let key_pem = String::from_utf8(key.to_vec()).map_err(internal)?;
        Ok(Some(CertificateDetail {
            cert: stored.cert,
            cert_pem: stored.cert_pem,
            key_pem: Zeroizing::new(key_pem),
        }))
    }

    /// Page `page` (1-based) of `size` certificates, in upload order.
    pub async fn list_certificates(
        &self,
        auth: Authorized,
        page: u32,
        size: u32,
    ) -> Result<CertificatePage, Error> {
        auth.require("yundun-cert:DescribeUserCertificateList")?;
        let offset = u64::from(page.saturating_sub(1)) * u64::from(size);
        Ok(self
            .inner
            .store
            .list_certificates(auth.principal().account, offset, size)
            .await?)
    }

    pub async fn delete_certificate(
        &self,
        auth: Authorized,
        id: CertificateId,
        request: &RequestId,
    ) -> Result<(), Error> {
        auth.require("yundun-cert:DeleteUserCertificate")?;
        let principal = auth.principal();
        let audit = self.audit_event(
            principal,
            auth.permission(),
            self.certificate_resource(principal, &id.to_string()),
            AuditOutcome::Success,
            request,
        );
        self.inner
            .store
            .delete_certificate(principal.account, id, &audit)
            .await
            .map_err(|e| Error::from_store(e, id))
    }

    /// The account's audit trail, oldest first (ids above `after`).
    pub async fn audit_events(
        &self,
        principal: &Principal,
        after: u64,
        limit: u32,
    ) -> Result<Vec<(u64, AuditEvent)>, Error> {
        Ok(self
            .inner
            .store
            .audit_events(principal.account, after, limit)
            .await?)
    }

    /// Whether `cert` has expired at the service's current time.
    pub fn is_expired(&self, cert: &Certificate) -> bool {
        cert.info.expired_at(self.inner.clock.now())
    }

    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }
}

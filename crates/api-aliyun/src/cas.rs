//! CAS 2018-07-13 handlers (reference aliyun-rpc.md §f): certificate upload,
//! detail, list and delete, and the three legacy DV-order actions.
//!
//! Wire map:
//! * `CreateUserCertificate` `Name`, `Cert`, `Key` (+ ignored `SourceIp`,
//!   `Lang`) → `{RequestId, CertId}`, `CertId` a JSON number. The old SDK
//!   sends all of it in a GET query string; the server accepts request
//!   targets up to 64 KiB for that.
//! * `DescribeUserCertificateDetail` `CertId` → PascalCase fields, `Cert`
//!   and `Key` in PEM.
//! * `DescribeUserCertificateList` `ShowSize`, `CurrentPage` →
//!   `{RequestId, TotalCount, CurrentPage, ShowSize, CertificateList}`,
//!   the list a bare array of lowerCamelCase items (XML: the element
//!   repeated).
//! * `DeleteUserCertificate` `CertId` → `{RequestId}`.
//!
//! Choices where the reference is silent ([INF]), each tested:
//! * `Name`: 1–128 characters, no control characters, unique per account
//!   by exact comparison; longer → `DataTooLongException`, empty or absent
//!   → `MissingParameter`.
//! * Import refusals use the CAS 2020-04-07 codes where one fits and
//!   codes in their style otherwise (`RpcError::import_rejected`). Expired
//!   uploads are refused (`CertificateExpired`, as the 2020 API lists), and
//!   so are certificates whose `notBefore` is more than 5 minutes ahead
//!   (`CertificateNotYetValid`).
//! * Detail of an unknown `CertId` answers 200 with only `RequestId`, as the
//!   vendor appears to (clients such as Terraform's provider test for a
//!   missing `Id`); delete of an unknown id is `CertNotExist` 400.
//! * `Sans` joins the names with `,`; `Fingerprint` is the SHA-1 of the
//!   leaf's DER in uppercase hex; `Issuer` is the issuer's CN (else O);
//!   dates are the UTC calendar days of `notBefore`/`notAfter`.
//! * Listing order is upload order (ids grow), so pages do not shift when
//!   certificates are added. `ShowSize` 1–100 (default 50), `CurrentPage`
//!   ≥ 1 (default 1); other values → `InvalidParameter`.
//! * The DV-order actions belong to certificates bought from the vendor;
//!   trustdesk sells none, so the order list is always empty and an
//!   `InstanceId` never exists (`NotFound` 400, the 2020 API's code).

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;
use trustdesk_domain::{Authorized, Certificate, CertificateId, CertificateName, Problem};
use trustdesk_service::Service;

use crate::action::Action;
use crate::encode::Reply;
use crate::error::RpcError;
use crate::params::Args;

/// Longest certificate name accepted.
pub const MAX_NAME_CHARS: usize = 128;
/// Page size limits of `DescribeUserCertificateList`.
pub const SHOW_SIZE: std::ops::RangeInclusive<u32> = 1..=100;
pub const DEFAULT_SHOW_SIZE: u32 = 50;

/// Runs an authorized CAS action.
pub(crate) async fn run(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    match reply.action {
        Action::CreateUserCertificate => create(service, auth, args, reply).await,
        Action::DescribeUserCertificateDetail => detail(service, auth, args, reply).await,
        Action::DescribeUserCertificateList => list(service, auth, args, reply).await,
        Action::DeleteUserCertificate => delete(service, auth, args, reply).await,
        Action::CreateDVOrderAudit | Action::DescribeDVOrderResult => {
            let id = args.required("InstanceId")?;
            if id.is_empty() {
                return Err(RpcError::missing_parameter("InstanceId"));
            }
            Err(RpcError::new(
                StatusCode::BAD_REQUEST,
                "NotFound",
                "The order instance does not exist: trustdesk holds uploaded certificates only and has no DV orders.",
            ))
        }
        Action::DescribeOrderInstanceList => reply.send(&OrderList {
            request_id: reply.request_id.as_str(),
            total_count: 0,
            order_list: Vec::new(),
        }),
        // `dispatch` routes by API version; another API's action never
        // gets here, and if it did it would not exist in this one.
        _ => Err(RpcError::action_not_found()),
    }
}

/// A required, non-empty parameter.
fn non_empty<'a>(args: &'a Args, name: &str) -> Result<&'a str, RpcError> {
    match args.required(name)? {
        "" => Err(RpcError::missing_parameter(name)),
        v => Ok(v),
    }
}

fn cert_id(args: &Args) -> Result<CertificateId, RpcError> {
    let v = non_empty(args, "CertId")?;
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && i64::try_from(*n).is_ok())
        .map(CertificateId)
        .ok_or_else(|| paging_or_id_invalid("CertId"))
}

fn paging_or_id_invalid(name: &str) -> RpcError {
    RpcError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        format!("The specified parameter \"{name}\" is not valid."),
    )
}

fn int_param(
    args: &Args,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, RpcError> {
    match args.optional(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| paging_or_id_invalid(name)),
    }
}

/// `YYYY-MM-DD` of a UTC instant.
fn vendor_day(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

// ---- CreateUserCertificate ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Created<'a> {
    request_id: &'a str,
    cert_id: u64,
}

async fn create(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let name = non_empty(args, "Name")?;
    let name = CertificateName::parse(name).map_err(|p| match p {
        Problem::Length => RpcError::data_too_long("Name", MAX_NAME_CHARS),
        p => RpcError::validation("Name", p),
    })?;
    let cert = non_empty(args, "Cert")?;
    let key = non_empty(args, "Key")?;
    let id = service
        .upload_certificate(auth, name, cert, key, reply.request_id)
        .await?;
    reply.send(&Created {
        request_id: reply.request_id.as_str(),
        cert_id: id.0,
    })
}

// ---- DescribeUserCertificateDetail ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Detail<'a> {
    request_id: &'a str,
    id: u64,
    name: &'a str,
    common: &'a str,
    sans: String,
    fingerprint: &'a str,
    issuer: &'a str,
    org_name: &'a str,
    province: &'a str,
    city: &'a str,
    country: &'a str,
    start_date: String,
    end_date: String,
    expired: bool,
    buy_in_aliyun: bool,
    cert: &'a str,
    key: &'a str,
}

async fn detail(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let id = cert_id(args)?;
    let Some(d) = service
        .certificate_detail(auth, id, reply.request_id)
        .await?
    else {
        return reply.empty();
    };
    let i = &d.cert.info;
    reply.send(&Detail {
        request_id: reply.request_id.as_str(),
        id: d.cert.id.0,
        name: i.name.as_str(),
        common: &i.common_name,
        sans: i.sans.join(","),
        fingerprint: &i.sha1_fingerprint,
        issuer: &i.issuer,
        org_name: &i.organization,
        province: &i.province,
        city: &i.city,
        country: &i.country,
        start_date: vendor_day(i.not_before),
        end_date: vendor_day(i.not_after),
        expired: service.is_expired(&d.cert),
        buy_in_aliyun: false,
        cert: &d.cert_pem,
        key: &d.key_pem,
    })
}

// ---- DescribeUserCertificateList ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct List<'a> {
    request_id: &'a str,
    total_count: u64,
    current_page: u32,
    show_size: u32,
    certificate_list: Vec<ListItem>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListItem {
    id: u64,
    name: String,
    common: String,
    sans: String,
    fingerprint: String,
    issuer: String,
    org_name: String,
    province: String,
    city: String,
    country: String,
    start_date: String,
    end_date: String,
    expired: bool,
    buy_in_aliyun: bool,
}

impl ListItem {
    fn new(c: Certificate, expired: bool) -> Self {
        let i = c.info;
        Self {
            id: c.id.0,
            name: i.name.into_string(),
            common: i.common_name,
            sans: i.sans.join(","),
            fingerprint: i.sha1_fingerprint,
            issuer: i.issuer,
            org_name: i.organization,
            province: i.province,
            city: i.city,
            country: i.country,
            start_date: vendor_day(i.not_before),
            end_date: vendor_day(i.not_after),
            expired,
            buy_in_aliyun: false,
        }
    }
}

async fn list(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let show_size = int_param(args, "ShowSize", SHOW_SIZE, DEFAULT_SHOW_SIZE)?;
    let current_page = int_param(args, "CurrentPage", 1..=u32::MAX, 1)?;
    let page = service
        .list_certificates(auth, current_page, show_size)
        .await?;
    let certificate_list = page
        .certificates
        .into_iter()
        .map(|c| {
            let expired = service.is_expired(&c);
            ListItem::new(c, expired)
        })
        .collect();
    reply.send(&List {
        request_id: reply.request_id.as_str(),
        total_count: page.total,
        current_page,
        show_size,
        certificate_list,
    })
}

// ---- DeleteUserCertificate ----

async fn delete(
    service: &Service,
    auth: Authorized,
    args: &Args,
    reply: Reply<'_>,
) -> Result<Response, RpcError> {
    let id = cert_id(args)?;
    service
        .delete_certificate(auth, id, reply.request_id)
        .await?;
    reply.empty()
}

// ---- DescribeOrderInstanceList ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OrderList<'a> {
    request_id: &'a str,
    total_count: u64,
    order_list: Vec<()>,
}

//! `trustdesk-loadgen`: a small load client for the Alibaba RPC face (RAM
//! and CAS) and the CertCentral Services API v2 face.
//!
//! Signed requests cannot be replayed (every one needs a fresh
//! `SignatureNonce` and `Timestamp`), so generic HTTP load tools cannot
//! drive the RPC face; this client signs each request with V1 exactly as the
//! old Python SDK sends RAM calls (POST, every parameter in the query
//! string, empty body). CertCentral calls carry the static `X-DC-DEVKEY`
//! header instead (no signature); they are here so that both faces are
//! measured by the same client with the same counting. It only talks to
//! loopback addresses and always stops on its own: at `--requests` or after
//! `--duration`, whichever comes first.
//!
//! Closed loop: `--concurrency` workers, each with one keep-alive connection
//! and one request in flight. Every latency is kept (µs, `Vec<u32>` per
//! worker), merged and sorted at the end, so percentiles are exact.

mod client;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Parser, ValueEnum};
use hyper::Method;
use hyper::body::Bytes;

use client::{Conn, Outcome, Signer};
use stats::Tally;

const LONG_ABOUT: &str = "\
Signed-request load client for trustdesk's Alibaba RPC face (RAM 2015-05-01, CAS 2018-07-13), \
also driving its DigiCert CertCentral Services API v2 face (/services/v2, cc-* actions). \
Loopback only.

Every request is what the old Alibaba Python SDK (aliyun-python-sdk-core 2.16.1) sends: \
POST (RAM) or GET (CAS: certificate and key in the URL) /?<query> with all parameters in the \
query string and an empty body (Content-Length: 0, no Content-Type), carrying Action, Version, Format, \
RegionId=cn-hangzhou, SignatureType= (empty) and the business parameters, signed with \
Signature V1 (HMAC-SHA1) with a fresh SignatureNonce (UUID v4, 32 hex digits) and Timestamp \
(UTC, now) per request.

CertCentral (cc-* actions): GET or POST /services/v2/<path> with the static header \
X-DC-DEVKEY: --devkey and no signature; POST bodies are compact JSON with \
Content-Type: application/json. --access-key-id/--access-key-secret are not needed.

Closed loop: --concurrency workers, each with its own HTTP/1.1 keep-alive connection \
(TCP_NODELAY) and one request in flight. After --warmup seconds of unrecorded load, requests \
are measured until --requests have been sent or --duration seconds have passed, whichever \
comes first. A response counts as OK only if its status is 2xx (cc-* actions: exactly the \
documented status, 201 for cc-add-user and 200 for the reads); anything else is an error, \
classified by status and the vendor error code of the body (JSON \"Code\" or XML <Code>; \
CertCentral: the first errors[].code); connection failures and timeouts are errors of class \
\"transport\".

Output (stdout): a setup line; requests, ok, errors; measured elapsed time and req/s; latency \
p50/p90/p99/max (exact: every latency is kept); the client's own CPU time during the measured \
window (utime+stime from /proc/self/stat, assuming CLK_TCK = 100, i.e. 10 ms resolution) in \
seconds and µs per request; the most frequent error classes and one sample error body. With \
--json, a final line holds the same as one JSON object (plus warm-up counts).

Actions:
  create-user  CreateUser, each request a new UserName <prefix>-<worker>-<seq> (seq zero-padded, \
so every worker appends in name order). With --user-name NAME and --requests 1 it creates \
exactly NAME, once, without warm-up.
  get-user     GetUser of --user-name (default bench-existing; create it first).
  list-users   ListUsers with MaxItems=--max-items, first page only; with --deep each worker \
follows the Marker chain page by page and restarts from the first page after the last, so \
pages at every depth are measured.
  populate     Create --count users as fast as possible (no warm-up, no --requests); progress \
every 5 % or every 2 s on stderr. Exits with status 2 if fewer than --count were created.
  upload-cert  CreateUserCertificate, each request a new Name <prefix>-<worker>-<seq>, all with \
the same certificate and key: a self-signed leaf made at start with rcgen (--key-type rsa2048 \
or p256; the key as PKCS#8 PEM). The server runs every import check on each upload.
  cert-detail  DescribeUserCertificateDetail of a random CertId in 1..=--cert-ids (ids are \
assigned in upload order, so a fresh server populated with N certificates has ids 1..=N).
  cert-list    DescribeUserCertificateList with ShowSize=--show-size, first page; with --deep \
each worker walks CurrentPage 1, 2, ... and restarts after the first empty page.
  populate-certs  Upload --count certificates as fast as possible, like populate.
  cc-add-user  CertCentral POST /services/v2/user, each request a new user: \
{\"username\":\"<prefix>-<worker>-<seq>\",\"first_name\":\"Load\",\"last_name\":\"User <seq>\",\
\"email\":\"<username>@example.test\",\"access_roles\":[{\"id\":5}]} (role 5: Standard User; an @ \
of the prefix becomes . in the e-mail). OK: 201 {\"id\":N}.
  cc-get-user  CertCentral GET /services/v2/user/me (the key's own user). OK: 200.
  cc-list-users  CertCentral GET /services/v2/user?limit=--page-size&offset=O, first page \
(O=0); with --deep each worker walks the list, O += --page-size until O >= page.total of the \
answer, and restarts from O=0 after the last page, so pages at every offset are measured. OK: 200.

Exit status: 0 when the run completed (errors are reported, not fatal), 1 on bad arguments \
(e.g. a cc-* action without --devkey, or a RAM/CAS action without an AccessKey) or when no \
request got any response, 2 when populate fell short.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Action {
    /// CreateUser with a distinct UserName per request.
    CreateUser,
    /// GetUser of one existing user (--user-name).
    GetUser,
    /// ListUsers pages of --max-items (with --deep, walking the Marker chain).
    ListUsers,
    /// Create --count users as fast as possible, with progress on stderr.
    Populate,
    /// CreateUserCertificate with a distinct Name per request.
    UploadCert,
    /// DescribeUserCertificateDetail of random ids in 1..=--cert-ids.
    CertDetail,
    /// DescribeUserCertificateList pages of --show-size (with --deep, every page).
    CertList,
    /// Upload --count certificates as fast as possible, with progress on stderr.
    PopulateCerts,
    /// CertCentral POST /services/v2/user with a distinct username per request.
    CcAddUser,
    /// CertCentral GET /services/v2/user/me.
    CcGetUser,
    /// CertCentral GET /services/v2/user pages of --page-size (with --deep, every offset).
    CcListUsers,
}

impl Action {
    fn api_name(self) -> &'static str {
        match self {
            Action::CreateUser | Action::Populate => "CreateUser",
            Action::GetUser => "GetUser",
            Action::ListUsers => "ListUsers",
            Action::UploadCert | Action::PopulateCerts => "CreateUserCertificate",
            Action::CertDetail => "DescribeUserCertificateDetail",
            Action::CertList => "DescribeUserCertificateList",
            Action::CcAddUser => "POST /services/v2/user",
            Action::CcGetUser => "GET /services/v2/user/me",
            Action::CcListUsers => "GET /services/v2/user",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Action::CreateUser | Action::Populate | Action::GetUser | Action::ListUsers => {
                client::RAM_VERSION
            }
            Action::CcAddUser | Action::CcGetUser | Action::CcListUsers => "services/v2",
            _ => client::CAS_VERSION,
        }
    }

    /// A CertCentral call (static X-DC-DEVKEY, no signature).
    fn certcentral(self) -> bool {
        matches!(
            self,
            Action::CcAddUser | Action::CcGetUser | Action::CcListUsers
        )
    }

    fn populates(self) -> bool {
        matches!(self, Action::Populate | Action::PopulateCerts)
    }

    fn uploads(self) -> bool {
        matches!(self, Action::UploadCert | Action::PopulateCerts)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyType {
    /// RSA 2048-bit key, SHA-256 signature.
    Rsa2048,
    /// ECDSA P-256 key, SHA-256 signature.
    P256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Format=JSON (what the SDKs send).
    Json,
    /// Format=XML.
    Xml,
}

/// Signed-request load client for trustdesk's Alibaba RPC face and its CertCentral face (loopback only).
#[derive(Parser, Debug)]
#[command(version, about, long_about = LONG_ABOUT)]
struct Args {
    /// Server address IP:PORT. Only loopback addresses (127.0.0.0/8, [::1]) are accepted.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = loopback_endpoint)]
    endpoint: SocketAddr,
    /// AccessKeyId to sign with (RAM and CAS actions; required by them).
    #[arg(long, env = "TRUSTDESK_LOADGEN_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    /// AccessKey secret to sign with (RAM and CAS actions; prefer the environment variable: arguments are visible in ps).
    #[arg(
        long,
        env = "TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET",
        hide_env_values = true
    )]
    access_key_secret: Option<String>,
    /// CertCentral API key sent as X-DC-DEVKEY (cc-* actions; required by them; prefer the environment variable).
    #[arg(long, env = "TRUSTDESK_DEVKEY", hide_env_values = true)]
    devkey: Option<String>,
    /// What to send (the action list in --help says more).
    #[arg(long, value_enum)]
    action: Action,
    /// Workers = connections, one request in flight on each.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Stop after this many measured requests (or --duration, whichever comes first).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    requests: u64,
    /// Stop measuring after this many seconds (or --requests, whichever comes first). Default 10; populate: 600 (a safety cap, it normally stops at --count).
    #[arg(long, value_parser = seconds)]
    duration: Option<f64>,
    /// Seconds of load before measuring; requests sent then are not recorded (populate: ignored).
    #[arg(long, default_value_t = 1.0, value_parser = seconds_or_zero)]
    warmup: f64,
    /// Prefix of the names create-user, populate, upload-cert and cc-add-user invent: <prefix>-<worker>-<seq>. Default lg<unix time> (cc-add-user: cc<unix time>, as RAM and CertCentral share one user namespace), so repeated runs do not collide. 1-40 chars of A-Z a-z 0-9 . @ _ -.
    #[arg(long, value_parser = name_prefix)]
    name_prefix: Option<String>,
    /// get-user: the user to read (default bench-existing). create-user with --requests 1: the exact name to create.
    #[arg(long)]
    user_name: Option<String>,
    /// list-users: MaxItems, 1-1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_items: u32,
    /// list-users: follow the Marker chain so pages deep in the list are measured; each worker restarts at the first page after the last. cert-list: walk CurrentPage the same way. cc-list-users: walk offset the same way, up to page.total.
    #[arg(long)]
    deep: bool,
    /// populate / populate-certs: number of users / certificates to create.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// upload-cert / populate-certs: key of the uploaded certificate.
    #[arg(long, value_enum, default_value = "rsa2048")]
    key_type: KeyType,
    /// cert-detail: read random CertIds in 1..=N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    cert_ids: u64,
    /// cert-list: ShowSize, 1-100.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    show_size: u32,
    /// cc-list-users: limit (page size), 1-1000 (the face's maximum).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Format parameter of every RPC request (response format; CertCentral always answers JSON).
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Tokio runtime worker threads. Default 1: on a 2-core machine the server gets the other core.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    threads: u32,
    /// A request without a complete response after this many seconds is a transport error (the connection is then replaced).
    #[arg(long, default_value_t = 30.0, value_parser = seconds)]
    request_timeout: f64,
    /// Also print the summary as one line of JSON (the last line of stdout).
    #[arg(long)]
    json: bool,
}

fn loopback_endpoint(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| format!("`{s}` is not IP:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "refusing {}: only loopback addresses (127.0.0.0/8, ::1) may be loaded",
            addr.ip()
        ));
    }
    if addr.port() == 0 {
        return Err("port 0 is not a server port".to_owned());
    }
    Ok(addr)
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("expected seconds, > 0 and <= 86400".to_owned()),
    }
}

fn seconds_or_zero(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err("expected seconds, 0 to 3600".to_owned()),
    }
}

fn name_prefix(s: &str) -> Result<String, String> {
    let valid = (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'));
    if valid {
        Ok(s.to_owned())
    } else {
        Err("1-40 chars of A-Z a-z 0-9 . @ _ -".to_owned())
    }
}

/// The one wall-clock read of the program. The load generator legitimately
/// needs it: every signed request carries `Timestamp` (UTC now), which the
/// server checks against its own clock (±15 min), and default name prefixes
/// are made unique per run from it. Everything else uses `Instant`.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Read-only description of the run, shared by all workers.
struct Plan {
    signer: Signer,
    action: Action,
    endpoint: SocketAddr,
    /// Measured requests to send at most (populate: --count).
    limit: u64,
    name_prefix: String,
    /// create-user: create exactly this name.
    exact_name: Option<String>,
    user_name: String,
    max_items: String,
    deep: bool,
    cert_pem: String,
    key_pem: String,
    cert_ids: u64,
    show_size: String,
    /// cc-* actions: the X-DC-DEVKEY value.
    devkey: String,
    /// cc-list-users: limit, and the offset step of --deep.
    page_size: u64,
    xml: bool,
    request_timeout: Duration,
    warm_until: Instant,
    stop_at: Instant,
}

#[derive(Default)]
struct Counters {
    /// Measured requests started (the --requests / --count bound).
    issued: AtomicU64,
    /// populate: 2xx and everything else.
    created: AtomicU64,
    failed: AtomicU64,
}

async fn worker(plan: Arc<Plan>, counters: Arc<Counters>, id: u32) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<Conn> = None;
    let mut marker: Option<String> = None;
    let mut seq = 0u64;
    let mut page = 1u64;
    let mut offset = 0u64;
    let mut page_text;
    let mut cert_id;
    let mut rng =
        0x9E37_79B9_7F4A_7C15u64 ^ (u64::from(id) + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    loop {
        let now = Instant::now();
        if now >= plan.stop_at {
            break;
        }
        let measured = now >= plan.warm_until;
        if measured && counters.issued.fetch_add(1, Ordering::Relaxed) >= plan.limit {
            break;
        }
        seq += 1;
        let name;
        let business: Vec<(&'static str, &str)> = match plan.action {
            Action::UploadCert | Action::PopulateCerts => {
                name = format!("{}-{id}-{seq:08}", plan.name_prefix);
                vec![
                    ("Name", name.as_str()),
                    ("Cert", plan.cert_pem.as_str()),
                    ("Key", plan.key_pem.as_str()),
                ]
            }
            Action::CertDetail => {
                // xorshift64: cheap, and each worker draws its own sequence.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                cert_id = (1 + rng % plan.cert_ids).to_string();
                vec![("CertId", cert_id.as_str())]
            }
            Action::CertList => {
                page_text = page.to_string();
                vec![
                    ("ShowSize", plan.show_size.as_str()),
                    ("CurrentPage", page_text.as_str()),
                ]
            }
            Action::CreateUser | Action::Populate => {
                name = match &plan.exact_name {
                    Some(n) => n.clone(),
                    None => format!("{}-{id}-{seq:08}", plan.name_prefix),
                };
                vec![("UserName", name.as_str())]
            }
            Action::GetUser => vec![("UserName", plan.user_name.as_str())],
            Action::ListUsers => {
                let mut b = vec![("MaxItems", plan.max_items.as_str())];
                if let Some(m) = &marker {
                    b.push(("Marker", m.as_str()));
                }
                b
            }
            Action::CcAddUser | Action::CcGetUser | Action::CcListUsers => Vec::new(),
        };
        // CertCentral: method, path and query below /services/v2, JSON body.
        let cc: Option<(Method, String, Option<Bytes>)> = match plan.action {
            Action::CcAddUser => {
                let user = format!("{}-{id}-{seq:08}", plan.name_prefix);
                // Prefix and numbers need no JSON escaping (name_prefix's
                // charset); an `@` in the prefix would make a second `@`
                // in the address.
                let body = format!(
                    r#"{{"username":"{user}","first_name":"Load","last_name":"User {seq}","email":"{}@example.test","access_roles":[{{"id":5}}]}}"#,
                    user.replace('@', ".")
                );
                Some((Method::POST, "/user".to_owned(), Some(Bytes::from(body))))
            }
            Action::CcGetUser => Some((Method::GET, "/user/me".to_owned(), None)),
            Action::CcListUsers => Some((
                Method::GET,
                format!("/user?limit={}&offset={offset}", plan.page_size),
                None,
            )),
            _ => None,
        };
        // A connection the server closed while idle takes no request; such
        // an attempt sent nothing, so reconnect and sign again (a few times).
        let mut outcome = Outcome::NotReady;
        for _ in 0..3 {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match client::connect(plan.endpoint).await {
                    Ok(c) => {
                        tally.connections += 1;
                        conn.insert(c)
                    }
                    Err(e) => {
                        outcome = Outcome::Failed(e);
                        // Do not spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        break;
                    }
                },
            };
            let request = match &cc {
                Some((method, target, body)) => client::cc_request(
                    &plan.signer.host,
                    &plan.devkey,
                    method.clone(),
                    target,
                    body.as_ref(),
                ),
                None => {
                    plan.signer
                        .request(plan.action.version(), plan.action.api_name(), &business)
                }
            };
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    outcome = Outcome::Failed(e);
                    break;
                }
            };
            outcome = c.exchange(request, plan.request_timeout).await;
            if !matches!(outcome, Outcome::Response { .. }) {
                conn = None;
            }
            if !matches!(outcome, Outcome::NotReady) {
                break;
            }
        }
        match outcome {
            Outcome::Response {
                status,
                body,
                latency,
            } => {
                let ok = match plan.action {
                    Action::CcAddUser => status == hyper::StatusCode::CREATED,
                    Action::CcGetUser | Action::CcListUsers => status == hyper::StatusCode::OK,
                    _ => status.is_success(),
                };
                if plan.action.populates() {
                    let counter = if ok {
                        &counters.created
                    } else {
                        &counters.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if plan.action == Action::CertList && plan.deep {
                    let empty = !ok || stats::empty_certificate_page(&body, plan.xml);
                    if empty {
                        tally.list_ends += u64::from(page > 1);
                        page = 1;
                    } else {
                        page += 1;
                    }
                }
                if plan.action == Action::ListUsers && plan.deep {
                    // At the end of the list (or after an error) start over.
                    let next = if ok {
                        stats::next_marker(&body, plan.xml)
                    } else {
                        None
                    };
                    if ok && next.is_none() && marker.is_some() {
                        tally.list_ends += 1;
                    }
                    marker = next;
                }
                if plan.action == Action::CcListUsers && plan.deep {
                    // Next offset while it is inside page.total; at the end
                    // (or after an error, or without a total) start over.
                    let total = if ok {
                        stats::cc_page_total(&body)
                    } else {
                        None
                    };
                    let next = offset + plan.page_size;
                    match total {
                        Some(total) if next < total => offset = next,
                        Some(_) => {
                            tally.list_ends += u64::from(offset > 0);
                            offset = 0;
                        }
                        None => offset = 0,
                    }
                }
                if !measured {
                    tally.warmup_requests += 1;
                    tally.warmup_ok += u64::from(ok);
                    continue;
                }
                tally.requests += 1;
                tally
                    .latencies_us
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
                if ok {
                    tally.ok += 1;
                } else {
                    let class = format!("HTTP {} {}", status.as_u16(), stats::error_code(&body));
                    tally.error(class, || String::from_utf8_lossy(&body).into_owned());
                }
            }
            Outcome::Failed(_) | Outcome::TimedOut | Outcome::NotReady => {
                let what = match outcome {
                    Outcome::Failed(e) => e,
                    Outcome::TimedOut => "timeout".to_owned(),
                    _ => "connection not ready after 3 reconnects".to_owned(),
                };
                if plan.action.populates() {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                if !measured {
                    tally.warmup_requests += 1;
                    continue;
                }
                tally.requests += 1;
                let class = format!("transport: {what}");
                tally.error(class.clone(), || class);
            }
        }
    }
    tally
}

/// populate: a progress line on stderr at every 5 % step or every 2 s.
async fn progress(counters: Arc<Counters>, count: u64, start: Instant) {
    let mut last_step = 0;
    let mut last_print = start;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let created = counters.created.load(Ordering::Relaxed);
        let step = created * 20 / count;
        let now = Instant::now();
        if step > last_step || now - last_print >= Duration::from_secs(2) {
            print_progress(&counters, count, start);
            last_step = step;
            last_print = now;
        }
    }
}

fn print_progress(counters: &Counters, count: u64, start: Instant) {
    let created = counters.created.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "populate: {created}/{count} users ({:.0} %), {failed} failed, {secs:.1} s, {:.0} users/s",
        created as f64 * 100.0 / count as f64,
        created as f64 / secs.max(1e-9)
    );
}

/// A self-signed leaf and its PKCS#8 key, made once per run.
fn certificate(kind: KeyType) -> anyhow::Result<(String, String)> {
    let alg = match kind {
        KeyType::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    };
    let key = rcgen::KeyPair::generate_for(alg)?;
    let mut params = rcgen::CertificateParams::new(vec!["bench.example.com".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bench.example.com");
    let now = wall_clock();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The action as spelled on the command line (`cc-add-user`).
fn action_name(action: Action) -> String {
    action
        .to_possible_value()
        .map_or_else(|| format!("{action:?}"), |v| v.get_name().to_owned())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trustdesk-loadgen: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let args = Args::parse();
    let populate = args.action.populates();
    let certcentral = args.action.certcentral();
    let (access_key_id, access_key_secret, devkey) = if certcentral {
        let Some(devkey) = args.devkey.clone().filter(|k| !k.is_empty()) else {
            bail!(
                "{} needs a CertCentral API key: --devkey KEY or TRUSTDESK_DEVKEY",
                action_name(args.action)
            );
        };
        (String::new(), String::new(), devkey)
    } else {
        match (&args.access_key_id, &args.access_key_secret) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone(), String::new()),
            _ => bail!(
                "{} needs an AccessKey: --access-key-id and --access-key-secret \
                 (or TRUSTDESK_LOADGEN_ACCESS_KEY_ID and TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET)",
                action_name(args.action)
            ),
        }
    };
    let exact_name = match (&args.user_name, args.action) {
        (Some(n), Action::CreateUser) => {
            if args.requests != 1 {
                bail!("create-user --user-name creates one exact name: add --requests 1");
            }
            Some(n.clone())
        }
        _ => None,
    };
    let (warmup, duration) = if populate {
        (0.0, args.duration.unwrap_or(600.0))
    } else if exact_name.is_some() {
        (0.0, args.duration.unwrap_or(10.0))
    } else {
        (args.warmup, args.duration.unwrap_or(10.0))
    };
    let limit = if populate { args.count } else { args.requests };
    let name_prefix = args.name_prefix.clone().unwrap_or_else(|| {
        // RAM and CertCentral users share one namespace per account: a
        // different default keeps a RAM run and a CertCentral run started
        // in the same second apart.
        let tag = if certcentral { "cc" } else { "lg" };
        format!("{tag}{}", wall_clock().unix_timestamp())
    });
    let format = match args.format {
        Format::Json => "JSON",
        Format::Xml => "XML",
    };

    let what = match args.action {
        Action::CreateUser | Action::Populate => match &exact_name {
            Some(n) => format!("CreateUser of {n}"),
            None => format!("CreateUser of {name_prefix}-<worker>-<seq>"),
        },
        Action::GetUser => format!(
            "GetUser of {}",
            args.user_name.as_deref().unwrap_or("bench-existing")
        ),
        Action::ListUsers => format!(
            "ListUsers MaxItems={}{}",
            args.max_items,
            if args.deep {
                " (deep: following Marker)"
            } else {
                " (first page)"
            }
        ),
        Action::UploadCert | Action::PopulateCerts => format!(
            "CreateUserCertificate (GET) of {name_prefix}-<worker>-<seq>, {:?} self-signed leaf",
            args.key_type
        ),
        Action::CertDetail => format!(
            "DescribeUserCertificateDetail (GET) of random CertId in 1..={}",
            args.cert_ids
        ),
        Action::CertList => format!(
            "DescribeUserCertificateList (GET) ShowSize={}{}",
            args.show_size,
            if args.deep {
                " (deep: walking CurrentPage)"
            } else {
                " (first page)"
            }
        ),
        Action::CcAddUser => format!(
            "CertCentral POST /services/v2/user of {name_prefix}-<worker>-<seq> (access role 5)"
        ),
        Action::CcGetUser => "CertCentral GET /services/v2/user/me".to_owned(),
        Action::CcListUsers => format!(
            "CertCentral GET /services/v2/user limit={}{}",
            args.page_size,
            if args.deep {
                " (deep: offset += limit up to page.total)"
            } else {
                " (first page)"
            }
        ),
    };
    let (cert_pem, key_pem) = if args.action.uploads() {
        certificate(args.key_type)?
    } else {
        (String::new(), String::new())
    };
    let bound = if populate {
        format!(
            "{limit} {} (cap {duration} s)",
            if args.action.uploads() {
                "certificates"
            } else {
                "users"
            }
        )
    } else {
        format!("{limit} requests or {duration} s after {warmup} s warm-up")
    };
    let credentials = if certcentral {
        "X-DC-DEVKEY (static, unsigned)".to_owned()
    } else {
        format!("Format={format}")
    };
    println!(
        "setup: endpoint {} | {what} | concurrency {} | bound {bound} | {credentials} | {} runtime thread(s)",
        args.endpoint, args.concurrency, args.threads
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads as usize)
        .enable_all()
        .build()?;
    let cpu_start = stats::own_cpu_seconds();
    let start = Instant::now();
    let warm_until = start + Duration::from_secs_f64(warmup);
    let plan = Arc::new(Plan {
        signer: Signer {
            access_key_id,
            secret: access_key_secret,
            format,
            host: args.endpoint.to_string(),
        },
        action: args.action,
        endpoint: args.endpoint,
        limit,
        name_prefix,
        exact_name,
        user_name: args
            .user_name
            .clone()
            .unwrap_or_else(|| "bench-existing".to_owned()),
        max_items: args.max_items.to_string(),
        deep: args.deep,
        cert_pem,
        key_pem,
        cert_ids: args.cert_ids,
        show_size: args.show_size.to_string(),
        devkey,
        page_size: u64::from(args.page_size),
        xml: args.format == Format::Xml,
        request_timeout: Duration::from_secs_f64(args.request_timeout),
        warm_until,
        stop_at: warm_until + Duration::from_secs_f64(duration),
    });
    let counters = Arc::new(Counters::default());

    let (tally, cpu_at_warm) = runtime.block_on(async {
        let cpu_probe = tokio::spawn(async move {
            tokio::time::sleep_until(warm_until.into()).await;
            stats::own_cpu_seconds()
        });
        let ticker = populate.then(|| tokio::spawn(progress(counters.clone(), limit, start)));
        let handles: Vec<_> = (0..args.concurrency)
            .map(|i| tokio::spawn(worker(plan.clone(), counters.clone(), i)))
            .collect();
        let mut all = Tally::default();
        for h in handles {
            match h.await {
                Ok(t) => all.merge(t),
                Err(e) => eprintln!("worker panicked: {e}"),
            }
        }
        if let Some(t) = ticker {
            t.abort();
        }
        let cpu_at_warm = if cpu_probe.is_finished() {
            cpu_probe.await.unwrap_or(f64::NAN)
        } else {
            cpu_probe.abort();
            stats::own_cpu_seconds()
        };
        (all, cpu_at_warm)
    });
    let end = Instant::now();
    let cpu_end = stats::own_cpu_seconds();
    if populate {
        print_progress(&counters, limit, start);
    }
    report(
        &args,
        &tally,
        start,
        warm_until,
        end,
        cpu_start,
        cpu_at_warm,
        cpu_end,
    );

    if tally.requests > 0 && tally.latencies_us.is_empty() {
        eprintln!("trustdesk-loadgen: no request got a response");
        return Ok(std::process::ExitCode::from(1));
    }
    if populate && tally.ok < limit {
        eprintln!(
            "trustdesk-loadgen: populate created {} of {limit} requested",
            tally.ok
        );
        return Ok(std::process::ExitCode::from(2));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    tally: &Tally,
    start: Instant,
    warm_until: Instant,
    end: Instant,
    cpu_start: f64,
    cpu_at_warm: f64,
    cpu_end: f64,
) {
    let mut sorted = tally.latencies_us.clone();
    sorted.sort_unstable();
    let elapsed = end.saturating_duration_since(warm_until).as_secs_f64();
    let n = tally.requests;
    let errors = tally.error_count();
    let rps = n as f64 / elapsed.max(1e-9);
    let ok_rps = tally.ok as f64 / elapsed.max(1e-9);
    let p50 = stats::percentile_ms(&sorted, 0.50);
    let p90 = stats::percentile_ms(&sorted, 0.90);
    let p99 = stats::percentile_ms(&sorted, 0.99);
    let max = stats::percentile_ms(&sorted, 1.0);
    let mean = if sorted.is_empty() {
        f64::NAN
    } else {
        sorted.iter().map(|&v| f64::from(v)).sum::<f64>() / sorted.len() as f64 / 1000.0
    };
    let cpu = cpu_end - cpu_at_warm;
    let cpu_total = cpu_end - cpu_start;
    let cpu_per_req = if n > 0 {
        cpu * 1e6 / n as f64
    } else {
        f64::NAN
    };

    println!(
        "requests: {n}  ok: {}  errors: {errors}  (warm-up, not recorded: {} requests; connections opened: {})",
        tally.ok, tally.warmup_requests, tally.connections
    );
    println!("elapsed:  {elapsed:.2} s  rate: {rps:.0} req/s  (2xx: {ok_rps:.0}/s)");
    println!(
        "latency:  p50 {p50:.3} ms  p90 {p90:.3} ms  p99 {p99:.3} ms  max {max:.3} ms  (mean {mean:.3} ms)"
    );
    println!(
        "loadgen CPU: {cpu:.2} s = {cpu_per_req:.1} µs/request, {:.0} % of one core (utime+stime, /proc/self/stat, CLK_TCK assumed 100)",
        cpu / elapsed.max(1e-9) * 100.0
    );
    if args.deep {
        println!(
            "deep:     workers reached the last page {} times (warm-up included) and restarted",
            tally.list_ends
        );
    }
    let top = tally.top_errors();
    for (class, count) in top.iter().take(5) {
        println!("error: {count} × {class}");
    }
    if top.len() > 5 {
        let rest: u64 = top[5..].iter().map(|(_, c)| c).sum();
        println!("error: {rest} × ({} other classes)", top.len() - 5);
    }
    if let Some(s) = &tally.sample_error {
        println!(
            "sample error: {}",
            s.chars().take(400).collect::<String>().replace('\n', " ")
        );
    }
    if args.json {
        let classes: serde_json::Map<String, serde_json::Value> = top
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "action": args.action.api_name(),
                "populate": args.action.populates(),
                "version": args.action.version(),
                "deep": args.deep,
                "max_items": args.max_items,
                "page_size": args.page_size,
                "format": if args.action.certcentral() {
                    "JSON".to_owned()
                } else {
                    format!("{:?}", args.format).to_uppercase()
                },
                "endpoint": args.endpoint.to_string(),
                "concurrency": args.concurrency,
                "threads": args.threads,
                "requests": n,
                "ok": tally.ok,
                "errors": errors,
                "error_classes": classes,
                "elapsed_s": elapsed,
                "rps": rps,
                "ok_rps": ok_rps,
                "p50_ms": p50,
                "p90_ms": p90,
                "p99_ms": p99,
                "max_ms": max,
                "mean_ms": mean,
                "loadgen_cpu_s": cpu,
                "loadgen_cpu_us_per_req": cpu_per_req,
                "loadgen_cpu_total_s": cpu_total,
                "warmup_requests": tally.warmup_requests,
                "warmup_ok": tally.warmup_ok,
                "ok_total": tally.ok + tally.warmup_ok,
                "sent_total": n + tally.warmup_requests,
                "wall_s": end.saturating_duration_since(start).as_secs_f64(),
                "connections": tally.connections,
                "list_ends": tally.list_ends,
            })
        );
    }
}

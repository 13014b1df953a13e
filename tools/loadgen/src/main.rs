//! `trustdesk-loadgen`: a small load client for the Alibaba RPC face.
//!
//! Signed requests cannot be replayed (every one needs a fresh
//! `SignatureNonce` and `Timestamp`), so generic HTTP load tools cannot
//! drive the RPC face; this client signs each request with V1 exactly as the
//! old Python SDK sends RAM calls (POST, every parameter in the query
//! string, empty body). It only talks to loopback addresses and always stops
//! on its own: at `--requests` or after `--duration`, whichever comes first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use trustdesk_auth::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Action {
    /// CreateUser with a distinct UserName per request.
    CreateUser,
    /// GetUser of one existing user (`--user-name`).
    GetUser,
    /// ListUsers pages of `--max-items` (with `--deep`, walking the Marker chain).
    ListUsers,
    /// Create `--count` users as fast as possible, with progress on stderr.
    Populate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Xml,
}

/// Signed-request load client for trustdesk's Alibaba RPC face (loopback only).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Server address, `127.0.0.1:PORT` (loopback addresses only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    endpoint: SocketAddr,
    /// AccessKeyId to sign with.
    #[arg(long, env = "TRUSTDESK_LOADGEN_ACCESS_KEY_ID")]
    access_key_id: String,
    /// AccessKey secret to sign with.
    #[arg(
        long,
        env = "TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET",
        hide_env_values = true
    )]
    access_key_secret: String,
    /// What to send.
    #[arg(long, value_enum)]
    action: Action,
    /// Concurrent connections, one request in flight on each.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Stop after this many measured requests.
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Stop after this many seconds of measurement.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Prefix of the UserNames CreateUser and populate invent.
    #[arg(long, default_value = "bench")]
    name_prefix: String,
    /// User to read with GetUser (and, with create-user, the exact name to create when --requests is 1).
    #[arg(long, default_value = "bench-existing")]
    user_name: String,
    /// ListUsers page size.
    #[arg(long, default_value_t = 100)]
    max_items: u32,
    /// ListUsers: follow Marker so pages deep in the list are measured.
    #[arg(long)]
    deep: bool,
    /// Users to create with populate.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Response format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Runtime worker threads (on a 2-core machine, 1 leaves a core for the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also print a one-line JSON summary.
    #[arg(long)]
    json: bool,
}

/// The one wall-clock read: signatures carry the current time, and the
/// server checks it against its own clock.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// CPU seconds this process has used (utime + stime from /proc/self/stat,
/// at the usual 100 ticks per second).
fn own_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    sample_error: Option<String>,
}

struct Shared {
    args: Args,
    issued: AtomicU64,
    created: AtomicU64,
}

fn build_query(shared: &Shared, worker: usize, seq: u64, marker: Option<&str>) -> String {
    let a = &shared.args;
    let format = match a.format {
        Format::Json => "JSON",
        Format::Xml => "XML",
    };
    let mut p = Params::from_pairs([
        ("Version", "2015-05-01"),
        ("Format", format),
        ("RegionId", "cn-hangzhou"),
    ]);
    match a.action {
        Action::CreateUser | Action::Populate => {
            p.insert("Action", "CreateUser");
            let name = if a.action == Action::CreateUser && a.requests == 1 {
                a.user_name.clone()
            } else {
                format!("{}-{worker}-{seq}", a.name_prefix)
            };
            p.insert("UserName", name);
        }
        Action::GetUser => {
            p.insert("Action", "GetUser");
            p.insert("UserName", a.user_name.as_str());
        }
        Action::ListUsers => {
            p.insert("Action", "ListUsers");
            p.insert("MaxItems", a.max_items.to_string());
            if let Some(m) = marker {
                p.insert("Marker", m);
            }
        }
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    trustdesk_auth::sign::v1_query(
        "POST",
        p,
        &a.access_key_id,
        &a.access_key_secret,
        &nonce,
        wall_clock(),
    )
}

async fn worker(
    shared: Arc<Shared>,
    id: usize,
    warm_until: Instant,
    stop_at: Instant,
) -> anyhow::Result<Tally> {
    let a = &shared.args;
    let stream = tokio::net::TcpStream::connect(a.endpoint)
        .await
        .context("connecting")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = a.endpoint.to_string();
    let limit = if a.action == Action::Populate {
        a.count
    } else {
        a.requests
    };
    let mut tally = Tally::default();
    let mut marker: Option<String> = None;
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        if now >= stop_at {
            break;
        }
        let measured = now >= warm_until;
        if measured && shared.issued.fetch_add(1, Ordering::Relaxed) >= limit {
            break;
        }
        seq += 1;
        let query = build_query(&shared, id, seq, marker.as_deref());
        let request = Request::post(format!("/?{query}"))
            .header(header::HOST, host.as_str())
            .header(header::CONTENT_LENGTH, "0")
            .body(Empty::<Bytes>::new())?;
        let started = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        if a.action == Action::ListUsers && a.deep && status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            marker = v["Marker"]
                .as_str()
                .filter(|_| v["IsTruncated"] == true)
                .map(str::to_owned);
        }
        if status.is_success() && a.action == Action::Populate {
            let done = shared.created.fetch_add(1, Ordering::Relaxed) + 1;
            if done.is_multiple_of((a.count / 20).max(1)) {
                eprintln!("populate: {done}/{} users", a.count);
            }
        }
        if !measured {
            continue;
        }
        tally
            .latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if status.is_success() {
            tally.ok += 1;
        } else {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let code = v["Code"].as_str().unwrap_or("?");
            *tally
                .errors
                .entry(format!("{} {code}", status.as_u16()))
                .or_default() += 1;
            tally
                .sample_error
                .get_or_insert_with(|| String::from_utf8_lossy(&body).into_owned());
        }
    }
    Ok(tally)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx]) / 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.endpoint.ip().is_loopback() {
        bail!(
            "refusing to send load to {}: only loopback addresses are allowed",
            args.endpoint
        );
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let populate = args.action == Action::Populate;
    let (warmup, duration) = if populate {
        (0.0, 3600.0)
    } else {
        (args.warmup, args.duration)
    };
    println!(
        "setup: endpoint={} action={:?} concurrency={} bound={} requests or {:.0}s (+{:.0}s warm-up) format={:?} threads={}",
        args.endpoint,
        args.action,
        args.concurrency,
        if populate { args.count } else { args.requests },
        duration,
        warmup,
        args.format,
        args.threads
    );
    let concurrency = args.concurrency;
    let shared = Arc::new(Shared {
        args,
        issued: AtomicU64::new(0),
        created: AtomicU64::new(0),
    });
    let cpu_before = own_cpu_seconds();
    let start = Instant::now();
    let warm_until = start + Duration::from_secs_f64(warmup);
    let stop_at = warm_until + Duration::from_secs_f64(duration);
    let tallies: Vec<anyhow::Result<Tally>> = runtime.block_on(async {
        let handles: Vec<_> = (0..concurrency)
            .map(|i| tokio::spawn(worker(shared.clone(), i, warm_until, stop_at)))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.map_err(anyhow::Error::from).and_then(|r| r));
        }
        out
    });
    let measured = Instant::now()
        .saturating_duration_since(warm_until)
        .as_secs_f64();
    let cpu = own_cpu_seconds() - cpu_before;
    let mut all = Tally::default();
    let mut failed_workers = 0;
    for t in tallies {
        match t {
            Ok(t) => {
                all.latencies_us.extend(t.latencies_us);
                all.ok += t.ok;
                for (k, v) in t.errors {
                    *all.errors.entry(k).or_default() += v;
                }
                all.sample_error = all.sample_error.or(t.sample_error);
            }
            Err(e) => {
                failed_workers += 1;
                eprintln!("worker failed: {e:#}");
            }
        }
    }
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len() as u64;
    let errors: u64 = all.errors.values().sum();
    let rps = n as f64 / measured;
    let (p50, p90, p99) = (
        percentile(&all.latencies_us, 0.50),
        percentile(&all.latencies_us, 0.90),
        percentile(&all.latencies_us, 0.99),
    );
    let max = all
        .latencies_us
        .last()
        .map_or(f64::NAN, |m| f64::from(*m) / 1000.0);
    println!(
        "requests={n} ok={} errors={errors} elapsed={measured:.2}s rate={rps:.0} req/s latency_ms p50={p50:.3} p90={p90:.3} p99={p99:.3} max={max:.3}",
        all.ok
    );
    println!(
        "loadgen_cpu={cpu:.2}s ({:.1} us/request, {:.0}% of one core)",
        if n > 0 {
            cpu * 1e6 / n as f64
        } else {
            f64::NAN
        },
        cpu / measured * 100.0
    );
    for (k, v) in &all.errors {
        println!("error {k}: {v}");
    }
    if let Some(s) = &all.sample_error {
        println!(
            "sample error body: {}",
            s.chars().take(300).collect::<String>()
        );
    }
    if shared.args.json {
        println!(
            "{}",
            serde_json::json!({
                "action": format!("{:?}", shared.args.action), "concurrency": concurrency, "requests": n, "ok": all.ok,
                "errors": errors, "elapsed_s": measured, "rps": rps, "p50_ms": p50, "p90_ms": p90, "p99_ms": p99,
                "max_ms": max, "loadgen_cpu_s": cpu, "failed_workers": failed_workers,
            })
        );
    }
    if failed_workers > 0 {
        bail!("{failed_workers} worker(s) failed");
    }
    Ok(())
}

//! One keep-alive HTTP/1.1 connection and the requests sent on it: signed
//! RPC calls (RAM, CAS) and CertCentral calls with a static key header.
//!
//! Each worker owns one [`Conn`]: a TCP stream with `TCP_NODELAY`, driven by
//! hyper's low-level `client::conn::http1` handshake. The connection future is
//! polled inside the worker's own task (a `select!` next to the request)
//! instead of being spawned, so a request/response round trip never hands
//! work to another task or thread; on this VM a cross-vCPU wake-up costs
//! ~30 µs one way (`shared/design/limits.md` §1).

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use trustdesk_auth::Params;

/// What `aliyun-python-sdk-core` 2.16.1 puts in `User-Agent` (captured
/// traffic in `shared/reference/vectors/aliyun-v1.json`); the server ignores
/// it, but the request should be the size a real client sends.
const USER_AGENT: &str =
    "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/2.16.1 python-requests/2.18.3";

/// API versions: RAM and CAS.
pub const RAM_VERSION: &str = "2015-05-01";
pub const CAS_VERSION: &str = "2018-07-13";

/// Where the CertCentral Services API v2 face is mounted.
pub const CC_BASE: &str = "/services/v2";

/// Request bodies: empty for the RPC calls, compact JSON for CertCentral
/// writes. An empty `Full` is exactly an empty body (no frame).
type Body = Full<Bytes>;

pub struct Conn {
    sender: SendRequest<Body>,
    conn: Pin<Box<Connection<TokioIo<TcpStream>, Body>>>,
}

/// Opens one connection (TCP_NODELAY, HTTP/1.1, no pooling).
pub async fn connect(addr: SocketAddr) -> Result<Conn, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("set TCP_NODELAY: {}", e.kind()))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(Conn {
        sender,
        conn: Box::pin(conn),
    })
}

/// Everything a request needs besides its business parameters.
pub struct Signer {
    pub access_key_id: String,
    pub secret: String,
    /// `JSON` or `XML`.
    pub format: &'static str,
    /// `Host` header: the endpoint as given, port included.
    pub host: String,
}

impl Signer {
    /// A request exactly as the old Python SDK sends it: every parameter
    /// (common, business, signature) in the query string, empty body with
    /// `Content-Length: 0`, no `Content-Type`, the SDK's headers; POST for
    /// RAM, GET for CAS 2018-07-13 (PEM certificate and key in the URL).
    /// Nonce (UUID v4, 32 hex) and Timestamp are fresh for every call.
    pub fn request(
        &self,
        version: &'static str,
        action: &'static str,
        business: &[(&'static str, &str)],
    ) -> Result<Request<Body>, String> {
        let method = if version == CAS_VERSION {
            Method::GET
        } else {
            Method::POST
        };
        let mut params = Params::from_pairs([
            ("Action", action),
            ("Version", version),
            ("Format", self.format),
            ("RegionId", "cn-hangzhou"),
            // The old SDK always sends (and signs) an empty SignatureType.
            ("SignatureType", ""),
        ]);
        for (name, value) in business {
            params.insert(*name, *value);
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let query = trustdesk_auth::sign::v1_query(
            method.as_str(),
            params,
            &self.access_key_id,
            &self.secret,
            &nonce,
            crate::wall_clock(),
        );
        Request::builder()
            .method(method)
            .uri(format!("/?{query}"))
            .header(header::HOST, self.host.as_str())
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::ACCEPT_ENCODING, "identity")
            .header(header::ACCEPT, "*/*")
            .header(header::CONNECTION, "keep-alive")
            .header("x-acs-action", action)
            .header("x-acs-version", version)
            .header("x-sdk-invoke-type", "normal")
            .header("x-sdk-client", "python/2.0.0")
            .header(header::CONTENT_LENGTH, "0")
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("building the request: {e}"))
    }
}

/// A CertCentral Services API v2 request as DigiCert's examples send it:
/// `target` (path and query, below [`CC_BASE`]) with the static
/// `X-DC-DEVKEY` header and no signature; with `json`, a POST-style body
/// with `Content-Type: application/json` and its `Content-Length`.
pub fn cc_request(
    host: &str,
    devkey: &str,
    method: Method,
    target: &str,
    json: Option<&Bytes>,
) -> Result<Request<Body>, String> {
    let builder = Request::builder()
        .method(method)
        .uri(format!("{CC_BASE}{target}"))
        .header(header::HOST, host)
        .header("X-DC-DEVKEY", devkey);
    let request = match json {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Full::new(body.clone())),
        None => builder.body(Full::new(Bytes::new())),
    };
    request.map_err(|e| format!("building the request: {e}"))
}

/// How one exchange ended.
pub enum Outcome {
    /// A complete response; `latency` runs from handing the request to hyper
    /// until the last body byte arrived.
    Response {
        status: StatusCode,
        body: Bytes,
        latency: Duration,
    },
    /// The connection could not take a request (closed by the server while
    /// idle). Nothing was sent; reconnect and send again.
    NotReady,
    /// The request was sent but no complete response came back.
    Failed(String),
    /// No complete response within the request timeout.
    TimedOut,
}

impl Conn {
    /// Sends `request` and reads the whole response, polling the connection
    /// in this task. After anything but `Response` the connection is unusable.
    pub async fn exchange(&mut self, request: Request<Body>, timeout: Duration) -> Outcome {
        let Conn { sender, conn } = self;
        let work = async {
            if sender.ready().await.is_err() {
                return Outcome::NotReady;
            }
            let started = Instant::now();
            let response = match sender.send_request(request).await {
                Ok(r) => r,
                Err(e) => return Outcome::Failed(short(&e)),
            };
            let status = response.status();
            match response.into_body().collect().await {
                Ok(collected) => Outcome::Response {
                    status,
                    body: collected.to_bytes(),
                    latency: started.elapsed(),
                },
                Err(e) => Outcome::Failed(short(&e)),
            }
        };
        let driven = async {
            tokio::pin!(work);
            tokio::select! {
                biased;
                outcome = &mut work => outcome,
                ended = conn.as_mut() => {
                    // The connection finished (e.g. `Connection: close`); a
                    // response it delivered on the way out is still buffered
                    // in the channels, so one more poll collects it.
                    match tokio::time::timeout(Duration::ZERO, &mut work).await {
                        Ok(outcome @ (Outcome::Response { .. } | Outcome::NotReady)) => outcome,
                        _ => Outcome::Failed(match ended {
                            Ok(()) => "connection closed by the server".to_owned(),
                            Err(e) => short(&e),
                        }),
                    }
                }
            }
        };
        tokio::time::timeout(timeout, driven)
            .await
            .unwrap_or(Outcome::TimedOut)
    }
}

fn short(e: &hyper::Error) -> String {
    let text = e.to_string();
    text.chars().take(80).collect()
}

//! What every fake shares: a loopback HTTP server whose connections can be cut from inside a handler,
//! the request log, and the chaos queue.
//!
//! The accept loop is our own (not `axum::serve`) so that [`Chaos::DropAfterCommit`] can close the
//! socket without writing a single byte: the client then sees a transport error on `send()`, the
//! exact "did it land?" uncertainty the connectors must reconcile.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Largest request body the fakes read; real services refuse far smaller bodies than this anyway.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Locks a mutex, taking the data even if a panicking test thread poisoned it: the fakes' state stays
/// usable for the assertions that follow.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One request as the fake received it, for "sent at most N requests" and quota assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// Path without the query, e.g. `/api/v9/me`.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Request body as text (lossy UTF-8), so a test can check which fields were sent. Headers
    /// (credentials) are deliberately not logged.
    pub body: String,
    /// Status the fake answered, or `None` when no answer was delivered (connection dropped, or the
    /// client gave up during a stall).
    pub status: Option<u16>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

/// What to do to a matching request instead of (or around) answering it normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chaos {
    /// Apply the request, then close the connection without writing any answer: the client gets a
    /// transport error although the write is in the state.
    DropAfterCommit,
    /// Answer this status (e.g. 500, 502, 503) without applying the request.
    FailBeforeCommit(u16),
    /// Wait this long, then apply the request even if the client hung up meanwhile (the write runs
    /// in its own task): "timed out, yet committed later".
    StallThenCommit(Duration),
    /// Apply the request at once, then wait this long before answering: "committed, but the client
    /// timed out waiting for the answer".
    CommitThenStall(Duration),
    /// Answer this status, headers and body without applying the request (429 with `Retry-After`,
    /// Toggl's 402, …).
    Status {
        /// HTTP status code.
        status: u16,
        /// Extra headers, e.g. `("Retry-After", "1")`.
        headers: Vec<(String, String)>,
        /// Body sent as is (with `Content-Type: application/json`).
        body: String,
    },
}

impl Chaos {
    /// A [`Chaos::Status`] without extra headers.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self::Status {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header to a [`Chaos::Status`]; other kinds are returned unchanged.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Status { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// A chaos rule: which requests it matches and what it does to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosRule {
    /// Method to match (`None` = any).
    pub method: Option<String>,
    /// Prefix of the full request path (e.g. `/api/v9/workspaces/1/time_entries`).
    pub path_prefix: String,
    /// What happens to a matching request.
    pub chaos: Chaos,
    /// `false`: applies to the next matching request only, then is removed. `true`: to every one.
    pub always: bool,
}

impl ChaosRule {
    /// A rule for the next matching request only. `method` `"*"` matches any method.
    pub fn once(method: &str, path_prefix: &str, chaos: Chaos) -> Self {
        Self::new(method, path_prefix, chaos, false)
    }

    /// A rule for every matching request until [`FakeServer::clear_chaos`].
    pub fn always(method: &str, path_prefix: &str, chaos: Chaos) -> Self {
        Self::new(method, path_prefix, chaos, true)
    }

    fn new(method: &str, path_prefix: &str, chaos: Chaos, always: bool) -> Self {
        Self {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_prefix: path_prefix.to_owned(),
            chaos,
            always,
        }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method.as_str())
            && path.starts_with(&self.path_prefix)
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<LoggedRequest>>,
    chaos: Mutex<Vec<ChaosRule>>,
}

impl Shared {
    fn take_rule(&self, method: &Method, path: &str) -> Option<Chaos> {
        let mut rules = lock(&self.chaos);
        let i = rules.iter().position(|r| r.matches(method, path))?;
        if rules[i].always {
            Some(rules[i].chaos.clone())
        } else {
            Some(rules.remove(i).chaos)
        }
    }

    fn set_status(&self, index: usize, status: Option<u16>) {
        if let Some(entry) = lock(&self.log).get_mut(index) {
            entry.status = status;
        }
    }
}

/// Handed to each request so a handler-level middleware can close its connection.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

/// The running server behind every fake handle (each handle derefs to it). Dropping it stops the
/// accept loop and closes every open connection.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeServer {
    /// Binds 127.0.0.1:0 and serves `router` (behind the log and chaos gate) in a background task.
    pub(crate) async fn start(router: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = router.layer(from_fn_with_state(shared.clone(), gate));
        let (stop, stopped) = watch::channel(());
        tokio::spawn(accept_loop(listener, app, stopped));
        Ok(Self {
            addr,
            shared,
            _stop: stop,
        })
    }

    /// The origin a person would configure, e.g. `http://127.0.0.1:41234` (no path, no slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// How many received requests match a method (`"*"` = any) and path prefix.
    pub fn count_requests(&self, method: &str, path_prefix: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| {
                (method == "*" || r.method.eq_ignore_ascii_case(method))
                    && r.path.starts_with(path_prefix)
            })
            .count()
    }

    /// Forgets the request log (e.g. after a test's setup).
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Queues a chaos rule; rules are tried in the order queued, the first match applies.
    pub fn chaos(&self, rule: ChaosRule) {
        lock(&self.shared.chaos).push(rule);
    }

    /// Removes every queued chaos rule, `always` ones included.
    pub fn clear_chaos(&self) {
        lock(&self.shared.chaos).clear();
    }

    /// Chaos rules not yet consumed.
    pub fn pending_chaos(&self) -> Vec<ChaosRule> {
        lock(&self.shared.chaos).clone()
    }
}

async fn accept_loop(listener: TcpListener, app: Router, mut stopped: watch::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let app = app.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_for_requests = kill.clone();
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(ConnKill(kill_for_requests.clone()));
                    app.clone().oneshot(req.map(Body::new))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future closes the socket without flushing anything pending.
            tokio::select! {
                _ = conn => {}
                () = kill.notified() => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

/// Logs every request and applies the chaos queue around the service's own routes.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let index = {
        let mut log = lock(&shared.log);
        log.push(LoggedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            status: None,
            at: Utc::now(),
        });
        log.len() - 1
    };
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let req = Request::from_parts(parts, Body::from(bytes));
    let response = match shared.take_rule(&method, &path) {
        None => next.run(req).await,
        Some(Chaos::FailBeforeCommit(code)) => {
            injected(code, Vec::new(), "\"injected failure\"".to_owned())
        }
        Some(Chaos::Status {
            status,
            headers,
            body,
        }) => injected(status, headers, body),
        Some(Chaos::CommitThenStall(pause)) => {
            let response = next.run(req).await;
            tokio::time::sleep(pause).await;
            response
        }
        Some(Chaos::StallThenCommit(pause)) => {
            // A task of its own: the write must land even when the client hangs up and hyper drops us.
            let task = tokio::spawn(async move {
                tokio::time::sleep(pause).await;
                next.run(req).await
            });
            match task.await {
                Ok(response) => response,
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Some(Chaos::DropAfterCommit) => {
            let _committed = next.run(req).await;
            match kill {
                Some(ConnKill(notify)) => {
                    notify.notify_one();
                    std::future::pending::<()>().await;
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
                // Not reachable through `accept_loop`; a body that fails still breaks the answer.
                None => broken_body(),
            }
        }
    };
    shared.set_status(index, Some(response.status().as_u16()));
    response
}

fn injected(status: u16, headers: Vec<(String, String)>, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn broken_body() -> Response {
    Response::new(Body::new(Failing))
}

/// A body that fails on its first frame: hyper then aborts the answer mid-way.
struct Failing;

impl hyper::body::Body for Failing {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other(
            "connection dropped by the fake",
        ))))
    }
}

/// Parses a raw query string into ordered (key, value) pairs, percent-decoded, `+` as space. Repeated
/// keys (`issueId=1&issueId=2`, `projects[]=3`) stay separate, which serde's flat maps cannot do.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The last value of a query key, if present.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether the request declared a JSON body (`application/json`, parameters allowed).
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// Error type for handlers: the response is already built in the service's error shape.
pub(crate) type Answer = Result<Response, Response>;

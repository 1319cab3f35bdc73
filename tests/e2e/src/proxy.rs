//! A fault-injecting HTTP/1.1 proxy for sync tests, plus a tiny raw HTTP
//! client for talking to the relay directly.
//!
//! The proxy listens on `127.0.0.1:0` and forwards each request to the
//! relay on a fresh upstream connection with `Connection: close`, so every
//! client connection carries exactly one request and the response is
//! complete when the relay closes. Per request, a seeded RNG and a
//! [`FaultPlan`] decide what happens:
//!
//! - [`Fault::Pass`]: forward and answer normally;
//! - [`Fault::DropResponse`]: forward (the relay processes it), then close the
//!   client connection without answering;
//! - [`Fault::Delay`]: answer after a pause;
//! - [`Fault::Duplicate`]: send the request to the relay twice, answer with the
//!   second response;
//! - [`Fault::Truncate`]: send the status line, headers and half the body,
//!   then close.
//!
//! Only requests whose path starts with one of [`FaultPlan::paths`] are
//! faulted (by default push, pull and sync: faulting a refresh would spend
//! the device's rotating refresh token, which is a different test).
//! [`FaultProxy::block`] makes the proxy refuse everything (a dead relay)
//! and [`FaultProxy::set_upstream`] points it at a restarted relay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Forward and answer.
    Pass,
    /// Forward, then hang up without answering.
    DropResponse,
    /// Forward and answer after this many milliseconds.
    Delay(u64),
    /// Forward twice, answer with the second response.
    Duplicate,
    /// Answer with only half of the body, then hang up.
    Truncate,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::DropResponse => "drop_response",
            Self::Delay(_) => "delay",
            Self::Duplicate => "duplicate",
            Self::Truncate => "truncate",
        }
    }
}

/// Probabilities (0..=1, summing to at most 1) of each fault per request.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Hang up after the relay processed the request.
    pub drop_response: f64,
    /// Answer late.
    pub delay: f64,
    /// Send the request twice.
    pub duplicate: f64,
    /// Cut the response body in half.
    pub truncate: f64,
    /// Longest delay in milliseconds.
    pub max_delay_ms: u64,
    /// Path prefixes that may be faulted.
    pub paths: Vec<String>,
}

impl FaultPlan {
    /// No faults at all.
    pub fn clean() -> Self {
        Self {
            drop_response: 0.0,
            delay: 0.0,
            duplicate: 0.0,
            truncate: 0.0,
            max_delay_ms: 0,
            paths: default_paths(),
        }
    }

    /// About 30 % of sync requests faulted: 10 % dropped responses, 8 %
    /// truncated, 7 % duplicated, 5 % delayed (up to 40 ms).
    pub fn thirty_percent() -> Self {
        Self {
            drop_response: 0.10,
            delay: 0.05,
            duplicate: 0.07,
            truncate: 0.08,
            max_delay_ms: 40,
            paths: default_paths(),
        }
    }

    fn choose(&self, rng: &mut SplitMix64, path: &str) -> Fault {
        if !self.paths.iter().any(|p| path.starts_with(p.as_str())) {
            return Fault::Pass;
        }
        let x = rng.next_f64();
        let mut edge = self.drop_response;
        if x < edge {
            return Fault::DropResponse;
        }
        edge += self.delay;
        if x < edge {
            return Fault::Delay(1 + rng.next_u64() % self.max_delay_ms.max(1));
        }
        edge += self.duplicate;
        if x < edge {
            return Fault::Duplicate;
        }
        edge += self.truncate;
        if x < edge {
            return Fault::Truncate;
        }
        Fault::Pass
    }
}

fn default_paths() -> Vec<String> {
    ["/v1/push", "/v1/pull", "/v1/sync"]
        .into_iter()
        .map(String::from)
        .collect()
}

/// A small seeded RNG (SplitMix64), so a failing run can be replayed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// An RNG from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `0..1`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

struct Shared {
    upstream: Mutex<String>,
    plan: Mutex<FaultPlan>,
    rng: Mutex<SplitMix64>,
    blocked: AtomicBool,
    budget: Mutex<Option<(String, usize)>>,
    log: Mutex<Vec<(String, Fault)>>,
}

/// The proxy; stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give to cores instead of the relay's URL.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`) with `plan`
    /// and RNG `seed`.
    pub async fn start(upstream: &str, plan: FaultPlan, seed: u64) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream: Mutex::new(host_port(upstream)?.to_owned()),
            plan: Mutex::new(plan),
            rng: Mutex::new(SplitMix64::new(seed)),
            blocked: AtomicBool::new(false),
            budget: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    // A failed exchange just closes the client's connection,
                    // which is what a flaky network does too.
                    let _ = handle(client, &shared).await;
                });
            }
        });
        Ok(Self { url, shared, task })
    }

    /// Replaces the fault plan (e.g. [`FaultPlan::clean`] for the final sync).
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
    }

    /// Points the proxy at another relay (after a restart on a new port).
    pub fn set_upstream(&self, upstream: &str) -> anyhow::Result<()> {
        *lock(&self.shared.upstream) = host_port(upstream)?.to_owned();
        Ok(())
    }

    /// While blocked, every request is answered by closing the connection
    /// without forwarding it (the relay is unreachable).
    pub fn block(&self, blocked: bool) {
        *lock(&self.shared.budget) = None;
        self.shared.blocked.store(blocked, Ordering::SeqCst);
    }

    /// Lets `n` more requests whose path starts with `prefix` through, then
    /// blocks (as [`FaultProxy::block`]) from the next such request on: a
    /// relay that dies in the middle of a multi-batch push.
    pub fn block_after(&self, prefix: &str, n: usize) {
        *lock(&self.shared.budget) = Some((prefix.to_owned(), n));
    }

    /// Every request seen so far: its request line and the fault applied.
    pub fn log(&self) -> Vec<(String, Fault)> {
        lock(&self.shared.log).clone()
    }

    /// How many requests got each fault, by fault name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for (_, fault) in lock(&self.shared.log).iter() {
            *out.entry(fault.name()).or_insert(0) += 1;
        }
        out
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn host_port(url: &str) -> anyhow::Result<&str> {
    url.strip_prefix("http://")
        .map(|s| s.trim_end_matches('/'))
        .context("only http:// upstreams are supported")
}

async fn handle(mut client: TcpStream, shared: &Shared) -> anyhow::Result<()> {
    let request = read_request(&mut client).await?;
    {
        let mut budget = lock(&shared.budget);
        if let Some((prefix, left)) = budget.as_mut()
            && request.path.starts_with(prefix.as_str())
        {
            if *left == 0 {
                shared.blocked.store(true, Ordering::SeqCst);
                *budget = None;
            } else {
                *left -= 1;
            }
        }
    }
    if shared.blocked.load(Ordering::SeqCst) {
        return Ok(());
    }
    let fault = {
        let plan = lock(&shared.plan);
        let mut rng = lock(&shared.rng);
        plan.choose(&mut rng, &request.path)
    };
    lock(&shared.log).push((request.line.clone(), fault));
    let upstream = lock(&shared.upstream).clone();
    let mut response = forward(&upstream, &request.bytes).await?;
    match fault {
        Fault::Pass => {}
        Fault::DropResponse => return Ok(()),
        Fault::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Fault::Duplicate => response = forward(&upstream, &request.bytes).await?,
        Fault::Truncate => {
            let head_len = header_end(&response).context("response without headers")?;
            let body_len = response.len() - head_len;
            response.truncate(head_len + body_len / 2);
        }
    }
    client.write_all(&response).await?;
    client.shutdown().await?;
    Ok(())
}

struct Request {
    line: String,
    path: String,
    /// The request as it goes upstream, with `Connection: close`.
    bytes: Vec<u8>,
}

fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

async fn read_request(client: &mut TcpStream) -> anyhow::Result<Request> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 8192];
    let head_len = loop {
        if let Some(end) = header_end(&buf) {
            break end;
        }
        if buf.len() > 64 * 1024 {
            bail!("request headers too long");
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            bail!("client closed before sending a request");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_len])?.to_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let mut content_length = 0_usize;
    let mut out = format!("{line}\r\n");
    for header in lines.filter(|l| !l.is_empty()) {
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let name_lc = name.trim().to_ascii_lowercase();
        match name_lc.as_str() {
            "content-length" => content_length = value.trim().parse()?,
            "transfer-encoding" => bail!("chunked requests are not supported by the proxy"),
            "connection" | "keep-alive" => continue,
            _ => {}
        }
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut body = buf[head_len..].to_vec();
    while body.len() < content_length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            bail!("client closed mid-body");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(Request { line, path, bytes })
}

/// Sends one request on a fresh connection and reads the whole response
/// (the request says `Connection: close`, so the server ends it).
async fn forward(upstream: &str, request: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).await?;
    conn.write_all(request).await?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await?;
    if response.is_empty() {
        bail!("empty response from upstream");
    }
    Ok(response)
}

/// One HTTP/1.1 request on a fresh connection, straight to `base`
/// (`http://host:port`); answers the status and the body parsed as JSON
/// (`Value::Null` for an empty body).
pub async fn http_json(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let host = host_port(base)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let response = forward(host, request.as_bytes()).await?;
    let head_len = header_end(&response).context("response without headers")?;
    let head = std::str::from_utf8(&response[..head_len])?;
    let status: u16 = head.split(' ').nth(1).context("no status code")?.parse()?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let raw = &response[head_len..];
    let body = if chunked { dechunk(raw)? } else { raw.to_vec() };
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)?
    };
    Ok((status, value))
}

fn dechunk(mut raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk header")?;
        let size_text = std::str::from_utf8(&raw[..line_end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

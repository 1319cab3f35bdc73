//! `tacho-load`: a load generator that measures the relay over loopback HTTP.
//!
//! It starts a relay in-process on `127.0.0.1:0` over a fresh SQLite file or a fresh PostgreSQL
//! database (or talks to `--relay http://127.0.0.1:PORT`; any other host is refused) and runs:
//!
//! 1. **devices**: many devices of one account (or `--accounts K`) each push a small batch every
//!    `--interval-ms` for `--seconds`, while some of them hold long-polls open;
//! 2. **throughput**: a few devices push batches of `--batch` ops as fast as they can while
//!    another device of the same account long-polls and counts what it receives;
//! 3. a **baseline**: the same op rows inserted straight into a fresh database of the same kind,
//!    in the relay's own schema, in transactions of `--batch` rows.
//!
//! With `--with-connection`, the throughput scenario runs twice on fresh relays, without and with
//! a (paused) Kimai connection on the account, to price the connectors' enqueue. `--scenario
//! connector-drain` measures how fast a backlog of time entries drains to a fake Kimai, and
//! `--scenario connector-quota` what a Toggl connection sends at the free quota (see
//! [`connectors`]).
//!
//! Every loop is bounded in count and time, and the tool stops by itself. Figures are printed as
//! plain text. Temporary databases are removed at the end.

mod connectors;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

/// mimalloc instead of glibc's malloc: the relay allocates and frees many small JSON values per
/// op across threads, and glibc's arenas spent about a quarter of the push path there (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PASSWORD: &str = "correct horse battery";
/// Points per GPS chunk in both scenarios.
const POINTS_PER_CHUNK: usize = 10;
/// Chunks per trip before a device starts a new trip.
const CHUNKS_PER_TRIP: u32 = 100;
/// Long-poll wait asked of the relay, in seconds.
const LONG_POLL_S: u64 = 25;
/// Most ops asked per pull.
const PULL_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    Devices,
    Throughput,
    /// A backlog of `--entries` time entries drained to a fake Kimai (not part of `all`).
    ConnectorDrain,
    /// `--entries` time entries for a fake Toggl at the free quota, watched `--seconds`.
    ConnectorQuota,
}

/// Load generator for tacho-relay (loopback only).
#[derive(Debug, Parser)]
#[command(about = "Load generator for tacho-relay (loopback only)")]
struct Args {
    /// Storage of the in-process relay and of the baseline.
    #[arg(long, value_enum, default_value_t = DbKind::Sqlite)]
    database: DbKind,
    /// Devices in the devices scenario.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Length of each scenario's push phase, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Each device pushes once per interval in the devices scenario.
    #[arg(long, default_value_t = 10_000)]
    interval_ms: u64,
    /// Ops per push in the throughput scenario, and rows per baseline transaction.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Devices that also hold a long-poll open in the devices scenario.
    #[arg(long, default_value_t = 300)]
    long_polls: usize,
    /// Accounts the devices are spread over (each account is one space, one op log).
    #[arg(long, default_value_t = 1)]
    accounts: usize,
    /// Pushing devices in the throughput scenario (one more device pulls).
    #[arg(long, default_value_t = 4)]
    pushers: usize,
    /// Most pushes in flight at once in the devices scenario.
    #[arg(long, default_value_t = 256)]
    max_inflight: usize,
    /// Which scenarios to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Time entries in the connector-drain scenario.
    #[arg(long, default_value_t = 10_000)]
    entries: usize,
    /// Throughput scenario: run it twice on fresh relays, without and then with a mapped (paused)
    /// Kimai connection on the account, and print the ratio.
    #[arg(long)]
    with_connection: bool,
    /// Use a running relay instead of starting one (loopback addresses only).
    #[arg(long)]
    relay: Option<String>,
    /// PostgreSQL server used to create (and drop) the fresh databases (loopback only).
    #[arg(long, default_value = DEFAULT_PG_ADMIN)]
    pg_admin: String,
}

impl Args {
    fn check(&self) -> Result<()> {
        let within = |name: &str, v: u64, lo: u64, hi: u64| -> Result<()> {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                bail!("--{name} must be within {lo}..={hi}, got {v}")
            }
        };
        within("devices", self.devices as u64, 1, 20_000)?;
        within("seconds", self.seconds, 1, 600)?;
        within("interval-ms", self.interval_ms, 100, 600_000)?;
        within("batch", self.batch as u64, 1, 1000)?;
        within("long-polls", self.long_polls as u64, 0, self.devices as u64)?;
        within("accounts", self.accounts as u64, 1, self.devices as u64)?;
        within("pushers", self.pushers as u64, 1, 64)?;
        within("max-inflight", self.max_inflight as u64, 1, 4096)?;
        within("entries", self.entries as u64, 1, 100_000)?;
        let in_process = matches!(
            self.scenario,
            Scenario::ConnectorDrain | Scenario::ConnectorQuota
        ) || self.with_connection;
        if in_process && self.relay.is_some() {
            bail!("--relay cannot be used with connectors: they need the in-process relay's keys");
        }
        if self.with_connection && self.scenario == Scenario::Devices {
            bail!("--with-connection applies to the throughput scenario");
        }
        require_loopback(&self.pg_admin, "--pg-admin")?;
        if self.pg_admin.contains('?') {
            bail!("--pg-admin must not carry query parameters (they could name another host)");
        }
        if let Some(relay) = &self.relay {
            require_loopback(relay, "--relay")?;
        }
        Ok(())
    }
}

/// Refuses any URL whose host is not a loopback address.
fn require_loopback(url: &str, what: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("{what}: bad URL {url}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow!("{what}: {url} has no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{what}: {host} is not a loopback address; tacho-load only talks to 127.0.0.1");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Throwaway databases

/// Fresh databases made for this run; all removed by [`Databases::cleanup`].
struct Databases {
    kind: DbKind,
    pg_admin: String,
    sqlite_dir: Option<PathBuf>,
    made: usize,
    pg_names: Vec<String>,
}

impl Databases {
    fn new(kind: DbKind, pg_admin: String) -> Self {
        Self {
            kind,
            pg_admin,
            sqlite_dir: None,
            made: 0,
            pg_names: Vec::new(),
        }
    }

    /// The URL of a new, empty database.
    async fn fresh(&mut self, label: &str) -> Result<String> {
        self.made += 1;
        match self.kind {
            DbKind::Sqlite => {
                let dir = match &self.sqlite_dir {
                    Some(d) => d.clone(),
                    None => {
                        let d = std::env::temp_dir()
                            .join(format!("tacho-load-{}", Uuid::now_v7().simple()));
                        std::fs::create_dir_all(&d)
                            .with_context(|| format!("creating {}", d.display()))?;
                        self.sqlite_dir = Some(d.clone());
                        d
                    }
                };
                Ok(format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(format!("{label}-{}.db", self.made)).display()
                ))
            }
            DbKind::Postgres => {
                let name = format!("tacho_load_{}", Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&self.pg_admin)
                    .await
                    .with_context(|| format!("connecting to {}", self.pg_admin))?;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .context("CREATE DATABASE")?;
                conn.close().await.ok();
                self.pg_names.push(name.clone());
                let base = self
                    .pg_admin
                    .rsplit_once('/')
                    .map_or(self.pg_admin.as_str(), |(b, _)| b);
                Ok(format!("{base}/{name}"))
            }
        }
    }

    async fn cleanup(&mut self) -> Result<()> {
        if let Some(dir) = self.sqlite_dir.take() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        if !self.pg_names.is_empty() {
            let mut conn = sqlx::PgConnection::connect(&self.pg_admin).await?;
            for name in self.pg_names.drain(..) {
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .with_context(|| format!("dropping {name}"))?;
                println!("dropped database {name}");
            }
            conn.close().await.ok();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

/// A pull page, decoded only as far as the figures need. The load generator shares the CPU with
/// the relay it measures; decoding every pulled op into a `serde_json::Value` cost it about 5 % of
/// the process's CPU for nothing.
#[derive(serde::Deserialize)]
struct PullPage {
    ops: Vec<PulledOp>,
    cursor: i64,
}

/// The one field of a pulled op the figures use (its creation time, for the pull lag).
#[derive(serde::Deserialize)]
struct PulledOp {
    hlc: i64,
}

/// What one request came back with.
enum Answer {
    Status(u16, Value),
    Failed(&'static str),
}

impl Api {
    fn new(base: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(LONG_POLL_S + 15))
            .build()?;
        Ok(Self { http, base })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(classify(&e)),
        };
        let status = res.status().as_u16();
        match res.bytes().await {
            Ok(b) => decode(status, &b),
            Err(e) => Answer::Failed(classify(&e)),
        }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: String) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// Any method with a JSON body (or none).
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Answer {
        let method = match reqwest::Method::from_bytes(method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return Answer::Failed("bad method"),
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.send(req).await
    }

    /// A page, or what came back instead of one.
    async fn pull(&self, token: &str, cursor: i64, wait: u64) -> Result<PullPage, Answer> {
        let url = format!(
            "{}/v1/pull?cursor={cursor}&limit={PULL_LIMIT}&wait={wait}",
            self.base
        );
        let res = match self.http.get(url).bearer_auth(token).send().await {
            Ok(r) => r,
            Err(e) => return Err(Answer::Failed(classify(&e))),
        };
        let status = res.status().as_u16();
        let body = res
            .bytes()
            .await
            .map_err(|e| Answer::Failed(classify(&e)))?;
        match serde_json::from_slice::<PullPage>(&body) {
            Ok(page) if status == 200 => Ok(page),
            _ => Err(decode(status, &body)),
        }
    }
}

fn decode(status: u16, body: &[u8]) -> Answer {
    if body.is_empty() {
        return Answer::Status(status, Value::Null);
    }
    Answer::Status(
        status,
        serde_json::from_slice(body).unwrap_or(Value::String("<non-JSON body>".into())),
    )
}

fn classify(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    }
}

/// A label for an answer other than success, e.g. `409 seq_gap` or `timeout`.
fn error_label(answer: &Answer) -> String {
    match answer {
        Answer::Status(s, v) => match v.get("code").and_then(Value::as_str) {
            Some(code) => format!("{s} {code}"),
            None => s.to_string(),
        },
        Answer::Failed(what) => (*what).to_owned(),
    }
}

#[derive(Debug, Clone)]
struct Session {
    device: Uuid,
    token: String,
}

fn session_of(answer: Answer, what: &str) -> Result<Session> {
    match answer {
        Answer::Status(201, v) => {
            let device = v["device_id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| anyhow!("{what}: no device_id in {v}"))?;
            let token = v["access_token"]
                .as_str()
                .ok_or_else(|| anyhow!("{what}: no access_token in {v}"))?
                .to_owned();
            Ok(Session { device, token })
        }
        other => bail!("{what} failed: {}", error_label(&other)),
    }
}

/// Signs up one account and mints `devices - 1` more device sessions for it.
async fn make_account(api: &Api, devices: usize, label: &str) -> Result<Vec<Session>> {
    let first = Uuid::now_v7();
    let email = format!("load-{label}-{}@example.com", first.simple());
    let body =
        json!({"email": email, "password": PASSWORD, "device_id": first, "device_name": "load 0"});
    let owner = session_of(
        api.post("/v1/auth/signup", None, body.to_string()).await,
        "signup",
    )?;
    let mut sessions = vec![owner.clone()];
    let gate = Arc::new(Semaphore::new(16));
    let mut set = JoinSet::new();
    for i in 1..devices {
        let (api, token, gate) = (api.clone(), owner.token.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = json!({"device_id": Uuid::now_v7(), "device_name": format!("load {i}")});
            session_of(
                api.post("/v1/devices/session", Some(&token), body.to_string())
                    .await,
                "device session",
            )
        });
    }
    while let Some(joined) = set.join_next().await {
        sessions.push(joined??);
    }
    Ok(sessions)
}

/// Signs up `accounts` accounts and spreads `devices` over them, interleaved so that any prefix
/// of the list covers the accounts evenly.
async fn make_devices(
    api: &Api,
    devices: usize,
    accounts: usize,
    label: &str,
) -> Result<Vec<Session>> {
    let mut per_account = Vec::with_capacity(accounts);
    for a in 0..accounts {
        let n = devices / accounts + usize::from(a < devices % accounts);
        per_account.push(make_account(api, n, &format!("{label}{a}")).await?);
    }
    let mut out = Vec::with_capacity(devices);
    let mut iters: Vec<_> = per_account.into_iter().map(Vec::into_iter).collect();
    while out.len() < devices {
        for it in &mut iters {
            if let Some(s) = it.next() {
                out.push(s);
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Ops

/// An op as sent, with the columns the relay derives from it (for the baseline).
#[derive(Debug, Clone)]
struct OpRow {
    op_id: String,
    device: String,
    device_seq: i64,
    hlc: i64,
    entity: &'static str,
    entity_id: String,
    body: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Makes one device's ops: GPS chunks of its current trip plus occasional trip/timer edits.
struct DeviceGen {
    device: Uuid,
    /// Last `device_seq` handed out.
    seq: u64,
    last_hlc: u64,
    trip: Uuid,
    chunks_in_trip: u32,
    point_seq: u64,
    timer: Uuid,
    edits: u64,
    /// Where each trip starts; a trip covers 0.1 degree at most, so points stay in range.
    home: (f64, f64),
    lat: f64,
    lon: f64,
}

impl DeviceGen {
    fn new(device: Uuid, salt: usize) -> Self {
        let f = (salt % 1000) as f64 / 1000.0;
        Self {
            device,
            seq: 0,
            last_hlc: 0,
            trip: Uuid::now_v7(),
            chunks_in_trip: 0,
            point_seq: 0,
            timer: Uuid::now_v7(),
            edits: 0,
            home: (48.0 + f, 11.0 + f),
            lat: 48.0 + f,
            lon: 11.0 + f,
        }
    }

    fn hlc(&mut self) -> u64 {
        let wall = u64::try_from(now_ms()).unwrap_or(0) << 16;
        self.last_hlc = wall.max(self.last_hlc + 1);
        self.last_hlc
    }

    fn finish(&mut self, entity: &'static str, entity_id: Uuid, mut op: Value) -> OpRow {
        self.seq += 1;
        let op_id = Uuid::now_v7();
        let hlc = self.hlc();
        op["op_id"] = json!(op_id);
        op["device"] = json!(self.device);
        op["device_seq"] = json!(self.seq);
        op["hlc"] = json!(hlc);
        op["entity"] = json!(entity);
        op["entity_id"] = json!(entity_id);
        op["schema"] = json!(1);
        OpRow {
            op_id: op_id.to_string(),
            device: self.device.to_string(),
            device_seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            hlc: i64::try_from(hlc).unwrap_or(i64::MAX),
            entity,
            entity_id: entity_id.to_string(),
            body: op.to_string(),
        }
    }

    /// An upsert of `fields` on `entity` `entity_id`.
    fn upsert(&mut self, entity: &'static str, entity_id: Uuid, fields: Value) -> OpRow {
        self.finish(
            entity,
            entity_id,
            json!({"kind": "upsert", "fields": fields}),
        )
    }

    fn point_chunk(&mut self) -> OpRow {
        if self.chunks_in_trip >= CHUNKS_PER_TRIP {
            self.trip = Uuid::now_v7();
            self.chunks_in_trip = 0;
            self.point_seq = 0;
            (self.lat, self.lon) = self.home;
        }
        self.chunks_in_trip += 1;
        let at = now_ms();
        let items: Vec<Value> = (0..POINTS_PER_CHUNK)
            .map(|i| {
                self.point_seq += 1;
                self.lat += 0.0001;
                self.lon += 0.00013;
                json!([
                    self.point_seq,
                    at - 1000 * (POINTS_PER_CHUNK - i) as i64,
                    self.lat,
                    self.lon,
                    6.5,
                    13.9,
                    87.0,
                    null,
                    1
                ])
            })
            .collect();
        let trip = self.trip;
        self.finish(
            "trip_points",
            trip,
            json!({"kind": "append", "items": items}),
        )
    }

    fn edit(&mut self) -> OpRow {
        self.edits += 1;
        if self.edits % 2 == 1 {
            let trip = self.trip;
            let fields =
                json!({"purpose": "business", "note": format!("customer visit {}", self.edits)});
            self.finish("trip", trip, json!({"kind": "upsert", "fields": fields}))
        } else {
            let timer = self.timer;
            let fields = json!({"note": format!("site work {}", self.edits), "ended_at": now_ms()});
            self.finish(
                "time_entry",
                timer,
                json!({"kind": "upsert", "fields": fields}),
            )
        }
    }
}

fn push_body(ops: &[OpRow]) -> String {
    let size: usize = ops.iter().map(|o| o.body.len() + 1).sum();
    let mut body = String::with_capacity(size + 16);
    body.push_str("{\"ops\":[");
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&op.body);
    }
    body.push_str("]}");
    body
}

/// After a failed push: resume at the relay's expected sequence when it said so; after a refused
/// op that the relay recorded (it answers how many ops before it were `accepted`), after that op;
/// else assume nothing was stored and reuse the batch's sequence numbers.
fn resync(generator: &mut DeviceGen, answer: &Answer, first_seq_of_batch: u64) {
    let field = |name: &str| match answer {
        Answer::Status(_, v) => v.get(name).and_then(Value::as_u64),
        Answer::Failed(_) => None,
    };
    generator.seq = match (field("expected_seq"), field("accepted")) {
        (Some(expected), _) => expected.saturating_sub(1),
        (None, Some(accepted)) => first_seq_of_batch + accepted,
        (None, None) => first_seq_of_batch.saturating_sub(1),
    };
}

// ---------------------------------------------------------------------------------------------
// Figures

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Dist {
    n: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

fn dist(mut v: Vec<f64>) -> Dist {
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    Dist {
        n: v.len(),
        p50: percentile(&v, 50.0),
        p95: percentile(&v, 95.0),
        p99: percentile(&v, 99.0),
        max: v.last().copied().unwrap_or(f64::NAN),
        mean,
    }
}

impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms, mean {:.1} ms (n = {})",
            self.p50, self.p95, self.p99, self.max, self.mean, self.n
        )
    }
}

fn print_counts(title: &str, counts: &BTreeMap<String, u64>) {
    if counts.is_empty() {
        println!("  {title}: none");
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!("  {title}: {}", parts.join(", "));
    }
}

fn print_examples(examples: &BTreeMap<String, String>) {
    for (label, body) in examples {
        let short: String = body.chars().take(300).collect();
        println!("    first {label}: {short}");
    }
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`, assuming the usual
/// 100 clock ticks per second. `None` where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct CpuMeter(Option<f64>, Instant);

impl CpuMeter {
    fn start() -> Self {
        Self(cpu_seconds(), Instant::now())
    }

    fn report(&self) -> String {
        let wall = self.1.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        match (self.0, cpu_seconds()) {
            (Some(a), Some(b)) => format!(
                "process CPU {:.1} s over {wall:.1} s wall = {:.0}% of {cores} cores (relay and load generator together)",
                b - a,
                100.0 * (b - a) / (wall * cores as f64)
            ),
            _ => "process CPU: unavailable".to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: devices

#[derive(Default)]
struct PushOutcome {
    latencies_ms: Vec<f64>,
    errors: BTreeMap<String, u64>,
    /// The first answer seen for each kind of error.
    examples: BTreeMap<String, String>,
    pushes_ok: u64,
    ops_accepted: u64,
    /// Accepted ops, one group per push (for the baseline).
    accepted: Vec<Vec<OpRow>>,
    last_head: i64,
}

impl PushOutcome {
    fn absorb(&mut self, other: Self) {
        self.latencies_ms.extend(other.latencies_ms);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.examples {
            self.examples.entry(k).or_insert(v);
        }
        self.pushes_ok += other.pushes_ok;
        self.ops_accepted += other.ops_accepted;
        self.accepted.extend(other.accepted);
        self.last_head = self.last_head.max(other.last_head);
    }

    /// Pushes `ops` once and records the answer.
    async fn push(
        &mut self,
        api: &Api,
        session: &Session,
        generator: &mut DeviceGen,
        ops: Vec<OpRow>,
        since: Instant,
    ) {
        let first_seq = u64::try_from(ops.first().map_or(1, |o| o.device_seq)).unwrap_or(1);
        let answer = api
            .post("/v1/push", Some(&session.token), push_body(&ops))
            .await;
        self.latencies_ms
            .push(since.elapsed().as_secs_f64() * 1000.0);
        match &answer {
            Answer::Status(200, v) => {
                self.pushes_ok += 1;
                let accepted = v["accepted"].as_u64().unwrap_or(0);
                self.ops_accepted += accepted;
                self.last_head = self.last_head.max(v["head"].as_i64().unwrap_or(0));
                if accepted == ops.len() as u64 {
                    self.accepted.push(ops);
                }
            }
            other => {
                let label = error_label(other);
                // A refused op keeps the ops before it.
                let kept = match other {
                    Answer::Status(_, v) => v.get("accepted").and_then(Value::as_u64),
                    Answer::Failed(_) => None,
                };
                if let Some(kept) = kept.filter(|k| *k > 0) {
                    self.ops_accepted += kept;
                    let kept = usize::try_from(kept).unwrap_or(0).min(ops.len());
                    self.accepted.push(ops[..kept].to_vec());
                }
                if let Answer::Status(_, v) = other {
                    self.examples
                        .entry(label.clone())
                        .or_insert_with(|| v.to_string());
                }
                *self.errors.entry(label).or_default() += 1;
                resync(generator, other, first_seq);
            }
        }
    }
}

#[derive(Default)]
struct PollOutcome {
    pulls: u64,
    ops: u64,
    errors: BTreeMap<String, u64>,
}

/// Pulls in a loop with long-polls until `stop` turns true.
async fn long_poll_loop(
    api: Api,
    session: Session,
    mut stop: watch::Receiver<bool>,
) -> PollOutcome {
    let mut out = PollOutcome::default();
    let mut cursor = 0_i64;
    // Bounded: at most this many requests, whatever happens.
    for _ in 0..1_000_000 {
        if *stop.borrow_and_update() {
            break;
        }
        let answer = tokio::select! {
            a = api.pull(&session.token, cursor, LONG_POLL_S) => a,
            _ = stop.changed() => break,
        };
        match &answer {
            Ok(page) => {
                out.pulls += 1;
                out.ops += page.ops.len() as u64;
                cursor = page.cursor;
            }
            Err(other) => {
                *out.errors.entry(error_label(other)).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    out
}

struct DevicesRun {
    outcome: PushOutcome,
    elapsed: Duration,
}

async fn devices_scenario(api: &Api, args: &Args) -> Result<DevicesRun> {
    println!(
        "\n== scenario 1: devices ({} devices over {} account(s), one push each per {} ms for {} s, {} long-polls)",
        args.devices, args.accounts, args.interval_ms, args.seconds, args.long_polls
    );
    let setup = Instant::now();
    let sessions = make_devices(api, args.devices, args.accounts, "dev").await?;
    println!(
        "  setup: {} sign-up(s) + {} device sessions in {:.1} s",
        args.accounts,
        sessions.len() - args.accounts,
        setup.elapsed().as_secs_f64()
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut polls = JoinSet::new();
    for s in sessions.iter().take(args.long_polls) {
        polls.spawn(long_poll_loop(api.clone(), s.clone(), stop_rx.clone()));
    }

    let cpu = CpuMeter::start();
    let gate = Arc::new(Semaphore::new(args.max_inflight));
    let t0 = tokio::time::Instant::now() + Duration::from_millis(500);
    let span = Duration::from_secs(args.seconds);
    let interval = Duration::from_millis(args.interval_ms);
    let n = sessions.len();
    let mut pushers = JoinSet::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let (api, gate) = (api.clone(), gate.clone());
        let offset = interval.mul_f64(i as f64 / n as f64);
        pushers.spawn(async move {
            let mut out = PushOutcome::default();
            let mut generator = DeviceGen::new(session.device, i);
            for k in 0_u32.. {
                let due = offset + interval * k;
                if due >= span {
                    break;
                }
                let at = t0 + due;
                tokio::time::sleep_until(at).await;
                let mut ops = vec![generator.point_chunk()];
                if (i + k as usize).is_multiple_of(4) {
                    ops.push(generator.edit());
                }
                let Ok(_permit) = gate.acquire().await else {
                    break;
                };
                out.push(&api, &session, &mut generator, ops, at.into_std())
                    .await;
            }
            out
        });
    }
    let mut outcome = PushOutcome::default();
    while let Some(joined) = pushers.join_next().await {
        outcome.absorb(joined?);
    }
    let elapsed = tokio::time::Instant::now().saturating_duration_since(t0);
    let cpu_line = cpu.report();
    stop_tx.send_replace(true);
    let mut poll = PollOutcome::default();
    while let Some(joined) = polls.join_next().await {
        let p = joined?;
        poll.pulls += p.pulls;
        poll.ops += p.ops;
        for (k, v) in p.errors {
            *poll.errors.entry(k).or_default() += v;
        }
    }

    let pushes = outcome.latencies_ms.len();
    let errors: u64 = outcome.errors.values().sum();
    let secs = elapsed.as_secs_f64();
    println!("  push phase: {secs:.1} s");
    println!(
        "  pushes: {pushes} ({:.1}/s), ok {}, errors {errors}",
        pushes as f64 / secs,
        outcome.pushes_ok
    );
    println!(
        "  ops accepted: {} ({:.1} ops/s)",
        outcome.ops_accepted,
        outcome.ops_accepted as f64 / secs
    );
    print_counts("push errors by status", &outcome.errors);
    print_examples(&outcome.examples);
    let d = dist(outcome.latencies_ms.clone());
    println!("  push latency (from scheduled send): {d}");
    println!(
        "  long-polls: {} pulls answered, {} ops delivered ({:.1} pulls/s)",
        poll.pulls,
        poll.ops,
        poll.pulls as f64 / secs
    );
    print_counts("pull errors by status", &poll.errors);
    println!("  {cpu_line}");
    let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
    println!(
        "  target zero errors: {} ({errors} push + {} pull errors)",
        verdict(errors == 0 && poll.errors.is_empty()),
        poll.errors.values().sum::<u64>()
    );
    println!(
        "  target p99 < 50 ms: {} (p99 {:.1} ms)",
        verdict(d.p99 < 50.0),
        d.p99
    );
    Ok(DevicesRun { outcome, elapsed })
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: throughput

struct ThroughputRun {
    outcome: PushOutcome,
    push_elapsed: Duration,
    ops_pulled: u64,
    end_to_end: Duration,
}

/// The ops of one throughput batch: GPS chunks with an edit every 20th op.
fn throughput_batch(generator: &mut DeviceGen, batch: usize) -> Vec<OpRow> {
    (0..batch)
        .map(|j| {
            if j % 20 == 19 {
                generator.edit()
            } else {
                generator.point_chunk()
            }
        })
        .collect()
}

async fn throughput_scenario(
    api: &Api,
    args: &Args,
    prep: connectors::Prep<'_>,
) -> Result<ThroughputRun> {
    println!(
        "\n== scenario 2: throughput ({} pushing devices, batches of {} ops, {} s, one more device pulls limit={PULL_LIMIT} wait={LONG_POLL_S}){}",
        args.pushers,
        args.batch,
        args.seconds,
        prep.label()
    );
    let mut sessions = make_account(api, args.pushers + 1, "tp").await?;
    let puller = sessions.pop().ok_or_else(|| anyhow!("no puller session"))?;
    // Ops the puller pushed itself before the run (a project, for the connection's mapping).
    let setup_ops = prep.apply(api, &puller).await?;

    let (done_tx, mut done_rx) = watch::channel::<Option<i64>>(None);
    let t0 = Instant::now();
    let pull_api = api.clone();
    let seconds = args.seconds;
    let pull_task = tokio::spawn(async move {
        let mut cursor = 0_i64;
        let (mut ops, mut pulls) = (0_u64, 0_u64);
        let mut lags = Vec::new();
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut last_op_at = t0;
        let hard_stop = t0 + Duration::from_secs(seconds + 120);
        for _ in 0..10_000_000 {
            if let Some(head) = *done_rx.borrow_and_update()
                && cursor >= head
            {
                break;
            }
            if Instant::now() >= hard_stop {
                errors.insert("gave up waiting".into(), 1);
                break;
            }
            let answer = tokio::select! {
                a = pull_api.pull(&puller.token, cursor, LONG_POLL_S) => a,
                changed = done_rx.changed() => {
                    if changed.is_err() { break }
                    continue;
                }
            };
            match &answer {
                Ok(page) => {
                    pulls += 1;
                    let now = now_ms();
                    for op in &page.ops {
                        let made_ms = op.hlc >> 16;
                        lags.push((now - made_ms) as f64);
                    }
                    if !page.ops.is_empty() {
                        last_op_at = Instant::now();
                    }
                    ops += page.ops.len() as u64;
                    cursor = page.cursor;
                }
                Err(other) => {
                    *errors.entry(error_label(other)).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        (ops, pulls, lags, errors, last_op_at)
    });

    let cpu = CpuMeter::start();
    let deadline = t0 + Duration::from_secs(args.seconds);
    let mut pushers = JoinSet::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let api = api.clone();
        let batch = args.batch;
        pushers.spawn(async move {
            let mut out = PushOutcome::default();
            let mut generator = DeviceGen::new(session.device, i * 7);
            // Bounded by time and by count.
            for _ in 0..1_000_000 {
                if Instant::now() >= deadline {
                    break;
                }
                let ops = throughput_batch(&mut generator, batch);
                let started = Instant::now();
                out.push(&api, &session, &mut generator, ops, started).await;
            }
            out
        });
    }
    let mut outcome = PushOutcome::default();
    while let Some(joined) = pushers.join_next().await {
        outcome.absorb(joined?);
    }
    let push_end = Instant::now();
    let push_secs = push_end.duration_since(t0).as_secs_f64();
    done_tx.send_replace(Some(outcome.last_head));
    let (ops_pulled, pulls, lags, pull_errors, last_op_at) = pull_task.await?;
    let cpu_line = cpu.report();
    let end_to_end = last_op_at.duration_since(t0);
    let e2e_secs = end_to_end.as_secs_f64();

    println!(
        "  pushes: {} ok of {} ({:.1}/s), ops accepted {} in {push_secs:.1} s = {:.0} ops/s pushed",
        outcome.pushes_ok,
        outcome.latencies_ms.len(),
        outcome.latencies_ms.len() as f64 / push_secs,
        outcome.ops_accepted,
        outcome.ops_accepted as f64 / push_secs
    );
    print_counts("push errors by status", &outcome.errors);
    print_examples(&outcome.examples);
    println!("  push latency: {}", dist(outcome.latencies_ms.clone()));
    println!(
        "  pulled on the other device: {ops_pulled} ops in {pulls} pulls; last op arrived {e2e_secs:.1} s after the start"
    );
    print_counts("pull errors by status", &pull_errors);
    println!(
        "  end-to-end: {:.0} ops/s (pushed on one device -> pulled on another)",
        ops_pulled as f64 / e2e_secs
    );
    println!("  pull lag (op made -> pulled): {}", dist(lags));
    println!(
        "  catch-up after the last push: {:.2} s",
        last_op_at.saturating_duration_since(push_end).as_secs_f64()
    );
    if ops_pulled != outcome.ops_accepted + setup_ops {
        println!(
            "  NOTE: pulled {ops_pulled} ops but {} were accepted (+ {setup_ops} set-up ops)",
            outcome.ops_accepted
        );
    }
    println!("  {cpu_line}");
    let rate = ops_pulled as f64 / e2e_secs;
    println!(
        "  target >= 20000 ops/s end to end: {} ({rate:.0} ops/s)",
        if rate >= 20_000.0 { "MET" } else { "MISSED" }
    );
    Ok(ThroughputRun {
        outcome,
        push_elapsed: push_end.duration_since(t0),
        ops_pulled,
        end_to_end,
    })
}

// ---------------------------------------------------------------------------------------------
// Baseline

struct Baseline {
    rows: usize,
    transactions: usize,
    elapsed: Duration,
}

impl Baseline {
    fn ops_per_s(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }

    fn ms_per_tx(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1000.0 / self.transactions.max(1) as f64
    }
}

/// Inserts `groups` (one transaction each) into the relay's `ops` table of a fresh database,
/// with the relay's own schema, connection settings and `INSERT` statement, and times it.
async fn baseline(dbs: &mut Databases, groups: &[&[OpRow]]) -> Result<Baseline> {
    let url = dbs.fresh("baseline").await?;
    let db = tacho_relay::Db::connect(&url).await?;
    let space = Uuid::now_v7().to_string();
    let account = Uuid::now_v7().to_string();
    let t = now_ms();
    sqlx::query("INSERT INTO spaces (id, head, created_at) VALUES ($1, 0, $2)")
        .bind(&space)
        .bind(t)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, space_id, created_at) VALUES ($1, $2, 'x', $3, $4)",
    )
    .bind(&account)
    .bind(format!("{account}@example.com"))
    .bind(&space)
    .bind(t)
    .execute(&db.pool)
    .await?;
    let devices: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.iter().map(|o| o.device.as_str()))
        .collect();
    for device in devices {
        sqlx::query(
            "INSERT INTO devices (id, account_id, space_id, name, last_seq, created_at) VALUES ($1, $2, $3, 'b', 0, $4)",
        )
        .bind(device)
        .bind(&account)
        .bind(&space)
        .bind(t)
        .execute(&db.pool)
        .await?;
    }
    let started = Instant::now();
    let mut seq = 0_i64;
    let mut rows = 0;
    for group in groups {
        let mut tx = db.begin_write().await?;
        for op in *group {
            seq += 1;
            sqlx::query(
                "INSERT INTO ops (space_id, seq, op_id, device_id, device_seq, hlc, entity, entity_id, body, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&space)
            .bind(seq)
            .bind(&op.op_id)
            .bind(&op.device)
            .bind(op.device_seq)
            .bind(op.hlc)
            .bind(op.entity)
            .bind(&op.entity_id)
            .bind(&op.body)
            .bind(t)
            .execute(&mut *tx)
            .await?;
            rows += 1;
        }
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    db.pool.close().await;
    Ok(Baseline {
        rows,
        transactions: groups.len(),
        elapsed,
    })
}

fn print_baseline(label: &str, b: &Baseline) {
    println!(
        "  baseline ({label}): {} rows in {} transactions, {:.2} s = {:.0} rows/s, {:.2} ms per transaction",
        b.rows,
        b.transactions,
        b.elapsed.as_secs_f64(),
        b.ops_per_s(),
        b.ms_per_tx()
    );
}

// ---------------------------------------------------------------------------------------------
// Main

struct Relay {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    state: tacho_relay::AppState,
}

async fn start_relay(url: &str) -> Result<(String, Relay)> {
    start_relay_with(url, |_| Ok(())).await
}

/// [`start_relay`] with `configure` applied to the configuration last.
async fn start_relay_with(
    url: &str,
    configure: impl FnOnce(&mut tacho_relay::Config) -> Result<()>,
) -> Result<(String, Relay)> {
    // Rate and connection limits off: the load generator is one account with a thousand devices
    // on one address, far beyond a person's traffic; it measures throughput, not the limiter.
    let mut config = tacho_relay::Config::new(url);
    config.rate_limits = tacho_relay::limits::RateLimits::unlimited();
    config.max_connections_per_ip = 0;
    configure(&mut config)?;
    let state = tacho_relay::AppState::new(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(tacho_relay::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Ok((base, Relay { stop, task, state }))
}

/// Stops an in-process relay and closes its pool.
async fn stop_relay(relay: Relay) -> Result<()> {
    let _ = relay.stop.send(());
    match tokio::time::timeout(Duration::from_secs(10), relay.task).await {
        Ok(joined) => joined??,
        Err(_) => println!("relay did not stop within 10 s"),
    }
    relay.state.db().pool.close().await;
    Ok(())
}

async fn run(args: &Args, dbs: &mut Databases) -> Result<()> {
    if args.scenario == Scenario::ConnectorDrain {
        return connectors::drain_scenario(args, dbs).await;
    }
    if args.scenario == Scenario::ConnectorQuota {
        return connectors::quota_scenario(args, dbs).await;
    }
    if args.scenario == Scenario::Throughput && args.with_connection {
        return connectors::throughput_comparison(args, dbs).await;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "tacho-load: database {:?}, {cores} cores, devices {}, seconds {}, interval {} ms, batch {}",
        args.database, args.devices, args.seconds, args.interval_ms, args.batch
    );
    let (base, relay) = match &args.relay {
        Some(base) => (base.trim_end_matches('/').to_owned(), None),
        None => {
            let url = dbs.fresh("relay").await?;
            let (base, relay) = start_relay(&url).await?;
            (base, Some(relay))
        }
    };
    println!(
        "relay: {base} ({})",
        if relay.is_some() {
            "in-process, fresh database"
        } else {
            "external; baseline uses --database"
        }
    );
    let api = Api::new(base)?;
    let limit = Duration::from_secs(args.seconds + 180);

    let devices = if args.scenario == Scenario::Throughput {
        None
    } else {
        Some(
            tokio::time::timeout(limit, devices_scenario(&api, args))
                .await
                .map_err(|_| anyhow!("devices scenario overran {limit:?}"))??,
        )
    };
    let throughput = if args.scenario == Scenario::Devices || args.with_connection {
        None
    } else {
        Some(
            tokio::time::timeout(
                limit,
                throughput_scenario(&api, args, connectors::Prep::Plain),
            )
            .await
            .map_err(|_| anyhow!("throughput scenario overran {limit:?}"))??,
        )
    };

    if let Some(relay) = relay {
        stop_relay(relay).await?;
    }
    if args.with_connection {
        connectors::throughput_comparison(args, dbs).await?;
    }
    if devices.is_none() && throughput.is_none() {
        return Ok(());
    }

    println!(
        "\n== scenario 3: baseline (same rows, same JSON bodies, straight into the relay's ops table in a fresh {:?} database)",
        args.database
    );
    if let Some(run) = &devices {
        let secs = run.elapsed.as_secs_f64();
        let flat: Vec<OpRow> = run.outcome.accepted.iter().flatten().cloned().collect();
        let chunked: Vec<&[OpRow]> = flat.chunks(args.batch).collect();
        let per_push: Vec<&[OpRow]> = run.outcome.accepted.iter().map(Vec::as_slice).collect();
        let b = baseline(dbs, &chunked).await?;
        print_baseline(&format!("devices rows, {} per transaction", args.batch), &b);
        let p = baseline(dbs, &per_push).await?;
        print_baseline("devices rows, one transaction per push batch", &p);
        let relay_rate = run.outcome.ops_accepted as f64 / secs;
        let d = dist(run.outcome.latencies_ms.clone());
        println!(
            "  devices: relay {relay_rate:.0} ops/s = {:.4} x baseline ({:.0} rows/s); offered load bounds the relay rate",
            relay_rate / b.ops_per_s(),
            b.ops_per_s()
        );
        println!(
            "  devices: relay push p50 {:.2} ms = {:.1} x / p99 {:.2} ms = {:.1} x the baseline's {:.2} ms per push-sized transaction",
            d.p50,
            d.p50 / p.ms_per_tx(),
            d.p99,
            d.p99 / p.ms_per_tx(),
            p.ms_per_tx()
        );
    }
    if let Some(run) = &throughput {
        let flat: Vec<OpRow> = run.outcome.accepted.iter().flatten().cloned().collect();
        let chunked: Vec<&[OpRow]> = flat.chunks(args.batch).collect();
        let b = baseline(dbs, &chunked).await?;
        print_baseline(
            &format!("throughput rows, {} per transaction", args.batch),
            &b,
        );
        let e2e = run.ops_pulled as f64 / run.end_to_end.as_secs_f64();
        println!(
            "  throughput: relay end-to-end {e2e:.0} ops/s = {:.3} x baseline ({:.0} rows/s); target 20000 ops/s = {:.2} x baseline",
            e2e / b.ops_per_s(),
            b.ops_per_s(),
            20_000.0 / b.ops_per_s()
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    args.check()?;
    let mut dbs = Databases::new(args.database, args.pg_admin.clone());
    let started = Instant::now();
    let result = run(&args, &mut dbs).await;
    let cleaned = dbs.cleanup().await;
    println!("\ntotal wall time {:.1} s", started.elapsed().as_secs_f64());
    result?;
    cleaned
}

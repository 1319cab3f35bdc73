//! The connectors' benchmarks (issue 13, "Performance"):
//!
//! - **connector-drain**: one account with a Kimai connection (to the strict fake of
//!   `tacho-fakes` on 127.0.0.1, no rate limit) mapping one project. The connection is paused,
//!   `--entries` time entries are pushed as ops, then it is resumed, and the time from the resume
//!   until the fake holds every entry is the drain. A second account without a connection pushes
//!   the same number of entries first, for the push-alone rate of the same run.
//! - **throughput `--with-connection`**: the throughput scenario twice, each on a fresh relay and
//!   database: without a connection, then with a mapped Kimai connection that is *paused*, so the
//!   figure is the enqueue cost in the push transaction alone (a drain running alongside would
//!   share the 2 cores with the pushers and price the HTTP client, not the enqueue). Both runs
//!   push the same set-up project op, so their op streams are alike.
//! - **connector-quota**: `--entries` entries for a Toggl connection at the free plan's 30
//!   requests per hour (the fake enforces it over the whole run, set-up calls included); counts
//!   what reaches the fake in `--seconds` after the resume.
//!
//! The relay runs in-process with a short connector tick and job poll ([`TICK`], [`POLL`]): with
//! the defaults (10 s, 1 s) the drain would measure the waits, not the work.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};
use tacho_fakes::FakeKimai;
use tacho_fakes::kimai::{ACTIVITY_ID, PROJECT_ID, TOKEN};
use tacho_relay::jobs::{Backoff, RunnerConfig};
use tacho_relay::secrets::MasterKeys;
use uuid::Uuid;

use super::{
    Answer, Api, Args, Databases, DeviceGen, OpRow, Session, ThroughputRun, error_label,
    make_account, push_body, start_relay_with, stop_relay, throughput_scenario,
};

/// The connector scheduler's tick in these benchmarks (default 10 s).
const TICK: Duration = Duration::from_millis(10);
/// The job runner's wait between looks at an idle queue (default 1 s).
const POLL: Duration = Duration::from_millis(10);
/// Longest the drain may take before the scenario fails.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);
/// The drain fails when the fake gains nothing for this long.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// What the throughput scenario sets up on its account before pushing.
pub(super) enum Prep<'a> {
    /// Nothing (the plain scenario).
    Plain,
    /// A project, no connection (the comparison's first run).
    Project,
    /// A project mapped by a paused Kimai connection to this fake.
    Connection(&'a FakeKimai),
}

impl Prep<'_> {
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Project => ": WITHOUT a connection",
            Self::Connection(_) => ": WITH a mapped, paused Kimai connection",
        }
    }

    /// Sets the account up through `session`; the number of ops it pushed.
    pub(super) async fn apply(&self, api: &Api, session: &Session) -> Result<u64> {
        if matches!(self, Self::Plain) {
            return Ok(0);
        }
        let mut generator = DeviceGen::new(session.device, 999);
        let project = add_project(api, session, &mut generator).await?;
        if let Self::Connection(fake) = self {
            let id = connect_kimai(api, &session.token, fake, project).await?;
            expect_2xx(
                api.call(
                    "POST",
                    &format!("/v1/connections/{id}/pause"),
                    &session.token,
                    None,
                )
                .await,
                "pause",
            )?;
        }
        Ok(1)
    }
}

/// The relay configuration of these benchmarks: a fresh master key (connections seal their
/// token) and short connector waits.
fn configure(config: &mut tacho_relay::Config) -> Result<()> {
    config.master_keys = Some(
        MasterKeys::parse(&MasterKeys::generate_line(1)).map_err(|e| anyhow!("master key: {e}"))?,
    );
    config.connectors.tick = TICK;
    config.connectors.retry_base = Duration::from_millis(100);
    config.connectors.http_timeout = Duration::from_secs(5);
    config.connectors.pull_every = Duration::from_secs(3600);
    Ok(())
}

fn runner_config() -> RunnerConfig {
    RunnerConfig {
        poll: POLL,
        lease: Duration::from_secs(DRAIN_LIMIT.as_secs() + 60),
        grace: Duration::from_secs(2),
        backoff: Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
        },
        ..RunnerConfig::default()
    }
}

fn expect_2xx(answer: Answer, what: &str) -> Result<Value> {
    match answer {
        Answer::Status(s, v) if (200..300).contains(&s) => Ok(v),
        Answer::Status(_, ref v) => bail!("{what} failed: {} {v}", error_label(&answer)),
        other => bail!("{what} failed: {}", error_label(&other)),
    }
}

/// Pushes `ops` as one batch; every op must be accepted.
async fn push_all(api: &Api, session: &Session, ops: &[OpRow]) -> Result<()> {
    let v = expect_2xx(
        api.post("/v1/push", Some(&session.token), push_body(ops))
            .await,
        "push",
    )?;
    let accepted = v["accepted"].as_u64().unwrap_or(0);
    if accepted != ops.len() as u64 {
        bail!("push accepted {accepted} of {} ops: {v}", ops.len());
    }
    Ok(())
}

async fn add_project(api: &Api, session: &Session, generator: &mut DeviceGen) -> Result<Uuid> {
    let project = Uuid::now_v7();
    let op = generator.upsert(
        "project",
        project,
        json!({"name": "Client", "client": null, "billable": true,
               "rounding": {"mode": "none"}, "archived": false}),
    );
    push_all(api, session, &[op]).await?;
    Ok(project)
}

/// Adds a Kimai connection to `fake` mapping `project`; its id.
async fn connect_kimai(api: &Api, token: &str, fake: &FakeKimai, project: Uuid) -> Result<String> {
    let body = json!({
        "provider": "kimai", "label": "Load Kimai", "base_url": fake.base_url(),
        "settings": {"time_zone": "Europe/Berlin"},
        "secrets": {"api_token": TOKEN},
    });
    let conn = expect_2xx(
        api.call("POST", "/v1/connections", token, Some(&body))
            .await,
        "adding the Kimai connection",
    )?;
    let id = conn["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no connection id in {conn}"))?
        .to_owned();
    let target = json!({"target": format!("project={PROJECT_ID},activity={ACTIVITY_ID}")});
    expect_2xx(
        api.call(
            "PUT",
            &format!("/v1/connections/{id}/mappings/{project}"),
            token,
            Some(&target),
        )
        .await,
        "mapping the project",
    )?;
    Ok(id)
}

/// `n` finished time entries on `project`, two minutes apart in the past, described
/// `load {label} {i}`.
fn entry_ops(generator: &mut DeviceGen, project: Uuid, n: usize, label: &str) -> Vec<OpRow> {
    let minutes = i64::try_from(2 * n + 60).unwrap_or(i64::MAX / 2);
    let base = chrono::Utc::now() - chrono::Duration::minutes(minutes);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (0..n)
        .map(|i| {
            let start = base + chrono::Duration::minutes(2 * i64::try_from(i).unwrap_or(0));
            let stop = start + chrono::Duration::minutes(1);
            generator.upsert(
                "time_entry",
                Uuid::now_v7(),
                json!({"project_id": project, "description": format!("load {label} {i}"),
                       "start": fmt(start), "stop": fmt(stop), "tags": ["load"],
                       "billable": true, "source": "manual", "trip_id": null}),
            )
        })
        .collect()
}

/// Pushes `ops` in batches of `batch`, one after another; the time the pushes took.
async fn timed_push(api: &Api, session: &Session, ops: &[OpRow], batch: usize) -> Result<Duration> {
    let started = Instant::now();
    for chunk in ops.chunks(batch) {
        push_all(api, session, chunk).await?;
    }
    Ok(started.elapsed())
}

/// `--scenario connector-drain`.
pub(super) async fn drain_scenario(args: &Args, dbs: &mut Databases) -> Result<()> {
    println!(
        "== connector drain: {} time entries to a fake Kimai (no rate limit), pushed in batches of {}; \
         connector tick {} ms, job poll {} ms (defaults 10 s, 1 s)",
        args.entries,
        args.batch,
        TICK.as_millis(),
        POLL.as_millis()
    );
    let url = dbs.fresh("drain").await?;
    let (base, relay) = start_relay_with(&url, configure).await?;
    println!(
        "relay: {base} (in-process, fresh {:?} database)",
        args.database
    );
    let runner = relay.state.job_runner(runner_config()).spawn();
    let result = drain(args, Api::new(base)?).await;
    runner.shutdown().await;
    stop_relay(relay).await?;
    result
}

async fn drain(args: &Args, api: Api) -> Result<()> {
    let n = args.entries;
    let fake = FakeKimai::start()
        .await
        .context("starting the fake Kimai")?;

    // The same run's push-alone rate: an account without connections.
    let plain = first_session(make_account(&api, 1, "drain-plain").await?)?;
    let mut generator = DeviceGen::new(plain.device, 1);
    let project = add_project(&api, &plain, &mut generator).await?;
    let ops = entry_ops(&mut generator, project, n, "plain");
    let alone = timed_push(&api, &plain, &ops, args.batch).await?;

    // The account with a paused connection: its backlog builds up, then drains on resume.
    let person = first_session(make_account(&api, 1, "drain-kimai").await?)?;
    let mut generator = DeviceGen::new(person.device, 2);
    let project = add_project(&api, &person, &mut generator).await?;
    let id = connect_kimai(&api, &person.token, &fake, project).await?;
    let path = format!("/v1/connections/{id}");
    expect_2xx(
        api.call("POST", &format!("{path}/pause"), &person.token, None)
            .await,
        "pause",
    )?;
    let ops = entry_ops(&mut generator, project, n, "kimai");
    let with = timed_push(&api, &person, &ops, args.batch).await?;
    let held_before = fake.count(|_| true);
    let requests_before = fake.request_count();

    expect_2xx(
        api.call("POST", &format!("{path}/resume"), &person.token, None)
            .await,
        "resume",
    )?;
    let resumed = Instant::now();
    let (mut held, mut last_gain, mut last_held) = (0, resumed, 0);
    // Bounded by DRAIN_LIMIT at 20 ms a look.
    for _ in 0..(DRAIN_LIMIT.as_millis() / 20) {
        held = fake.count(|_| true);
        if held >= n {
            break;
        }
        if held > last_held {
            (last_held, last_gain) = (held, Instant::now());
        }
        if last_gain.elapsed() > STALL_LIMIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = resumed.elapsed();
    let requests = fake.request_count() - requests_before;
    let status = expect_2xx(api.call("GET", &path, &person.token, None).await, "status")?;

    let sheets = fake.timesheets();
    let distinct: HashSet<&str> = sheets
        .iter()
        .filter_map(|s| s.description.as_deref())
        .collect();
    let secs = drained.as_secs_f64();
    let rate = held as f64 / secs;
    let push_rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "  push alone (no connection): {n} entries in {:.2} s = {:.0} ops/s",
        alone.as_secs_f64(),
        push_rate(alone)
    );
    println!(
        "  push with the paused connection: {n} entries in {:.2} s = {:.0} ops/s = {:.3} x push alone",
        with.as_secs_f64(),
        push_rate(with),
        push_rate(with) / push_rate(alone)
    );
    println!(
        "  drain: {held} of {n} entries in {secs:.2} s after the resume = {rate:.1} entries/s \
         ({held_before} held before the resume; {requests} requests to the fake = {:.2} per entry)",
        requests as f64 / held.max(1) as f64
    );
    println!(
        "  drain rate = {:.4} x push-alone rate; connection after the drain: state {}, counts {}",
        rate / push_rate(alone),
        status["state"],
        status["counts"]
    );
    println!(
        "  target >= 200 entries/s: {} ({rate:.1} entries/s)",
        if rate >= 200.0 { "MET" } else { "MISSED" }
    );
    if held_before != 0 {
        bail!("the paused connection sent {held_before} entries before the resume");
    }
    if held != n || distinct.len() != n || sheets.len() != n {
        bail!(
            "the fake holds {} timesheets ({} distinct descriptions) after {secs:.1} s; {n} expected",
            sheets.len(),
            distinct.len()
        );
    }
    Ok(())
}

fn first_session(sessions: Vec<Session>) -> Result<Session> {
    sessions
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no session"))
}

/// `--with-connection`: the throughput scenario without, then with, a paused mapped connection,
/// each on a fresh relay over a fresh database.
pub(super) async fn throughput_comparison(args: &Args, dbs: &mut Databases) -> Result<()> {
    let fake = FakeKimai::start()
        .await
        .context("starting the fake Kimai")?;
    let limit = Duration::from_secs(args.seconds + 180);
    let mut runs: Vec<(ThroughputRun, i64)> = Vec::new();
    for prep in [Prep::Project, Prep::Connection(&fake)] {
        let url = dbs.fresh("tp").await?;
        let (base, relay) = start_relay_with(&url, configure).await?;
        let api = Api::new(base)?;
        let run = tokio::time::timeout(limit, throughput_scenario(&api, args, prep))
            .await
            .map_err(|_| anyhow!("throughput scenario overran {limit:?}"));
        let queued = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM connector_work")
            .fetch_one(&relay.state.db().pool)
            .await;
        stop_relay(relay).await?;
        runs.push((run??, queued?));
    }
    let [(without, q0), (with, q1)] =
        <[_; 2]>::try_from(runs).map_err(|_| anyhow!("the comparison needs two runs"))?;
    let pushed = |r: &ThroughputRun| r.outcome.ops_accepted as f64 / r.push_elapsed.as_secs_f64();
    let e2e = |r: &ThroughputRun| r.ops_pulled as f64 / r.end_to_end.as_secs_f64();
    println!("\n== connectors: throughput without and with a mapped (paused) Kimai connection");
    println!("  connector_work rows after the run: without {q0}, with {q1}");
    println!(
        "  pushed: {:.0} ops/s without, {:.0} ops/s with = {:.3} x",
        pushed(&without),
        pushed(&with),
        pushed(&with) / pushed(&without)
    );
    let ratio = e2e(&with) / e2e(&without);
    println!(
        "  end to end: {:.0} ops/s without, {:.0} ops/s with = {ratio:.3} x",
        e2e(&without),
        e2e(&with)
    );
    println!(
        "  target within 5 %: {} ({:+.1} %)",
        if ratio >= 0.95 { "MET" } else { "MISSED" },
        (ratio - 1.0) * 100.0
    );
    if q0 != 0 || q1 == 0 {
        bail!(
            "expected connector work only in the run with a connection (without {q0}, with {q1})"
        );
    }
    Ok(())
}

/// Toggl project the quota scenario maps to.
const TOGGL_PROJECT: u64 = 900_001;
/// Requests per hour of Toggl's free plan, which the fake enforces in the quota scenario.
const TOGGL_FREE_QUOTA: u32 = 30;

/// `--scenario connector-quota`: `--entries` entries queued for a Toggl connection at the free
/// plan's quota; what it sends in `--seconds` after the resume, with the fake enforcing 30 per
/// hour (a sliding hour, so an overrun shows as a 429 and in the count).
pub(super) async fn quota_scenario(args: &Args, dbs: &mut Databases) -> Result<()> {
    println!(
        "== connector quota: {} time entries for a fake Toggl at {TOGGL_FREE_QUOTA} requests/hour, watched {} s; \
         connector tick {} ms, job poll {} ms (defaults 10 s, 1 s)",
        args.entries,
        args.seconds,
        TICK.as_millis(),
        POLL.as_millis()
    );
    let url = dbs.fresh("quota").await?;
    let (base, relay) = start_relay_with(&url, configure).await?;
    println!(
        "relay: {base} (in-process, fresh {:?} database)",
        args.database
    );
    let runner = relay.state.job_runner(runner_config()).spawn();
    let result = quota(args, Api::new(base)?).await;
    runner.shutdown().await;
    stop_relay(relay).await?;
    result
}

async fn quota(args: &Args, api: Api) -> Result<()> {
    use tacho_fakes::toggl::{TOKEN as TOGGL_TOKEN, WORKSPACE_ID};
    let n = args.entries;
    let fake = tacho_fakes::FakeToggl::start()
        .await
        .context("starting the fake Toggl")?;
    fake.add_project(WORKSPACE_ID, TOGGL_PROJECT, "Client work", None);
    // The whole run is one hour for the fake: set-up calls count against the quota too.
    fake.set_quota(TOGGL_FREE_QUOTA, Duration::from_secs(3600));

    let person = first_session(make_account(&api, 1, "quota").await?)?;
    let mut generator = DeviceGen::new(person.device, 3);
    let project = add_project(&api, &person, &mut generator).await?;
    let body = json!({
        "provider": "toggl", "label": "Load Toggl", "base_url": fake.base_url(),
        "settings": {"workspace_id": WORKSPACE_ID},
        "secrets": {"api_token": TOGGL_TOKEN},
    });
    let conn = expect_2xx(
        api.call("POST", "/v1/connections", &person.token, Some(&body))
            .await,
        "adding the Toggl connection",
    )?;
    let id = conn["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no connection id in {conn}"))?
        .to_owned();
    let path = format!("/v1/connections/{id}");
    expect_2xx(
        api.call(
            "PUT",
            &format!("{path}/mappings/{project}"),
            &person.token,
            Some(&json!({"target": format!("project={TOGGL_PROJECT}")})),
        )
        .await,
        "mapping the project",
    )?;
    expect_2xx(
        api.call("POST", &format!("{path}/pause"), &person.token, None)
            .await,
        "pause",
    )?;
    let ops = entry_ops(&mut generator, project, n, "toggl");
    timed_push(&api, &person, &ops, args.batch).await?;
    let setup = fake.request_count();
    expect_2xx(
        api.call("POST", &format!("{path}/resume"), &person.token, None)
            .await,
        "resume",
    )?;
    let resumed = Instant::now();
    let watch = Duration::from_secs(args.seconds);
    // Bounded: the watch window at 100 ms a look; the highest count seen is kept.
    for _ in 0..(watch.as_millis() / 100) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if resumed.elapsed() >= watch {
            break;
        }
    }
    let total = fake.request_count();
    let sent = total - setup;
    let created = fake.count(|_| true);
    let status = expect_2xx(api.call("GET", &path, &person.token, None).await, "status")?;
    println!(
        "  set-up (connection check, lookups): {setup} requests; after the resume, in {:.1} s: {sent} requests, \
         {created} of {n} entries created",
        resumed.elapsed().as_secs_f64()
    );
    println!(
        "  connection after the watch: state {}, quota {}, counts {}",
        status["state"], status["quota"], status["counts"]
    );
    println!(
        "  target <= {TOGGL_FREE_QUOTA} requests per hour (set-up included): {} ({total} requests)",
        if total <= TOGGL_FREE_QUOTA as usize {
            "MET"
        } else {
            "MISSED"
        }
    );
    if created == 0 {
        bail!("no entry reached the fake Toggl");
    }
    Ok(())
}

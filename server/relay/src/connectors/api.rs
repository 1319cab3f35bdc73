//! The connectors' service behind the HTTP handlers: mappings, pause/resume, run now, status,
//! the audit log, lookups and the conflict inbox. Every call is scoped to the caller's account:
//! another account's connection or conflict is "not found".

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;
use tacho_integrations::timesheets::{Lookup, LookupItem, Target};
use tacho_model::merge::EntityState;
use tacho_model::op::EntityKind;
use uuid::Uuid;

use super::Ctx;
use super::push::{may_send, wake_push};
use super::store;
use crate::connections::registry::Connection;
use crate::db::{now_ms, rfc3339};
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::sync::connector_work::{enqueue, request_pull, wake};

/// Lookups are cached this long.
const LOOKUP_TTL_MS: i64 = 10 * 60 * 1000;
/// Most audit rows one read returns.
pub const MAX_LOG: i64 = 1000;

/// Body of `PUT /v1/connections/{id}/mappings/{project_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingBody {
    /// Toggl `project=ID[,task=ID]`, Tempo `issue=ID`, Kimai `project=ID,activity=ID`, Zammad
    /// `ticket=ID[,type=ID]`.
    pub target: String,
}

/// A project's mapping on a connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MappingView {
    /// The Tacho project.
    pub project_id: String,
    /// Where its hours go.
    #[schema(value_type = Object)]
    pub target: Target,
    /// RFC 3339.
    pub updated_at: String,
}

/// Answer of `GET /v1/connections/{id}/mappings`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MappingList {
    /// The connection's mappings.
    pub mappings: Vec<MappingView>,
}

/// Answer of `GET /v1/connections/{id}/lookups/{what}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupList {
    /// The service's items.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<LookupItem>,
    /// When they were fetched (RFC 3339); up to 10 minutes old unless refreshed.
    pub fetched_at: String,
}

/// Answer of `GET /v1/connections/{id}/status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorStatus {
    /// `active`, `paused`, `disabled`, or `quota` (Toggl's quota is spent until `quota_until`).
    pub state: String,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// RFC 3339.
    pub quota_until: Option<String>,
    /// Entries waiting to be pushed.
    pub pending: i64,
    /// Entries being pushed now (one request at a time per connection: 0 or 1).
    pub running: i64,
    /// Open conflicts.
    pub conflicts: i64,
    /// Entries whose push failed after its retries.
    pub errors: i64,
    /// The latest failure's message, if any entry is in error or waiting for a retry.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_push_at: Option<String>,
    /// RFC 3339.
    pub last_pull_at: Option<String>,
}

/// One audit row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    /// RFC 3339.
    pub at: String,
    /// verify, create, update, delete, find, get, changes, lookup, pull.
    pub operation: String,
    /// The Tacho entry.
    pub entry_id: Option<String>,
    /// The remote record.
    pub remote_id: Option<String>,
    /// `ok` or the failure's class (`uncertain`, `refused_422`, …).
    pub status: String,
    /// Milliseconds.
    pub latency_ms: i64,
    /// The service's words.
    pub message: Option<String>,
}

/// Answer of `GET /v1/connections/{id}/log`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditLog {
    /// Newest first.
    pub entries: Vec<AuditRow>,
}

/// A conflict in the inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    /// Conflict id.
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// Its label.
    pub connection_name: Option<String>,
    /// toggl, tempo, kimai, zammad.
    pub service: String,
    /// refused, both_changed, gone, auth.
    pub kind: String,
    /// The Tacho entry.
    pub entry_id: Option<String>,
    /// The remote record.
    pub remote_id: Option<String>,
    /// What Tacho holds.
    #[schema(value_type = Option<Object>)]
    pub local: Option<Value>,
    /// What the service holds.
    #[schema(value_type = Option<Object>)]
    pub remote: Option<Value>,
    /// The service's message or the reason.
    pub message: String,
    /// RFC 3339.
    pub raised_at: String,
    /// open | resolved.
    pub state: String,
    /// keep_local, keep_remote, dismiss.
    pub resolution: Option<String>,
}

/// Answer of `GET /v1/conflicts`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    /// Open conflicts, oldest first.
    pub conflicts: Vec<ConflictView>,
}

/// Body of `POST /v1/conflicts/{id}/resolve`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// `keep_local` (push Tacho's values over the service's), `keep_remote` (take the
    /// service's values into Tacho), `dismiss` (close, change nothing).
    pub action: String,
}

fn not_found() -> ServiceError {
    ServiceError::new(Kind::NotFound, "not_found", "no such connection")
}

/// The connectors service.
#[derive(Clone)]
pub struct Connectors {
    ctx: Ctx,
}

impl Connectors {
    /// The service over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        Self { ctx }
    }

    /// The jobs' context.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    async fn owned(&self, account: Uuid, id: &str) -> ServiceResult<Connection> {
        let conn = self
            .ctx
            .connections
            .registry()
            .get(account, id, None)
            .await
            .map_err(ServiceError::from)?;
        Ok(conn)
    }

    /// Maps `project` to `body.target` on connection `id`, and queues the project's entries.
    pub async fn put_mapping(
        &self,
        account: Uuid,
        id: &str,
        project: &str,
        body: MappingBody,
    ) -> ServiceResult<MappingView> {
        let conn = self.owned(account, id).await?;
        let target = Target::parse_spec(conn.provider.service(), &body.target)
            .map_err(|e| super::invalid("invalid_target", e.to_string()))?;
        let space = self.ctx.space(account).await?;
        let unknown = || {
            super::invalid(
                "unknown_project",
                format!("{project:?} is not a project of yours (deleted ones can't be mapped)"),
            )
        };
        let project_id = Uuid::parse_str(project).map_err(|_| unknown())?;
        let live = self
            .state(space, EntityKind::Project, &project_id.to_string())
            .await?
            .is_some_and(|s| !s.is_deleted());
        if !live {
            return Err(unknown());
        }
        let now = now_ms();
        let text = serde_json::to_string(&target).map_err(ServiceError::internal)?;
        let entries = self.entries_of(space, &project_id.to_string()).await?;
        let mut tx = self.ctx.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO connector_mappings (connection_id, project_id, target, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, project_id) \
             DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at",
        )
        .bind(conn.id.to_string())
        .bind(project_id.to_string())
        .bind(&text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        enqueue(&mut tx, self.ctx.db.backend, &conn.id.to_string(), &entries).await?;
        tx.commit().await?;
        Ok(MappingView {
            project_id: project_id.to_string(),
            target,
            updated_at: rfc3339(now),
        })
    }

    /// Connection `id`'s mappings.
    pub async fn mappings(&self, account: Uuid, id: &str) -> ServiceResult<MappingList> {
        let conn = self.owned(account, id).await?;
        let rows = sqlx::query(
            "SELECT project_id, target, updated_at FROM connector_mappings \
             WHERE connection_id = $1 ORDER BY project_id",
        )
        .bind(conn.id.to_string())
        .fetch_all(&self.ctx.db.pool)
        .await?;
        let mut mappings = Vec::with_capacity(rows.len());
        for r in rows {
            let target: String = r.try_get("target")?;
            mappings.push(MappingView {
                project_id: r.try_get("project_id")?,
                target: serde_json::from_str(&target).map_err(ServiceError::internal)?,
                updated_at: rfc3339(r.try_get("updated_at")?),
            });
        }
        Ok(MappingList { mappings })
    }

    /// Removes `project`'s mapping; its entries already pushed are deleted remotely.
    pub async fn delete_mapping(
        &self,
        account: Uuid,
        id: &str,
        project: &str,
    ) -> ServiceResult<()> {
        let conn = self.owned(account, id).await?;
        let space = self.ctx.space(account).await?;
        let entries = self.entries_of(space, project).await?;
        let mut tx = self.ctx.db.begin_write().await?;
        let gone = sqlx::query(
            "DELETE FROM connector_mappings WHERE connection_id = $1 AND project_id = $2",
        )
        .bind(conn.id.to_string())
        .bind(project)
        .execute(&mut *tx)
        .await?;
        if gone.rows_affected() == 0 {
            return Err(ServiceError::new(
                Kind::NotFound,
                "not_found",
                "this project is not mapped on this connection",
            ));
        }
        enqueue(&mut tx, self.ctx.db.backend, &conn.id.to_string(), &entries).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ids of the time entries (live or deleted) of `project` in `space`. Read on a mapping
    /// change only, which is rare: a scan of the space's entries.
    async fn entries_of(&self, space: Uuid, project: &str) -> ServiceResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT entity_id, state FROM entity_state WHERE space_id = $1 AND entity = $2",
        )
        .bind(space.to_string())
        .bind(EntityKind::TimeEntry.as_str())
        .fetch_all(&self.ctx.db.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let raw: String = r.try_get("state")?;
            let Ok(state) = serde_json::from_str::<EntityState>(&raw) else {
                continue;
            };
            if state.fields.get("project_id").and_then(Value::as_str) == Some(project) {
                out.push(r.try_get("entity_id")?);
            }
        }
        Ok(out)
    }

    async fn state(
        &self,
        space: Uuid,
        kind: EntityKind,
        id: &str,
    ) -> ServiceResult<Option<EntityState>> {
        let row = sqlx::query(
            "SELECT state FROM entity_state WHERE space_id = $1 AND entity = $2 AND entity_id = $3",
        )
        .bind(space.to_string())
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&self.ctx.db.pool)
        .await?;
        row.map(|r| -> ServiceResult<EntityState> {
            let raw: String = r.try_get("state")?;
            serde_json::from_str(&raw).map_err(ServiceError::internal)
        })
        .transpose()
    }

    /// Pauses (`paused`) or resumes (`active`, clearing a disabled state and a spent quota)
    /// connection `id`.
    pub async fn set_paused(
        &self,
        account: Uuid,
        id: &str,
        paused: bool,
    ) -> ServiceResult<Connection> {
        let conn = self.owned(account, id).await?;
        let sql = if paused {
            "UPDATE connections SET state = 'paused', state_reason = NULL WHERE id = $1"
        } else {
            "UPDATE connections SET state = 'active', state_reason = NULL, quota_until = NULL \
             WHERE id = $1"
        };
        sqlx::query(sql)
            .bind(conn.id.to_string())
            .execute(&self.ctx.db.pool)
            .await?;
        if !paused {
            wake_push(&self.ctx, &conn.id.to_string()).await?;
        }
        self.owned(account, id).await
    }

    /// Asks for a pull of connection `id` (a verified webhook delivery for it arrived).
    pub async fn request_pull(&self, id: &str) -> ServiceResult<()> {
        let mut c = self.ctx.db.pool.acquire().await?;
        request_pull(&mut c, id).await?;
        Ok(())
    }

    /// Enqueues a push and a pull of connection `id` now.
    pub async fn run(&self, account: Uuid, id: &str) -> ServiceResult<()> {
        let conn = self.owned(account, id).await?;
        let cid = conn.id.to_string();
        let mut c = self.ctx.db.pool.acquire().await?;
        // Entries in error get another round of retries.
        sqlx::query(
            "UPDATE connector_work SET state = 'queued', attempts = 0, due_at = $1 \
             WHERE connection_id = $2 AND state = 'error'",
        )
        .bind(now_ms())
        .bind(&cid)
        .execute(&mut *c)
        .await?;
        wake(
            &mut c,
            crate::sync::connector_work::PUSH_KIND,
            &cid,
            now_ms(),
        )
        .await?;
        request_pull(&mut c, &cid).await?;
        Ok(())
    }

    /// Connection `id`'s status.
    pub async fn status(&self, account: Uuid, id: &str) -> ServiceResult<ConnectorStatus> {
        let conn = self.owned(account, id).await?;
        let cid = conn.id.to_string();
        let running = i64::from(
            sqlx::query(
            "SELECT id FROM jobs WHERE dedupe_key = $1 AND state = 'running' AND lease_until > $2",
        )
        .bind(crate::sync::connector_work::push_key(&cid))
        .bind(now_ms())
            .fetch_optional(&self.ctx.db.pool)
            .await?
            .is_some(),
        );
        let last_error: Option<String> = sqlx::query(
            "SELECT last_error FROM connector_work WHERE connection_id = $1 \
             AND last_error IS NOT NULL ORDER BY changed_at DESC LIMIT 1",
        )
        .bind(&cid)
        .fetch_optional(&self.ctx.db.pool)
        .await?
        .map(|r| r.try_get("last_error"))
        .transpose()?;
        let now = now_ms();
        let state = if conn.state == "active" && !may_send(&conn, now) {
            "quota".to_owned()
        } else {
            conn.state.clone()
        };
        Ok(ConnectorStatus {
            state,
            disabled_reason: conn.state_reason.clone(),
            quota_until: conn.quota_until.filter(|t| *t > now).map(rfc3339),
            pending: conn.counts.pending,
            running,
            conflicts: conn.counts.conflicts,
            errors: conn.counts.errors,
            last_error,
            last_push_at: conn.last_push_at.map(rfc3339),
            last_pull_at: conn.last_pull_at.map(rfc3339),
        })
    }

    /// Connection `id`'s audit log, newest first.
    pub async fn log(
        &self,
        account: Uuid,
        id: &str,
        limit: Option<i64>,
    ) -> ServiceResult<AuditLog> {
        let conn = self.owned(account, id).await?;
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_LOG).contains(&limit) {
            return Err(super::invalid(
                "invalid_limit",
                format!("limit must be 1 to {MAX_LOG}"),
            ));
        }
        let rows = sqlx::query(
            "SELECT at, operation, entry_id, remote_id, status, latency_ms, message \
             FROM connector_audit WHERE connection_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(conn.id.to_string())
        .bind(limit)
        .fetch_all(&self.ctx.db.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| -> Result<AuditRow, sqlx::Error> {
                Ok(AuditRow {
                    at: rfc3339(r.try_get("at")?),
                    operation: r.try_get("operation")?,
                    entry_id: r.try_get("entry_id")?,
                    remote_id: r.try_get("remote_id")?,
                    status: r.try_get("status")?,
                    latency_ms: r.try_get("latency_ms")?,
                    message: r.try_get("message")?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AuditLog { entries })
    }

    /// A picker list of connection `id`'s service, cached 10 minutes (`refresh`: fetched now).
    pub async fn lookup(
        &self,
        account: Uuid,
        id: &str,
        what: &str,
        refresh: bool,
    ) -> ServiceResult<LookupList> {
        let conn = self.owned(account, id).await?;
        let cid = conn.id.to_string();
        let lookup: Lookup = serde_json::from_value(Value::from(what)).map_err(|_| {
            super::invalid(
                "invalid_lookup",
                "lookups are projects, tasks, customers, activities or types",
            )
        })?;
        let now = now_ms();
        if !refresh {
            let cached = sqlx::query(
                "SELECT items, fetched_at FROM connector_lookups WHERE connection_id = $1 AND what = $2",
            )
            .bind(&cid)
            .bind(what)
            .fetch_optional(&self.ctx.db.pool)
            .await?;
            if let Some(row) = cached {
                let fetched_at: i64 = row.try_get("fetched_at")?;
                if fetched_at + LOOKUP_TTL_MS > now {
                    let items: String = row.try_get("items")?;
                    return Ok(LookupList {
                        items: serde_json::from_str(&items).map_err(ServiceError::internal)?,
                        fetched_at: rfc3339(fetched_at),
                    });
                }
            }
        }
        let client = self.ctx.client(&conn).await.map_err(ServiceError::from)?;
        let started = std::time::Instant::now();
        let result = client.lookup(lookup).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let status = match &result {
            Ok(_) => "ok".to_owned(),
            Err(f) => super::push::failure_class(f),
        };
        let message = result.as_ref().err().map(ToString::to_string);
        let mut tx = self.ctx.db.begin_write().await?;
        store::audit(
            &mut tx,
            &cid,
            &store::Audit {
                operation: "lookup",
                entry: None,
                remote_id: None,
                status: &status,
                latency_ms,
                request: true,
                message: message.as_deref(),
            },
        )
        .await?;
        let items = match result {
            Ok(items) => items,
            Err(f) => {
                tx.commit().await?;
                return Err(ServiceError::new(
                    Kind::Upstream,
                    "lookup_failed",
                    format!("{} answered: {f}", conn.provider.title()),
                ));
            }
        };
        sqlx::query(
            "INSERT INTO connector_lookups (connection_id, what, items, fetched_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, what) \
             DO UPDATE SET items = excluded.items, fetched_at = excluded.fetched_at",
        )
        .bind(&cid)
        .bind(what)
        .bind(serde_json::to_string(&items).map_err(ServiceError::internal)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LookupList {
            items,
            fetched_at: rfc3339(now),
        })
    }

    /// The account's open conflicts, oldest first.
    pub async fn conflicts(&self, account: Uuid) -> ServiceResult<ConflictList> {
        let rows = sqlx::query(
            "SELECT f.id, f.connection_id, c.label, c.provider, f.kind, f.entry_id, f.remote_id, \
             f.local_values, f.remote_values, f.message, f.raised_at, f.state, f.resolution \
             FROM connector_conflicts f JOIN connections c ON c.id = f.connection_id \
             WHERE f.account_id = $1 AND f.state = 'open' ORDER BY f.raised_at, f.id",
        )
        .bind(account.to_string())
        .fetch_all(&self.ctx.db.pool)
        .await?;
        let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        let conflicts = rows
            .into_iter()
            .map(|r| -> Result<ConflictView, sqlx::Error> {
                Ok(ConflictView {
                    id: r.try_get("id")?,
                    connection_id: r.try_get("connection_id")?,
                    connection_name: r.try_get("label")?,
                    service: r.try_get("provider")?,
                    kind: r.try_get("kind")?,
                    entry_id: r.try_get("entry_id")?,
                    remote_id: r.try_get("remote_id")?,
                    local: parse(r.try_get("local_values")?),
                    remote: parse(r.try_get("remote_values")?),
                    message: r.try_get("message")?,
                    raised_at: rfc3339(r.try_get("raised_at")?),
                    state: r.try_get("state")?,
                    resolution: r.try_get("resolution")?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ConflictList { conflicts })
    }

    /// Resolves conflict `id`: `keep_local` pushes Tacho's values again, `dismiss` closes it.
    /// `keep_remote` takes the service's values into Tacho.
    pub async fn resolve(&self, account: Uuid, id: &str, body: ResolveBody) -> ServiceResult<()> {
        let action = body.action.as_str();
        if !matches!(action, "keep_local" | "keep_remote" | "dismiss") {
            return Err(super::invalid(
                "invalid_action",
                "action must be keep_local, keep_remote or dismiss",
            ));
        }
        let row = sqlx::query(
            "SELECT connection_id, entry_id, kind, state FROM connector_conflicts \
             WHERE id = $1 AND account_id = $2",
        )
        .bind(id)
        .bind(account.to_string())
        .fetch_optional(&self.ctx.db.pool)
        .await?
        .ok_or_else(|| ServiceError::new(Kind::NotFound, "not_found", "no such conflict"))?;
        let state: String = row.try_get("state")?;
        if state != "open" {
            return Err(ServiceError::new(
                Kind::Conflict,
                "already_resolved",
                "this conflict was resolved before",
            ));
        }
        let connection: String = row.try_get("connection_id")?;
        let entry: Option<String> = row.try_get("entry_id")?;
        let kind: String = row.try_get("kind")?;
        let conn = self
            .ctx
            .connection(&connection)
            .await?
            .ok_or_else(not_found)?;
        if let (Some(entry), "keep_remote") = (&entry, action) {
            self.keep_remote(&conn, entry, &kind).await?;
        }
        let mut tx = self.ctx.db.begin_write().await?;
        sqlx::query(
            "UPDATE connector_conflicts SET state = 'resolved', resolution = $1, resolved_at = $2 \
             WHERE id = $3 AND state = 'open'",
        )
        .bind(action)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let (Some(entry), "keep_local") = (&entry, action) {
            // Forget what was last written so the worker writes Tacho's values; a record the
            // service deleted is created again.
            let forget_remote = kind == "gone";
            sqlx::query(
                "UPDATE connector_links SET pushed_hash = NULL, state = 'pending', message = NULL, \
                 remote_id = CASE WHEN $1 = 1 THEN NULL ELSE remote_id END \
                 WHERE connection_id = $2 AND entry_id = $3",
            )
            .bind(i64::from(forget_remote))
            .bind(&connection)
            .bind(entry)
            .execute(&mut *tx)
            .await?;
            enqueue(
                &mut tx,
                self.ctx.db.backend,
                &connection,
                std::slice::from_ref(entry),
            )
            .await?;
        }
        tx.commit().await?;
        super::publish::conflict(&self.ctx, &conn, id).await;
        Ok(())
    }

    /// Takes the service's side of a conflict into Tacho: its values (an op of the connection's
    /// device), or its deletion.
    async fn keep_remote(&self, conn: &Connection, entry: &str, kind: &str) -> ServiceResult<()> {
        let cid = conn.id.to_string();
        let space = self.ctx.space(conn.account).await?;
        let mut c = self.ctx.db.pool.acquire().await?;
        let mut link = store::link(&mut c, &cid, entry).await?.unwrap_or_default();
        drop(c);
        let job = |e: crate::jobs::JobError| {
            ServiceError::new(Kind::Upstream, "resolve_failed", e.to_string())
        };
        let remote = match (&link.remote_id, &link.remote_target, kind) {
            (Some(remote_id), Some(target), k) if k != "gone" => {
                let client = self.ctx.client(conn).await.map_err(ServiceError::from)?;
                client.get(remote_id, target).await.map_err(|f| {
                    ServiceError::new(
                        Kind::Upstream,
                        "resolve_failed",
                        format!("{} answered: {f}", conn.provider.title()),
                    )
                })?
            }
            _ => None,
        };
        match remote {
            Some(remote) => {
                super::pull::take_remote(&self.ctx, conn, space, entry, &mut link, &remote)
                    .await
                    .map_err(job)?;
            }
            None if kind != "gone" => {
                return Err(ServiceError::new(
                    Kind::Conflict,
                    "remote_missing",
                    format!(
                        "{} holds no record of this entry; use keep_local or dismiss",
                        conn.provider.title()
                    ),
                ));
            }
            None => {
                // Gone remotely: so it goes in Tacho.
                let entry_id = Uuid::parse_str(entry).map_err(ServiceError::internal)?;
                super::publish::write_op(
                    &self.ctx,
                    conn,
                    EntityKind::TimeEntry,
                    entry_id,
                    tacho_model::op::OpKind::Delete,
                )
                .await?;
                link.remote_id = None;
                link.remote_hash = None;
                link.pushed_hash = None;
                link.state = "synced".into();
                if link.origin.is_empty() {
                    link.origin = "local".into();
                }
                let mut tx = self.ctx.db.begin_write().await?;
                store::put_link(&mut tx, &cid, entry, &link, None).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

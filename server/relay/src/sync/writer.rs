//! A server-side device writing ops into a space. Hook trips and the timesheet connectors (one
//! device per connection: pulled entries, conflicts, statuses) write through it. Such a device is an ordinary device of the account (listed,
//! gap-free `device_seq`, its own hybrid clock), so its ops reach every replica through the
//! same push path, validation and merge rules as a phone's.
//!
//! Op ids are derived from the account, a caller's key (e.g. the hook event) and the op's
//! position, so a replayed event after a crash between push and bookkeeping is a duplicate in
//! the log rather than a second op.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row as _;
use tacho_model::hlc::Hlc;
use tacho_model::id::{DeviceId, OpId};
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use tacho_model::wire::IncomingOp;
use uuid::Uuid;

use super::{PushResult, SyncService};
use crate::accounts::devices::bind_device;
use crate::accounts::tokens::{Claims, Subject};
use crate::db::{Db, WriteTx, now_ms};
use crate::error::{ServiceError, ServiceResult};

/// What a server-side device does for an account; one device per role and account (per
/// connection for connectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Writes the trips of automation hooks (Shortcuts, Tasker).
    Automation,
    /// Writes what a timesheet connection brings back (pulled entries, conflicts, statuses).
    Connector {
        /// The connection.
        connection: Uuid,
        /// Its label, for the device's name (`connector <label>`).
        label: String,
    },
}

impl Role {
    /// The device's name in the account's device list.
    pub fn device_name(&self) -> String {
        match self {
            Self::Automation => "automation".to_owned(),
            Self::Connector { label, .. } => {
                format!("connector {}", label.chars().take(80).collect::<String>())
            }
        }
    }
}

/// A server-side device with its clock as stored: the next op continues both.
#[derive(Clone)]
pub struct ServerDevice {
    sync: SyncService,
    role: Role,
    account: Uuid,
    space: Uuid,
    device: Uuid,
    last_seq: i64,
    last_hlc: i64,
}

impl ServerDevice {
    /// The account's device for `role`, made and bound to the space on first use (two instances
    /// racing both end up with the one stored).
    pub async fn open(
        sync: &SyncService,
        role: Role,
        account: Uuid,
        space: Uuid,
    ) -> ServiceResult<Self> {
        let db = &sync.db;
        let (device, last_hlc) = match find(db, &role, account).await? {
            Some(found) => found,
            None => {
                create(db, &role, account, space).await?;
                find(db, &role, account)
                    .await?
                    .ok_or_else(|| ServiceError::internal("server-side device vanished"))?
            }
        };
        let last_seq: i64 = sqlx::query("SELECT last_seq FROM devices WHERE id = $1")
            .bind(device.to_string())
            .fetch_one(&db.pool)
            .await?
            .try_get("last_seq")?;
        Ok(Self {
            sync: sync.clone(),
            role,
            account,
            space,
            device,
            last_seq,
            last_hlc,
        })
    }

    /// The device's id.
    pub fn id(&self) -> Uuid {
        self.device
    }

    /// A new batch of ops continuing this device's sequence and clock; `key` names what the
    /// batch is for, stably across retries.
    pub fn batch(&self, key: &str) -> OpBatch {
        let now_hlc = u64::try_from(now_ms()).unwrap_or(0) << 16;
        OpBatch {
            account: self.account,
            device: self.device,
            key: key.to_owned(),
            seq: u64::try_from(self.last_seq).unwrap_or(0) + 1,
            hlc: now_hlc.max(u64::try_from(self.last_hlc).unwrap_or(0) + 1),
            ops: Vec::new(),
        }
    }

    /// Pushes a batch through the ordinary push path. A `seq_gap` error means another writer of
    /// this device came first: open the device again and rebuild the batch.
    pub async fn push(&self, batch: &OpBatch) -> ServiceResult<PushResult> {
        let claims = Claims {
            account: self.account,
            space: self.space,
            device: self.device,
            exp_ms: now_ms() + 60_000,
            iat_ms: 0,
        };
        self.sync.push(&claims, &batch.ops).await
    }

    /// Records the clock a pushed batch reached, in the caller's transaction (with its own
    /// bookkeeping), so the next batch continues after it.
    pub async fn save_clock(&self, tx: &mut WriteTx, batch: &OpBatch) -> ServiceResult<()> {
        match &self.role {
            Role::Automation => {
                sqlx::query(
                    "UPDATE automation_devices SET last_hlc = $1 WHERE account_id = $2 AND last_hlc < $1",
                )
                .bind(i64::try_from(batch.hlc).unwrap_or(i64::MAX))
                .bind(self.account.to_string())
                .execute(&mut **tx)
                .await?;
            }
            Role::Connector { connection, .. } => {
                sqlx::query(
                    "UPDATE connector_devices SET last_hlc = $1 WHERE connection_id = $2 AND last_hlc < $1",
                )
                .bind(i64::try_from(batch.hlc).unwrap_or(i64::MAX))
                .bind(connection.to_string())
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}

/// Ops of a server-side device, built in order.
#[derive(Debug)]
pub struct OpBatch {
    account: Uuid,
    device: Uuid,
    key: String,
    seq: u64,
    hlc: u64,
    ops: Vec<IncomingOp>,
}

impl OpBatch {
    /// Adds an op.
    pub fn push(&mut self, entity: EntityKind, entity_id: Uuid, kind: OpKind) -> ServiceResult<()> {
        let n = self.ops.len();
        let op = Op {
            op_id: OpId(Uuid::new_v5(
                &self.account,
                format!("{}/{n}", self.key).as_bytes(),
            )),
            device: DeviceId(self.device),
            device_seq: self.seq,
            hlc: Hlc(self.hlc),
            entity,
            entity_id,
            kind,
            schema: SCHEMA_VERSION,
        };
        self.seq += 1;
        self.hlc += 1;
        self.ops
            .push(IncomingOp::from_op(op).map_err(ServiceError::internal)?);
        Ok(())
    }

    /// Adds an upsert of every field of `entity` (its serialised form minus `id`).
    pub fn upsert<T: Serialize>(
        &mut self,
        kind: EntityKind,
        entity_id: Uuid,
        entity: &T,
    ) -> ServiceResult<()> {
        let mut fields = match serde_json::to_value(entity).map_err(ServiceError::internal)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        fields.remove("id");
        self.push(kind, entity_id, OpKind::Upsert { fields })
    }

    /// Whether no op was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The first op, if any.
    pub fn first(&self) -> Option<&Op> {
        self.ops.first().map(|o| &o.op)
    }
}

async fn find(db: &Db, role: &Role, account: Uuid) -> ServiceResult<Option<(Uuid, i64)>> {
    let row = match role {
        Role::Automation => {
            sqlx::query("SELECT device_id, last_hlc FROM automation_devices WHERE account_id = $1")
                .bind(account.to_string())
                .fetch_optional(&db.pool)
                .await?
        }
        Role::Connector { connection, .. } => {
            sqlx::query(
                "SELECT device_id, last_hlc FROM connector_devices WHERE connection_id = $1 \
                 AND account_id = $2",
            )
            .bind(connection.to_string())
            .bind(account.to_string())
            .fetch_optional(&db.pool)
            .await?
        }
    };
    row.map(|r| -> ServiceResult<(Uuid, i64)> {
        let id: String = r.try_get("device_id")?;
        Ok((
            Uuid::parse_str(&id).map_err(ServiceError::internal)?,
            r.try_get("last_hlc")?,
        ))
    })
    .transpose()
}

async fn create(db: &Db, role: &Role, account: Uuid, space: Uuid) -> ServiceResult<()> {
    let device = Uuid::now_v7();
    let mut tx = db.begin_write().await?;
    bind_device(
        &mut tx,
        Subject {
            account,
            space,
            device,
        },
        &role.device_name(),
    )
    .await?;
    match role {
        Role::Automation => {
            sqlx::query(
                "INSERT INTO automation_devices (account_id, device_id, last_hlc) VALUES ($1, $2, 0) \
                 ON CONFLICT (account_id) DO NOTHING",
            )
            .bind(account.to_string())
            .bind(device.to_string())
            .execute(&mut *tx)
            .await?;
        }
        Role::Connector { connection, .. } => {
            sqlx::query(
                "INSERT INTO connector_devices (connection_id, account_id, device_id, last_hlc) \
                 VALUES ($1, $2, $3, 0) ON CONFLICT (connection_id) DO NOTHING",
            )
            .bind(connection.to_string())
            .bind(account.to_string())
            .bind(device.to_string())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

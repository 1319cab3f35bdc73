//! Sync: the op log of a space. Idempotent, gap-checked pushes that hand out gap-free cursors
//! ([`push`]), pulls that may long-poll ([`pull`], woken by [`feed`], and on PostgreSQL by
//! [`listen`] for pushes made by other instances), snapshots, and [`writer`], a server-side
//! device writing ops into a space. [`period locks`](locks) are judged on every push.

pub mod connector_work;
pub mod feed;
pub mod listen;
pub mod locks;
mod pull;
mod push;
pub mod writer;

use uuid::Uuid;

use crate::accounts::tokens::Claims;
use crate::db::Db;
use crate::error::ServiceResult;
use feed::Hub;

/// Most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 1000;
/// Most ops one pull returns (also the default).
pub const MAX_PULL_OPS: i64 = 1000;
/// Longest long-poll, in seconds.
pub use crate::config::LONG_POLL_MAX_S;
/// How far ahead of the relay's clock an op may be dated.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

pub use tacho_model::wire::IncomingOp;

pub use tacho_model::api::{
    PullQuery, PullResult, PushRequest, PushResult, SnapshotResult, SyncRequest, SyncResult,
};

/// The sync service: the log's storage and this instance's long-poll hub. Cheap to clone.
#[derive(Clone)]
pub struct SyncService {
    db: Db,
    hub: Hub,
}

impl SyncService {
    /// A service over `db`, waking long-polls through `hub`.
    pub fn new(db: Db, hub: Hub) -> Self {
        Self { db, hub }
    }

    /// This instance's long-poll hub (closed on shutdown so long-polls end).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stores the new ops of a batch of the token's device in one transaction under the space's
    /// lock and wakes pulls.
    pub async fn push(&self, claims: &Claims, ops: &[IncomingOp]) -> ServiceResult<PushResult> {
        push::push_ops(&self.db, &self.hub, claims, ops).await
    }

    /// Reads ops after `cursor`; with `wait` > 0 and nothing new, waits for a push to the space.
    pub async fn pull(
        &self,
        space: Uuid,
        cursor: i64,
        limit: Option<i64>,
        wait: u64,
    ) -> ServiceResult<PullResult> {
        pull::pull_ops(&self.db, &self.hub, space, cursor, limit, wait).await
    }

    /// Every op of the space up to its head.
    pub async fn snapshot(&self, space: Uuid) -> ServiceResult<SnapshotResult> {
        pull::snapshot(&self.db, space).await
    }

    /// A push (when there are ops) followed by a pull, for one round trip.
    pub async fn sync(&self, claims: &Claims, req: &SyncRequest) -> ServiceResult<SyncResult> {
        let push = if req.ops.is_empty() {
            PushResult {
                accepted: 0,
                duplicates: 0,
                head: pull::head(&self.db, claims.space).await?,
            }
        } else {
            self.push(claims, &req.ops).await?
        };
        let pull = self
            .pull(claims.space, req.cursor, req.limit, req.wait)
            .await?;
        Ok(SyncResult { push, pull })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn op_text(extra: &str) -> String {
        format!(
            r#"{{"op_id":"{}","device":"{}","device_seq":1,"hlc":1,"entity":"car","entity_id":"{}","kind":"delete","schema":1{extra}}}"#,
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7()
        )
    }

    /// Found by fuzz/push_decode: a lone surrogate escape in an unknown field decoded as an `Op`
    /// and was stored verbatim, after which no client could decode a page holding it.
    #[test]
    fn an_op_whose_text_is_not_valid_json_values_is_refused() {
        let bad = format!(r#"{{"ops":[{}]}}"#, op_text(r#","x_new":"\ud800""#));
        let err = serde_json::from_str::<PushRequest>(&bad).expect_err("lone surrogate");
        assert!(err.to_string().contains("escape"), "{err}");
        let bad = format!(r#"{{"ops":[{}]}}"#, op_text(r#","x_new":[1e400]"#));
        let err = serde_json::from_str::<PushRequest>(&bad).expect_err("out of range");
        assert!(err.to_string().contains("out of range"), "{err}");
        // Valid escapes (a surrogate pair, a control character) still go through verbatim.
        let text = op_text(r#","x_new":"\ud83d\ude00 \u0001""#);
        let ok: PushRequest =
            serde_json::from_str(&format!(r#"{{"ops":[{text}]}}"#)).expect("valid escapes");
        assert_eq!(ok.ops[0].body, text);
        // An echoed cursor is still found and removed.
        let echoed = op_text(r#","cursor":7"#);
        let ok: PushRequest =
            serde_json::from_str(&format!(r#"{{"ops":[{echoed}]}}"#)).expect("cursor");
        assert!(!ok.ops[0].body.contains("cursor"), "{}", ok.ops[0].body);
    }
}

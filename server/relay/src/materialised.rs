//! Typed reads of the materialised state: `entity_state` rows (merged once per push batch by
//! `log`) decoded into tacho-model entities, so relay services read cars, places and trips as
//! the clients do instead of picking fields out of JSON.

use serde::de::DeserializeOwned;
use sqlx::Row as _;
use tacho_model::merge::EntityState;
use tacho_model::op::EntityKind;
use uuid::Uuid;

use crate::storage::Db;

/// The live (not deleted) entities of one kind in a space. A row that no longer decodes as `T`
/// (written by a newer or broken client) is left out and logged, never an error for the caller.
pub async fn live<T: DeserializeOwned>(
    db: &Db,
    space: Uuid,
    kind: EntityKind,
) -> Result<Vec<T>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT entity_id, state FROM entity_state WHERE space_id = $1 AND entity = $2",
    )
    .bind(space.to_string())
    .bind(kind.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let raw: String = row.try_get("state")?;
        let id: String = row.try_get("entity_id")?;
        let decoded = Uuid::parse_str(&id)
            .map_err(|e| e.to_string())
            .and_then(|id| {
                let state: EntityState = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
                if state.is_deleted() {
                    return Ok(None);
                }
                state.decode::<T>(id).map(Some).map_err(|e| e.to_string())
            });
        match decoded {
            Ok(Some(entity)) => out.push(entity),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%space, entity = kind.as_str(), %id, %error, "materialised row left out");
            }
        }
    }
    Ok(out)
}

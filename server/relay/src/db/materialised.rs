//! Typed reads of the materialised state: `entity_state` rows (merged once per push batch by
//! `log`) decoded into tacho-model entities, so relay services read cars, places and trips as
//! the clients do instead of picking fields out of JSON.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row as _;
use tacho_model::car::Car;
use tacho_model::merge::EntityState;
use tacho_model::op::EntityKind;
use uuid::Uuid;

use crate::db::Db;

/// The space's live cars. Unlike a client store, which waits for a car's full upsert before it
/// writes the row, the relay may be asked about a car whose merged state lacks a name or plate
/// (a partial upsert arrived first): those read as empty, so the car still matches by what it has.
pub async fn cars(db: &Db, space: Uuid) -> Result<Vec<Car>, sqlx::Error> {
    live_with(db, space, EntityKind::Car, |state| {
        for field in ["name", "plate"] {
            state.fields.entry(field).or_insert_with(|| Value::from(""));
        }
    })
    .await
}

/// The live (not deleted) entities of one kind in a space. A row that no longer decodes as `T`
/// (written by a newer or broken client) is left out and logged, never an error for the caller.
pub async fn live<T: DeserializeOwned>(
    db: &Db,
    space: Uuid,
    kind: EntityKind,
) -> Result<Vec<T>, sqlx::Error> {
    live_with(db, space, kind, |_| {}).await
}

/// [`live`], with `fill` completing each merged state before it is decoded.
async fn live_with<T: DeserializeOwned>(
    db: &Db,
    space: Uuid,
    kind: EntityKind,
    fill: impl Fn(&mut EntityState),
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
                let mut state: EntityState =
                    serde_json::from_str(&raw).map_err(|e| e.to_string())?;
                if state.is_deleted() {
                    return Ok(None);
                }
                fill(&mut state);
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

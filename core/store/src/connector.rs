//! What the relay's connectors told this device: links (an entry's state per connection) and
//! conflicts, read from the merged `entity_state` rows the pull wrote (they have no table of
//! their own: nothing here queries them by anything but kind, and they are few).

use tacho_model::connector::{ConnectorConflict, ConnectorLink};
use tacho_model::merge::EntityState;
use tacho_model::op::EntityKind;
use uuid::Uuid;

use crate::{Result, Store};

impl Store {
    /// Every live connector link, by entry.
    pub fn connector_links(&self) -> Result<Vec<ConnectorLink>> {
        Ok(self
            .live_states::<ConnectorLink>(EntityKind::ConnectorLink)?
            .into_iter()
            .map(|(_, link)| link)
            .collect())
    }

    /// Every live conflict with its id, oldest first.
    pub fn connector_conflicts(&self) -> Result<Vec<(Uuid, ConnectorConflict)>> {
        let mut all = self.live_states::<ConnectorConflict>(EntityKind::ConnectorConflict)?;
        all.sort_by(|a, b| a.1.raised_at.cmp(&b.1.raised_at).then(a.0.cmp(&b.0)));
        Ok(all)
    }

    /// The live entities of `kind` that decode as `T`. A row that does not (a newer relay's
    /// shape, or a partial upsert) is skipped and logged, never an error for the reader.
    fn live_states<T: serde::de::DeserializeOwned>(
        &self,
        kind: EntityKind,
    ) -> Result<Vec<(Uuid, T)>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT entity_id, state FROM entity_state WHERE entity = ?1")?;
        let rows = stmt.query_map([kind.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, raw) = row?;
            let Ok(id) = Uuid::parse_str(&id) else {
                continue;
            };
            let state: EntityState = serde_json::from_str(&raw)?;
            if state.is_deleted() {
                continue;
            }
            match state.decode::<T>(id) {
                Ok(value) => out.push((id, value)),
                Err(e) => {
                    tracing::warn!(entity = kind.as_str(), %id, error = %e, "connector row skipped");
                }
            }
        }
        Ok(out)
    }
}

//! The connection registry: each person's connections (`connections` table) with their
//! credentials sealed per field in `sealed_secrets` (see [`crate::secrets`]).
//!
//! A connection's sealed fields live under the secrets provider name `<provider>/<id>` (e.g.
//! `zammad/0190…`), so the associated data of every sealed value binds owner, provider,
//! connection and field: a value copied to another connection, field or person does not open.
//! Schema v4 sealed Zammad's secrets under the same name, so they still open after v8's move.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{ConnectionError, Provider};
use crate::db::{Db, now_ms};
use crate::secrets::{self, MasterKeys};

/// Longest accepted secret (API token, webhook secret).
pub const MAX_SECRET_LEN: usize = 4096;
/// Longest accepted base URL.
const MAX_URL_LEN: usize = 2048;

/// Provider-specific options of a connection (a JSON object).
pub type Settings = Map<String, Value>;

/// What a provider needs of a connection.
pub(crate) struct Spec {
    /// Whether `base_url` is required (self-hosted instances); otherwise it must be absent.
    pub base_url: bool,
    /// Sealed fields: (name, required).
    pub secrets: &'static [(&'static str, bool)],
    /// How the provider's webhooks to `/v1/hooks/{provider}/{id}` are verified and read, if it
    /// sends any.
    pub webhook: Option<super::intake::Webhook>,
    /// Checks the settings and fills in defaults.
    pub settings: fn(Settings) -> Result<Settings, ConnectionError>,
}

impl Provider {
    pub(crate) fn spec(self) -> Spec {
        match self {
            Self::Zammad => super::zammad::SPEC,
        }
    }
}

/// Body of `POST /v1/connections`. Its `Debug` names the secrets, never their values.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The service.
    pub provider: Provider,
    /// The owner's name for it (up to 200 characters, no control characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// The instance, for self-hosted services (Zammad: required, e.g.
    /// `https://helpdesk.example.org`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Provider-specific options (Zammad: `time_unit`, one of `minute` (default),
    /// `quarter_hour`, `hour`, `day`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Credentials by field name (Zammad: `api_token` and `webhook_secret`, both required);
    /// stored sealed, never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// Body of `PATCH /v1/connections/{id}`; fields left out stay as they are. Its `Debug` names the
/// secrets, never their values.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    /// New label (up to 200 characters, no control characters); an empty string removes it.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// New base URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Settings to change (merged into the current ones, then checked as a whole).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Map<String, Value>>,
    /// Sealed fields to replace (rotate), by name; stored sealed, never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// The names of `secrets`, for `Debug` output that must not show the values.
struct SecretNames<'a>(&'a BTreeMap<String, String>);

impl std::fmt::Debug for SecretNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("provider", &self.provider)
            .field("label", &self.label)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings)
            .field("secrets", &SecretNames(&self.secrets))
            .finish()
    }
}

impl std::fmt::Debug for ConnectionPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPatch")
            .field("label", &self.label)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings)
            .field("secrets", &SecretNames(&self.secrets))
            .finish()
    }
}

/// A connection as stored (secrets are not part of it, only the names of those set).
#[derive(Debug, Clone)]
pub struct Connection {
    /// Connection id.
    pub id: Uuid,
    /// Owner.
    pub account: Uuid,
    /// The service.
    pub provider: Provider,
    /// The owner's name for it.
    pub label: Option<String>,
    /// The instance.
    pub base_url: Option<String>,
    /// Provider-specific options.
    pub settings: Map<String, Value>,
    /// Names of the sealed fields that are set.
    pub secrets: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl Connection {
    /// The path the provider delivers webhooks to, if it sends any.
    pub fn webhook_path(&self) -> Option<String> {
        self.provider
            .spec()
            .webhook
            .is_some()
            .then(|| format!("/v1/hooks/{}/{}", self.provider.as_str(), self.id))
    }
}

/// The secrets-provider name a connection's sealed fields live under (part of their associated
/// data; never change it for existing rows).
pub fn sealed_name(provider: Provider, id: Uuid) -> String {
    format!("{}/{id}", provider.as_str())
}

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> ConnectionError {
    ConnectionError::Db(sqlx::Error::Decode(Box::new(e)))
}

#[derive(Debug, thiserror::Error)]
#[error("unknown provider {0:?} in the connections table")]
struct UnknownStoredProvider(String);

fn from_row(row: &AnyRow, secrets: Vec<String>) -> Result<Connection, ConnectionError> {
    let id: String = row.try_get("id")?;
    let account: String = row.try_get("account_id")?;
    let provider: String = row.try_get("provider")?;
    let settings: String = row.try_get("settings")?;
    Ok(Connection {
        id: Uuid::parse_str(&id).map_err(decode_err)?,
        account: Uuid::parse_str(&account).map_err(decode_err)?,
        provider: Provider::parse(&provider)
            .ok_or_else(|| decode_err(UnknownStoredProvider(provider)))?,
        label: row.try_get("label")?,
        base_url: row.try_get("base_url")?,
        settings: serde_json::from_str(&settings).map_err(decode_err)?,
        secrets,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "id, account_id, provider, label, base_url, settings, created_at, updated_at";

fn check_label(label: Option<String>) -> Result<Option<String>, ConnectionError> {
    let Some(label) = label else {
        return Ok(None);
    };
    // The relay-wide rule for labels (`tacho_model::api::check_text`), answered with this API's
    // own code.
    let label = tacho_model::api::check_text("label", &label, tacho_model::api::limits::LABEL)
        .map_err(|e| ConnectionError::invalid("invalid_label", "label", e.to_string()))?;
    Ok(Some(label.to_owned()).filter(|l| !l.is_empty()))
}

fn check_base_url(
    spec: &Spec,
    base_url: Option<String>,
) -> Result<Option<String>, ConnectionError> {
    let invalid = |message: &str| ConnectionError::invalid("invalid_base_url", "base_url", message);
    let Some(raw) = base_url else {
        return if spec.base_url {
            Err(invalid("base_url is required for this provider"))
        } else {
            Ok(None)
        };
    };
    if !spec.base_url {
        return Err(invalid("this provider takes no base_url"));
    }
    let base_url = raw.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base_url)
        .map_err(|_| invalid("base_url must be an absolute http(s) URL"))?;
    if !matches!(parsed.scheme(), "https" | "http")
        || parsed.host_str().is_none()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || base_url.len() > MAX_URL_LEN
    {
        return Err(invalid(
            "base_url must be an absolute http(s) URL without credentials",
        ));
    }
    Ok(Some(base_url))
}

/// Checks the given secrets against the provider's fields; `creating` also requires the
/// required ones.
fn check_secrets(
    spec: &Spec,
    secrets: &BTreeMap<String, String>,
    creating: bool,
) -> Result<(), ConnectionError> {
    for (name, value) in secrets {
        if !spec.secrets.iter().any(|(field, _)| field == name) {
            let known: Vec<&str> = spec.secrets.iter().map(|(f, _)| *f).collect();
            return Err(ConnectionError::invalid(
                "invalid_secret",
                format!("secrets.{name}"),
                format!(
                    "unknown secret {name:?}; this provider takes {}",
                    known.join(", ")
                ),
            ));
        }
        if value.trim().is_empty() || value.len() > MAX_SECRET_LEN {
            return Err(ConnectionError::invalid(
                "invalid_secret",
                format!("secrets.{name}"),
                format!("{name} must be 1 to {MAX_SECRET_LEN} bytes"),
            ));
        }
    }
    if creating {
        for (field, required) in spec.secrets {
            if *required && !secrets.contains_key(*field) {
                return Err(ConnectionError::invalid(
                    "invalid_secret",
                    format!("secrets.{field}"),
                    format!("{field} is required for this provider"),
                ));
            }
        }
    }
    Ok(())
}

/// Removes every connection of `account`, their events and every secret sealed for the account,
/// inside the caller's transaction (account deletion).
pub async fn delete_account(
    conn: &mut sqlx::AnyConnection,
    account: &str,
) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM connection_events WHERE connection_id IN \
         (SELECT id FROM connections WHERE account_id = $1)",
        "DELETE FROM connections WHERE account_id = $1",
        "DELETE FROM sealed_secrets WHERE owner = $1",
    ] {
        sqlx::query(sql).bind(account).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The registry service over a database and the master keys (if configured).
#[derive(Debug, Clone, Copy)]
pub struct Registry<'a> {
    db: &'a Db,
    keys: Option<&'a MasterKeys>,
}

impl<'a> Registry<'a> {
    /// A registry over `db`, sealing with `keys`.
    pub fn new(db: &'a Db, keys: Option<&'a MasterKeys>) -> Self {
        Self { db, keys }
    }

    fn keys(&self) -> Result<&'a MasterKeys, ConnectionError> {
        self.keys.ok_or(ConnectionError::SecretsUnavailable)
    }

    /// Registers a connection for `account`.
    pub async fn create(
        &self,
        account: Uuid,
        new: NewConnection,
    ) -> Result<Connection, ConnectionError> {
        let keys = self.keys()?;
        let spec = new.provider.spec();
        let base_url = check_base_url(&spec, new.base_url)?;
        check_secrets(&spec, &new.secrets, true)?;
        let settings = (spec.settings)(new.settings)?;
        let label = check_label(new.label)?;
        let id = Uuid::now_v7();
        let owner = account.to_string();
        let now = now_ms();
        let settings_text = Value::Object(settings.clone()).to_string();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO connections \
             (id, account_id, provider, label, base_url, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(&owner)
        .bind(new.provider.as_str())
        .bind(label.clone())
        .bind(base_url.clone())
        .bind(settings_text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let sealed = sealed_name(new.provider, id);
        for (field, value) in &new.secrets {
            secrets::put(&mut tx, keys, &owner, &sealed, field, value).await?;
        }
        tx.commit().await?;
        Ok(Connection {
            id,
            account,
            provider: new.provider,
            label,
            base_url,
            settings,
            secrets: new.secrets.into_keys().collect(),
            created_at: now,
            updated_at: now,
        })
    }

    /// `account`'s connections, oldest first.
    pub async fn list(&self, account: Uuid) -> Result<Vec<Connection>, ConnectionError> {
        let owner = account.to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections WHERE account_id = $1 ORDER BY created_at, id"
        )))
        .bind(&owner)
        .fetch_all(&self.db.pool)
        .await?;
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for row in sqlx::query(
            "SELECT provider, field FROM sealed_secrets WHERE owner = $1 ORDER BY field",
        )
        .bind(&owner)
        .fetch_all(&self.db.pool)
        .await?
        {
            fields
                .entry(row.try_get("provider")?)
                .or_default()
                .push(row.try_get("field")?);
        }
        rows.iter()
            .map(|row| {
                let mut conn = from_row(row, Vec::new())?;
                conn.secrets = fields
                    .remove(&sealed_name(conn.provider, conn.id))
                    .unwrap_or_default();
                Ok(conn)
            })
            .collect()
    }

    /// `account`'s connection `id` (of `provider`, if given), or [`ConnectionError::NotFound`],
    /// also for another account's connection.
    pub async fn get(
        &self,
        account: Uuid,
        id: &str,
        provider: Option<Provider>,
    ) -> Result<Connection, ConnectionError> {
        let id = Uuid::parse_str(id).map_err(|_| ConnectionError::NotFound)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections WHERE id = $1 AND account_id = $2"
        )))
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or(ConnectionError::NotFound)?;
        let mut conn = from_row(&row, Vec::new())?;
        if provider.is_some_and(|p| p != conn.provider) {
            return Err(ConnectionError::NotFound);
        }
        conn.secrets = self.secret_fields(&conn).await?;
        Ok(conn)
    }

    async fn secret_fields(&self, conn: &Connection) -> Result<Vec<String>, ConnectionError> {
        let rows = sqlx::query(
            "SELECT field FROM sealed_secrets WHERE owner = $1 AND provider = $2 ORDER BY field",
        )
        .bind(conn.account.to_string())
        .bind(sealed_name(conn.provider, conn.id))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("field"))
            .collect::<Result<_, _>>()?)
    }

    /// Changes `account`'s connection `id` as `patch` says.
    pub async fn update(
        &self,
        account: Uuid,
        id: &str,
        patch: ConnectionPatch,
    ) -> Result<Connection, ConnectionError> {
        let mut conn = self.get(account, id, None).await?;
        let spec = conn.provider.spec();
        if patch.base_url.is_some() {
            conn.base_url = check_base_url(&spec, patch.base_url)?;
        }
        check_secrets(&spec, &patch.secrets, false)?;
        let keys = if patch.secrets.is_empty() {
            None
        } else {
            Some(self.keys()?)
        };
        if let Some(changes) = patch.settings {
            let mut merged = conn.settings.clone();
            merged.extend(changes);
            conn.settings = (spec.settings)(merged)?;
        }
        if let Some(label) = patch.label {
            conn.label = check_label(Some(label))?;
        }
        conn.updated_at = now_ms();
        let owner = account.to_string();
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE connections SET label = $1, base_url = $2, settings = $3, updated_at = $4 \
             WHERE id = $5 AND account_id = $6",
        )
        .bind(conn.label.clone())
        .bind(conn.base_url.clone())
        .bind(Value::Object(conn.settings.clone()).to_string())
        .bind(conn.updated_at)
        .bind(conn.id.to_string())
        .bind(&owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            // Deleted since it was read.
            return Err(ConnectionError::NotFound);
        }
        if let Some(keys) = keys {
            let sealed = sealed_name(conn.provider, conn.id);
            for (field, value) in &patch.secrets {
                secrets::put(&mut tx, keys, &owner, &sealed, field, value).await?;
                if !conn.secrets.contains(field) {
                    conn.secrets.push(field.clone());
                }
            }
            conn.secrets.sort();
        }
        tx.commit().await?;
        Ok(conn)
    }

    /// Removes `account`'s connection `id` (of `provider`, if given) with its sealed secrets
    /// and its events.
    pub async fn delete(
        &self,
        account: Uuid,
        id: &str,
        provider: Option<Provider>,
    ) -> Result<(), ConnectionError> {
        let conn = self.get(account, id, provider).await?;
        let id = conn.id.to_string();
        let owner = account.to_string();
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM connection_events WHERE connection_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM connections WHERE id = $1 AND account_id = $2")
            .bind(&id)
            .bind(&owner)
            .execute(&mut *tx)
            .await?;
        secrets::delete_provider(&mut tx, &owner, &sealed_name(conn.provider, conn.id)).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_secrets_without_values() {
        let secrets = BTreeMap::from([("api_token".to_owned(), "PLAINTEXT".to_owned())]);
        let new = NewConnection {
            provider: Provider::Zammad,
            label: None,
            base_url: None,
            settings: Map::new(),
            secrets: secrets.clone(),
        };
        let patch = ConnectionPatch {
            secrets,
            ..ConnectionPatch::default()
        };
        for shown in [format!("{new:?}"), format!("{patch:?}")] {
            assert!(
                shown.contains("api_token") && !shown.contains("PLAINTEXT"),
                "{shown}"
            );
        }
    }
}

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

/// Whether a provider takes a base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlRule {
    /// Self-hosted instances (Kimai, Zammad): required.
    Required,
    /// Public APIs with selectable hosts (Toggl, Tempo's regions): the public one by default.
    Optional,
}

/// What a provider needs of a connection.
pub(crate) struct Spec {
    /// Whether `base_url` is required or optional.
    pub base_url: UrlRule,
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
            Self::Toggl => super::timesheets::TOGGL,
            Self::Tempo => super::timesheets::TEMPO,
            Self::Kimai => super::timesheets::KIMAI,
            Self::Zammad => super::zammad::SPEC,
        }
    }

    /// Whether connections of this kind need a unique label and are checked against the
    /// service when added (Zammad connections predate both rules and keep working without).
    pub(crate) fn is_checked(self) -> bool {
        !matches!(self, Self::Zammad)
    }
}

/// Body of `POST /v1/connections`. Its `Debug` names the secrets, never their values.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The service: `toggl`, `tempo`, `kimai` or `zammad` (another: 422 `unknown_provider`).
    #[schema(value_type = Provider)]
    pub provider: String,
    /// The owner's name for it (up to 200 characters, no control characters); required and
    /// unique among the person's connections for Toggl, Tempo and Kimai (409 `name_taken`).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// The instance: https, or http on loopback only. Kimai and Zammad: required (e.g.
    /// `https://helpdesk.example.org`); Toggl and Tempo: the public API host by default (Tempo's
    /// regional hosts can be given).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Provider-specific options. Toggl: `workspace_id` (required), `requests_per_hour` (30);
    /// Tempo: `account_id`, `time_zone` (IANA; both required); Kimai: `auth` (`bearer` or
    /// `legacy` with `user`), `time_zone` (required); Zammad: `time_unit` (`minute` (default),
    /// `quarter_hour`, `hour`, `day`), `type_id`. Every kind: `push_rounded` (false: raw).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Credentials by field name (every kind: `api_token`; Zammad also `webhook_secret`, both
    /// required); stored sealed, never returned.
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
    /// `active`, `paused` or `disabled`.
    pub state: String,
    /// Why it is disabled.
    pub state_reason: Option<String>,
    /// Nothing is sent before this time (Unix ms; Toggl's spent quota).
    pub quota_until: Option<i64>,
    /// Last drained push (Unix ms).
    pub last_push_at: Option<i64>,
    /// Last completed pull (Unix ms).
    pub last_pull_at: Option<i64>,
    /// Work and inbox counts (filled by `list` and `get`).
    pub counts: super::ConnectionCounts,
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
        state: row.try_get("state")?,
        state_reason: row.try_get("state_reason")?,
        quota_until: row.try_get("quota_until")?,
        last_push_at: row.try_get("last_push_at")?,
        last_pull_at: row.try_get("last_pull_at")?,
        counts: super::ConnectionCounts::default(),
    })
}

/// The columns [`from_row`] reads.
pub(crate) const COLUMNS: &str = "id, account_id, provider, label, base_url, settings, created_at, \
    updated_at, state, state_reason, quota_until, last_push_at, last_pull_at";

/// Decodes a `connections` row selected with [`COLUMNS`] (secrets not filled).
pub(crate) fn decode(row: &AnyRow) -> Result<Connection, ConnectionError> {
    from_row(row, Vec::new())
}

/// The counts of the connections of `account`, by connection id.
async fn counts(
    db: &Db,
    account: &str,
) -> Result<HashMap<String, super::ConnectionCounts>, ConnectionError> {
    let mut out: HashMap<String, super::ConnectionCounts> = HashMap::new();
    let rows = sqlx::query(
        "SELECT w.connection_id AS id, w.state AS what, COUNT(*) AS n FROM connector_work w \
         JOIN connections c ON c.id = w.connection_id WHERE c.account_id = $1 \
         GROUP BY w.connection_id, w.state \
         UNION ALL SELECT connection_id AS id, 'conflict' AS what, COUNT(*) AS n \
         FROM connector_conflicts WHERE account_id = $1 AND state = 'open' GROUP BY connection_id",
    )
    .bind(account)
    .fetch_all(&db.pool)
    .await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let what: String = row.try_get("what")?;
        let n: i64 = row.try_get("n")?;
        let c = out.entry(id).or_default();
        match what.as_str() {
            "queued" => c.pending += n,
            "error" => c.errors += n,
            _ => c.conflicts += n,
        }
    }
    Ok(out)
}

fn taken(label: &str) -> ConnectionError {
    ConnectionError::NameTaken(format!("you already have a connection named {label:?}"))
}

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
    let invalid =
        |message: String| ConnectionError::invalid("invalid_base_url", "base_url", message);
    let Some(raw) = base_url.filter(|u| !u.trim().is_empty() || spec.base_url == UrlRule::Required)
    else {
        return match spec.base_url {
            UrlRule::Required => Err(invalid("base_url is required for this provider".into())),
            UrlRule::Optional => Ok(None),
        };
    };
    let base_url = raw.trim().trim_end_matches('/').to_owned();
    if base_url.len() > MAX_URL_LEN {
        return Err(invalid(format!(
            "base_url is longer than {MAX_URL_LEN} characters"
        )));
    }
    // The connectors' rule, in one place: https, or plain http on loopback only.
    tacho_integrations::http::parse_base_url(&base_url)
        .map_err(|e| invalid(format!("base_url {e}")))?;
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
    for table in CONNECTOR_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE connection_id IN \
             (SELECT id FROM connections WHERE account_id = $1)"
        )))
        .bind(account)
        .execute(&mut *conn)
        .await?;
    }
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

/// The connectors' tables keyed by `connection_id`, emptied with their connection.
const CONNECTOR_TABLES: [&str; 7] = [
    "connector_devices",
    "connector_mappings",
    "connector_links",
    "connector_work",
    "connector_conflicts",
    "connector_audit",
    "connector_lookups",
];

/// The registry service over a database and the master keys (if configured).
#[derive(Debug, Clone, Copy)]
pub struct Registry<'a> {
    db: &'a Db,
    keys: Option<&'a MasterKeys>,
    http: Option<&'a tacho_integrations::http::Http>,
}

impl<'a> Registry<'a> {
    /// A registry over `db`, sealing with `keys`, checking new connections' credentials with
    /// `http` (without: not checked).
    pub fn new(
        db: &'a Db,
        keys: Option<&'a MasterKeys>,
        http: Option<&'a tacho_integrations::http::Http>,
    ) -> Self {
        Self { db, keys, http }
    }

    /// The check of a connector kind's credentials, when this registry has a client.
    async fn check(
        &self,
        provider: Provider,
        base_url: Option<&str>,
        settings: &Map<String, Value>,
        token: Option<&String>,
    ) -> Result<(), ConnectionError> {
        match (self.http, token) {
            (Some(http), Some(token)) if provider.is_checked() => {
                super::timesheets::check(http, provider, base_url, settings, token).await
            }
            _ => Ok(()),
        }
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
        let provider = Provider::parse(&new.provider).ok_or_else(|| {
            ConnectionError::UnknownKind(format!(
                "unknown connection kind {:?}; the relay connects to {}",
                new.provider,
                Provider::ALL.map(Provider::as_str).join(", ")
            ))
        })?;
        let spec = provider.spec();
        let base_url = check_base_url(&spec, new.base_url)?;
        check_secrets(&spec, &new.secrets, true)?;
        let settings = (spec.settings)(new.settings)?;
        let label = check_label(new.label)?;
        if provider.is_checked() {
            let Some(name) = &label else {
                return Err(ConnectionError::invalid(
                    "invalid_label",
                    "label",
                    "a label (your name for this connection) is required",
                ));
            };
            let owner = account.to_string();
            if self.label_used(&owner, name, None).await? {
                return Err(taken(name));
            }
        }
        self.check(
            provider,
            base_url.as_deref(),
            &settings,
            new.secrets.get(super::timesheets::API_TOKEN),
        )
        .await?;
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
        .bind(provider.as_str())
        .bind(label.clone())
        .bind(base_url.clone())
        .bind(settings_text)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &label {
            Some(name) if crate::db::is_unique_violation(&e) => taken(name),
            _ => e.into(),
        })?;
        let sealed = sealed_name(provider, id);
        for (field, value) in &new.secrets {
            secrets::put(&mut tx, keys, &owner, &sealed, field, value).await?;
        }
        tx.commit().await?;
        Ok(Connection {
            id,
            account,
            provider,
            label,
            base_url,
            settings,
            secrets: new.secrets.into_keys().collect(),
            created_at: now,
            updated_at: now,
            state: "active".into(),
            state_reason: None,
            quota_until: None,
            last_push_at: None,
            last_pull_at: None,
            counts: super::ConnectionCounts::default(),
        })
    }

    /// Whether another connector of `owner` (not `except`) is named `label`.
    async fn label_used(
        &self,
        owner: &str,
        label: &str,
        except: Option<Uuid>,
    ) -> Result<bool, ConnectionError> {
        let row = sqlx::query(
            "SELECT id FROM connections WHERE account_id = $1 AND label = $2 \
             AND provider IN ('toggl', 'tempo', 'kimai') AND id <> $3",
        )
        .bind(owner)
        .bind(label)
        .bind(except.map(|u| u.to_string()).unwrap_or_default())
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.is_some())
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
        let mut counted = counts(self.db, &owner).await?;
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
                conn.counts = counted.remove(&conn.id.to_string()).unwrap_or_default();
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
        conn.counts = counts(self.db, &conn.account.to_string())
            .await?
            .remove(&conn.id.to_string())
            .unwrap_or_default();
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
        let owner = account.to_string();
        if conn.provider.is_checked() {
            let Some(name) = &conn.label else {
                return Err(ConnectionError::invalid(
                    "invalid_label",
                    "label",
                    "a label (your name for this connection) is required",
                ));
            };
            if self.label_used(&owner, name, Some(conn.id)).await? {
                return Err(taken(name));
            }
        }
        // A new token is checked like a new connection's, and a disabled connection resumes
        // with it (it was disabled because the service refused the old one).
        let rotated = patch.secrets.get(super::timesheets::API_TOKEN);
        self.check(
            conn.provider,
            conn.base_url.as_deref(),
            &conn.settings,
            rotated,
        )
        .await?;
        if rotated.is_some() && conn.state == "disabled" {
            conn.state = "active".into();
            conn.state_reason = None;
        }
        conn.updated_at = now_ms();
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE connections SET label = $1, base_url = $2, settings = $3, updated_at = $4, \
             state = $5, state_reason = $6 WHERE id = $7 AND account_id = $8",
        )
        .bind(conn.label.clone())
        .bind(conn.base_url.clone())
        .bind(Value::Object(conn.settings.clone()).to_string())
        .bind(conn.updated_at)
        .bind(conn.state.clone())
        .bind(conn.state_reason.clone())
        .bind(conn.id.to_string())
        .bind(&owner)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &conn.label {
            Some(name) if crate::db::is_unique_violation(&e) => taken(name),
            _ => e.into(),
        })?;
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
        for table in CONNECTOR_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE connection_id = $1"
            )))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
        // Queued connector jobs of this connection find it gone and end.
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
            provider: "zammad".into(),
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

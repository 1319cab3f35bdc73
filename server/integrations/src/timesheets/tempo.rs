//! Tempo v4 client (contract: `contracts/timesheets.md`). Skeleton: the calls are not built yet
//! and answer [`Failure::Protocol`]; the connectors issue fills them in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use reqwest::Url;

use super::{
    Changes, Entry, Lookup, LookupItem, PullCursor, RemoteEntry, Target, Verified, Written,
};
use crate::http::{Failure, Http, Secret};
use chrono_tz::Tz;
/// A configured Tempo v4 client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    api: Url,
    token: Secret,
    account_id: String,
    time_zone: Tz,
}

fn not_built() -> Failure {
    Failure::Protocol {
        message: "the Tempo v4 connector is not built yet".to_owned(),
    }
}

impl Client {
    /// A client for the API at `api` (base URL + API path).
    pub fn new(http: Http, api: Url, token: Secret, account_id: String, time_zone: Tz) -> Self {
        Self {
            http,
            api,
            token,
            account_id,
            time_zone,
        }
    }

    /// See [`super::Connector::verify`].
    pub async fn verify(&self) -> Result<Verified, Failure> {
        let _ = (&self.http, &self.api, &self.token);
        Err(not_built())
    }

    /// See [`super::Connector::create`].
    pub async fn create(&self, _entry: &Entry) -> Result<Written, Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::update`].
    pub async fn update(
        &self,
        _remote_id: &str,
        _before: &Target,
        _entry: &Entry,
    ) -> Result<Written, Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::delete`].
    pub async fn delete(&self, _remote_id: &str, _target: &Target) -> Result<(), Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::find`].
    pub async fn find(
        &self,
        _entry: &Entry,
        _sent_at: DateTime<Utc>,
        _exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::get`].
    pub async fn get(
        &self,
        _remote_id: &str,
        _target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::lookup`].
    pub async fn lookup(&self, _what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        Err(not_built())
    }

    /// See [`super::Connector::changes`].
    pub async fn changes(
        &self,
        _cursor: &PullCursor,
        _first_pull: DateTime<Utc>,
    ) -> Result<Changes, Failure> {
        let _ = (&self.account_id, self.time_zone);
        Err(not_built())
    }
}

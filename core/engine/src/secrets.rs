//! Where a core keeps its relay tokens. The CLI keeps them in its SQLite file (mode 0600, the
//! default); the apps hand the core a [`SecretStore`] backed by the iOS Keychain or the Android
//! Keystore, and then the SQLite file never holds a token: its session row keeps only the relay,
//! the account and the sync progress.

use std::sync::Arc;

use tacho_store::SyncSession;

use crate::{Core, CoreError, Result};

/// A platform's secret storage, implemented by the app (Keychain, Android Keystore) and handed
/// to the core in [`crate::CoreConfig::secret_store`]. Keys are short ASCII names made by the
/// core (`tacho.<device id>.access_token`, `….refresh_token`), one pair per database, so two
/// cores on one phone never read each other's tokens.
pub trait SecretStore: Send + Sync {
    /// The value saved under `key`, or `None` if there is none.
    fn load(&self, key: &str) -> std::result::Result<Option<String>, SecretStoreError>;
    /// Saves `value` under `key`, replacing what was there.
    fn save(&self, key: &str, value: &str) -> std::result::Result<(), SecretStoreError>;
    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> std::result::Result<(), SecretStoreError>;
}

/// Why the platform's secret storage failed (e.g. the Keychain is locked before first unlock).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret storage: {reason}")]
pub struct SecretStoreError {
    /// What the platform said.
    pub reason: String,
}

impl From<SecretStoreError> for CoreError {
    fn from(e: SecretStoreError) -> Self {
        CoreError::Storage {
            reason: e.to_string(),
        }
    }
}

/// The tokens of one database in a [`SecretStore`].
#[derive(Clone)]
pub(crate) struct TokenKeys {
    store: Arc<dyn SecretStore>,
    access: String,
    refresh: String,
}

impl TokenKeys {
    pub(crate) fn new(store: Arc<dyn SecretStore>, device: tacho_model::id::DeviceId) -> Self {
        Self {
            store,
            access: format!("tacho.{device}.access_token"),
            refresh: format!("tacho.{device}.refresh_token"),
        }
    }

    /// Saves the session's tokens and returns the session as SQLite keeps it: tokens blank.
    pub(crate) fn take_tokens(&self, session: &SyncSession) -> Result<SyncSession> {
        self.store.save(&self.access, &session.access_token)?;
        self.store.save(&self.refresh, &session.refresh_token)?;
        Ok(SyncSession {
            access_token: String::new(),
            refresh_token: String::new(),
            ..session.clone()
        })
    }

    /// Fills a session read from SQLite with its tokens.
    pub(crate) fn fill(&self, session: SyncSession) -> Result<SyncSession> {
        let access = self.store.load(&self.access)?;
        let refresh = self.store.load(&self.refresh)?;
        match (access, refresh) {
            (Some(access_token), Some(refresh_token)) => Ok(SyncSession {
                access_token,
                refresh_token,
                ..session
            }),
            _ => Err(CoreError::Auth {
                reason:
                    "this device's relay tokens are missing from the secret store; sign in again"
                        .into(),
            }),
        }
    }

    pub(crate) fn forget(&self) -> Result<()> {
        self.store.delete(&self.access)?;
        self.store.delete(&self.refresh)?;
        Ok(())
    }
}

impl Core {
    /// The stored session with its tokens, wherever they are kept.
    pub(crate) fn load_session(&self) -> Result<Option<SyncSession>> {
        let session = self.with_store(|inner| Ok(inner.store.session()?))?;
        match (session, &self.tokens) {
            (Some(s), Some(keys)) if s.refresh_token.is_empty() => keys.fill(s).map(Some),
            (session, _) => Ok(session),
        }
    }

    /// Stores `session`: its tokens go to the secret store when there is one, the rest (and,
    /// without a secret store, the tokens too) to SQLite. `reset` rewinds the sync cursors.
    pub(crate) fn save_session(&self, session: &SyncSession, reset: bool) -> Result<()> {
        let row = match &self.tokens {
            Some(keys) => keys.take_tokens(session)?,
            None => session.clone(),
        };
        self.with_store(|inner| Ok(inner.store.write(|w| w.save_session_reset(&row, reset))?))
    }

    /// Moves tokens an earlier run kept in SQLite into the secret store (a database opened with
    /// a secret store for the first time), so the file holds none from now on.
    pub(crate) fn move_tokens_to_secret_store(&self) -> Result<()> {
        let Some(keys) = &self.tokens else {
            return Ok(());
        };
        let session = self.with_store(|inner| Ok(inner.store.session()?))?;
        if let Some(session) = session.filter(|s| !s.refresh_token.is_empty()) {
            let row = keys.take_tokens(&session)?;
            self.with_store_long(|inner| {
                inner.store.write(|w| w.save_session(&row))?;
                Ok(inner.store.compact()?)
            })?;
        }
        Ok(())
    }

    /// Forgets the session: tokens (from the secret store too) and sync progress.
    pub(crate) fn forget_session(&self) -> Result<()> {
        if let Some(keys) = &self.tokens {
            keys.forget()?;
        }
        self.with_store(|inner| Ok(inner.store.write(|w| w.clear_session())?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, String>>);

    impl SecretStore for Memory {
        fn load(&self, key: &str) -> std::result::Result<Option<String>, SecretStoreError> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        fn save(&self, key: &str, value: &str) -> std::result::Result<(), SecretStoreError> {
            self.0.lock().unwrap().insert(key.into(), value.into());
            Ok(())
        }
        fn delete(&self, key: &str) -> std::result::Result<(), SecretStoreError> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
    }

    fn session() -> SyncSession {
        SyncSession {
            relay_url: "http://127.0.0.1:1".into(),
            account_id: "a".into(),
            space_id: "s".into(),
            access_token: "acc-token".into(),
            access_expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            refresh_token: "ref-token".into(),
            pull_cursor: 3,
            pushed_seq: 2,
            last_sync_at: None,
            last_error: None,
        }
    }

    #[test]
    fn tokens_go_to_the_secret_store_and_come_back() {
        let memory = Arc::new(Memory::default());
        let keys = TokenKeys::new(memory.clone(), tacho_model::id::DeviceId::new());
        let row = keys.take_tokens(&session()).unwrap();
        assert!(row.access_token.is_empty() && row.refresh_token.is_empty());
        assert_eq!(memory.0.lock().unwrap().len(), 2);
        assert_eq!(keys.fill(row.clone()).unwrap(), session());
        keys.forget().unwrap();
        assert!(memory.0.lock().unwrap().is_empty());
        let err = keys.fill(row).unwrap_err();
        assert!(matches!(err, CoreError::Auth { .. }), "{err}");
    }
}

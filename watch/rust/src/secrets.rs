//! The platform's secret storage, implemented in Swift (Keychain) or Kotlin (Android Keystore)
//! and handed to [`crate::core::Core`] at open, so relay tokens never sit in the SQLite file.

use std::sync::Arc;

/// Why the platform's secret storage failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SecretStoreFailure {
    /// The storage can't be used now (e.g. the Keychain before the first unlock).
    #[error("{reason}")]
    Unavailable {
        /// What the platform said.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SecretStoreFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: e.reason }
    }
}

/// Secret storage implemented by the app. Keys are short ASCII names made by the core, one
/// pair per database; values are the relay's tokens.
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync {
    /// The value saved under `key`, or none.
    fn load(&self, key: String) -> Result<Option<String>, SecretStoreFailure>;
    /// Saves `value` under `key`, replacing what was there.
    fn save(&self, key: String, value: String) -> Result<(), SecretStoreFailure>;
    /// Removes `key`; a missing key is not an error.
    fn delete(&self, key: String) -> Result<(), SecretStoreFailure>;
}

/// Adapts a foreign [`SecretStore`] to the core's.
pub(crate) struct ForeignSecrets(pub(crate) Arc<dyn SecretStore>);

fn failure(e: SecretStoreFailure) -> tacho_core::SecretStoreError {
    tacho_core::SecretStoreError {
        reason: e.to_string(),
    }
}

impl tacho_core::SecretStore for ForeignSecrets {
    fn load(&self, key: &str) -> Result<Option<String>, tacho_core::SecretStoreError> {
        self.0.load(key.to_owned()).map_err(failure)
    }
    fn save(&self, key: &str, value: &str) -> Result<(), tacho_core::SecretStoreError> {
        self.0
            .save(key.to_owned(), value.to_owned())
            .map_err(failure)
    }
    fn delete(&self, key: &str) -> Result<(), tacho_core::SecretStoreError> {
        self.0.delete(key.to_owned()).map_err(failure)
    }
}

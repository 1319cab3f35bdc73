//! Third-party credentials at rest (timesheet tokens, car and OIDC refresh tokens, Zammad webhook
//! secrets): sealed with XChaCha20-Poly1305 under a versioned master key that never touches the
//! database, with the owner (account id), provider and field bound as associated data, so a sealed
//! value copied into another row (or another person's row) does not open.
//!
//! Stored form: `tk1.v<key version>.<nonce, base64url>.<ciphertext+tag, base64url>`.
//!
//! Master keys come from `TACHO_MASTER_KEYS` or `--master-key-file` as `v2:<base64 32 bytes>,v1:…`,
//! newest first. New values are sealed under the newest key; older keys only open. A relay with no
//! key refuses to store or read secrets (503 `secrets_unavailable`); it never invents a key, since a
//! key next to the database it protects protects nothing (see `docs/security.md`).

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use sqlx::Row as _;

use crate::db::{Db, now_ms};

/// Prefix of the stored form; bump when the format changes.
const FORMAT: &str = "tk1";
/// Domain separation of the associated data.
const AD_DOMAIN: &str = "tacho-relay sealed secret tk1";

/// Why a secret could not be sealed or opened, or keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key list is malformed.
    #[error("master keys: {0}")]
    BadKeys(String),
    /// The key file could not be read or is readable by others.
    #[error("master key file: {0}")]
    KeyFile(String),
    /// The stored value is not `tk1.v<n>.<nonce>.<ct>`.
    #[error("sealed value is malformed")]
    Malformed,
    /// The value names a key version that is not configured.
    #[error("sealed under key version {0}, which is not configured")]
    UnknownKey(u32),
    /// Authentication failed: wrong key, or the value belongs to another owner/provider/field.
    #[error("sealed value does not open (wrong key or wrong owner/provider/field)")]
    Open,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The configured master keys, newest first. Its `Debug` shows versions only.
#[derive(Clone)]
pub struct MasterKeys {
    keys: Vec<(u32, [u8; 32])>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<String> = self.keys.iter().map(|(v, _)| format!("v{v}")).collect();
        write!(f, "MasterKeys({})", versions.join(","))
    }
}

impl MasterKeys {
    /// Parses `v2:<base64>,v1:<base64>` (newest first; commas, whitespace or newlines separate;
    /// `#` starts a comment to the end of the line).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut keys: Vec<(u32, [u8; 32])> = Vec::new();
        for item in text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|s| !s.is_empty())
        {
            let (version, key) = item
                .split_once(':')
                .ok_or_else(|| SecretError::BadKeys("expected v<N>:<base64 key>".into()))?;
            let version: u32 = version
                .strip_prefix('v')
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| SecretError::BadKeys(format!("bad key version {version:?}")))?;
            let bytes = b64
                .decode(key.trim())
                .map_err(|_| SecretError::BadKeys(format!("v{version}: key is not base64")))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| SecretError::BadKeys(format!("v{version}: key must be 32 bytes")))?;
            if keys.iter().any(|(v, _)| *v == version) {
                return Err(SecretError::BadKeys(format!("v{version} given twice")));
            }
            keys.push((version, key));
        }
        if keys.is_empty() {
            return Err(SecretError::BadKeys("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// Reads a key file in the same format; on Unix it must not be readable by group or others.
    pub fn from_file(path: &Path) -> Result<Self, SecretError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = std::fs::metadata(path)
                .map_err(|e| SecretError::KeyFile(format!("{}: {e}", path.display())))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::KeyFile(format!(
                    "{} has mode {mode:o}; it must be 0600 (chmod 600)",
                    path.display()
                )));
            }
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretError::KeyFile(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// A fresh random key line (`v<version>:<base64>`), for operators making keys.
    pub fn generate_line(version: u32) -> String {
        let mut key = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        format!(
            "v{version}:{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    /// The version new values are sealed under.
    pub fn newest_version(&self) -> u32 {
        self.keys.first().map_or(0, |(v, _)| *v)
    }

    fn key(&self, version: u32) -> Option<&[u8; 32]> {
        self.keys
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
    }

    /// Seals `plaintext` under the newest key for (`owner`, `provider`, `field`).
    pub fn seal(&self, owner: &str, provider: &str, field: &str, plaintext: &str) -> String {
        let (version, key) = self.keys[0];
        let cipher = XChaCha20Poly1305::new(&key.into());
        let mut nonce = [0_u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(owner, provider, field);
        // Encryption with a valid key and nonce length only fails past ~256 GiB of plaintext.
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{FORMAT}.v{version}.{}.{}",
            b64.encode(nonce),
            b64.encode(ct)
        )
    }

    /// Opens a value sealed for (`owner`, `provider`, `field`).
    pub fn open(
        &self,
        owner: &str,
        provider: &str,
        field: &str,
        sealed: &str,
    ) -> Result<String, SecretError> {
        let (version, nonce, ct) = parse_sealed(sealed)?;
        let key = self.key(version).ok_or(SecretError::UnknownKey(version))?;
        let cipher = XChaCha20Poly1305::new(key.into());
        let aad = associated_data(owner, provider, field);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

/// Length-prefixed, so `("a", "bc")` and `("ab", "c")` differ.
fn associated_data(owner: &str, provider: &str, field: &str) -> Vec<u8> {
    let mut ad =
        Vec::with_capacity(AD_DOMAIN.len() + owner.len() + provider.len() + field.len() + 12);
    ad.extend_from_slice(AD_DOMAIN.as_bytes());
    for part in [owner, provider, field] {
        ad.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    ad
}

fn parse_sealed(sealed: &str) -> Result<(u32, [u8; 24], Vec<u8>), SecretError> {
    let mut parts = sealed.split('.');
    let (Some(FORMAT), Some(version), Some(nonce), Some(ct), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SecretError::Malformed);
    };
    let version: u32 = version
        .strip_prefix('v')
        .and_then(|v| v.parse().ok())
        .ok_or(SecretError::Malformed)?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let nonce: [u8; 24] = b64
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(SecretError::Malformed)?;
    let ct = b64.decode(ct).map_err(|_| SecretError::Malformed)?;
    Ok((version, nonce, ct))
}

/// Seals and stores (or replaces) a secret, inside the caller's transaction.
pub async fn put(
    conn: &mut sqlx::AnyConnection,
    keys: &MasterKeys,
    owner: &str,
    provider: &str,
    field: &str,
    plaintext: &str,
) -> Result<(), SecretError> {
    let sealed = keys.seal(owner, provider, field, plaintext);
    sqlx::query(
        "INSERT INTO sealed_secrets (owner, provider, field, key_version, sealed, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (owner, provider, field) DO UPDATE SET \
         key_version = excluded.key_version, sealed = excluded.sealed, updated_at = excluded.updated_at",
    )
    .bind(owner)
    .bind(provider)
    .bind(field)
    .bind(i64::from(keys.newest_version()))
    .bind(sealed)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads and opens a secret; `None` if there is none.
pub async fn get(
    pool: &sqlx::AnyPool,
    keys: &MasterKeys,
    owner: &str,
    provider: &str,
    field: &str,
) -> Result<Option<String>, SecretError> {
    let row = sqlx::query(
        "SELECT sealed FROM sealed_secrets WHERE owner = $1 AND provider = $2 AND field = $3",
    )
    .bind(owner)
    .bind(provider)
    .bind(field)
    .fetch_optional(pool)
    .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let sealed: String = row.try_get("sealed")?;
            keys.open(owner, provider, field, &sealed).map(Some)
        }
    }
}

/// Removes every secret of `owner` under `provider`, inside the caller's transaction.
pub async fn delete_provider(
    conn: &mut sqlx::AnyConnection,
    owner: &str,
    provider: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sealed_secrets WHERE owner = $1 AND provider = $2")
        .bind(owner)
        .bind(provider)
        .execute(conn)
        .await?;
    Ok(())
}

/// What [`rotate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotateReport {
    /// Secrets in the table.
    pub total: u64,
    /// Re-sealed under the newest key.
    pub resealed: u64,
    /// Already under the newest key, left alone.
    pub current: u64,
}

/// Re-seals every stored secret that is not under the newest key, in one transaction: either all
/// of them move or none does (a value under a key that is not configured aborts the rotation).
/// Afterwards older keys can be dropped from the configuration.
pub async fn rotate(db: &Db, keys: &MasterKeys) -> Result<RotateReport, SecretError> {
    let newest = keys.newest_version();
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query("SELECT owner, provider, field, sealed FROM sealed_secrets")
        .fetch_all(&mut *tx)
        .await?;
    let mut report = RotateReport::default();
    for row in rows {
        report.total += 1;
        let owner: String = row.try_get("owner")?;
        let provider: String = row.try_get("provider")?;
        let field: String = row.try_get("field")?;
        let sealed: String = row.try_get("sealed")?;
        let (version, _, _) = parse_sealed(&sealed)?;
        if version == newest {
            report.current += 1;
            continue;
        }
        let plain = keys.open(&owner, &provider, &field, &sealed)?;
        put(&mut tx, keys, &owner, &provider, &field, &plain).await?;
        report.resealed += 1;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> MasterKeys {
        MasterKeys::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    #[allow(clippy::panic)]
    fn round_trip_and_associated_data_binding() {
        let line = MasterKeys::generate_line(1);
        let k = keys(&line);
        let sealed = k.seal("acct-a", "zammad/1", "api_token", "s3cret-token");
        assert!(sealed.starts_with("tk1.v1."), "{sealed}");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            k.open("acct-a", "zammad/1", "api_token", &sealed).ok(),
            Some("s3cret-token".to_owned())
        );
        for (o, p, f) in [
            ("acct-b", "zammad/1", "api_token"),
            ("acct-a", "zammad/2", "api_token"),
            ("acct-a", "zammad/1", "webhook_secret"),
        ] {
            assert!(matches!(k.open(o, p, f, &sealed), Err(SecretError::Open)));
        }
        // Another key with the same version number does not open it either.
        let other = keys(&MasterKeys::generate_line(1));
        assert!(matches!(
            other.open("acct-a", "zammad/1", "api_token", &sealed),
            Err(SecretError::Open)
        ));
        // A tampered ciphertext does not open.
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        assert!(
            k.open("acct-a", "zammad/1", "api_token", &tampered)
                .is_err()
        );
    }

    #[test]
    fn key_list_parsing() {
        let k = keys(&format!(
            "{}, {}",
            MasterKeys::generate_line(2),
            MasterKeys::generate_line(1)
        ));
        assert_eq!(k.newest_version(), 2);
        assert_eq!(format!("{k:?}"), "MasterKeys(v2,v1)");
        let file = format!(
            "# rotated 2026-11\n{} # new\n\n{}\n",
            MasterKeys::generate_line(3),
            MasterKeys::generate_line(2)
        );
        assert_eq!(keys(&file).newest_version(), 3);
        assert!(MasterKeys::parse("").is_err());
        assert!(MasterKeys::parse("v1:AAAA").is_err());
        assert!(MasterKeys::parse("x1:AAAA").is_err());
        let dup = format!(
            "{},{}",
            MasterKeys::generate_line(1),
            MasterKeys::generate_line(1)
        );
        assert!(MasterKeys::parse(&dup).is_err());
    }

    #[test]
    fn older_versions_open_and_unknown_versions_are_named() {
        let v1 = MasterKeys::generate_line(1);
        let old = keys(&v1);
        let sealed = old.seal("a", "p", "f", "x");
        let both = keys(&format!("{},{v1}", MasterKeys::generate_line(2)));
        assert_eq!(both.open("a", "p", "f", &sealed).ok(), Some("x".to_owned()));
        assert!(both.seal("a", "p", "f", "x").starts_with("tk1.v2."));
        let only_new = keys(&MasterKeys::generate_line(2));
        assert!(matches!(
            only_new.open("a", "p", "f", &sealed),
            Err(SecretError::UnknownKey(1))
        ));
        assert!(matches!(
            only_new.open("a", "p", "f", "tk1.v1.zz"),
            Err(SecretError::Malformed)
        ));
    }
}

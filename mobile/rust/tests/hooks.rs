//! Hook tokens through the Flutter API against a real relay on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacho_e2e::{Backend, Relay, TestDb};
use tacho_flutter::api::error::ApiErrorKind;
use tacho_flutter::api::session::TachoCore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_tokens_are_made_listed_without_secrets_and_revoked() {
    let relay_db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&relay_db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tacho.db").to_string_lossy().into_owned();
    let phone = TachoCore::open(db, "Europe/Amsterdam".into(), None)
        .await
        .unwrap();
    phone
        .signup(
            relay.url.clone(),
            "hooks@example.org".into(),
            "a long passphrase".into(),
        )
        .await
        .unwrap();

    let made = phone
        .create_hook_token(None, Some("CarPlay".into()))
        .await
        .unwrap();
    assert!(made.token.starts_with("tho_"), "{made:?}");
    let listed = phone.hook_tokens().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].id.as_str(), listed[0].label.as_str()),
        (made.id.as_str(), "CarPlay")
    );
    assert_eq!(listed[0].last_used_at, None);
    assert!(
        !format!("{listed:?}").contains(&made.token),
        "a listing never holds the secret"
    );

    // A car the relay does not know is refused with the relay's reason.
    assert!(
        phone
            .create_hook_token(Some("no such car".into()), None)
            .await
            .is_err()
    );

    phone.revoke_hook_token(made.id.clone()).await.unwrap();
    assert!(phone.hook_tokens().await.unwrap().is_empty());
    let again = phone
        .revoke_hook_token(made.id)
        .await
        .expect_err("revoked already");
    assert_eq!(again.kind, ApiErrorKind::NotFound);
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho login --oidc` end to end: the `tacho` binary runs the RFC 8252 loopback flow against a
//! relay on loopback configured with a real OpenID provider (the relay tests' `provider.mjs` in
//! Node), and this test is the browser, following the printed URL by hand.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "../../../server/relay/tests/support/idp.rs"]
mod idp;

use idp::{Idp, LOOPBACK_REDIRECT, RELAY_CLIENT, RELAY_SECRET, User};

fn provider_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../server/relay/tests/oidc-provider")
}

fn tacho(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tacho"));
    c.arg("--db").arg(db).env_remove("TACHO_DB");
    c
}

#[test]
fn login_with_oidc_through_the_loopback_redirect() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let idp = Idp::start_in(&provider_dir(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let relay_db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    let providers = tacho_relay::oidc::config::parse(
        &serde_json::json!({"providers": [{
            "id": "idp", "kind": "generic", "issuer": idp.issuer, "client_id": RELAY_CLIENT,
            "client_secret": RELAY_SECRET, "redirect_uris": [LOOPBACK_REDIRECT]}]})
        .to_string(),
        Path::new("."),
        &|_| None,
    )
    .unwrap();
    let url = rt.block_on(async {
        let mut config = tacho_relay::Config::new(&relay_db);
        config.oidc_providers = providers;
        let state = tacho_relay::AppState::new(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(tacho_relay::serve(listener, state, std::future::pending()));
        url
    });
    let db = dir.path().join("laptop.db");

    let mut child = tacho(&db)
        .args([
            "--json",
            "login",
            "--relay",
            &url,
            "--oidc",
            "idp",
            "--timeout-s",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let printed: serde_json::Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("first line is not the URL as JSON ({e}): {first:?}"));
    let authorization_url = printed["authorization_url"].as_str().unwrap().to_owned();

    let ada = User::new("ada-sub", "ada@example.org");
    let (status, page, stray) = rt.block_on(async {
        let back = idp.authorize(&authorization_url, &ada).await;
        assert!(back.as_str().starts_with("http://127.0.0.1:"), "{back}");
        assert_eq!(back.path(), "/callback");
        let http = reqwest::Client::new();
        // Another program poking the port with a wrong state is turned away; the login waits on.
        let mut wrong = back.clone();
        wrong.set_query(Some("code=stolen&state=not-this-one"));
        let stray = http.get(wrong).send().await.unwrap().status();
        // The browser arrives with the real redirect.
        let res = http.get(back.clone()).send().await.unwrap();
        assert_eq!(
            res.headers()
                .get("referrer-policy")
                .map(|v| v.to_str().unwrap()),
            Some("no-referrer")
        );
        (res.status(), res.text().await.unwrap(), stray)
    });
    assert_eq!(stray, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    assert!(page.contains("signed in"), "{page}");
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(exit.success(), "tacho login --oidc failed: {err}\n{rest}");
    let signed_in: serde_json::Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(signed_in["relay_url"], url.as_str(), "{signed_in}");
    assert!(signed_in["account_id"].is_string(), "{signed_in}");

    // The stored session syncs like a password login's.
    let run = |args: &[&str]| {
        let o = tacho(&db).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "tacho {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    run(&["car", "add", "--name", "Golf", "--plate", "AB-1"]);
    run(&["sync"]);
    let st: serde_json::Value =
        serde_json::from_str(&run(&["--json", "sync", "--status"])).unwrap();
    assert_eq!(st["status"]["account_id"], signed_in["account_id"], "{st}");
    assert_eq!(st["status"]["pending_ops"], 0, "{st}");

    // A second device signing in with the same identity lands in the same account and gets the car.
    let db2 = dir.path().join("desktop.db");
    let mut child = tacho(&db2)
        .args(["login", "--relay", &url, "--oidc", "idp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let printed_url = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no URL printed");
        if line.starts_with("http") {
            break line.trim().to_owned();
        }
    };
    rt.block_on(async {
        let back = idp.authorize(&printed_url, &ada).await;
        let res = reqwest::get(back).await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
    });
    assert!(child.wait().unwrap().success());
    let o = tacho(&db2)
        .args(["--json", "sync", "--status"])
        .output()
        .unwrap();
    let st2: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        st2["status"]["account_id"], signed_in["account_id"],
        "{st2}"
    );
    tacho(&db2).arg("sync").output().unwrap();
    let cars = tacho(&db2)
        .args(["--json", "car", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&cars.stdout).contains("Golf"));

    // Nobody comes back: a sign-in error (exit code 7) after the timeout, nothing stored.
    let db3 = dir.path().join("lonely.db");
    let o = tacho(&db3)
        .args([
            "login",
            "--relay",
            &url,
            "--oidc",
            "idp",
            "--timeout-s",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not come back"));
    // An unknown provider is the relay's 404, reported before any waiting.
    let o = tacho(&db3)
        .args([
            "login",
            "--relay",
            &url,
            "--oidc",
            "nope",
            "--timeout-s",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown_provider"));
}

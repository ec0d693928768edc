//! The `imlink` binary's commands, run as a user would run them.

mod common;

use std::process::Command;

use app::domain::workflow::{Action, ApprovalPolicy};
use common::{article_request, state, user};
use sea_orm::ConnectionTrait;

fn imlink() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imlink"));
    for (key, _) in std::env::vars() {
        if key.starts_with("IMLINK_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("run imlink");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn check_config_names_each_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imlink.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:3000\"\n\n[local_signin]\nenabled = true\n\n[approval]\nquorum = 0\n",
    )
    .unwrap();
    let (code, text) = run(imlink().arg("check-config").arg("--config").arg(&file));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("imlink.toml:7: approval.quorum"), "{text}");
    assert!(text.contains("loopback"), "{text}");

    std::fs::write(&file, "listen = \"127.0.0.1:3000\"\n").unwrap();
    let (code, text) = run(imlink().arg("check-config").arg("--config").arg(&file));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("configuration OK"), "{text}");
}

#[test]
fn serve_refuses_local_sign_in_off_loopback() {
    let (code, text) = run(imlink()
        .arg("serve")
        .env("IMLINK_LISTEN", "0.0.0.0:39999")
        .env("IMLINK_LOCAL_SIGNIN_ENABLED", "true"));
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("only allowed when listening on a loopback address"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reports_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (code, text) = run(imlink().arg("migrate").env("IMLINK_DATA_DIR", &data));
    assert_eq!(code, 0, "{text}");

    let url = format!("sqlite://{data}/imlink.db?mode=rwc");
    let db = server::database::connect(&url, 2).await.unwrap();
    let s = state(&db, ApprovalPolicy::default());
    let alice = user(&db, "alice").await;
    let id = app::ssr::requests::create(&s, &alice, &article_request())
        .await
        .unwrap();
    app::ssr::requests::transition(&s, &alice, id, 1, Action::Submit)
        .await
        .unwrap();

    let (code, text) = run(imlink()
        .args(["audit", "verify"])
        .env("IMLINK_DATA_DIR", &data));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("audit chain intact: 2 events"), "{text}");

    db.execute_unprepared("DROP TRIGGER audit_events_no_update")
        .await
        .unwrap();
    db.execute_unprepared("UPDATE audit_events SET detail = 'nothing to see' WHERE id = 1")
        .await
        .unwrap();
    db.close().await.unwrap();
    let (code, text) = run(imlink()
        .args(["audit", "verify"])
        .env("IMLINK_DATA_DIR", &data));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("BROKEN at event #1"), "{text}");
}

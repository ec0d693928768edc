//! The PowerShell directory source against the lab through the `local` executor (`imlink
//! lab-shell` spawned as the PowerShell program): every person read as the lab's own source
//! describes them, one at a time and in bulk; suggestions; hostile identifiers kept inside
//! their literals; an unreachable shell one clear message; and the CLI on this source.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use app::procedure::eligibility::Read;
use app::ssr::directory::{Directory, DirectoryError, Record, Source};
use server::config::ExecutorConfig;
use server::directory::powershell::PowerShellDirectory;
use server::executor::Executor;
use server::lab::LabState;
use server::lab::store::LabStore;

fn through(config: &ExecutorConfig) -> PowerShellDirectory {
    PowerShellDirectory::new(Executor::new(
        config,
        LabStore::new(sea_orm::DatabaseConnection::default()),
    ))
}

/// The PowerShell source on a fresh Litware lab state in `dir`.
fn on_lab(dir: &Path) -> PowerShellDirectory {
    through(&common::local_lab_shell(&dir.join("lab.json")))
}

/// A record as both sources can tell it: the mailbox database only as set or not (the lab
/// names it by distinguished name, `Get-Mailbox` by name), and, for people without a mailbox,
/// the account, e-mail and proxy addresses as not read (`Get-Mailbox` reports them for
/// mailboxes only).
fn comparable(record: &Record) -> Record {
    let mut record = record.clone();
    let p = &mut record.person;
    if let Read::Value(_) = p.home_mdb {
        p.home_mdb = Read::Value("set".into());
    } else {
        p.user_account_control = Read::Unknown(String::new());
        p.proxy_addresses = Read::Unknown(String::new());
        record.entry.mail = None;
    }
    record
}

fn lab_records() -> BTreeMap<String, Record> {
    let lab = LabState::scenario("litware").unwrap();
    lab.users
        .iter()
        .map(|u| (u.upn.clone(), comparable(&u.record(&lab.databases))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_reads_as_the_lab_describes_them_in_bulk_and_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let directory = on_lab(dir.path());
    assert_eq!(directory.source(), Source::PowerShell);
    let lab = lab_records();

    let mut pages = directory.people(None, 300).await.unwrap();
    let mut read = BTreeMap::new();
    while let Some(page) = pages.next().await.unwrap() {
        assert!(!page.is_empty() && page.len() <= 300, "{}", page.len());
        for r in page {
            let upn = r.entry.upn.clone();
            assert!(
                read.insert(upn.clone(), comparable(&r)).is_none(),
                "{upn} twice"
            );
        }
    }
    // Everyone with a mailbox or a Lync account; only people with neither are not seen.
    let unseen: Vec<&String> = lab.keys().filter(|u| !read.contains_key(*u)).collect();
    assert_eq!(
        unseen,
        ["user0899@litwareinc.com", "user1798@litwareinc.com"]
    );
    for (upn, r) in &read {
        assert_eq!(Some(r), lab.get(upn), "{upn}");
    }

    // Below an organizational unit: everyone there, nobody from elsewhere.
    let mut pages = directory
        .people(Some("OU=Elsewhere,DC=litwareinc,DC=com"), 300)
        .await
        .unwrap();
    assert_eq!(pages.next().await.unwrap(), None);

    // One at a time, by any of their names: a mailbox without Lync, Exchange 2010, an
    // Executive, Lync without a mailbox.
    for (name, upn) in [
        ("user0031@litwareinc.com", "user0031@litwareinc.com"),
        ("sip:USER0013@litwareinc.com", "user0013@litwareinc.com"),
        ("user0005", "user0005@litwareinc.com"),
        ("user0058@litwareinc.com", "user0058@litwareinc.com"),
    ] {
        let r = directory.find(name).await.unwrap();
        assert_eq!(Some(&comparable(&r)), lab.get(upn), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let directory = on_lab(dir.path());
    let found = directory.search("User 001", 5).await.unwrap();
    assert_eq!(found.len(), 5);
    assert!(found.windows(2).all(|w| w[0].upn < w[1].upn));
    assert!(found.iter().all(|p| p.display_name.starts_with("User 001")));

    assert!(matches!(
        directory.find("nobody@litwareinc.com").await,
        Err(DirectoryError::NotFound(_))
    ));
    // Hostile text stays a literal: nothing found, nothing run, the lab unchanged.
    let state = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join("lab.json")).unwrap()).unwrap()
    };
    let before = state();
    for hostile in [
        "x'; Remove-CsTrustedApplicationPool -Identity 'a' -Force; '",
        "x’; Set-OwaVirtualDirectory -Identity a -InstantMessagingEnabled $false; ‘",
        "$(Remove-Item C:\\ -Recurse)",
    ] {
        assert!(
            matches!(
                directory.find(hostile).await,
                Err(DirectoryError::NotFound(_))
            ),
            "{hostile}"
        );
        assert!(directory.search(hostile, 5).await.unwrap().is_empty());
    }
    assert_eq!(state(), before, "read-only");

    // No PowerShell program at all: one clear message naming the settings to fix.
    let broken = through(&ExecutorConfig {
        powershell: "/nonexistent/powershell.exe".into(),
        ..common::local_lab_shell(dir.path())
    });
    match broken.find("user0001").await {
        Err(DirectoryError::Unavailable(message)) => {
            assert!(message.contains("[executor]"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// `imlink eligibility check` with `directory.source = "powershell"` through the lab-shell.
#[test]
fn the_cli_reads_people_through_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("imlink.toml");
    let args = common::local_lab_shell(&dir.path().join("lab.json"));
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n[directory]\nsource = \"powershell\"\n[executor]\nkind = \"local\"\npowershell = {ps:?}\npowershell_args = {args:?}\n",
            data = dir.path().join("data"),
            ps = args.powershell,
            args = args.powershell_args,
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imlink"))
        .args(["--config"])
        .arg(&config)
        .args(["eligibility", "check", "user0010", "--format", "json"])
        .env_remove("IMLINK_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["upn"], "user0010@litwareinc.com");
    assert_eq!(json["eligible"], false);
    assert_eq!(
        json["reasons"],
        serde_json::json!(["lync_not_enabled", "owa_policy_im_off"])
    );
}

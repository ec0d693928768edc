//! The LDAP directory source against a real OpenLDAP server (`.ci/slapd.sh`) loaded with the
//! lab's 2,000 people as Active Directory stores them: every person read back as the lab
//! describes them, by paged search and one at a time; filters escaped; StartTLS and TLS with a
//! test CA; each fault (wrong password, untrusted certificate, unreachable server, wrong base,
//! the server dying mid-search) one clear message naming the key to fix; a bulk check that
//! outlives its worker and the directory finishes with everyone counted once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use app::ssr::directory::{Directory, DirectoryError, Record, Source};
use app::ssr::eligibility;
use common::{Backend, TestDb};
use server::config::LdapConfig;
use server::directory::ldap::LdapDirectory;
use server::lab::LabState;

const BASE: &str = "dc=imlink,dc=test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A throwaway slapd holding the Litware lab's people; stopped on drop.
struct Slapd {
    dir: tempfile::TempDir,
    port: u16,
}

impl Slapd {
    fn start() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let lab = LabState::scenario("litware").unwrap();
        let ldif = dir.path().join("people.ldif");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&ldif).unwrap());
        server::lab::ldif::write(&mut file, BASE, &lab.users, &lab.databases).unwrap();
        drop(file);
        let port = common::two_free_ports();
        let out = Command::new(repo().join(".ci/slapd.sh"))
            .arg("start")
            .arg(dir.path().join("ldap"))
            .arg(port.to_string())
            .arg(&ldif)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapd.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Slapd { dir, port }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("ldap").join(name)
    }

    fn script(&self, verb: &str) {
        let status = Command::new(repo().join(".ci/slapd.sh"))
            .arg(verb)
            .arg(self.dir.path().join("ldap"))
            .status()
            .unwrap();
        assert!(status.success(), "slapd.sh {verb}");
    }

    /// StartTLS on the plain port, trusting the test CA, bound as the directory's reader.
    fn config(&self) -> LdapConfig {
        LdapConfig {
            url: format!("ldap://127.0.0.1:{}", self.port),
            starttls: true,
            ca_file: Some(self.file("ca.pem")),
            bind_dn: format!("cn=imlink,{BASE}"),
            password_file: Some(self.file("password")),
            base_dn: BASE.into(),
            page_size: 300,
            timeout_seconds: 10,
            ..LdapConfig::default()
        }
    }

    fn directory(&self) -> LdapDirectory {
        LdapDirectory::new(&self.config()).unwrap()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = Command::new(repo().join(".ci/slapd.sh"))
            .arg("stop")
            .arg(self.dir.path().join("ldap"))
            .status();
    }
}

/// The lab's people as its own directory describes them, by UPN.
fn lab_records() -> Vec<Record> {
    let lab = LabState::scenario("litware").unwrap();
    lab.users.iter().map(|u| u.record(&lab.databases)).collect()
}

/// Everyone the directory gives, page by page.
async fn everyone(directory: &dyn Directory, base: Option<&str>) -> Vec<Record> {
    let mut pages = directory.people(base, 250).await.unwrap();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await.unwrap() {
        assert!(page.len() <= 250);
        all.extend(page);
    }
    all
}

/// A record as the rules see it, with the mailbox database named only by whether it is set
/// (the lab and the LDAP server store it under different distinguished names).
fn comparable(record: &Record) -> Record {
    use app::procedure::eligibility::Read;
    let mut record = record.clone();
    if let Read::Value(_) = record.person.home_mdb {
        record.person.home_mdb = Read::Value("set".into());
    }
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_reads_back_as_the_lab_describes_them() {
    let slapd = Slapd::start();
    let directory = slapd.directory();
    assert_eq!(directory.source(), Source::Ldap);
    let mut read = everyone(&directory, None).await;
    let mut expected = lab_records();
    assert_eq!(read.len(), 2000);
    read.sort_by(|a, b| a.entry.upn.cmp(&b.entry.upn));
    expected.sort_by(|a, b| a.entry.upn.cmp(&b.entry.upn));
    for (ldap, lab) in read.iter().zip(&expected) {
        assert_eq!(comparable(ldap), comparable(lab), "{}", lab.entry.upn);
    }
    // The references resolved as Active Directory stores them.
    let user13 = read
        .iter()
        .find(|r| r.entry.upn == "user0013@litwareinc.com")
        .unwrap();
    assert_eq!(
        user13.person.mailbox_server_version,
        app::procedure::eligibility::Read::Value("Version 14.3 (Build 123.4)".into())
    );
    // A base below the whole directory: only the people under it.
    assert_eq!(
        everyone(&directory, Some(&format!("ou=People,{BASE}")))
            .await
            .len(),
        2000
    );
    assert!(
        everyone(&directory, Some(&format!("ou=Lync,{BASE}")))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_found_by_any_name_and_filters_are_never_interpreted() {
    let slapd = Slapd::start();
    let directory = slapd.directory();
    for name in [
        "user0010@litwareinc.com",
        "USER0010@LITWAREINC.COM",
        "sip:user0010@litwareinc.com",
        "SIP:User0010@litwareinc.com",
        "user0010",
    ] {
        let record = directory.find(name).await.unwrap();
        assert_eq!(record.entry.upn, "user0010@litwareinc.com", "{name}");
    }
    let lab = lab_records();
    let expected = lab
        .iter()
        .find(|r| r.entry.upn == "user0019@litwareinc.com")
        .unwrap();
    let found = directory.find("user0019").await.unwrap();
    assert_eq!(comparable(&found), comparable(expected));

    for hostile in [
        "*",
        "user00*",
        "*)(userPrincipalName=*",
        "user0010)(|(cn=*",
        "\\2a",
    ] {
        assert_eq!(
            directory.find(hostile).await,
            Err(DirectoryError::NotFound(hostile.into())),
            "{hostile}"
        );
    }
    let suggestions = directory.search("user001", 5).await.unwrap();
    let upns: Vec<&str> = suggestions.iter().map(|p| p.upn.as_str()).collect();
    assert_eq!(upns.len(), 5, "{upns:?}");
    assert!(upns.iter().all(|u| u.starts_with("user001")), "{upns:?}");
    assert!(upns.windows(2).all(|w| w[0] <= w[1]), "sorted: {upns:?}");
    assert_eq!(directory.search("User 0042", 10).await.unwrap().len(), 1);
    assert!(directory.search("*", 10).await.unwrap().is_empty());
    assert!(directory.search(")(cn=*", 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_one_message_naming_the_key_to_fix() {
    let slapd = Slapd::start();
    let unavailable = |config: LdapConfig| async move {
        match LdapDirectory::new(&config).unwrap().find("user0001").await {
            Err(DirectoryError::Unavailable(message)) => message,
            other => panic!("expected the directory to be unavailable, got {other:?}"),
        }
    };
    // TLS from the start works as StartTLS does.
    let ldaps = LdapConfig {
        url: format!("ldaps://127.0.0.1:{}", slapd.port + 1),
        starttls: false,
        ..slapd.config()
    };
    let found = LdapDirectory::new(&ldaps).unwrap().find("user0001").await;
    assert_eq!(found.unwrap().entry.upn, "user0001@litwareinc.com");

    let wrong = slapd.dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let message = unavailable(LdapConfig {
        password_file: Some(wrong),
        ..slapd.config()
    })
    .await;
    assert!(message.contains("invalid credentials"), "{message}");
    assert!(
        message.contains("directory.ldap.password_file"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");

    let message = unavailable(LdapConfig {
        ca_file: Some(slapd.file("other-ca.pem")),
        ..ldaps.clone()
    })
    .await;
    assert!(message.contains("not trusted"), "{message}");
    assert!(message.contains("directory.ldap.ca_file"), "{message}");
    let message = unavailable(LdapConfig {
        ca_file: Some(slapd.file("other-ca.pem")),
        ..slapd.config()
    })
    .await;
    assert!(message.contains("directory.ldap.ca_file"), "{message}");

    let closed = common::free_port();
    let message = unavailable(LdapConfig {
        url: format!("ldap://127.0.0.1:{closed}"),
        ..slapd.config()
    })
    .await;
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains("directory.ldap.url"), "{message}");

    let message = unavailable(LdapConfig {
        base_dn: "ou=Nowhere,dc=imlink,dc=test".into(),
        ..slapd.config()
    })
    .await;
    assert!(message.contains("directory.ldap.base_dn"), "{message}");

    // Anonymous binds read nothing on this server: nobody is found, nothing is invented.
    let anonymous = LdapConfig {
        bind_dn: String::new(),
        password_file: None,
        ..slapd.config()
    };
    let found = LdapDirectory::new(&anonymous)
        .unwrap()
        .find("user0001")
        .await;
    assert!(
        matches!(
            found,
            Err(DirectoryError::NotFound(_) | DirectoryError::Unavailable(_))
        ),
        "{found:?}"
    );

    let missing = LdapDirectory::new(&LdapConfig {
        ca_file: Some(slapd.dir.path().join("absent.pem")),
        ..slapd.config()
    });
    let message = missing.err().unwrap().to_string();
    assert!(message.starts_with("directory.ldap.ca_file:"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_dying_mid_search_is_an_error_not_a_short_list() {
    let slapd = Slapd::start();
    let directory = slapd.directory();
    let mut pages = directory.people(None, 100).await.unwrap();
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.len(), 100);
    slapd.script("kill");
    let mut outcome = Ok(Some(Vec::new()));
    let mut count = first.len();
    while let Ok(Some(page)) = &outcome {
        count += page.len();
        outcome = pages.next().await;
    }
    assert!(count < 2000, "{count}");
    match outcome {
        Err(DirectoryError::Unavailable(_)) => {}
        other => panic!("a stopped server must fail the search, got {other:?}"),
    }
    slapd.script("resume");
    assert_eq!(everyone(&directory, None).await.len(), 2000);
}

/// Checks through the portal's service with the LDAP source: stored with their source, and
/// the same verdicts as the lab's own directory gives.
async fn checks_through_ldap_are_stored_and_agree_with_the_lab(backend: Backend) {
    let slapd = Slapd::start();
    let t = TestDb::new(backend).await;
    let (lab_state, _) = common::lab_state(&t.db);
    let mut settings = lab_state.settings.as_ref().clone();
    settings.directory = Some(Arc::new(slapd.directory()));
    let ldap_state = common::state_with(&t.db, settings);
    let helpdesk = common::user(&t.db, "hana").await;
    for upn in [
        "user0010", "user0013", "user0019", "user0037", "user0041", "user0001",
    ] {
        let (_, from_lab) = eligibility::judge(&lab_state, upn).await.unwrap();
        let (_, from_ldap) = eligibility::judge(&ldap_state, upn).await.unwrap();
        assert_eq!(from_ldap.verdict, from_lab.verdict, "{upn}");
        assert_eq!(from_ldap.reasons(), from_lab.reasons(), "{upn}");
    }
    let id = eligibility::check(&ldap_state, &helpdesk, "user0010")
        .await
        .unwrap();
    let view = eligibility::view(&ldap_state, &helpdesk, id).await.unwrap();
    assert_eq!(view.check.source, "ldap");
    assert!(!view.can_simulate, "only the lab can simulate a sign-in");
}

/// `imlink eligibility` configured for the LDAP source through `IMLINK_DIRECTORY_*`.
#[test]
fn the_cli_reads_the_configured_ldap_directory() {
    let slapd = Slapd::start();
    let data = tempfile::tempdir().unwrap();
    let config = slapd.config();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_imlink"))
            .arg("eligibility")
            .args(args)
            .env("IMLINK_DATA_DIR", data.path())
            .env_remove("IMLINK_DATABASE_URL")
            .env_remove("IMLINK_CONFIG")
            .env("IMLINK_DIRECTORY_SOURCE", "ldap")
            .env("IMLINK_DIRECTORY_LDAP_URL", &config.url)
            .env("IMLINK_DIRECTORY_LDAP_STARTTLS", "true")
            .env("IMLINK_DIRECTORY_LDAP_CA_FILE", slapd.file("ca.pem"))
            .env("IMLINK_DIRECTORY_LDAP_BIND_DN", &config.bind_dn)
            .env(
                "IMLINK_DIRECTORY_LDAP_PASSWORD_FILE",
                slapd.file("password"),
            )
            .env("IMLINK_DIRECTORY_LDAP_BASE_DN", BASE)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(&["check", "user0013", "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["reasons"],
        serde_json::json!(["mailbox_not_exchange_2013", "owa_policy_im_off"])
    );
    let (code, out, err) = run(&["scan", "--base-dn", &format!("ou=People,{BASE}")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 2001, "a header and everyone once");
    assert!(err.contains("checked 2000"), "{err}");
    assert!(Path::new(&slapd.file("ca.pem")).exists());
}

/// A bulk check over LDAP whose worker dies after one page while slapd goes down: the rescued
/// check waits for the directory (retrying, not failing), and once slapd is back it finishes
/// with every person counted once.
async fn a_bulk_check_survives_its_worker_and_the_directory_going_down(backend: Backend) {
    use app::domain::scans::{ScanInput, ScanState};
    use app::ssr::eligibility::scans;
    use app::ssr::entities::eligibility_scans;
    use sea_orm::{EntityTrait, Set};

    let slapd = Slapd::start();
    let t = TestDb::new(backend).await;
    let (lab_state, store) = common::lab_state(&t.db);
    let mut settings = lab_state.settings.as_ref().clone();
    settings.directory = Some(Arc::new(slapd.directory()));
    let s = common::state_with(&t.db, settings);
    let hana = common::user(&t.db, "hana").await;
    let everyone = ScanInput {
        scope: "directory".into(),
        ..ScanInput::default()
    };
    let id = scans::request(&s, &hana, &everyone).await.unwrap();

    // A worker takes it, stores one page, and dies with the directory.
    common::claim_and_store_one_page(&s, 300).await;
    slapd.script("kill");
    let expire = |run_after: bool| {
        let db = t.db.clone();
        async move {
            let past = chrono::Utc::now() - chrono::Duration::seconds(1);
            let mut row = eligibility_scans::ActiveModel {
                id: Set(id),
                ..Default::default()
            };
            if run_after {
                row.run_after = Set(past);
            } else {
                row.lease_until = Set(Some(past));
            }
            eligibility_scans::Entity::update(row)
                .exec(&db)
                .await
                .unwrap();
        }
    };
    expire(false).await;
    assert_eq!(scans::rescue(&t.db, 5).await.unwrap(), 1);

    // Another worker finds the directory down: the check waits and retries.
    let executor =
        server::executor::Executor::new(&server::config::ExecutorConfig::default(), store);
    let w = server::worker::Worker::new(s.db.clone(), s.settings.clone(), executor, "w2".into());
    assert!(w.scan_tick().await.unwrap());
    let v = scans::view(&s, &hana, id, app::views::ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(v.summary.state, ScanState::Queued);
    assert!(
        v.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("retrying:"),
        "{:?}",
        v.reason
    );
    assert_eq!(v.summary.checked, 300);

    // slapd is back: the check finishes, everyone once.
    slapd.script("resume");
    expire(true).await;
    while w.scan_tick().await.unwrap() {}
    let v = scans::view(&s, &hana, id, app::views::ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(v.summary.state, ScanState::Succeeded, "{:?}", v.reason);
    assert_eq!(v.summary.checked, 2000);
    assert_eq!(v.matching, 2000);
}

on_both_databases!(
    checks_through_ldap_are_stored_and_agree_with_the_lab,
    a_bulk_check_survives_its_worker_and_the_directory_going_down,
);

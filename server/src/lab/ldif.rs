//! The lab's directory as LDIF, laid out as Active Directory stores the attributes the
//! eligibility rules read, for loading into an LDAP server (`.ci/slapd.sh`, with the schema
//! `.ci/ldap/ad-schema.ldif`): the people, their mailbox databases (`msExchOwningServer`),
//! the Exchange servers (`serialNumber`: the version) and the registrar pools
//! (`dNSHostName`).
//!
//! Under `BASE`: `ou=People` (a person is `cn=<sAMAccountName>`), `ou=Exchange` (servers,
//! databases, OWA mailbox policies) and `ou=Lync` (a pool is `cn=<FQDN>`; a person's
//! `msRTCSIP-PrimaryHomeServer` names `cn=Lc Services,cn=Microsoft` below it, as Lync does).

use std::collections::BTreeSet;
use std::io::{self, Write};

use base64::Engine;
use ldap3::dn_escape;

use super::directory::{MailboxDatabase, User};
use app::procedure::facts::same_name;

/// Writes `users` and `databases` as LDIF entries below `base` (which must exist).
pub fn write(
    out: &mut impl Write,
    base: &str,
    users: &[User],
    databases: &[MailboxDatabase],
) -> io::Result<()> {
    let dn = Names { base };
    for ou in ["People", "Exchange", "Lync"] {
        entry(
            out,
            &format!("ou={ou},{base}"),
            &[("objectClass", "organizationalUnit"), ("ou", ou)],
        )?;
    }
    let servers: BTreeSet<(&str, &str)> = databases
        .iter()
        .map(|d| (d.server.as_str(), d.admin_display_version.as_str()))
        .collect();
    for (server, version) in servers {
        entry(
            out,
            &dn.server(server),
            &[
                ("objectClass", "device"),
                ("cn", server),
                ("serialNumber", version),
            ],
        )?;
    }
    for database in databases {
        entry(
            out,
            &dn.database(&database.name),
            &[
                ("objectClass", "device"),
                ("objectClass", "portalMailboxDatabase"),
                ("cn", &database.name),
                ("msExchOwningServer", &dn.server(&database.server)),
            ],
        )?;
    }
    let pools: BTreeSet<&str> = users
        .iter()
        .filter_map(|u| u.lync.as_ref()?.registrar_pool.as_deref())
        .collect();
    for pool in pools {
        entry(
            out,
            &dn.pool(pool),
            &[
                ("objectClass", "device"),
                ("objectClass", "portalHost"),
                ("cn", pool),
                ("dNSHostName", pool),
            ],
        )?;
    }
    for user in users {
        person(out, &dn, user, databases)?;
    }
    Ok(())
}

/// The distinguished names of the entries below `base`.
struct Names<'a> {
    base: &'a str,
}

impl Names<'_> {
    fn server(&self, fqdn: &str) -> String {
        format!("cn={},ou=Exchange,{}", dn_escape(fqdn), self.base)
    }

    fn database(&self, name: &str) -> String {
        format!("cn={},ou=Exchange,{}", dn_escape(name), self.base)
    }

    fn policy(&self, name: &str) -> String {
        format!(
            "cn={},cn=OWA Mailbox Policies,ou=Exchange,{}",
            dn_escape(name),
            self.base
        )
    }

    fn pool(&self, fqdn: &str) -> String {
        format!("cn={},ou=Lync,{}", dn_escape(fqdn), self.base)
    }

    fn person(&self, sam_account_name: &str) -> String {
        format!("cn={},ou=People,{}", dn_escape(sam_account_name), self.base)
    }
}

fn person(
    out: &mut impl Write,
    dn: &Names,
    user: &User,
    databases: &[MailboxDatabase],
) -> io::Result<()> {
    let control = if user.disabled { "514" } else { "512" };
    let mut attributes: Vec<(&str, String)> = vec![
        ("objectClass", "inetOrgPerson".into()),
        ("objectClass", "portalAdUser".into()),
        ("cn", user.sam_account_name.clone()),
        ("sn", user.display_name.clone()),
        ("displayName", user.display_name.clone()),
        ("sAMAccountName", user.sam_account_name.clone()),
        ("userPrincipalName", user.upn.clone()),
        ("userAccountControl", control.into()),
    ];
    if let Some(mail) = user.mail() {
        attributes.push(("mail", mail.into()));
    }
    for address in &user.proxy_addresses {
        attributes.push(("proxyAddresses", address.clone()));
    }
    if let Some(lync) = &user.lync {
        let enabled = if lync.enabled { "TRUE" } else { "FALSE" };
        attributes.push(("msRTCSIP-UserEnabled", enabled.into()));
        attributes.push(("msRTCSIP-PrimaryUserAddress", lync.sip_address.clone()));
        if let Some(pool) = &lync.registrar_pool {
            let home = format!("cn=Lc Services,cn=Microsoft,{}", dn.pool(pool));
            attributes.push(("msRTCSIP-PrimaryHomeServer", home));
        }
    }
    if let Some(mailbox) = &user.mailbox {
        attributes.push((
            "msExchRecipientTypeDetails",
            mailbox.kind.code().to_string(),
        ));
        let database = databases
            .iter()
            .find(|d| same_name(&d.name, &mailbox.database))
            .map_or(mailbox.database.as_str(), |d| d.name.as_str());
        attributes.push(("homeMDB", dn.database(database)));
        if let Some(policy) = &mailbox.owa_policy {
            attributes.push(("msExchOWAPolicy", dn.policy(policy)));
        }
    }
    let attributes: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    entry(out, &dn.person(&user.sam_account_name), &attributes)
}

/// One entry, its values written plainly when LDIF allows and base64-encoded otherwise.
fn entry(out: &mut impl Write, dn: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
    line(out, "dn", dn)?;
    for (name, value) in attributes {
        line(out, name, value)?;
    }
    writeln!(out)
}

fn line(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    if is_safe(value) {
        writeln!(out, "{name}: {value}")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        writeln!(out, "{name}:: {encoded}")
    }
}

/// RFC 2849's SAFE-STRING: printable ASCII, not starting with a space, colon or `<`, and not
/// ending with a space.
fn is_safe(value: &str) -> bool {
    !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ')
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_ldif_cannot_hold_plainly_are_base64() {
        let mut out = Vec::new();
        line(&mut out, "cn", "plain").unwrap();
        line(&mut out, "cn", ":colon").unwrap();
        line(&mut out, "cn", "Zoë").unwrap();
        line(&mut out, "cn", "a\nb").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "cn: plain\ncn:: OmNvbG9u\ncn:: Wm/Dqw==\ncn:: YQpi\n"
        );
    }

    #[test]
    fn every_person_and_what_they_refer_to_is_written() {
        let users = super::super::directory::users(60, "pool01.litwareinc.com");
        let databases = super::super::directory::databases("atl-ex2013-001.litwareinc.com");
        let mut out = Vec::new();
        write(&mut out, "dc=imlink,dc=test", &users, &databases).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\nobjectClass: inetOrgPerson\n").count(), 60);
        assert!(text.contains(
            "dn: cn=atl-ex2010-001.litwareinc.com,ou=Exchange,dc=imlink,dc=test\n\
             objectClass: device\ncn: atl-ex2010-001.litwareinc.com\n\
             serialNumber: Version 14.3 (Build 123.4)\n"
        ));
        assert!(text.contains(
            "msRTCSIP-PrimaryHomeServer: cn=Lc Services,cn=Microsoft,\
             cn=pool01.litwareinc.com,ou=Lync,dc=imlink,dc=test\n"
        ));
        assert!(text.contains("homeMDB: cn=DB2010-01,ou=Exchange,dc=imlink,dc=test\n"));
        assert!(text.contains("userAccountControl: 514\n"));
        assert!(text.contains("msRTCSIP-UserEnabled: FALSE\n"));
    }
}

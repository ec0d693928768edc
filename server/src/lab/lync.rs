//! Lync Server 2013 as the lab models it: the cmdlets that create, read and remove trusted
//! application pools and applications, and topology publishing.

use serde::{Deserialize, Serialize};

use super::interpreter::{Arg, Invocation, PsError};
use super::value::{Object, Value};
use app::procedure::facts::same_name;

/// A Lync site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// e.g. `Site:Redmond`.
    pub identity: String,
    pub site_id: String,
    pub display_name: String,
}

/// A Front End pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub fqdn: String,
    pub site_id: String,
    pub services: Vec<String>,
    /// The services' `Version` (5: Lync Server 2010, 6: Lync Server 2013).
    #[serde(default = "lync_2013")]
    pub version: u32,
}

/// The service version of Lync Server 2013 (labs stored before pools had versions).
fn lync_2013() -> u32 {
    6
}

/// A trusted application pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrustedPool {
    pub fqdn: String,
    /// `Registrar:<fqdn>`, or empty.
    pub registrar: String,
    /// The site's SiteId.
    pub site_id: String,
    pub requires_replication: bool,
    pub service_number: u32,
    /// The pool's computers by FQDN: the `-ComputerFqdn` it was created with (else the pool's
    /// own name), then those added with `New-CsTrustedApplicationComputer`.
    #[serde(default)]
    pub computers: Vec<String>,
}

impl TrustedPool {
    /// Whether the pool has only its default computer, named as the pool (it can take no
    /// other, and Lync knows it by the pool's name alone).
    pub fn single_default_computer(&self) -> bool {
        self.computers.is_empty()
            || (self.computers.len() == 1 && same_name(&self.computers[0], &self.fqdn))
    }
}

/// A trusted application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrustedApplication {
    pub pool_fqdn: String,
    /// As given (the identity stores it lower-cased).
    pub application_id: String,
    pub port: u16,
}

/// What is configured (the Central Management Store) and what Lync runs (the last published
/// topology).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub trusted_pools: Vec<TrustedPool>,
    pub trusted_applications: Vec<TrustedApplication>,
}

/// The Lync side of the lab.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LyncState {
    pub sites: Vec<Site>,
    pub pools: Vec<Pool>,
    /// Configuration as the cmdlets see it, including unpublished changes.
    pub configured: Topology,
    /// What `Enable-CsTopology` last published: what Lync acts on.
    pub published: Topology,
    pub next_service_number: u32,
}

/// The named arguments of a call, checked against the cmdlet's parameters.
struct Bound<'c> {
    call: &'c Invocation,
}

impl<'c> Bound<'c> {
    fn new(call: &'c Invocation, allowed: &[&str]) -> Result<Self, PsError> {
        for arg in &call.args {
            match arg {
                Arg::Named(name, _) => {
                    if !allowed.iter().any(|a| same_name(a, name))
                        && !["Force", "WhatIf", "Confirm", "Verbose"]
                            .iter()
                            .any(|a| same_name(a, name))
                    {
                        return Err(PsError::terminating(format!(
                            "{}: A parameter cannot be found that matches parameter name '{name}'.",
                            call.name
                        )));
                    }
                }
                Arg::Positional(_) => {}
            }
        }
        Ok(Bound { call })
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.call.args.iter().find_map(|a| match a {
            Arg::Named(n, Some(v)) if same_name(n, name) => Some(v),
            _ => None,
        })
    }

    /// `-Identity` or the first positional argument.
    fn identity(&self) -> Option<String> {
        self.get("Identity")
            .or_else(|| {
                self.call.args.iter().find_map(|a| match a {
                    Arg::Positional(v) => Some(v),
                    _ => None,
                })
            })
            .map(|v| v.to_string())
    }

    fn text(&self, name: &str) -> Result<String, PsError> {
        self.get(name).map(|v| v.to_string()).ok_or_else(|| {
            PsError::terminating(format!(
                "{}: Cannot process command because of one or more missing mandatory parameters: {name}.",
                self.call.name
            ))
        })
    }

    fn int(&self, name: &str) -> Result<i64, PsError> {
        match self.get(name) {
            Some(Value::Int(n)) => Ok(*n),
            Some(other) => other.to_string().trim().parse().map_err(|_| {
                PsError::terminating(format!(
                    "{}: Cannot bind parameter '{name}'. Cannot convert value \"{other}\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"",
                    self.call.name
                ))
            }),
            None => Err(PsError::terminating(format!(
                "{}: Cannot process command because of one or more missing mandatory parameters: {name}.",
                self.call.name
            ))),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, PsError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(PsError::terminating(format!(
                "{}: Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{other}\" to type \"System.Boolean\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
                self.call.name
            ))),
        }
    }
}

/// Strips `TrustedApplicationPool:` from a pool identity.
fn pool_fqdn(identity: &str) -> &str {
    identity
        .split_once(':')
        .filter(|(kind, _)| same_name(kind, "TrustedApplicationPool"))
        .map_or(identity, |(_, fqdn)| fqdn)
}

impl LyncState {
    /// The Lync side the facts describe; existing trusted pools and applications are
    /// published.
    pub fn from_facts(facts: &app::procedure::facts::LyncFacts) -> LyncState {
        let site_id_of = |identity: &str| {
            facts
                .sites
                .iter()
                .find(|s| same_name(&s.identity, identity))
                .map_or(identity.to_string(), |s| s.site_id.clone())
        };
        let topology = Topology {
            trusted_pools: facts
                .trusted_pools
                .iter()
                .enumerate()
                .map(|(i, p)| TrustedPool {
                    fqdn: p.pool_fqdn.clone(),
                    registrar: p.registrar.clone(),
                    site_id: site_id_of(&p.site),
                    requires_replication: false,
                    service_number: i as u32 + 1,
                    computers: if p.computers.is_empty() {
                        vec![p.pool_fqdn.to_ascii_lowercase()]
                    } else {
                        p.computers.clone()
                    },
                })
                .collect(),
            trusted_applications: facts
                .trusted_applications
                .iter()
                .map(|a| TrustedApplication {
                    pool_fqdn: a.pool_fqdn.clone(),
                    application_id: a.application_id.clone(),
                    port: a.port,
                })
                .collect(),
        };
        LyncState {
            sites: facts
                .sites
                .iter()
                .map(|s| Site {
                    identity: s.identity.clone(),
                    site_id: s.site_id.clone(),
                    display_name: s.display_name.clone(),
                })
                .collect(),
            pools: facts
                .pools
                .iter()
                .map(|p| Pool {
                    fqdn: p.fqdn.clone(),
                    site_id: site_id_of(&p.site),
                    services: p.services.clone(),
                    version: p.registrar_version.unwrap_or_else(lync_2013),
                })
                .collect(),
            next_service_number: topology.trusted_pools.len() as u32 + 1,
            configured: topology.clone(),
            published: topology,
        }
    }

    fn site(&self, site_id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.site_id == site_id)
    }

    fn pool_object(&self, p: &TrustedPool) -> Value {
        let site = self
            .site(&p.site_id)
            .map_or(p.site_id.clone(), |s| s.identity.clone());
        Object::new("Microsoft.Rtc.Management.Xds.DisplayExternalServer")
            .with("Identity", format!("TrustedApplicationPool:{}", p.fqdn))
            .with("Registrar", p.registrar.clone())
            .with("FileStore", Value::Null)
            .with("ThrottleAsServer", true)
            .with("TreatAsAuthenticated", true)
            .with("OutboundOnly", false)
            .with("RequiresReplication", p.requires_replication)
            .with(
                "ServiceId",
                format!("{}-ExternalServer-{}", p.site_id, p.service_number),
            )
            .with("SiteId", site)
            .with("PoolFqdn", p.fqdn.clone())
            .with("Version", 6)
            .with("Role", "TrustedApplicationPool")
            .into()
    }

    fn application_object(a: &TrustedApplication) -> Value {
        let id = a.application_id.to_lowercase();
        Object::new("Microsoft.Rtc.Management.Xds.DisplayTrustedApplication")
            .with("Identity", format!("{}/urn:application:{id}", a.pool_fqdn))
            .with("ComputerGruus", Value::Array(Vec::new()))
            .with(
                "ServiceGruu",
                format!("sip:{}@litwareinc.com;gruu;opaque=srvr:{id}", a.pool_fqdn),
            )
            .with("Protocol", "Mtls")
            .with("ApplicationId", format!("urn:application:{id}"))
            .with("TrustedApplicationPoolFqdn", a.pool_fqdn.clone())
            .with("Port", i64::from(a.port))
            .with("LegacyApplicationName", Value::Null)
            .into()
    }

    /// Runs `call` if it is a Lync cmdlet.
    pub fn invoke(&mut self, call: &Invocation) -> Option<Result<Vec<Value>, PsError>> {
        let name = call.name.to_ascii_lowercase();
        Some(match name.as_str() {
            "get-cssite" => self.get_site(call),
            "get-cspool" => self.get_pool(call),
            "get-csservice" => self.get_service(call),
            "get-cstrustedapplicationpool" => self.get_trusted_pool(call),
            "get-cstrustedapplicationcomputer" => self.get_computers(call),
            "new-cstrustedapplicationcomputer" => self.new_computer(call),
            "remove-cstrustedapplicationcomputer" => self.remove_computer(call),
            "new-cstrustedapplicationpool" => self.new_trusted_pool(call),
            "set-cstrustedapplicationpool" => self.set_trusted_pool(call),
            "remove-cstrustedapplicationpool" => self.remove_trusted_pool(call),
            "get-cstrustedapplication" => self.get_application(call),
            "new-cstrustedapplication" => self.new_application(call),
            "remove-cstrustedapplication" => self.remove_application(call),
            "enable-cstopology" => self.enable_topology(call),
            _ => return None,
        })
    }

    fn get_site(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Filter"])?;
        let wanted = b.identity();
        Ok(self
            .sites
            .iter()
            .filter(|s| {
                wanted
                    .as_deref()
                    .is_none_or(|w| same_name(&s.display_name, w) || same_name(&s.site_id, w))
            })
            .map(|s| {
                Object::new("Microsoft.Rtc.Management.Deploy.Internal.Site+CentralSite")
                    .with("Identity", s.identity.clone())
                    .with("SiteId", s.site_id.clone())
                    .with("Services", Value::Array(Vec::new()))
                    .with(
                        "Pools",
                        Value::from(
                            self.pools
                                .iter()
                                .filter(|p| p.site_id == s.site_id)
                                .map(|p| p.fqdn.clone())
                                .collect::<Vec<_>>(),
                        ),
                    )
                    .with("Description", Value::Null)
                    .with("DisplayName", s.display_name.clone())
                    .with("SiteType", "CentralSite")
                    .with("ParentSite", Value::Null)
                    .into()
            })
            .collect())
    }

    /// `Get-CsService -Registrar` (the only role the lab lists): each registrar service with
    /// its pool and version.
    /// `Get-CsService -Registrar` or `-Director`: the pools' services of that kind.
    fn get_service(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Filter", "Registrar", "Director"])?;
        let wanted = b.identity();
        let kind = ["Registrar", "Director"]
            .into_iter()
            .find(|kind| {
                call.args
                    .iter()
                    .any(|a| matches!(a, Arg::Named(n, _) if same_name(n, kind)))
            })
            .ok_or_else(|| {
                PsError::terminating(
                    "Get-CsService: the lab lists registrar and Director services only (-Registrar, -Director)."
                        .to_string(),
                )
            })?;
        let prefix = format!("{}:", kind.to_ascii_lowercase());
        Ok(self
            .pools
            .iter()
            .flat_map(|p| p.services.iter().map(move |s| (p, s)))
            .filter(|(_, s)| s.to_ascii_lowercase().starts_with(&prefix))
            .filter(|(_, s)| wanted.as_deref().is_none_or(|w| same_name(s, w)))
            .map(|(p, s)| {
                let site = self
                    .site(&p.site_id)
                    .map_or(p.site_id.clone(), |site| site.identity.clone());
                Object::new(if kind == "Director" {
                    "Microsoft.Rtc.Management.Xds.DisplayDirector"
                } else {
                    "Microsoft.Rtc.Management.Xds.DisplayRegistrar"
                })
                .with("Identity", s.clone())
                .with("SiteId", site)
                .with("PoolFqdn", p.fqdn.clone())
                .with("Version", i64::from(p.version))
                .with("Role", kind)
                .into()
            })
            .collect())
    }

    /// `Get-CsTrustedApplicationComputer [-Identity] [-Pool]`.
    fn get_computers(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Filter", "Pool"])?;
        let wanted = b.identity();
        let pool = b.get("Pool").map(|v| v.to_string());
        Ok(self
            .configured
            .trusted_pools
            .iter()
            .filter(|p| {
                pool.as_deref()
                    .is_none_or(|w| same_name(&p.fqdn, pool_fqdn(w)))
            })
            .flat_map(|p| p.computers.iter().map(move |c| (p, c)))
            .filter(|(_, c)| wanted.as_deref().is_none_or(|w| same_name(c, w)))
            .map(|(p, c)| {
                Object::new("Microsoft.Rtc.Management.Xds.DisplayTrustedApplicationComputer")
                    .with("Identity", c.clone())
                    .with("Fqdn", c.clone())
                    .with("Pool", p.fqdn.clone())
                    .into()
            })
            .collect())
    }

    /// `New-CsTrustedApplicationComputer -Identity <fqdn> -Pool <pool>`.
    fn new_computer(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Pool"])?;
        let computer = b.identity().unwrap_or_default().to_ascii_lowercase();
        let pool_name = b.text("Pool")?;
        if self
            .configured
            .trusted_pools
            .iter()
            .any(|p| p.computers.iter().any(|c| same_name(c, &computer)))
        {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplicationComputer : Cannot perform the action \"New\" because the computer \"{computer}\" already exists in the topology."
            )));
        }
        let pool = self
            .configured
            .trusted_pools
            .iter_mut()
            .find(|p| same_name(&p.fqdn, pool_fqdn(&pool_name)))
            .ok_or_else(|| {
                PsError::terminating(format!(
                    "New-CsTrustedApplicationComputer : Cannot find trusted application pool \"{pool_name}\"."
                ))
            })?;
        if pool.single_default_computer() {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplicationComputer : The pool \"{}\" was created without -ComputerFqdn; its default computer has the pool's name and the pool cannot take another computer.",
                pool.fqdn
            )));
        }
        pool.computers.push(computer.clone());
        Ok(vec![
            Object::new("Microsoft.Rtc.Management.Xds.DisplayTrustedApplicationComputer")
                .with("Identity", computer.clone())
                .with("Fqdn", computer)
                .with("Pool", pool.fqdn.clone())
                .into(),
        ])
    }

    /// `Remove-CsTrustedApplicationComputer -Identity <fqdn>`.
    fn remove_computer(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity"])?;
        let computer = b.identity().unwrap_or_default();
        for pool in &mut self.configured.trusted_pools {
            if let Some(i) = pool.computers.iter().position(|c| same_name(c, &computer)) {
                if pool.computers.len() == 1 {
                    return Err(PsError::terminating(format!(
                        "Remove-CsTrustedApplicationComputer : \"{computer}\" is the last computer of \"{}\"; remove the pool instead.",
                        pool.fqdn
                    )));
                }
                pool.computers.remove(i);
                return Ok(Vec::new());
            }
        }
        Err(PsError::terminating(format!(
            "Remove-CsTrustedApplicationComputer : Cannot find \"{computer}\" because it does not exist."
        )))
    }

    fn get_pool(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Filter", "Site"])?;
        let wanted = b.identity();
        let found: Vec<Value> = self
            .pools
            .iter()
            .filter(|p| wanted.as_deref().is_none_or(|w| same_name(&p.fqdn, w)))
            .map(|p| {
                let site = self
                    .site(&p.site_id)
                    .map_or(p.site_id.clone(), |s| s.identity.clone());
                Object::new("Microsoft.Rtc.Management.Deploy.Internal.Cluster")
                    .with("Identity", p.fqdn.clone())
                    .with("Services", Value::from(p.services.clone()))
                    .with("Computers", Value::from(vec![p.fqdn.clone()]))
                    .with("Fqdn", p.fqdn.clone())
                    .with("Site", site)
                    .into()
            })
            .collect();
        if found.is_empty() && wanted.is_some() {
            return Err(PsError::non_terminating(format!(
                "Get-CsPool : Cannot find pool \"{}\".",
                wanted.unwrap_or_default()
            )));
        }
        Ok(found)
    }

    fn get_trusted_pool(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Filter", "PoolFqdn"])?;
        let wanted = b
            .identity()
            .or_else(|| b.get("PoolFqdn").map(|v| v.to_string()));
        let found: Vec<Value> = self
            .configured
            .trusted_pools
            .iter()
            .filter(|p| {
                wanted
                    .as_deref()
                    .is_none_or(|w| same_name(&p.fqdn, pool_fqdn(w)))
            })
            .map(|p| self.pool_object(p))
            .collect();
        if let (true, Some(w)) = (found.is_empty(), wanted) {
            return Err(PsError::non_terminating(format!(
                "Get-CsTrustedApplicationPool : Cannot get \"TrustedApplicationPool\" \"{w}\" because it does not exist."
            )));
        }
        Ok(found)
    }

    fn new_trusted_pool(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(
            call,
            &[
                "Identity",
                "Registrar",
                "Site",
                "RequiresReplication",
                "ComputerFqdn",
                "ThrottleAsServer",
                "TreatAsAuthenticated",
                "OutboundOnly",
            ],
        )?;
        let fqdn = pool_fqdn(&b.identity().ok_or_else(|| PsError::terminating("New-CsTrustedApplicationPool : Cannot process command because of one or more missing mandatory parameters: Identity."))?).to_ascii_lowercase();
        if self
            .configured
            .trusted_pools
            .iter()
            .any(|p| same_name(&p.fqdn, &fqdn))
        {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplicationPool : Cannot perform the action \"New\" because the pool \"{fqdn}\" already exists in the topology."
            )));
        }
        let registrar = match b.get("Registrar") {
            Some(r) => {
                let r = r.to_string();
                let target = r.split_once(':').map_or(r.as_str(), |(_, f)| f).to_string();
                if !self.pools.iter().any(|p| {
                    same_name(&p.fqdn, &target)
                        && p.services
                            .iter()
                            .any(|s| same_name(s, &format!("Registrar:{target}")))
                }) {
                    return Err(PsError::terminating(format!(
                        "New-CsTrustedApplicationPool : Cannot find registrar \"{r}\". Verify that the registrar exists in the topology."
                    )));
                }
                format!("Registrar:{}", target.to_ascii_lowercase())
            }
            None => String::new(),
        };
        let site_id = b.text("Site")?;
        if self.site(&site_id).is_none() {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplicationPool : Site \"{site_id}\" does not exist. Use Get-CsSite to find the SiteId of the site."
            )));
        }
        let computer = b
            .get("ComputerFqdn")
            .map_or(fqdn.clone(), |c| c.to_string().to_ascii_lowercase());
        let pool = TrustedPool {
            computers: vec![computer],
            fqdn,
            registrar,
            site_id,
            requires_replication: b.boolean("RequiresReplication", true)?,
            service_number: self.next_service_number,
        };
        self.next_service_number += 1;
        let out = self.pool_object(&pool);
        self.configured.trusted_pools.push(pool);
        Ok(vec![out])
    }

    fn set_trusted_pool(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity", "Registrar", "RequiresReplication"])?;
        let fqdn = b.identity().unwrap_or_default();
        let registrar = b.get("Registrar").map(|r| {
            let r = r.to_string();
            format!(
                "Registrar:{}",
                r.split_once(':').map_or(r.as_str(), |(_, f)| f)
            )
        });
        let pool = self
            .configured
            .trusted_pools
            .iter_mut()
            .find(|p| same_name(&p.fqdn, pool_fqdn(&fqdn)))
            .ok_or_else(|| PsError::terminating(format!("Set-CsTrustedApplicationPool : Cannot find \"TrustedApplicationPool\" \"{fqdn}\".")))?;
        if let Some(r) = registrar {
            pool.registrar = r;
        }
        Ok(Vec::new())
    }

    fn remove_trusted_pool(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity"])?;
        let fqdn = b.identity().unwrap_or_default();
        let Some(i) = self
            .configured
            .trusted_pools
            .iter()
            .position(|p| same_name(&p.fqdn, pool_fqdn(&fqdn)))
        else {
            return Err(PsError::terminating(format!(
                "Remove-CsTrustedApplicationPool : Cannot find \"TrustedApplicationPool\" \"{fqdn}\" because it does not exist."
            )));
        };
        if self.configured.trusted_pools[i].registrar.is_empty() {
            return Err(PsError::terminating(format!(
                "Remove-CsTrustedApplicationPool : Cannot remove \"{fqdn}\" because it has no registrar. Assign one with Set-CsTrustedApplicationPool -Registrar first."
            )));
        }
        let removed = self.configured.trusted_pools.remove(i);
        self.configured
            .trusted_applications
            .retain(|a| !same_name(&a.pool_fqdn, &removed.fqdn));
        Ok(Vec::new())
    }

    fn get_application(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(
            call,
            &[
                "Identity",
                "Filter",
                "ApplicationId",
                "TrustedApplicationPoolFqdn",
            ],
        )?;
        let identity = b.identity();
        let app_id = b.get("ApplicationId").map(|v| v.to_string());
        let pool = b.get("TrustedApplicationPoolFqdn").map(|v| v.to_string());
        let found: Vec<Value> = self
            .configured
            .trusted_applications
            .iter()
            .filter(|a| match &identity {
                Some(id) => {
                    let (p, app) = id.split_once('/').unwrap_or((id.as_str(), ""));
                    same_name(&a.pool_fqdn, p)
                        && same_name(
                            &a.application_id,
                            app.trim_start_matches("urn:application:"),
                        )
                }
                None => true,
            })
            .filter(|a| {
                app_id.as_deref().is_none_or(|id| {
                    same_name(&a.application_id, id.trim_start_matches("urn:application:"))
                })
            })
            .filter(|a| pool.as_deref().is_none_or(|p| same_name(&a.pool_fqdn, p)))
            .map(Self::application_object)
            .collect();
        if found.is_empty() && (identity.is_some() || app_id.is_some()) {
            return Err(PsError::non_terminating(
                "Get-CsTrustedApplication : Cannot find \"TrustedApplication\" because it does not exist.".to_string(),
            ));
        }
        Ok(found)
    }

    fn new_application(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(
            call,
            &[
                "Identity",
                "ApplicationId",
                "TrustedApplicationPoolFqdn",
                "Port",
                "EnableTcp",
                "LegacyApplicationName",
            ],
        )?;
        let (pool, app_id) = match b.get("Identity") {
            Some(id) => {
                let id = id.to_string();
                let (p, a) = id.split_once('/').unwrap_or((id.as_str(), ""));
                (
                    p.to_string(),
                    a.trim_start_matches("urn:application:").to_string(),
                )
            }
            None => (
                b.text("TrustedApplicationPoolFqdn")?,
                b.text("ApplicationId")?,
            ),
        };
        let port = b.int("Port")?;
        let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
            PsError::terminating(format!(
                "New-CsTrustedApplication : Port {port} is not a valid port number."
            ))
        })?;
        if app_id.is_empty() || app_id.contains(char::is_whitespace) {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplication : \"{app_id}\" is not a valid application ID."
            )));
        }
        if !self
            .configured
            .trusted_pools
            .iter()
            .any(|p| same_name(&p.fqdn, &pool))
        {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplication : Cannot find the trusted application pool \"{pool}\"."
            )));
        }
        let in_pool: Vec<&TrustedApplication> = self
            .configured
            .trusted_applications
            .iter()
            .filter(|a| same_name(&a.pool_fqdn, &pool))
            .collect();
        if in_pool
            .iter()
            .any(|a| same_name(&a.application_id, &app_id))
        {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplication : Cannot perform the action \"New\" because the application \"urn:application:{}\" already exists in pool \"{pool}\".",
                app_id.to_lowercase()
            )));
        }
        if let Some(a) = in_pool.iter().find(|a| a.port == port) {
            return Err(PsError::terminating(format!(
                "New-CsTrustedApplication : Port {port} is already used by the trusted application \"urn:application:{}\" in pool \"{pool}\". Ports must be unique within a pool.",
                a.application_id.to_lowercase()
            )));
        }
        let app = TrustedApplication {
            pool_fqdn: pool.to_ascii_lowercase(),
            application_id: app_id,
            port,
        };
        let out = Self::application_object(&app);
        self.configured.trusted_applications.push(app);
        Ok(vec![out])
    }

    fn remove_application(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let b = Bound::new(call, &["Identity"])?;
        let id = b.identity().unwrap_or_default();
        let (pool, app) = id.split_once('/').unwrap_or((id.as_str(), ""));
        let app = app.trim_start_matches("urn:application:");
        let before = self.configured.trusted_applications.len();
        self.configured
            .trusted_applications
            .retain(|a| !(same_name(&a.pool_fqdn, pool) && same_name(&a.application_id, app)));
        if self.configured.trusted_applications.len() == before {
            return Err(PsError::terminating(format!(
                "Remove-CsTrustedApplication : Cannot find \"TrustedApplication\" \"{id}\" because it does not exist."
            )));
        }
        Ok(Vec::new())
    }

    fn enable_topology(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        Bound::new(
            call,
            &[
                "GlobalCatalog",
                "GlobalSettingsDomainController",
                "SkipPrepareCheck",
                "Report",
            ],
        )?;
        self.published = self.configured.clone();
        Ok(Vec::new())
    }
}

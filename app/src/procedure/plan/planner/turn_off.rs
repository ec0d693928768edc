//! Turning IM in OWA off, for an organization that does not integrate with Lync (ARTICLE
//! §1.8): IM off on the Exchange 2013 front-end virtual directories and the chosen mailbox
//! policies, the IM keys removed from OWA's web.config on each Mailbox server, and OWA
//! recycled where web.config changed. Lync is not touched.

use super::super::steps::web_config_edit;
use super::*;

/// The web.config keys an integration adds.
const IM_KEYS: [&str; 2] = ["IMCertificateThumbprint", "IMServerName"];

impl Planner<'_> {
    pub(super) fn run_turn_off(mut self) -> Plan {
        let site = self.resolve_site();
        self.check_exchange();
        let backends = self.probed_backends();
        let mut steps = Vec::new();
        steps.extend(self.vdir_step(Im::Off));
        for backend in &backends {
            let step = remove_keys_step(backend);
            let changed = step.decision == Decision::Change;
            steps.push(step);
            steps.push(self.recycle_step(&backend.server, changed));
        }
        steps.extend(self.policy_step(Im::Off));
        self.notes.push(
            "This request turns IM in OWA off: people will see no presence or IM in OWA. Lync's trusted application \
             pool, if any, is left alone; a later integration request turns IM on again."
                .to_string(),
        );
        Plan {
            format: FORMAT,
            kind: RequestKind::TurnOff,
            site_id: site
                .map(|s| s.site_id)
                .unwrap_or_else(|| self.spec.site_id.to_string()),
            owa_pool_fqdn: String::new(),
            registrar_fqdn: String::new(),
            notes: self.notes,
            preflight: self.preflight,
            steps,
            evidence: Vec::new(),
        }
    }
}

fn remove_keys_step(b: &Backend) -> Step {
    let present: Vec<&str> = IM_KEYS
        .into_iter()
        .filter(|k| b.app_setting(k).is_some())
        .collect();
    let (apply, rollback) = web_config_edit(b, &IM_KEYS.map(|k| (k, None)));
    Step {
        id: format!("web-config-off:{}", b.server),
        title: format!(
            "Remove IMCertificateThumbprint and IMServerName from OWA's web.config on {}",
            b.server
        ),
        target: Target::Backend(b.server.clone()),
        apply,
        check: "$config = [xml](Get-Content -LiteralPath (Join-Path $env:ExchangeInstallPath 'ClientAccess\\Owa\\web.config') -Raw); \
                @(@($config.configuration.appSettings.add) | Where-Object { $_.key -eq 'IMCertificateThumbprint' -or $_.key -eq 'IMServerName' }).Count -eq 0"
            .into(),
        expect_output: None,
        explanation: "Without Lync integration OWA needs no IM certificate or server: the keys an integration added \
            to appSettings in ClientAccess\\Owa\\web.config are removed, after a timestamped .bak copy; rolling back puts \
            back the values they had."
            .into(),
        reference: "ARTICLE §1.6 step 2, §1.8".into(),
        decision: if present.is_empty() {
            Decision::Satisfied("web.config holds neither key.".into())
        } else {
            Decision::Change
        },
        rollback,
    }
}

//! The change request "integrate OWA with Lync for one site": what the form carries, how it is
//! validated, and the lifecycle states it moves through.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::fields::{
    ApplicationId, FieldError, Fqdn, Justification, PolicySelection, Port, SiteId, Thumbprints,
};
use super::time;

/// The longest change window a request may ask for.
pub const MAX_WINDOW: Duration = Duration::days(30);
/// How far ahead a change window may start.
pub const MAX_WINDOW_LEAD: Duration = Duration::days(365);

/// The form exactly as typed. Every value is a string so that a rejected submission can be
/// shown again unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestInput {
    /// `integrate` or `turn_off` ([`RequestKind`]).
    pub kind: String,
    pub site_id: String,
    pub owa_pool_fqdn: String,
    pub registrar_fqdn: String,
    pub application_id: String,
    pub port: String,
    pub thumbprint: String,
    /// `named` or `all`.
    pub policy_scope: String,
    pub policies: String,
    pub justification: String,
    pub window_start: String,
    pub window_end: String,
}

impl Default for RequestInput {
    fn default() -> Self {
        RequestInput {
            kind: RequestKind::Integrate.as_str().into(),
            site_id: String::new(),
            owa_pool_fqdn: String::new(),
            registrar_fqdn: String::new(),
            application_id: "OutlookWebApp".into(),
            port: "5199".into(),
            thumbprint: String::new(),
            policy_scope: "named".into(),
            policies: "Default".into(),
            justification: String::new(),
            window_start: String::new(),
            window_end: String::new(),
        }
    }
}

/// A form field, named as in [`RequestInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Kind,
    SiteId,
    OwaPoolFqdn,
    RegistrarFqdn,
    ApplicationId,
    Port,
    Thumbprint,
    Policies,
    Justification,
    WindowStart,
    WindowEnd,
}

impl Field {
    /// Every field, in the order the form shows them.
    pub const ALL: [Field; 11] = [
        Field::Kind,
        Field::SiteId,
        Field::RegistrarFqdn,
        Field::OwaPoolFqdn,
        Field::ApplicationId,
        Field::Port,
        Field::Thumbprint,
        Field::Policies,
        Field::Justification,
        Field::WindowStart,
        Field::WindowEnd,
    ];

    /// The field's label on the form.
    pub fn label(self) -> &'static str {
        match self {
            Field::Kind => "What the request changes",
            Field::SiteId => "Lync site (SiteId)",
            Field::RegistrarFqdn => "Lync registrar pool FQDN",
            Field::OwaPoolFqdn => "OWA trusted application pool FQDN",
            Field::ApplicationId => "Application ID",
            Field::Port => "Port",
            Field::Thumbprint => "Exchange certificate thumbprint",
            Field::Policies => "OWA mailbox policies to enable for IM",
            Field::Justification => "Justification",
            Field::WindowStart => "Change window start (UTC, optional)",
            Field::WindowEnd => "Change window end (UTC, optional)",
        }
    }

    /// The field's name in the form and in [`FieldErrors`].
    pub fn name(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::SiteId => "site_id",
            Field::OwaPoolFqdn => "owa_pool_fqdn",
            Field::RegistrarFqdn => "registrar_fqdn",
            Field::ApplicationId => "application_id",
            Field::Port => "port",
            Field::Thumbprint => "thumbprint",
            Field::Policies => "policies",
            Field::Justification => "justification",
            Field::WindowStart => "window_start",
            Field::WindowEnd => "window_end",
        }
    }
}

/// Field-level messages keyed by field name, plus the values as typed, so a form can be shown
/// again with every error beside its field and nothing lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors {
    pub errors: BTreeMap<String, String>,
    pub values: BTreeMap<String, String>,
}

impl FieldErrors {
    /// Records a message for `field` (the first message per field wins).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    /// The value typed into `field`, if recorded.
    pub fn value(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The messages for an error summary: `(field name, text)`, a request's fields in form
    /// order and named by their labels, any other field after them as its message alone.
    pub fn summary(&self) -> Vec<(String, String)> {
        let known = Field::ALL.iter().filter_map(|f| {
            self.get(f.name())
                .map(|m| (f.name().to_string(), format!("{}: {m}", f.label())))
        });
        let others = self
            .errors
            .iter()
            .filter(|(name, _)| !Field::ALL.iter().any(|f| f.name() == name.as_str()))
            .map(|(name, m)| (name.clone(), m.clone()));
        known.chain(others).collect()
    }
}

/// The UTC window in which the change may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl ChangeWindow {
    /// Whether `now` falls inside the window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }
}

crate::domain::stored_enum! {
    /// What a request changes.
    #[derive(Default)]
    pub enum RequestKind {
        /// Integrate OWA with Lync (ARTICLE §1.4–§1.7).
        #[default]
        Integrate = "integrate",
        /// Turn IM in OWA off, for an organization that does not integrate: otherwise people
        /// see blank presence icons and an error at every sign-in (ARTICLE §1.8).
        TurnOff = "turn_off",
    }
}

impl RequestKind {
    pub fn is_integrate(&self) -> bool {
        *self == RequestKind::Integrate
    }

    /// In a sentence.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Integrate => "Integrate OWA with Lync",
            RequestKind::TurnOff => "Turn IM in OWA off",
        }
    }

    /// Reads the form's value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == text.trim())
    }
}

/// What an integration needs beyond the site and the policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub owa_pool_fqdn: Fqdn,
    pub registrar_fqdn: Fqdn,
    pub application_id: ApplicationId,
    pub port: Port,
    pub thumbprint: Thumbprints,
}

/// The change a request makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Integrate(Integration),
    TurnOff,
}

/// A validated request: every value passed its validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSpec {
    pub site_id: SiteId,
    pub change: Change,
    pub policies: PolicySelection,
    pub justification: Justification,
    pub window: Option<ChangeWindow>,
}

impl IntegrationSpec {
    /// Validates every field, collecting all errors at once.
    pub fn validate(input: &RequestInput, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::default();
        fn check<T>(
            errs: &mut FieldErrors,
            field: Field,
            result: Result<T, FieldError>,
        ) -> Option<T> {
            result
                .map_err(|e| errs.add(field.name(), e.to_string()))
                .ok()
        }
        let e = &mut errs;
        let kind = RequestKind::parse(&input.kind);
        if kind.is_none() {
            e.add(
                Field::Kind.name(),
                "Choose whether to integrate OWA with Lync or to turn IM in OWA off.",
            );
        }
        let site_id = check(e, Field::SiteId, SiteId::parse(&input.site_id));
        // What only an integration needs is not read for turning IM off.
        let integration = match kind {
            Some(RequestKind::Integrate) => {
                let owa = check(e, Field::OwaPoolFqdn, Fqdn::parse(&input.owa_pool_fqdn));
                let registrar = check(e, Field::RegistrarFqdn, Fqdn::parse(&input.registrar_fqdn));
                let app_id = check(
                    e,
                    Field::ApplicationId,
                    ApplicationId::parse(&input.application_id),
                );
                let port = check(e, Field::Port, Port::parse(&input.port));
                let thumbprint = check(e, Field::Thumbprint, Thumbprints::parse(&input.thumbprint));
                if let (Some(o), Some(r)) = (&owa, &registrar)
                    && o == r
                {
                    e.add(
                        Field::OwaPoolFqdn.name(),
                        "The OWA trusted application pool must be a different FQDN from the Lync registrar pool.",
                    );
                }
                match (owa, registrar, app_id, port, thumbprint) {
                    (
                        Some(owa_pool_fqdn),
                        Some(registrar_fqdn),
                        Some(application_id),
                        Some(port),
                        Some(thumbprint),
                    ) => Some(Change::Integrate(Integration {
                        owa_pool_fqdn,
                        registrar_fqdn,
                        application_id,
                        port,
                        thumbprint,
                    })),
                    _ => None,
                }
            }
            Some(RequestKind::TurnOff) => Some(Change::TurnOff),
            None => None,
        };
        let policies = if input.policy_scope == "all" {
            Some(PolicySelection::All)
        } else {
            check(
                e,
                Field::Policies,
                PolicySelection::parse_list(&input.policies),
            )
        };
        let justification = check(
            e,
            Field::Justification,
            Justification::parse(&input.justification),
        );
        let window = validate_window(input, now, &mut errs);

        match (site_id, integration, policies, justification, window) {
            (Some(site_id), Some(change), Some(policies), Some(justification), Some(window))
                if errs.is_empty() =>
            {
                Ok(IntegrationSpec {
                    site_id,
                    change,
                    policies,
                    justification,
                    window,
                })
            }
            _ => {
                errs.values = input.to_values();
                Err(errs)
            }
        }
    }

    /// What the request changes.
    pub fn kind(&self) -> RequestKind {
        match self.change {
            Change::Integrate(_) => RequestKind::Integrate,
            Change::TurnOff => RequestKind::TurnOff,
        }
    }

    /// The integration's values, for an integration request.
    pub fn integration(&self) -> Option<&Integration> {
        match &self.change {
            Change::Integrate(i) => Some(i),
            Change::TurnOff => None,
        }
    }

    /// The form values that reproduce this request (normalized).
    pub fn to_input(&self) -> RequestInput {
        let (policy_scope, policies) = match &self.policies {
            PolicySelection::All => ("all", String::new()),
            named => ("named", named.to_list_text()),
        };
        let mut input = RequestInput {
            kind: self.kind().as_str().into(),
            site_id: self.site_id.to_string(),
            policy_scope: policy_scope.into(),
            policies,
            justification: self.justification.to_string(),
            window_start: self
                .window
                .map(|w| time::to_input(w.start))
                .unwrap_or_default(),
            window_end: self
                .window
                .map(|w| time::to_input(w.end))
                .unwrap_or_default(),
            ..RequestInput::default()
        };
        if let Some(i) = self.integration() {
            input.owa_pool_fqdn = i.owa_pool_fqdn.to_string();
            input.registrar_fqdn = i.registrar_fqdn.to_string();
            input.application_id = i.application_id.to_string();
            input.port = i.port.get().to_string();
            input.thumbprint = i.thumbprint.to_string();
        }
        input
    }
}

impl RequestInput {
    /// The typed values keyed by field name.
    pub fn to_values(&self) -> BTreeMap<String, String> {
        let pairs = [
            ("kind", &self.kind),
            ("site_id", &self.site_id),
            ("owa_pool_fqdn", &self.owa_pool_fqdn),
            ("registrar_fqdn", &self.registrar_fqdn),
            ("application_id", &self.application_id),
            ("port", &self.port),
            ("thumbprint", &self.thumbprint),
            ("policy_scope", &self.policy_scope),
            ("policies", &self.policies),
            ("justification", &self.justification),
            ("window_start", &self.window_start),
            ("window_end", &self.window_end),
        ];
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// Rebuilds the typed input from recorded values (the inverse of [`Self::to_values`]).
    pub fn from_values(values: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| values.get(k).cloned().unwrap_or_default();
        RequestInput {
            kind: Some(get("kind"))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| RequestKind::Integrate.as_str().into()),
            site_id: get("site_id"),
            owa_pool_fqdn: get("owa_pool_fqdn"),
            registrar_fqdn: get("registrar_fqdn"),
            application_id: get("application_id"),
            port: get("port"),
            thumbprint: get("thumbprint"),
            policy_scope: get("policy_scope"),
            policies: get("policies"),
            justification: get("justification"),
            window_start: get("window_start"),
            window_end: get("window_end"),
        }
    }
}

/// A request as a JSON file, for `imlink plan --request` (format in the README).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// `integrate` (the default) or `turn_off`.
    #[serde(default = "default_kind")]
    pub kind: String,
    pub site: String,
    #[serde(default)]
    pub owa_pool_fqdn: String,
    #[serde(default)]
    pub registrar_pool_fqdn: String,
    #[serde(default = "default_application_id")]
    pub application_id: String,
    #[serde(default = "default_port")]
    pub port: u32,
    #[serde(default)]
    pub certificate_thumbprint: String,
    #[serde(default = "default_policies")]
    pub mailbox_policies: PolicyList,
    pub justification: String,
    #[serde(default)]
    pub window_start: String,
    #[serde(default)]
    pub window_end: String,
}

/// `"all"` or a list of OWA mailbox policy names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyList {
    Keyword(String),
    Names(Vec<String>),
}

fn default_kind() -> String {
    RequestKind::Integrate.as_str().into()
}

fn default_application_id() -> String {
    "OutlookWebApp".into()
}

fn default_port() -> u32 {
    5199
}

fn default_policies() -> PolicyList {
    PolicyList::Names(vec!["Default".into()])
}

impl RequestFile {
    /// The form input this file stands for.
    pub fn to_input(&self) -> RequestInput {
        let (policy_scope, policies) = match &self.mailbox_policies {
            PolicyList::Keyword(k) if k.eq_ignore_ascii_case("all") => ("all", String::new()),
            PolicyList::Keyword(k) => ("named", k.clone()),
            PolicyList::Names(names) => ("named", names.join("\n")),
        };
        RequestInput {
            kind: self.kind.clone(),
            site_id: self.site.clone(),
            owa_pool_fqdn: self.owa_pool_fqdn.clone(),
            registrar_fqdn: self.registrar_pool_fqdn.clone(),
            application_id: self.application_id.clone(),
            port: self.port.to_string(),
            thumbprint: self.certificate_thumbprint.clone(),
            policy_scope: policy_scope.into(),
            policies,
            justification: self.justification.clone(),
            window_start: self.window_start.clone(),
            window_end: self.window_end.clone(),
        }
    }

    /// The file's name for a form field, for error messages.
    pub fn field_name(form_field: &str) -> &str {
        match form_field {
            "site_id" => "site",
            "registrar_fqdn" => "registrar_pool_fqdn",
            "thumbprint" => "certificate_thumbprint",
            "policies" => "mailbox_policies",
            other => other,
        }
    }
}

/// `Some(None)` for no window, `Some(Some(w))` for a valid one, `None` after recording errors.
fn validate_window(
    input: &RequestInput,
    now: DateTime<Utc>,
    errs: &mut FieldErrors,
) -> Option<Option<ChangeWindow>> {
    let (start_text, end_text) = (input.window_start.trim(), input.window_end.trim());
    if start_text.is_empty() && end_text.is_empty() {
        return Some(None);
    }
    let parse = |text: &str, field: Field, errs: &mut FieldErrors| {
        if text.is_empty() {
            errs.add(
                field.name(),
                "Give both the start and the end of the window, or neither.",
            );
            None
        } else {
            let parsed = time::parse_input(text);
            if parsed.is_none() {
                errs.add(
                    field.name(),
                    "Enter a date and time as YYYY-MM-DDTHH:MM (UTC).",
                );
            }
            parsed
        }
    };
    let start = parse(start_text, Field::WindowStart, errs);
    let end = parse(end_text, Field::WindowEnd, errs);
    let (start, end) = (start?, end?);
    if end <= start {
        errs.add(
            Field::WindowEnd.name(),
            "The window must end after it starts.",
        );
    } else if end - start > MAX_WINDOW {
        errs.add(
            Field::WindowEnd.name(),
            "A change window can last at most 30 days.",
        );
    } else if end <= now {
        errs.add(Field::WindowEnd.name(), "This window has already ended.");
    } else if start - now > MAX_WINDOW_LEAD {
        errs.add(
            Field::WindowStart.name(),
            "A change window can start at most one year ahead.",
        );
    } else {
        return Some(Some(ChangeWindow { start, end }));
    }
    None
}

/// Where a request stands in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Draft,
    Submitted,
    Approved,
    Rejected,
    Cancelled,
    Expired,
}

impl RequestState {
    /// Every state, in lifecycle order.
    pub const ALL: [RequestState; 6] = [
        RequestState::Draft,
        RequestState::Submitted,
        RequestState::Approved,
        RequestState::Rejected,
        RequestState::Cancelled,
        RequestState::Expired,
    ];

    /// The stored lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Draft => "draft",
            RequestState::Submitted => "submitted",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A capitalized label for display.
    pub fn label(self) -> &'static str {
        match self {
            RequestState::Draft => "Draft",
            RequestState::Submitted => "Awaiting approval",
            RequestState::Approved => "Approved",
            RequestState::Rejected => "Rejected",
            RequestState::Cancelled => "Cancelled",
            RequestState::Expired => "Expired",
        }
    }

    /// Whether nothing more can happen to the request.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RequestState::Rejected | RequestState::Cancelled | RequestState::Expired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_summary_follows_the_form_and_names_each_field() {
        let mut errors = FieldErrors::default();
        errors.add("upn", "Enter a user principal name.");
        errors.add(Field::Justification.name(), "Too short.");
        errors.add(Field::Port.name(), "From 1 to 65535.");
        errors.add(Field::SiteId.name(), "Unknown site.");
        assert_eq!(
            errors.summary(),
            [
                ("site_id", "Lync site (SiteId): Unknown site."),
                ("port", "Port: From 1 to 65535."),
                ("justification", "Justification: Too short."),
                ("upn", "Enter a user principal name."),
            ]
            .map(|(f, t)| (f.to_string(), t.to_string()))
        );
        let named: std::collections::BTreeSet<_> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(named.len(), Field::ALL.len(), "every field once");
    }
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    fn article_input() -> RequestInput {
        RequestInput {
            site_id: "Redmond".into(),
            owa_pool_fqdn: "atl-owa-001.litwareinc.com".into(),
            registrar_fqdn: "atl-cs-001.litwareinc.com".into(),
            thumbprint: "EA5A332496CC05DA69B75B66111C0F78A110D22d".into(),
            justification: "Enable presence in OWA for Redmond.".into(),
            ..RequestInput::default()
        }
    }

    #[test]
    fn the_articles_values_validate_and_normalize() {
        let spec = IntegrationSpec::validate(&article_input(), now()).unwrap();
        let i = spec.integration().unwrap();
        assert_eq!(
            i.thumbprint.to_string(),
            "EA5A332496CC05DA69B75B66111C0F78A110D22D"
        );
        assert_eq!(i.port.get(), 5199);
        assert_eq!(i.application_id.to_string(), "OutlookWebApp");
        assert_eq!(spec.kind(), RequestKind::Integrate);
        assert_eq!(spec.policies.to_list_text(), "Default");
        assert_eq!(spec.window, None);
        let again = IntegrationSpec::validate(&spec.to_input(), now()).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn every_bad_field_is_reported_and_the_input_is_kept() {
        let input = RequestInput {
            site_id: "Red mond".into(),
            owa_pool_fqdn: "owa".into(),
            registrar_fqdn: "atl-cs-001.litwareinc.com'; Stop-Computer".into(),
            application_id: "Outlook Web App".into(),
            port: "70000".into(),
            thumbprint: "xyz".into(),
            policies: "".into(),
            justification: "short".into(),
            window_start: "2026-11-28T10:00".into(),
            window_end: "".into(),
            ..RequestInput::default()
        };
        let errs = IntegrationSpec::validate(&input, now()).unwrap_err();
        for field in [
            "site_id",
            "owa_pool_fqdn",
            "registrar_fqdn",
            "application_id",
            "port",
            "thumbprint",
            "policies",
            "justification",
            "window_end",
        ] {
            assert!(errs.get(field).is_some(), "no error for {field}: {errs:?}");
        }
        assert_eq!(RequestInput::from_values(&errs.values), input);
    }

    #[test]
    fn turning_im_off_needs_only_the_site_policies_and_justification() {
        let input = RequestInput {
            kind: "turn_off".into(),
            site_id: "Redmond".into(),
            owa_pool_fqdn: "not even an fqdn".into(),
            thumbprint: "xyz".into(),
            policy_scope: "all".into(),
            justification: "We do not integrate with Lync.".into(),
            ..RequestInput::default()
        };
        let spec = IntegrationSpec::validate(&input, now()).unwrap();
        assert_eq!(spec.kind(), RequestKind::TurnOff);
        assert_eq!(spec.change, Change::TurnOff);
        assert!(spec.integration().is_none());
        let again = IntegrationSpec::validate(&spec.to_input(), now()).unwrap();
        assert_eq!(again, spec);
        // The site and the justification are still required; an unknown kind is a field error.
        let errs = IntegrationSpec::validate(
            &RequestInput {
                site_id: String::new(),
                ..input.clone()
            },
            now(),
        )
        .unwrap_err();
        assert!(errs.get("site_id").is_some());
        let errs = IntegrationSpec::validate(
            &RequestInput {
                kind: "<script>".into(),
                ..input
            },
            now(),
        )
        .unwrap_err();
        assert!(errs.get("kind").is_some());
        assert_eq!(errs.value("kind"), Some("<script>"));
    }

    #[test]
    fn same_pool_for_owa_and_registrar_is_refused() {
        let input = RequestInput {
            registrar_fqdn: "ATL-OWA-001.litwareinc.com".into(),
            ..article_input()
        };
        let errs = IntegrationSpec::validate(&input, now()).unwrap_err();
        assert!(errs.get("owa_pool_fqdn").is_some());
    }

    #[test]
    fn all_policies_ignores_the_list() {
        let input = RequestInput {
            policy_scope: "all".into(),
            policies: "".into(),
            ..article_input()
        };
        let spec = IntegrationSpec::validate(&input, now()).unwrap();
        assert_eq!(spec.policies, PolicySelection::All);
    }

    #[test]
    fn change_windows() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("2026-11-28T10:00", "2026-11-28T12:00", None),
            ("2026-11-28T10:00", "2026-11-28T09:00", Some("window_end")),
            ("2026-11-20T10:00", "2026-11-21T09:00", Some("window_end")),
            ("2026-11-28T10:00", "2027-01-28T10:00", Some("window_end")),
            ("2028-01-01T00:00", "2028-01-02T00:00", Some("window_start")),
            ("yesterday", "2026-11-28T12:00", Some("window_start")),
            ("", "2026-11-28T12:00", Some("window_start")),
        ];
        for (start, end, bad) in cases {
            let input = RequestInput {
                window_start: (*start).into(),
                window_end: (*end).into(),
                ..article_input()
            };
            match (IntegrationSpec::validate(&input, now()), bad) {
                (Ok(spec), None) => assert!(spec.window.is_some()),
                (Err(errs), Some(field)) => {
                    assert!(errs.get(field).is_some(), "{start}..{end}: {errs:?}")
                }
                (other, _) => panic!("{start}..{end}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn states_round_trip() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        assert!(RequestState::Rejected.is_terminal());
        assert!(!RequestState::Approved.is_terminal());
    }
}

//! The fields of the integration request form, shared by "new" and "edit".

use leptos::prelude::*;

use super::text_area::TextArea;
use crate::domain::request::{Field, FieldErrors, RequestInput, RequestKind};

/// One labelled input with its hint and, when invalid, its error.
#[component]
fn TextField(
    field: Field,
    hint: &'static str,
    value: String,
    errors: FieldErrors,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] mono: bool,
    #[prop(optional)] required: bool,
    /// The id of a `<datalist>` offering values.
    #[prop(optional)]
    list: Option<&'static str>,
) -> impl IntoView {
    let (label, field) = (field.label(), field.name());
    let id = format!("f-{field}");
    let error = errors.get(field).map(str::to_string);
    let invalid = error.is_some();
    let described = format!(
        "{id}-hint{}",
        if error.is_some() {
            format!(" {id}-error")
        } else {
            String::new()
        }
    );
    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id.clone()>{label}</label>
            <input
                id=id.clone()
                name=format!("input[{field}]")
                type=kind
                value=value
                class:mono=mono
                required=required
                list=list
                aria-invalid=if invalid { "true" } else { "false" }
                aria-describedby=described
                autocomplete="off"
                spellcheck="false"
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            {error.map(|e| view! { <p class="error" id=format!("{id}-error")>{e}</p> })}
        </div>
    }
}

/// Every field of the request, filled with `values` and annotated with `errors`. `sites` are
/// the discovered Lync sites (SiteId, display name), offered for the site field.
#[component]
pub fn RequestFields(
    values: RequestInput,
    errors: FieldErrors,
    #[prop(optional)] sites: Vec<(String, String)>,
) -> impl IntoView {
    let all = values.policy_scope == "all";
    let policies_error = errors.get("policies").map(str::to_string);
    let policies_invalid = policies_error.is_some();
    let justification_error = errors.get("justification").map(str::to_string);
    let justification_invalid = justification_error.is_some();
    let e = || errors.clone();
    // With JavaScript the fields only an integration needs hide while "turn IM off" is chosen;
    // without it they stay visible and the server ignores them for that kind.
    let kind = RwSignal::new(values.kind.clone());
    let turning_off = move || kind.get() == RequestKind::TurnOff.as_str();
    let kind_error = errors.get("kind").map(str::to_string);
    let kind_invalid = kind_error.is_some();
    view! {
        <fieldset class="fieldset" class:field-invalid=kind_invalid>
            <legend>"Change"</legend>
            <div class="choices" role="radiogroup" aria-label=Field::Kind.label()>
                {RequestKind::ALL
                    .iter()
                    .map(|k| {
                        let value = k.as_str();
                        view! {
                            <label class="choice">
                                <input
                                    type="radio"
                                    id=(*k == RequestKind::ALL[0]).then_some("f-kind")
                                    name="input[kind]"
                                    value=value
                                    checked=values.kind == value
                                    on:change=move |_| kind.set(value.to_string())
                                />
                                {k.label()}
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
            <p class="hint">
                "Turning IM in OWA off is for an organization that does not integrate with Lync: OWA has IM on by default, \
                 so people see blank presence icons and an error at every sign-in (ARTICLE §1.8). It turns IM off on the \
                 front-end OWA directories and the chosen policies, removes the IM keys from web.config and recycles OWA."
            </p>
            {kind_error.map(|e| view! { <p class="error" id="f-kind-error">{e}</p> })}
        </fieldset>
        <fieldset class="fieldset">
            <legend>"Lync"</legend>
            <TextField
                field=Field::SiteId
                hint="The SiteId that Get-CsSite reports for the site, which may differ from its display name; the discovered sites are offered. A display name is resolved to its SiteId."
                value=values.site_id.clone()
                errors=e()
                required=true
                list="discovered-sites"
            />
            <datalist id="discovered-sites">
                {sites
                    .into_iter()
                    .map(|(id, name)| view! { <option value=id.clone()>{format!("{name} (SiteId {id})")}</option> })
                    .collect_view()}
            </datalist>
            <div class="integration-only" hidden=turning_off>
            <TextField
                field=Field::RegistrarFqdn
                hint="The Front End pool that will be the registrar, e.g. atl-cs-001.litwareinc.com. It also becomes IMServerName in OWA's web.config."
                value=values.registrar_fqdn.clone()
                errors=e()
                mono=true
            />
            <TextField
                field=Field::OwaPoolFqdn
                hint="Must match the subject name of the Exchange certificate, e.g. atl-owa-001.litwareinc.com."
                value=values.owa_pool_fqdn.clone()
                errors=e()
                mono=true
            />
            <div class="field-row">
                <TextField
                    field=Field::ApplicationId
                    hint="Letters and digits only."
                    value=values.application_id.clone()
                    errors=e()
                />
                <TextField
                    field=Field::Port
                    hint="1–65535, unused in the pool."
                    value=values.port.clone()
                    errors=e()
                    kind="text"
                />
            </div>
            </div>
        </fieldset>
        <fieldset class="fieldset">
            <legend>"Exchange"</legend>
            <div class="integration-only" hidden=turning_off>
            <TextField
                field=Field::Thumbprint
                hint="40 hexadecimal digits, as Get-ExchangeCertificate shows it. Spaces and invisible characters pasted from the certificate dialog are removed. Where each Mailbox server has its own certificate, list them all, separated by commas: each server's web.config gets the one installed on it."
                value=values.thumbprint.clone()
                errors=e()
                mono=true
            />
            </div>
            <div class="field" class:field-invalid=policies_invalid>
                <span class="label" id="policies-label">{Field::Policies.label()}</span>
                <div class="choices" role="radiogroup" aria-labelledby="policies-label">
                    <label class="choice">
                        <input
                            type="radio"
                            name="input[policy_scope]"
                            value="named"
                            checked=!all
                        />
                        "These policies"
                    </label>
                    <label class="choice">
                        <input type="radio" name="input[policy_scope]" value="all" checked=all />
                        "All policies"
                    </label>
                </div>
                <label for="f-policies" class="sublabel">
                    "Policy names"
                </label>
                <TextArea
                    id="f-policies"
                    name="input[policies]"
                    rows=2
                    value=values.policies.clone()
                    invalid=policies_invalid
                    described_by="f-policies-hint f-policies-error"
                />
                <p class="hint" id="f-policies-hint">
                    "Separate names with commas or new lines. Ignored when “All policies” is chosen."
                </p>
                {policies_error.map(|e| view! { <p class="error" id="f-policies-error">{e}</p> })}
            </div>
        </fieldset>
        <fieldset class="fieldset">
            <legend>"Change"</legend>
            <div class="field" class:field-invalid=justification_invalid>
                <label for="f-justification">{Field::Justification.label()}</label>
                <TextArea
                    id="f-justification"
                    name="input[justification]"
                    rows=3
                    required=true
                    value=values.justification.clone()
                    invalid=justification_invalid
                    described_by="f-justification-hint f-justification-error"
                />
                <p class="hint" id="f-justification-hint">
                    "Why this change is needed; approvers read this. At least 10 characters."
                </p>
                {justification_error
                    .map(|e| view! { <p class="error" id="f-justification-error">{e}</p> })}
            </div>
            <div class="field-row">
                <TextField
                    field=Field::WindowStart
                    hint="Leave both empty to run whenever approved."
                    value=values.window_start.clone()
                    errors=e()
                    kind="datetime-local"
                />
                <TextField
                    field=Field::WindowEnd
                    hint="At most 30 days after the start."
                    value=values.window_end.clone()
                    errors=e()
                    kind="datetime-local"
                />
            </div>
        </fieldset>
    }
}

{% if integrate -%}
# imlink runbook for integration plan {{ hash }}
# OWA trusted application pool {{ owa }}, Lync registrar pool {{ registrar }}, SiteId {{ site }}.
{%- else -%}
# imlink runbook for plan {{ hash }}: turn IM in OWA off, SiteId {{ site }}.
{%- endif %}
# Run in one PowerShell session that has the Lync Server and Exchange management shells loaded.
# Only the steps the plan will change are run; the others are listed as comments.
$ErrorActionPreference = 'Stop'
{%- for step in steps %}

# Step {{ step.number }}: {{ step.heading }}
{%- if step.run %}
$output = & {
{{ step.body }}
}
$output
{%- if let Some(check) = step.expect_check %}
{{ check }}
{%- endif %}
{%- endif %}
{%- endfor %}

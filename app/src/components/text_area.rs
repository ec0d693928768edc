//! A multi-line text field whose content is always text.

use leptos::prelude::*;

/// `text` with `&`, `<` and `>` written as character references.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<textarea>` filled with `value`. Leptos writes a textarea's children into the page
/// unescaped (as it does a script's), so `</textarea><script>…` typed by someone would end
/// the field and become markup. The value is therefore given as escaped markup, which the
/// browser decodes back into exactly the text typed, both in the server-rendered page and when
/// the browser renders or updates the field itself.
#[component]
pub fn TextArea(
    id: &'static str,
    name: &'static str,
    rows: u32,
    #[prop(into)] value: Signal<String>,
    #[prop(into)] invalid: Signal<bool>,
    /// The ids of the hint and error that describe the field.
    described_by: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <textarea
            id=id
            name=name
            rows=rows
            required=required
            aria-invalid=move || if invalid.get() { "true" } else { "false" }
            aria-describedby=described_by
            inner_html=move || escape_text(&value.get())
        ></textarea>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape_text("</textarea><script>alert(1)</script> & &amp;"),
            "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &amp;amp;"
        );
        assert_eq!(escape_text("Gruß, “quotes”\n'x'"), "Gruß, “quotes”\n'x'");
    }
}

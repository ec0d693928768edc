//! The Content-Security-Policy: scripts only from the portal itself or carrying this
//! response's nonce (the hydration script), so markup that slipped into a page runs nothing.

use leptos::prelude::{provide_context, use_context};

/// The nonce of the response being rendered, put into the request's extensions by the server.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// The policy for a response whose inline scripts carry `nonce`. WebAssembly needs
/// `'wasm-unsafe-eval'` (it compiles code; it does not allow `eval` of text).
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Gives Leptos this response's nonce, so the scripts it writes carry it.
pub fn provide_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

#![recursion_limit = "256"]
//! imlink's Leptos crate: the pages and components, server functions, the views they show,
//! and what the server and the browser share: the pure domain and the documented procedure.

pub mod api;
mod app;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
pub mod procedure;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod views;

pub use app::{App, shell};

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Lets end-to-end tests wait until the page is interactive.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

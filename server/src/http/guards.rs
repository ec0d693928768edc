//! What every request passes through before it reaches a page, a server function or a file:
//! the `Host` allow-list, the cross-origin guard, the security headers (with the
//! Content-Security-Policy nonce), the binding of no-JavaScript form errors to the browser that
//! caused them, and the same-site reload of cross-site navigations.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use app::ssr::auth;
use app::ssr::csp::{self, CspNonce};
use app::ssr::state::AppState;

/// The query parameters in which Leptos carries a failed no-JavaScript form post back to its page.
const FORM_ERROR_PARAMS: [&str; 2] = ["__path", "__err"];
/// How long a no-JavaScript form error can be shown again (a reload) after it happened.
const FORM_ERROR_SECONDS: u32 = 300;

/// Paths served from the compiled site (scripts, WebAssembly, styles, icons): cacheable.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || path.starts_with("/favicon.")
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("a valid header value")
}

/// A fresh nonce for one response's Content-Security-Policy.
fn nonce() -> String {
    let mut raw = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut raw) {
        // Without randomness the policy still applies; inline scripts just cannot run.
        tracing::error!(error = %e, "no randomness for a CSP nonce");
    }
    hex::encode(raw)
}

/// Adds the security headers to every response: the Content-Security-Policy (inline scripts
/// only with this response's nonce, no framing), `X-Frame-Options`, `nosniff`, the referrer
/// policy, `Cache-Control: no-store` on everything but the compiled site's files, and HSTS when
/// the portal is served over HTTPS.
pub async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = nonce();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let cacheable = is_static(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, value(&csp::policy(&nonce)));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings.session.secure_cookie {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The host part of a `Host` header (`name`, `1.2.3.4` or `[::1]`), lower-cased.
pub fn host_name(host: &str) -> String {
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Answers 421 to a request whose `Host` is not one of `server.allowed_hosts` (a DNS-rebinding
/// page, or a name the portal is not served under). The health endpoints answer any host.
pub async fn allowed_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if matches!(path, "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_name);
    if host
        .as_ref()
        .is_some_and(|h| state.settings.allowed_hosts.contains(h))
    {
        return next.run(request).await;
    }
    tracing::warn!(host = ?host, uri = %request.uri(), "refused a request for another host");
    (
        StatusCode::MISDIRECTED_REQUEST,
        "This server does not answer for that host name (see server.allowed_hosts).",
    )
        .into_response()
}

/// Why a state-changing request was refused as cross-origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossOrigin {
    /// `Sec-Fetch-Site` says another site (or a sibling site) sent it.
    OtherSite,
    /// `Origin` names another origin (or is `null`).
    OtherOrigin,
    /// It carries a session cookie but says nothing of where it comes from.
    Unattributed,
}

/// Whether a request must be refused as cross-origin: the Fetch Metadata / Origin algorithm
/// of Go's `CrossOriginProtection`, stricter in one way (a request that carries the session
/// cookie must say where it comes from) and with `trusted_origins` (a reverse proxy's public
/// origin) accepted as same-origin.
pub fn cross_origin_verdict(
    method: &Method,
    headers: &HeaderMap,
    trusted_origins: &[String],
    session_cookie: &str,
) -> Result<(), CrossOrigin> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| trusted_origins.iter().any(|t| t.eq_ignore_ascii_case(o))) {
        return Ok(());
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(CrossOrigin::OtherSite),
        };
    }
    let Some(origin) = origin else {
        return match auth::cookie(headers, session_cookie) {
            // A browser that sends our cookie sends one of the two headers; anything else
            // replaying a session cookie gets no benefit of the doubt.
            Some(_) => Err(CrossOrigin::Unattributed),
            // Not a browser with a session: nothing ambient to abuse.
            None => Ok(()),
        };
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    if origin_host.is_some() && origin_host == host {
        Ok(())
    } else {
        Err(CrossOrigin::OtherOrigin)
    }
}

/// Refuses (403) state-changing requests another site sent (CSRF). Server functions have no
/// token of their own, so every non-safe method goes through this check.
pub async fn cross_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = &state.settings;
    let verdict = cross_origin_verdict(
        request.method(),
        request.headers(),
        &settings.trusted_origins,
        auth::cookie_name(&settings.session),
    );
    if let Err(why) = verdict {
        tracing::warn!(uri = %request.uri(), ?why, "refused a cross-origin request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin requests that change data are refused.",
        )
            .into_response();
    }
    next.run(request).await
}

/// The form error a query carries (`__path`, `__err`), as a tag: the SHA-256 of both values.
fn form_error_tag(query: &str) -> Option<String> {
    let mut found: [Option<String>; 2] = [None, None];
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if let Some(i) = FORM_ERROR_PARAMS.iter().position(|p| *p == key) {
            found[i].get_or_insert_with(|| value.into_owned());
        }
    }
    if found.iter().all(Option::is_none) {
        return None;
    }
    let mut digest = Sha256::new();
    for part in &found {
        digest.update(part.as_deref().unwrap_or_default().as_bytes());
        digest.update([0]);
    }
    Some(hex::encode(digest.finalize()))
}

/// `query` without the form error parameters.
fn without_form_error(query: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !FORM_ERROR_PARAMS.contains(&key.as_ref()) {
            out.append_pair(&key, &value);
        }
    }
    out.finish()
}

/// The cookie that binds a no-JavaScript form error to the browser whose post caused it.
fn form_error_cookie(state: &AppState) -> &'static str {
    if state.settings.session.secure_cookie {
        "__Host-imlink_form_error"
    } else {
        "imlink_form_error"
    }
}

/// The small page that reloads a cross-site navigation from the portal itself.
const RELOAD_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"0\"><title>imlink</title></head>\
<body><p>Opening imlink…</p></body></html>";

/// Two things about navigations:
///
/// - **No-JavaScript form errors.** A failed form post without JavaScript is answered by Leptos
///   with a redirect to the form's page carrying the error (`__path`, `__err`) in the URL, and
///   the page shows it, typed values included. Anyone could make such a link; so the redirect
///   also sets a short-lived cookie holding a digest of that error, and a page asked for with an
///   error this browser did not just get is redirected to the same address without it.
/// - **Cross-site navigations.** The session cookie is `SameSite=Strict`, so a link followed
///   from another site (mail, chat, a ticket) arrives without it. Such a navigation gets a page
///   that reloads the address from the portal itself, which sends the cookie.
pub async fn navigation(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut response = next.run(request).await;
        let tag = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split_once('?'))
            .and_then(|(_, query)| form_error_tag(query.split('#').next().unwrap_or_default()));
        if let Some(tag) = tag {
            let secure = if state.settings.session.secure_cookie {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={tag}; Path=/; HttpOnly; SameSite=Strict; Max-Age={FORM_ERROR_SECONDS}{secure}",
                form_error_cookie(&state)
            );
            response
                .headers_mut()
                .append(header::SET_COOKIE, value(&cookie));
        }
        return response;
    }
    let headers = request.headers();
    let uri = request.uri();
    if let Some(query) = uri.query()
        && let Some(tag) = form_error_tag(query)
        && auth::cookie(headers, form_error_cookie(&state)) != Some(tag.as_str())
    {
        tracing::warn!(
            path = uri.path(),
            "dropped a form error this browser did not cause"
        );
        let rest = without_form_error(query);
        let location = if rest.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{rest}", uri.path())
        };
        return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    }
    let fetch = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let cross_site = matches!(fetch("sec-fetch-site"), Some("cross-site" | "same-site"));
    if cross_site
        && fetch("sec-fetch-mode") == Some("navigate")
        && auth::session_token(headers, &state.settings.session).is_none()
        && !is_static(uri.path())
    {
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            RELOAD_PAGE,
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    /// Method, request headers, and whether (and why) the request is refused.
    type Case = (
        Method,
        &'static [(&'static str, &'static str)],
        Result<(), CrossOrigin>,
    );

    #[test]
    fn cross_origin_table() {
        use CrossOrigin::*;
        const COOKIE: (&str, &str) = ("cookie", "imlink_session=abc");
        let cases: &[Case] = &[
            (Method::GET, &[("sec-fetch-site", "cross-site")], Ok(())),
            (Method::GET, &[COOKIE], Ok(())),
            (Method::POST, &[("sec-fetch-site", "same-origin")], Ok(())),
            (Method::POST, &[("sec-fetch-site", "none")], Ok(())),
            (
                Method::POST,
                &[("sec-fetch-site", "cross-site")],
                Err(OtherSite),
            ),
            (
                Method::POST,
                &[("sec-fetch-site", "same-site")],
                Err(OtherSite),
            ),
            (Method::POST, &[], Ok(())),
            (Method::POST, &[COOKIE], Err(Unattributed)),
            (Method::DELETE, &[COOKIE], Err(Unattributed)),
            (
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:3000"),
                    ("host", "127.0.0.1:3000"),
                    COOKIE,
                ],
                Ok(()),
            ),
            (
                Method::POST,
                &[
                    ("origin", "http://evil.example"),
                    ("host", "127.0.0.1:3000"),
                ],
                Err(OtherOrigin),
            ),
            (
                Method::POST,
                &[("origin", "null"), ("host", "127.0.0.1:3000")],
                Err(OtherOrigin),
            ),
            // A reverse proxy's public origin.
            (
                Method::POST,
                &[
                    ("origin", "https://imlink.corp.example"),
                    ("host", "127.0.0.1:3000"),
                    ("sec-fetch-site", "same-origin"),
                    COOKIE,
                ],
                Ok(()),
            ),
            (
                Method::POST,
                &[
                    ("origin", "https://imlink.corp.example"),
                    ("host", "127.0.0.1:3000"),
                    COOKIE,
                ],
                Ok(()),
            ),
            (
                Method::POST,
                &[
                    ("origin", "https://imlink.corp.example.evil"),
                    ("host", "127.0.0.1:3000"),
                ],
                Err(OtherOrigin),
            ),
        ];
        let trusted = ["https://imlink.corp.example".to_string()];
        for (method, pairs, verdict) in cases {
            assert_eq!(
                cross_origin_verdict(method, &headers(pairs), &trusted, "imlink_session"),
                *verdict,
                "{method} {pairs:?}"
            );
        }
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("127.0.0.1:3000"), "127.0.0.1");
        assert_eq!(host_name("LocalHost"), "localhost");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("imlink.corp.example."), "imlink.corp.example");
    }

    #[test]
    fn form_errors_are_tagged_by_both_values_and_removed_cleanly() {
        let a = form_error_tag("__path=%2Fapi%2Fx&__err=eyJ9&page=2").unwrap();
        assert_eq!(
            form_error_tag("page=2&__err=eyJ9&__path=/api/x"),
            Some(a.clone())
        );
        assert_ne!(form_error_tag("__path=/api/x&__err=eyJ8"), Some(a.clone()));
        assert_ne!(form_error_tag("__path=/api/y&__err=eyJ9"), Some(a));
        assert!(form_error_tag("__err=x").is_some());
        assert_eq!(form_error_tag("page=2"), None);
        assert_eq!(
            without_form_error("page=2&__path=%2Fapi&__err=e&q=a+b"),
            "page=2&q=a+b"
        );
    }
}

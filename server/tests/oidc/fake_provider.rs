//! An OpenID provider the tests control, on loopback: discovery, keys and a token endpoint that
//! checks PKCE and the client's secret and hands out whatever ID token the test minted. It lets
//! a test play a provider that misbehaves (another issuer, rotated keys, forged tokens, down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{CoreHmacKey, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "imlink";
pub const CLIENT_SECRET: &str = "fake-provider-secret";

/// A new RSA key (PKCS#1 PEM), from `openssl`.
fn rsa_pem() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .expect("openssl (Debian package openssl) makes the test keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A signing key with its id.
pub struct Key {
    pub kid: String,
    key: CoreRsaPrivateSigningKey,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        let pem = rsa_pem();
        let key =
            CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into()))).unwrap();
        Key {
            kid: kid.into(),
            key,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        serde_json::to_value(self.key.as_verification_key()).unwrap()
    }

    /// The public key as an attacker would use it for an HMAC secret: the published JWK's
    /// text.
    pub fn public_text(&self) -> String {
        serde_json::to_string(&self.jwk()).unwrap()
    }
}

/// How a minted token is signed.
pub enum Signature<'a> {
    /// RS256 with `key`, naming `kid` in the header.
    Rsa { key: &'a Key, kid: &'a str },
    /// `alg: none`, no signature.
    None,
    /// HS256 keyed with `secret`.
    Hmac(&'a [u8]),
}

/// A compact JWT of `claims` signed as `signature` says.
pub fn mint(claims: &Value, signature: Signature<'_>) -> String {
    let header = match &signature {
        Signature::Rsa { kid, .. } => json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        Signature::None => json!({"alg": "none", "typ": "JWT"}),
        Signature::Hmac(_) => json!({"alg": "HS256", "typ": "JWT"}),
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = match signature {
        Signature::Rsa { key, .. } => key
            .key
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .unwrap(),
        Signature::None => Vec::new(),
        Signature::Hmac(secret) => CoreHmacKey::new(secret)
            .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
            .unwrap(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// What a code redeems for.
struct Grant {
    challenge: String,
    id_token: String,
}

#[derive(Default)]
struct Inner {
    /// The issuer the discovery document names (the provider's own by default).
    claimed_issuer: Option<String>,
    /// The keys published at the JWKS endpoint.
    published: Vec<Value>,
    codes: HashMap<String, Grant>,
    jwks_fetches: u32,
    discovery_fetches: u32,
    down: bool,
}

/// The provider, serving until dropped.
pub struct FakeProvider {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    inner: Arc<Mutex<Inner>>,
}

async fn discovery(State(s): State<Shared>) -> Response {
    let mut inner = s.inner.lock().unwrap();
    inner.discovery_fetches += 1;
    if inner.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = inner.claimed_issuer.clone().unwrap_or(s.issuer.clone());
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "end_session_endpoint": format!("{}/logout", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Shared>) -> Response {
    let mut inner = s.inner.lock().unwrap();
    if inner.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    inner.jwks_fetches += 1;
    Json(json!({ "keys": inner.published })).into_response()
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = s.inner.lock().unwrap();
    if inner.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let refuse =
        |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return refuse("invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return refuse("unsupported_grant_type");
    }
    let Some(grant) = form.get("code").and_then(|c| inner.codes.remove(c)) else {
        return refuse("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse("invalid_grant");
    }
    Json(json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": grant.id_token,
    }))
    .into_response()
}

impl FakeProvider {
    /// Serves on a free port of 127.0.0.1, publishing `keys`.
    pub async fn start(keys: &[&Key]) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            published: keys.iter().map(|k| k.jwk()).collect(),
            ..Inner::default()
        }));
        let shared = Shared {
            issuer: issuer.clone(),
            inner: inner.clone(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeProvider {
            issuer,
            inner,
            task,
        }
    }

    /// Makes the discovery document name `issuer`.
    pub fn claim_issuer(&self, issuer: &str) {
        self.inner.lock().unwrap().claimed_issuer = Some(issuer.into());
    }

    /// Publishes `keys` instead of the current ones (a key rotation).
    pub fn publish(&self, keys: &[&Key]) {
        self.inner.lock().unwrap().published = keys.iter().map(|k| k.jwk()).collect();
    }

    /// Makes every endpoint answer 503 (`true`) or work again.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// How many times the keys were fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.inner.lock().unwrap().jwks_fetches
    }

    /// How many times the discovery document was asked for.
    pub fn discovery_fetches(&self) -> u32 {
        self.inner.lock().unwrap().discovery_fetches
    }

    /// Lets `code` be redeemed once, with the verifier of `challenge`, for `id_token`.
    pub fn grant(&self, code: &str, challenge: &str, id_token: String) {
        self.inner.lock().unwrap().codes.insert(
            code.into(),
            Grant {
                challenge: challenge.into(),
                id_token,
            },
        );
    }
}

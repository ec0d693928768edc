//! Sign-in with the organization's OpenID Connect provider: the authorization code flow with
//! PKCE (S256), a one-time `state` and `nonce`, the issuer pinned, and the ID token validated in
//! full before anyone gets a session (see [`Provider::finish`]).
//!
//! The provider's discovery document and keys are fetched when first needed and kept; an ID
//! token signed with a key id not among them causes one fetch of the keys, at most once per
//! `jwks_refresh_seconds`.

pub mod claims;
pub mod pending;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::domain::roles::Role;
use app::ssr::state::{AppState, IdentityProvider};
use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySet, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use crate::config::OidcConfig;
use claims::{ClaimMapping, Identity};

/// Signature algorithms an ID token may use: asymmetric ones only, so never `none` and never
/// an HMAC (whose key could be the provider's public key, or the client secret).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why a sign-in through the provider failed. The text is for the audit trail and the log:
/// it never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The provider could not be reached, or answered with an error.
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    /// The provider's answer did not pass validation.
    #[error("{0}")]
    Invalid(String),
}

/// The provider's documents as last fetched.
struct Documents {
    metadata: ProviderMetadataWithLogout,
    /// When the keys were last fetched because of an unknown key id.
    keys_refreshed: Option<Instant>,
}

/// What imlink knows of the provider: its documents once fetched, and the last failure to
/// fetch them (repeated to callers for [`RETRY_AFTER_FAILURE`] rather than each waiting out
/// the timeout in turn while the provider is down).
#[derive(Default)]
struct Known {
    documents: Option<Documents>,
    failed: Option<(Instant, String)>,
}

/// How long a failure to reach the provider's discovery document is repeated without asking
/// it again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The configured OpenID Connect provider and what imlink knows of it.
pub struct Provider {
    name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    skew: chrono::Duration,
    end_session: bool,
    keys_refresh: Duration,
    mapping: ClaimMapping,
    http: reqwest::Client,
    known: tokio::sync::Mutex<Known>,
    /// Fetches of the provider's keys (discovery included), for tests and the log.
    key_fetches: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

/// Why the provider could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("oidc.{key}: {message}")]
    Config { key: &'static str, message: String },
}

fn setup(key: &'static str, message: impl ToString) -> SetupError {
    SetupError::Config {
        key,
        message: message.to_string(),
    }
}

impl Provider {
    /// The provider of `config` (validated), reading the client secret file.
    pub fn new(config: &OidcConfig) -> Result<Provider, SetupError> {
        let client_secret = match &config.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    setup(
                        "client_secret_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let secret = text.trim_end_matches(['\r', '\n']);
                if secret.is_empty() {
                    return Err(setup(
                        "client_secret_file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Some(ClientSecret::new(secret.to_string()))
            }
            None => None,
        };
        let roles = config
            .roles
            .by_role()
            .into_iter()
            .filter_map(|(name, groups)| Some((Role::parse(name)?, groups.to_vec())))
            .collect();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(u64::from(config.timeout_seconds)))
            .build()
            .map_err(|e| setup("issuer_url", format!("cannot make an HTTP client: {e}")))?;
        Ok(Provider {
            name: config.name.clone(),
            issuer: IssuerUrl::new(config.issuer_url.trim().to_string())
                .map_err(|e| setup("issuer_url", e))?,
            client_id: ClientId::new(config.client_id.trim().to_string()),
            client_secret,
            redirect: RedirectUrl::new(config.redirect_url.trim().to_string())
                .map_err(|e| setup("redirect_url", e))?,
            scopes: config.scopes.clone(),
            skew: chrono::Duration::seconds(i64::from(config.clock_skew_seconds)),
            end_session: config.end_session,
            keys_refresh: Duration::from_secs(u64::from(config.jwks_refresh_seconds)),
            mapping: ClaimMapping {
                username: config.username_claim.clone(),
                display_name: config.display_name_claim.clone(),
                groups: config.groups_claim.clone(),
                roles,
            },
            http,
            known: tokio::sync::Mutex::new(Known::default()),
            key_fetches: Default::default(),
        })
    }

    /// The provider configured for the portal of `state`, if sign-in goes through one.
    pub fn of(state: &AppState) -> Option<&Provider> {
        state
            .settings
            .identity_provider
            .as_deref()
            .and_then(|p| p.as_any().downcast_ref::<Provider>())
    }

    /// The issuer, as configured.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// Fetches the discovery document and the keys (for `imlink check-config`).
    pub async fn verify(&self) -> Result<(), Failure> {
        self.metadata().await.map(|_| ())
    }

    /// Which claims name the person and which groups give which role.
    pub fn mapping(&self) -> &ClaimMapping {
        &self.mapping
    }

    /// How many times the provider's keys were fetched (with discovery or after an unknown
    /// key id).
    pub fn key_fetches(&self) -> u64 {
        self.key_fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The discovery document (with the keys), fetched when not yet known. Its issuer must be
    /// the configured one, exactly.
    async fn metadata(&self) -> Result<ProviderMetadataWithLogout, Failure> {
        let mut known = self.known.lock().await;
        if let Some(d) = known.documents.as_ref() {
            return Ok(d.metadata.clone());
        }
        if let Some((at, why)) = &known.failed
            && at.elapsed() < RETRY_AFTER_FAILURE
        {
            return Err(Failure::Unreachable(why.clone()));
        }
        let fetched = ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Validation(why) => {
                    Failure::Invalid(format!("the discovery document was refused: {why}"))
                }
                other => Failure::Unreachable(format!("discovery failed: {}", chain(&other))),
            });
        let metadata = match fetched {
            Ok(metadata) => metadata,
            Err(failure) => {
                if let Failure::Unreachable(why) = &failure {
                    known.failed = Some((Instant::now(), why.clone()));
                }
                return Err(failure);
            }
        };
        self.key_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        known.failed = None;
        known.documents = Some(Documents {
            metadata: metadata.clone(),
            keys_refreshed: None,
        });
        Ok(metadata)
    }

    /// The keys to try again with after an ID token named an unknown key id: fetched anew,
    /// unless that happened less than `jwks_refresh_seconds` ago (then the keys as they are,
    /// which a sign-in racing a rotation needs).
    async fn refresh_keys(
        &self,
    ) -> Result<JsonWebKeySet<openidconnect::core::CoreJsonWebKey>, Failure> {
        let mut known = self.known.lock().await;
        let Some(d) = known.documents.as_mut() else {
            return Err(Failure::Unreachable(
                "the provider's keys are not known".into(),
            ));
        };
        if d.keys_refreshed
            .is_some_and(|at| at.elapsed() < self.keys_refresh)
        {
            return Ok(d.metadata.jwks().clone());
        }
        d.keys_refreshed = Some(Instant::now());
        let keys = JsonWebKeySet::fetch_async(d.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| {
                Failure::Unreachable(format!("fetching the keys failed: {}", chain(&e)))
            })?;
        self.key_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        d.metadata = d.metadata.clone().set_jwks(keys.clone());
        Ok(keys)
    }

    /// imlink as the provider's client: its id, its secret (a public client without one sends
    /// its id in the token request's body), its redirect URI.
    fn client(
        &self,
        metadata: ProviderMetadataWithLogout,
    ) -> CoreClient<
        EndpointSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointMaybeSet,
        EndpointMaybeSet,
    > {
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone());
        if self.client_secret.is_none() {
            client.set_auth_type(AuthType::RequestBody)
        } else {
            client
        }
    }

    /// Starts a sign-in: the provider's authorization address, and what the callback will
    /// need. `login_hint` (an account name) is passed on to the provider.
    pub async fn start(
        &self,
        return_to: &str,
        login_hint: Option<&str>,
    ) -> Result<(String, String, pending::Pending), Failure> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            pending::Pending {
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to: return_to.to_string(),
            },
        ))
    }

    /// Finishes a sign-in: redeems `code` with the PKCE verifier, and validates the ID token
    /// in full (signature with an allowed algorithm and the provider's key, `iss`, `aud`, `azp`,
    /// `exp`, `iat` and `nbf` with the configured skew, `nonce`). Returns who it names.
    pub async fn finish(
        &self,
        code: &str,
        started: &pending::Pending,
    ) -> Result<Identity, Failure> {
        let metadata = self.metadata().await?;
        let client = self.client(metadata.clone());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| Failure::Invalid(format!("the provider names no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(started.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    Failure::Invalid(format!("the provider refused the code: {}", r.error()))
                }
                RequestTokenError::Request(e) => {
                    Failure::Unreachable(format!("the token request failed: {}", chain(&e)))
                }
                // Not an answer of the OAuth protocol: the provider is failing (a 5xx page).
                other => Failure::Unreachable(format!(
                    "the token endpoint gave no token response: {}",
                    chain(&other)
                )),
            })?;
        let token = response
            .id_token()
            .ok_or_else(|| Failure::Invalid("the token response holds no ID token".into()))?;
        let nonce = Nonce::new(started.nonce.clone());
        let mut keys = metadata.jwks().clone();
        let mut refreshed = false;
        let claims = loop {
            match token.claims(&self.verifier(keys.clone()), &nonce) {
                Ok(claims) => break claims,
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refreshed => {
                    refreshed = true;
                    keys = self.refresh_keys().await?;
                }
                Err(e) => return Err(Failure::Invalid(format!("ID token refused: {e}"))),
            }
        };
        if let Some(azp) = claims.authorized_party()
            && azp.as_str() != self.client_id.as_str()
        {
            return Err(Failure::Invalid(format!(
                "ID token refused: it was issued to {:?} (azp), not to imlink",
                azp.as_str()
            )));
        }
        let payload = payload(token)?;
        if let Some(nbf) = payload.get("nbf").and_then(Value::as_i64)
            && nbf > (Utc::now() + self.skew).timestamp()
        {
            return Err(Failure::Invalid(
                "ID token refused: not valid yet (nbf)".into(),
            ));
        }
        self.mapping
            .identity(&payload)
            .map_err(|e| Failure::Invalid(e.to_string()))
    }

    /// The ID token verifier for `keys`: a public-client verifier (no shared secret exists for
    /// an HMAC to be checked with) allowing only [`ALLOWED_ALGS`]; the audience must be imlink
    /// alone (any other audience is untrusted).
    fn verifier(
        &self,
        keys: JsonWebKeySet<openidconnect::core::CoreJsonWebKey>,
    ) -> CoreIdTokenVerifier<'static> {
        let skew = self.skew;
        CoreIdTokenVerifier::new_public_client(self.client_id.clone(), self.issuer.clone(), keys)
            .set_allowed_algs(ALLOWED_ALGS)
            .set_time_fn(move || Utc::now() - skew)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > Utc::now() + skew {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            })
    }

    /// Where to send a browser to end its session at the provider: its end-session endpoint,
    /// naming imlink and its sign-in page to come back to; `None` when off or not offered.
    pub async fn sign_out_url(&self) -> Option<String> {
        if !self.end_session {
            return None;
        }
        let metadata = self.metadata().await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let back = self.redirect.url().join("/signin").ok()?;
        Some(
            LogoutRequest::from(endpoint)
                .set_client_id(self.client_id.clone())
                .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(back))
                .http_get_url()
                .to_string(),
        )
    }
}

impl IdentityProvider for Provider {
    fn name(&self) -> &str {
        &self.name
    }

    fn ends_provider_session(&self) -> bool {
        self.end_session
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The claims of a verified ID token, as JSON (for the configured claim names).
fn payload(token: &CoreIdToken) -> Result<Value, Failure> {
    use base64::Engine;
    let compact = token.to_string();
    compact
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Failure::Invalid("the ID token's claims could not be read".into()))
}

/// An error with its causes, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The provider for `config`, when sign-in goes through one.
pub fn open(config: &OidcConfig) -> Result<Option<Arc<dyn IdentityProvider>>, SetupError> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Arc::new(Provider::new(config)?)))
}

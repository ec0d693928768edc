//! How people sign in: the methods, why a sign-in can be refused (in plain words for the
//! sign-in page), and where a browser may be sent back to afterwards.

use serde::{Deserialize, Serialize};

use super::stored_enum;

stored_enum! {
    /// How a person signs in; stored with them.
    pub enum SignInMethod {
        /// The password-less demo accounts, from the server's own machine only.
        Local = "local",
        /// The organization's identity provider (OpenID Connect).
        Oidc = "oidc",
    }
}

/// Why a sign-in through the identity provider was refused: the code travels in the sign-in
/// page's address (`/signin?refused=no_access`), the page explains it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInRefusal {
    /// The person's groups map to no imlink role.
    NoAccess,
    /// The person is disabled in imlink.
    Disabled,
    /// The identity provider could not be reached or answered with an error.
    ProviderUnreachable,
    /// The sign-in was not started in this browser, was already used, or took over 10 minutes.
    Expired,
    /// The person cancelled at the provider, or the provider refused them.
    Cancelled,
    /// The provider's answer did not pass validation (a token that is not for imlink, expired,
    /// wrongly signed, or missing the name).
    Invalid,
    /// Too many sign-in attempts from this address.
    TooMany,
}

impl SignInRefusal {
    /// Every refusal.
    pub const ALL: [SignInRefusal; 7] = [
        SignInRefusal::NoAccess,
        SignInRefusal::Disabled,
        SignInRefusal::ProviderUnreachable,
        SignInRefusal::Expired,
        SignInRefusal::Cancelled,
        SignInRefusal::Invalid,
        SignInRefusal::TooMany,
    ];

    /// The code in the sign-in page's address.
    pub fn code(self) -> &'static str {
        match self {
            SignInRefusal::NoAccess => "no_access",
            SignInRefusal::Disabled => "disabled",
            SignInRefusal::ProviderUnreachable => "provider_unreachable",
            SignInRefusal::Expired => "expired",
            SignInRefusal::Cancelled => "cancelled",
            SignInRefusal::Invalid => "invalid",
            SignInRefusal::TooMany => "too_many",
        }
    }

    /// The refusal named by `code`, if any.
    pub fn parse(code: &str) -> Option<SignInRefusal> {
        SignInRefusal::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What the person reads.
    pub fn explain(self) -> &'static str {
        match self {
            SignInRefusal::NoAccess => {
                "You signed in, but your account is in no group that gives a role in imlink, so \
                 no session was opened. Ask an imlink administrator to add you to the right group \
                 at your identity provider, then sign in again."
            }
            SignInRefusal::Disabled => {
                "Your account is disabled in imlink. An imlink administrator can enable it again."
            }
            SignInRefusal::ProviderUnreachable => {
                "The identity provider could not be reached, so nobody can sign in right now. \
                 People already signed in keep working. Try again in a few minutes; if it \
                 persists, tell your administrator."
            }
            SignInRefusal::Expired => {
                "That sign-in had expired or was not started in this browser. Start again here."
            }
            SignInRefusal::Cancelled => {
                "The sign-in was cancelled at the identity provider. Start again when you are ready."
            }
            SignInRefusal::Invalid => {
                "The identity provider's answer could not be trusted, so no session was opened. \
                 It has been logged for your administrator."
            }
            SignInRefusal::TooMany => {
                "Too many sign-in attempts from your address. Wait a minute and try again."
            }
        }
    }
}

/// The longest path a sign-in returns to.
const RETURN_TO_MAX: usize = 2048;

/// Where a browser may be sent after signing in: `raw` when it is a path on this portal, else
/// `/`. Refused: anything not starting with one `/` (`https://evil`, `javascript:…`), `//evil`,
/// backslashes (`/\evil`), control characters, and any of these hidden behind percent-encoding
/// (`/%2F%2Fevil`).
pub fn safe_return_to(raw: &str) -> String {
    /// A path of this site: browsers drop tabs and line breaks inside URLs, so those count as
    /// not there (`/\t/evil` is `//evil`).
    fn local(path: &str) -> bool {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains('\\')
            && !path.chars().any(char::is_control)
    }
    if raw.len() > RETURN_TO_MAX || !local(raw) || raw.chars().any(char::is_whitespace) {
        return "/".into();
    }
    // Each level of decoding must still be local: a browser or proxy may decode again.
    let mut decoded = raw.to_string();
    for _ in 0..3 {
        let next = percent_decode(&decoded);
        if !local(&next) {
            return "/".into();
        }
        if next == decoded {
            break;
        }
        decoded = next;
    }
    raw.to_string()
}

/// The sign-in page's address for someone who was on `here` (a path with its query).
pub fn sign_in_path(here: &str) -> String {
    if here == "/" {
        "/signin".into()
    } else {
        format!("/signin?return_to={}", encode_query_value(here))
    }
}

/// `text` percent-encoded for a query value (unreserved characters and `/` kept).
pub fn encode_query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `text` with `%XX` sequences decoded (invalid UTF-8 replaced).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        for bad in [
            "https://evil",
            "http://evil.test/x",
            "//evil",
            "/\\evil",
            "\\\\evil",
            "/%2F%2Fevil",
            "/%2f%2fevil",
            "/%5Cevil",
            "/%252F%252Fevil",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " /requests",
            "/\tevil",
            "/%09/evil",
            "/%0d%0aSet-Cookie:x=1",
            "",
            "requests",
        ] {
            assert_eq!(safe_return_to(bad), "/", "{bad:?}");
        }
        for good in [
            "/",
            "/requests/12",
            "/people?identity=ada%40example.com",
            "/requests?state=approved&page=2",
            "/audit#top",
        ] {
            assert_eq!(safe_return_to(good), good);
        }
        assert_eq!(safe_return_to(&format!("/{}", "a".repeat(3000))), "/");
    }

    #[test]
    fn the_sign_in_page_knows_where_to_come_back_to() {
        assert_eq!(sign_in_path("/"), "/signin");
        // The page's own query is already encoded; the whole comes back as one value.
        let here = "/requests/new?site=a%20b&x=1";
        let path = sign_in_path(here);
        assert_eq!(
            path,
            "/signin?return_to=/requests/new%3Fsite%3Da%2520b%26x%3D1"
        );
        let value = percent_decode(path.split_once("return_to=").unwrap().1);
        assert_eq!(safe_return_to(&value), here);
    }

    #[test]
    fn refusal_codes_round_trip() {
        for refusal in SignInRefusal::ALL {
            assert_eq!(SignInRefusal::parse(refusal.code()), Some(refusal));
            assert!(!refusal.explain().is_empty());
        }
        assert_eq!(SignInRefusal::parse("<script>"), None);
    }
}

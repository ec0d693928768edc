//! The portal served in-process over real TCP, and a minimal HTTP/1.1 client for the checks.

use app::domain::workflow::ApprovalPolicy;
use app::ssr::state::{AppState, Settings};

use super::{Backend, TestDb, settings, state_with};

/// A portal serving on a free port of 127.0.0.1.
pub struct Served {
    pub base: String,
    pub db: TestDb,
    pub state: AppState,
}

/// Serves the portal on `backend` with the tests' settings changed by `adjust`.
pub async fn serve_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Served {
    let t = TestDb::new(backend).await;
    let mut settings = settings(ApprovalPolicy::default());
    adjust(&mut settings);
    serve_state(t, settings, "127.0.0.1:0").await
}

/// Serves the portal on SQLite with the tests' settings.
pub async fn serve() -> Served {
    serve_with(Backend::Sqlite, |_| {}).await
}

/// Serves `settings` over `t` on `address`.
pub async fn serve_state(t: TestDb, settings: Settings, address: &str) -> Served {
    let state = state_with(&t.db, settings);
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move {
        server::http::serve(listener, served, std::future::pending())
            .await
            .unwrap();
    });
    Served { base, db: t, state }
}

/// A response: status, head (status line and headers) and body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// Every value of header `name`.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// The `name=value` of the session cookie this response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers("set-cookie")
            .into_iter()
            .find(|c| c.contains("imlink_session="))
            .and_then(|c| c.split(';').next().map(str::to_string))
            .filter(|c| !c.ends_with('='))
    }
}

/// Sends one request to `base` (closing the connection after it) and reads the whole answer.
pub async fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let host = base.trim_start_matches("http://");
    send_to(host, host, method, path, headers, body).await
}

/// Like [`send`], connecting to `address` while naming `host` in the `Host` header.
pub async fn send_to(
    address: &str,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        stream.write_all(text.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    // A server that never finishes its answer fails the test instead of hanging it.
    let raw = tokio::time::timeout(std::time::Duration::from_secs(60), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no complete answer within 60 s"));
    // The body is dechunked as bytes: a compressed body is not text, and cutting its lossy
    // text at byte counts could split a character.
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw.get(split + 4..).unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .any(|(k, v)| k.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunked(body)
    } else {
        body.to_vec()
    };
    Reply {
        status,
        head,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

/// A chunked body's content.
fn dechunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let Some(size) = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            break;
        };
        let rest = &body[line_end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
pub const JSON: (&str, &str) = ("Accept", "application/json");
pub const SAME_ORIGIN: (&str, &str) = ("Sec-Fetch-Site", "same-origin");

/// Signs in as `username` through the demo sign-in and returns the session cookie
/// (`name=value`).
pub async fn session(base: &str, username: &str) -> String {
    let reply = send(
        base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        &format!("username={username}"),
    )
    .await;
    reply
        .session_cookie()
        .unwrap_or_else(|| panic!("a session cookie for {username}: {}", reply.head))
}

//! The loopback listener that receives the browser's redirect (RFC 8252 §7.3): it binds
//! `127.0.0.1` on an ephemeral port, waits for the one `GET /callback?…` that belongs to the login
//! in progress, and answers the browser with a small page.
//!
//! It is a few dozen lines of HTTP/1.1 on a tokio `TcpListener`, written by hand on purpose: it
//! reads one request line per connection (bounded in size and time) and answers one page, after
//! the code exchange. A server crate (hyper's server half, or axum) would bring its server
//! features and a service stack into a library whose users otherwise need only an HTTP client,
//! and would need a channel to hold the browser's answer back until the exchange is done. URLs
//! are still the `url` crate's: the redirect URI is built with it, and each request target is
//! resolved with it against that URI.
//!
//! Anything else that reaches the listener is answered and ignored: a favicon request gets a 404,
//! a speculative connection that never sends a request is dropped after a timeout, and a request
//! to the callback that is not this login's redirect (the caller decides, by its `state`) gets a
//! 400 while the wait goes on: any local process, or a web page probing loopback ports, can send
//! one, and must not end the login.

use std::time::Duration;

use oauth2::url::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::CALLBACK_PATH;
use crate::error::ClientError;

/// How long one connection to the listener may take to send its request line and headers.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head the listener reads; a redirect with a code and a state is far
/// smaller.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long writing the answer page may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A listener on `127.0.0.1`, and the redirect URI that leads to it.
pub(super) struct Loopback {
    listener: TcpListener,
    redirect_uri: Url,
}

/// The browser's redirect: the connection that brought it (to answer it) and its query.
pub(super) struct Redirect {
    browser: TcpStream,
    pub(super) query: String,
}

impl Loopback {
    /// Listens on `127.0.0.1` on a free port.
    pub(super) async fn bind() -> Result<Self, ClientError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(ClientError::Loopback)?;
        let port = listener.local_addr().map_err(ClientError::Loopback)?.port();
        Ok(Self { listener, redirect_uri: redirect_uri(port)? })
    }

    /// `http://127.0.0.1:PORT/callback`.
    pub(super) fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Accepts connections until one brings `GET /callback?…` whose query `is_this_login`
    /// accepts, and returns it; the listener closes then. A callback that is not this login's
    /// gets a 400, other requests a 404, and the wait goes on, at most `timeout` in all.
    pub(super) async fn wait_for_redirect(
        &self,
        is_this_login: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<Redirect, ClientError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        // One task per connection, so a connection that never sends a request (browsers open
        // speculative ones) does not hold up the redirect. Dropping the set aborts the rest.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                () = &mut deadline => return Err(ClientError::LoginTimedOut(timeout)),
                accepted = self.listener.accept() => {
                    let (mut stream, _) = accepted.map_err(ClientError::Loopback)?;
                    connections.spawn(async move {
                        let head = tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_request_head(&mut stream)).await;
                        (stream, head.ok().flatten())
                    });
                }
                Some(Ok((mut stream, request))) = connections.join_next(), if !connections.is_empty() => {
                    match request.as_deref().and_then(|request| callback_query(request, &self.redirect_uri)) {
                        Some(query) if is_this_login(&query) => return Ok(Redirect { browser: stream, query }),
                        Some(_) => {
                            tracing::warn!("a request to the login's callback was not this login's redirect; ignored");
                            let _ = Page::not_recognised().write_to(&mut stream).await;
                        }
                        None if request.is_some() => {
                            let _ = Page::not_found().write_to(&mut stream).await;
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

impl Redirect {
    /// Answers the browser with `page`. The login's outcome does not depend on the browser still
    /// listening, so a failure to write is ignored.
    pub(super) async fn answer(mut self, page: &Page) {
        let _ = page.write_to(&mut self.browser).await;
    }
}

/// The redirect URI of a listener on `127.0.0.1:port`.
fn redirect_uri(port: u16) -> Result<Url, ClientError> {
    let invalid = || ClientError::Config(format!("no loopback redirect URI for port {port}"));
    let mut uri = Url::parse("http://127.0.0.1/").map_err(|_| invalid())?;
    uri.set_port(Some(port)).map_err(|()| invalid())?;
    uri.set_path(CALLBACK_PATH);
    Ok(uri)
}

/// The query of a `GET` request (`METHOD TARGET`) on [`CALLBACK_PATH`] (empty when it has none).
/// The target must be in origin form (RFC 9112 §3.2.1) and is resolved against `redirect_uri`.
fn callback_query(request: &str, redirect_uri: &Url) -> Option<String> {
    let target = request.strip_prefix("GET ")?;
    if !target.starts_with('/') {
        return None;
    }
    let url = redirect_uri.join(target).ok()?;
    // `//host/callback` would resolve to another origin.
    (url.origin() == redirect_uri.origin() && url.path() == CALLBACK_PATH)
        .then(|| url.query().unwrap_or_default().to_owned())
}

/// Reads a request head and returns `METHOD TARGET` from its request line; `None` when the peer
/// closes early, sends too much, or sends something that is not HTTP/1.x.
async fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    request_line(&head)
}

fn request_line(head: &[u8]) -> Option<String> {
    let line = head.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
        return None;
    }
    Some(format!("{method} {target}"))
}

/// The small page the browser shows when it comes back to the listener.
pub(super) struct Page {
    status: &'static str,
    title: &'static str,
    message: String,
    /// Where a `303 See Other` sends the browser on.
    location: Option<String>,
}

impl Page {
    pub(super) fn success() -> Page {
        Page {
            status: "200 OK",
            title: "Logged in",
            message: "You are logged in. You can close this window and return to the terminal.".to_owned(),
            location: None,
        }
    }

    pub(super) fn failure(error: &ClientError) -> Page {
        let status = match error {
            ClientError::StateMismatch | ClientError::Protocol { .. } => "400 Bad Request",
            _ => "200 OK",
        };
        Page {
            status,
            title: "Login failed",
            message: format!("The login failed: {error}. You can close this window."),
            location: None,
        }
    }

    /// Sends the browser on to `url` (a new authorization request of this login).
    pub(super) fn see_other(url: &Url) -> Page {
        Page {
            status: "303 See Other",
            title: "Continuing the login",
            message: "Continuing the login with a narrower scope.".to_owned(),
            location: Some(url.to_string()),
        }
    }

    fn not_recognised() -> Page {
        Page {
            status: "400 Bad Request",
            title: "Request not recognised",
            message: "This request was not recognised: it does not belong to the login in progress (wrong state), \
                      so it was ignored."
                .to_owned(),
            location: None,
        }
    }

    fn not_found() -> Page {
        Page { status: "404 Not Found", title: "Not found", message: "Nothing here.".to_owned(), location: None }
    }

    pub(super) fn html(&self) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Tessera</title></head>\
             <body><h1>{title}</h1><p id=\"message\">{message}</p></body></html>\n",
            title = self.title,
            message = escape_html(&self.message),
        )
    }

    async fn write_to(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let body = self.html();
        let location = self.location.as_ref().map(|url| format!("Location: {url}\r\n")).unwrap_or_default();
        // No caching, no referrer (the URL holds the code), and no scripts or loads of any kind.
        let response = format!(
            "HTTP/1.1 {status}\r\n{location}Content-Type: text/html; charset=utf-8\r\nContent-Length: {length}\r\n\
             Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
             Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n{body}",
            status = self.status,
            length = body.len(),
        );
        tokio::time::timeout(RESPONSE_TIMEOUT, async {
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        })
        .await
        .unwrap_or_else(|elapsed| Err(elapsed.into()))
    }
}

/// The page's one dynamic part is a sentence; a template engine for it would be heavier than
/// these five replacements.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uri_names_the_listeners_port() {
        assert_eq!(redirect_uri(49_152).unwrap().as_str(), "http://127.0.0.1:49152/callback");
    }

    #[test]
    fn only_a_get_of_the_callback_path_is_the_redirect() {
        let redirect_uri = redirect_uri(49_152).unwrap();
        let cases = [
            ("GET /callback?code=a&state=b", Some("code=a&state=b")),
            ("GET /callback", Some("")),
            ("GET /callback?", Some("")),
            ("GET /callback?state=a%2Bb&x=%22", Some("state=a%2Bb&x=%22")),
            ("GET /favicon.ico", None),
            ("GET /callback/x?code=a", None),
            ("GET /call%62ack?code=a", None),
            ("POST /callback?code=a", None),
            // Not in origin form.
            ("GET http://127.0.0.1:49152/callback?code=a", None),
            ("GET //evil.example/callback?code=a", None),
            ("GET *", None),
        ];
        for (request, query) in cases {
            assert_eq!(callback_query(request, &redirect_uri).as_deref(), query, "{request}");
        }
    }

    #[test]
    fn request_lines_are_parsed_strictly() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"GET /callback?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", Some("GET /callback?x=1")),
            (b"GET / HTTP/1.0\r\n\r\n", Some("GET /")),
            (b"GET / HTTP/2\r\n\r\n", None),
            (b"GET /a b HTTP/1.1\r\n\r\n", None),
            (b"\x16\x03\x01\x02\r\n\r\n", None),
        ];
        for (head, expected) in cases {
            assert_eq!(request_line(head).as_deref(), *expected, "{}", String::from_utf8_lossy(head));
        }
    }
}

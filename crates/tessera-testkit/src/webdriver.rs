//! A minimal W3C WebDriver client: drives a headless Chromium through
//! chromedriver, so the tests of the authorization-code flow click through the real login and
//! consent pages the way a user does.
//!
//! [`Browser::start`] starts `chromedriver` on a free port and opens a session with a fresh
//! Chromium profile; dropping the [`Browser`] deletes the session (which closes Chromium) and
//! kills chromedriver. Only the handful of commands the tests need are here (W3C WebDriver §10
//! navigation, §12 elements, §13 document), spoken over reqwest and serde_json.
//!
//! The programs are `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver` packages), or whatever `TESSERA_TEST_CHROMIUM` and
//! `TESSERA_TEST_CHROMEDRIVER` name. When either is missing, [`Browser::start`] fails with
//! [`WebDriverError::NotInstalled`], whose message says to run `scripts/install-test-deps.sh`:
//! browser tests fail rather than skip, because CI installs the browser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// How long chromedriver may take to answer `GET /status` with `ready: true`.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one WebDriver command may take (a page load included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the `wait_for*` helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The key of a web element reference in JSON (W3C WebDriver §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How much of the page a timeout error quotes.
const PAGE_EXCERPT_CHARS: usize = 2000;

/// The Chromium flags every session uses: headless, no sandbox (CI containers run as root), and
/// none of the background traffic a fresh profile would otherwise start.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
];

/// Why a browser command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebDriverError {
    /// Chromium or chromedriver is not installed.
    #[error("{what} not found at {}: run scripts/install-test-deps.sh (it installs Debian's chromium and chromium-driver)", path.display())]
    NotInstalled {
        /// "Chromium" or "chromedriver".
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// chromedriver or the session could not be started.
    #[error("cannot start the browser: {0}")]
    Start(String),

    /// The HTTP exchange with chromedriver failed.
    #[error("WebDriver request {command} failed: {source}")]
    Http {
        /// The command, e.g. `POST /session/{id}/url`.
        command: String,
        /// What went wrong underneath.
        #[source]
        source: reqwest::Error,
    },

    /// chromedriver answered with a W3C WebDriver error (§6.6), e.g. `no such element`.
    #[error("WebDriver command {command} failed: {error}: {message}")]
    Command {
        /// The command, e.g. `POST /session/{id}/element`.
        command: String,
        /// The W3C error code.
        error: String,
        /// chromedriver's message.
        message: String,
    },

    /// chromedriver answered something that is not a WebDriver response.
    #[error("WebDriver command {command} answered unexpectedly: {message}")]
    Protocol {
        /// The command.
        command: String,
        /// What was wrong.
        message: String,
    },

    /// A `wait_for*` helper gave up.
    #[error("timed out after {timeout:?} waiting for {waited_for}; the browser is at {url}, showing:\n{page}")]
    Timeout {
        /// What was awaited.
        waited_for: String,
        /// How long.
        timeout: Duration,
        /// The browser's URL at the end.
        url: String,
        /// The start of the page's source at the end, for the test's failure message.
        page: String,
    },
}

impl WebDriverError {
    /// True for the W3C `no such element` error (§12.3.2).
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, WebDriverError::Command { error, .. } if error == "no such element")
    }
}

/// Where the programs are: the environment variable if set, else the Debian path.
fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).filter(|value| !value.is_empty()).map(PathBuf::from).unwrap_or_else(|| default.into())
}

fn require_installed(what: &'static str, path: &Path) -> Result<(), WebDriverError> {
    if path.is_file() { Ok(()) } else { Err(WebDriverError::NotInstalled { what, path: path.to_owned() }) }
}

/// One WebDriver session's endpoint, shared by the browser and its elements.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    url: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
        call(&self.http, method, &format!("{}{path}", self.url), body).await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get_string(&self, path: &str) -> Result<String, WebDriverError> {
        match self.get(path).await? {
            Value::String(text) => Ok(text),
            other => Err(WebDriverError::Protocol {
                command: format!("GET {path}"),
                message: format!("expected a string, got {other}"),
            }),
        }
    }

    async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        let value = self.post("/element", json!({ "using": "css selector", "value": css })).await?;
        match value.get(ELEMENT_KEY).and_then(Value::as_str) {
            Some(id) => Ok(Element { session: self.clone(), id: id.to_owned(), css: css.to_owned() }),
            None => Err(WebDriverError::Protocol {
                command: "POST /element".to_owned(),
                message: format!("no element reference in {value}"),
            }),
        }
    }
}

/// Sends one WebDriver command and unwraps its `value` (W3C WebDriver §6.5), or turns the error
/// body (§6.6) into [`WebDriverError::Command`].
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let command = format!("{method} {url}");
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let http_error = |source| WebDriverError::Http { command: command.clone(), source };
    let response = request.send().await.map_err(http_error)?;
    let status = response.status();
    let mut body: Value = response.json().await.map_err(http_error)?;
    let value = body.get_mut("value").map(Value::take).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    Err(WebDriverError::Command { command, error: text("error"), message: text("message") })
}

/// A headless Chromium driven over WebDriver. Dropping it ends the session and chromedriver.
pub struct Browser {
    session: Session,
    driver: Child,
    driver_address: SocketAddr,
    session_id: String,
    /// The fresh Chromium profile and chromedriver's log, removed on drop.
    directory: PathBuf,
    closed: bool,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("session", &self.session.url).finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session with a headless Chromium
    /// on a fresh profile.
    pub async fn start() -> Result<Browser, WebDriverError> {
        let chromium = program("TESSERA_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("TESSERA_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        require_installed("Chromium", &chromium)?;
        require_installed("chromedriver", &chromedriver)?;
        let directory = std::env::temp_dir().join(format!("tessera-browser-{}", uuid::Uuid::new_v4().simple()));
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|error| WebDriverError::Start(format!("cannot build the HTTP client: {error}")))?;

        // chromedriver cannot be told to pick a port itself: take a free one from the kernel and
        // hand it over. Another process may grab it in between, so try a few times.
        let mut last_error = None;
        for _ in 0..3 {
            let (driver, address) = match spawn_driver(&chromedriver, &directory) {
                Ok(started) => started,
                Err(error) => {
                    let _ = std::fs::remove_dir_all(&directory);
                    return Err(error);
                }
            };
            let mut browser = Browser {
                session: Session { http: http.clone(), url: String::new() },
                driver,
                driver_address: address,
                session_id: String::new(),
                directory: directory.clone(),
                closed: true,
            };
            match browser.wait_until_ready().await {
                Ok(()) => {}
                Err(error) => {
                    last_error = Some(error);
                    // Drop kills this chromedriver; keep the directory for the next attempt.
                    browser.directory = PathBuf::new();
                    continue;
                }
            }
            browser.open_session(&chromium).await?;
            return Ok(browser);
        }
        let _ = std::fs::remove_dir_all(&directory);
        Err(last_error.unwrap_or_else(|| WebDriverError::Start("chromedriver did not start".to_owned())))
    }

    fn driver_url(&self) -> String {
        format!("http://{}", self.driver_address)
    }

    fn log_excerpt(&self) -> String {
        let log = std::fs::read_to_string(self.directory.join("chromedriver.log")).unwrap_or_default();
        let start = log.len().saturating_sub(PAGE_EXCERPT_CHARS);
        let start = (start..log.len()).find(|index| log.is_char_boundary(*index)).unwrap_or(log.len());
        log[start..].to_owned()
    }

    /// Polls `GET /status` (W3C WebDriver §8.3) until chromedriver says it is ready.
    async fn wait_until_ready(&mut self) -> Result<(), WebDriverError> {
        let deadline = tokio::time::Instant::now() + DRIVER_START_TIMEOUT;
        let status_url = format!("{}/status", self.driver_url());
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(WebDriverError::Start(format!(
                    "chromedriver exited with {status} before it was ready; its log ends with:\n{}",
                    self.log_excerpt()
                )));
            }
            let ready = call(&self.session.http, reqwest::Method::GET, &status_url, None).await;
            if let Ok(value) = ready
                && value.get("ready").and_then(Value::as_bool) == Some(true)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(WebDriverError::Start(format!(
                    "chromedriver was not ready within {DRIVER_START_TIMEOUT:?}; its log ends with:\n{}",
                    self.log_excerpt()
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `POST /session` (W3C WebDriver §8.1) with Chromium, its flags and a fresh profile.
    async fn open_session(&mut self, chromium: &Path) -> Result<(), WebDriverError> {
        let profile = self.directory.join("chromium-profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 30_000, "script": 30_000 },
                    "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
                }
            }
        });
        let url = format!("{}/session", self.driver_url());
        let value =
            call(&self.session.http, reqwest::Method::POST, &url, Some(capabilities)).await.map_err(|error| {
                WebDriverError::Start(format!(
                    "chromedriver could not start Chromium ({error}); its log ends with:\n{}",
                    self.log_excerpt()
                ))
            })?;
        let session_id = value.get("sessionId").and_then(Value::as_str).ok_or_else(|| WebDriverError::Protocol {
            command: "POST /session".to_owned(),
            message: format!("no sessionId in {value}"),
        })?;
        self.session_id = session_id.to_owned();
        self.session.url = format!("{}/session/{session_id}", self.driver_url());
        self.closed = false;
        Ok(())
    }

    /// Navigates to `url` and waits for the page to load (W3C WebDriver §10.1).
    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.session.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The URL of the current page (§10.2).
    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        self.session.get_string("/url").await
    }

    /// The current page's title (§10.7).
    pub async fn title(&self) -> Result<String, WebDriverError> {
        self.session.get_string("/title").await
    }

    /// The current page's source, as the browser serializes its DOM (§13.1).
    pub async fn page_source(&self) -> Result<String, WebDriverError> {
        self.session.get_string("/source").await
    }

    /// The first element matching the CSS selector `css` (§12.3.2); a
    /// [`WebDriverError::Command`] with `no such element` when there is none.
    pub async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        self.session.find(css).await
    }

    /// Waits until an element matches `css`, then returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, WebDriverError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(error) if error.is_no_such_element() => {}
                Err(error) => return Err(error),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.timeout(format!("an element matching {css:?}"), timeout).await);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the current URL satisfies `predicate`, then returns it.
    pub async fn wait_for_url(
        &self,
        predicate: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String, WebDriverError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let url = self.current_url().await?;
            if predicate(&url) {
                return Ok(url);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.timeout("a URL that satisfies the predicate".to_owned(), timeout).await);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn timeout(&self, waited_for: String, timeout: Duration) -> WebDriverError {
        let url = self.current_url().await.unwrap_or_else(|error| format!("(unknown: {error})"));
        let page = self.page_source().await.unwrap_or_else(|error| format!("(unknown: {error})"));
        let page = page.chars().take(PAGE_EXCERPT_CHARS).collect();
        WebDriverError::Timeout { waited_for, timeout, url, page }
    }

    /// Ends the session (closing Chromium) and chromedriver, and removes the profile. Dropping
    /// the browser does the same, blocking briefly; this is the asynchronous way.
    pub async fn quit(mut self) -> Result<(), WebDriverError> {
        self.closed = true;
        let result = call(&self.session.http, reqwest::Method::DELETE, &self.session.url, None).await.map(drop);
        self.stop_driver();
        result
    }

    fn stop_driver(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if !self.directory.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // Drop cannot await, and may run on the test's runtime, which cannot block on itself:
            // a plain blocking HTTP/1.1 request on a socket does the one DELETE (§8.2), which
            // makes chromedriver close Chromium before chromedriver itself is killed.
            delete_session_blocking(self.driver_address, &self.session_id);
        }
        self.stop_driver();
    }
}

fn delete_session_blocking(driver: SocketAddr, session_id: &str) {
    let Ok(mut stream) = TcpStream::connect_timeout(&driver, Duration::from_secs(5)) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: {driver}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Wait for the whole answer (it comes once Chromium has quit). chromedriver keeps the
    // connection open despite `Connection: close`, so read up to the end of the body rather
    // than to the end of the stream.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !response_complete(&answer) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
        }
    }
}

/// True once `answer` holds an HTTP/1.1 response head and the `Content-Length` bytes after it.
fn response_complete(answer: &[u8]) -> bool {
    let Some(head_end) = answer.windows(4).position(|window| window == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&answer[..head_end]);
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= head_end + 4 + content_length
}

/// Starts chromedriver on a port that was free a moment ago, logging to the scratch directory.
fn spawn_driver(chromedriver: &Path, directory: &Path) -> Result<(Child, SocketAddr), WebDriverError> {
    let address = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| WebDriverError::Start(format!("cannot find a free port: {error}")))?;
    std::fs::create_dir_all(directory)
        .map_err(|error| WebDriverError::Start(format!("cannot create {}: {error}", directory.display())))?;
    let log = directory.join("chromedriver.log");
    let child = Command::new(chromedriver)
        .arg(format!("--port={}", address.port()))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| WebDriverError::Start(format!("cannot run {}: {error}", chromedriver.display())))?;
    Ok((child, address))
}

/// An element of the current page, found by [`Browser::find`] or [`Browser::wait_for`].
#[derive(Clone)]
pub struct Element {
    session: Session,
    id: String,
    /// The selector it was found with, for error messages.
    css: String,
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element").field("css", &self.css).finish_non_exhaustive()
    }
}

impl Element {
    /// Types `text` into the element (W3C WebDriver §12.5.3).
    pub async fn send_keys(&self, text: &str) -> Result<(), WebDriverError> {
        self.session.post(&format!("/element/{}/value", self.id), json!({ "text": text })).await.map(drop)
    }

    /// Clicks the element (§12.5.1); a click that submits a form waits for the next page.
    pub async fn click(&self) -> Result<(), WebDriverError> {
        self.session.post(&format!("/element/{}/click", self.id), json!({})).await.map(drop)
    }

    /// Empties an input (§12.5.2).
    pub async fn clear(&self) -> Result<(), WebDriverError> {
        self.session.post(&format!("/element/{}/clear", self.id), json!({})).await.map(drop)
    }

    /// The element's rendered text (§12.4.5).
    pub async fn text(&self) -> Result<String, WebDriverError> {
        self.session.get_string(&format!("/element/{}/text", self.id)).await
    }

    /// An attribute's value, `None` when the element has no such attribute (§12.4.2).
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, WebDriverError> {
        let value = self.session.get(&format!("/element/{}/attribute/{name}", self.id)).await?;
        Ok(value.as_str().map(str::to_owned))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let missing = require_installed("chromedriver", Path::new("/nonexistent/chromedriver")).unwrap_err();
        let message = missing.to_string();
        assert!(message.contains("/nonexistent/chromedriver"), "{message}");
        assert!(message.contains("scripts/install-test-deps.sh"), "{message}");
    }

    #[test]
    fn a_response_is_complete_after_its_head_and_content_length_bytes() {
        let cases: &[(&[u8], bool)] = &[
            (b"", false),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n", false),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"value\":", false),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\n{\"value\":null}", true),
            (b"HTTP/1.1 200 OK\r\n\r\n", true),
        ];
        for (answer, complete) in cases {
            assert_eq!(response_complete(answer), *complete, "{}", String::from_utf8_lossy(answer));
        }
    }
}

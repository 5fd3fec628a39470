//! A headless Chromium for the browser tests of the authorization-code flow, driven over
//! WebDriver by fantoccini, so that the tests click through the real login and consent pages the
//! way a user does.
//!
//! What is here is what fantoccini does not do: start `chromedriver` on a free loopback port with
//! a fresh Chromium profile ([`Browser::start`]), make sure nothing outlives the [`Browser`]
//! (dropping it ends the session, which closes Chromium, then kills chromedriver and removes the
//! profile), and two waits whose timeout says where the browser was and what it showed. Every
//! other command is fantoccini's own [`Client`], which a [`Browser`] dereferences to.
//!
//! The programs are `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver` packages), or whatever `TESSERA_TEST_CHROMIUM` and
//! `TESSERA_TEST_CHROMEDRIVER` name. When either is missing, [`Browser::start`] fails with
//! [`WebDriverError::NotInstalled`], whose message says to run `scripts/install-test-deps.sh`:
//! browser tests fail rather than skip, because CI installs the browser.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::error::CmdError;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub use fantoccini::elements::Element;

/// How long chromedriver may take to accept connections.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long ending a session on drop may take (chromedriver answers once Chromium has quit).
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the `wait_for*` helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How much of the page (or of chromedriver's log) an error quotes.
const EXCERPT_CHARS: usize = 2000;

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

    /// A WebDriver command failed, e.g. `no such element`.
    #[error("WebDriver command failed: {0}")]
    Command(#[from] CmdError),

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
    /// True for the W3C `no such element` error (W3C WebDriver §12.3.2).
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, WebDriverError::Command(error) if error.is_no_such_element())
    }
}

/// Where the programs are: the environment variable if set, else the Debian path.
fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).filter(|value| !value.is_empty()).map(PathBuf::from).unwrap_or_else(|| default.into())
}

fn require_installed(what: &'static str, path: &Path) -> Result<(), WebDriverError> {
    if path.is_file() { Ok(()) } else { Err(WebDriverError::NotInstalled { what, path: path.to_owned() }) }
}

/// The last `EXCERPT_CHARS` characters of `text`.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(EXCERPT_CHARS);
    let start = (start..text.len()).find(|index| text.is_char_boundary(*index)).unwrap_or(text.len());
    &text[start..]
}

/// A running chromedriver, killed when dropped.
#[derive(Debug)]
struct Driver {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a port that was free a moment ago, logging to `directory`.
    fn spawn(chromedriver: &Path, directory: &Path) -> Result<Driver, WebDriverError> {
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| WebDriverError::Start(format!("cannot find a free port: {error}")))?;
        let log = directory.join("chromedriver.log");
        let child = Command::new(chromedriver)
            .arg(format!("--port={}", address.port()))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| WebDriverError::Start(format!("cannot run {}: {error}", chromedriver.display())))?;
        Ok(Driver { child, address, log })
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn log_excerpt(&self) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default()).to_owned()
    }

    /// Waits until chromedriver accepts connections on its port.
    async fn wait_until_listening(&mut self) -> Result<(), WebDriverError> {
        let deadline = tokio::time::Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(WebDriverError::Start(format!(
                    "chromedriver exited with {status} before it was ready; its log ends with:\n{}",
                    self.log_excerpt()
                )));
            }
            if tokio::net::TcpStream::connect(self.address).await.is_ok() {
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
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium on a fresh profile, driven over WebDriver; every fantoccini [`Client`]
/// command is available through `Deref`. Dropping it ends the session and chromedriver.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    session_id: String,
    /// Set once the session has been ended by [`Browser::quit`].
    closed: bool,
    // Dropped in this order after `Drop::drop`: chromedriver is killed, then the profile removed.
    driver: Driver,
    /// The Chromium profile and chromedriver's log.
    _directory: tempfile::TempDir,
}

impl std::ops::Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
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
        let directory = tempfile::Builder::new()
            .prefix("tessera-browser-")
            .tempdir()
            .map_err(|error| WebDriverError::Start(format!("cannot create the profile directory: {error}")))?;

        // chromedriver cannot be told to pick a port itself: take a free one from the kernel and
        // hand it over. Another process may grab it in between, so try a few times.
        let mut last_error = None;
        for _ in 0..3 {
            let mut driver = Driver::spawn(&chromedriver, directory.path())?;
            match driver.wait_until_listening().await {
                Ok(()) => return Self::open_session(driver, &chromium, directory).await,
                Err(error) => last_error = Some(error), // dropping `driver` kills it
            }
        }
        Err(last_error.unwrap_or_else(|| WebDriverError::Start("chromedriver did not start".to_owned())))
    }

    /// `POST /session` (W3C WebDriver §8.1) with Chromium, its flags and a fresh profile.
    async fn open_session(
        driver: Driver,
        chromium: &Path,
        directory: tempfile::TempDir,
    ) -> Result<Browser, WebDriverError> {
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", directory.path().join("chromium-profile").display()));
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("pageLoadStrategy".into(), json!("normal"));
        capabilities.insert("timeouts".into(), json!({ "implicit": 0, "pageLoad": 30_000, "script": 30_000 }));
        capabilities
            .insert("goog:chromeOptions".into(), json!({ "binary": chromium.display().to_string(), "args": args }));
        let client =
            ClientBuilder::new(HttpConnector::new()).capabilities(capabilities).connect(&driver.url()).await.map_err(
                |error| {
                    WebDriverError::Start(format!(
                        "chromedriver could not start Chromium ({error}); its log ends with:\n{}",
                        driver.log_excerpt()
                    ))
                },
            )?;
        let session_id = match client.session_id().await {
            Ok(Some(session_id)) => session_id,
            Ok(None) => return Err(WebDriverError::Start("chromedriver opened no session".to_owned())),
            Err(error) => return Err(error.into()),
        };
        Ok(Browser { client, session_id, closed: false, driver, _directory: directory })
    }

    /// The first element matching the CSS selector `css` (W3C WebDriver §12.3.2); an error for
    /// which [`WebDriverError::is_no_such_element`] holds when there is none.
    pub async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        Ok(self.client.find(Locator::Css(css)).await?)
    }

    /// Waits until an element matches `css`, then returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, WebDriverError> {
        match self.client.wait().at_most(timeout).every(POLL_INTERVAL).for_element(Locator::Css(css)).await {
            Err(CmdError::WaitTimeout) => Err(self.timeout(format!("an element matching {css:?}"), timeout).await),
            found => Ok(found?),
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
            let url = self.client.current_url().await?;
            if predicate(url.as_str()) {
                return Ok(url.into());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.timeout("a URL that satisfies the predicate".to_owned(), timeout).await);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn timeout(&self, waited_for: String, timeout: Duration) -> WebDriverError {
        let url = match self.client.current_url().await {
            Ok(url) => url.into(),
            Err(error) => format!("(unknown: {error})"),
        };
        let page = self.client.source().await.unwrap_or_else(|error| format!("(unknown: {error})"));
        let page = page.chars().take(EXCERPT_CHARS).collect();
        WebDriverError::Timeout { waited_for, timeout, url, page }
    }

    /// Ends the session (closing Chromium) and chromedriver, and removes the profile. Dropping
    /// the browser does the same, blocking briefly; this is the asynchronous way.
    pub async fn quit(mut self) -> Result<(), WebDriverError> {
        let closed = self.client.clone().close().await;
        // On failure, dropping `self` tries once more before chromedriver is killed.
        self.closed = closed.is_ok();
        Ok(closed?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        // Killing chromedriver alone would leave Chromium running: end the session first (W3C
        // WebDriver §8.2), which makes chromedriver close Chromium. Drop cannot await, and may
        // run on the test's runtime, which cannot block on itself: a thread with a runtime of its
        // own reattaches to the session and closes it.
        let (driver, session_id) = (self.driver.url(), self.session_id.clone());
        let closer = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                let close = async {
                    if let Ok(client) = Client::with_existing_session(&driver, &session_id, HttpConnector::new()).await
                    {
                        let _ = client.close().await;
                    }
                };
                let _ = tokio::time::timeout(QUIT_TIMEOUT, close).await;
            });
        });
        let _ = closer.join();
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
    fn an_excerpt_is_the_end_of_the_text_cut_on_a_character_boundary() {
        assert_eq!(tail("short"), "short");
        let long = format!("{}é{}", "a".repeat(10), "b".repeat(EXCERPT_CHARS - 1));
        // The cut falls inside the two bytes of "é": the excerpt starts after it.
        assert_eq!(tail(&long), "b".repeat(EXCERPT_CHARS - 1));
    }
}

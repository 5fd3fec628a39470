//! Logging in through a browser: the authorization-code grant with PKCE (RFC 6749 §4.1, RFC 7636)
//! for a native application, whose redirect URI is a loopback listener on an ephemeral port
//! (RFC 8252 §7.3, in [`loopback`]). This file prepares the authorization request, decides what
//! the redirect says, and trades the code for tokens.
//!
//! A request to the callback that does not carry this login's `state` does not end the login: any
//! local process, or a web page probing loopback ports, can send one.

mod loopback;

use std::fmt;
use std::time::Duration;

use oauth2::url::{Url, form_urlencoded};
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeVerifier, RedirectUrl};

use self::loopback::{Loopback, Page};
use crate::error::{ClientError, OAuthError};
use crate::oauth;
use crate::profile::{ClientSettings, TokenResponse};
use crate::source::TokenSource;

/// The path of the loopback redirect URI. Register `http://127.0.0.1/callback` with the server:
/// a loopback redirect URI matches whatever port the listener gets (RFC 8252 §7.3).
pub const CALLBACK_PATH: &str = "/callback";

/// How long [`AuthorizationCodeLogin::finish`] waits for the browser by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// A browser login in progress: the authorization URL to open, and the loopback listener that
/// waits for the browser to come back with the authorization code.
///
/// Made by [`TokenSource::browser_login`]; [`finish`](Self::finish) waits for the redirect,
/// trades the code for tokens and stores them like
/// [`login_with_password`](TokenSource::login_with_password) does.
pub struct AuthorizationCodeLogin {
    source: TokenSource,
    settings: ClientSettings,
    loopback: Loopback,
    authorize_url: Url,
    redirect_uri: RedirectUrl,
    state: CsrfToken,
    pkce_verifier: PkceCodeVerifier,
    nonce: CsrfToken,
    timeout: Duration,
    /// The scope to ask for instead when the server refuses the requested one (see
    /// [`AuthorizationCodeLogin::with_scope_fallback`]); `Some(None)` asks for no scope.
    scope_fallback: Option<Option<String>>,
}

impl fmt::Debug for AuthorizationCodeLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeLogin")
            .field("authorize_url", &self.authorize_url.as_str())
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Starts a browser login (the authorization-code grant with PKCE S256): listens on
    /// `127.0.0.1` on a free port and prepares the authorization request, with
    /// `redirect_uri=http://127.0.0.1:PORT/callback`, a random `state`, a random `nonce` (which
    /// the id token, if any, must echo) and the scope of `settings`.
    ///
    /// `settings` needs an [`authorization_endpoint`](ClientSettings::authorization_endpoint)
    /// ([`ClientSettings::discover`] fills it in). Open
    /// [`authorize_url`](AuthorizationCodeLogin::authorize_url) in a browser, then await
    /// [`finish`](AuthorizationCodeLogin::finish).
    pub async fn browser_login(&self, settings: ClientSettings) -> Result<AuthorizationCodeLogin, ClientError> {
        let loopback = Loopback::bind().await?;
        let redirect_uri = RedirectUrl::from_url(loopback.redirect_uri().clone());
        // OpenID Connect Core §3.1.2.1: a fresh random nonce binds the id token to this login.
        let nonce = CsrfToken::new_random();
        let (authorize_url, state, pkce_verifier) = oauth::authorization_request(&settings, &redirect_uri, &nonce)?;
        Ok(AuthorizationCodeLogin {
            source: self.clone(),
            settings,
            loopback,
            authorize_url,
            redirect_uri,
            state,
            pkce_verifier,
            nonce,
            timeout: DEFAULT_LOGIN_TIMEOUT,
            scope_fallback: None,
        })
    }

    /// Logs in through a browser and stores the resulting profile, replacing any previous one:
    /// calls `open` with the authorization URL (to print it, or to launch a browser), waits up to
    /// five minutes for the redirect, and trades the code for tokens.
    ///
    /// Fails with [`ClientError::AccessDenied`] when the user declines, and with
    /// [`ClientError::LoginTimedOut`] when this login's redirect does not arrive in time; nothing
    /// is stored then. A redirect that is not this login's (another `state`) is answered 400 and
    /// otherwise ignored.
    ///
    /// ```no_run
    /// use tessera_client::{ClientSettings, TokenSource};
    ///
    /// # async fn login() -> Result<(), tessera_client::ClientError> {
    /// let source = TokenSource::for_profile("default")?;
    /// // A public client that registered the redirect URI http://127.0.0.1/callback.
    /// let mut settings =
    ///     ClientSettings::discover(source.http_client(), "https://your-domain.com", "YOUR_CLIENT_ID", None).await?;
    /// settings.scope = Some("read write".into());
    /// source
    ///     .login_with_browser(settings, |url| eprintln!("Open this URL in your browser to log in:\n{url}"))
    ///     .await?;
    /// let access_token = source.access_token().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn login_with_browser(
        &self,
        settings: ClientSettings,
        open: impl FnOnce(&Url),
    ) -> Result<TokenResponse, ClientError> {
        let login = self.browser_login(settings).await?;
        open(login.authorize_url());
        login.finish().await
    }
}

impl AuthorizationCodeLogin {
    /// The URL to open in the browser: the authorization endpoint with `response_type=code`,
    /// `client_id`, `redirect_uri`, `scope`, `state`, `code_challenge` and
    /// `code_challenge_method=S256`.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// The loopback redirect URI, `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// Waits at most `timeout` for the browser (default five minutes).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When the server refuses the requested scope (`invalid_scope`, RFC 6749 §4.1.2.1), sends
    /// the browser on, once, to the same authorization request with `scope` instead (`None`: no
    /// scope, i.e. the client's default) rather than failing. For scopes added on the client's
    /// initiative, such as `openid profile email`, which a client may not be registered for.
    pub fn with_scope_fallback(mut self, scope: Option<String>) -> Self {
        self.scope_fallback = Some(scope);
        self
    }

    /// Waits for the browser's redirect with this login's `state` (answering any other request to
    /// the callback 400 and going on waiting), trades the code (with the PKCE verifier) for
    /// tokens and stores them; answers the browser with a page that says how it went.
    pub async fn finish(self) -> Result<TokenResponse, ClientError> {
        let AuthorizationCodeLogin {
            source,
            mut settings,
            loopback,
            authorize_url,
            redirect_uri,
            state,
            pkce_verifier,
            nonce,
            timeout,
            mut scope_fallback,
        } = self;
        let redirect = loop {
            let redirect = loopback.wait_for_redirect(|query| carries_state(query, &state), timeout).await?;
            let scope_refused = matches!(
                redirect_outcome(&redirect.query, &state, settings.issuer.as_deref()),
                Err(ClientError::Authorization(ref error)) if error.error == "invalid_scope"
            );
            match scope_fallback.take() {
                Some(scope) if scope_refused => {
                    // The refused request produced no code, so its state, PKCE challenge and
                    // nonce are unspent and serve the narrower request.
                    tracing::debug!(?scope, "the server refused the scope; asking for the fallback scope");
                    redirect.answer(&Page::see_other(&with_scope(&authorize_url, scope.as_deref()))).await;
                    settings.scope = scope;
                }
                _ => break redirect,
            }
        };
        let outcome = match redirect_outcome(&redirect.query, &state, settings.issuer.as_deref()) {
            Ok(code) => {
                source.login_with_authorization_code(settings, code, pkce_verifier, &redirect_uri, &nonce).await
            }
            Err(error) => Err(error),
        };
        let page = match &outcome {
            Ok(_) => Page::success(),
            Err(error) => Page::failure(error),
        };
        redirect.answer(&page).await;
        outcome
    }
}

/// What the redirect says (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 §2.4): the authorization code,
/// or why there is none.
fn redirect_outcome(
    query: &str,
    expected_state: &CsrfToken,
    issuer: Option<&str>,
) -> Result<AuthorizationCode, ClientError> {
    let invalid = |message: &str| ClientError::Protocol {
        url: CALLBACK_PATH.to_owned(),
        message: format!("the browser's redirect {message}"),
    };
    let mut parameters: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        // RFC 6749 §3.1: a parameter must not appear twice.
        if parameters.iter().any(|(seen, _)| *seen == name) {
            return Err(invalid(&format!("repeats the parameter {name:?}")));
        }
        parameters.push((name.into_owned(), value.into_owned()));
    }
    let parameter = |name: &str| parameters.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());

    // The state is checked first, errors included: a redirect that is not this login's is not
    // believed, whatever it says (RFC 6749 §10.12).
    if parameter("state") != Some(expected_state.secret().as_str()) {
        return Err(ClientError::StateMismatch);
    }
    // RFC 9207: a server that names itself in the redirect must be the one this login asked.
    if let (Some(iss), Some(issuer)) = (parameter("iss"), issuer)
        && iss.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Err(invalid(&format!("comes from issuer {:?}, not {issuer:?}", printable(iss))));
    }
    if let Some(error) = parameter("error") {
        let error = OAuthError {
            error: printable(error),
            error_description: parameter("error_description").map(printable),
            error_uri: parameter("error_uri").map(printable),
        };
        return Err(if error.error == "access_denied" {
            ClientError::AccessDenied(error)
        } else {
            ClientError::Authorization(error)
        });
    }
    match parameter("code") {
        Some(code) if !code.is_empty() => Ok(AuthorizationCode::new(code.to_owned())),
        _ => Err(invalid("carries neither a code nor an error")),
    }
}

/// `url` with its `scope` parameter replaced by `scope` (removed for `None`).
fn with_scope(url: &Url, scope: Option<&str>) -> Url {
    let mut narrowed = url.clone();
    let kept: Vec<(String, String)> =
        url.query_pairs().filter(|(name, _)| name != "scope").map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    let mut query = narrowed.query_pairs_mut();
    query.clear().extend_pairs(kept);
    if let Some(scope) = scope {
        query.append_pair("scope", scope);
    }
    drop(query);
    narrowed
}

/// Text from the redirect, which anyone can craft, reduced to the printable ASCII that RFC 6749
/// §4.1.2.1 allows in `error` and `error_description`, so it cannot play tricks on a terminal.
fn printable(text: &str) -> String {
    text.chars().take(500).map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect()
}

/// Whether `query` carries `expected_state` as a `state` parameter: only then may the redirect
/// decide the login's outcome (a repeated parameter is still refused by [`redirect_outcome`]).
fn carries_state(query: &str, expected_state: &CsrfToken) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .any(|(name, value)| name == "state" && value.as_ref() == expected_state.secret().as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn state() -> CsrfToken {
        CsrfToken::new("the-state".into())
    }

    #[test]
    fn the_redirect_is_read_as_rfc_6749_section_4_1_2_says() {
        let issuer = Some("http://127.0.0.1:8080");
        let code = |query: &str| redirect_outcome(query, &state(), issuer).map(|code| code.secret().clone());
        assert_eq!(code("code=abc&state=the-state").unwrap(), "abc");
        assert_eq!(code("state=the-state&code=a%2Bb").unwrap(), "a+b");
        assert_eq!(code("code=abc&state=the-state&iss=http%3A%2F%2F127.0.0.1%3A8080%2F").unwrap(), "abc");

        // (query, what the error must be)
        type Expected = fn(&ClientError) -> bool;
        let cases: &[(&str, Expected)] = &[
            ("code=abc", |e| matches!(e, ClientError::StateMismatch)),
            ("code=abc&state=other", |e| matches!(e, ClientError::StateMismatch)),
            ("code=abc&state=", |e| matches!(e, ClientError::StateMismatch)),
            ("error=access_denied&state=other", |e| matches!(e, ClientError::StateMismatch)),
            (
                "error=access_denied&state=the-state",
                |e| matches!(e, ClientError::AccessDenied(error) if error.error == "access_denied"),
            ),
            ("error=invalid_scope&error_description=no+such+scope&state=the-state", |e| {
                matches!(e, ClientError::Authorization(error)
                    if error.error == "invalid_scope" && error.error_description.as_deref() == Some("no such scope"))
            }),
            ("state=the-state", |e| matches!(e, ClientError::Protocol { .. })),
            ("code=&state=the-state", |e| matches!(e, ClientError::Protocol { .. })),
            ("code=a&code=b&state=the-state", |e| matches!(e, ClientError::Protocol { .. })),
            ("code=a&state=the-state&state=the-state", |e| matches!(e, ClientError::Protocol { .. })),
            ("code=a&state=the-state&iss=http%3A%2F%2Fevil.example", |e| matches!(e, ClientError::Protocol { .. })),
        ];
        for (query, expected) in cases {
            let error = code(query).unwrap_err();
            assert!(expected(&error), "{query}: {error:?}");
        }
    }

    #[test]
    fn text_from_the_redirect_is_made_harmless() {
        assert_eq!(printable("bad\x1b[31mred\n"), "bad?[31mred?");
        let error = redirect_outcome(
            "error=access_denied&error_description=%1B%5B2J%3Cscript%3E&state=the-state",
            &state(),
            None,
        )
        .unwrap_err();
        let page = Page::failure(&error).html();
        assert!(page.contains("?[2J&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
    }

    #[test]
    fn the_fallback_request_differs_only_in_its_scope() {
        let url = Url::parse("http://x/authorize?response_type=code&scope=read+openid&state=s&nonce=n").unwrap();
        assert_eq!(
            with_scope(&url, Some("read")).as_str(),
            "http://x/authorize?response_type=code&state=s&nonce=n&scope=read"
        );
        assert_eq!(with_scope(&url, None).as_str(), "http://x/authorize?response_type=code&state=s&nonce=n");
    }

    #[test]
    fn only_a_callback_with_this_logins_state_ends_the_wait() {
        assert!(carries_state("code=a&state=the-state", &state()));
        assert!(carries_state("state=the-state&error=access_denied", &state()));
        assert!(carries_state("state=the-state&state=the-state", &state()));
        for query in ["code=a", "code=a&state=other", "code=a&state=", "", "code=a&xstate=the-state", "state=the-stat"]
        {
            assert!(!carries_state(query, &state()), "{query}");
        }
    }
}

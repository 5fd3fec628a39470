//! The authorization-code flow over HTTP (RFC 6749 §4.1, RFC 7636): login page, consent,
//! redirect, code exchange, and every way it refuses. The same pages are driven in a real
//! browser by the client crate's and the binary's tests.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:49152/callback";

pub(crate) struct Browser<'a> {
    fixture: &'a Fixture,
    http: reqwest::Client,
    pub(crate) cookies: std::collections::BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
    headers: reqwest::header::HeaderMap,
}

impl Page {
    /// A response header's value; empty when absent.
    pub(crate) fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

impl<'a> Browser<'a> {
    pub(crate) fn new(fixture: &'a Fixture) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { fixture, http, cookies: Default::default() }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty())
            .then(|| self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; "))
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for cookie in response.headers().get_all("set-cookie") {
            let pair = cookie.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers.get("location").map(|value| value.to_str().unwrap().to_owned());
        Page { status, location, body: response.text().await.unwrap(), headers }
    }

    pub(crate) async fn get(&mut self, query: &[(&str, &str)]) -> Page {
        self.get_at("/oauth/authorize", query).await
    }

    pub(crate) async fn post(&mut self, form: &[(&str, &str)]) -> Page {
        self.post_at("/oauth/authorize", form).await
    }

    pub(crate) async fn get_at(&mut self, path: &str, query: &[(&str, &str)]) -> Page {
        let mut request = self.http.get(self.fixture.url(path)).query(query);
        if let Some(cookie) = self.cookie_header() {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    pub(crate) async fn post_at(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(self.fixture.url(path)).form(form);
        if let Some(cookie) = self.cookie_header() {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }
}

pub(crate) fn csrf(page: &Page) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.body.find(marker).unwrap_or_else(|| panic!("no csrf field: {}", page.body)) + marker.len();
    page.body[start..].split('"').next().unwrap().to_owned()
}

pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').map(|(_, query)| query).unwrap_or_default();
    serde_urlencoded::from_str(query).unwrap()
}

pub(crate) fn request<'a>(client_id: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "st4te"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        query.retain(|(existing, _)| existing != name);
        if !value.is_empty() {
            query.push((name, value));
        }
    }
    query
}

/// Login page → sign in → consent → approve; returns the code. A browser whose user has
/// approved this scope before gets the code at once (remembered consent).
pub(crate) async fn approve(browser: &mut Browser<'_>, query: &[(&str, &str)]) -> String {
    let page = browser.get(query).await;
    if page.status == 303 {
        return code_of(browser, page);
    }
    assert_eq!(page.status, 200, "{}", page.body);
    let login_csrf = if page.body.contains("id=\"login\"") { csrf(&page) } else { String::new() };
    let mut form = query.to_vec();
    let consent = if page.body.contains("id=\"approve\"") {
        page
    } else {
        assert!(page.body.contains("id=\"username\"") && page.body.contains("id=\"login\""), "{}", page.body);
        form.extend([
            ("action", "login"),
            ("username", USERNAME),
            ("password", PASSWORD),
            ("csrf", login_csrf.as_str()),
        ]);
        let consent = browser.post(&form).await;
        form.truncate(query.len());
        consent
    };
    if consent.status == 303 {
        // Signed in just now, and this scope was approved before.
        return code_of(browser, consent);
    }
    assert_eq!(consent.status, 200, "{}", consent.body);
    let scope = query.iter().find(|(name, _)| *name == "scope").map_or("", |(_, scope)| *scope);
    assert!(consent.body.contains("id=\"approve\""), "{}", consent.body);
    for scope in scope.split(' ').filter(|scope| !scope.is_empty()) {
        assert!(consent.body.contains(&format!("<li>{scope}</li>")), "{scope} not listed: {}", consent.body);
    }
    let token = csrf(&consent);
    form.extend([("action", "approve"), ("csrf", token.as_str())]);
    let redirect = browser.post(&form).await;
    code_of(browser, redirect)
}

/// The code of a redirect to the client, checked.
pub(crate) fn code_of(browser: &Browser<'_>, redirect: Page) -> String {
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let location = redirect.location.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let params = query_of(&location);
    assert_eq!(params["state"], "st4te");
    // RFC 9207 §2: the response names the issuer, so a client talking to several cannot be
    // handed one's code as if it came from another (mix-up).
    assert_eq!(params["iss"], browser.fixture.server.base_url, "{location}");
    params["code"].clone()
}

async fn exchange(fixture: &Fixture, code: &str, verifier: &str) -> (u16, serde_json::Value) {
    fixture
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .await
}

async fn authorization_code_flow(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    let page = browser.get(&request(&fixture.app.client_id, &[])).await;
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["cache-control"], "no-store");
    let code = approve(&mut browser, &request(&fixture.app.client_id, &[])).await;
    let (status, body) = exchange(&fixture, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    let refresh_token = str_field(&body, "refresh_token");
    let access_token = str_field(&body, "access_token");
    assert_eq!(fixture.me(&access_token).await.status(), 200);
    // Signed in already, and this scope approved before: the next request gets a code at once.
    let again = browser.get(&request(&fixture.app.client_id, &[])).await;
    assert_eq!(again.status, 303, "remembered consent skips the page: {}", again.body);
    let second = code_of(&browser, again);
    assert_ne!(second, code);
    // A replayed code is refused and revokes what it granted (RFC 6749 §4.1.2).
    let (status, body) = exchange(&fixture, &code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(fixture.refresh(&refresh_token).await.0, 400);
    assert_eq!(fixture.me(&access_token).await.status(), 401);
    // The second code still works once.
    assert_eq!(exchange(&fixture, &second, VERIFIER).await.0, 200);
}

async fn authorization_code_refusals(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    let id = fixture.app.client_id.clone();
    // Wrong PKCE verifier, missing verifier, other client, wrong redirect_uri, expiry.
    let code = approve(&mut browser, &request(&id, &[])).await;
    let (status, body) = exchange(&fixture, &code, "wrong-verifier-wrong-verifier-wrong-verifier-wrong").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let code = approve(&mut browser, &request(&id, &[])).await;
    let (status, body) =
        fixture.token(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let code = approve(&mut browser, &request(&id, &[])).await;
    let other_secret = fixture.other.client_secret.clone().unwrap();
    let (status, body) = fixture
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &fixture.other.client_id),
                ("client_secret", &other_secret),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(exchange(&fixture, &code, VERIFIER).await.0, 200, "the rightful client can still redeem it");
    let code = approve(&mut browser, &request(&id, &[])).await;
    let (status, _) = fixture
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:49152/other"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(status, 400);
    let code = approve(&mut browser, &request(&id, &[])).await;
    fixture.server.clock.advance(Duration::from_secs(61));
    let (status, body) = exchange(&fixture, &code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "expired: {body}");
}

async fn a_replayed_code_revokes_its_access_token_even_without_refresh_tokens(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let web = fixture.server.client("web", &["authorization_code"], "read", false).await;
    let secret = web.client_secret.clone().unwrap();
    let mut browser = Browser::new(&fixture);
    let code = approve(&mut browser, &request(&web.client_id, &[])).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", web.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, body) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_null(), "{body}");
    let access_token = str_field(&body, "access_token");
    assert_eq!(fixture.me(&access_token).await.status(), 200);
    let (status, _) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!(status, 400);
    assert_eq!(fixture.me(&access_token).await.status(), 401, "the replay revoked the first redemption's token");
}

async fn concurrent_redemptions_of_one_code_leave_nothing_alive(backend: Backend) {
    let fixture = std::sync::Arc::new(Fixture::on(backend, RawConfig::default()).await);
    let mut browser = Browser::new(&fixture);
    let code = approve(&mut browser, &request(&fixture.app.client_id, &[])).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (fixture, code) = (std::sync::Arc::clone(&fixture), code.clone());
        tasks.spawn(async move { exchange(&fixture, &code, VERIFIER).await });
    }
    let mut winners = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert!(status == 200 || status == 400, "{status} {body}");
        if status == 200 {
            winners.push(body);
        }
    }
    assert_eq!(winners.len(), 1, "one redemption wins");
    // The other nine were replays: what the winner got is revoked.
    assert_eq!(fixture.me(&str_field(&winners[0], "access_token")).await.status(), 401);
    assert_eq!(fixture.refresh(&str_field(&winners[0], "refresh_token")).await.0, 400);
}

on_both_backends!(
    authorization_code_flow,
    authorization_code_refusals,
    a_replayed_code_revokes_its_access_token_even_without_refresh_tokens,
    concurrent_redemptions_of_one_code_leave_nothing_alive,
);

#[tokio::test]
async fn authorize_request_errors() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    let id = fixture.app.client_id.clone();
    // Not trusted enough to redirect to: an error page, and no Location.
    for query in [
        request("nobody", &[]),
        request(&id, &[("redirect_uri", "https://evil.example/callback")]),
        request(&id, &[("client_id", "")]),
    ] {
        let page = browser.get(&query).await;
        assert_eq!(page.status, 400, "{query:?}");
        assert!(page.location.is_none());
        assert!(page.body.contains("id=\"error\""));
    }
    // Repeated parameter.
    let mut repeated = request(&id, &[]);
    repeated.push(("scope", "write"));
    assert_eq!(browser.get(&repeated).await.status, 400);
    // Errors the client should hear about: redirected with the state.
    let public = fixture.public.client_id.clone();
    for (query, code) in [
        (request(&id, &[("response_type", "token")]), "unsupported_response_type"),
        (request(&id, &[("scope", "admin")]), "invalid_scope"),
        (request(&id, &[("code_challenge_method", "plain")]), "invalid_request"),
        (request(&public, &[("code_challenge", ""), ("code_challenge_method", "")]), "invalid_request"),
    ] {
        let page = browser.get(&query).await;
        assert_eq!(page.status, 303, "{query:?}: {}", page.body);
        let params = query_of(page.location.as_deref().unwrap());
        assert_eq!((params["error"].as_str(), params["state"].as_str()), (code, "st4te"), "{query:?}");
        assert_eq!(params["iss"], fixture.server.base_url, "RFC 9207 §2: error responses too");
    }
}

#[tokio::test]
async fn login_and_consent_refusals() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    let query = request(&fixture.app.client_id, &[]);
    // The login form only works from the login page: without the login cookie and its token
    // (a form posted from elsewhere: login CSRF), nothing happens and no session is opened.
    let mut form = query.clone();
    form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("csrf", "forged")]);
    let page = browser.post(&form).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!browser.cookies.contains_key("tessera_session"));
    let login = browser.get(&query).await;
    assert!(browser.cookies.contains_key("tessera_login"));
    let login_csrf = csrf(&login);
    let mut form = query.clone();
    form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD)]);
    assert_eq!(browser.post(&form).await.status, 400, "token missing");
    assert!(!browser.cookies.contains_key("tessera_session"));
    let mut stranger = Browser::new(&fixture);
    let mut form = query.clone();
    form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("csrf", login_csrf.as_str())]);
    assert_eq!(stranger.post(&form).await.status, 400, "a token without its cookie");
    assert!(!stranger.cookies.contains_key("tessera_session"));
    // Wrong password: the login page again, with an error, and no session.
    let mut form = query.clone();
    form.extend([("action", "login"), ("username", USERNAME), ("password", "wrong"), ("csrf", login_csrf.as_str())]);
    let page = browser.post(&form).await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("id=\"error\"") && page.body.contains("id=\"login\""));
    assert!(!browser.cookies.contains_key("tessera_session"));
    assert!(!page.body.contains("wrong\""), "the typed password is not echoed");
    // Approve without a session: back to the login page, no code.
    let mut form = query.clone();
    form.extend([("action", "approve"), ("csrf", "x")]);
    let page = browser.post(&form).await;
    assert!(page.location.is_none() && page.body.contains("id=\"login\""));
    // Signed in, but a forged or missing CSRF token: refused.
    let mut form = query.clone();
    form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("csrf", login_csrf.as_str())]);
    let consent = browser.post(&form).await;
    assert!(browser.cookies.contains_key("tessera_session"));
    for forged in ["", "AAAA", "not base64 !"] {
        let mut form = query.clone();
        form.extend([("action", "approve"), ("csrf", forged)]);
        let page = browser.post(&form).await;
        assert_eq!(page.status, 400, "csrf {forged:?}");
        assert!(page.location.is_none());
    }
    // Deny: the client hears access_denied, with its state.
    let token = csrf(&consent);
    let mut form = query.clone();
    form.extend([("action", "deny"), ("csrf", token.as_str())]);
    let page = browser.post(&form).await;
    assert_eq!(page.status, 303);
    let params = query_of(page.location.as_deref().unwrap());
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("access_denied", "st4te"));
    assert_eq!(params["iss"], fixture.server.base_url);
    assert!(!params.contains_key("code"));
    // The session expires.
    fixture.server.clock.advance(Duration::from_secs(8 * 3600 + 1));
    let page = browser.get(&query).await;
    assert!(page.body.contains("id=\"login\""), "session over: login again");
}

/// The attributes of the cookie `name` that a page set, lowercased, without its value.
fn cookie_attributes(page: &Page, name: &str) -> std::collections::BTreeSet<String> {
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"));
    cookie.split(';').skip(1).map(|attribute| attribute.trim().to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn the_browser_cookies_keep_their_attributes() {
    // Out of reach of scripts, left off cross-site POSTs, and the session cookie expiring with
    // the session (8 hours). Behind an https issuer they are `__Host-` cookies (RFC 6265bis
    // §4.1.3.2: `Secure`, `Path=/`, no `Domain`), which no sibling host can set or shadow.
    // `Path=/` either way: the console and the account page share the session.
    for (issuer, prefix, scope) in [(None, "", "path=/"), (Some("https://auth.example.test"), "__Host-", "path=/")] {
        let fixture = Fixture::with(RawConfig { issuer: issuer.map(str::to_owned), ..RawConfig::default() }).await;
        let mut browser = Browser::new(&fixture);
        let query = request(&fixture.app.client_id, &[]);
        let login = browser.get(&query).await;
        let mut expected: std::collections::BTreeSet<String> =
            ["httponly", "samesite=lax", scope].map(str::to_owned).into();
        if !prefix.is_empty() {
            expected.insert("secure".into());
        }
        assert_eq!(cookie_attributes(&login, &format!("{prefix}tessera_login")), expected, "issuer {issuer:?}");
        let mut form = query.clone();
        let login_csrf = csrf(&login);
        form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("csrf", &login_csrf)]);
        let consent = browser.post(&form).await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        expected.insert("max-age=28800".into());
        assert_eq!(cookie_attributes(&consent, &format!("{prefix}tessera_session")), expected, "issuer {issuer:?}");
        // The browser has its login cookie already: it is not set again.
        assert!(browser.get(&query).await.headers.get("set-cookie").is_none());
        // The session cookie works: the consent page comes at once.
        let again = browser.get(&query).await;
        assert!(again.body.contains("value=\"approve\""), "{}", again.body);
        // Under https, a cookie without the prefix (planted by a sibling host) is not ours.
        if !prefix.is_empty() {
            let mut planted = Browser::new(&fixture);
            let session = browser.cookies[&format!("{prefix}tessera_session")].clone();
            planted.cookies.insert("tessera_session".into(), session);
            let page = planted.get(&query).await;
            assert!(!page.body.contains("value=\"approve\""), "{}", page.body);
        }
    }
}

/// The text of HTML with the entities an escaper writes turned back into characters.
fn decode_entities(html: &str) -> String {
    let mut text = html.to_owned();
    for (entities, character) in [
        (&["&lt;", "&#60;", "&#x3c;"][..], "<"),
        (&["&gt;", "&#62;", "&#x3e;"], ">"),
        (&["&quot;", "&#34;", "&#x22;"], "\""),
        (&["&#39;", "&#x27;", "&apos;"], "'"),
        (&["&amp;", "&#38;", "&#x26;"], "&"),
    ] {
        for entity in entities {
            text = text.replace(entity, character);
        }
    }
    text
}

#[tokio::test]
async fn pages_escape_every_value_they_show_or_carry() {
    // Markup in the client's name, the username, a scope, the state (carried in a hidden
    // field) and a parameter name (shown on the error page) comes out as text.
    const MARKUP: &str = r#""><script>alert('x')</script>&amp;"#;
    let fixture = Fixture::start().await;
    let client = fixture.server.client(&format!("Evil {MARKUP}"), &["authorization_code"], "read <b>&'x'", false).await;
    let username = "<i>\"eve\"&'x'</i>";
    fixture.server.user(username, PASSWORD).await;
    // No raw markup, and the text is all there once its entities are decoded.
    let escaped = |page: &Page, texts: &[&str]| {
        for raw in ["<script", "<b>", "<i>", MARKUP] {
            assert!(!page.body.contains(raw), "{raw} in {}", page.body);
        }
        let decoded = decode_entities(&page.body);
        for text in texts {
            assert!(decoded.contains(text), "{text} not in {}", page.body);
        }
    };
    let mut browser = Browser::new(&fixture);
    let query = request(&client.client_id, &[("scope", "read <b>&'x'"), ("state", MARKUP)]);
    let login = browser.get(&query).await;
    assert_eq!(login.status, 200, "{}", login.body);
    escaped(&login, &[&format!("Evil {MARKUP}"), &format!("name=\"state\" value=\"{MARKUP}\"")]);
    let mut form = query.clone();
    let login_csrf = csrf(&login);
    form.extend([("action", "login"), ("username", username), ("password", PASSWORD), ("csrf", &login_csrf)]);
    let consent = browser.post(&form).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    escaped(&consent, &[&format!("Evil {MARKUP}"), username, "<li><b>&'x'</li>"]);
    // The hidden fields give the browser back exactly what the client sent.
    let token = csrf(&consent);
    let mut form = query.clone();
    form.extend([("action", "approve"), ("csrf", token.as_str())]);
    let redirect = browser.post(&form).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let params = query_of(redirect.location.as_deref().unwrap());
    assert_eq!(params["state"], MARKUP);
    // The error page does not repeat a parameter name it does not know (issue 10: error
    // descriptions never echo input), escaped or not.
    let page = browser.get(&[("<script>alert('x')</script>", "1"), ("<script>alert('x')</script>", "2")]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("id=\"error\""));
    escaped(&page, &["a parameter was sent more than once"]);
    assert!(!decode_entities(&page.body).contains("alert('x')"), "{}", page.body);
}

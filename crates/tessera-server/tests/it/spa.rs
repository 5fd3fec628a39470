//! The example single-page app (`examples/spa`) in headless Chromium: served by Python's
//! http.server on another loopback port, so it is another origin and every call it makes to
//! Tessera (token, API, revocation) needs CORS. Sign in with code + PKCE, consent, the user
//! shown from `/api/1.0/users/me`, a refresh, an API call, and logout: the refresh token's
//! family revoked and the browser session ended. Its tokens are DPoP-bound (RFC 9449) to a
//! non-extractable WebCrypto key, and so is its code (`dpop_jkt`): a script injected into the
//! page sees tokens and proofs go by and can use none of them elsewhere. Once more with the
//! server's DPoP nonces on. With `TESSERA_SPA_SCREENSHOT=file.png` the test saves a screenshot
//! of the signed-in app there (for the issue's closing note).

use crate::helpers::{Fixture, PASSWORD, USERNAME};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tessera_core::dpop::Thumbprint;
use tessera_core::{ClientId, UserId};
use tessera_server::admin::{NewClient, create_client};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::webdriver::Browser;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);
const APP_FILES: &[&str] = &["index.html", "app.js", "oauth.js"];

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/spa")
}

/// Serves `directory` with `python3 -m http.server` on a free loopback port; its base URL.
async fn static_server(directory: &Path) -> (Child, String) {
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(directory)
        .stdout(Stdio::piped())
        .stderr(Stdio::null()) // one line per request
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let line = tokio::time::timeout(PAGE_WAIT, lines.next_line()).await.unwrap().unwrap().unwrap_or_default();
    let port = line.split_whitespace().skip_while(|word| *word != "port").nth(1);
    let port = port.unwrap_or_else(|| panic!("http.server did not start: {line:?}"));
    (child, format!("http://127.0.0.1:{port}"))
}

/// Waits for `css` or the app's error line; fails with the error if that came first.
async fn wait_for(browser: &Browser, css: &str) {
    let shown = browser.wait_for(&format!("{css}, #error:not([hidden])"), PAGE_WAIT).await.unwrap();
    if shown.attr("id").await.unwrap().as_deref() == Some("error") {
        panic!("the app failed while waiting for {css}: {}", shown.text().await.unwrap());
    }
}

async fn click(browser: &Browser, css: &str) {
    browser.wait_for(css, PAGE_WAIT).await.unwrap().click().await.unwrap();
}

async fn text(browser: &Browser, css: &str) -> String {
    browser.find(css).await.unwrap().text().await.unwrap()
}

/// The claims of a JWT (a token or a proof), unverified.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Run in the page: a stand-in for a script injected into the app (XSS), which sees every
/// `fetch` the app makes from now on: its headers, its form and the JSON answer.
const WIRETAP: &str = r#"
    window.seen = [];
    const original = window.fetch;
    window.fetch = async (url, init = {}) => {
        const response = await original(url, init);
        const answer = await response.clone().json().catch(() => null);
        window.seen.push({ url: String(url), headers: init.headers ?? {}, body: init.body ? String(init.body) : null, answer });
        return response;
    };
"#;

/// Run in the page: the app's DPoP key pair as IndexedDB holds it (null if none), and whether
/// the page itself can export the private key.
const KEY_IN_INDEXEDDB: &str = r#"
    return new Promise((resolve, reject) => {
        const open = indexedDB.open('tessera-spa-dpop');
        open.onerror = () => reject(String(open.error));
        open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('keys')) { db.close(); resolve(null); return; }
            const get = db.transaction('keys').objectStore('keys').get('current');
            get.onerror = () => reject(String(get.error));
            get.onsuccess = async () => {
                db.close();
                const pair = get.result;
                if (!pair) { resolve(null); return; }
                const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(() => 'exported', (error) => error.name);
                resolve({ extractable: pair.privateKey.extractable, curve: pair.privateKey.algorithm.namedCurve, export: exported });
            };
        };
    });
"#;

/// The requests the wiretap saw since it was last asked.
async fn seen(browser: &Browser) -> Vec<Value> {
    let seen = browser.execute("return window.seen.splice(0);", Vec::new()).await.unwrap();
    seen.as_array().unwrap().clone()
}

/// The last of `seen` to a URL ending in `path`.
fn last_to<'a>(seen: &'a [Value], path: &str) -> &'a Value {
    seen.iter().rev().find(|call| call["url"].as_str().unwrap().ends_with(path)).unwrap_or_else(|| {
        panic!("no call to {path} in {seen:#?}");
    })
}

async fn log_in(browser: &Browser) {
    let username = browser.wait_for("#username", PAGE_WAIT).await.unwrap();
    username.clear().await.unwrap();
    username.send_keys(USERNAME).await.unwrap();
    browser.find("#password").await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find("#login").await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_single_page_app_signs_in_with_dpop_refreshes_calls_the_api_and_logs_out() {
    run(RawConfig::default()).await;
}

/// With `TESSERA_DPOP_NONCE=on` the token endpoint answers the app's first proof with
/// `use_dpop_nonce`; the app retries with the nonce and carries it from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_single_page_app_follows_the_servers_dpop_nonces() {
    run(RawConfig { dpop_nonce: Some("on".into()), ..RawConfig::default() }).await;
}

async fn run(config: RawConfig) {
    let nonces = config.dpop_nonce.is_some();
    let fixture = Fixture::on(Backend::Sqlite, config).await;
    let site = tempfile::tempdir().unwrap();
    for file in APP_FILES {
        std::fs::copy(example_dir().join(file), site.path().join(file)).unwrap();
    }
    let (_static_server, origin) = static_server(site.path()).await;
    assert_ne!(origin, fixture.server.base_url, "the app is on another origin than Tessera");
    let home = format!("{origin}/");

    // What the README tells an operator to run, through the same use case as the CLI.
    let new = NewClient {
        name: "Example SPA".into(),
        redirect_uris: vec![home.clone()],
        grant_types: Vec::new(),
        scope: "openid profile email".into(),
        public: true,
        introspection: Default::default(),
        allowed_origins: vec![origin.clone()],
        require_dpop: false,
    };
    let store = fixture.server.store();
    let (client, _) = create_client(store, fixture.server.clock.now(), new).await.unwrap();
    store.set_client_post_logout_redirect_uris(&client.client_id, std::slice::from_ref(&home)).await.unwrap();
    let config = serde_json::json!({
        "issuer": fixture.server.base_url,
        "client_id": client.client_id,
        "scope": "openid profile email",
    });
    std::fs::write(site.path().join("config.json"), config.to_string()).unwrap();
    let families = || async {
        let (user, client): (UserId, ClientId) = (fixture.user_id.as_str().into(), client.client_id.clone());
        store.consented_families(&user, &client).await.unwrap()
    };

    let browser = Browser::start().await.unwrap();
    browser.goto(&home).await.unwrap();
    click(&browser, "#signin").await;
    // At Tessera's login page: the request names the key the code is to be bound to.
    let authorize = fixture.url("/oauth/authorize");
    let url = browser.wait_for_url(|url| url.starts_with(&authorize), PAGE_WAIT).await.unwrap();
    let url = url::Url::parse(&url).unwrap();
    let jkt = url.query_pairs().find(|(name, _)| name == "dpop_jkt").map(|(_, jkt)| jkt.into_owned());
    let jkt = jkt.unwrap_or_else(|| panic!("no dpop_jkt in the authorization request: {url}"));
    assert!(Thumbprint::parse(&jkt).is_some(), "{jkt}");
    log_in(&browser).await;
    click(&browser, "#approve").await;

    // Back in the app: the code exchanged (CORS on the token endpoint) and the API called.
    wait_for(&browser, "#api-calls[data-count='1']").await;
    assert_eq!(text(&browser, "#username").await, USERNAME);
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str() == home, "the code left the address bar: {url}");
    let family = families().await;
    assert_eq!(family.len(), 1, "one family began at the consent page");

    // DPoP-bound, as the page shows: to the key the authorization request named.
    wait_for(&browser, "#binding[data-bound='true']").await;
    assert_eq!(text(&browser, "#token-type").await, "DPoP");
    assert_eq!(text(&browser, "#dpop-jkt").await, jkt);
    let family = store.get_family(&family[0]).await.unwrap().unwrap();
    assert_eq!(family.jkt, Some(Thumbprint::from_stored(jkt.clone())), "the refresh-token family is bound");
    // The private key is in IndexedDB, and not even the page can read it.
    let key = browser.execute(KEY_IN_INDEXEDDB, Vec::new()).await.unwrap();
    let expected = serde_json::json!({ "extractable": false, "curve": "P-256", "export": "InvalidAccessError" });
    assert_eq!(key, expected);

    // A script injected into the page sees a refresh and an API call go by...
    browser.execute(WIRETAP, Vec::new()).await.unwrap();
    click(&browser, "#refresh").await;
    wait_for(&browser, "#refreshes[data-count='1']").await;
    click(&browser, "#call-api").await;
    wait_for(&browser, "#api-calls[data-count='2']").await;
    let calls = seen(&browser).await;
    let refresh = last_to(&calls, "/oauth/token");
    let tokens = &refresh["answer"];
    assert_eq!(tokens["token_type"], "DPoP", "{refresh:#}");
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access_token)["cnf"]["jkt"], jkt.as_str(), "the access token is bound to the key");
    let proof = claims(refresh["headers"]["DPoP"].as_str().unwrap());
    assert_eq!(
        (proof["htm"].as_str(), proof["htu"].as_str()),
        (Some("POST"), Some(fixture.url("/oauth/token").as_str()))
    );
    assert_eq!(proof.get("nonce").is_some(), nonces, "the proof carries the server's nonce iff it asks: {proof}");
    let api = last_to(&calls, "/api/1.0/users/me");
    assert_eq!(api["headers"]["Authorization"], format!("DPoP {access_token}"));
    let api_proof = api["headers"]["DPoP"].as_str().unwrap();
    assert!(claims(api_proof)["ath"].is_string(), "the API call's proof covers the token");

    // ...and can use none of it from elsewhere: the access token as a bearer token,
    let me = fixture.url("/api/1.0/users/me");
    let response = fixture.http.get(&me).bearer_auth(access_token).send().await.unwrap();
    let challenge = response.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert_eq!(response.status(), 401);
    assert!(challenge.starts_with("DPoP ") && challenge.contains("invalid_token"), "{challenge}");
    // the API call replayed with its proof,
    let response = fixture
        .http
        .get(&me)
        .header("Authorization", format!("DPoP {access_token}"))
        .header("DPoP", api_proof)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a proof is used once");
    // the live refresh token without the key (and refusing it burns nothing).
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client.client_id.as_str())];
    let (status, body) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // The app carries on with the same key.
    click(&browser, "#refresh").await;
    wait_for(&browser, "#refreshes[data-count='2']").await;
    click(&browser, "#call-api").await;
    wait_for(&browser, "#api-calls[data-count='3']").await;
    let shown: serde_json::Value = serde_json::from_str(&text(&browser, "#user").await).unwrap();
    assert_eq!((shown["id"].as_str(), shown["username"].as_str()), (Some(fixture.user_id.as_str()), Some(USERNAME)));
    wait_for(&browser, "#binding[data-bound='true']").await;
    if let Some(path) = std::env::var_os("TESSERA_SPA_SCREENSHOT").filter(|_| !nonces) {
        browser.set_window_size(900, 1000).await.unwrap();
        std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
        eprintln!("screenshot of the signed-in app: {}", PathBuf::from(path).display());
    }

    // Logout: the refresh token revoked (its family with it), the key deleted, then
    // RP-initiated logout.
    click(&browser, "#logout").await;
    wait_for(&browser, "#signed-out:not([hidden])").await;
    assert!(browser.current_url().await.unwrap().as_str().starts_with(&home));
    assert!(families().await.is_empty(), "the family was revoked");
    assert_eq!(browser.execute(KEY_IN_INDEXEDDB, Vec::new()).await.unwrap(), Value::Null, "the key is gone");
    // The browser session at Tessera ended: signing in asks for the password again.
    click(&browser, "#signin").await;
    browser.wait_for("#username", PAGE_WAIT).await.unwrap();

    browser.quit().await.unwrap();
}

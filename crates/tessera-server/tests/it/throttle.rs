//! Issue 10 items 1 and 2: the password throttle under attack, through the real server. A
//! burst of concurrent guesses gets at most the limit checked; the count is per username and
//! client address, so an attacker elsewhere slows only himself.

use crate::helpers::{Fixture, PASSWORD, USERNAME};
use std::net::IpAddr;
use std::sync::Arc;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

/// An HTTP client whose connections come from `address` (all of 127.0.0.0/8 is loopback).
fn client_from(address: &str) -> reqwest::Client {
    let address: IpAddr = address.parse().unwrap();
    reqwest::Client::builder().local_address(address).build().unwrap()
}

/// One password-grant request; returns the status, `Retry-After` and the body.
async fn guess(
    fixture: &Fixture,
    http: &reqwest::Client,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<u64>, serde_json::Value) {
    let form = [
        ("grant_type", "password"),
        ("username", USERNAME),
        ("password", password),
        ("client_id", fixture.app.client_id.as_str()),
        ("client_secret", fixture.secret()),
    ];
    let mut request = http.post(fixture.url("/oauth/token")).form(&form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|value| value.to_str().unwrap().parse().unwrap());
    (status, retry_after, response.json().await.unwrap())
}

fn is_checked_and_wrong(status: u16, body: &serde_json::Value) -> bool {
    status == 400 && body["error_description"].as_str().is_some_and(|text| text.contains("incorrect"))
}

/// A throttled answer: `429`, `Retry-After` within the window, the RFC 6749 error body.
fn assert_throttled(status: u16, retry_after: Option<u64>, body: &serde_json::Value) {
    assert_eq!(status, 429, "{body}");
    let retry_after = retry_after.unwrap_or_else(|| panic!("no Retry-After: {body}"));
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("try again"), "{body}");
}

on_both_backends!(
    a_burst_of_wrong_guesses_gets_at_most_the_limit_checked,
    an_attacker_elsewhere_does_not_lock_out_the_user,
    the_username_ceiling_holds_across_addresses,
    a_correct_password_clears_its_address_and_is_not_counted,
    counters_reserve_atomically_and_give_back,
);

/// Tried before the fix: 200 concurrent wrong passwords for one username, released at once,
/// were all checked (the failure count was read before Argon2 and written after it), and the
/// refusals were `400` without `Retry-After`.
async fn a_burst_of_wrong_guesses_gets_at_most_the_limit_checked(backend: Backend) {
    let fixture = Arc::new(Fixture::on(backend, RawConfig::default()).await);
    let http = client_from("127.0.0.1");
    const BURST: usize = 200;
    let start = Arc::new(tokio::sync::Barrier::new(BURST));
    let mut guesses = tokio::task::JoinSet::new();
    for attempt in 0..BURST {
        let (fixture, http, start) = (Arc::clone(&fixture), http.clone(), Arc::clone(&start));
        guesses.spawn(async move {
            start.wait().await;
            guess(&fixture, &http, &format!("guess {attempt}"), &[]).await
        });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(answer) = guesses.join_next().await {
        let (status, retry_after, body) = answer.unwrap();
        if is_checked_and_wrong(status, &body) {
            checked += 1;
        } else {
            assert_throttled(status, retry_after, &body);
            refused += 1;
        }
    }
    assert_eq!((checked, refused), (10, BURST - 10), "the default limit is 10 per address in 15 minutes");
    // The right password from the same address is refused too, until the window ends.
    let (status, retry_after, body) = guess(&fixture, &http, PASSWORD, &[]).await;
    assert_throttled(status, retry_after, &body);
    fixture.server.clock.advance(std::time::Duration::from_secs(15 * 60 + 1));
    assert_eq!(guess(&fixture, &http, PASSWORD, &[]).await.0, 200);
}

/// Tried before the fix: ten wrong passwords from anywhere locked the user out everywhere.
async fn an_attacker_elsewhere_does_not_lock_out_the_user(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (attacker, user) = (client_from("127.0.0.2"), client_from("127.0.0.3"));
    for attempt in 0..10 {
        let (status, _, body) = guess(&fixture, &attacker, &format!("guess {attempt}"), &[]).await;
        assert!(is_checked_and_wrong(status, &body), "{status} {body}");
    }
    let (status, retry_after, body) = guess(&fixture, &attacker, "guess 10", &[]).await;
    assert_throttled(status, retry_after, &body);
    // The real user, elsewhere, signs in; the attacker is still refused.
    let (status, _, body) = guess(&fixture, &user, PASSWORD, &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, retry_after, body) = guess(&fixture, &attacker, PASSWORD, &[]).await;
    assert_throttled(status, retry_after, &body);
}

/// The per-username ceiling: attempts from many addresses together still lock the username
/// (a real attack from everywhere), at a higher bound than one address gets.
async fn the_username_ceiling_holds_across_addresses(backend: Backend) {
    let overrides = RawConfig {
        max_login_attempts_per_address: Some(3),
        max_login_attempts_per_username: Some(5),
        login_window: Some("10m".into()),
        ..RawConfig::default()
    };
    let fixture = Fixture::on(backend, overrides).await;
    let (first, second, third) = (client_from("127.0.0.2"), client_from("127.0.0.3"), client_from("127.0.0.4"));
    for _ in 0..3 {
        let (status, _, body) = guess(&fixture, &first, "guess", &[]).await;
        assert!(is_checked_and_wrong(status, &body), "{status} {body}");
    }
    let (status, retry_after, body) = guess(&fixture, &first, "guess", &[]).await;
    assert_eq!((status, retry_after), (429, Some(600)), "{body}");
    for _ in 0..2 {
        let (status, _, body) = guess(&fixture, &second, "guess", &[]).await;
        assert!(is_checked_and_wrong(status, &body), "{status} {body}");
    }
    // Five failures for the username: refused from a third address too, even the right password.
    let (status, retry_after, body) = guess(&fixture, &second, "guess", &[]).await;
    assert_throttled(status, retry_after, &body);
    let (status, retry_after, body) = guess(&fixture, &third, PASSWORD, &[]).await;
    assert_throttled(status, retry_after, &body);
    fixture.server.clock.advance(std::time::Duration::from_secs(10 * 60 + 1));
    assert_eq!(guess(&fixture, &third, PASSWORD, &[]).await.0, 200);
}

/// A correct password clears its username-and-address counter and gives its attempt back to
/// the username's: signing in often never locks a user out, and typos before it are forgiven.
async fn a_correct_password_clears_its_address_and_is_not_counted(backend: Backend) {
    let overrides = RawConfig {
        max_login_attempts_per_address: Some(3),
        max_login_attempts_per_username: Some(6),
        ..RawConfig::default()
    };
    let fixture = Fixture::on(backend, overrides).await;
    let http = client_from("127.0.0.1");
    for _ in 0..2 {
        assert_eq!(guess(&fixture, &http, "typo", &[]).await.0, 400);
    }
    // Many sign-ins: none is counted against the ceiling of 6.
    for _ in 0..8 {
        assert_eq!(guess(&fixture, &http, PASSWORD, &[]).await.0, 200);
    }
    // The address starts again at 0; the username holds the 2 typos: 3 more fit under 3 and 6.
    for _ in 0..3 {
        assert_eq!(guess(&fixture, &http, "typo", &[]).await.0, 400);
    }
    assert_eq!(guess(&fixture, &http, "typo", &[]).await.0, 429);
    // The username holds 5; one more address gets one check before the ceiling.
    let elsewhere = client_from("127.0.0.5");
    assert_eq!(guess(&fixture, &elsewhere, "typo", &[]).await.0, 400);
    assert_eq!(guess(&fixture, &elsewhere, PASSWORD, &[]).await.0, 429);
}

/// The store's counters on both backends: a burst of concurrent reservations counts exactly
/// the limit, a full window refuses and says when it began, a closed window starts again, and
/// releases and clears give attempts back.
async fn counters_reserve_atomically_and_give_back(backend: Backend) {
    use tessera_server::clock::Clock;
    use tessera_server::store::Reservation;
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store().clone();
    let now = fixture.server.clock.now();
    let window = std::time::Duration::from_secs(60);
    let opened_after = now.minus(window);
    let mut reservations = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store = store.clone();
        reservations.spawn(async move { store.reserve_sign_in_attempt("192.0.2.1 alice", now, opened_after, 7).await });
    }
    let mut counted = Vec::new();
    while let Some(reservation) = reservations.join_next().await {
        match reservation.unwrap().unwrap() {
            Reservation::Reserved { attempts } => counted.push(attempts),
            Reservation::Refused { window_started_at } => assert_eq!(window_started_at, now),
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, (1..=7).collect::<Vec<_>>(), "exactly the limit, each count once");
    let open = store.sign_in_attempts("192.0.2.1 alice", opened_after).await.unwrap().unwrap();
    assert_eq!((open.attempts, open.started_at), (7, now));
    // Other counters are apart.
    assert_eq!(store.sign_in_attempts("* alice", opened_after).await.unwrap(), None);
    let reserved = store.reserve_sign_in_attempt("* alice", now, opened_after, 7).await.unwrap();
    assert_eq!(reserved, Reservation::Reserved { attempts: 1 });
    // A release gives one back, never below zero; then one more fits.
    store.release_sign_in_attempt("192.0.2.1 alice", opened_after).await.unwrap();
    let reserved = store.reserve_sign_in_attempt("192.0.2.1 alice", now, opened_after, 7).await.unwrap();
    assert_eq!(reserved, Reservation::Reserved { attempts: 7 });
    for _ in 0..3 {
        store.release_sign_in_attempt("* alice", opened_after).await.unwrap();
    }
    assert_eq!(store.sign_in_attempts("* alice", opened_after).await.unwrap().unwrap().attempts, 0);
    // After the window, a new one opens at the new time with one attempt.
    let later = now.plus(window);
    let reserved = store.reserve_sign_in_attempt("192.0.2.1 alice", later, later.minus(window), 7).await.unwrap();
    assert_eq!(reserved, Reservation::Reserved { attempts: 1 });
    let open = store.sign_in_attempts("192.0.2.1 alice", later.minus(window)).await.unwrap().unwrap();
    assert_eq!((open.attempts, open.started_at), (1, later));
    // A release does not reach a closed window; a clear forgets the counter.
    store.release_sign_in_attempt("192.0.2.1 alice", later).await.unwrap();
    store.clear_sign_in_attempts("192.0.2.1 alice").await.unwrap();
    assert_eq!(store.sign_in_attempts("192.0.2.1 alice", opened_after).await.unwrap(), None);
}

/// `X-Forwarded-For` names the client only when the peer is a trusted proxy: from anyone else
/// it is ignored (else an attacker would pick a fresh address for every guess).
#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let overrides = RawConfig {
        trusted_proxies: Some("127.0.0.1, 127.0.1.0/24".into()),
        max_login_attempts_per_address: Some(2),
        ..RawConfig::default()
    };
    let fixture = Fixture::with(overrides).await;
    let (proxy, other_proxy, stranger) = (client_from("127.0.0.1"), client_from("127.0.1.9"), client_from("127.0.0.2"));
    // Through the trusted proxy: the attacker at 198.51.100.7 exhausts only his own allowance,
    // whatever he writes to the left of the proxy's entry.
    let attacker = [("x-forwarded-for", "203.0.113.1, 198.51.100.7")];
    for _ in 0..2 {
        assert_eq!(guess(&fixture, &proxy, "guess", &attacker).await.0, 400);
    }
    let spoofed = [("x-forwarded-for", "203.0.113.2, 198.51.100.7")];
    let (status, retry_after, body) = guess(&fixture, &proxy, "guess", &spoofed).await;
    assert_throttled(status, retry_after, &body);
    // The same attacker seen by another trusted proxy, named by RFC 7239 `Forwarded`.
    let forwarded = [("forwarded", "for=203.0.113.3, for=\"198.51.100.7:4711\";proto=https")];
    let (status, retry_after, body) = guess(&fixture, &other_proxy, "guess", &forwarded).await;
    assert_throttled(status, retry_after, &body);
    // The user, behind the same proxy at another address, signs in.
    let user = [("x-forwarded-for", "192.0.2.44")];
    assert_eq!(guess(&fixture, &proxy, PASSWORD, &user).await.0, 200);
    // An untrusted peer's header is ignored: its guesses count against its own address, so a
    // fresh header each time does not get it more guesses.
    for (attempt, expected) in [(1, 400), (2, 400), (3, 429)] {
        let header = format!("192.0.2.{attempt}");
        let (status, _, body) = guess(&fixture, &stranger, "guess", &[("x-forwarded-for", &header)]).await;
        assert_eq!(status, expected, "{body}");
    }
    // ... and the address the stranger named is not charged for them.
    assert_eq!(guess(&fixture, &proxy, PASSWORD, &[("x-forwarded-for", "192.0.2.3")]).await.0, 200);
}

/// With the Argon2 queue full, a sign-in is refused at once with `503` and `Retry-After`
/// rather than queued behind the burst; nothing is counted against the user for it.
#[tokio::test]
async fn a_full_password_queue_answers_503_at_once() {
    let overrides = RawConfig { max_login_attempts_per_address: Some(3), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let http = client_from("127.0.0.1");
    let hold = fixture.server.service.password_memory().hold_every_place();
    for _ in 0..5 {
        let (status, retry_after, body) = guess(&fixture, &http, PASSWORD, &[]).await;
        assert_eq!((status, retry_after), (503, Some(1)), "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    let page = LoginPage::open(&fixture).await;
    let (status, retry_after, text) = page.sign_in(&fixture, PASSWORD).await;
    assert_eq!((status, retry_after), (503, Some(1)), "{text}");
    assert!(text.contains("The server is busy; try again in a moment."), "{text}");
    drop(hold);
    // Five refusals above a limit of 3, and none was counted: the user signs in.
    assert_eq!(guess(&fixture, &http, PASSWORD, &[]).await.0, 200);
}

/// The login page shares the throttle, answers `429` with `Retry-After`, and says when to try
/// again.
#[tokio::test]
async fn the_login_page_says_when_to_try_again() {
    let overrides = RawConfig { max_login_attempts_per_address: Some(2), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let page = LoginPage::open(&fixture).await;
    for _ in 0..2 {
        let (status, _, text) = page.sign_in(&fixture, "guess").await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("The username or password is incorrect."), "{text}");
    }
    fixture.server.clock.advance(std::time::Duration::from_secs(60));
    let (status, retry_after, text) = page.sign_in(&fixture, PASSWORD).await;
    assert_eq!((status, retry_after), (429, Some(14 * 60)), "{text}");
    assert!(text.contains("Too many failed sign-ins; try again in 14 minutes."), "{text}");
    assert!(text.contains("id=\"username\""), "the form is still there: {text}");
    // The token endpoint shares the count.
    let (status, retry_after, body) = guess(&fixture, &client_from("127.0.0.1"), PASSWORD, &[]).await;
    assert_throttled(status, retry_after, &body);
}

/// A login page opened in a cookie-keeping browser: its login cookie and CSRF token.
struct LoginPage {
    http: reqwest::Client,
    query: Vec<(&'static str, String)>,
    cookie: String,
    csrf: String,
}

impl LoginPage {
    async fn open(fixture: &Fixture) -> LoginPage {
        let http = reqwest::Client::builder()
            .local_address("127.0.0.1".parse::<IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", fixture.app.client_id.clone()),
            ("redirect_uri", "http://127.0.0.1/callback".to_owned()),
            ("state", "st4te".to_owned()),
        ];
        let response = http.get(fixture.url("/oauth/authorize")).query(&query).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let body = response.text().await.unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = body.find(marker).unwrap_or_else(|| panic!("no csrf field: {body}")) + marker.len();
        let csrf = body[start..].split('"').next().unwrap().to_owned();
        LoginPage { http, query, cookie, csrf }
    }

    /// Posts the login form; returns the status, `Retry-After` and the page.
    async fn sign_in(&self, fixture: &Fixture, password: &str) -> (u16, Option<u64>, String) {
        let mut form: Vec<(&str, &str)> = self.query.iter().map(|(name, value)| (*name, value.as_str())).collect();
        form.extend([("action", "login"), ("username", USERNAME), ("password", password), ("csrf", &self.csrf)]);
        let request = self.http.post(fixture.url("/oauth/authorize")).header("cookie", &self.cookie).form(&form);
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|value| value.to_str().unwrap().parse().unwrap());
        (status, retry_after, response.text().await.unwrap())
    }
}

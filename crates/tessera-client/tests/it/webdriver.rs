//! The browser harness (`tessera_testkit::webdriver`, over fantoccini) on a page of its own: a form that
//! redirects after POST, the shape of the login and consent pages, so a failure of the browser
//! tests can be told apart from a failure of the harness. Needs Chromium and chromedriver
//! (`scripts/install-test-deps.sh`); fails without them.

use std::time::Duration;

use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use tessera_testkit::webdriver::Browser;

const WAIT: Duration = Duration::from_secs(20);

#[derive(serde::Deserialize)]
struct Greet {
    name: String,
    action: String,
}

async fn form_page() -> Html<&'static str> {
    Html(
        r#"<!doctype html><html><head><title>Greeter</title></head><body>
        <form method="post" action="/greet">
          <input id="name" name="name" autocomplete="off">
          <button id="go" type="submit" name="action" value="go">Go</button>
        </form></body></html>"#,
    )
}

async fn greet(Form(greet): Form<Greet>) -> Redirect {
    let query = oauth2::url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", &greet.name)
        .append_pair("action", &greet.action)
        .finish();
    Redirect::to(&format!("/hello?{query}"))
}

async fn hello(axum::extract::Query(greet): axum::extract::Query<Greet>) -> Html<String> {
    // The name is the test's own input; escaping is not the point here.
    Html(format!(
        r#"<!doctype html><html><head><title>Hello</title></head><body>
        <p id="greeting" data-action="{}">Hello, {}!</p></body></html>"#,
        greet.action, greet.name
    ))
}

async fn start_site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(form_page)).route("/greet", post(greet)).route("/hello", get(hello));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_fills_a_form_follows_the_redirect_and_reads_the_page() {
    let site = start_site().await;
    let browser = Browser::start().await.unwrap();

    browser.goto(&format!("{site}/")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Greeter");
    assert_eq!(browser.current_url().await.unwrap().as_str(), format!("{site}/"));
    let name = browser.find("#name").await.unwrap();
    name.send_keys("Ada Lovelace").await.unwrap();
    assert_eq!(name.attr("name").await.unwrap().as_deref(), Some("name"));
    assert_eq!(name.attr("no-such-attribute").await.unwrap(), None);
    browser.find("#go").await.unwrap().click().await.unwrap();

    let url = browser.wait_for_url(|url| url.contains("/hello?"), WAIT).await.unwrap();
    assert_eq!(url, format!("{site}/hello?name=Ada+Lovelace&action=go"));
    let greeting = browser.wait_for("#greeting", WAIT).await.unwrap();
    assert_eq!(greeting.text().await.unwrap(), "Hello, Ada Lovelace!");
    assert_eq!(greeting.attr("data-action").await.unwrap().as_deref(), Some("go"));
    assert!(browser.source().await.unwrap().contains("Hello, Ada Lovelace!"));

    let missing = browser.find("#login").await.unwrap_err();
    assert!(missing.is_no_such_element(), "{missing}");
    let timeout = browser.wait_for("#login", Duration::from_millis(200)).await.unwrap_err();
    let message = timeout.to_string();
    assert!(message.contains("#login") && message.contains("/hello?") && message.contains("Hello, Ada"), "{message}");

    browser.quit().await.unwrap();
}

/// Two browsers at once (tests run in parallel): each has its own chromedriver and profile, and
/// dropping one without `quit` cleans it up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_are_independent_and_drop_cleans_up() {
    let site = start_site().await;
    let (first, second) = tokio::join!(Browser::start(), Browser::start());
    let (first, second) = (first.unwrap(), second.unwrap());
    first.goto(&format!("{site}/hello?name=one&action=a")).await.unwrap();
    second.goto(&format!("{site}/hello?name=two&action=b")).await.unwrap();
    assert_eq!(first.find("#greeting").await.unwrap().text().await.unwrap(), "Hello, one!");
    assert_eq!(second.find("#greeting").await.unwrap().text().await.unwrap(), "Hello, two!");
    drop(first);
    assert_eq!(second.find("#greeting").await.unwrap().text().await.unwrap(), "Hello, two!");
    drop(second);
}

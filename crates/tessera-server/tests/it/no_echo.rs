//! Issue 10 item 9: error descriptions never echo input (ARCHITECTURE.md, "Secrets never reach
//! logs, errors or `Debug`"): a parameter's name or value may be a secret pasted in the wrong
//! field, or markup meant for a page. One row per malicious request; the marker it carries
//! must appear nowhere in the answer, body or headers.

use crate::helpers::Fixture;

/// Text no answer contains unless it was copied from the request.
const MARKER: &str = "zzecho";

enum Send {
    /// `POST path` with a body of this content type; `{id}` `{secret}` the confidential client.
    Post(&'static str, &'static str, &'static str),
    /// `POST /oauth/token` with this `Authorization` header and a valid form.
    TokenWithAuthorization(&'static str),
    /// `GET /oauth/authorize?…`; `{id}` the confidential client (allowed authorization_code).
    Authorize(&'static str),
    /// `GET /api/1.0/users/me` with this `Authorization` header.
    Resource(&'static str),
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const CREDENTIALS: &str = "client_id={id}&client_secret={secret}";

#[rustfmt::skip]
const ROWS: &[(&str, Send)] = &[
    ("repeated unknown parameter", Send::Post("/oauth/token", FORM, "zzecho=1&zzecho=2&grant_type=password&client_id={id}&client_secret={secret}")),
    ("NUL in a parameter name", Send::Post("/oauth/token", FORM, "zzecho%00=1&grant_type=password&client_id={id}&client_secret={secret}")),
    ("unknown grant type", Send::Post("/oauth/token", FORM, "grant_type=zzecho&client_id={id}&client_secret={secret}")),
    ("scope with a forbidden character", Send::Post("/oauth/token", FORM, "grant_type=client_credentials&scope=zzecho%22&client_id={id}&client_secret={secret}")),
    ("unknown username", Send::Post("/oauth/token", FORM, "grant_type=password&username=zzecho&password=zzecho&client_id={id}&client_secret={secret}")),
    ("unknown code", Send::Post("/oauth/token", FORM, "grant_type=authorization_code&code=zzecho&redirect_uri=http://zzecho/&code_verifier=zzecho&client_id={id}&client_secret={secret}")),
    ("unknown refresh token", Send::Post("/oauth/token", FORM, "grant_type=refresh_token&refresh_token=zzecho&client_id={id}&client_secret={secret}")),
    ("unknown client", Send::Post("/oauth/token", FORM, "grant_type=client_credentials&client_id=zzecho&client_secret=zzecho")),
    ("JSON value that is not a string", Send::Post("/oauth/token", JSON, r#"{"zzecho":{"zzecho":1}}"#)),
    ("JSON syntax error", Send::Post("/oauth/token", JSON, r#"{"grant_type": zzecho}"#)),
    ("NUL in a JSON name", Send::Post("/oauth/token", JSON, r#"{"zzecho\u0000":"1","grant_type":"password"}"#)),
    ("repeated JSON name", Send::Post("/oauth/token", JSON, r#"{"zzecho":"1","zzecho":"2"}"#)),
    ("unknown content type", Send::Post("/oauth/token", "application/zzecho", "grant_type=password")),
    ("content type with parameters", Send::Post("/oauth/token", "text/zzecho; charset=zzecho", "grant_type=password")),
    ("malformed Basic credentials", Send::TokenWithAuthorization("Basic zzecho")),
    ("Basic credentials of an unknown client", Send::TokenWithAuthorization("Basic enplY2hvOnp6ZWNobw==")),
    ("revoking with an unknown hint", Send::Post("/oauth/revoke", FORM, "token=zzecho&token_type_hint=zzecho&client_id={id}&client_secret={secret}")),
    ("introspecting an unknown token", Send::Post("/oauth/introspect", FORM, "token=zzecho&token_type_hint=zzecho&client_id={id}&client_secret={secret}")),
    ("repeated parameter at authorize", Send::Authorize("zzecho=1&zzecho=2&client_id={id}&response_type=code")),
    ("NUL at authorize", Send::Authorize("zzecho%00=1&client_id={id}&response_type=code")),
    ("unknown client at authorize", Send::Authorize("client_id=zzecho&response_type=code")),
    ("unregistered redirect URI", Send::Authorize("client_id={id}&response_type=code&redirect_uri=http://zzecho/")),
    ("unknown response type", Send::Authorize("client_id={id}&response_type=zzecho")),
    ("scope with a forbidden character at authorize", Send::Authorize("client_id={id}&response_type=code&scope=zzecho%22")),
    ("unknown scope at authorize", Send::Authorize("client_id={id}&response_type=code&scope=zzecho")),
    ("unknown PKCE method", Send::Authorize("client_id={id}&response_type=code&code_challenge=zzecho&code_challenge_method=zzecho")),
    ("malformed PKCE challenge", Send::Authorize("client_id={id}&response_type=code&code_challenge=zzecho%21&code_challenge_method=S256")),
    ("unknown form action", Send::Post("/oauth/authorize", FORM, "action=zzecho&client_id={id}&response_type=code")),
    ("forged bearer token", Send::Resource("Bearer zzecho")),
    ("unknown authorization scheme", Send::Resource("zzecho zzecho")),
];

#[tokio::test]
async fn error_answers_never_echo_the_request() {
    let fixture = Fixture::start().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let fill = |text: &str| text.replace("{id}", &fixture.app.client_id).replace("{secret}", fixture.secret());
    let mut echoed = Vec::new();
    for (name, send) in ROWS {
        let request = match send {
            Send::Post(path, content_type, body) => {
                http.post(fixture.url(path)).header("content-type", *content_type).body(fill(body))
            }
            Send::TokenWithAuthorization(authorization) => http
                .post(fixture.url("/oauth/token"))
                .header("authorization", *authorization)
                .header("content-type", FORM)
                .body("grant_type=client_credentials"),
            Send::Authorize(query) => http.get(format!("{}?{}", fixture.url("/oauth/authorize"), fill(query))),
            Send::Resource(authorization) => {
                http.get(fixture.url("/api/1.0/users/me")).header("authorization", *authorization)
            }
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        if headers.to_lowercase().contains(MARKER) || body.to_lowercase().contains(MARKER) {
            echoed.push(format!("{name}: {status} {headers} {body}"));
        }
    }
    assert!(echoed.is_empty(), "echoed:\n{}", echoed.join("\n"));
    // Descriptions stay useful: a known parameter is still named.
    let body = http
        .post(fixture.url("/oauth/token"))
        .header("content-type", FORM)
        .body(fill(&format!("scope=read&scope=write&grant_type=client_credentials&{CREDENTIALS}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("parameter `scope` was sent more than once"), "{body}");
}

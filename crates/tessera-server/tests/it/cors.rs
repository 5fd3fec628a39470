//! CORS for browser apps (issue 12): which endpoints answer which origins, preflights, the
//! exposed headers, never credentials, and never on the pages; an origin removed through the
//! service stops at once, one removed in the database within the client cache's bound.

use crate::helpers::Fixture;
use reqwest::Method;
use reqwest::header::HeaderMap;
use std::time::Duration;
use tessera_core::ClientId;
use tessera_server::admin::{ClientUpdate, NewClient, create_client, update_client};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

const SPA: &str = "http://127.0.0.1:5173";
const OTHER_SPA: &str = "https://other.example";
const UNKNOWN: &str = "https://evil.example";

/// A public browser app registered for [`SPA`] and [`OTHER_SPA`] (typed unnormalised).
async fn browser_app(fixture: &Fixture) -> ClientId {
    let new = NewClient {
        name: "spa".into(),
        redirect_uris: vec![format!("{SPA}/")],
        grant_types: Vec::new(),
        scope: "openid read".into(),
        public: true,
        introspection: Default::default(),
        allowed_origins: vec!["HTTP://127.0.0.1:5173".into(), "https://Other.Example:443".into()],
        require_dpop: false,
    };
    let (client, _) = create_client(fixture.server.store(), fixture.server.clock.now(), new).await.unwrap();
    client.client_id
}

async fn send(fixture: &Fixture, method: Method, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap) {
    let mut request = fixture.http.request(method, fixture.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// The endpoints browser apps call with tokens (method of the actual request).
const FOR_REGISTERED: &[(&str, &str)] = &[
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("GET", "/oauth/userinfo"),
    ("POST", "/oauth/userinfo"),
    ("GET", "/api/1.0/users/me"),
];
/// The public documents: `*`.
const PUBLIC: &[&str] =
    &["/oauth/jwks", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];
/// Never CORS.
const NEVER: &[(&str, &str)] = &[
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/authorize"),
    ("GET", "/oauth/logout"),
    ("POST", "/oauth/logout"),
    ("POST", "/oauth/introspect"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/console"),
];

async fn cors_answers_registered_origins_only(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    browser_app(&fixture).await;

    for (method, path) in FOR_REGISTERED {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for origin in [SPA, OTHER_SPA] {
            // The actual request (it fails for want of a token or a body; CORS applies to errors too,
            // so the app can read the error).
            let (status, headers) = send(&fixture, method.clone(), path, &[("origin", origin)]).await;
            assert!((400..500).contains(&status), "{method} {path}: {status}");
            assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin), "{method} {path}");
            assert!(header(&headers, "vary").unwrap().contains("origin"), "{method} {path}: {headers:?}");
            let exposed = header(&headers, "access-control-expose-headers").unwrap().to_ascii_lowercase();
            assert!(exposed.contains("www-authenticate") && exposed.contains("dpop-nonce"), "{exposed}");
            assert_eq!(header(&headers, "access-control-allow-credentials"), None, "never credentials");

            // Its preflight.
            let preflight = [
                ("origin", origin),
                ("access-control-request-method", method.as_str()),
                ("access-control-request-headers", "authorization,content-type,dpop"),
            ];
            let (status, headers) = send(&fixture, Method::OPTIONS, path, &preflight).await;
            assert_eq!(status, 200, "preflight {path}");
            assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin), "preflight {path}");
            let methods = header(&headers, "access-control-allow-methods").unwrap();
            assert!(methods.contains("GET") && methods.contains("POST") && !methods.contains("PUT"), "{methods}");
            let allowed = header(&headers, "access-control-allow-headers").unwrap().to_ascii_lowercase();
            for name in ["authorization", "content-type", "dpop"] {
                assert!(allowed.contains(name), "{allowed}");
            }
            assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
            assert_eq!(header(&headers, "access-control-allow-credentials"), None, "never credentials");
        }
        // An origin nobody registered, and a spelling browsers never send: no CORS headers.
        for origin in [UNKNOWN, "HTTP://127.0.0.1:5173", "null"] {
            let (_, headers) = send(&fixture, method.clone(), path, &[("origin", origin)]).await;
            assert_eq!(header(&headers, "access-control-allow-origin"), None, "{method} {path} from {origin}");
            let preflight = [("origin", origin), ("access-control-request-method", method.as_str())];
            let (_, headers) = send(&fixture, Method::OPTIONS, path, &preflight).await;
            assert_eq!(header(&headers, "access-control-allow-origin"), None, "preflight {path} from {origin}");
        }
    }

    for path in PUBLIC {
        for origin in [SPA, UNKNOWN] {
            let (status, headers) = send(&fixture, Method::GET, path, &[("origin", origin)]).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"), "{path} from {origin}");
            assert_eq!(header(&headers, "access-control-allow-credentials"), None);
            let preflight = [("origin", origin), ("access-control-request-method", "GET")];
            let (status, headers) = send(&fixture, Method::OPTIONS, path, &preflight).await;
            assert_eq!((status, header(&headers, "access-control-allow-origin")), (200, Some("*")), "{path}");
        }
    }

    for (method, path) in NEVER {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (_, headers) = send(&fixture, method.clone(), path, &[("origin", SPA)]).await;
        assert_eq!(header(&headers, "access-control-allow-origin"), None, "{method} {path}");
        let preflight = [
            ("origin", SPA),
            ("access-control-request-method", method.as_str()),
            ("access-control-request-headers", "content-type"),
        ];
        let (status, headers) = send(&fixture, Method::OPTIONS, path, &preflight).await;
        assert_eq!(header(&headers, "access-control-allow-origin"), None, "preflight {path}");
        assert_eq!(header(&headers, "access-control-allow-methods"), None, "preflight {path}");
        assert_ne!(status, 200, "preflight {path} is not answered");
    }
}

async fn allowed_origin_on_token(fixture: &Fixture, origin: &str) -> Option<String> {
    let (_, headers) = send(fixture, Method::POST, "/oauth/token", &[("origin", origin)]).await;
    header(&headers, "access-control-allow-origin").map(str::to_owned)
}

async fn a_removed_origin_stops_at_once_through_the_service(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let client_id = browser_app(&fixture).await;
    assert_eq!(allowed_origin_on_token(&fixture, SPA).await.as_deref(), Some(SPA), "cached now");

    // `client update` through this instance's service: at once, however fresh the cache.
    let only_other = ClientUpdate { allowed_origins: Some(vec![OTHER_SPA.into()]), ..ClientUpdate::default() };
    fixture.server.service.update_client(&client_id, only_other).await.unwrap();
    assert_eq!(allowed_origin_on_token(&fixture, SPA).await, None, "removed: no CORS at once");
    assert_eq!(allowed_origin_on_token(&fixture, OTHER_SPA).await.as_deref(), Some(OTHER_SPA));

    // In the database directly (the CLI, another instance): within client_cache_ttl (5 s).
    let back = ClientUpdate { allowed_origins: Some(vec![SPA.into()]), ..ClientUpdate::default() };
    update_client(fixture.server.store(), &client_id, back).await.unwrap();
    assert_eq!(allowed_origin_on_token(&fixture, OTHER_SPA).await.as_deref(), Some(OTHER_SPA), "still cached");
    fixture.server.clock.advance(Duration::from_secs(5));
    assert_eq!(allowed_origin_on_token(&fixture, OTHER_SPA).await, None, "gone after the bound");
    assert_eq!(allowed_origin_on_token(&fixture, SPA).await.as_deref(), Some(SPA));

    // A deleted client's origins go with it.
    assert!(fixture.server.service.delete_client(&client_id).await.unwrap());
    assert_eq!(allowed_origin_on_token(&fixture, SPA).await, None);
}

on_both_backends!(cors_answers_registered_origins_only, a_removed_origin_stops_at_once_through_the_service);

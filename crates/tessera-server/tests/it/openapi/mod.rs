//! `GET /openapi.json`: valid OpenAPI 3.1, as an independent validator (the PyPI package
//! `openapi-spec-validator`) judges it, and a document of exactly the router's routes: every
//! path a `.route("…")` of the server's source names is documented and no other, and on the
//! running server every documented method is served and every other one is `405`, with the
//! CORS that the document's `x-tessera-cors` says.

mod responses;

use crate::helpers::{Fixture, repository_root};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use tokio::process::Command;

/// Every method a route could answer; HEAD is served wherever GET is (axum), OPTIONS wherever
/// a CORS layer answers preflights.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/// An origin no client registered.
const STRANGER: &str = "https://stranger.example";

async fn served_document(fixture: &Fixture) -> Value {
    let response = fixture.http.get(fixture.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Runs `openapi-spec-validator` on `document`; its verdict and what it printed.
async fn validate(document: &Value, path: &Path) -> (bool, String) {
    std::fs::write(path, serde_json::to_vec_pretty(document).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(path)
        .output()
        .await
        .expect("python3 runs (scripts/install-test-deps.sh installs openapi-spec-validator)");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!printed.contains("No module named"), "{printed}\n(run scripts/install-test-deps.sh)");
    (output.status.success(), printed)
}

#[tokio::test]
async fn served_document_is_valid_openapi_3_1() {
    let fixture = Fixture::start().await;
    let document = served_document(&fixture).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"), "info.version follows the crate");
    assert_eq!(document["servers"][0]["url"], fixture.server.service.issuer(), "servers names the issuer");
    let (valid, printed) = validate(&document, &fixture.server.directory.join("openapi.json")).await;
    assert!(valid, "openapi-spec-validator refuses /openapi.json:\n{printed}");

    // The validator does judge: the same document with a malformed request body is refused.
    let mut broken = document.clone();
    broken["paths"]["/oauth/token"]["post"]["requestBody"] = serde_json::json!({ "content": 7 });
    let (valid, _) = validate(&broken, &fixture.server.directory.join("broken.json")).await;
    assert!(!valid, "openapi-spec-validator accepted a broken document");
}

/// The literal paths of `.route("…")` (and `.route_service`) in the server's source, and the
/// prefixes of `.nest("…")` (and `.nest_service`). A route whose path is not a literal cannot be
/// checked here: that is an error, so that no route slips past.
fn routes_in_source(directory: &Path, routes: &mut BTreeSet<String>, prefixes: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            routes_in_source(&path, routes, prefixes);
            continue;
        }
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for call in [".route(", ".route_service("] {
            routes.extend(path_literals(&path, &source, call));
        }
        for call in [".nest(", ".nest_service("] {
            prefixes.extend(path_literals(&path, &source, call));
        }
    }
}

/// The string literal each `call` in `source` begins with, as an OpenAPI path template.
fn path_literals(file: &Path, source: &str, call: &str) -> Vec<String> {
    source
        .match_indices(call)
        .map(|(at, _)| {
            let rest = source[at + call.len()..].trim_start();
            match rest.strip_prefix('"').and_then(|rest| rest.split_once('"')) {
                // axum's catch-all `{*rest}` is OpenAPI's `{rest}`.
                Some((literal, _)) => literal.replace("{*", "{"),
                None => panic!(
                    "{}: a route path that is not a string literal: {call}{}",
                    file.display(),
                    rest.chars().take(40).collect::<String>()
                ),
            }
        })
        .collect()
}

/// `path` with each `{parameter}` replaced by the `example` the document gives it (a file that
/// exists, say, for static assets), or else by `sample`.
fn concrete_path(path: &str, item: &Value) -> String {
    let parameters: Vec<&Value> = std::iter::once(item)
        .chain(item.as_object().into_iter().flat_map(|operations| operations.values()))
        .filter_map(|holder| holder.get("parameters").and_then(Value::as_array))
        .flatten()
        .filter(|parameter| parameter["in"] == "path")
        .collect();
    let example = |name: &str| {
        parameters
            .iter()
            .find(|parameter| parameter["name"] == name)
            .and_then(|parameter| parameter["example"].as_str())
    };
    path.split('/')
        .map(|part| match part.strip_prefix('{').and_then(|part| part.strip_suffix('}')) {
            Some(name) => example(name).unwrap_or("sample"),
            None => part,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn documents_exactly_the_routes_of_the_router() {
    let fixture = Fixture::start().await;
    let document = served_document(&fixture).await;
    let paths = document["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().cloned().collect();

    let (mut routes, mut prefixes) = (BTreeSet::new(), BTreeSet::new());
    routes_in_source(&repository_root().join("crates/tessera-server/src"), &mut routes, &mut prefixes);
    let undocumented: Vec<&String> = routes.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes missing from crates/tessera-server/openapi.json: {undocumented:?}");
    for prefix in &prefixes {
        assert!(
            documented.iter().any(|path| path.starts_with(&format!("{prefix}/"))),
            "nothing documented under the nested router at {prefix}"
        );
    }
    let unrouted: Vec<&String> = documented
        .iter()
        .filter(|path| {
            !routes.contains(*path) && !prefixes.iter().any(|prefix| path.starts_with(&format!("{prefix}/")))
        })
        .collect();
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");

    // On the running server: each documented method is served, every other one is 405, and
    // CORS is as `x-tessera-cors` says.
    let mut wrong = Vec::new();
    for (path, item) in paths {
        let cors = item.get("x-tessera-cors").and_then(Value::as_str);
        let concrete = concrete_path(path, item);
        for method in METHODS {
            let expected = match method {
                "HEAD" => item.get("get").is_some(),
                "OPTIONS" => item.get("options").is_some() || cors.is_some(),
                _ => item.get(method.to_ascii_lowercase()).is_some(),
            };
            let response = fixture
                .http
                .request(Method::from_bytes(method.as_bytes()).unwrap(), fixture.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let served = status != 405 && status != 404;
            if served != expected {
                wrong.push(format!("{method} {path}: {status}, documented: {expected}"));
            }
        }
        let method = ["get", "post"].into_iter().find(|method| item.get(*method).is_some()).unwrap();
        let response = fixture
            .http
            .request(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap(), fixture.url(&concrete))
            .header("Origin", STRANGER)
            .send()
            .await
            .unwrap();
        let allowed =
            response.headers().get("access-control-allow-origin").map(|value| value.to_str().unwrap().to_owned());
        let expected = match cors {
            Some("any") => Some("*".to_owned()),
            // No client registered the stranger's origin; and paths without CORS answer none.
            Some("registered-origins") | None => None,
            Some(other) => panic!("{path}: unknown x-tessera-cors {other}"),
        };
        if allowed != expected {
            wrong.push(format!(
                "{method} {path} from {STRANGER}: Access-Control-Allow-Origin {allowed:?}, documented {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "the document and the server disagree:\n{}", wrong.join("\n"));

    let response = fixture.http.get(fixture.url("/no/such/endpoint")).send().await.unwrap();
    assert_eq!(response.status(), 404, "an undocumented path is not served");
}

/// The token endpoint's documented grants are the ones the metadata advertises.
#[tokio::test]
async fn documented_grants_are_the_advertised_ones() {
    let fixture = Fixture::start().await;
    let document = served_document(&fixture).await;
    let documented: BTreeSet<&str> = document["components"]["schemas"]["TokenRequest"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|grant| grant["properties"]["grant_type"]["const"].as_str().unwrap())
        .collect();
    let metadata: Value = fixture
        .http
        .get(fixture.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let advertised: BTreeSet<&str> =
        metadata["grant_types_supported"].as_array().unwrap().iter().map(|grant| grant.as_str().unwrap()).collect();
    assert_eq!(documented, advertised);
}

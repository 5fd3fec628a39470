//! `GET /openapi.json`: the OpenAPI 3.1 document of every HTTP endpoint. The document is
//! `crates/tessera-server/openapi.json`, kept by hand beside the router and embedded at build
//! time; only its `servers` is filled in here, with the issuer. The server's tests check that
//! it is valid OpenAPI 3.1 and that it documents exactly the routes the router serves.

use super::AppState;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};

/// The document as kept in the repository.
const DOCUMENT: &str = include_str!("../../openapi.json");

/// The `GET` route serving the document for `issuer`, rendered once.
pub(super) fn route(issuer: &str) -> MethodRouter<AppState> {
    let document = for_issuer(issuer);
    get(move || {
        let document = document.clone();
        async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document).into_response() }
    })
}

/// The document with `servers` naming `issuer`, so that tools reading it (Swagger UI, Postman's
/// import) call this server. Should the embedded text not parse, it is served as it is: the
/// test of the document fails long before a release could ship that.
fn for_issuer(issuer: &str) -> Bytes {
    let Ok(mut document) = serde_json::from_str::<serde_json::Value>(DOCUMENT) else {
        tracing::error!("the embedded OpenAPI document is not JSON; serving it unchanged");
        return Bytes::from_static(DOCUMENT.as_bytes());
    };
    if let Some(fields) = document.as_object_mut() {
        let servers = serde_json::json!([{ "url": issuer, "description": "This server's issuer." }]);
        fields.insert("servers".into(), servers);
    }
    match serde_json::to_vec(&document) {
        Ok(rendered) => Bytes::from(rendered),
        Err(_) => Bytes::from_static(DOCUMENT.as_bytes()),
    }
}

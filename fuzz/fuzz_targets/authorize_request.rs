//! Fuzz target: authorization requests (RFC 6749 §4.1.1, RFC 7636) and redirect-URI matching
//! (RFC 6749 §3.1.2.3, RFC 8252 §7.3). The input's first line is a registered redirect URI, the
//! rest a query string. Never a panic; a URI always matches itself; a refusal that is redirected
//! goes to a registered URI with one of RFC 6749 §4.1.2.1's codes; an accepted request keeps a
//! registered redirect URI and a scope within the client's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::authorize::{AuthorizationRequest, AuthorizeError, ClientView, redirect_uri_matches};
use tessera_core::request::collect_parameters;
use tessera_core::{ClientId, Scope};
use tessera_proto::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (registered, query) = text.split_once('\n').unwrap_or((text, ""));
    assert!(redirect_uri_matches(registered, registered));
    // The query string as pairs, the way the endpoint reads it.
    let pairs = url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()));
    let Ok(parameters) = collect_parameters(pairs) else { return };
    if let Some(presented) = parameters.get("redirect_uri") {
        // Matching is symmetric: a loopback URI matches any port in either direction.
        assert_eq!(redirect_uri_matches(registered, presented), redirect_uri_matches(presented, registered));
    }
    let uris = vec![registered.to_owned(), "https://app.example/cb".to_owned()];
    let client_id = ClientId::new("app");
    let scope = Scope::parse("read write").unwrap_or_default();
    for (is_public, allows_authorization_code) in [(false, true), (true, true), (false, false)] {
        let view = ClientView {
            client_id: &client_id,
            redirect_uris: &uris,
            allows_authorization_code,
            is_public,
            scope: &scope,
        };
        match AuthorizationRequest::parse(&parameters, Some(&view)) {
            Ok(request) => {
                assert!(uris.iter().any(|uri| redirect_uri_matches(uri, &request.redirect_uri)));
                assert!(request.scope.is_subset_of(&scope));
                assert!(allows_authorization_code);
                assert!(!is_public || request.code_challenge.is_some());
            }
            Err(AuthorizeError::Redirect { redirect_uri, code, .. }) => {
                assert!(uris.iter().any(|uri| redirect_uri_matches(uri, &redirect_uri)));
                assert!(matches!(
                    code,
                    ErrorCode::InvalidRequest
                        | ErrorCode::UnsupportedResponseType
                        | ErrorCode::UnauthorizedClient
                        | ErrorCode::InvalidScope
                ));
            }
            Err(AuthorizeError::Fatal(_)) => {}
        }
    }
});

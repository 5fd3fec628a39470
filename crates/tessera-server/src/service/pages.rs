//! What the authorization endpoint's pages ask of the service: checking an authorization
//! request against its registered client, the login form's anti-CSRF token, and whether the
//! browser cookies must be `Secure`.

use super::{AuthService, ServiceError};
use crate::random::random_bytes;
use crate::store::ClientRow;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use tessera_core::authorize::{AuthorizationRequest, AuthorizeError, ClientView};

/// An authorization request checked against its client.
pub enum CheckedRequest {
    /// The request may go on to the login or consent page.
    Valid { client: ClientRow, request: Box<AuthorizationRequest> },
    /// The request is refused: shown to the user, or sent back to the client's redirect URI.
    Refused(AuthorizeError),
}

impl AuthService {
    /// Looks up the client an authorization request names and checks the request against it
    /// (RFC 6749 §4.1.1, RFC 7636 §4.3).
    pub async fn check_authorization_request(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<CheckedRequest, ServiceError> {
        let client = match params.get("client_id") {
            Some(client_id) => self.find_client(&client_id.as_str().into()).await?,
            None => None,
        };
        let view = client.as_ref().map(|client| ClientView {
            client_id: &client.client_id,
            redirect_uris: &client.redirect_uris,
            allows_authorization_code: client.allows_grant(tessera_core::GrantType::AuthorizationCode),
            is_public: client.is_public(),
            scope: &client.scope,
        });
        Ok(match (AuthorizationRequest::parse(params, view.as_ref()), client) {
            (Ok(request), Some(client)) => CheckedRequest::Valid { client, request: Box::new(request) },
            // `parse` refuses a request without a client; this arm only keeps that promise local.
            (Ok(_), None) => {
                CheckedRequest::Refused(AuthorizeError::Fatal("The application is not registered.".into()))
            }
            (Err(refusal), _) => CheckedRequest::Refused(refusal),
        })
    }

    /// A fresh random value for the login cookie, which binds the login form to the browser
    /// that loaded it.
    pub fn new_login_nonce(&self) -> Result<String, ServiceError> {
        Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
    }

    /// The login form's anti-CSRF token for a login cookie. It is the consent form's HMAC under
    /// its own label, so a login token never passes for a consent token or the reverse.
    pub fn login_csrf_token(&self, login_nonce: &str) -> String {
        self.csrf_token(&format!("login:{login_nonce}"))
    }

    pub fn login_csrf_token_matches(&self, login_nonce: &str, presented: &str) -> bool {
        self.csrf_token_matches(&format!("login:{login_nonce}"), presented)
    }

    /// Browser cookies are marked `Secure` when the issuer is served over HTTPS; a plain-HTTP
    /// issuer (development, tests) could not get them back otherwise.
    pub fn cookies_are_secure(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

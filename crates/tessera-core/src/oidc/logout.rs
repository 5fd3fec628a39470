//! RP-Initiated Logout 1.0 §2–§3: which logout requests are refused, which log the browser out
//! at once, which ask the user first, and where the browser may be sent afterwards.

use tessera_proto::{ClientId, UserId};

/// The `id_token_hint`, as the server found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// No hint was sent.
    Absent,
    /// An id token we signed (expired or not: §2 lets an expired one serve as a hint).
    Valid { client_id: ClientId, subject: UserId },
    /// Not a token of ours: malformed, signed by another key, or for another issuer.
    Invalid,
}

/// A logout request's parameters, beside the hint.
#[derive(Debug, Clone, Copy)]
pub struct LogoutRequest<'a> {
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    /// The client the request names (through the hint or `client_id`), if registered:
    /// its registered post-logout redirect URIs.
    pub registered: Option<&'a [String]>,
}

/// What to do with a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutDecision {
    /// End the session (if any) and go to `redirect` (else show "signed out").
    LogOut { redirect: Option<String> },
    /// Ask the user first (no valid hint, or the hint names someone else); on confirmation,
    /// end the session and go to `redirect`.
    Confirm { redirect: Option<String> },
    /// Refuse: nothing is logged out, nobody is redirected. The message is safe to show.
    Refuse(&'static str),
}

/// The client a request is about: the hint's audience and `client_id` must agree (§2).
pub fn named_client<'a>(hint: &'a Hint, client_id: Option<&'a str>) -> Result<Option<&'a str>, &'static str> {
    match (hint, client_id) {
        (Hint::Invalid, _) => Err("The id_token_hint was not issued by this server."),
        (Hint::Valid { client_id: audience, .. }, Some(named)) if audience.as_str() != named => {
            Err("The id_token_hint was issued to another application than client_id names.")
        }
        (Hint::Valid { client_id: audience, .. }, _) => Ok(Some(audience.as_str())),
        (Hint::Absent, named) => Ok(named),
    }
}

/// §2–§3: a redirect only to a URI registered for the named client (exact string match); a
/// silent logout only with a valid hint for the signed-in user (`session_user`; `None` when
/// nobody is signed in, and then there is nothing to confirm).
pub fn decide_logout(hint: &Hint, request: &LogoutRequest<'_>, session_user: Option<&UserId>) -> LogoutDecision {
    let named = match named_client(hint, request.client_id) {
        Ok(named) => named,
        Err(message) => return LogoutDecision::Refuse(message),
    };
    let redirect = match (request.post_logout_redirect_uri, named, request.registered) {
        (None, _, _) => None,
        (Some(_), None, _) => {
            return LogoutDecision::Refuse("post_logout_redirect_uri needs id_token_hint or client_id.");
        }
        (Some(_), Some(_), None) => return LogoutDecision::Refuse("The application is not registered."),
        (Some(uri), Some(_), Some(registered)) => {
            if !registered.iter().any(|allowed| allowed == uri) {
                return LogoutDecision::Refuse("post_logout_redirect_uri is not registered for the application.");
            }
            Some(uri.to_owned())
        }
    };
    match (hint, session_user) {
        (_, None) => LogoutDecision::LogOut { redirect },
        (Hint::Valid { subject, .. }, Some(user)) if subject == user => LogoutDecision::LogOut { redirect },
        _ => LogoutDecision::Confirm { redirect },
    }
}

//! OpenID Connect's rules at the authorization endpoint (Core §3.1.2): the parameters it adds
//! (`nonce`, `prompt`, `max_age`, `login_hint`, the unsupported `request` and `request_uri`),
//! what the endpoint does next for a browser (sign in, ask consent, or issue a code, and under
//! `prompt=none` which error instead), and what consent is remembered. Claims by scope and
//! `at_hash` are in [`claims`], RP-initiated logout in [`logout`].

pub mod claims;
pub mod logout;

use crate::scope::Scope;
use crate::time::Timestamp;
use std::collections::HashMap;
use std::time::Duration;
use tessera_proto::ErrorCode;

/// The longest `nonce` accepted. Core §3.1.2.1 sets no bound, but the value is stored with the
/// code and echoed in the id token; 512 characters is far beyond any RP's random string.
pub const MAX_NONCE_LENGTH: usize = 512;
/// The longest `login_hint` used; a longer one is ignored (it only pre-fills a field).
pub const MAX_LOGIN_HINT_LENGTH: usize = 200;
/// The largest `max_age` accepted (about 68 years): larger values could not be added to a time.
pub const MAX_MAX_AGE: u64 = i32::MAX as u64;

/// `prompt` (Core §3.1.2.1), parsed: `none` alone, or any of `login`, `consent`,
/// `select_account` (accepted; with one account per browser there is nothing to select).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// The OpenID Connect parameters of an authorization request, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenIdParameters {
    pub nonce: Option<String>,
    pub prompt: Prompt,
    /// Seconds: a session older than this must sign in again (Core §3.1.2.1).
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

/// Why the OpenID Connect parameters are refused: the code to redirect, and why.
pub type ParameterError = (ErrorCode, &'static str);

impl OpenIdParameters {
    /// Checks the parameters (already de-duplicated). Called once the redirect URI is
    /// verified, so that each refusal can be sent there (Core §3.1.2.6).
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ParameterError> {
        if params.contains_key("request") {
            return Err((ErrorCode::RequestNotSupported, "request objects are not supported"));
        }
        if params.contains_key("request_uri") {
            return Err((ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
        }
        let nonce = match params.get("nonce") {
            None => None,
            Some(nonce) if nonce.is_empty() => return Err((ErrorCode::InvalidRequest, "nonce is empty")),
            Some(nonce) if nonce.chars().count() > MAX_NONCE_LENGTH => {
                return Err((ErrorCode::InvalidRequest, "nonce is longer than 512 characters"));
            }
            Some(nonce) => Some(nonce.clone()),
        };
        let prompt = match params.get("prompt") {
            None => Prompt::default(),
            Some(text) => parse_prompt(text)?,
        };
        let max_age = match params.get("max_age") {
            None => None,
            Some(text) => Some(parse_max_age(text)?),
        };
        let login_hint = params
            .get("login_hint")
            .filter(|hint| !hint.is_empty() && hint.chars().count() <= MAX_LOGIN_HINT_LENGTH)
            .cloned();
        Ok(OpenIdParameters { nonce, prompt, max_age, login_hint })
    }
}

fn parse_prompt(text: &str) -> Result<Prompt, ParameterError> {
    let mut prompt = Prompt::default();
    let mut values = 0;
    for value in text.split(' ').filter(|value| !value.is_empty()) {
        values += 1;
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err((ErrorCode::InvalidRequest, "prompt has a value other than none, login, consent")),
        }
    }
    if values == 0 {
        return Err((ErrorCode::InvalidRequest, "prompt is empty"));
    }
    // Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
    if prompt.none && values > 1 {
        return Err((ErrorCode::InvalidRequest, "prompt=none cannot be combined with another value"));
    }
    Ok(prompt)
}

/// A non-negative decimal integer of seconds, digits only (no sign, no spaces).
fn parse_max_age(text: &str) -> Result<u64, ParameterError> {
    const ERROR: ParameterError = (ErrorCode::InvalidRequest, "max_age must be a non-negative integer of seconds");
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ERROR);
    }
    text.parse::<u64>().ok().filter(|age| *age <= MAX_MAX_AGE).ok_or(ERROR)
}

/// What the authorization endpoint does next for a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Show the login page.
    SignIn,
    /// Show the consent page.
    Consent,
    /// Issue a code at once: the user is signed in and has approved this scope before.
    Issue,
    /// `prompt=none` and the user would have to interact: this error goes to the client.
    Refuse(ErrorCode),
}

/// The browser's session as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// No live session.
    None,
    /// A session that signed in at `auth_time`, before this request.
    Existing { auth_time: Timestamp },
    /// The user has just signed in on this request's login page.
    JustSignedIn,
}

/// Core §3.1.2.1 and §3.1.2.3: sign in when there is no session, when `prompt=login`, or when
/// the session is older than `max_age`; then ask consent unless the remembered consent covers
/// the request and `prompt=consent` is absent. Under `prompt=none` every page becomes an error
/// (`login_required`, `consent_required`).
pub fn next_step(
    parameters: &OpenIdParameters,
    session: Session,
    now: Timestamp,
    remembered: Option<&Scope>,
    requested: &Scope,
) -> NextStep {
    let prompt = parameters.prompt;
    let must_sign_in = match session {
        Session::None => true,
        Session::JustSignedIn => false,
        Session::Existing { auth_time } => {
            let too_old = parameters.max_age.is_some_and(|max_age| now.since(auth_time) > Duration::from_secs(max_age));
            prompt.login || too_old
        }
    };
    if must_sign_in {
        return if prompt.none { NextStep::Refuse(ErrorCode::LoginRequired) } else { NextStep::SignIn };
    }
    let covered = remembered.is_some_and(|remembered| requested.is_subset_of(remembered));
    match (covered && !prompt.consent, prompt.none) {
        (true, _) => NextStep::Issue,
        (false, true) => NextStep::Refuse(ErrorCode::ConsentRequired),
        (false, false) => NextStep::Consent,
    }
}

/// The consent to remember after the user approves `approved`: what was remembered before
/// plus the new scope, so approving a narrower request never forgets a wider approval.
pub fn remembered_after_approval(before: Option<&Scope>, approved: &Scope) -> Scope {
    let joined = before.into_iter().flat_map(Scope::iter).chain(approved.iter()).collect::<Vec<_>>().join(" ");
    Scope::parse(&joined).unwrap_or_else(|_| approved.clone())
}

#[cfg(test)]
mod tests;

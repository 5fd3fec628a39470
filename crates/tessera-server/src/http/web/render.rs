//! Rendering the web pages: the frame every page shares ([`Chrome`]: title, navigation, the
//! signed-in user, the anti-CSRF token for its forms) and the headers every page carries.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The content security policy of every web page: scripts, styles and images from this
/// server only, no inline script or style, forms posted back here only, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where a page sits in the navigation (its link is marked current).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// No navigation (the sign-in page, an error page for an anonymous visitor).
    None,
    Overview,
    Clients,
    Users,
    Sessions,
    Keys,
    Audit,
    Account,
}

/// What the layout needs from every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub section: Section,
    /// The signed-in user's name; empty when nobody is signed in.
    pub username: String,
    pub is_admin: bool,
    /// The session's anti-CSRF token, for the page's forms (and the sign-out form).
    pub csrf: String,
}

impl Chrome {
    /// The frame of a page nobody is signed in to.
    pub fn anonymous(title: &str) -> Chrome {
        Chrome {
            title: title.to_owned(),
            section: Section::None,
            username: String::new(),
            is_admin: false,
            csrf: String::new(),
        }
    }

    /// `class="current"` for the navigation link of `section` on this page (askama calls it).
    pub fn current(&self, section: &str) -> &'static str {
        let name = match self.section {
            Section::None => "",
            Section::Overview => "overview",
            Section::Clients => "clients",
            Section::Users => "users",
            Section::Sessions => "sessions",
            Section::Keys => "keys",
            Section::Audit => "audit",
            Section::Account => "account",
        };
        if name == section { "page" } else { "false" }
    }
}

#[derive(Template)]
#[template(path = "web/message.html")]
struct MessagePage<'a> {
    chrome: Chrome,
    message: &'a str,
}

/// A page with the headers every web page carries: never cached, never framed, the strict CSP.
pub fn page(status: StatusCode, page: &impl Template) -> Response {
    html_page(status, page, CONTENT_SECURITY_POLICY)
}

/// A rendered HTML page with `policy` as its CSP and the headers every HTML page of Tessera
/// carries (never cached, never framed, no referrer, no sniffing): the authorization pages
/// use it with their own policy.
pub(crate) fn html_page(status: StatusCode, page: &impl Template, policy: &'static str) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(error) => {
            // Only a failing `Display` of a value can get here; nothing secret is printed.
            tracing::error!(%error, "cannot render a page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error; it has been logged").into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A page that only says something: why a request was refused, say.
pub fn message(status: StatusCode, chrome: Chrome, message: &str) -> Response {
    page(status, &MessagePage { chrome, message })
}

/// `303 See Other` to a path of this server (after a form: the browser GETs the result).
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

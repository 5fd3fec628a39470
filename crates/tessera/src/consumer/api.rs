//! `tessera api`: a curl-like call of the API with the profile's access token, sent only to the
//! API's origin unless told otherwise, refreshed and retried once when the API rejects it.

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tessera_client::reqwest::Method;
use tessera_client::reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tessera_client::{ApiClient, Url};

use super::{ProfileArg, token_source, url_under};

/// Exit status of `tessera api` when the URL's origin is not the profile's API origin and
/// `--allow-other-host` is not given (2, like a usage error: nothing was sent).
const EXIT_OTHER_HOST: u8 = 2;
/// Exit status of `tessera api` when the server answered HTTP ≥ 400 (the one of `curl --fail`).
const EXIT_HTTP_ERROR: u8 = 22;

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// HTTP method [default: GET, or POST with --data]
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// A path, resolved against the issuer (e.g. /api/1.0/users/me), or an absolute URL on the
    /// issuer's origin (scheme, host and port)
    #[arg(value_name = "PATH_OR_URL")]
    target: String,
    /// Send the access token to an absolute URL on another origin than the issuer's too (by
    /// default `tessera api` refuses, so that a mistyped or pasted URL cannot leak the token)
    #[arg(long)]
    allow_other_host: bool,
    /// Request body; @FILE reads it from a file, @- from standard input. Sent as JSON when it
    /// starts with '{' or '[', else as a form, unless a Content-Type header is given
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    data: Option<String>,
    /// Extra request header, "Name: value" (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    #[command(flatten)]
    pub(super) profile: ProfileArg,
}

pub(super) async fn run(args: ApiArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = token_source(&args.profile.profile)?;
    let profile = source.profile().await?;
    let api_base = profile.client.api_base();
    let url = resolve_target(&args.target, api_base.as_deref())?;
    if !args.allow_other_host {
        let base = api_base.as_deref().unwrap_or_default();
        if !same_origin(&url, base) {
            eprintln!(
                "error: refusing to send the access token to {}, which is not the origin of the profile's API ({}); \
                 pass --allow-other-host to send it anyway",
                origin_of(&url),
                origin_of(base),
            );
            return Ok(ExitCode::from(EXIT_OTHER_HOST));
        }
    }
    let body = args.data.as_deref().map(read_body).transpose()?;
    let method = match (&args.method, &body) {
        (Some(method), _) => Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .with_context(|| format!("invalid HTTP method {method:?}"))?,
        (None, Some(_)) => Method::POST,
        (None, None) => Method::GET,
    };

    let api = ApiClient::new(source);
    let mut request = api.request(method, &url);
    let mut has_content_type = false;
    for header in &args.headers {
        let (name, value) = parse_header(header)?;
        has_content_type |= name == CONTENT_TYPE;
        request = request.header(name, value);
    }
    if let Some(body) = body {
        if !has_content_type {
            request = request.header(CONTENT_TYPE, guess_content_type(&body));
        }
        request = request.body(body);
    }

    let response = api.send(request).await?;
    let status = response.status();
    let bytes = response.bytes().await.with_context(|| format!("cannot read the response body from {url}"))?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(&bytes)?;
    if stdout.is_terminal() && !bytes.is_empty() && !bytes.ends_with(b"\n") {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    if status.is_client_error() || status.is_server_error() {
        eprintln!("tessera api: {url} answered HTTP {status}");
        return Ok(ExitCode::from(EXIT_HTTP_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}

/// An absolute http(s) URL is used as is; anything else is a path under `base` (the issuer).
fn resolve_target(target: &str, base: Option<&str>) -> anyhow::Result<String> {
    if Url::parse(target).is_ok_and(|url| matches!(url.scheme(), "http" | "https")) {
        return Ok(target.to_owned());
    }
    let base = base.context("the profile has no issuer URL; give an absolute URL")?;
    Ok(url_under(base, target)?.into())
}

/// Whether `url` and `base` are both URLs with the same origin (scheme, host and port, the
/// scheme's default port spelled or not).
fn same_origin(url: &str, base: &str) -> bool {
    match (Url::parse(url), Url::parse(base)) {
        (Ok(url), Ok(base)) => {
            let origin = url.origin();
            origin.is_tuple() && origin == base.origin()
        }
        _ => false,
    }
}

/// `scheme://host[:port]` of `url`, or `url` itself (shortened) when it is not one.
fn origin_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) if parsed.origin().is_tuple() => parsed.origin().ascii_serialization(),
        _ if url.is_empty() => "none".to_owned(),
        _ => url.chars().take(200).collect(),
    }
}

fn read_body(data: &str) -> anyhow::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body).context("cannot read the body from standard input")?;
            Ok(body)
        }
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}")),
        None => Ok(data.as_bytes().to_vec()),
    }
}

fn parse_header(header: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = header.split_once(':').with_context(|| format!("header {header:?} is not \"Name: value\""))?;
    let name =
        HeaderName::from_bytes(name.trim().as_bytes()).with_context(|| format!("invalid header name in {header:?}"))?;
    let value = HeaderValue::from_str(value.trim()).with_context(|| format!("invalid header value in {header:?}"))?;
    Ok((name, value))
}

fn guess_content_type(body: &[u8]) -> &'static str {
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'{' | b'[') => "application/json",
        _ => "application/x-www-form-urlencoded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_against_the_issuer() {
        let base = Some("http://127.0.0.1:8080");
        let cases = [
            ("/api/1.0/users/me", "http://127.0.0.1:8080/api/1.0/users/me"),
            ("api/1.0/users/me", "http://127.0.0.1:8080/api/1.0/users/me"),
            ("https://other.example/x", "https://other.example/x"),
            ("HTTP://other.example/x", "HTTP://other.example/x"),
            ("users/me?fields=a,b", "http://127.0.0.1:8080/users/me?fields=a,b"),
            // A first segment with a colon is a path, not a scheme.
            ("a:b", "http://127.0.0.1:8080/a:b"),
        ];
        for (target, expected) in cases {
            assert_eq!(resolve_target(target, base).ok().as_deref(), Some(expected));
        }
        assert!(resolve_target("/x", None).is_err());
        // The issuer's own path is kept.
        for base in ["https://example.com/tenant", "https://example.com/tenant/"] {
            for target in ["/users/me", "users/me"] {
                let resolved = resolve_target(target, Some(base)).ok();
                assert_eq!(resolved.as_deref(), Some("https://example.com/tenant/users/me"), "{base} {target}");
            }
        }
    }

    #[test]
    fn the_token_goes_only_to_the_apis_origin() {
        let base = "http://127.0.0.1:8080";
        for url in [
            "http://127.0.0.1:8080/api/1.0/users/me",
            "HTTP://127.0.0.1:8080/x",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/x?next=https://evil.example",
        ] {
            assert!(same_origin(url, base), "{url}");
        }
        for url in [
            "http://127.0.0.1:8081/api/1.0/users/me",
            "https://127.0.0.1:8080/x",
            "http://localhost:8080/x",
            "http://127.0.0.1:8080.evil.example/x",
            "http://127.0.0.1:8080@evil.example/x",
            "https://other.example/x",
            "not a url",
        ] {
            assert!(!same_origin(url, base), "{url}");
        }
        // The scheme's default port is the same origin, spelled or not.
        assert!(same_origin("https://api.example.com:443/x", "https://api.example.com"));
        assert!(!same_origin("https://api.example.com/x", ""));
        assert_eq!(origin_of("https://other.example:8443/secret?x=1"), "https://other.example:8443");
    }

    #[test]
    fn headers_parse_as_curl_does() {
        let parsed = parse_header("X-Trace:  abc ").ok();
        assert_eq!(
            parsed.map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned())),
            Some(("x-trace".to_owned(), "abc".to_owned()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn json_looking_bodies_are_sent_as_json() {
        assert_eq!(guess_content_type(b" {\"a\":1}"), "application/json");
        assert_eq!(guess_content_type(b"[1]"), "application/json");
        assert_eq!(guess_content_type(b"a=1&b=2"), "application/x-www-form-urlencoded");
    }
}

//! The consumer commands, `tessera login | token | api | logout`: the guide's recipes (get tokens,
//! refresh them, call the API) as a CLI that keeps the access token valid by itself.
//!
//! Exit status: 0 on success; 2 when `tessera api` refuses to send the access token to another
//! origin than the profile's API; 3 when the user must run `tessera login` (again); 22 when
//! `tessera api` got HTTP ≥ 400 (as `curl --fail`); any other failure is returned as an error.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use tessera_client::reqwest::Method;
use tessera_client::reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tessera_client::{
    ApiClient, ClientAuthMethod, ClientError, ClientSecret, ClientSettings, FileStore, LogoutMode, LogoutOutcome,
    NotRevokedReason, ResourceOwnerPassword, TokenSource,
};

/// Exit status of `tessera api` when the URL's origin is not the profile's API origin and
/// `--allow-other-host` is not given (2, like a usage error: nothing was sent).
const EXIT_OTHER_HOST: u8 = 2;
/// Exit status when no usable login is stored: the user must run `tessera login`.
const EXIT_LOGIN_REQUIRED: u8 = 3;
/// Exit status of `tessera api` when the server answered HTTP ≥ 400 (the one of `curl --fail`).
const EXIT_HTTP_ERROR: u8 = 22;

/// Commands for an API consumer: log in once, then get tokens and call the API without thinking
/// about refresh.
#[derive(Debug, Subcommand)]
pub enum ConsumerCommand {
    /// Log in (password grant, or --browser for the authorization-code flow with PKCE) and store the
    /// tokens in a profile (never the password)
    Login(LoginArgs),
    /// Print a valid access token, refreshing it first when it is about to expire
    Token(TokenArgs),
    /// Call the API with the access token (curl-like); refreshes and retries once on 401
    Api(ApiArgs),
    /// Revoke the refresh token at the server (RFC 7009) and delete the profile
    Logout(LogoutArgs),
}

/// The credential profile a command uses.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Credential profile, stored as $XDG_CONFIG_HOME/tessera/NAME.json
    #[arg(long, value_name = "NAME", env = "TESSERA_PROFILE", default_value = "default", global = true)]
    profile: String,
}

/// Client authentication method at the token endpoint.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClientAuthArg {
    /// HTTP Basic (the default with a secret)
    #[value(name = "client_secret_basic", alias = "basic")]
    ClientSecretBasic,
    /// client_id and client_secret in the request body
    #[value(name = "client_secret_post", alias = "post")]
    ClientSecretPost,
}

#[derive(Debug, Args)]
#[command(group(
    // At most one password source; one is required unless --browser (see `password_stdin`).
    clap::ArgGroup::new("password_source")
        .args(["password_stdin", "password"])
))]
pub struct LoginArgs {
    /// Issuer URL of the server, e.g. https://auth.example.com; endpoints are discovered from its
    /// metadata (RFC 8414)
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// Token endpoint, for a server that publishes no metadata [default: discovered, or
    /// ISSUER/oauth/token]
    #[arg(long, value_name = "URL")]
    token_endpoint: Option<String>,
    /// Authorization endpoint for --browser, for a server that publishes no metadata [default:
    /// discovered, or ISSUER/oauth/authorize]
    // (`requires = "browser"` would always hold: clap counts a flag's default as present.)
    #[arg(long, value_name = "URL", conflicts_with_all = ["username", "password_stdin", "password"])]
    authorization_endpoint: Option<String>,
    /// Client ID of the client application
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Client secret of a confidential client
    #[arg(long, value_name = "SECRET", env = "TESSERA_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// How to send the client secret [default: client_secret_basic, unless the server only
    /// accepts client_secret_post]
    #[arg(long, value_enum, value_name = "METHOD", requires = "client_secret")]
    client_auth: Option<ClientAuthArg>,
    /// Log in through a browser instead of with a password (authorization code with PKCE): print
    /// the URL to open, then wait for the browser to come back to a listener on 127.0.0.1. The
    /// client must have registered the redirect URI http://127.0.0.1/callback
    #[arg(long, conflicts_with_all = ["username", "password_stdin", "password"])]
    browser: bool,
    /// The resource owner's username
    #[arg(long, value_name = "USERNAME", required_unless_present = "browser")]
    username: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long, required_unless_present_any = ["password", "browser"])]
    password_stdin: bool,
    /// The password (other users can see it in the process list; prefer --password-stdin)
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,
    /// Space-separated scope to request, e.g. "read write" [default: the client's]
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    #[command(flatten)]
    profile: ProfileArg,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: Option<TokenAction>,
    #[command(flatten)]
    profile: ProfileArg,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Refresh now and print the token response as JSON (secrets included)
    Refresh,
}

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
    profile: ProfileArg,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Only delete the local profile; do not revoke the refresh token at the server
    #[arg(long)]
    no_revoke: bool,
    #[command(flatten)]
    profile: ProfileArg,
}

/// Runs a consumer command. A missing or dead login is reported here, on stderr, with the exit
/// status [`EXIT_LOGIN_REQUIRED`]; other failures are returned.
pub async fn run(command: ConsumerCommand) -> anyhow::Result<ExitCode> {
    let profile = match &command {
        ConsumerCommand::Login(args) => &args.profile.profile,
        ConsumerCommand::Token(args) => &args.profile.profile,
        ConsumerCommand::Api(args) => &args.profile.profile,
        ConsumerCommand::Logout(args) => &args.profile.profile,
    }
    .clone();
    let result = match command {
        ConsumerCommand::Login(args) => login(args).await,
        ConsumerCommand::Token(args) => token(args).await,
        ConsumerCommand::Api(args) => api(args).await,
        ConsumerCommand::Logout(args) => logout(args).await,
    };
    match result {
        Err(error) => match error.downcast_ref::<ClientError>() {
            Some(client_error) if client_error.is_login_required() => {
                eprintln!("error: {client_error}");
                eprintln!("{}", login_hint(&profile));
                Ok(ExitCode::from(EXIT_LOGIN_REQUIRED))
            }
            _ => Err(error),
        },
        ok => ok,
    }
}

fn token_source(profile: &str) -> anyhow::Result<(TokenSource, FileStore)> {
    let store = FileStore::open(profile)?;
    let source = TokenSource::new(Arc::new(store.clone()))?;
    Ok((source, store))
}

/// The `tessera login …` line to run again, filled in from the stored profile when there is one.
fn login_hint(profile: &str) -> String {
    let stored =
        FileStore::open(profile).ok().and_then(|store| tessera_client::CredentialStore::load(&store).ok().flatten());
    let (issuer, client_id) = match &stored {
        Some(stored) => {
            (stored.client.issuer.clone().unwrap_or_else(|| "URL".to_owned()), stored.client.client_id.clone())
        }
        None => ("URL".to_owned(), "ID".to_owned()),
    };
    let profile_flag = if profile == "default" { String::new() } else { format!(" --profile {profile}") };
    format!(
        "run `tessera login --issuer {issuer} --client-id {client_id} --username USERNAME \
         --password-stdin{profile_flag}` (or with --browser instead of the username and password) to log in again"
    )
}

async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let password = match (&args.username, args.password, args.password_stdin) {
        (None, _, _) => None,
        (Some(_), Some(password), _) => Some(password),
        (Some(_), None, _) => Some(read_password_from_stdin()?),
    };
    let (source, store) = token_source(&args.profile.profile)?;
    let issuer = args.issuer.trim_end_matches('/').to_owned();
    let client_secret = args.client_secret.map(ClientSecret::new);
    let mut settings = match args.token_endpoint {
        Some(token_endpoint) => {
            let mut settings = ClientSettings::new(token_endpoint, args.client_id, client_secret);
            settings.issuer = Some(issuer.clone());
            settings.authorization_endpoint = Some(format!("{issuer}/oauth/authorize"));
            settings
        }
        None => ClientSettings::discover(source.http_client(), &issuer, args.client_id, client_secret)
            .await
            .with_context(|| format!("cannot discover the endpoints of {issuer}"))?,
    };
    if let Some(client_auth) = args.client_auth {
        settings.client_auth = match client_auth {
            ClientAuthArg::ClientSecretBasic => ClientAuthMethod::ClientSecretBasic,
            ClientAuthArg::ClientSecretPost => ClientAuthMethod::ClientSecretPost,
        };
    }
    if let Some(authorization_endpoint) = args.authorization_endpoint {
        settings.authorization_endpoint = Some(authorization_endpoint);
    }
    settings.scope = args.scope;
    let (response, username) = match (args.username, password) {
        (Some(username), Some(password)) => {
            let password = ResourceOwnerPassword::new(password);
            let response = source.login_with_password(settings, &username, &password).await.context("login failed")?;
            (response, Some(username))
        }
        _ => {
            let login = source.browser_login(settings).await.context("cannot start the browser login")?;
            // Printing is all: the user may be on another machine than the browser (ssh), and
            // nothing here guesses how to launch one.
            eprintln!("Open this URL in your browser to log in:");
            eprintln!("{}", login.authorize_url());
            eprintln!("Waiting for the browser to come back to {} …", login.redirect_uri());
            let response = login.finish().await.context("login failed")?;
            (response, logged_in_username(&source).await)
        }
    };
    let scope = response.scope.map(|scope| format!(" with scope \"{scope}\"")).unwrap_or_default();
    let username = username.map(|username| format!(" as {username}")).unwrap_or_default();
    eprintln!(
        "logged in to {issuer}{username}{scope}; tokens saved in {} (profile {})",
        store.path().display(),
        store.profile()
    );
    Ok(ExitCode::SUCCESS)
}

/// Who logged in through the browser, asked of the API (`GET /api/1.0/users/me`), since only the
/// browser saw the username; `None` when the server does not say.
async fn logged_in_username(source: &TokenSource) -> Option<String> {
    let base = source.profile().await.ok()?.client.api_base()?;
    let api = ApiClient::new(source.clone());
    let response = api.send(api.get(format!("{base}/api/1.0/users/me"))).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let me: serde_json::Value = response.json().await.ok()?;
    me.get("username").and_then(serde_json::Value::as_str).map(str::to_owned)
}

fn read_password_from_stdin() -> anyhow::Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        // No echo suppression without a terminal crate; say so rather than pretend.
        eprint!("password (visible as you type): ");
        io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password.to_owned())
}

async fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = token_source(&args.profile.profile)?;
    let mut stdout = io::stdout().lock();
    match args.action {
        None => {
            let access_token = source.access_token().await?;
            writeln!(stdout, "{}", access_token.secret())?;
        }
        Some(TokenAction::Refresh) => {
            let response = source.force_refresh().await?;
            // The user's own tokens on the user's own terminal: printing them is the point.
            writeln!(stdout, "{}", serde_json::to_string_pretty(&response)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn api(args: ApiArgs) -> anyhow::Result<ExitCode> {
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
    let lowercase = target.to_ascii_lowercase();
    if lowercase.starts_with("http://") || lowercase.starts_with("https://") {
        return Ok(target.to_owned());
    }
    let base = base.context("the profile has no issuer URL; give an absolute URL")?;
    Ok(format!("{}/{}", base.trim_end_matches('/'), target.trim_start_matches('/')))
}

/// Whether `url` and `base` are both URLs with the same origin (scheme, host and port, the
/// scheme's default port spelled or not).
fn same_origin(url: &str, base: &str) -> bool {
    match (tessera_client::Url::parse(url), tessera_client::Url::parse(base)) {
        (Ok(url), Ok(base)) => {
            let origin = url.origin();
            origin.is_tuple() && origin == base.origin()
        }
        _ => false,
    }
}

/// `scheme://host[:port]` of `url`, or `url` itself (shortened) when it is not one.
fn origin_of(url: &str) -> String {
    match tessera_client::Url::parse(url) {
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

async fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let (source, store) = token_source(&args.profile.profile)?;
    let mode = if args.no_revoke { LogoutMode::ForgetOnly } else { LogoutMode::RevokeThenForget };
    let outcome = source
        .logout(mode)
        .await
        .context("cannot revoke the refresh token; the profile is kept (--no-revoke deletes it anyway)")?;
    let profile = store.profile();
    match outcome {
        LogoutOutcome::Revoked => {
            eprintln!("logged out: the refresh token is revoked and profile {profile} is deleted");
        }
        LogoutOutcome::ForgottenWithoutRevocation(reason) => {
            let why = match reason {
                NotRevokedReason::NotAsked => "as asked (--no-revoke)",
                NotRevokedReason::NoRevocationEndpoint => "because the server publishes no revocation endpoint",
                NotRevokedReason::NoRefreshToken => "because the profile held no refresh token",
            };
            eprintln!("profile {profile} is deleted; the refresh token was not revoked at the server {why}");
        }
        LogoutOutcome::NotLoggedIn => {
            eprintln!("profile {profile}: not logged in, nothing to do");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_valid() {
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }

    /// Parsing only, through the binary's real command line (main.rs): what must be accepted
    /// and what must be refused before anything runs.
    #[test]
    fn consumer_commands_parse_as_issue_5_spells_them() {
        use clap::Parser;
        let parse = |line: &str| crate::Cli::try_parse_from(line.split_whitespace());
        for line in [
            "tessera login --issuer http://x --client-id c --client-secret s --username u --password-stdin",
            "tessera login --issuer http://x --client-id c --username u --password p --scope a --profile w",
            "tessera login --issuer http://x --client-id c --client-secret s --client-auth post --username u --password p",
            "tessera login --browser --issuer http://x --client-id c",
            "tessera login --browser --issuer http://x --client-id c --client-secret s --scope a --profile w",
            "tessera login --browser --issuer http://x --client-id c --authorization-endpoint http://x/authorize",
            "tessera token",
            "tessera token --profile work",
            "tessera token refresh",
            "tessera token refresh --profile work",
            "tessera api /api/1.0/users/me",
            "tessera api -X POST /x -d a=1 -H X-A:1 -H X-B:2 --profile work",
            "tessera api https://other.example/x --allow-other-host",
            "tessera logout",
            "tessera logout --profile work --no-revoke",
        ] {
            assert!(parse(line).is_ok(), "{line}: {:?}", parse(line).err().map(|error| error.to_string()));
        }
        for line in [
            // A password source is required, and only one.
            "tessera login --issuer http://x --client-id c --username u",
            "tessera login --issuer http://x --client-id c --username u --password p --password-stdin",
            "tessera login --issuer http://x --client-id c --password-stdin",
            // --browser takes no username or password.
            "tessera login --browser --issuer http://x --client-id c --username u",
            "tessera login --browser --issuer http://x --client-id c --password-stdin",
            "tessera login --browser --issuer http://x --client-id c --password p",
            // --authorization-endpoint is for --browser only.
            "tessera login --issuer http://x --client-id c --username u --password p --authorization-endpoint http://a",
            // --client-auth means nothing without a secret.
            "tessera login --issuer http://x --client-id c --username u --password p --client-auth post",
            "tessera token --profile",
            "tessera api",
        ] {
            assert!(parse(line).is_err(), "{line} should not parse");
        }
    }

    #[test]
    fn targets_resolve_against_the_issuer() {
        let base = Some("http://127.0.0.1:8080");
        let cases = [
            ("/api/1.0/users/me", "http://127.0.0.1:8080/api/1.0/users/me"),
            ("api/1.0/users/me", "http://127.0.0.1:8080/api/1.0/users/me"),
            ("https://other.example/x", "https://other.example/x"),
            ("HTTP://other.example/x", "HTTP://other.example/x"),
        ];
        for (target, expected) in cases {
            assert_eq!(resolve_target(target, base).ok().as_deref(), Some(expected));
        }
        assert!(resolve_target("/x", None).is_err());
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

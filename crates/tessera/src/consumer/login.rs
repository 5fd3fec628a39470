//! `tessera login`: the password grant, or the authorization-code flow with PKCE in a browser,
//! and the first tokens stored in a profile (never the password); with `--dpop`, bound to the
//! profile's DPoP key (RFC 9449).

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tessera_client::{
    ApiClient, ClientAuthMethod, ClientError, ClientSecret, ClientSettings, ResourceOwnerPassword, TokenSource,
    TokenType, with_openid_scopes,
};

use super::{ProfileArg, token_source, url_under};

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
    /// Log in on another device (RFC 8628 device authorization grant): print a URL and a code
    /// to enter there, then wait for the approval. The client needs the grant
    /// urn:ietf:params:oauth:grant-type:device_code
    #[arg(long, conflicts_with_all = ["username", "password_stdin", "password", "browser"])]
    device: bool,
    /// The resource owner's username
    #[arg(long, value_name = "USERNAME", required_unless_present_any = ["browser", "device"])]
    username: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long, required_unless_present_any = ["password", "browser", "device"])]
    password_stdin: bool,
    /// The password (other users can see it in the process list; prefer --password-stdin)
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,
    /// Bind the tokens to a key of this profile (DPoP, RFC 9449): a P-256 key is made on first
    /// use and kept beside the tokens (NAME.dpop.pem, 0600); every token request, refresh and
    /// `tessera api` call then carries a proof signed by it, so a copied token is useless
    /// without the key. Works with the password, --browser and --device logins
    #[arg(long)]
    dpop: bool,
    /// Space-separated scope to request, e.g. "read write" [default: the client's whole scope,
    /// which has openid when it is registered with it]. At an OpenID provider (`openid` in
    /// scopes_supported), openid profile email are added to a given scope, and dropped again if
    /// the client may not ask for them
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    #[command(flatten)]
    pub(super) profile: ProfileArg,
}

pub(super) async fn run(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let password = match (&args.username, args.password, args.password_stdin) {
        (None, _, _) => None,
        (Some(_), Some(password), _) => Some(password),
        (Some(_), None, _) => Some(read_password_from_stdin()?),
    };
    let (source, store) = token_source(&args.profile.profile)?;
    let issuer = args.issuer.trim_end_matches('/').to_owned();
    let client_secret = args.client_secret.map(ClientSecret::new);
    let (mut settings, metadata) = match args.token_endpoint {
        Some(token_endpoint) => {
            let mut settings = ClientSettings::new(token_endpoint, args.client_id, client_secret);
            settings.issuer = Some(issuer.clone());
            settings.authorization_endpoint = url_under(&issuer, "oauth/authorize").ok().map(String::from);
            (settings, None)
        }
        None => ClientSettings::discover_with_metadata(source.http_client(), &issuer, args.client_id, client_secret)
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
    settings.dpop = args.dpop;
    // An OpenID provider is asked for an id token too (`tessera whoami` shows it); a client not
    // registered for those scopes falls back to the scope the user asked for. Without --scope
    // nothing is added: the server grants the client's whole registered scope (openid with
    // it, when registered), where asking for openid alone would drop the API's scopes.
    let requested_scope = args.scope;
    let openid_scope = match (&requested_scope, &metadata) {
        (Some(requested), Some(metadata)) => with_openid_scopes(Some(requested), metadata),
        _ => None,
    };
    settings.scope = openid_scope.clone().or(requested_scope.clone());
    let (response, username) = match (args.username, password) {
        (Some(username), Some(password)) => {
            let password = ResourceOwnerPassword::new(password);
            let response = match source.login_with_password(settings.clone(), &username, &password).await {
                Err(error) if openid_scope.is_some() && refused_scope(&error) => {
                    settings.scope = requested_scope;
                    source.login_with_password(settings, &username, &password).await
                }
                other => other,
            };
            (response.context("login failed")?, Some(username))
        }
        _ if args.device => {
            let response = match super::device::login(&source, settings.clone(), &issuer).await {
                // Refused at once by the device authorization endpoint: nothing was shown yet.
                Err(error)
                    if openid_scope.is_some() && error.downcast_ref::<ClientError>().is_some_and(refused_scope) =>
                {
                    settings.scope = requested_scope;
                    super::device::login(&source, settings, &issuer).await?
                }
                other => other?,
            };
            (response, logged_in_username(&source).await)
        }
        _ => {
            let mut login = source.browser_login(settings).await.context("cannot start the browser login")?;
            if openid_scope.is_some() {
                login = login.with_scope_fallback(requested_scope);
            }
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
    if args.dpop {
        let key = source.dpop_key().await?;
        match TokenType::from_response(&response.token_type) {
            TokenType::Dpop => eprintln!(
                "the tokens are bound to the DPoP key in {} (thumbprint {})",
                store.dpop_key_path().display(),
                key.thumbprint()
            ),
            // RFC 9449 §5: a server that ignores the proof issues bearer tokens.
            TokenType::Bearer => eprintln!("warning: the server ignored the DPoP proof and issued bearer tokens"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn refused_scope(error: &ClientError) -> bool {
    error.oauth_error().is_some_and(|error| error.code() == "invalid_scope")
}

/// Who logged in through the browser, asked of the API (`GET /api/1.0/users/me`), since only the
/// browser saw the username; `None` when the server does not say.
async fn logged_in_username(source: &TokenSource) -> Option<String> {
    let base = source.profile().await.ok()?.client.api_base()?;
    let api = ApiClient::new(source.clone());
    let response = api.send(api.get(url_under(&base, "api/1.0/users/me").ok()?)).await.ok()?;
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

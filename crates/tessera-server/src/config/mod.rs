//! Configuration: raw values first (flags, environment, TOML file, all optional: [`RawConfig`]),
//! parsed values second ([`Config`]). Precedence is flag > environment > file > default
//! (DESIGN.md §2): clap merges flags and environment, [`RawConfig::or`] adds the file's values,
//! and [`RawConfig::resolve`] parses every value once, into the type the server uses.

mod database_url;
mod raw;

pub use database_url::{DatabaseUrl, DatabaseUrlError, redact_url, sqlite_path};
pub use raw::RawConfig;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;
use tessera_core::{MasterKey, RefreshPolicy, TrustedProxies, parse_duration};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tessera.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The I/O error is in the message and deliberately not a `source()`, which the binary's
    // `{:#}` would print a second time.
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Signing algorithm for access tokens (DESIGN.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    Es256,
    EdDsa,
}

impl SigningAlgorithm {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ES256" | "es256" => Some(SigningAlgorithm::Es256),
            "EdDSA" | "eddsa" | "EDDSA" => Some(SigningAlgorithm::EdDsa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }
}

/// Where the access log goes (`TESSERA_ACCESS_LOG`): nowhere by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stdout,
    Stderr,
    /// Appended to.
    File(std::path::PathBuf),
}

impl AccessLogTarget {
    /// `off` (or empty), `stdout`, `stderr`, or a file path.
    pub fn parse(text: &str) -> AccessLogTarget {
        match text.trim() {
            "" | "off" => AccessLogTarget::Off,
            "stdout" | "-" => AccessLogTarget::Stdout,
            "stderr" => AccessLogTarget::Stderr,
            path => AccessLogTarget::File(path.into()),
        }
    }
}

/// The configuration, every value parsed. `Debug` is safe to log: the database URL and the
/// master key redact themselves.
#[derive(Debug, Clone)]
pub struct Config {
    /// As given: a port of 0 is resolved when the listener binds.
    pub listen: SocketAddr,
    pub database_url: DatabaseUrl,
    /// `None` means `http://<bound address>`.
    pub issuer: Option<String>,
    /// `None`: the key file beside the SQLite database (see [`crate::master`]).
    pub master_key: Option<MasterKey>,
    pub access_token_ttl: Duration,
    pub refresh: RefreshPolicy,
    pub signing_alg: SigningAlgorithm,
    pub log: String,
    pub access_log: AccessLogTarget,
    /// How long a bearer check may trust a cached "not revoked" answer (DESIGN.md §4).
    pub revocation_cache_ttl: Duration,
    /// How long an instance may use a cached client row; changes through the instance drop it at once.
    pub client_cache_ttl: Duration,
    /// How often the janitor runs, and how many rows of each kind one pass deletes at most.
    pub janitor_interval: Duration,
    pub janitor_batch: i64,
    /// How long the audit log keeps an event; the janitor deletes older ones.
    pub audit_retention: Duration,
    /// How often an instance re-reads signing keys, so a `tessera keys rotate` reaches it.
    pub key_refresh_interval: Duration,
    pub max_connections: NonZeroU32,
    /// A connection that has not sent a request's headers within this time is closed.
    pub header_read_timeout: Duration,
    /// A request not answered within this time gets `503`.
    pub request_timeout: Duration,
    /// Requests served at once; past it, requests are refused with `503` and `Retry-After`.
    pub max_concurrent_requests: NonZeroU32,
    /// After a shutdown signal, how long requests in flight may still take.
    pub shutdown_timeout: Duration,
    /// Peers whose forwarding headers name the client (the sign-in throttle counts by client).
    pub trusted_proxies: TrustedProxies,
    /// The sign-in throttle's limits.
    pub login_limits: LoginLimits,
    /// Password checks that may wait for a CPU before checks are refused with `503`.
    pub max_queued_password_checks: u32,
    /// Whether the token endpoint asks DPoP proofs for a server nonce (RFC 9449 §8).
    pub dpop_nonce: DpopNonce,
    /// How far a DPoP proof's `iat` may be from now, either way; its `jti` is remembered this long.
    pub dpop_proof_window: Duration,
}

/// `TESSERA_DPOP_NONCE`: whether DPoP proofs at the token endpoint must carry a server nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopNonce {
    Off,
    On,
}

impl DpopNonce {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(DpopNonce::Off),
            "on" => Ok(DpopNonce::On),
            other => Err(format!("{other:?} is neither off nor on")),
        }
    }
}

/// How many password checks a username gets in a window: per client address, and from all
/// addresses together (a higher ceiling, so that one attacker slows only himself while a
/// username attacked from everywhere is still protected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_address: i64,
    pub per_username: i64,
    pub window: Duration,
}

fn at_least_one(name: &'static str, value: Option<u32>, default: u32) -> Result<i64, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(ConfigError::Invalid { name, message: "must be at least 1".into() }),
        value => Ok(i64::from(value)),
    }
}

/// Parses one setting, or its default when it is not given; errors name the variable.
fn parse<T>(
    name: &'static str,
    value: Option<String>,
    default: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let text = value.as_deref().unwrap_or(default);
    parse(text).map_err(|message| ConfigError::Invalid { name, message })
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err("must be greater than zero".into()),
        duration => Ok(duration),
    }
}

impl RawConfig {
    pub fn resolve(self) -> Result<Config, ConfigError> {
        Ok(Config {
            listen: parse("TESSERA_LISTEN", self.listen, DEFAULT_LISTEN, |text| {
                text.parse().map_err(|_| format!("{text:?} is not an address like 127.0.0.1:8080"))
            })?,
            database_url: parse("TESSERA_DATABASE_URL", self.database_url, DEFAULT_DATABASE_URL, |text| {
                DatabaseUrl::parse(text).map_err(|error| error.to_string())
            })?,
            issuer: match self.issuer {
                Some(issuer) if !(issuer.starts_with("http://") || issuer.starts_with("https://")) => {
                    let message = format!("{issuer:?} must be an http:// or https:// URL");
                    return Err(ConfigError::Invalid { name: "TESSERA_ISSUER", message });
                }
                issuer => issuer.map(|issuer| issuer.trim_end_matches('/').to_owned()),
            },
            master_key: self
                .master_key
                .map(|text| MasterKey::parse(&text))
                .transpose()
                .map_err(|error| ConfigError::Invalid { name: "TESSERA_MASTER_KEY", message: error.to_string() })?,
            access_token_ttl: parse("TESSERA_ACCESS_TOKEN_TTL", self.access_token_ttl, "1h", |text| {
                match parse_duration(text)? {
                    ttl if ttl.as_secs() == 0 => Err("must be at least 1s".into()),
                    ttl => Ok(ttl),
                }
            })?,
            refresh: RefreshPolicy {
                idle_ttl: parse("TESSERA_REFRESH_IDLE_TTL", self.refresh_idle_ttl, "30d", positive_duration)?,
                max_ttl: parse("TESSERA_REFRESH_MAX_TTL", self.refresh_max_ttl, "90d", positive_duration)?,
                grace: parse("TESSERA_REFRESH_GRACE", self.refresh_grace, "30s", duration)?,
            },
            signing_alg: parse("TESSERA_SIGNING_ALG", self.signing_alg, "ES256", |text| {
                SigningAlgorithm::parse(text).ok_or_else(|| format!("{text:?} is not supported (use ES256 or EdDSA)"))
            })?,
            log: self.log.unwrap_or_else(|| "info".to_owned()),
            access_log: AccessLogTarget::parse(self.access_log.as_deref().unwrap_or("off")),
            revocation_cache_ttl: parse("TESSERA_REVOCATION_CACHE_TTL", self.revocation_cache_ttl, "5s", duration)?,
            client_cache_ttl: parse("TESSERA_CLIENT_CACHE_TTL", self.client_cache_ttl, "5s", duration)?,
            janitor_interval: parse("TESSERA_JANITOR_INTERVAL", self.janitor_interval, "60s", positive_duration)?,
            janitor_batch: 1000,
            audit_retention: parse("TESSERA_AUDIT_RETENTION", self.audit_retention, "90d", positive_duration)?,
            key_refresh_interval: Duration::from_secs(60),
            max_connections: NonZeroU32::new(self.database_max_connections.unwrap_or(10)).ok_or_else(|| {
                ConfigError::Invalid { name: "TESSERA_DATABASE_MAX_CONNECTIONS", message: "must be at least 1".into() }
            })?,
            header_read_timeout: parse(
                "TESSERA_HEADER_READ_TIMEOUT",
                self.header_read_timeout,
                "10s",
                positive_duration,
            )?,
            request_timeout: parse("TESSERA_REQUEST_TIMEOUT", self.request_timeout, "30s", positive_duration)?,
            max_concurrent_requests: NonZeroU32::new(self.max_concurrent_requests.unwrap_or(512)).ok_or_else(|| {
                ConfigError::Invalid { name: "TESSERA_MAX_CONCURRENT_REQUESTS", message: "must be at least 1".into() }
            })?,
            shutdown_timeout: parse("TESSERA_SHUTDOWN_TIMEOUT", self.shutdown_timeout, "10s", duration)?,
            trusted_proxies: parse("TESSERA_TRUSTED_PROXIES", self.trusted_proxies, "", TrustedProxies::parse)?,
            login_limits: LoginLimits {
                per_address: at_least_one(
                    "TESSERA_MAX_LOGIN_ATTEMPTS_PER_ADDRESS",
                    self.max_login_attempts_per_address,
                    10,
                )?,
                per_username: at_least_one(
                    "TESSERA_MAX_LOGIN_ATTEMPTS_PER_USERNAME",
                    self.max_login_attempts_per_username,
                    100,
                )?,
                window: parse("TESSERA_LOGIN_WINDOW", self.login_window, "15m", |text| {
                    match positive_duration(text)? {
                        // The janitor forgets counters a day after their window began.
                        window if window > Duration::from_secs(86_400) => Err("must be at most 1d".into()),
                        window => Ok(window),
                    }
                })?,
            },
            max_queued_password_checks: self.max_queued_password_checks.unwrap_or(64),
            dpop_nonce: parse("TESSERA_DPOP_NONCE", self.dpop_nonce, "off", DpopNonce::parse)?,
            dpop_proof_window: parse("TESSERA_DPOP_PROOF_WINDOW", self.dpop_proof_window, "60s", positive_duration)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = RawConfig::default().resolve().unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.database_url.expose_secret(), "sqlite://tessera.db");
        assert_eq!(config.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(config.refresh, RefreshPolicy::default());
        assert_eq!(config.max_connections.get(), 10);
        assert!(config.master_key.is_none());
        assert_eq!(config.access_log, AccessLogTarget::Off);
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.max_concurrent_requests.get(), 512);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(10));
        assert!(config.trusted_proxies.is_empty());
        let window = Duration::from_secs(15 * 60);
        assert_eq!(config.login_limits, LoginLimits { per_address: 10, per_username: 100, window });
        assert_eq!(config.max_queued_password_checks, 64);
    }

    #[test]
    fn access_log_targets() {
        for (text, target) in [
            ("off", AccessLogTarget::Off),
            ("stdout", AccessLogTarget::Stdout),
            ("stderr", AccessLogTarget::Stderr),
            ("/var/log/tessera/access.log", AccessLogTarget::File("/var/log/tessera/access.log".into())),
        ] {
            let config = RawConfig { access_log: Some(text.into()), ..RawConfig::default() }.resolve().unwrap();
            assert_eq!(config.access_log, target, "{text}");
        }
    }

    #[test]
    fn precedence_and_errors() {
        let flags = RawConfig { refresh_grace: Some("0s".into()), ..RawConfig::default() };
        let file: RawConfig = toml::from_str("refresh_grace = \"10s\"\naccess_token_ttl = \"2m\"").unwrap();
        let config = flags.or(file).resolve().unwrap();
        assert_eq!(config.refresh.grace, Duration::ZERO);
        assert_eq!(config.access_token_ttl, Duration::from_secs(120));
        let bad = RawConfig { access_token_ttl: Some("30".into()), ..RawConfig::default() }.resolve();
        assert!(bad.err().unwrap().to_string().contains("TESSERA_ACCESS_TOKEN_TTL"));
        assert!(toml::from_str::<RawConfig>("no_such_key = 1").is_err());
        let missing = RawConfig::from_toml_file(std::path::Path::new("no/such/tessera.toml")).unwrap_err();
        assert!(std::error::Error::source(&missing).is_none(), "the cause is said once: {missing}");
        let debug = format!("{:?}", RawConfig { master_key: Some("x".repeat(40)), ..RawConfig::default() });
        assert!(!debug.contains("xxxx"));
    }

    /// Each value is parsed once, into the type the server uses, and secrets stay out of `Debug`.
    #[test]
    fn values_are_parsed_and_secrets_redacted() {
        let raw = RawConfig {
            listen: Some("0.0.0.0:0".into()),
            database_url: Some("postgres://tessera:s3cret@db/tessera".into()),
            master_key: Some("m".repeat(40)),
            signing_alg: Some("eddsa".into()),
            issuer: Some("https://auth.example/".into()),
            database_max_connections: Some(3),
            ..RawConfig::default()
        };
        let debug = format!("{raw:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("mmmm"), "{debug}");
        assert!(debug.contains("master_key") && !debug.contains("refresh_grace"), "names what is given: {debug}");
        let config = raw.resolve().unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.database_url.backend(), crate::store::Backend::Postgres);
        assert_eq!(config.signing_alg, SigningAlgorithm::EdDsa);
        assert_eq!(config.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(config.max_connections.get(), 3);
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("mmmm"), "{debug}");
        assert!(debug.contains("postgres://tessera:[redacted]@db/tessera"), "{debug}");
    }

    /// One row per setting that can be invalid: the error names the variable.
    #[test]
    fn invalid_values_name_their_setting() {
        let rows: [(RawConfig, &str); 16] = [
            (RawConfig { listen: Some("localhost".into()), ..RawConfig::default() }, "TESSERA_LISTEN"),
            (RawConfig { database_url: Some("mysql://x/t".into()), ..RawConfig::default() }, "TESSERA_DATABASE_URL"),
            (RawConfig { issuer: Some("ftp://x".into()), ..RawConfig::default() }, "TESSERA_ISSUER"),
            (RawConfig { master_key: Some("short".into()), ..RawConfig::default() }, "TESSERA_MASTER_KEY"),
            (RawConfig { access_token_ttl: Some("0s".into()), ..RawConfig::default() }, "TESSERA_ACCESS_TOKEN_TTL"),
            (RawConfig { refresh_idle_ttl: Some("0s".into()), ..RawConfig::default() }, "TESSERA_REFRESH_IDLE_TTL"),
            (RawConfig { refresh_max_ttl: Some("0s".into()), ..RawConfig::default() }, "TESSERA_REFRESH_MAX_TTL"),
            (RawConfig { signing_alg: Some("RS256".into()), ..RawConfig::default() }, "TESSERA_SIGNING_ALG"),
            (
                RawConfig { database_max_connections: Some(0), ..RawConfig::default() },
                "TESSERA_DATABASE_MAX_CONNECTIONS",
            ),
            (
                RawConfig { header_read_timeout: Some("0s".into()), ..RawConfig::default() },
                "TESSERA_HEADER_READ_TIMEOUT",
            ),
            (RawConfig { request_timeout: Some("0s".into()), ..RawConfig::default() }, "TESSERA_REQUEST_TIMEOUT"),
            (RawConfig { max_concurrent_requests: Some(0), ..RawConfig::default() }, "TESSERA_MAX_CONCURRENT_REQUESTS"),
            (
                RawConfig { trusted_proxies: Some("localhost".into()), ..RawConfig::default() },
                "TESSERA_TRUSTED_PROXIES",
            ),
            (
                RawConfig { max_login_attempts_per_address: Some(0), ..RawConfig::default() },
                "TESSERA_MAX_LOGIN_ATTEMPTS_PER_ADDRESS",
            ),
            (
                RawConfig { max_login_attempts_per_username: Some(0), ..RawConfig::default() },
                "TESSERA_MAX_LOGIN_ATTEMPTS_PER_USERNAME",
            ),
            (RawConfig { login_window: Some("2d".into()), ..RawConfig::default() }, "TESSERA_LOGIN_WINDOW"),
        ];
        for (raw, name) in rows {
            let error = raw.resolve().err().map(|error| error.to_string()).unwrap_or_default();
            assert!(error.starts_with(&format!("{name}: ")), "{name}: {error}");
        }
    }
}

//! Configuration: raw values first (flags, environment, TOML file, all optional), validated
//! values second. Precedence is flag > environment > file > default (DESIGN.md §2); the
//! binary merges flags and environment (clap does both), then calls [`RawConfig::or`] with
//! the file's values and [`RawConfig::resolve`].

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tessera_core::{RefreshPolicy, parse_duration};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tessera.db";

/// Every setting, unvalidated and optional. Field names are the TOML keys.
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub issuer: Option<String>,
    pub master_key: Option<String>,
    pub access_token_ttl: Option<String>,
    pub refresh_idle_ttl: Option<String>,
    pub refresh_max_ttl: Option<String>,
    pub refresh_grace: Option<String>,
    pub signing_alg: Option<String>,
    pub log: Option<String>,
    /// How long a bearer check may trust a cached "not revoked" answer [default: 5s].
    pub revocation_cache_ttl: Option<String>,
    /// Database connections per instance [default: 10].
    pub database_max_connections: Option<u32>,
}

impl std::fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConfig")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_deref().map(crate::store::redact_url))
            .field("issuer", &self.issuer)
            .field("master_key", &self.master_key.as_ref().map(|_| "[redacted]"))
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_idle_ttl", &self.refresh_idle_ttl)
            .field("refresh_max_ttl", &self.refresh_max_ttl)
            .field("refresh_grace", &self.refresh_grace)
            .field("signing_alg", &self.signing_alg)
            .field("log", &self.log)
            .field("revocation_cache_ttl", &self.revocation_cache_ttl)
            .field("database_max_connections", &self.database_max_connections)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
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

/// Validated configuration.
#[derive(Clone)]
pub struct Config {
    /// As given: a port of 0 is resolved when the listener binds.
    pub listen: String,
    pub database_url: String,
    /// `None` means `http://<bound address>`.
    pub issuer: Option<String>,
    pub master_key: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh: RefreshPolicy,
    pub signing_alg: SigningAlgorithm,
    pub log: String,
    /// How long a bearer check may trust a cached "not revoked" answer (DESIGN.md §4).
    pub revocation_cache_ttl: Duration,
    /// How often the janitor runs, and how many rows of each kind one pass deletes at most.
    pub janitor_interval: Duration,
    pub janitor_batch: i64,
    /// How often an instance re-reads signing keys, so a `tessera keys rotate` reaches it.
    pub key_refresh_interval: Duration,
    pub max_connections: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &crate::store::redact_url(&self.database_url))
            .field("issuer", &self.issuer)
            .field("master_key", &self.master_key.as_ref().map(|_| "[redacted]"))
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh", &self.refresh)
            .field("signing_alg", &self.signing_alg)
            .finish_non_exhaustive()
    }
}

fn duration(name: &'static str, value: Option<String>, default: &str) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or_else(|| default.to_owned());
    parse_duration(&text).map_err(|message| ConfigError::Invalid { name, message })
}

impl RawConfig {
    pub fn from_toml_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.display().to_string(),
            message: error.message().to_owned(),
        })
    }

    /// Fills every unset value from `fallback`.
    pub fn or(self, fallback: RawConfig) -> RawConfig {
        RawConfig {
            listen: self.listen.or(fallback.listen),
            database_url: self.database_url.or(fallback.database_url),
            issuer: self.issuer.or(fallback.issuer),
            master_key: self.master_key.or(fallback.master_key),
            access_token_ttl: self.access_token_ttl.or(fallback.access_token_ttl),
            refresh_idle_ttl: self.refresh_idle_ttl.or(fallback.refresh_idle_ttl),
            refresh_max_ttl: self.refresh_max_ttl.or(fallback.refresh_max_ttl),
            refresh_grace: self.refresh_grace.or(fallback.refresh_grace),
            signing_alg: self.signing_alg.or(fallback.signing_alg),
            log: self.log.or(fallback.log),
            revocation_cache_ttl: self.revocation_cache_ttl.or(fallback.revocation_cache_ttl),
            database_max_connections: self.database_max_connections.or(fallback.database_max_connections),
        }
    }

    pub fn resolve(self) -> Result<Config, ConfigError> {
        let listen = self.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        listen.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
            name: "TESSERA_LISTEN",
            message: format!("{listen:?} is not an address like 127.0.0.1:8080"),
        })?;
        let database_url = self.database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        crate::store::Backend::of_url(&database_url)
            .map_err(|error| ConfigError::Invalid { name: "TESSERA_DATABASE_URL", message: error.to_string() })?;
        if let Some(issuer) = &self.issuer
            && !(issuer.starts_with("http://") || issuer.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "TESSERA_ISSUER",
                message: format!("{issuer:?} must be an http:// or https:// URL"),
            });
        }
        if let Some(master_key) = &self.master_key {
            tessera_core::MasterKey::parse(master_key)
                .map_err(|error| ConfigError::Invalid { name: "TESSERA_MASTER_KEY", message: error.to_string() })?;
        }
        let access_token_ttl = duration("TESSERA_ACCESS_TOKEN_TTL", self.access_token_ttl, "1h")?;
        if access_token_ttl.as_secs() == 0 {
            return Err(ConfigError::Invalid {
                name: "TESSERA_ACCESS_TOKEN_TTL",
                message: "must be at least 1s".into(),
            });
        }
        let refresh = RefreshPolicy {
            idle_ttl: duration("TESSERA_REFRESH_IDLE_TTL", self.refresh_idle_ttl, "30d")?,
            max_ttl: duration("TESSERA_REFRESH_MAX_TTL", self.refresh_max_ttl, "90d")?,
            grace: duration("TESSERA_REFRESH_GRACE", self.refresh_grace, "30s")?,
        };
        if refresh.idle_ttl.is_zero() || refresh.max_ttl.is_zero() {
            return Err(ConfigError::Invalid {
                name: "TESSERA_REFRESH_IDLE_TTL",
                message: "refresh-token lifetimes must be greater than zero".into(),
            });
        }
        let signing_alg = match self.signing_alg {
            None => SigningAlgorithm::Es256,
            Some(text) => SigningAlgorithm::parse(&text).ok_or_else(|| ConfigError::Invalid {
                name: "TESSERA_SIGNING_ALG",
                message: format!("{text:?} is not supported (use ES256 or EdDSA)"),
            })?,
        };
        Ok(Config {
            listen,
            database_url,
            issuer: self.issuer.map(|issuer| issuer.trim_end_matches('/').to_owned()),
            master_key: self.master_key,
            access_token_ttl,
            refresh,
            signing_alg,
            log: self.log.unwrap_or_else(|| "info".to_owned()),
            revocation_cache_ttl: duration("TESSERA_REVOCATION_CACHE_TTL", self.revocation_cache_ttl, "5s")?,
            janitor_interval: Duration::from_secs(60),
            janitor_batch: 1000,
            key_refresh_interval: Duration::from_secs(60),
            max_connections: match self.database_max_connections {
                None => 10,
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        name: "TESSERA_DATABASE_MAX_CONNECTIONS",
                        message: "must be at least 1".into(),
                    });
                }
                Some(n) => n,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = RawConfig::default().resolve().unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://tessera.db");
        assert_eq!(config.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(config.refresh, RefreshPolicy::default());
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
        let debug = format!("{:?}", RawConfig { master_key: Some("x".repeat(40)), ..RawConfig::default() });
        assert!(!debug.contains("xxxx"));
    }
}

//! Raw settings, as given: one struct that is at once the command line (clap, which also reads
//! the `TESSERA_*` environment variables) and the TOML file (serde). Each setting is written
//! once here; [`super::RawConfig::resolve`] turns the merged values into a [`super::Config`].

use super::ConfigError;
use std::path::Path;

/// Declares [`RawConfig`] and the code that must list every field: [`RawConfig::or`] and its
/// `Debug`. A new setting is one field here (its doc is the `--help` text, its name the TOML
/// key, its `#[arg]` the flag and variable) and one line in `resolve`.
macro_rules! raw_config {
    (
        $(#[$struct_meta:meta])*
        pub struct RawConfig {
            $( $(#[$field_meta:meta])* pub $field:ident: Option<$type:ty>, )*
        }
    ) => {
        $(#[$struct_meta])*
        pub struct RawConfig {
            $( $(#[$field_meta])* pub $field: Option<$type>, )*
        }

        impl RawConfig {
            /// Fills every unset value from `fallback`.
            pub fn or(self, fallback: RawConfig) -> RawConfig {
                RawConfig { $( $field: self.$field.or(fallback.$field), )* }
            }
        }

        /// Names the settings that are given, never their values: two of them are secrets. The
        /// resolved [`super::Config`] shows the values, its secret types redacting themselves.
        impl std::fmt::Debug for RawConfig {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut given: Vec<&str> = Vec::new();
                $( if self.$field.is_some() { given.push(stringify!($field)); } )*
                f.debug_struct("RawConfig").field("given", &given).finish()
            }
        }
    };
}

raw_config! {
    /// Every setting, unvalidated and optional: the names are fixed by DESIGN.md §2.
    #[derive(Default, Clone, clap::Args, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawConfig {
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port
        #[arg(long, env = "TESSERA_LISTEN", global = true, value_name = "ADDR")]
        pub listen: Option<String>,
        /// sqlite://PATH or postgres://… [default: sqlite://tessera.db]
        #[arg(long, env = "TESSERA_DATABASE_URL", global = true, value_name = "URL", hide_env_values = true)]
        pub database_url: Option<String>,
        /// Issuer URL in tokens and metadata [default: http://<listen address>]
        #[arg(long, env = "TESSERA_ISSUER", global = true, value_name = "URL")]
        pub issuer: Option<String>,
        /// Master key (at least 32 characters); default: a key file beside the SQLite database
        #[arg(long, env = "TESSERA_MASTER_KEY", global = true, value_name = "KEY", hide_env_values = true)]
        pub master_key: Option<String>,
        /// Access-token lifetime [default: 1h]
        #[arg(long, env = "TESSERA_ACCESS_TOKEN_TTL", global = true, value_name = "DURATION")]
        pub access_token_ttl: Option<String>,
        /// A refresh token unused this long expires [default: 30d]
        #[arg(long, env = "TESSERA_REFRESH_IDLE_TTL", global = true, value_name = "DURATION")]
        pub refresh_idle_ttl: Option<String>,
        /// A refresh-token family expires this long after it began [default: 90d]
        #[arg(long, env = "TESSERA_REFRESH_MAX_TTL", global = true, value_name = "DURATION")]
        pub refresh_max_ttl: Option<String>,
        /// Idempotent retry window for refresh [default: 30s]; 0s turns it off
        #[arg(long, env = "TESSERA_REFRESH_GRACE", global = true, value_name = "DURATION")]
        pub refresh_grace: Option<String>,
        /// Access-token signing algorithm: ES256 or EdDSA [default: ES256]
        #[arg(long, env = "TESSERA_SIGNING_ALG", global = true, value_name = "ALG")]
        pub signing_alg: Option<String>,
        /// Log filter, RUST_LOG syntax [default: info]
        #[arg(long, env = "TESSERA_LOG", global = true, value_name = "FILTER")]
        pub log: Option<String>,
        /// Access log, one line per request: off, stdout, stderr or a file path [default: off]
        #[arg(long, env = "TESSERA_ACCESS_LOG", global = true, value_name = "TARGET")]
        pub access_log: Option<String>,
        /// How stale a cached "family not revoked" answer may be [default: 5s]
        #[arg(long, env = "TESSERA_REVOCATION_CACHE_TTL", global = true, value_name = "DURATION")]
        pub revocation_cache_ttl: Option<String>,
        /// How stale a cached client (its secret, grants, redirect URIs) may be [default: 5s]; 0s turns the cache off
        #[arg(long, env = "TESSERA_CLIENT_CACHE_TTL", global = true, value_name = "DURATION")]
        pub client_cache_ttl: Option<String>,
        /// Database connections per instance [default: 10]
        #[arg(long, env = "TESSERA_DATABASE_MAX_CONNECTIONS", global = true, value_name = "N")]
        pub database_max_connections: Option<u32>,
        /// A connection that has not sent a request's headers within this time is closed [default: 10s]
        #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT", global = true, value_name = "DURATION")]
        pub header_read_timeout: Option<String>,
        /// A request not answered within this time (a slow body included) gets 503 [default: 30s]
        #[arg(long, env = "TESSERA_REQUEST_TIMEOUT", global = true, value_name = "DURATION")]
        pub request_timeout: Option<String>,
        /// Requests served at once; past it requests get 503 with Retry-After [default: 512]
        #[arg(long, env = "TESSERA_MAX_CONCURRENT_REQUESTS", global = true, value_name = "N")]
        pub max_concurrent_requests: Option<u32>,
        /// On shutdown, connections still open after this time are closed [default: 10s]
        #[arg(long, env = "TESSERA_SHUTDOWN_TIMEOUT", global = true, value_name = "DURATION")]
        pub shutdown_timeout: Option<String>,
        /// Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IPs and CIDR networks, comma-separated [default: none]
        #[arg(long, env = "TESSERA_TRUSTED_PROXIES", global = true, value_name = "LIST")]
        pub trusted_proxies: Option<String>,
        /// Password checks per username and client address within the login window; past it, 429 [default: 10]
        #[arg(long, env = "TESSERA_MAX_LOGIN_ATTEMPTS_PER_ADDRESS", global = true, value_name = "N")]
        pub max_login_attempts_per_address: Option<u32>,
        /// Password checks per username, from all addresses together, within the login window [default: 100]
        #[arg(long, env = "TESSERA_MAX_LOGIN_ATTEMPTS_PER_USERNAME", global = true, value_name = "N")]
        pub max_login_attempts_per_username: Option<u32>,
        /// The window the login attempts are counted in, at most 1d [default: 15m]
        #[arg(long, env = "TESSERA_LOGIN_WINDOW", global = true, value_name = "DURATION")]
        pub login_window: Option<String>,
        /// Password checks that may wait for a CPU; past it, 503 with Retry-After [default: 64]
        #[arg(long, env = "TESSERA_MAX_QUEUED_PASSWORD_CHECKS", global = true, value_name = "N")]
        pub max_queued_password_checks: Option<u32>,
        /// How often the janitor deletes expired rows [default: 60s]
        #[arg(long, env = "TESSERA_JANITOR_INTERVAL", global = true, value_name = "DURATION")]
        pub janitor_interval: Option<String>,
        /// How long the audit log keeps an event before the janitor deletes it [default: 90d]
        #[arg(long, env = "TESSERA_AUDIT_RETENTION", global = true, value_name = "DURATION")]
        pub audit_retention: Option<String>,
        /// DPoP server nonces on the token endpoint (RFC 9449 §8): off or on [default: off]
        #[arg(long, env = "TESSERA_DPOP_NONCE", global = true, value_name = "off|on")]
        pub dpop_nonce: Option<String>,
        /// How far a DPoP proof's iat may be from the server's time, either way [default: 60s]
        #[arg(long, env = "TESSERA_DPOP_PROOF_WINDOW", global = true, value_name = "DURATION")]
        pub dpop_proof_window: Option<String>,
    }
}

impl RawConfig {
    pub fn from_toml_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|reason| ConfigError::Read { path: path.display().to_string(), reason })?;
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.display().to_string(),
            message: error.message().to_owned(),
        })
    }

    /// These values, then the TOML file at `file` (if any) for what they leave unset.
    pub fn or_file(self, file: Option<&Path>) -> Result<RawConfig, ConfigError> {
        match file {
            Some(path) => Ok(self.or(RawConfig::from_toml_file(path)?)),
            None => Ok(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Args;

    /// DESIGN.md §2: each setting is one name, spelt three ways. A new field cannot get a flag
    /// or variable that does not match its TOML key.
    #[test]
    fn every_setting_has_the_flag_and_variable_of_its_toml_key() {
        let command = RawConfig::augment_args(clap::Command::new("tessera"));
        let mut names = Vec::new();
        for argument in command.get_arguments() {
            let key = argument.get_id().as_str();
            assert_eq!(argument.get_long(), Some(key.replace('_', "-").as_str()), "{key}");
            let variable = argument.get_env().and_then(|variable| variable.to_str());
            assert_eq!(variable, Some(format!("TESSERA_{}", key.to_uppercase()).as_str()), "{key}");
            let toml = format!(
                "{key} = {}",
                if key.starts_with("database_max") || key.starts_with("max_") { "1" } else { "\"x\"" }
            );
            assert!(toml::from_str::<RawConfig>(&toml).is_ok(), "{key} is a TOML key");
            names.push(key.to_owned());
        }
        assert!(names.iter().any(|name| name == "master_key"), "{names:?}");
    }
}

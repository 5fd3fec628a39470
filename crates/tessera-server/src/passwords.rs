//! Password hashing with Argon2id (the `argon2` crate's defaults: m=19 MiB, t=2, p=1).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;
use tessera_core::Password;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
}

pub fn hash_password(password: &Password) -> Result<String, PasswordError> {
    let salt_bytes = crate::random::random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|error| PasswordError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// A hash of nothing in particular, checked when the user does not exist, so that a login
/// for an unknown username costs the same time as one with a wrong password. Computed by
/// [`prepare_dummy_hash`], which `App::build` calls: a server that cannot compute it does not
/// start, rather than quietly answering unknown usernames faster.
static DUMMY_HASH: OnceLock<String> = OnceLock::new();

/// Computes the dummy hash once per process (later calls return the same one).
pub fn prepare_dummy_hash() -> Result<&'static str, PasswordError> {
    if let Some(hash) = DUMMY_HASH.get() {
        return Ok(hash);
    }
    let hash = dummy_hash(hash_password)?;
    Ok(DUMMY_HASH.get_or_init(|| hash))
}

/// The dummy hash, made with `hash`; an error stays an error, never an empty hash.
fn dummy_hash(hash: impl FnOnce(&Password) -> Result<String, PasswordError>) -> Result<String, PasswordError> {
    hash(&Password::new("tessera dummy password".into()))
}

/// Checks `password` against a stored PHC string, or against the dummy when there is none.
/// CPU-heavy: call it from `spawn_blocking`.
pub fn verify_password(password: &Password, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        // Already computed when the server started; a caller that skipped `App::build` pays
        // for it here, and one that cannot compute it is told so loudly.
        None => match prepare_dummy_hash() {
            Ok(dummy) => (dummy, false),
            Err(error) => {
                tracing::error!(%error, "no dummy password hash: unknown usernames answer faster than known ones");
                return false;
            }
        },
    };
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let matched = Argon2::default().verify_password(password.secret().as_bytes(), &parsed).is_ok();
    matched && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_dummy() {
        let password = Password::new("correct horse".into());
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&password, Some(&hash)));
        assert!(!verify_password(&Password::new("wrong".into()), Some(&hash)));
        assert!(!verify_password(&password, None));
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        let dummy = prepare_dummy_hash().unwrap();
        assert!(dummy.starts_with("$argon2id$"), "{dummy}");
        assert!(PasswordHash::new(dummy).is_ok());
        assert_eq!(prepare_dummy_hash().unwrap(), dummy, "computed once");
    }

    /// Regression: a failure to hash used to leave an empty dummy hash, which `verify_password`
    /// rejects at once, so unknown usernames answered measurably faster than known ones.
    #[test]
    fn a_dummy_hash_that_cannot_be_computed_is_an_error_not_an_empty_hash() {
        let failed = dummy_hash(|_| Err(PasswordError::Hash("forced".into())));
        assert!(matches!(failed, Err(PasswordError::Hash(ref message)) if message == "forced"), "{failed:?}");
        // `App::build` stops with this, before it binds a port.
        let stopped = crate::StartError::DummyPasswordHash(PasswordError::Hash("forced".into())).to_string();
        assert!(
            stopped.starts_with("cannot compute the dummy password hash") && stopped.ends_with("forced"),
            "{stopped}"
        );
    }
}

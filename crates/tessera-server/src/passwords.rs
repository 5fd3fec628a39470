//! Password hashing with Argon2id (the `argon2` crate's defaults: m=19 MiB, t=2, p=1).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;
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
/// for an unknown username costs the same time as one with a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&Password::new("tessera dummy password".into())).unwrap_or_default());

/// Checks `password` against a stored PHC string, or against a dummy when there is none.
/// CPU-heavy: call it from `spawn_blocking`.
pub fn verify_password(password: &Password, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (DUMMY_HASH.as_str(), false),
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
}

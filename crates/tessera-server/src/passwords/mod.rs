//! Password hashing with Argon2id (the `argon2` crate's defaults: m=19 MiB, t=2, p=1), and
//! checks that run in memory lent by [`PasswordMemory`] instead of a fresh buffer each time.

mod pool;

#[cfg(feature = "fault-injection")]
pub use pool::QueueHold;
pub use pool::{Admission, Lease, PasswordMemory, QueueFull};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;
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

/// Checks `password` against a stored PHC string, or against the dummy when there is none,
/// computing the hash in `memory` (a [`Lease`]'s blocks). CPU-heavy: call it from
/// `spawn_blocking`.
pub fn verify_password(password: &Password, stored: Option<&str>, memory: &mut [Block]) -> bool {
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
    let matched = matches_phc(password.secret().as_bytes(), phc, memory);
    matched && real
}

/// Whether `password` hashes, with the salt and parameters of the Argon2id PHC string `phc`,
/// to the hash it holds (compared in constant time). Anything else in `phc` (another
/// algorithm, no salt or hash, unknown parameters) fails closed. `memory` too small for the
/// parameters (a hash made with a larger `m` than the default) costs a one-off allocation.
fn matches_phc(password: &[u8], phc: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut computed = [0u8; 64];
    let Some(computed) = computed.get_mut(..expected.len()) else { return false };
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    let hashed = match memory.len() >= argon2.params().block_count() {
        true => argon2.hash_password_into_with_memory(password, salt, computed, memory),
        false => argon2.hash_password_into(password, salt, computed),
    };
    hashed.is_ok() && bool::from(computed.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Vec<Block> {
        vec![Block::default(); Params::DEFAULT.block_count()]
    }

    #[test]
    fn round_trip_and_dummy() {
        let password = Password::new("correct horse".into());
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let mut memory = memory();
        assert!(verify_password(&password, Some(&hash), &mut memory));
        assert!(!verify_password(&Password::new("wrong".into()), Some(&hash), &mut memory));
        assert!(!verify_password(&password, None, &mut memory));
        assert!(verify_password(&password, Some(&hash), &mut memory), "the reused memory holds no stale state");
    }

    /// A hash stored by the releases that verified with `PasswordVerifier` (made by the plain
    /// argon2 API, default parameters): the reused memory must give the same answer.
    const STORED: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$k9ohroejZy1PN5E1SbHNPug6vB8eQAahb5SOAp6iGF4";

    #[test]
    fn a_hash_stored_by_earlier_releases_still_verifies() {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let plain = Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert_eq!(plain, STORED);
        let mut memory = memory();
        assert!(matches_phc(b"correct horse", STORED, &mut memory));
        assert!(!matches_phc(b"correct horsf", STORED, &mut memory));
        assert!(!matches_phc(b"", STORED, &mut memory));
    }

    #[test]
    fn other_parameters_verify_in_the_pool_or_beside_it() {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        for (m, t, p, output) in [(4096, 3, 1, 32), (8192, 1, 2, 64), (65536, 1, 1, 16)] {
            let params = Params::new(m, t, p, Some(output)).unwrap();
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let hash = argon2.hash_password(b"pw", &salt).unwrap().to_string();
            // 65536 KiB does not fit the default buffer: a one-off allocation, same answer.
            assert!(matches_phc(b"pw", &hash, &mut memory()), "{hash}");
            assert!(!matches_phc(b"pW", &hash, &mut memory()), "{hash}");
        }
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x10, Params::new(1024, 1, 1, None).unwrap());
        let hash = old.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(matches_phc(b"pw", &hash, &mut memory()), "{hash}");
    }

    #[test]
    fn malformed_or_foreign_hashes_fail_closed() {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let mut foreign = Vec::new();
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let argon2 = Argon2::new(algorithm, Version::V0x13, Params::DEFAULT);
            foreign.push(argon2.hash_password(b"correct horse", &salt).unwrap().to_string());
        }
        let no_hash = STORED.rsplit_once('$').unwrap().0.to_owned();
        let truncated = &STORED[..STORED.len() - 4];
        let unknown_param = STORED.replace("p=1", "p=1,x=2");
        let bad_version = STORED.replace("v=19", "v=42");
        let malformed = [
            "",
            "correct horse",
            "$argon2id$",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$scrypt$ln=15,r=8,p=1$c29tZXNhbHQ$ASn3fPHoFBfLl5kVQ5PKcXyO0P6BfmlOpTUw6nTZbIs",
            no_hash.as_str(),
            truncated,
            unknown_param.as_str(),
            bad_version.as_str(),
        ];
        let mut memory = memory();
        for phc in foreign.iter().map(String::as_str).chain(malformed) {
            assert!(!matches_phc(b"correct horse", phc, &mut memory), "{phc}");
            let stored = Some(phc);
            assert!(!verify_password(&Password::new("correct horse".into()), stored, &mut memory), "{phc}");
        }
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

//! Randomness from the operating system (ring's `SystemRandom`).

use ring::rand::{SecureRandom, SystemRandom};

/// `N` bytes from the OS CSPRNG. The OS generator failing is not recoverable: there is no
/// safe token to hand out without it, so the error is returned for the caller to surface as 500.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(bytes)
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomError;

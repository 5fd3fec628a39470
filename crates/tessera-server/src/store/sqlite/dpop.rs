//! The SQLite store's DPoP table (migration 0011): the proofs seen lately, whose insert is the
//! replay check (RFC 9449 §11.1).

use super::SqliteStore;
use super::rows::execute;
use crate::store::StoreResult;
use rusqlite::params;
use tessera_core::{Timestamp, TokenHash};

impl SqliteStore {
    /// Remembers a proof (the hash of its key and `jti`) until `expires_at`; whether it is new.
    /// A row past its expiry that the janitor has not yet taken counts as absent.
    pub async fn remember_dpop_proof(
        &self,
        proof: &TokenHash,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let proof = proof.clone();
        self.write(move |connection| {
            let inserted = execute(
                connection,
                "INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (proof_hash) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE dpop_proofs.expires_at < ?3",
                params![proof.as_str(), expires_at.millis(), now.millis()],
            )?;
            Ok(inserted > 0)
        })
        .await
    }
}

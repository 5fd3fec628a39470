//! The PostgreSQL store's DPoP table (migration 0011): the proofs seen lately, whose insert is
//! the replay check (RFC 9449 §11.1), shared by every instance on the database.

use super::PostgresStore;
use crate::store::StoreResult;
use tessera_core::{Timestamp, TokenHash};

impl PostgresStore {
    /// Remembers a proof (the hash of its key and `jti`) until `expires_at`; whether it is new.
    /// A row past its expiry that the janitor has not yet taken counts as absent.
    pub async fn remember_dpop_proof(
        &self,
        proof: &TokenHash,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (proof_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at \
             WHERE dpop_proofs.expires_at < $3",
        )
        .bind(proof.as_str())
        .bind(expires_at.millis())
        .bind(now.millis())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

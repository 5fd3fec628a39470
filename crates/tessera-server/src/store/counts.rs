//! The numbers on the console's overview: how much the server holds now.

/// What the console's overview counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsoleCounts {
    pub clients: i64,
    pub users: i64,
    /// Refresh-token families neither revoked nor past their absolute expiry, with a token
    /// that may still be spent (unused and within its idle expiry).
    pub live_families: i64,
    /// Personal access tokens neither revoked nor expired.
    pub active_personal_access_tokens: i64,
}

/// The one query both backends run, with `now` as every placeholder (`?1` or `$1`).
pub(crate) fn counts_query(now: &str) -> String {
    format!(
        "SELECT (SELECT COUNT(*) FROM clients) AS clients, (SELECT COUNT(*) FROM users) AS users, \
         (SELECT COUNT(*) FROM refresh_families f WHERE f.revoked_at IS NULL AND f.expires_at > {now} \
            AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id \
                        AND t.used_at IS NULL AND t.idle_expires_at > {now})) AS live_families, \
         (SELECT COUNT(*) FROM personal_access_tokens p WHERE p.revoked_at IS NULL \
            AND (p.expires_at IS NULL OR p.expires_at > {now})) AS active_pats"
    )
}

//! What a signed-in user does to their own account (the account page, `/account`): the
//! applications that hold tokens for them and withdrawing one, their personal access tokens,
//! and changing their password. Each acts on the user it is given and nobody else.

use super::throttle::PasswordCheck;
use super::{AuthService, InternalError, ServiceError};
use crate::passwords::hash_password;
use crate::store::{PersonalAccessTokenRow, UserRow};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::{ClientId, Password, RevocationReason, Scope, Timestamp, TokenHash, UserId};

/// The fewest characters a password chosen on the account page may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// An application that holds tokens for a user or was approved by them: its live families and
/// its remembered consent, together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: ClientId,
    pub client_name: String,
    /// Everything it was granted: its families' scopes and the remembered consent's.
    pub scope: Scope,
    /// The earliest family or consent.
    pub first_used: Timestamp,
    /// The latest token issued to it (first or refreshed), or its first use.
    pub last_used: Timestamp,
    /// Its live refresh-token families.
    pub families: usize,
    /// Whether its consent is remembered (it skips the consent page).
    pub remembered: bool,
}

/// What withdrawing an application did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawn {
    pub families: usize,
    pub consent: bool,
}

/// The outcome of a password change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// Changed; with how many other sessions ended and families revoked (0 when not asked).
    Changed { sessions: u64, families: usize },
    /// The current password was wrong (counted by the sign-in throttle); nothing changed.
    WrongCurrent,
    /// Too many sign-in failures: not checked, nothing changed.
    Throttled { retry_after: Duration },
    /// Too many password checks waiting on this instance: nothing checked or changed.
    Busy,
}

fn union(scopes: impl IntoIterator<Item = Scope>) -> Scope {
    let text = scopes.into_iter().map(|scope| scope.to_string()).collect::<Vec<_>>().join(" ");
    // Every part is a parsed scope already, so the union parses.
    Scope::parse(&text).unwrap_or_default()
}

/// The application of `client_id` in `found` (added if new), widened by a family or consent
/// of `scope` begun `at`.
fn entry<'a>(
    found: &'a mut BTreeMap<String, Application>,
    client_id: &ClientId,
    name: &str,
    scope: &Scope,
    at: Timestamp,
) -> &'a mut Application {
    let application = found.entry(client_id.as_str().to_owned()).or_insert_with(|| Application {
        client_id: client_id.clone(),
        client_name: name.to_owned(),
        scope: Scope::empty(),
        first_used: at,
        last_used: at,
        families: 0,
        remembered: false,
    });
    application.scope = union([application.scope.clone(), scope.clone()]);
    application.first_used = application.first_used.min(at);
    application.last_used = application.last_used.max(at);
    application
}

impl AuthService {
    /// The applications that hold tokens for `user_id` or that they approved, by name.
    pub async fn applications(&self, user_id: &UserId) -> Result<Vec<Application>, ServiceError> {
        let mut found: BTreeMap<String, Application> = BTreeMap::new();
        for family in self.store.user_families(user_id, self.now()).await? {
            let application =
                entry(&mut found, &family.client_id, &family.client_name, &family.scope, family.created_at);
            application.families += 1;
            application.last_used = application.last_used.max(family.last_used_at.unwrap_or(family.created_at));
        }
        for consent in self.store.list_consents(user_id).await? {
            let application =
                entry(&mut found, &consent.client_id, &consent.client_name, &consent.scope, consent.granted_at);
            application.remembered = true;
        }
        let mut applications: Vec<Application> = found.into_values().collect();
        applications.sort_by(|a, b| (&a.client_name, &a.client_id).cmp(&(&b.client_name, &b.client_id)));
        Ok(applications)
    }

    /// Withdraws an application: every live family of this user with this client is revoked
    /// and the remembered consent forgotten, so that the next authorization asks again. `None`,
    /// changing nothing, if the user has neither with that client.
    pub async fn withdraw_application(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> Result<Option<Withdrawn>, ServiceError> {
        let families: Vec<_> = self
            .store
            .user_families(user_id, self.now())
            .await?
            .into_iter()
            .filter(|family| &family.client_id == client_id)
            .collect();
        let consent = self.store.find_consent(user_id, client_id).await?.is_some();
        if families.is_empty() && !consent {
            return Ok(None);
        }
        // The consented families go with the consent; the others (password grant, device
        // flow, …) are revoked here.
        let consent = self.revoke_consent(user_id, client_id).await?;
        self.revoke_families(families.iter().map(|family| &family.family_id), RevocationReason::ConsentRevoked).await?;
        Ok(Some(Withdrawn { families: families.len(), consent }))
    }

    async fn revoke_families(
        &self,
        family_ids: impl Iterator<Item = &tessera_core::FamilyId>,
        reason: RevocationReason,
    ) -> Result<usize, ServiceError> {
        let mut revoked = 0;
        for family_id in family_ids {
            if let Some(family) = self.store.get_family(family_id).await?
                && family.revoked_at.is_none()
            {
                self.revoke_family(&family, reason).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// A user's own personal access tokens, newest first.
    pub async fn own_personal_access_tokens(
        &self,
        user: &UserRow,
    ) -> Result<Vec<PersonalAccessTokenRow>, ServiceError> {
        let mut tokens = self.store.list_personal_access_tokens(Some(&user.username)).await?;
        tokens.retain(|token| token.user_id == user.user_id);
        tokens.reverse();
        Ok(tokens)
    }

    /// The most a user's personal access token may carry: every scope some application of
    /// this server may be granted (there are no scopes beyond the clients').
    pub async fn personal_access_token_ceiling(&self) -> Result<Scope, ServiceError> {
        Ok(union(self.store.list_clients().await?.into_iter().map(|client| client.scope)))
    }

    /// Revokes a personal access token of `user`'s own; false, changing nothing, if they have
    /// no live token with that id (another user's included).
    pub async fn revoke_own_personal_access_token(&self, user: &UserRow, pat_id: &str) -> Result<bool, ServiceError> {
        let now = self.now();
        let owned = self
            .own_personal_access_tokens(user)
            .await?
            .iter()
            .any(|token| token.pat_id == pat_id && token.revoked_at.is_none());
        Ok(owned && self.store.revoke_personal_access_token(pat_id, now).await?)
    }

    /// Changes `user`'s password once `current` checks out (the sign-in throttle counts a
    /// wrong one as a failed sign-in). With `end_others`, every other browser session of the
    /// user ends (not `session`, the one in use) and every live family is revoked.
    pub async fn change_password(
        &self,
        user: &UserRow,
        session: &str,
        current: Password,
        new: Password,
        end_others: bool,
        address: IpAddr,
    ) -> Result<PasswordChange, ServiceError> {
        match self.check_password(&user.username, current, address).await? {
            PasswordCheck::Correct(checked) if checked.user_id == user.user_id => {}
            PasswordCheck::Correct(_) | PasswordCheck::Wrong => return Ok(PasswordChange::WrongCurrent),
            PasswordCheck::Throttled { retry_after } => return Ok(PasswordChange::Throttled { retry_after }),
            PasswordCheck::Busy => return Ok(PasswordChange::Busy),
        }
        let hash = tokio::task::spawn_blocking(move || hash_password(&new))
            .await
            .map_err(|_| InternalError::PasswordTask)?
            .map_err(|_| InternalError::PasswordTask)?;
        self.store.set_user_password(&user.user_id, &hash).await?;
        if !end_others {
            return Ok(PasswordChange::Changed { sessions: 0, families: 0 });
        }
        let sessions = self.store.end_user_browser_sessions(&user.user_id, Some(&TokenHash::of(session))).await?;
        let families = self.store.user_families(&user.user_id, self.now()).await?;
        let families = self
            .revoke_families(families.iter().map(|family| &family.family_id), RevocationReason::PasswordChanged)
            .await?;
        Ok(PasswordChange::Changed { sessions, families })
    }
}

//! `tessera user …` and `tessera pat …`: users (with their OpenID Connect profile) and
//! personal access tokens.

use super::AdminError;
use crate::passwords::{PasswordError, hash_password};
use crate::random::random_bytes;
use crate::store::{PersonalAccessTokenRow, Store, UserRow};
use std::time::Duration;
use tessera_core::{Password, PersonalAccessToken, Scope, Timestamp, UserId};

pub async fn create_user(
    store: &Store,
    now: Timestamp,
    username: &str,
    email: Option<String>,
    is_admin: bool,
    password: Password,
) -> Result<UserRow, AdminError> {
    let profile = UserProfile { email, ..UserProfile::default() };
    create_user_with_profile(store, now, username, profile, is_admin, password).await
}

/// The OpenID Connect profile of a user (`tessera user create --name --email --email-verified`).
#[derive(Debug, Clone, Default)]
pub struct UserProfile {
    pub email: Option<String>,
    pub name: Option<String>,
    pub email_verified: bool,
}

pub async fn create_user_with_profile(
    store: &Store,
    now: Timestamp,
    username: &str,
    profile: UserProfile,
    is_admin: bool,
    password: Password,
) -> Result<UserRow, AdminError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 200 || username.chars().any(char::is_whitespace) {
        return Err(AdminError::InvalidUsername);
    }
    if password.secret().is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| PasswordError::Hash("hashing task failed".into()))??;
    let user = UserRow {
        user_id: UserId::new(uuid::Uuid::new_v4().to_string()),
        username: username.to_owned(),
        email: non_blank(profile.email),
        password_hash,
        is_admin,
        created_at: now,
        name: non_blank(profile.name),
        email_verified: profile.email_verified,
        updated_at: None,
        disabled: false,
    };
    store.insert_user(&user).await?;
    Ok(user)
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// `tessera pat create`: a `tsp_…` token for a user, shown once, stored hashed.
pub async fn create_personal_access_token(
    store: &Store,
    now: Timestamp,
    username: &str,
    name: &str,
    scope: &str,
    expires_in: Option<Duration>,
) -> Result<(PersonalAccessTokenRow, PersonalAccessToken), AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::EmptyName);
    }
    let user = store.get_user_by_username(username).await?.ok_or_else(|| AdminError::NoSuchUser(username.into()))?;
    let token = PersonalAccessToken::from_random(&random_bytes::<32>()?);
    let row = PersonalAccessTokenRow {
        pat_id: uuid::Uuid::new_v4().simple().to_string(),
        token_hash: token.hash(),
        user_id: user.user_id,
        username: user.username,
        name: name.trim().to_owned(),
        scope: Scope::parse(scope)?,
        created_at: now,
        expires_at: expires_in.map(|ttl| now.plus(ttl)),
        revoked_at: None,
    };
    store.insert_personal_access_token(&row).await?;
    Ok((row, token))
}

pub async fn revoke_personal_access_token(store: &Store, now: Timestamp, pat_id: &str) -> Result<(), AdminError> {
    if store.revoke_personal_access_token(pat_id, now).await? {
        Ok(())
    } else {
        Err(AdminError::NoSuchPersonalAccessToken(pat_id.into()))
    }
}

/// What `tessera user update` changes; `None` leaves a field as it is. An empty `email` or
/// `name` removes it.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub name: Option<String>,
    pub email_verified: Option<bool>,
    pub is_admin: Option<bool>,
    pub disabled: Option<bool>,
}

impl UserChange {
    /// The user as this change leaves them, `updated_at` stamped.
    pub(super) fn apply(self, user: &mut UserRow, now: Timestamp) {
        if let Some(email) = self.email {
            user.email = non_blank(Some(email));
        }
        if let Some(name) = self.name {
            user.name = non_blank(Some(name));
        }
        user.email_verified = self.email_verified.unwrap_or(user.email_verified);
        user.is_admin = self.is_admin.unwrap_or(user.is_admin);
        user.disabled = self.disabled.unwrap_or(user.disabled);
        user.updated_at = Some(now);
    }
}

/// `tessera user update`: changes the given fields and stamps `updated_at` (the OpenID
/// Connect claim). A disabled user can no longer sign in, their browser sessions end, and
/// their refresh-token families and personal access tokens are revoked (so are the access
/// tokens of those families, within the revocation cache's bound on running servers). The
/// last enabled admin cannot lose the flag or be disabled ([`AdminError::LastAdmin`]).
pub async fn update_user(
    store: &Store,
    now: Timestamp,
    username: &str,
    change: UserChange,
) -> Result<UserRow, AdminError> {
    let user = store.get_user_by_username(username).await?.ok_or_else(|| AdminError::NoSuchUser(username.into()))?;
    super::update_user_keeping_an_admin(store, now, &user.user_id, change).await
}

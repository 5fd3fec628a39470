//! Changes to users the console makes beyond `tessera user update`: setting a password (the
//! admin never sees the old one) and changing the admin flag or the disabled flag only while
//! at least one enabled admin remains.

use super::{AdminError, UserChange};
use crate::passwords::{PasswordError, hash_password};
use crate::store::console::GuardedUpdate;
use crate::store::{Store, UserRow};
use tessera_core::{Password, Timestamp, UserId};

/// Replaces a user's password. The policy is the command line's: not empty.
pub async fn set_user_password(
    store: &Store,
    now: Timestamp,
    user_id: &UserId,
    password: Password,
) -> Result<(), AdminError> {
    if password.secret().is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| PasswordError::Hash("hashing task failed".into()))??;
    if store.set_user_password_hash(user_id, &password_hash, now).await? {
        Ok(())
    } else {
        Err(AdminError::NoSuchUser(user_id.to_string()))
    }
}

/// `tessera user update`'s change, refused ([`AdminError::LastAdmin`], nothing changed) when
/// it would leave no enabled admin: checked and written in one store operation, so two admins
/// demoting each other at once cannot both succeed. Disabling revokes the user's refresh-token
/// families and personal access tokens, as `tessera user update --disable` does.
pub async fn update_user_keeping_an_admin(
    store: &Store,
    now: Timestamp,
    user_id: &UserId,
    change: UserChange,
) -> Result<UserRow, AdminError> {
    let no_such_user = || AdminError::NoSuchUser(user_id.to_string());
    let mut user = store.get_user(user_id).await?.ok_or_else(no_such_user)?;
    let disabling = change.disabled == Some(true);
    change.apply(&mut user, now);
    match store.update_user_keeping_an_admin(&user).await? {
        GuardedUpdate::Updated => {}
        GuardedUpdate::NoSuchUser => return Err(no_such_user()),
        GuardedUpdate::LastAdmin => return Err(AdminError::LastAdmin(user.username)),
    }
    if disabling {
        store.revoke_user_grants(&user.user_id, now).await?;
    }
    Ok(user)
}

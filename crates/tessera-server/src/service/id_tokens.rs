//! Id tokens (OpenID Connect Core §2, §3.1.3.3, §12.2): minted beside the access token of any
//! grant whose scope includes `openid` — the code grant (with the request's `nonce`), the
//! password grant, and refreshes of such a family (same `sub` and `auth_time`, no `nonce`).

use super::{AuthService, Issued, ServiceError};
use crate::store::{FamilySignInRow, UserRow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::oidc::claims::{at_hash, claims_for_scope, is_openid};
use tessera_core::{ClientId, Family, Scope, Timestamp};
use tessera_proto::IdTokenClaims;

/// How the user behind a grant signed in, as the id token tells it.
#[derive(Debug, Clone)]
pub(crate) struct Authentication {
    pub auth_time: Timestamp,
    pub nonce: Option<String>,
    pub sid: Option<String>,
}

impl AuthService {
    /// The public id of a browser session (the id token's `sid`): an HMAC of the cookie value,
    /// so it names the session without revealing anything that could be used as the cookie.
    pub fn session_id(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(&ring::hmac::sign(&self.csrf_key, format!("sid:{session}").as_bytes()).as_ref()[..16])
    }

    /// Adds the id token to `issued` when its scope includes `openid`.
    pub(crate) fn with_id_token(
        &self,
        mut issued: Issued,
        client_id: &ClientId,
        user: &UserRow,
        authentication: &Authentication,
        now: Timestamp,
    ) -> Result<Issued, ServiceError> {
        if is_openid(&issued.scope) {
            issued.id_token =
                Some(self.mint_id_token(client_id, user, &issued.scope, authentication, &issued.access_token, now)?);
        }
        Ok(issued)
    }

    /// Core §12.2: a refresh of a family that has `openid` gets a new id token for the same
    /// `sub` and `auth_time`, without `nonce`.
    pub(crate) async fn with_refreshed_id_token(&self, issued: Issued) -> Result<Issued, ServiceError> {
        let Some(family_id) = issued.family_id.as_ref().filter(|_| is_openid(&issued.scope)) else {
            return Ok(issued);
        };
        let Some(family) = self.store.get_family(family_id).await? else { return Ok(issued) };
        let Some(user) = self.store.get_user(&family.user_id).await? else { return Ok(issued) };
        let sign_in = self.store.find_family_sign_in(family_id).await?;
        let authentication = Authentication {
            auth_time: sign_in.as_ref().map_or(family.created_at, |sign_in| sign_in.auth_time),
            nonce: None,
            sid: sign_in.and_then(|sign_in| sign_in.sid),
        };
        let now = self.now();
        self.with_id_token(issued, &family.client_id, &user, &authentication, now)
    }

    /// Records how the family's user signed in, for its refreshes' id tokens and for consent
    /// withdrawal (`consented`: the family began at the consent page).
    pub(crate) async fn record_family_sign_in(
        &self,
        family: &Family,
        authentication: &Authentication,
        consented: bool,
    ) -> Result<(), ServiceError> {
        let row = FamilySignInRow {
            family_id: family.id.clone(),
            user_id: family.user_id.clone(),
            client_id: family.client_id.clone(),
            auth_time: authentication.auth_time,
            sid: authentication.sid.clone(),
            consented,
        };
        Ok(self.store.insert_family_sign_in(&row).await?)
    }

    fn mint_id_token(
        &self,
        client_id: &ClientId,
        user: &UserRow,
        scope: &Scope,
        authentication: &Authentication,
        access_token: &str,
        now: Timestamp,
    ) -> Result<String, ServiceError> {
        let profile = claims_for_scope(scope, &user.profile());
        let token = self.keys.sign_id_token(|algorithm| IdTokenClaims {
            iss: self.issuer.clone(),
            sub: user.user_id.to_string(),
            aud: client_id.to_string(),
            exp: now.plus(self.config.access_token_ttl).secs(),
            iat: now.secs(),
            auth_time: authentication.auth_time.secs(),
            nonce: authentication.nonce.clone(),
            at_hash: Some(at_hash(access_token, algorithm)),
            azp: client_id.to_string(),
            sid: authentication.sid.clone(),
            amr: vec!["pwd".to_owned()],
            profile,
        })?;
        Ok(token)
    }
}

//! What a client may do now with tokens issued earlier: its current registration bounds the
//! scope of every refresh, and introspection shows a client its own tokens only, unless it is
//! a resource server (`tessera client … --introspect`), which may see any access token.

use crate::lifecycle::{RefreshDecision, RefreshRejection};
use crate::scope::Scope;
use tessera_proto::ClientId;

/// Applies the client's current scope to a refresh decision. An admin who removes a scope from
/// a client (`tessera client update --scope`) means it for the families already issued too:
/// a rotation or replay carries only what is left of its access scope
/// ([`Scope::still_allowed`]), and is refused with `invalid_scope`, changing nothing, when
/// nothing is left. Refusals and reuse are passed through untouched: reuse still revokes.
pub fn within_client_scope<'a>(decision: RefreshDecision<'a>, client_scope: &Scope) -> RefreshDecision<'a> {
    let narrowed = |access_scope: &Scope| Scope::still_allowed(access_scope, client_scope);
    match decision {
        RefreshDecision::Rotate { family, successor_idle_expires_at, access_scope } => match narrowed(&access_scope) {
            Some(access_scope) => RefreshDecision::Rotate { family, successor_idle_expires_at, access_scope },
            None => RefreshDecision::Reject(RefreshRejection::ClientScopeNarrowed),
        },
        RefreshDecision::Replay { family, access_scope } => match narrowed(&access_scope) {
            Some(access_scope) => RefreshDecision::Replay { family, access_scope },
            None => RefreshDecision::Reject(RefreshRejection::ClientScopeNarrowed),
        },
        other @ (RefreshDecision::Reject(_) | RefreshDecision::RevokeFamily(_)) => other,
    }
}

/// Which tokens a client may introspect besides its own (RFC 7662 §2.1 leaves who is
/// authorized to the server; §4 warns against answering anyone about anything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IntrospectionAccess {
    /// Only tokens issued to the client itself: the default.
    #[default]
    OwnTokens,
    /// A resource server: any access token, personal access tokens included.
    AnyAccessToken,
}

/// A token presented for introspection, by whom it was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectedToken<'a> {
    /// A JWT access token; its `client_id` claim.
    Access { client_id: &'a ClientId },
    /// A refresh token of a family issued to `client_id`.
    Refresh { client_id: &'a ClientId },
    /// A personal access token (`tsp_…`): made by the operator for a user, issued to no client.
    PersonalAccess,
}

/// Whether `asker` may learn that `token` is active and what it grants. When not, the answer is
/// `{"active": false}`, the same as for an unknown token (RFC 7662 §2.2), and nothing is read
/// or changed on its account.
///
/// Refresh tokens are shown to their own client only, whatever its access: no resource server
/// needs them, and anyone else asking is testing whether a stolen token is still live, which
/// introspection must not answer without tripping reuse detection.
pub fn may_introspect(asker: &ClientId, access: IntrospectionAccess, token: IntrospectedToken<'_>) -> bool {
    let any_access_token = access == IntrospectionAccess::AnyAccessToken;
    match token {
        IntrospectedToken::Refresh { client_id } => client_id == asker,
        IntrospectedToken::Access { client_id } => client_id == asker || any_access_token,
        IntrospectedToken::PersonalAccess => any_access_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Family;
    use crate::time::Timestamp;
    use tessera_proto::{FamilyId, UserId};

    #[test]
    fn introspection_table() {
        let (app, other) = (ClientId::new("app"), ClientId::new("other"));
        let (own, any) = (IntrospectionAccess::OwnTokens, IntrospectionAccess::AnyAccessToken);
        let access = |client_id| IntrospectedToken::Access { client_id };
        let refresh = |client_id| IntrospectedToken::Refresh { client_id };
        // (case, asker's access, token, may see it) — the asker is always `app`.
        #[rustfmt::skip]
        let cases = [
            ("own access token", own, access(&app), true),
            ("own refresh token", own, refresh(&app), true),
            ("another client's access token", own, access(&other), false),
            ("another client's refresh token", own, refresh(&other), false),
            ("a personal access token", own, IntrospectedToken::PersonalAccess, false),
            ("resource server: own access token", any, access(&app), true),
            ("resource server: another client's access token", any, access(&other), true),
            ("resource server: a personal access token", any, IntrospectedToken::PersonalAccess, true),
            ("resource server: own refresh token", any, refresh(&app), true),
            ("resource server: another client's refresh token", any, refresh(&other), false),
        ];
        for (case, access, token, expected) in cases {
            assert_eq!(may_introspect(&app, access, token), expected, "{case}");
        }
        assert_eq!(IntrospectionAccess::default(), own, "a client sees only its own tokens unless told otherwise");
    }

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap_or_default()
    }

    #[test]
    fn refresh_within_client_scope_table() {
        let family = Family {
            id: FamilyId::new("fam"),
            client_id: ClientId::new("app"),
            user_id: UserId::new("u1"),
            scope: scope("read admin"),
            created_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(1_000_000),
            revoked_at: None,
            jkt: None,
        };
        let at = Timestamp::from_millis(500);
        let rotate = |access: &str| RefreshDecision::Rotate {
            family: &family,
            successor_idle_expires_at: at,
            access_scope: scope(access),
        };
        let replay = |access: &str| RefreshDecision::Replay { family: &family, access_scope: scope(access) };
        let narrowed = RefreshDecision::Reject(RefreshRejection::ClientScopeNarrowed);
        // (case, decision before, the client's scope now, decision after)
        #[rustfmt::skip]
        let cases = [
            ("unchanged client", rotate("read admin"), "read admin", rotate("read admin")),
            ("admin removed", rotate("read admin"), "read", rotate("read")),
            ("admin removed, in grace", replay("read admin"), "read", replay("read")),
            ("all removed", rotate("read admin"), "", narrowed.clone()),
            ("all removed, in grace", replay("read admin"), "", narrowed.clone()),
            ("asked only for what was removed", rotate("admin"), "read", narrowed.clone()),
            ("granted nothing, client has nothing", rotate(""), "", rotate("")),
            ("client widened: the grant does not grow", rotate("read"), "read admin write", rotate("read")),
            ("a refusal stays", RefreshDecision::Reject(RefreshRejection::IdleExpired), "",
                RefreshDecision::Reject(RefreshRejection::IdleExpired)),
            ("reuse still revokes", RefreshDecision::RevokeFamily(&family), "", RefreshDecision::RevokeFamily(&family)),
        ];
        for (case, before, client_scope, expected) in cases {
            assert_eq!(within_client_scope(before, &scope(client_scope)), expected, "{case}");
        }
        assert_eq!(RefreshRejection::ClientScopeNarrowed.error_code(), tessera_proto::ErrorCode::InvalidScope);
    }
}

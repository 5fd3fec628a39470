//! The fake server's OpenID Connect side: id tokens signed with fixed test keys, the JWK set
//! that publishes them, and the ways a test can make the next id tokens wrong.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_client::Clock;

/// Two P-256 keys made for these tests (`openssl genpkey -algorithm EC -pkeyopt
/// ec_paramgen_curve:P-256`): the server's, and one the server never publishes.
const KEY_A: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/x65sLc0RZWaXWXK
iKDiOf5XETkLTY35Ck1E3xXNCNqhRANCAASs9hlm0cH3SWeXDsRDFs/7jz7qZ0C6
VMqECarMlAfjkpn3qOwp3JRjmmWRAWDFfTRBVY1USA6/Slzn81kuIfBa
-----END PRIVATE KEY-----";
const KEY_A_XY: (&str, &str) =
    ("rPYZZtHB90lnlw7EQxbP-48-6mdAulTKhAmqzJQH45I", "mfeo7CnclGOaZZEBYMV9NEFVjVRIDr9KXOfzWS4h8Fo");
const KEY_B: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNe5kTjA4lvsQzVYc
xOsjXPinY0fzd2YNxzUnbblP6w2hRANCAAQKQaqD7/neHLCprAxY0TnVtO/7FBZD
9jrXkZ501NF3LvOlBJnlxEatmBjK9/11r4LJC7c2ijlz995cH3FGA3FD
-----END PRIVATE KEY-----";
const KEY_B_XY: (&str, &str) =
    ("CkGqg-_53hywqawMWNE51bTv-xQWQ_Y615GedNTRdy4", "86UEmeXERq2YGMr3_XWvgskLtzaKOXP33lwfcUYDcUM");

pub const SUB: &str = "user-1";

/// What is wrong with the id tokens the fake server issues from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tamper {
    #[default]
    Nothing,
    /// Signed by a key that is not the one its `kid` names in the JWK set.
    WrongSignature,
    /// Signed by a key (`kid` "k2") the JWK set does not publish until [`publish_second_key`].
    UnpublishedKey,
    WrongIssuer,
    WrongAudience,
    Expired,
    WrongNonce,
    /// Names another user (`sub`), as a refresh must never do (OpenID Connect Core §12.2).
    OtherSubject,
}

#[derive(Debug, Default)]
pub struct OidcState {
    pub tamper: Tamper,
    /// The nonce the next authorization-code grant's id token echoes.
    pub nonce: Option<String>,
    pub second_key_published: bool,
    pub jwks_requests: usize,
}

/// An id token for `client_id` at `issuer`, as `state` says.
pub fn id_token(state: &OidcState, issuer: &str, client_id: &str, nonce: Option<&str>, expires_in: u64) -> String {
    let now = tessera_client::unix_seconds(tessera_client::SystemClock.now());
    let tamper = state.tamper;
    let mut claims = json!({
        "iss": if tamper == Tamper::WrongIssuer { "http://impostor.example" } else { issuer },
        "sub": if tamper == Tamper::OtherSubject { "user-2" } else { SUB },
        "aud": if tamper == Tamper::WrongAudience { "client-2" } else { client_id },
        "azp": client_id,
        "exp": if tamper == Tamper::Expired { now - 10 } else { now + expires_in },
        "iat": if tamper == Tamper::Expired { now - 3600 } else { now },
        "auth_time": now,
        "preferred_username": "alice",
        "name": "Alice Liddell",
        "email": "alice@example.test",
        "email_verified": true,
    });
    let nonce = if tamper == Tamper::WrongNonce { Some("a-nonce-from-another-login") } else { nonce };
    if let Some(nonce) = nonce {
        claims["nonce"] = Value::from(nonce);
    }
    let (kid, pem) = match tamper {
        Tamper::WrongSignature => ("k1", KEY_B),
        Tamper::UnpublishedKey => ("k2", KEY_B),
        _ => ("k1", KEY_A),
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

/// The JWK set: `k1` always, `k2` once published.
pub fn jwks(state: &OidcState) -> Value {
    let key = |kid: &str, (x, y): (&str, &str)| json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid, "x": x, "y": y});
    let mut keys = vec![key("k1", KEY_A_XY)];
    if state.second_key_published {
        keys.push(key("k2", KEY_B_XY));
    }
    json!({ "keys": keys })
}

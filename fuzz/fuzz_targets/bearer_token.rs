//! Fuzz target: bearer tokens at the protected API (RFC 6750 §2.1, RFC 9068): the
//! `Authorization` header through `bearer_token`, the token through the key ring's JWT
//! decoding and verification. The ring is fixed for the run (an ES256 and an EdDSA key on an
//! in-memory store). Never a panic, and nothing verifies that the ring did not sign: the input
//! is used raw, or spliced into a token the ring signed (one of its three parts replaced by the
//! base64url of the input, or one byte of it changed).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tessera_core::{ClientId, Jti, MasterKey, Timestamp};
use tessera_proto::AccessTokenClaims;
use tessera_server::config::SigningAlgorithm;
use tessera_server::http::bearer_token;
use tessera_server::keys::{KeyManager, rotate_keys};
use tessera_server::store::{Store, StoreOptions};

const ISSUER: &str = "http://issuer.test";

struct Ring {
    keys: KeyManager,
    /// Tokens the ring signed, one per key.
    signed: Vec<String>,
    _runtime: tokio::runtime::Runtime,
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "user".into(),
        aud: ISSUER.into(),
        client_id: ClientId::new("client"),
        scope: "read".into(),
        iat: 1_000,
        exp: 4_600,
        jti: Jti::new("jti"),
        fid: None,
        cnf: None,
    }
}

/// The ring's verdict at the time its keys were made (the retired key still in its window).
fn verify(keys: &KeyManager, token: &str) -> Option<AccessTokenClaims> {
    let (now, retention) = (Timestamp::from_secs(1_000), std::time::Duration::from_secs(3_600));
    keys.verify(token, now, retention).ok().map(|verified| verified.claims)
}

static RING: LazyLock<Ring> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (keys, signed) = runtime.block_on(async {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.expect("store");
        store.migrate().await.expect("migrate");
        let master = MasterKey::parse("the fuzz target's fixed master key, 32+ chars").expect("master key");
        let now = Timestamp::from_secs(1_000);
        let keys = KeyManager::load(store.clone(), &master, SigningAlgorithm::Es256, ISSUER.into(), now)
            .await
            .expect("key ring");
        let mut signed = vec![keys.sign(&claims()).expect("sign")];
        rotate_keys(&store, &master, SigningAlgorithm::EdDsa, now).await.expect("rotate");
        keys.reload().await.expect("reload");
        signed.push(keys.sign(&claims()).expect("sign"));
        (keys, signed)
    });
    for token in &signed {
        assert_eq!(verify(&keys, token), Some(claims()), "the ring verifies what it signed");
    }
    Ring { keys, signed, _runtime: runtime }
});

fuzz_target!(|data: &[u8]| {
    let ring = &*RING;
    let Some((&selector, rest)) = data.split_first() else { return };
    let signed = &ring.signed[usize::from(selector & 1)];
    let token = match selector >> 1 & 7 {
        // The raw input as an Authorization header value.
        0 => {
            let Ok(value) = HeaderValue::from_bytes(rest) else { return };
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value);
            let Some(token) = bearer_token(&headers) else { return };
            token.to_owned()
        }
        // One of the signed token's parts replaced.
        part @ 1..=3 => {
            let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
            parts[usize::from(part - 1)] = URL_SAFE_NO_PAD.encode(rest);
            parts.join(".")
        }
        // One byte changed.
        4 => {
            let (Some(&position), Some(&byte)) = (rest.first(), rest.get(1)) else { return };
            let mut bytes = signed.clone().into_bytes();
            let position = usize::from(position) * bytes.len() / 256;
            if bytes[position] == byte {
                return;
            }
            bytes[position] = byte;
            let Ok(token) = String::from_utf8(bytes) else { return };
            token
        }
        // The raw input as the token.
        _ => String::from_utf8_lossy(rest).into_owned(),
    };
    if let Some(verified) = verify(&ring.keys, &token) {
        // Only the ring's own tokens verify (a changed byte may decode to the same bytes:
        // base64's last character carries spare bits).
        assert_eq!(verified, claims(), "a token the ring did not sign verified");
    }
});

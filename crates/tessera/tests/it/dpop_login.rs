//! `tessera login --dpop` as processes against the real server in-process: the tokens are bound
//! to the profile's key (`cnf.jkt`, `token_type: DPoP`), `tessera api` and `tessera token
//! refresh` in later processes prove the same key, and the bare token is useless as a bearer
//! token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_client::{CredentialStore, FileStore, TokenType};
use tessera_server::config::RawConfig;
use tessera_testkit::{TestClient, TestServer};

use crate::support::{Output, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const ME: &str = "/api/1.0/users/me";

/// The real server with a public client (a CLI has no secret to keep) and a user.
struct Fixture {
    server: TestServer,
    cli: TestClient,
    dir: TempDir,
}

impl Fixture {
    async fn start(name: &str, config: RawConfig) -> Self {
        let server = TestServer::start(config).await;
        let cli = server.client("cli", &[], "read write", true).await;
        server.user(USERNAME, PASSWORD).await;
        Self { server, cli, dir: TempDir::new(name) }
    }

    fn tessera(&self) -> Tessera {
        Tessera::in_dir(&self.dir)
    }

    async fn login_with_dpop(&self, profile: &str) -> Output {
        self.tessera()
            .args([
                "login",
                "--dpop",
                "--issuer",
                &self.server.base_url,
                "--client-id",
                &self.cli.client_id,
                "--username",
                USERNAME,
                "--password-stdin",
                "--profile",
                profile,
            ])
            .stdin(&format!("{PASSWORD}\n"))
            .run()
            .await
    }

    fn store(&self, profile: &str) -> FileStore {
        FileStore::in_dir(self.dir.config_home().join("tessera"), profile).unwrap()
    }
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// Asserts that the profile in `store` holds a DPoP access token bound to the profile's key.
pub fn assert_bound_to_the_profiles_key(store: &FileStore) {
    let stored = store.load().unwrap().expect("the profile is stored");
    assert!(stored.client.dpop, "the profile remembers it is DPoP-bound");
    assert_eq!(stored.tokens.token_type, TokenType::Dpop);
    let claims = claims(stored.tokens.access_token.secret());
    assert_eq!(claims["cnf"], json!({ "jkt": store.dpop_key().unwrap().thumbprint() }), "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_login_dpop_binds_the_profile_and_later_commands_prove_its_key() {
    for nonce in ["off", "on"] {
        let fixture = Fixture::start(
            &format!("dpop-login-{nonce}"),
            RawConfig { dpop_nonce: Some(nonce.into()), ..Default::default() },
        )
        .await;
        let login = fixture.login_with_dpop("work").await.success();
        let store = fixture.store("work");
        let key = store.dpop_key().unwrap();
        let bound = format!("the tokens are bound to the DPoP key in {}", store.dpop_key_path().display());
        assert!(login.stderr.contains(&bound), "nonce {nonce}: {}", login.stderr);
        assert!(login.stderr.contains(key.thumbprint()), "{}", login.stderr);
        assert!(
            login.stderr.contains(&format!("as {USERNAME}")),
            "the API call after login proved the key: {}",
            login.stderr
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.dpop_key_path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_bound_to_the_profiles_key(&store);

        let me = fixture.tessera().args(["api", ME, "--profile", "work"]).run().await.success();
        assert_eq!(me.json()["username"], USERNAME, "nonce {nonce}");

        let refreshed = fixture.tessera().args(["token", "refresh", "--profile", "work"]).run().await.success();
        let response = refreshed.json();
        assert_eq!(response["token_type"], "DPoP", "{response}");
        let access_token = response["access_token"].as_str().unwrap();
        assert_eq!(claims(access_token)["cnf"]["jkt"], key.thumbprint());

        // Printed and copied elsewhere, the token is refused without a proof by the key.
        let token = fixture.tessera().args(["token", "--profile", "work"]).run().await.success();
        let copied = token.stdout.trim_end();
        assert_eq!(copied, access_token);
        let http = reqwest::Client::new();
        for scheme in ["Bearer", "DPoP"] {
            let response = http
                .get(fixture.server.url(ME))
                .header("Authorization", format!("{scheme} {copied}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{scheme} without a proof");
        }
        let me = fixture.tessera().args(["api", ME, "--profile", "work"]).run().await.success();
        assert_eq!(me.json()["username"], USERNAME);
        assert_eq!(store.dpop_key().unwrap().thumbprint(), key.thumbprint(), "one key throughout");

        fixture.tessera().args(["logout", "--profile", "work"]).run().await.success();
        assert!(!store.dpop_key_path().exists(), "logout deletes the key with the tokens");
    }
}

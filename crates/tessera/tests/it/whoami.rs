//! `tessera whoami` and the id token behind it, as processes against the real server: a login
//! at an OpenID provider asks for `openid profile email`, and `whoami` prints the validated
//! claims; a client not registered for them still logs in (without an id token), and `whoami`
//! says why it has nothing to show; an id token that fails validation is refused.

use tessera_client::{CredentialStore, FileStore};
use tessera_server::config::RawConfig;
use tessera_testkit::{TestClient, TestServer};

use crate::support::{Output, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    server: TestServer,
    /// Registered for `openid profile email` besides the API's scopes.
    rp: TestClient,
    /// Registered for the API's scopes only.
    api_only: TestClient,
    user_id: String,
    dir: TempDir,
}

impl Fixture {
    async fn start(name: &str) -> Self {
        let server = TestServer::start(RawConfig::default()).await;
        let rp = server.client("rp", &[], "read write openid profile email", false).await;
        let api_only = server.client("api", &[], "read write", false).await;
        let user_id = server.user(USERNAME, PASSWORD).await;
        Self { server, rp, api_only, user_id, dir: TempDir::new(name) }
    }

    fn tessera(&self) -> Tessera {
        Tessera::in_dir(&self.dir)
    }

    async fn login(&self, client: &TestClient, profile: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "login",
            "--issuer",
            &self.server.base_url,
            "--client-id",
            &client.client_id,
            "--client-secret",
            client.client_secret.as_deref().unwrap(),
            "--username",
            USERNAME,
            "--password-stdin",
            "--profile",
            profile,
        ];
        args.extend_from_slice(extra);
        self.tessera().args(args).stdin(&format!("{PASSWORD}\n")).run().await
    }

    async fn whoami(&self, args: &[&str]) -> Output {
        self.tessera().args(["whoami"].iter().chain(args)).run().await
    }

    fn store(&self, profile: &str) -> FileStore {
        FileStore::in_dir(self.dir.config_home().join("tessera"), profile).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_prints_the_validated_claims_of_an_openid_login() {
    let fixture = Fixture::start("whoami").await;
    let login = fixture.login(&fixture.rp, "default", &["--scope", "read"]).await.success();
    assert!(login.stderr.contains("with scope \"email openid profile read\""), "{}", login.stderr);

    let whoami = fixture.whoami(&[]).await.success();
    println!("{}", whoami.stdout);
    let line =
        |name: &str| whoami.stdout.lines().find_map(|line| line.strip_prefix(name).map(str::trim).map(str::to_owned));
    assert_eq!(line("sub").as_deref(), Some(fixture.user_id.as_str()), "{}", whoami.stdout);
    assert_eq!(line("preferred_username").as_deref(), Some(USERNAME), "{}", whoami.stdout);
    assert_eq!(line("issuer").as_deref(), Some(fixture.server.base_url.as_str()), "{}", whoami.stdout);
    for name in ["auth_time", "expires"] {
        assert!(line(name).is_some_and(|time| time.ends_with('Z')), "{name}: {}", whoami.stdout);
    }

    let json = fixture.whoami(&["--json"]).await.success().json();
    assert_eq!(json["sub"], fixture.user_id.as_str());
    assert_eq!(json["aud"], serde_json::json!([fixture.rp.client_id]));
    assert_eq!(json["preferred_username"], USERNAME);
    assert!(json.get("nonce").is_none(), "the password grant sends no nonce");
}

/// A client not registered for `openid`: the login falls back to the scope asked for, and
/// `whoami` explains that there is no id token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_without_openid_still_works_and_whoami_says_why_it_cannot_tell() {
    let fixture = Fixture::start("whoami-no-openid").await;
    let login = fixture.login(&fixture.api_only, "default", &[]).await.success();
    assert!(login.stderr.contains("with scope \"read write\""), "{}", login.stderr);
    assert!(fixture.store("default").load().unwrap().unwrap().tokens.id_token.is_none());

    let whoami = fixture.whoami(&[]).await;
    assert_eq!(whoami.code(), Some(1), "{}", whoami.stderr);
    whoami.assert_one_line_error("this login has no id token: log in again with the openid scope");

    let nobody = fixture.tessera().args(["whoami", "--profile", "nobody"]).run().await;
    assert_eq!(nobody.code(), Some(3), "not logged in: {}", nobody.stderr);
}

/// An id token that does not validate (here one issued to another client, pasted into the
/// profile) is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_refuses_an_id_token_that_fails_validation() {
    let fixture = Fixture::start("whoami-invalid").await;
    let other = fixture.server.client("other", &[], "openid", false).await;
    fixture.login(&fixture.rp, "default", &[]).await.success();
    fixture.login(&other, "other", &[]).await.success();

    let store = fixture.store("default");
    let mut profile = store.load().unwrap().unwrap();
    profile.tokens.id_token = fixture.store("other").load().unwrap().unwrap().tokens.id_token;
    store.save(&profile).unwrap();

    let whoami = fixture.whoami(&[]).await;
    assert_eq!(whoami.code(), Some(1), "{}", whoami.stderr);
    assert!(
        whoami.stderr.contains("the server's id token is not valid")
            && whoami.stderr.contains(&format!("not for client \"{}\"", fixture.rp.client_id)),
        "{}",
        whoami.stderr
    );
}

//! `tessera login | token | api | logout` as processes against the real server, in-process on
//! port 0: the end-to-end session, many processes sharing one profile, a dead login, and the
//! files' modes.

use std::time::Duration;

use tessera_client::{CredentialStore, FileStore};
use tessera_server::config::RawConfig;
use tessera_server::store::CountedTable;
use tessera_testkit::{TestClient, TestServer};

use crate::support::{Output, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const ME: &str = "/api/1.0/users/me";

/// The real server with a confidential client and a user, and a directory for the profiles.
struct Fixture {
    server: TestServer,
    app: TestClient,
    dir: TempDir,
}

impl Fixture {
    async fn start(name: &str, config: RawConfig) -> Self {
        let server = TestServer::start(config).await;
        let app = server.client("app", &[], "read write", false).await;
        server.user(USERNAME, PASSWORD).await;
        Self { server, app, dir: TempDir::new(name) }
    }

    /// Without a grace window, presenting any refresh token twice revokes its family.
    async fn without_grace(name: &str) -> Self {
        Self::start(name, RawConfig { refresh_grace: Some("0s".into()), ..RawConfig::default() }).await
    }

    fn tessera(&self) -> Tessera {
        Tessera::in_dir(&self.dir)
    }

    fn secret(&self) -> &str {
        self.app.client_secret.as_deref().unwrap()
    }

    /// `tessera login` with the password on standard input.
    async fn login(&self, profile: &str, password: &str) -> Output {
        self.tessera()
            .args([
                "login",
                "--issuer",
                &self.server.base_url,
                "--client-id",
                &self.app.client_id,
                "--client-secret",
                self.secret(),
                "--username",
                USERNAME,
                "--password-stdin",
                "--profile",
                profile,
            ])
            .stdin(&format!("{password}\n"))
            .run()
            .await
    }

    /// The profile's file, as the commands find it through `XDG_CONFIG_HOME`.
    fn store(&self, profile: &str) -> FileStore {
        FileStore::in_dir(self.dir.config_home().join("tessera"), profile).unwrap()
    }

    /// Makes the stored access token look expired to every process that reads the file.
    fn expire_stored_access_token(&self, profile: &str) {
        let store = self.store(profile);
        let mut stored = store.load().unwrap().unwrap();
        stored.tokens.obtained_at = 1;
        stored.tokens.expires_at = Some(2);
        store.save(&stored).unwrap();
    }

    fn stored_refresh_token(&self, profile: &str) -> String {
        self.store(profile).load().unwrap().unwrap().tokens.refresh_token.unwrap().secret().clone()
    }

    /// Refresh tokens the server ever issued: one per login plus one per rotation.
    async fn refresh_tokens_issued(&self) -> i64 {
        self.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap()
    }

    /// Twenty `tessera api` processes at once on the default profile; each must succeed.
    async fn twenty_api_processes(&self) {
        let running: Vec<_> = (0..20).map(|_| self.tessera().args(["api", ME]).spawn()).collect();
        for process in running {
            let output = process.wait().await.success();
            assert_eq!(output.json()["username"], USERNAME);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_token_refresh_api_logout_end_to_end() {
    let fixture = Fixture::start("end-to-end", RawConfig::default()).await;
    let run = |args: &[&str]| fixture.tessera().args(args).run();

    let login = fixture.login("work", PASSWORD).await.success();
    assert!(login.stderr.contains("logged in"), "{}", login.stderr);
    let store = fixture.store("work");
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(!text.contains(PASSWORD), "the password is never stored");

    let token = run(&["token", "--profile", "work"]).await.success();
    let access_token = token.stdout.trim_end().to_owned();
    assert_eq!(token.stdout, format!("{access_token}\n"), "only the token");
    let http = reqwest::Client::new();
    let me = http.get(fixture.server.url(ME)).bearer_auth(&access_token).send().await.unwrap();
    assert_eq!(me.status(), 200);

    let refreshed = run(&["token", "refresh", "--profile", "work"]).await.success();
    let response = refreshed.json();
    assert_eq!(response["token_type"], "Bearer");
    assert!(response["refresh_token"].as_str().unwrap().starts_with("tsr_"));
    assert_eq!(response["refresh_token"].as_str(), Some(fixture.stored_refresh_token("work").as_str()));
    assert_ne!(response["access_token"].as_str(), Some(access_token.as_str()));

    let api = run(&["api", ME, "--profile", "work"]).await.success();
    assert_eq!(api.json()["username"], USERNAME);

    let not_found = run(&["api", "-X", "GET", "/api/1.0/nothing", "--profile", "work"]).await;
    assert_eq!(not_found.code(), Some(22), "curl --fail's status on HTTP ≥ 400: {}", not_found.stderr);

    let logout = run(&["logout", "--profile", "work"]).await.success();
    assert!(logout.stderr.contains("revoked"), "{}", logout.stderr);
    assert!(!store.path().exists());
    let after_logout = http.get(fixture.server.url(ME)).bearer_auth(&access_token).send().await.unwrap();
    assert_eq!(after_logout.status(), 401, "the family's access tokens stop working");

    let again = run(&["api", ME, "--profile", "work"]).await;
    assert_eq!(again.code(), Some(3), "{}", again.stderr);
    assert!(again.stderr.contains("tessera login"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_login_and_stores_nothing() {
    let fixture = Fixture::start("wrong-password", RawConfig::default()).await;
    let login = fixture.login("default", "wrong").await;
    assert_eq!(login.code(), Some(1), "{}", login.stderr);
    assert!(login.stderr.contains("login failed") && login.stderr.contains("invalid_grant"), "{}", login.stderr);
    assert!(fixture.store("default").load().unwrap().is_none());
}

/// Issue 5: with the grace window off, a second refresh with the same token would revoke the
/// family; the file lock must make the other processes reuse the first one's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tessera_api_processes_after_expiry_without_grace_all_succeed_and_keep_the_family() {
    let fixture = Fixture::without_grace("twenty-expired").await;
    fixture.login("default", PASSWORD).await.success();
    assert_eq!(fixture.refresh_tokens_issued().await, 1);
    fixture.expire_stored_access_token("default");

    fixture.twenty_api_processes().await;

    assert_eq!(fixture.refresh_tokens_issued().await, 2, "exactly one refresh at the server");
    let refreshed = fixture.tessera().args(["token", "refresh"]).run().await;
    assert!(refreshed.status.success(), "the family is still alive: {}", refreshed.stderr);
}

/// The same race through the other door: the client believes its token fresh, the server
/// (whose clock moved) answers 401, and every process refreshes after the rejection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tessera_api_processes_after_a_401_without_grace_make_one_refresh() {
    let fixture = Fixture::without_grace("twenty-rejected").await;
    fixture.login("default", PASSWORD).await.success();
    fixture.server.clock.advance(Duration::from_secs(3601));

    fixture.twenty_api_processes().await;

    assert_eq!(fixture.refresh_tokens_issued().await, 2, "exactly one refresh at the server");
    let refreshed = fixture.tessera().args(["token", "refresh"]).run().await;
    assert!(refreshed.status.success(), "the family is still alive: {}", refreshed.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_refresh_token_tells_the_user_to_run_tessera_login_again() {
    let fixture = Fixture::start("dead", RawConfig::default()).await;
    fixture.login("default", PASSWORD).await.success();
    // Revoked behind the profile's back (RFC 7009), e.g. from another machine.
    let revoked = reqwest::Client::new()
        .post(fixture.server.url("/oauth/revoke"))
        .basic_auth(&fixture.app.client_id, Some(fixture.secret()))
        .form(&[("token", fixture.stored_refresh_token("default").as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    fixture.expire_stored_access_token("default");

    let hint = format!("tessera login --issuer {} --client-id {}", fixture.server.base_url, fixture.app.client_id);
    // (arguments, what stderr must say besides "tessera login")
    let cases: &[(&[&str], &[&str])] = &[
        (&["token"], &["invalid_grant", &hint]),
        (&["api", ME], &["invalid_grant", &hint]),
        (&["token", "refresh"], &["invalid_grant", &hint]),
        // A profile that was never logged in: nothing to refresh, same advice.
        (&["token", "--profile", "never"], &["--profile never"]),
        (&["api", ME, "--profile", "never"], &["--profile never"]),
    ];
    for (args, fragments) in cases {
        let output = fixture.tessera().args(*args).run().await;
        assert_eq!(output.code(), Some(3), "{args:?}: {}", output.stderr);
        assert!(output.stdout.is_empty(), "{args:?}: {}", output.stdout);
        assert!(output.stderr.contains("tessera login"), "{args:?}: {}", output.stderr);
        for fragment in *fragments {
            assert!(output.stderr.contains(fragment), "{args:?} should say {fragment:?}: {}", output.stderr);
        }
        assert!(!output.stderr.contains("panicked"), "{args:?}: {}", output.stderr);
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    let fixture = Fixture::start("modes", RawConfig::default()).await;
    fixture.login("default", PASSWORD).await.success();
    fixture.login("work", PASSWORD).await.success();
    fixture.tessera().args(["token", "refresh", "--profile", "work"]).run().await.success();

    let dir = fixture.dir.config_home().join("tessera");
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    files.sort();
    assert!(files.contains(&"default.json".to_owned()) && files.contains(&"work.json".to_owned()), "{files:?}");
}

/// A listener on another port of 127.0.0.1 (another origin than the issuer's) that answers every
/// request `200 ok` and keeps the request heads it received.
async fn other_origin() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => head.extend_from_slice(&chunk[..read]),
                }
            }
            seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
        }
    });
    (url, heads)
}

/// `tessera api` sends the access token only to the issuer's origin: an absolute URL elsewhere
/// (here only the port differs) is refused with exit status 2 before any connection, unless
/// `--allow-other-host` says to send it anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_api_refuses_to_send_the_token_to_another_origin() {
    let fixture = Fixture::start("other-origin", RawConfig::default()).await;
    fixture.login("default", PASSWORD).await.success();
    let (other, heads) = other_origin().await;
    let access_token = fixture.store("default").load().unwrap().unwrap().tokens.access_token.secret().clone();

    let refused = fixture.tessera().args(["api", &format!("{other}/steal")]).run().await;
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refusing to send the access token to")
            && refused.stderr.contains(&other)
            && refused.stderr.contains("--allow-other-host"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(&access_token));
    assert!(heads.lock().unwrap().is_empty(), "nothing may reach the other origin");

    // The issuer's origin spelled as an absolute URL is fine.
    let me = fixture.tessera().args(["api", &fixture.server.url(ME)]).run().await.success();
    assert_eq!(me.json()["username"], USERNAME);

    let allowed = fixture.tessera().args(["api", &format!("{other}/mine"), "--allow-other-host"]).run().await.success();
    assert_eq!(allowed.stdout, "ok");
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(heads[0].starts_with("GET /mine "), "{}", heads[0]);
    assert!(
        heads[0].to_ascii_lowercase().contains(&format!("authorization: bearer {}", access_token.to_ascii_lowercase())),
        "{}",
        heads[0]
    );
}

//! The admin commands (`migrate`, `client …`, `user …`, `keys …`) on a fresh SQLite file, and
//! their effect on a server running on the same file.

use serde_json::{Value, json};
use tessera_server::config::RawConfig;
use tessera_testkit::TestServer;

use crate::support::{Output, TempDir, Tessera};

/// A fresh database, and the binary pointed at it.
struct Admin {
    dir: TempDir,
}

impl Admin {
    fn new(name: &str) -> Self {
        Self { dir: TempDir::new(name) }
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.tessera(args).run().await
    }

    fn tessera(&self, args: &[&str]) -> Tessera {
        Tessera::in_dir(&self.dir).args(args).args(["--database-url", &self.dir.database_url()])
    }

    async fn json(&self, args: &[&str]) -> Value {
        self.run(args).await.success().json()
    }

    /// The real server, in-process, on this database (and so on its key file).
    async fn server(&self) -> TestServer {
        TestServer::start(RawConfig { database_url: Some(self.dir.database_url()), ..RawConfig::default() }).await
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|item| item.as_str().unwrap()).collect()
}

/// `POST /oauth/token` with HTTP Basic client authentication; the status and the JSON body.
async fn token_request(
    server: &TestServer,
    client_id: &str,
    client_secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(client_id, Some(client_secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let admin = Admin::new("migrate");
    for _ in 0..2 {
        let output = admin.run(&["migrate"]).await.success();
        assert_eq!(output.stdout, "database sqlite is up to date\n");
    }
    assert!(admin.dir.path().join("t.db").exists());
    assert_eq!(admin.json(&["client", "list", "--json"]).await, json!([]));
}

/// One `tessera client create --json …` and the client it must print.
struct CreateRow {
    /// After `client create --json`; starts with `--name NAME`.
    args: &'static [&'static str],
    grant_types: &'static [&'static str],
    redirect_uris: &'static [&'static str],
    scope: &'static str,
    public: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_create_prints_the_client_and_list_and_show_agree() {
    let admin = Admin::new("client-create");
    const DEFAULT_GRANTS: &[&str] = &["authorization_code", "password", "refresh_token"];
    let rows = [
        CreateRow {
            args: &["--name", "Web"],
            grant_types: DEFAULT_GRANTS,
            redirect_uris: &[],
            scope: "",
            public: false,
        },
        CreateRow {
            args: &["--name", "Phone", "--public"],
            grant_types: DEFAULT_GRANTS,
            redirect_uris: &[],
            scope: "",
            public: true,
        },
        CreateRow {
            args: &[
                "--name",
                "Batch job",
                "--grant",
                "client_credentials",
                "--grant",
                "refresh_token",
                "--scope",
                "read write",
                "--redirect-uri",
                "https://app.example/callback",
                "--redirect-uri",
                "http://127.0.0.1:9000/cb",
            ],
            grant_types: &["client_credentials", "refresh_token"],
            redirect_uris: &["https://app.example/callback", "http://127.0.0.1:9000/cb"],
            scope: "read write",
            public: false,
        },
    ];

    let mut created = Vec::new();
    for row in &rows {
        let args = row.args;
        let mut command = vec!["client", "create", "--json"];
        command.extend_from_slice(args);
        let client = admin.json(&command).await;
        assert_eq!(client["name"], args[1]);
        assert_eq!(strings(&client["grant_types"]), row.grant_types, "{args:?}");
        assert_eq!(strings(&client["redirect_uris"]), row.redirect_uris, "{args:?}");
        assert_eq!(client["scope"], row.scope, "{args:?}");
        assert_eq!(client["public"], row.public, "{args:?}");
        assert!(client["client_id"].as_str().is_some_and(|id| !id.is_empty()), "{client}");
        if row.public {
            assert!(client.get("client_secret").is_none(), "a public client has no secret: {client}");
        } else {
            assert!(client["client_secret"].as_str().is_some_and(|secret| secret.len() >= 32), "{client}");
        }
        created.push(client);
    }

    let listed = admin.json(&["client", "list", "--json"]).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), created.len());
    for client in &created {
        let id = client["client_id"].as_str().unwrap();
        let mut without_secret = client.clone();
        without_secret.as_object_mut().unwrap().remove("client_secret");
        assert!(listed.contains(&without_secret), "{id} in {listed:?}");
        let shown = admin.json(&["client", "show", id, "--json"]).await;
        assert_eq!(shown, without_secret, "the secret is shown only once");
    }
    // The plain output shows the secret once too.
    let plain = admin.run(&["client", "create", "--name", "Plain"]).await.success();
    assert!(plain.stdout.contains("client_secret: "), "{}", plain.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_refuse_bad_input_with_one_line() {
    let admin = Admin::new("client-errors");
    let public = admin.json(&["client", "create", "--name", "Phone", "--public", "--json"]).await;
    let public = public["client_id"].as_str().unwrap();
    // (arguments, what the error line says)
    let rows: &[(&[&str], &str)] = &[
        (&["client", "create", "--name", "X", "--grant", "implicit"], "unknown grant type \"implicit\""),
        (&["client", "create", "--name", "X", "--redirect-uri", "not a url"], "redirect URI \"not a url\""),
        (&["client", "create", "--name", "X", "--redirect-uri", "https://a.example/#f"], "without a fragment"),
        (&["client", "create", "--name", " "], "name must not be empty"),
        (&["client", "show", "nope"], "client nope does not exist"),
        (&["client", "delete", "nope"], "client nope does not exist"),
        (&["client", "rotate-secret", "nope"], "client nope does not exist"),
        (&["client", "rotate-secret", public], "is public"),
    ];
    for (args, fragment) in rows {
        let output = admin.run(args).await;
        eprintln!("{args:?}: {}", output.stderr.trim_end());
        output.assert_one_line_error(fragment);
    }
    assert_eq!(admin.json(&["client", "list", "--json"]).await.as_array().unwrap().len(), 1, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_secret_replaces_the_secret_at_the_token_endpoint() {
    let admin = Admin::new("rotate-secret");
    let client = admin.json(&["client", "create", "--name", "Batch", "--grant", "client_credentials", "--json"]).await;
    let id = client["client_id"].as_str().unwrap();
    let old = client["client_secret"].as_str().unwrap();
    let server = admin.server().await;
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(token_request(&server, id, old, &grant).await.0, 200);

    let rotated = admin.json(&["client", "rotate-secret", id, "--json"]).await;
    assert_eq!(rotated["client_id"], id);
    let new = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new, old);

    let (status, body) = token_request(&server, id, new, &grant).await;
    assert_eq!(status, 200, "the new secret works: {body}");
    let (status, body) = token_request(&server, id, old, &grant).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")), "the old secret stops at once: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_delete_removes_the_client_everywhere() {
    let admin = Admin::new("client-delete");
    let client = admin.json(&["client", "create", "--name", "Gone", "--grant", "client_credentials", "--json"]).await;
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let server = admin.server().await;
    assert_eq!(token_request(&server, id, secret, &[("grant_type", "client_credentials")]).await.0, 200);

    let deleted = admin.run(&["client", "delete", id]).await.success();
    assert!(deleted.stdout.contains(&format!("client {id} deleted")), "{}", deleted.stdout);
    admin.run(&["client", "show", id]).await.assert_one_line_error(&format!("client {id} does not exist"));
    assert_eq!(admin.json(&["client", "list", "--json"]).await, json!([]));
    // The CLI writes to the database; a running server sees that within TESSERA_CLIENT_CACHE_TTL (5 s).
    server.clock.advance(std::time::Duration::from_secs(5));
    let (status, body) = token_request(&server, id, secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_reads_the_password_from_stdin_and_the_password_grant_accepts_it() {
    let admin = Admin::new("user-create");
    let server = admin.server().await;
    let app = server.client("app", &[], "", false).await;
    let secret = app.client_secret.as_deref().unwrap();

    let created = admin
        .tessera(&["user", "create", "--username", "bob", "--email", "bob@example.test", "--password-stdin", "--json"])
        .stdin("s3cret with spaces\n")
        .run()
        .await
        .success()
        .json();
    assert_eq!(
        (&created["username"], &created["email"], &created["admin"]),
        (&json!("bob"), &json!("bob@example.test"), &json!(false))
    );

    let password = |password| [("grant_type", "password"), ("username", "bob"), ("password", password)];
    let (status, body) = token_request(&server, &app.client_id, secret, &password("s3cret with spaces")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_request(&server, &app.client_id, secret, &password("s3cret with spaces\n")).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")), "only the line, not its newline: {body}");

    // (arguments after `user create`, standard input, what the error line says)
    let rows: &[(&[&str], Option<&str>, &str)] = &[
        (&["--username", "bob", "--password-stdin"], Some("other\n"), "already exists"),
        (&["--username", "carol", "--password-stdin"], Some("\n"), "password must not be empty"),
        (&["--username", "carol", "--password-stdin"], None, "password must not be empty"),
        (&["--username", "carol"], None, "--password-stdin"),
        (&["--username", "with space", "--password", "x"], None, "username"),
    ];
    for (args, stdin, fragment) in rows {
        let mut tessera = admin.tessera(&["user", "create"]).args(*args);
        if let Some(text) = stdin {
            tessera = tessera.stdin(text);
        }
        let output = tessera.run().await;
        eprintln!("{args:?}: {}", output.stderr.trim_end());
        output.assert_one_line_error(fragment);
    }
    let (status, _) = token_request(&server, &app.client_id, secret, &password("s3cret with spaces")).await;
    assert_eq!(status, 200, "the duplicate did not replace bob's password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_adds_an_active_key_and_retires_the_old_one() {
    let admin = Admin::new("keys");
    let empty = admin.run(&["keys", "list"]).await.success();
    assert!(empty.stdout.contains("no signing keys yet"), "{}", empty.stdout);
    // Starting a server creates the first key (with the master key file beside the database).
    admin.server().await.stop().await;

    let before = admin.json(&["keys", "list", "--json"]).await;
    let before = before.as_array().unwrap().clone();
    assert_eq!(before.len(), 1, "{before:?}");
    let first = before[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!((&before[0]["active"], &before[0]["retired_at"]), (&json!(true), &Value::Null));

    let rotated = admin.json(&["keys", "rotate", "--json"]).await;
    let second = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(rotated["algorithm"], "ES256");

    let after = admin.json(&["keys", "list", "--json"]).await;
    let find = |kid: &str| after.as_array().unwrap().iter().find(|key| key["kid"] == kid).cloned().unwrap();
    assert_eq!(after.as_array().unwrap().len(), 2, "{after}");
    assert_eq!(find(&second)["active"], true, "{after}");
    assert_eq!(find(&first)["active"], false, "{after}");
    assert!(find(&first)["retired_at"].is_string(), "{after}");

    // A server started now signs with the new key.
    let server = admin.server().await;
    let client = server.client("app", &["client_credentials"], "", false).await;
    let (status, body) = token_request(
        &server,
        &client.client_id,
        client.client_secret.as_deref().unwrap(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_kid(body["access_token"].as_str().unwrap()), second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_revoke_refuses_the_only_active_key_and_lists_revoked_keys() {
    let admin = Admin::new("keys-revoke");
    admin.server().await.stop().await;
    let listed = admin.json(&["keys", "list", "--json"]).await;
    let first = listed[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["state"], "active", "{listed}");

    admin.run(&["keys", "revoke", &first]).await.assert_one_line_error("only active key");
    admin.run(&["keys", "revoke", "no-such-kid"]).await.assert_one_line_error("does not exist");
    let revoked = admin.json(&["keys", "revoke", &first, "--rotate", "--json"]).await;
    assert_eq!(revoked["revoked"], first.as_str());
    let second = revoked["new_active_kid"].as_str().unwrap().to_owned();
    admin.run(&["keys", "revoke", &first]).await.assert_one_line_error("already revoked");

    let third = admin.json(&["keys", "rotate", "--json"]).await["kid"].as_str().unwrap().to_owned();
    let listed = admin.json(&["keys", "list", "--json"]).await;
    let find = |kid: &str| listed.as_array().unwrap().iter().find(|key| key["kid"] == kid).cloned().unwrap();
    assert_eq!((&find(&first)["state"], &find(&first)["active"]), (&json!("revoked"), &json!(false)), "{listed}");
    assert!(find(&first)["revoked_at"].is_string() && find(&first)["verifies_until"].is_null(), "{listed}");
    assert_eq!(find(&second)["state"], "retired", "{listed}");
    assert!(find(&second)["verifies_until"].is_string(), "{listed}");
    assert_eq!(find(&third)["state"], "active", "{listed}");
    let table = admin.run(&["keys", "list"]).await.success().stdout;
    let state_of = |kid: &str| {
        table.lines().find(|line| line.starts_with(kid)).unwrap().split_whitespace().nth(3).map(str::to_owned)
    };
    assert_eq!(state_of(&first).as_deref(), Some("revoked"), "{table}");
    assert_eq!(state_of(&second).as_deref(), Some("retired"), "{table}");
    assert_eq!(state_of(&third).as_deref(), Some("active"), "{table}");

    // A server started now publishes neither the revoked key nor, of course, a made-up one.
    let server = admin.server().await;
    let jwks: Value = reqwest::get(server.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let published: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap()).collect();
    assert!(!published.contains(&first.as_str()) && published.contains(&third.as_str()), "{jwks}");
}

/// The `kid` in a JWT's header.
fn jwt_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// `tessera client update` (issue 10, item 7): it changes what it is given, prints the client
/// as `show` does, and a running server follows within its client cache's bound — for tokens
/// already issued too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_update_changes_the_client_and_its_existing_tokens() {
    let admin = Admin::new("client-update");
    let create = ["client", "create", "--name", "Console", "--scope", "read admin", "--json"];
    let created = admin.json(&create).await;
    assert_eq!(created["introspect"], false, "{created}");
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let server = admin.server().await;
    server.user("alice", "pw").await;
    let password = [("grant_type", "password"), ("username", "alice"), ("password", "pw")];
    let (status, body) = token_request(&server, id, secret, &password).await;
    assert_eq!((status, &body["scope"]), (200, &json!("admin read")), "{body}");
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = async |token: &str| {
        token_request(&server, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
    };

    // Narrow the scope, rename, replace the redirect URIs; the rest stays.
    let args =
        ["client", "update", id, "--scope", "read", "--name", "Console 2", "--redirect-uri", "https://c.example/cb"];
    let updated = admin.json(&[&args[..], &["--json"]].concat()).await;
    assert_eq!(updated, admin.json(&["client", "show", id, "--json"]).await, "printed as `show --json`");
    assert_eq!((&updated["scope"], &updated["name"]), (&json!("read"), &json!("Console 2")));
    assert_eq!(strings(&updated["redirect_uris"]), ["https://c.example/cb"]);
    assert_eq!(updated["grant_types"], created["grant_types"]);
    assert_eq!(updated["created_at"], created["created_at"]);
    // The CLI writes to the database; the server sees it within TESSERA_CLIENT_CACHE_TTL (5 s).
    server.clock.advance(std::time::Duration::from_secs(5));
    let (status, body) = refresh_with(&refresh_token).await;
    assert_eq!((status, &body["scope"]), (200, &json!("read")), "no admin any more: {body}");
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    // Nothing left: invalid_scope.
    admin.run(&["client", "update", id, "--scope", ""]).await.success();
    server.clock.advance(std::time::Duration::from_secs(5));
    let (status, body) = refresh_with(&refresh_token).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_scope")), "{body}");

    // Without the refresh_token grant: no refresh at all.
    let plain = admin.run(&["client", "update", id, "--scope", "read", "--grant", "password"]).await.success();
    assert!(plain.stdout.contains("grant_types:   password\n"), "{}", plain.stdout);
    server.clock.advance(std::time::Duration::from_secs(5));
    let (status, body) = refresh_with(&refresh_token).await;
    assert_eq!((status, &body["error"]), (400, &json!("unauthorized_client")), "{body}");

    // The introspection capability, on and off.
    let on = admin.json(&["client", "update", id, "--introspect", "--json"]).await;
    assert_eq!((&on["introspect"], &on["scope"]), (&json!(true), &json!("read")));
    let off = admin.json(&["client", "update", id, "--no-introspect", "--json"]).await;
    assert_eq!(off["introspect"], false);
    let resource_server = admin.json(&["client", "create", "--name", "API", "--introspect", "--json"]).await;
    assert_eq!(resource_server["introspect"], true);

    // Requiring DPoP (RFC 9449), on and off, and at creation.
    assert_eq!(off["require_dpop"], false, "the default");
    let on = admin.json(&["client", "update", id, "--require-dpop", "--json"]).await;
    assert_eq!(on["require_dpop"], true);
    let off = admin.json(&["client", "update", id, "--no-require-dpop", "--json"]).await;
    assert_eq!(off["require_dpop"], false);
    let spa = admin.json(&["client", "create", "--name", "SPA", "--public", "--require-dpop", "--json"]).await;
    assert_eq!(spa["require_dpop"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_update_refuses_bad_input_and_changes_nothing() {
    let admin = Admin::new("client-update-errors");
    let created = admin.json(&["client", "create", "--name", "App", "--scope", "read", "--json"]).await;
    let id = created["client_id"].as_str().unwrap();
    let before = admin.json(&["client", "show", id, "--json"]).await;
    // (arguments after `client update`, what the error line says)
    let rows: &[(&[&str], &str)] = &[
        (&["nope", "--scope", "read"], "client nope does not exist"),
        (&[id, "--grant", "password", "--grant", "implicit", "--scope", "x"], "unknown grant type \"implicit\""),
        (&[id, "--redirect-uri", "not a url", "--name", "Y"], "redirect URI \"not a url\""),
        (&[id, "--name", " ", "--scope", "x"], "name must not be empty"),
        (&[id, "--scope", "bad\"quote"], "scope token"),
        (&[id], "nothing to change"),
    ];
    for (args, fragment) in rows {
        let output = admin.tessera(&["client", "update"]).args(*args).run().await;
        eprintln!("{args:?}: {}", output.stderr.trim_end());
        output.assert_one_line_error(fragment);
    }
    let both = admin.run(&["client", "update", id, "--introspect", "--no-introspect"]).await;
    assert!(both.code().is_some_and(|code| code != 0) && both.stderr.contains("--no-introspect"), "{}", both.stderr);
    let both = admin.run(&["client", "update", id, "--require-dpop", "--no-require-dpop"]).await;
    assert!(both.code().is_some_and(|code| code != 0) && both.stderr.contains("--no-require-dpop"), "{}", both.stderr);
    assert_eq!(admin.json(&["client", "show", id, "--json"]).await, before, "nothing changed");
    assert_eq!(admin.json(&["client", "list", "--json"]).await.as_array().unwrap().len(), 1);
}

/// Every admin command that changes something leaves one audit event (or two, where a key is
/// rotated in before a revocation, or a user's families go with the user): no actor, and a
/// detail that says it came from the command line. Never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_are_written_to_the_audit_log() {
    let admin = Admin::new("audit");
    admin.server().await.stop().await; // the first signing key and the master key file
    let created = admin.json(&["client", "create", "--name", "Audited", "--json"]).await;
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    admin.run(&["client", "update", id, "--name", "Audited too"]).await.success();
    let rotated = admin.json(&["client", "rotate-secret", id, "--json"]).await;
    admin.run(&["client", "delete", id]).await.success();
    // Another admin first: the last enabled admin could not be disabled.
    let root = ["user", "create", "--username", "root", "--admin", "--password-stdin"];
    admin.tessera(&root).stdin("pw\n").run().await.success();
    admin.tessera(&["user", "create", "--username", "bob", "--password-stdin"]).stdin("pw\n").run().await.success();
    admin.run(&["user", "update", "--username", "bob", "--admin"]).await.success();
    admin.run(&["user", "update", "--username", "bob", "--disable"]).await.success();
    let pat = admin.json(&["pat", "create", "--username", "bob", "--name", "ci", "--scope", "read", "--json"]).await;
    let pat_id = pat["id"].as_str().unwrap();
    admin.run(&["pat", "revoke", pat_id]).await.success();
    let kid = admin.json(&["keys", "rotate", "--json"]).await["kid"].as_str().unwrap().to_owned();
    let revoked = admin.json(&["keys", "revoke", &kid, "--rotate", "--json"]).await;
    let successor = revoked["new_active_kid"].as_str().unwrap();

    let server = admin.server().await;
    let query = tessera_server::store::audit::AuditQuery { limit: 100, ..Default::default() };
    let mut events = server.store().list_audit(&query).await.unwrap();
    events.reverse();
    let seen: Vec<(&str, &str)> = events.iter().map(|row| (row.action.as_str(), row.target.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("client.create", id),
            ("client.update", id),
            ("client.rotate_secret", id),
            ("client.delete", id),
            ("user.create", "root"),
            ("user.create", "bob"),
            ("user.grant_admin", "bob"),
            ("user.disable", "bob"),
            ("family.revoke", "bob"),
            ("pat.create", pat_id),
            ("pat.revoke", pat_id),
            ("key.rotate", kid.as_str()),
            ("key.rotate", successor),
            ("key.revoke", kid.as_str()),
        ]
    );
    let rotated_secret = rotated["client_secret"].as_str().unwrap();
    for row in &events {
        assert_eq!((row.actor.as_deref(), row.actor_id.as_ref(), row.address.as_deref()), (None, None, None));
        assert!(row.detail.starts_with("from the command line"), "{row:?}");
        assert!(!row.detail.contains(secret) && !row.detail.contains(rotated_secret), "{row:?}");
    }
    assert!(events[8].detail.contains("reason: user disabled"), "{:?}", events[8]);
    server.stop().await;
}

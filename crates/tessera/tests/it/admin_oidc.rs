//! The OpenID Connect fields of the admin commands: `user create --name --email-verified`,
//! `user update` (profile, admin flag, `--disable` / `--enable`), and `client create
//! --post-logout-redirect-uri`, checked through the store a server would read.

use serde_json::json;
use tessera_server::store::{Store, StoreOptions};

use crate::support::{TempDir, Tessera};

fn tessera(dir: &TempDir, args: &[&str]) -> Tessera {
    Tessera::in_dir(dir).args(args).args(["--database-url", &dir.database_url()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_client_commands_set_the_openid_connect_fields() {
    let dir = TempDir::new("admin-oidc");
    let create = ["user", "create", "--username", "alice", "--name", "Alice Liddell", "--email", "alice@example.test"];
    let created = tessera(&dir, &create)
        .args(["--email-verified", "--password-stdin", "--json"])
        .stdin("pw\n")
        .run()
        .await
        .success()
        .json();
    assert_eq!(
        (&created["name"], &created["email_verified"], &created["disabled"], &created["updated_at"]),
        (&json!("Alice Liddell"), &json!(true), &json!(false), &json!(null))
    );

    let update = ["user", "update", "--username", "alice", "--name", "", "--email-unverified", "--disable", "--json"];
    let updated = tessera(&dir, &update).run().await.success().json();
    assert_eq!(
        (&updated["name"], &updated["email"], &updated["email_verified"], &updated["disabled"]),
        (&json!(null), &json!("alice@example.test"), &json!(false), &json!(true))
    );
    assert!(updated["updated_at"].is_string(), "{updated}");
    let enabled = tessera(&dir, &["user", "update", "--username", "alice", "--enable", "--admin", "--json"])
        .run()
        .await
        .success()
        .json();
    assert_eq!((&enabled["disabled"], &enabled["admin"]), (&json!(false), &json!(true)));
    let missing = tessera(&dir, &["user", "update", "--username", "nobody", "--disable"]).run().await;
    assert!(!missing.status.success() && missing.stderr.contains("does not exist"), "{}", missing.stderr);
    let both = tessera(&dir, &["user", "update", "--username", "alice", "--disable", "--enable"]).run().await;
    assert!(!both.status.success(), "--disable and --enable conflict");
    // alice is the only enabled admin: the command line keeps the console's rule.
    for last in [["--no-admin"], ["--disable"]] {
        let refused = tessera(&dir, &["user", "update", "--username", "alice"]).args(last).run().await;
        assert!(!refused.status.success() && refused.stderr.contains("last enabled admin"), "{}", refused.stderr);
    }
    let listed = tessera(&dir, &["user", "update", "--username", "alice", "--json"]).run().await.success().json();
    assert_eq!((&listed["disabled"], &listed["admin"]), (&json!(false), &json!(true)), "nothing changed");

    let client =
        tessera(&dir, &["client", "create", "--name", "RP", "--post-logout-redirect-uri", "https://rp.example/bye"])
            .args(["--post-logout-redirect-uri", "https://rp.example/again", "--json"])
            .run()
            .await
            .success()
            .json();
    assert_eq!(client["post_logout_redirect_uris"], json!(["https://rp.example/bye", "https://rp.example/again"]));
    let refused =
        tessera(&dir, &["client", "create", "--name", "Bad", "--post-logout-redirect-uri", "not a uri"]).run().await;
    assert!(!refused.status.success() && refused.stderr.contains("not a uri"), "{}", refused.stderr);

    let store = Store::connect(&dir.database_url(), &StoreOptions::default()).await.unwrap();
    let id = client["client_id"].as_str().unwrap().into();
    let stored = store.client_post_logout_redirect_uris(&id).await.unwrap();
    assert_eq!(stored, Some(vec!["https://rp.example/bye".to_owned(), "https://rp.example/again".to_owned()]));
    assert_eq!(store.list_clients().await.unwrap().len(), 1, "the refused client was not created");
    let user = store.get_user_by_username("alice").await.unwrap().unwrap();
    assert!(user.is_admin && !user.disabled && user.name.is_none());
    store.close().await;
}

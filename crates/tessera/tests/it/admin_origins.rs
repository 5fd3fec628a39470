//! `tessera client create/update --allowed-origin` (CORS for browser apps, issue 12): origins
//! are normalised, `update` replaces them, `--no-allowed-origins` clears them, and a bad origin
//! is a readable error that changes nothing.

use serde_json::json;
use tessera_server::store::{Store, StoreOptions};

use crate::support::{TempDir, Tessera};

fn tessera(dir: &TempDir, args: &[&str]) -> Tessera {
    Tessera::in_dir(dir).args(args).args(["--database-url", &dir.database_url()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_are_normalised_replaced_and_bad_ones_change_nothing() {
    let dir = TempDir::new("admin-origins");
    let create = ["client", "create", "--name", "SPA", "--public", "--allowed-origin", "HTTPS://App.Example:443"];
    let client = tessera(&dir, &create)
        .args(["--allowed-origin", "http://127.0.0.1:5173", "--allowed-origin", "https://app.example", "--json"])
        .run()
        .await
        .success()
        .json();
    assert_eq!(client["allowed_origins"], json!(["http://127.0.0.1:5173", "https://app.example"]));
    let id = client["client_id"].as_str().unwrap().to_owned();

    // Bad origins: an error that names the origin and says what is wrong, nothing created or changed.
    let bad = [
        ("https://app.example/callback", "must not have a path"),
        ("app.example", "scheme://host[:port]"),
        ("*", "scheme://host[:port]"),
        ("https://app.example?x", "must not have a path"),
    ];
    for (origin, says) in bad {
        let refused = tessera(&dir, &["client", "create", "--name", "Bad", "--allowed-origin", origin]).run().await;
        assert!(!refused.status.success(), "create with {origin:?} succeeded");
        assert!(refused.stderr.contains(origin) && refused.stderr.contains(says), "{origin:?}: {}", refused.stderr);
        let refused = tessera(&dir, &["client", "update", &id, "--allowed-origin", "https://ok.example"])
            .args(["--allowed-origin", origin])
            .run()
            .await;
        assert!(!refused.status.success(), "update with {origin:?} succeeded");
        assert!(refused.stderr.contains(origin), "{origin:?}: {}", refused.stderr);
    }
    let shown = tessera(&dir, &["client", "show", &id, "--json"]).run().await.success().json();
    assert_eq!(shown["allowed_origins"], client["allowed_origins"], "a refused update changed nothing");

    // `update` replaces the list; `--no-allowed-origins` empties it.
    let updated = tessera(&dir, &["client", "update", &id, "--allowed-origin", "https://new.example", "--json"])
        .run()
        .await
        .success()
        .json();
    assert_eq!(updated["allowed_origins"], json!(["https://new.example"]));
    let text = tessera(&dir, &["client", "show", &id]).run().await.success().stdout;
    assert!(text.contains("allowed_origins: https://new.example"), "{text}");
    let cleared =
        tessera(&dir, &["client", "update", &id, "--no-allowed-origins", "--json"]).run().await.success().json();
    assert_eq!(cleared["allowed_origins"], json!([]));

    let store = Store::connect(&dir.database_url(), &StoreOptions::default()).await.unwrap();
    assert_eq!(store.list_clients().await.unwrap().len(), 1, "no refused client was created");
    assert!(store.allowed_origins().await.unwrap().is_empty());
    store.close().await;
}

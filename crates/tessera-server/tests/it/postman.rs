//! The Postman collection (`interop/postman/`), run by Postman's own runner, newman, against a
//! real server: client credentials, the password grant, refreshes as Postman's OAuth 2.0
//! helper and the guide's cURL recipe send them, the API, reuse after rotation and revocation.
//! The collection's `pm.test` assertions are the checks; this test makes sure they all ran and
//! passed. newman is installed into `target/recipes/` by `scripts/install-test-deps.sh`.

use crate::helpers::{Fixture, PASSWORD, USERNAME, repository_root};
use serde_json::Value;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tokio::process::Command;

/// The grants the collection uses; the client is registered with exactly these.
const GRANTS: &[&str] = &["password", "refresh_token", "client_credentials"];

/// The requests of a collection, folders walked in order, as newman runs them.
fn requests(items: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in items.as_array().into_iter().flatten() {
        match item.get("item") {
            Some(children) => names.extend(requests(children)),
            None => names.push(item["name"].as_str().unwrap_or_default().to_owned()),
        }
    }
    names
}

async fn postman_collection_passes_under_newman(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let client = fixture.server.client("Postman", GRANTS, "read write", false).await;
    let folder = repository_root().join("interop/postman");
    let collection_path = folder.join("tessera.postman_collection.json");
    let collection: Value = serde_json::from_str(&std::fs::read_to_string(&collection_path).unwrap()).unwrap();
    let report = fixture.server.directory.join("newman-report.json");
    let newman = repository_root().join("target/recipes/node_modules/.bin/newman");
    let variables = [
        ("base_url", fixture.server.base_url.as_str()),
        ("client_id", client.client_id.as_str()),
        ("client_secret", client.client_secret.as_deref().unwrap()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let mut command = Command::new(&newman);
    command
        .arg("run")
        .arg(&collection_path)
        .arg("--environment")
        .arg(folder.join("tessera.postman_environment.json"))
        .args(["--reporters", "cli,json", "--color", "off", "--reporter-json-export"])
        .arg(&report);
    for (name, value) in variables {
        command.arg("--env-var").arg(format!("{name}={value}"));
    }
    let output = command.output().await.unwrap_or_else(|error| {
        panic!("cannot run {}: {error} (scripts/install-test-deps.sh installs newman)", newman.display())
    });
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "newman failed ({}):\n{transcript}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Shown with `--nocapture`: the CLI reporter's summary.
    println!("{transcript}");

    // Every request ran, and every one asserted something that passed: a collection that lost
    // its scripts, or a run that stopped early, does not pass.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let run = &report["run"];
    let expected = requests(&collection["item"]);
    let executed: Vec<&str> = run["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|execution| execution["item"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(executed, expected, "newman ran every request once, in order");
    assert_eq!(run["failures"].as_array().map(Vec::len), Some(0), "{}", run["failures"]);
    for execution in run["executions"].as_array().unwrap() {
        let assertions = execution["assertions"].as_array().map(Vec::len).unwrap_or_default();
        assert!(assertions > 0, "{} asserts nothing", execution["item"]["name"]);
    }
    assert_eq!(run["stats"]["assertions"]["failed"], 0);
    assert_eq!(run["stats"]["testScripts"]["failed"], 0, "a test script threw");
}

on_both_backends!(postman_collection_passes_under_newman);

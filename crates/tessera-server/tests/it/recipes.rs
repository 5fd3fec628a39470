//! The guide's recipes, run as the guide writes them (`recipes/` at the repository root)
//! against a real server: only the host, refresh token, client id and secret are substituted.

use crate::helpers::{Fixture, repository_root, str_field};
use tokio::process::Command;

/// Runs a recipe after substitution; returns its standard output. Asynchronously: the server
/// under test runs on this same runtime.
async fn run_recipe(fixture: &Fixture, file: &str, program: &str, refresh_token: &str) -> String {
    let source = std::fs::read_to_string(repository_root().join("recipes").join(file)).unwrap();
    let script = source
        .replace("https://<your-instance>.processmaker.net", &fixture.server.base_url)
        .replace("<your-refresh-token>", refresh_token)
        .replace("<your-client-id>", &fixture.app.client_id)
        .replace("<your-client-secret>", fixture.secret());
    let path = fixture.server.directory.join(file);
    std::fs::write(&path, script).unwrap();
    let output = Command::new(program)
        .arg(&path)
        .env("NODE_PATH", repository_root().join("target/recipes/node_modules"))
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run {program}: {error} (scripts/test.sh installs what recipes need)"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && !stdout.is_empty(),
        "{file} failed ({}):\nstdout: {stdout}\nstderr: {stderr}\n(missing requests/axios? run scripts/install-test-deps.sh)",
        output.status
    );
    stdout
}

/// After a recipe: the printed access token works, and the presented refresh token is spent.
async fn assert_refreshed(fixture: &Fixture, access_token: &str, old_refresh_token: &str) {
    assert_eq!(fixture.me(access_token).await.status(), 200, "the new access token works");
    let (_, body) = fixture
        .post_form(
            "/oauth/introspect",
            &[("token", old_refresh_token), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())],
        )
        .await;
    assert_eq!(body["active"], false, "the presented refresh token was rotated");
}

fn printed_access_token(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("New Access Token: "))
        .unwrap_or_else(|| panic!("no access token printed: {stdout}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn python_requests_recipe() {
    let fixture = Fixture::start().await;
    let (_, refresh_token) = fixture.login().await;
    let stdout = run_recipe(&fixture, "refresh.py", "python3", &refresh_token).await;
    assert_refreshed(&fixture, &printed_access_token(&stdout), &refresh_token).await;
}

#[tokio::test]
async fn node_axios_recipe_posts_json() {
    let fixture = Fixture::start().await;
    let (_, refresh_token) = fixture.login().await;
    let stdout = run_recipe(&fixture, "refresh.js", "node", &refresh_token).await;
    assert_refreshed(&fixture, &printed_access_token(&stdout), &refresh_token).await;
}

#[tokio::test]
async fn curl_recipe() {
    let fixture = Fixture::start().await;
    let (_, refresh_token) = fixture.login().await;
    let stdout = run_recipe(&fixture, "refresh.sh", "sh", &refresh_token).await;
    let body: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(str_field(&body, "refresh_token").starts_with("tsr_"));
    assert_refreshed(&fixture, &str_field(&body, "access_token"), &refresh_token).await;
}

#[tokio::test]
async fn postman_basic_auth_recipe() {
    let fixture = Fixture::start().await;
    let (_, refresh_token) = fixture.login().await;
    let stdout = run_recipe(&fixture, "postman.sh", "sh", &refresh_token).await;
    let body: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_refreshed(&fixture, &str_field(&body, "access_token"), &refresh_token).await;
}

#[tokio::test]
async fn access_token_verifies_with_pyjwt_against_jwks() {
    let fixture = Fixture::start().await;
    let (access_token, _) = fixture.login().await;
    let output = Command::new("python3")
        .arg(repository_root().join("recipes/verify_jwt.py"))
        .arg(&fixture.server.base_url)
        .arg(&access_token)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "PyJWT refused the token: {}", String::from_utf8_lossy(&output.stderr));
    let claims: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(claims["sub"], fixture.user_id.as_str());
    assert_eq!(claims["client_id"], fixture.app.client_id.as_str());
    // And a token whose signature was altered is refused by PyJWT too.
    let mut forged = access_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let output = Command::new("python3")
        .arg(repository_root().join("recipes/verify_jwt.py"))
        .arg(&fixture.server.base_url)
        .arg(&forged)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "PyJWT accepted a forged token");
}

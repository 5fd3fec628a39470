//! Shared fixtures: a server with one confidential client, one public client and one user.

use serde_json::Value;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::{TestClient, TestDatabase, TestServer};

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Fixture {
    pub server: TestServer,
    pub http: reqwest::Client,
    pub app: TestClient,
    pub public: TestClient,
    pub other: TestClient,
    pub user_id: String,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Self::with(RawConfig::default()).await
    }

    pub async fn with(overrides: RawConfig) -> Fixture {
        Self::on(Backend::Sqlite, overrides).await
    }

    /// A fixture on a fresh database of `backend` (PostgreSQL needs `TESSERA_TEST_POSTGRES_URL`;
    /// the `on_both_backends!` macro skips before getting here when it is unset).
    pub async fn on(backend: Backend, overrides: RawConfig) -> Fixture {
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres().await.expect("TESSERA_TEST_POSTGRES_URL is set"),
        };
        Self::serve(TestServer::start_on(database, overrides).await).await
    }

    /// Registers the fixture's clients and user on an already started server.
    pub async fn serve(server: TestServer) -> Fixture {
        let app = server.client("app", &[], "read write", false).await;
        let public = server.client("cli", &[], "read write", true).await;
        let other = server.client("other", &[], "read write", false).await;
        let user_id = server.user(USERNAME, PASSWORD).await;
        Fixture { server, http: reqwest::Client::new(), app, public, other, user_id }
    }

    pub fn secret(&self) -> &str {
        self.app.client_secret.as_deref().unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// POSTs a form to the token endpoint as the confidential client (client_secret_post).
    pub async fn token(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("client_id", &self.app.client_id));
        form.push(("client_secret", self.secret()));
        self.post_form("/oauth/token", &form).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self.http.post(self.url(path)).form(form).send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The password grant for the fixture user; returns (access token, refresh token).
    pub async fn login(&self) -> (String, String) {
        let (status, body) =
            self.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{body}");
        (str_field(&body, "access_token"), str_field(&body, "refresh_token"))
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        self.http.get(self.url("/api/1.0/users/me")).bearer_auth(access_token).send().await.expect("request")
    }
}

/// The repository's root, where `recipes/`, `interop/` and `target/recipes/` are.
pub fn repository_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn str_field(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("no string `{name}` in {body}")).to_owned()
}

impl Fixture {
    /// The server's own janitor (`App::janitor`), to run a pass on demand.
    pub fn server_janitor(&self) -> &tessera_server::janitor::Janitor {
        self.server.janitor()
    }
}

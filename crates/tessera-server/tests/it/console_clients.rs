//! The console's clients pages over HTTP: bad input refused next to its field with nothing
//! changed, the secret shown once, rotation, deletion that revokes the client's live families,
//! and the gate (non-admins 403 on every page and action; a missing or wrong anti-CSRF token
//! 403 with nothing changed).

use crate::authorize::{Browser, Page, csrf};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use tessera_server::store::audit::AuditQuery;

pub(crate) const ADMIN: &str = "root";

/// A cookie-jar browser signed in as `username` through `/login`.
pub(crate) async fn signed_in<'a>(fixture: &'a Fixture, username: &str) -> Browser<'a> {
    let mut browser = Browser::new(fixture);
    let login = browser.get_at("/login", &[("return_to", "/console")]).await;
    let token = csrf(&login);
    let form = [("csrf", token.as_str()), ("return_to", "/console"), ("username", username), ("password", PASSWORD)];
    let signed_in = browser.post_at("/login", &form).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    browser
}

/// The audit entries of `action`, newest first.
pub(crate) async fn audited(fixture: &Fixture, action: &str) -> Vec<tessera_server::store::audit::AuditRow> {
    let query = AuditQuery { action: Some(action.into()), limit: 100, ..AuditQuery::default() };
    fixture.server.store().list_audit(&query).await.unwrap()
}

/// The text of the element with `id` in a page (its first `>` to the next `<`).
pub(crate) fn element_text(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = page.body.find(&marker).unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[start..];
    let open = rest.find('>').unwrap() + 1;
    rest[open..].split('<').next().unwrap().to_owned()
}

/// The one-time secret on a secret page.
fn shown_secret(page: &Page) -> String {
    element_text(page, "client-secret")
}

const DEFAULTS: &[(&str, &str)] = &[
    ("kind", "confidential"),
    ("name", "Billing"),
    ("grant_types", "password"),
    ("grant_types", "refresh_token"),
    ("scope", "read write"),
    ("redirect_uris", "https://billing.example/callback"),
    ("post_logout_redirect_uris", ""),
    ("allowed_origins", ""),
];

/// The default form with `changes` replacing fields of the same name (a `("grant_types", …)`
/// change replaces every grant).
fn client_form<'a>(token: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("csrf", token)];
    form.extend(DEFAULTS.iter().filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name)));
    form.extend(changes.iter());
    form
}

/// Changed fields, the id of the message next to the field, and what it says.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn bad_client_input_is_refused_next_to_its_field_and_changes_nothing() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = signed_in(&fixture, ADMIN).await;
    let store = fixture.server.store();
    let before = store.list_clients().await.unwrap();
    let new = browser.get_at("/console/clients/new", &[]).await;
    assert_eq!(new.status, 200, "{}", new.body);
    let token = csrf(&new);
    let cases: &[Case<'_>] = &[
        (&[("name", "  ")], "name-error", "the name must not be empty"),
        (&[("redirect_uris", "/callback")], "redirect_uris-error", "must be an absolute URL without a fragment"),
        (&[("redirect_uris", "https://a.example/cb#frag")], "redirect_uris-error", "without a fragment"),
        (&[("scope", "read \"write\"")], "scope-error", ""),
        (&[("scope", "read\\x")], "scope-error", ""),
        (&[("grant_types", "telepathy")], "grant_types-error", "unknown grant type"),
        (&[("grant_types", "")], "grant_types-error", "at least one grant type"),
        (&[("allowed_origins", "https://app.example/path")], "allowed_origins-error", ""),
        (&[("allowed_origins", "app.example")], "allowed_origins-error", ""),
        (&[("post_logout_redirect_uris", "https://a.example/bye#x")], "post_logout_redirect_uris-error", "fragment"),
    ];
    for (changes, field, message) in cases {
        let form = client_form(&token, changes);
        let refused = browser.post_at("/console/clients", &form).await;
        assert_eq!(refused.status, 422, "{changes:?}: {}", refused.body);
        let shown = element_text(&refused, field);
        assert!(!shown.is_empty() && shown.contains(message), "{changes:?}: {field} says {shown:?}");
        assert!(refused.body.contains("aria-invalid=\"true\"") || *field == "grant_types-error", "{changes:?}");
        assert_eq!(store.list_clients().await.unwrap().len(), before.len(), "{changes:?}: nothing registered");
    }
    assert!(audited(&fixture, "client.create").await.is_empty(), "no audit entry for a refused form");

    // The same rules when changing a client: the form back, the client as it was.
    let client_id = fixture.app.client_id.clone();
    let path = format!("/console/clients/{client_id}");
    let stored = store.get_client(&tessera_core::ClientId::new(client_id.clone())).await.unwrap().unwrap();
    for (changes, field, message) in cases {
        let form = client_form(&token, changes);
        let refused = browser.post_at(&path, &form).await;
        assert_eq!(refused.status, 422, "update {changes:?}: {}", refused.body);
        assert!(element_text(&refused, field).contains(message), "update {changes:?}");
        let now = store.get_client(&stored.client_id).await.unwrap().unwrap();
        assert_eq!((now.name.as_str(), now.scope.to_string()), (stored.name.as_str(), stored.scope.to_string()));
        assert_eq!(now.redirect_uris, stored.redirect_uris, "update {changes:?}");
    }
    assert!(audited(&fixture, "client.update").await.is_empty());
}

#[tokio::test]
async fn a_client_is_created_with_its_secret_shown_once_rotated_and_deleted_with_its_families() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = signed_in(&fixture, ADMIN).await;
    let token = csrf(&browser.get_at("/console/clients/new", &[]).await);
    let form = client_form(
        &token,
        &[
            ("post_logout_redirect_uris", "https://billing.example/bye"),
            ("allowed_origins", "HTTPS://Billing.Example:443"),
            ("introspect", "on"),
        ],
    );
    let created = browser.post_at("/console/clients", &form).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("cache-control"), "no-store");
    assert!(created.body.contains("you will not see it again"), "{}", created.body);
    assert!(created.body.contains("data-copy=\"client-secret\""), "a copy button");
    let secret = shown_secret(&created);
    let client_id = element_text(&created, "client-id");
    let client =
        fixture.server.store().get_client(&tessera_core::ClientId::new(client_id.clone())).await.unwrap().unwrap();
    assert_eq!(client.allowed_origins.iter().map(ToString::to_string).collect::<Vec<_>>(), ["https://billing.example"]);
    assert_eq!(client.introspection, tessera_core::IntrospectionAccess::AnyAccessToken);
    let logout = fixture.server.store().client_post_logout_redirect_uris(&client.client_id).await.unwrap();
    assert_eq!(logout, Some(vec!["https://billing.example/bye".to_owned()]));
    // The client page never shows the secret again.
    let shown = browser.get_at(&format!("/console/clients/{client_id}"), &[]).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.body.contains(&secret), "the secret is shown once only");

    // The secret works: alice signs in through the new client (one live family).
    let fixture_ref = &fixture;
    let grant = |secret: String| {
        let client_id = client_id.clone();
        async move {
            let form = [
                ("grant_type", "password"),
                ("username", USERNAME),
                ("password", PASSWORD),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
            ];
            fixture_ref.post_form("/oauth/token", &form).await
        }
    };
    let (status, tokens) = grant(secret.clone()).await;
    assert_eq!(status, 200, "{tokens}");
    let access = str_field(&tokens, "access_token");
    assert_eq!(fixture.me(&access).await.status(), 200);

    // Rotation: a new secret, shown once; the old one stops working.
    let rotated = browser.post_at(&format!("/console/clients/{client_id}/rotate"), &[("csrf", token.as_str())]).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = shown_secret(&rotated);
    assert_ne!(new_secret, secret);
    assert_eq!(grant(secret).await.0, 401, "the old secret no longer works");
    assert_eq!(grant(new_secret.clone()).await.0, 200, "the new one does");

    // Deletion: the confirmation names the live families (two now), then revokes them.
    let confirm = browser.get_at(&format!("/console/clients/{client_id}/delete"), &[]).await;
    assert_eq!(confirm.status, 200);
    assert!(element_text(&confirm, "family-count").contains("It revokes "), "{}", confirm.body);
    assert!(confirm.body.contains("<strong>2</strong> live refresh-token families"), "{}", confirm.body);
    let deleted = browser.post_at(&format!("/console/clients/{client_id}/delete"), &[("csrf", token.as_str())]).await;
    assert_eq!((deleted.status, deleted.location.as_deref()), (303, Some("/console/clients")));
    assert!(fixture.server.store().get_client(&client.client_id).await.unwrap().is_none());
    assert_eq!(fixture.me(&access).await.status(), 401, "the family's access token is refused at once");
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    assert_ne!(fixture.post_form("/oauth/token", &refresh).await.0, 200);

    // A public client has no secret: POST/redirect/GET to its page.
    let public = client_form(&token, &[("kind", "public"), ("name", "Phone app")]);
    let registered = browser.post_at("/console/clients", &public).await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    let location = registered.location.unwrap();
    assert!(location.starts_with("/console/clients/") && location.ends_with("?registered"), "{location}");
    let page = browser.get_at(location.split('?').next().unwrap(), &[("registered", "")]).await;
    assert!(element_text(&page, "done").contains("It is public: it has no secret"), "{}", page.body);
    let phone = fixture.server.store().list_clients().await.unwrap().into_iter().find(|c| c.name == "Phone app");
    assert!(phone.unwrap().is_public());

    let entries = audited(&fixture, "client.").await;
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["client.create", "client.delete", "client.rotate_secret", "client.create"]);
    let entries = &entries[1..];
    assert!(entries[0].detail.contains("2 live families revoked"), "{}", entries[0].detail);
    assert_eq!(entries[0].actor.as_deref(), Some(ADMIN));
    for entry in entries {
        assert!(!entry.detail.contains(&new_secret), "no secret in the audit log");
    }
}

/// Every page and every action of the clients, users and sessions sections.
pub(crate) fn console_paths(client_id: &str, user_id: &str) -> (Vec<String>, Vec<String>) {
    let pages = [
        "/console/clients".to_owned(),
        "/console/clients/new".to_owned(),
        format!("/console/clients/{client_id}"),
        format!("/console/clients/{client_id}/delete"),
        "/console/users".to_owned(),
        "/console/users/new".to_owned(),
        format!("/console/users/{user_id}"),
        "/console/sessions".to_owned(),
        format!("/console/sessions?user={user_id}"),
        format!("/console/sessions?client={client_id}"),
    ];
    let actions = [
        "/console/clients".to_owned(),
        format!("/console/clients/{client_id}"),
        format!("/console/clients/{client_id}/rotate"),
        format!("/console/clients/{client_id}/delete"),
        "/console/users".to_owned(),
        format!("/console/users/{user_id}/password"),
        format!("/console/users/{user_id}/admin"),
        format!("/console/users/{user_id}/disabled"),
        format!("/console/users/{user_id}/throttle"),
        "/console/sessions/families/nonexistent/revoke".to_owned(),
        "/console/sessions/browser/nonexistent/end".to_owned(),
    ];
    (pages.to_vec(), actions.to_vec())
}

#[tokio::test]
async fn the_clients_users_and_sessions_sections_are_for_admins_with_genuine_forms_only() {
    let fixture = Fixture::start().await;
    let admin_id = fixture.server.admin(ADMIN, PASSWORD).await;
    let (pages, actions) = console_paths(&fixture.app.client_id, &admin_id);
    let store = fixture.server.store();
    let snapshot = || async {
        let clients = store.list_clients().await.unwrap();
        let all = tessera_server::store::console::Paging { limit: 100, offset: 0 };
        let users = store.list_users(None, all).await.unwrap();
        let families = store
            .count_live_families(tessera_server::store::console::Owner::Everyone, tessera_core::Timestamp::from_secs(0))
            .await
            .unwrap();
        (
            clients
                .iter()
                .map(|c| (c.client_id.to_string(), c.name.clone(), c.secret_hash.clone()))
                .collect::<Vec<_>>(),
            users
                .iter()
                .map(|u| (u.username.clone(), u.is_admin, u.disabled, u.password_hash.clone()))
                .collect::<Vec<_>>(),
            families,
        )
    };
    fixture.login().await;
    let before = snapshot().await;
    let fields = |token: String| {
        let mut form: Vec<(String, String)> =
            client_form("", &[("set", "false"), ("password", "new password"), ("username", "mallory")])
                .into_iter()
                .filter(|(name, _)| *name != "csrf")
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
        if !token.is_empty() {
            form.push(("csrf".to_owned(), token));
        }
        form
    };

    // A signed-in user without the admin flag: 403 everywhere, even with the session's token.
    let mut user = signed_in(&fixture, USERNAME).await;
    let refused = user.get_at("/console/clients", &[]).await;
    let user_token = csrf(&refused);
    for path in &pages {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let query: Vec<(&str, &str)> = query.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let page = user.get_at(path, &query).await;
        assert_eq!(page.status, 403, "GET {path} as a user: {}", page.body);
        assert!(page.body.contains("for administrators"), "GET {path}");
    }
    for path in &actions {
        let form = fields(user_token.clone());
        let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let page = user.post_at(path, &form).await;
        assert_eq!(page.status, 403, "POST {path} as a user: {}", page.body);
    }

    // An admin, with the anti-CSRF token missing or wrong: 403 for every action.
    let mut admin = signed_in(&fixture, ADMIN).await;
    let admin_token = csrf(&admin.get_at("/console/clients", &[]).await);
    for token in [String::new(), user_token.clone(), "AAAA".to_owned()] {
        for path in &actions {
            let form = fields(token.clone());
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let page = admin.post_at(path, &form).await;
            assert_eq!(page.status, 403, "POST {path} with csrf {token:?}: {}", page.body);
            assert!(page.body.contains("anti-CSRF"), "POST {path}");
        }
    }
    assert_eq!(snapshot().await, before, "nothing changed");
    assert!(store.list_audit(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap().is_empty());
    // The admin's own token works (the same form, accepted).
    let renamed = admin
        .post_at(
            &format!("/console/clients/{}", fixture.app.client_id),
            &[("csrf", admin_token.as_str()), ("name", "Renamed"), ("grant_types", "password"), ("scope", "read")],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
}

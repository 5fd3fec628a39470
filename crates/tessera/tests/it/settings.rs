//! Configuration through the binary: flag > environment variable > `--config` TOML file >
//! default (DESIGN.md §2), observed from outside, and invalid values refused with one readable
//! line that names the setting.

use crate::support::{Server, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// Where one setting comes from in a row of the precedence table.
#[derive(Clone, Copy)]
struct Sources<'a> {
    file: Option<&'a str>,
    env: Option<&'a str>,
    flag: Option<&'a str>,
}

const NONE: Sources<'static> = Sources { file: None, env: None, flag: None };

/// One `tessera serve` configured from a mix of sources, and what it must end up using.
struct PrecedenceRow {
    name: &'static str,
    access_token_ttl: Sources<'static>,
    issuer: Sources<'static>,
    /// Give the file through `TESSERA_CONFIG` instead of `--config`.
    config_from_env: bool,
    expected_expires_in: u64,
    /// `None`: the default, `http://<listen address>`.
    expected_issuer: Option<&'static str>,
}

impl PrecedenceRow {
    fn command(&self, dir: &TempDir) -> Tessera {
        let mut toml = String::new();
        let mut tessera = Tessera::in_dir(dir);
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--database-url".into(),
            dir.database_url(),
        ];
        for (key, sources) in [("access_token_ttl", self.access_token_ttl), ("issuer", self.issuer)] {
            if let Some(value) = sources.file {
                toml.push_str(&format!("{key} = \"{value}\"\n"));
            }
            if let Some(value) = sources.env {
                tessera = tessera.env(&format!("TESSERA_{}", key.to_uppercase()), value);
            }
            if let Some(value) = sources.flag {
                args.push(format!("--{}", key.replace('_', "-")));
                args.push(value.to_owned());
            }
        }
        if !toml.is_empty() {
            let path = dir.write(&format!("{}.toml", self.name), &toml);
            if self.config_from_env {
                tessera = tessera.env("TESSERA_CONFIG", path);
            } else {
                args.push("--config".into());
                args.push(path.display().to_string());
            }
        }
        tessera.args(args)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_beats_the_environment_which_beats_the_config_file_which_beats_the_default() {
    let dir = TempDir::new("precedence");
    let database = dir.database_url();
    let client = Tessera::in_dir(&dir)
        .args(["client", "create", "--name", "precedence", "--json", "--database-url", &database])
        .run()
        .await
        .success()
        .json();
    Tessera::in_dir(&dir)
        .args(["user", "create", "--username", USERNAME, "--password-stdin", "--database-url", &database])
        .stdin(&format!("{PASSWORD}\n"))
        .run()
        .await
        .success();

    let rows = [
        PrecedenceRow {
            name: "defaults",
            access_token_ttl: NONE,
            issuer: NONE,
            config_from_env: false,
            expected_expires_in: 3600,
            expected_issuer: None,
        },
        PrecedenceRow {
            name: "file",
            access_token_ttl: Sources { file: Some("5m"), ..NONE },
            issuer: Sources { file: Some("https://file.example"), ..NONE },
            config_from_env: false,
            expected_expires_in: 300,
            expected_issuer: Some("https://file.example"),
        },
        PrecedenceRow {
            name: "file-named-by-environment",
            access_token_ttl: Sources { file: Some("5m"), ..NONE },
            issuer: NONE,
            config_from_env: true,
            expected_expires_in: 300,
            expected_issuer: None,
        },
        PrecedenceRow {
            name: "environment-over-file",
            access_token_ttl: Sources { file: Some("5m"), env: Some("2m"), flag: None },
            issuer: Sources { file: Some("https://file.example"), env: Some("https://env.example"), flag: None },
            config_from_env: false,
            expected_expires_in: 120,
            expected_issuer: Some("https://env.example"),
        },
        PrecedenceRow {
            name: "flag-over-all",
            access_token_ttl: Sources { file: Some("5m"), env: Some("2m"), flag: Some("3m") },
            issuer: Sources {
                file: Some("https://file.example"),
                env: Some("https://env.example"),
                flag: Some("https://flag.example"),
            },
            config_from_env: false,
            expected_expires_in: 180,
            expected_issuer: Some("https://flag.example"),
        },
        PrecedenceRow {
            name: "each-setting-on-its-own",
            access_token_ttl: Sources { file: Some("5m"), env: Some("2m"), flag: None },
            issuer: Sources { file: Some("https://file.example"), env: None, flag: Some("https://flag.example") },
            config_from_env: false,
            expected_expires_in: 120,
            expected_issuer: Some("https://flag.example"),
        },
    ];

    let http = reqwest::Client::new();
    for row in rows {
        let server = Server::start(row.command(&dir)).await;
        let issuer = row.expected_issuer.map(str::to_owned).unwrap_or_else(|| server.base_url.clone());
        assert!(server.line.contains(&format!("(issuer {issuer},")), "{}: {}", row.name, server.line);

        let response = http
            .post(server.url("/oauth/token"))
            .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
            .form(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", row.name);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["expires_in"], row.expected_expires_in, "{}: {body}", row.name);
        server.stop().await;
    }
}

/// The admin commands find their database the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_take_the_database_from_flag_environment_or_file() {
    let dir = TempDir::new("admin-database");
    let ours = dir.database_url();
    let other = format!("sqlite://{}", dir.path().join("other.db").display());
    let created = Tessera::in_dir(&dir)
        .args(["client", "create", "--name", "where", "--json", "--database-url", &ours])
        .run()
        .await
        .success()
        .json();
    let ours_file = dir.write("ours.toml", &format!("database_url = \"{ours}\"\n"));
    let other_file = dir.write("other.toml", &format!("database_url = \"{other}\"\n"));

    // (name, flag, environment, config file)
    let rows = [
        ("flag", Some(&ours), None, None),
        ("environment", None, Some(&ours), None),
        ("file", None, None, Some(&ours_file)),
        ("flag over environment", Some(&ours), Some(&other), None),
        ("environment over file", None, Some(&ours), Some(&other_file)),
        ("flag over file", Some(&ours), None, Some(&other_file)),
    ];
    for (name, flag, environment, file) in rows {
        let mut tessera = Tessera::in_dir(&dir).args(["client", "list", "--json"]);
        if let Some(url) = flag {
            tessera = tessera.args(["--database-url", url]);
        }
        if let Some(url) = environment {
            tessera = tessera.env("TESSERA_DATABASE_URL", url);
        }
        if let Some(path) = file {
            tessera = tessera.args([std::ffi::OsStr::new("--config"), path.as_os_str()]);
        }
        let listed = tessera.run().await.success().json();
        let ids: Vec<_> = listed.as_array().unwrap().iter().map(|client| client["client_id"].clone()).collect();
        assert_eq!(ids, vec![created["client_id"].clone()], "{name}");
    }
}

/// How a row of the invalid-settings table gives its value.
enum Given {
    Flags(&'static [&'static str]),
    Environment(&'static str, &'static str),
    /// The text of a `--config` file.
    File(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_fail_with_one_line_naming_the_setting() {
    use Given::{Environment, File, Flags};
    let dir = TempDir::new("invalid");
    let database = dir.database_url();
    let serve = ["serve"];
    // Should a row be accepted after all, its server must not take a fixed port.
    let tessera = || Tessera::in_dir(&dir).env("TESSERA_LISTEN", "127.0.0.1:0");
    // (the invalid value, what the one error line must contain: the setting's name)
    let rows = [
        (Flags(&["--access-token-ttl", "30"]), "TESSERA_ACCESS_TOKEN_TTL"),
        (Environment("TESSERA_ACCESS_TOKEN_TTL", "30"), "TESSERA_ACCESS_TOKEN_TTL"),
        (File("access_token_ttl = \"30\""), "TESSERA_ACCESS_TOKEN_TTL"),
        (Flags(&["--access-token-ttl", "0s"]), "TESSERA_ACCESS_TOKEN_TTL"),
        (Flags(&["--refresh-grace", "soon"]), "TESSERA_REFRESH_GRACE"),
        (Environment("TESSERA_REFRESH_IDLE_TTL", "0s"), "TESSERA_REFRESH_IDLE_TTL"),
        (File("no_such_setting = 1"), "unknown field `no_such_setting`"),
        (File("listen = "), "is not valid"),
        (Flags(&["--listen", "localhost"]), "TESSERA_LISTEN"),
        (Flags(&["--issuer", "ftp://auth.example"]), "TESSERA_ISSUER"),
        (Environment("TESSERA_MASTER_KEY", "too short"), "TESSERA_MASTER_KEY"),
        (Flags(&["--signing-alg", "RS256"]), "TESSERA_SIGNING_ALG"),
        (File("database_max_connections = 0"), "TESSERA_DATABASE_MAX_CONNECTIONS"),
        (Flags(&["--revocation-cache-ttl", "soon"]), "TESSERA_REVOCATION_CACHE_TTL"),
        (Flags(&["--config", "missing.toml"]), "cannot read config file missing.toml"),
    ];

    let mut running = Vec::new();
    for (index, (given, names)) in rows.iter().enumerate() {
        // Written once, before any process may read it.
        let file = match given {
            File(text) => Some(dir.write(&format!("{index}.toml"), text)),
            _ => None,
        };
        for command in [&serve[..], &["migrate"], &["client", "list"]] {
            let mut tessera = tessera().args(command).args(["--database-url", &database]);
            match given {
                Flags(args) => tessera = tessera.args(*args),
                Environment(name, value) => tessera = tessera.env(name, value),
                File(_) => {}
            }
            if let Some(path) = &file {
                tessera = tessera.args([std::ffi::OsStr::new("--config"), path.as_os_str()]);
            }
            running.push((format!("{command:?} row {index}"), *names, tessera.spawn()));
        }
    }
    // A database URL of an unknown kind, from each source.
    let mysql = "mysql://localhost/tessera";
    let file = dir.write("mysql.toml", &format!("database_url = \"{mysql}\"\n"));
    for command in [&serve[..], &["migrate"], &["client", "list"], &["keys", "list"]] {
        let from_flag = tessera().args(command).args(["--database-url", mysql]);
        let from_env = tessera().args(command).env("TESSERA_DATABASE_URL", mysql);
        let from_file = tessera().args(command).args([std::ffi::OsStr::new("--config"), file.as_os_str()]);
        for (source, tessera) in [("flag", from_flag), ("environment", from_env), ("file", from_file)] {
            running.push((format!("{command:?} database URL from {source}"), "TESSERA_DATABASE_URL", tessera.spawn()));
        }
    }
    // Database URLs that are not URLs, or of an unknown kind, with a password the error must not show.
    for url in ["postgres://tessera:s3cret@db:notaport/tessera", "mysql://root:s3cret@localhost/tessera"] {
        let process = tessera().args(["serve", "--database-url", url]).spawn();
        running.push((format!("database URL {}", url.replace("s3cret", "…")), "TESSERA_DATABASE_URL", process));
    }

    for (row, fragment, process) in running {
        let output = process.wait().await;
        eprintln!("{row}: {}", output.stderr.trim_end());
        output.assert_one_line_error(fragment);
        assert!(!output.stderr.contains("s3cret"), "{row}: a password in the error: {}", output.stderr);
    }
    assert!(!dir.path().join("t.db").exists(), "nothing was created from an invalid configuration");
}

//! `tessera serve` as a process: the one line it prints, the health check, the files it
//! creates, and a graceful stop on SIGTERM and SIGINT.

use std::time::Duration;

use crate::support::{Server, TempDir, Tessera};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_one_line_answers_healthz_and_stops_gracefully_on_signals() {
    for signal in ["TERM", "INT"] {
        let dir = TempDir::new(&format!("serve-{signal}"));
        let server = Server::start(Tessera::in_dir(&dir).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &dir.database_url(),
        ]))
        .await;

        let address = server.base_url.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| panic!("{}", server.line));
        let port: u16 = address.parse().unwrap_or_else(|_| panic!("no port in {:?}", server.line));
        assert_ne!(port, 0, "the line shows the real port: {}", server.line);
        assert!(server.line.starts_with(&format!("tessera listening on http://127.0.0.1:{port}")), "{}", server.line);
        // The issuer defaults to http://<listen address> (DESIGN.md §2).
        assert!(server.line.contains(&format!("issuer http://127.0.0.1:{port}")), "{}", server.line);

        let health = reqwest::get(server.url("/healthz")).await.unwrap();
        assert_eq!(health.status(), 200, "{signal}");

        server.signal(signal).await;
        let (status, rest, stderr) = server.wait(Duration::from_secs(10)).await;
        assert_eq!(status.code(), Some(0), "SIG{signal}: {status}; stderr: {stderr}");
        assert_eq!(rest, "", "exactly one line on stdout");
        assert!(!stderr.contains("panicked"), "{stderr}");

        // The database is created with its schema, and the master key beside it, private.
        assert!(dir.path().join("t.db").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.path().join("t.db.key");
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_taken_port_fails_with_one_line() {
    let dir = TempDir::new("serve-taken");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output =
        Tessera::in_dir(&dir).args(["serve", "--listen", &address, "--database-url", &dir.database_url()]).run().await;
    output.assert_one_line_error(&format!("cannot listen on {address}"));
}

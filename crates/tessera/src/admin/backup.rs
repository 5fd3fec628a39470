//! `tessera backup FILE`: a consistent snapshot of the SQLite store while the server runs;
//! PostgreSQL is backed up with its own tools (`pg_dump`), as the README says.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use tessera_server::store::{Backend, backup_sqlite};

#[derive(Args)]
pub struct BackupArgs {
    /// Where to write the snapshot (replaced atomically if it exists; created with mode 0600)
    file: PathBuf,
    #[command(flatten)]
    settings: crate::Settings,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let config = args.settings.resolve()?;
    let url = &config.database_url;
    if url.backend() == Backend::Postgres {
        anyhow::bail!(
            "tessera backup copies SQLite databases only; back up PostgreSQL with pg_dump \
             (e.g. `pg_dump --format=custom --file=tessera.dump \"$TESSERA_DATABASE_URL\"`) and keep \
             TESSERA_MASTER_KEY with the dump"
        );
    }
    let database = url.sqlite_path().context("an in-memory database has nothing to back up")?;
    let target = args.file;
    let summary = tokio::task::spawn_blocking({
        let database = database.clone();
        move || backup_sqlite(&database, &target)
    })
    .await
    .context("the backup task failed")?
    .with_context(|| format!("cannot back up {url}"))?;
    println!("backed up {url} to {} ({} bytes)", summary.path.display(), summary.bytes);
    match config.master_key {
        Some(_) => println!("keep TESSERA_MASTER_KEY with it: the signing keys in it are sealed with that key"),
        None => println!(
            "keep the master key file {} with it: the signing keys in it are sealed with that key",
            tessera_server::master::key_file_for(&database).display()
        ),
    }
    Ok(())
}

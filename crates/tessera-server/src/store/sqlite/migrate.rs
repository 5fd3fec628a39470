//! SQLite schema migrations on rusqlite, recorded in sqlx's history table.
//!
//! Releases before the rusqlite store migrated with sqlx's migrator, so `_sqlx_migrations`
//! is the schema's history, and it stays so, row for row as sqlx writes it: the same table,
//! the version, the description taken from the file name, `success`, the SHA-384 of the
//! file as `checksum`, and the execution time in nanoseconds. A database made by an older
//! release is migrated forward here, and one migrated here opens with an older release.
//!
//! The rules are sqlx's too: a failed (dirty) migration or an applied migration this build
//! does not know stops everything; an applied migration whose file has changed is refused;
//! every missing version is applied in order, whatever was applied before it (branches add
//! migrations in parallel), each in its own transaction together with its history row.

use ring::digest::{SHA384, digest};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::time::Instant;

/// One embedded migration file, `migrations/sqlite/NNNN_description.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    /// The file name's words, as sqlx records them (`0004_login_failures.sql`: `login failures`).
    pub description: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-384 of the file's text, as sqlx computes it.
    pub fn checksum(&self) -> Vec<u8> {
        digest(&SHA384, self.sql.as_bytes()).as_ref().to_vec()
    }
}

/// Every file of `migrations/sqlite/`, in version order: `build.rs` lists the folder.
pub const MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/sqlite_migrations.rs"));

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {version} ({description}) was applied from a different file than this release's \
         (checksum mismatch in _sqlx_migrations): the database was migrated by another build; \
         use that build, or restore a backup"
    )]
    ChecksumMismatch { version: i64, description: &'static str },
    #[error(
        "migration {0} failed part-way earlier (success = false in _sqlx_migrations): repair the \
         schema by hand, delete that row and migrate again"
    )]
    Dirty(i64),
    #[error("migration {0} was applied by a newer release, which this release does not know: use that release")]
    Unknown(i64),
    // SQLite's error is in the message, and not also a `source()` that a `{:#}` chain repeats.
    #[error("migration {version} ({description}) failed, nothing of it was kept: {}", brief(.error))]
    Apply { version: i64, description: &'static str, error: rusqlite::Error },
    #[error("cannot read or write the migration history: {0}")]
    History(rusqlite::Error),
}

/// SQLite's message, without the statement text (the whole migration file) that rusqlite's
/// own message adds to a syntax error.
fn brief(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

impl From<rusqlite::Error> for MigrateError {
    fn from(error: rusqlite::Error) -> Self {
        MigrateError::History(error)
    }
}

/// sqlx's own statement, so that the table, and its text in `sqlite_master`, is the one
/// older releases make.
const HISTORY_TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
                "#;

/// Applies what `migrations` holds and the database lacks; returns the versions applied.
/// Checks the whole history first, so a refused database is left as it was.
pub fn run(connection: &mut Connection, migrations: &[Migration]) -> Result<Vec<i64>, MigrateError> {
    connection.execute_batch(HISTORY_TABLE)?;
    let dirty: Option<i64> = connection
        .query_row("SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1", [], |row| {
            row.get(0)
        })
        .optional()?;
    if let Some(version) = dirty {
        return Err(MigrateError::Dirty(version));
    }
    let applied = {
        let mut statement = connection.prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    for (version, checksum) in &applied {
        let migration =
            migrations.iter().find(|migration| migration.version == *version).ok_or(MigrateError::Unknown(*version))?;
        verify(migration, checksum)?;
    }
    let mut done = Vec::new();
    for migration in migrations {
        if !applied.iter().any(|(version, _)| *version == migration.version) && apply(connection, migration)? {
            done.push(migration.version);
        }
    }
    Ok(done)
}

fn verify(migration: &Migration, checksum: &[u8]) -> Result<(), MigrateError> {
    if checksum == migration.checksum().as_slice() {
        Ok(())
    } else {
        Err(MigrateError::ChecksumMismatch { version: migration.version, description: migration.description })
    }
}

/// Runs one migration and records it, in one transaction, as sqlx does (its execution time
/// is written just after, as sqlx does). Another process may have applied it meanwhile: the
/// write lock is taken first and the history read again under it. Says whether it ran.
fn apply(connection: &mut Connection, migration: &Migration) -> Result<bool, MigrateError> {
    let started = Instant::now();
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let recorded: Option<Vec<u8>> = transaction
        .query_row("SELECT checksum FROM _sqlx_migrations WHERE version = ?1", [migration.version], |row| row.get(0))
        .optional()?;
    if let Some(checksum) = recorded {
        verify(migration, &checksum)?;
        return Ok(false);
    }
    let failed = |error| MigrateError::Apply { version: migration.version, description: migration.description, error };
    transaction.execute_batch(migration.sql).map_err(failed)?;
    transaction.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?1, ?2, TRUE, ?3, -1)",
        params![migration.version, migration.description, migration.checksum()],
    )?;
    transaction.commit()?;
    let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    connection.execute(
        "UPDATE _sqlx_migrations SET execution_time = ?1 WHERE version = ?2",
        params![nanos, migration.version],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `sqlite_master` and the history, one line per row, as `testdata/sqlx-0009.txt` holds
    /// them for a database that sqlx's migrator (the release before this code) made.
    fn dump(connection: &Connection) -> String {
        let mut lines = Vec::new();
        let mut schema =
            connection.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").unwrap();
        let rows = schema
            .query_map([], |row| {
                let sql: Option<String> = row.get(3)?;
                Ok(format!(
                    "{}|{}|{}|{}",
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    sql.unwrap_or_default()
                ))
            })
            .unwrap();
        lines.extend(rows.map(Result::unwrap));
        let mut history = connection
            .prepare(
                "SELECT version, description, lower(hex(checksum)), success FROM _sqlx_migrations ORDER BY version",
            )
            .unwrap();
        let rows = history
            .query_map([], |row| {
                Ok(format!(
                    "{}|{}|{}|{}",
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?
                ))
            })
            .unwrap();
        lines.extend(rows.map(Result::unwrap));
        lines.join("\n") + "\n"
    }

    fn up_to(version: i64) -> Vec<Migration> {
        MIGRATIONS.iter().copied().filter(|migration| migration.version <= version).collect()
    }

    #[test]
    fn the_schema_and_history_are_those_sqlx_made() {
        let mut connection = Connection::open_in_memory().unwrap();
        let applied = run(&mut connection, &up_to(9)).unwrap();
        assert_eq!(applied, (1..=9).collect::<Vec<_>>());
        assert_eq!(dump(&connection), include_str!("testdata/sqlx-0009.txt"));
        let row: (String, i64) = connection
            .query_row("SELECT installed_on, execution_time FROM _sqlx_migrations WHERE version = 9", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(row.0.len(), "2026-12-01 05:05:35".len(), "{row:?}");
        assert!(row.1 >= 0, "{row:?}");
        // Again: nothing left to do.
        assert_eq!(run(&mut connection, MIGRATIONS).unwrap().len(), MIGRATIONS.len() - 9);
        assert_eq!(run(&mut connection, MIGRATIONS).unwrap(), Vec::<i64>::new());
    }

    /// `build.rs` embeds every file of the folder, named and summed as sqlx would.
    #[test]
    fn every_file_is_embedded_with_its_sha384() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<(i64, String, Vec<u8>)> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                let (version, rest) = name.split_once('_').unwrap();
                let description = rest.strip_suffix(".sql").unwrap().replace('_', " ");
                let sum = digest(&SHA384, &std::fs::read(&path).unwrap()).as_ref().to_vec();
                (version.parse().unwrap(), description, sum)
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, Vec<u8>)> =
            MIGRATIONS.iter().map(|m| (m.version, m.description.to_owned(), m.checksum())).collect();
        assert_eq!(embedded, files);
    }

    fn migration(version: i64, sql: &'static str) -> Migration {
        Migration { version, description: "test", sql }
    }

    fn tables(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name")
            .unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_missing_version_is_applied_whatever_came_after_it() {
        let all = [
            migration(1, "CREATE TABLE t1 (x);"),
            migration(2, "CREATE TABLE t2 (x);"),
            migration(3, "CREATE TABLE t3 (x);"),
        ];
        let mut connection = Connection::open_in_memory().unwrap();
        assert_eq!(run(&mut connection, &[all[0], all[2]]).unwrap(), [1, 3]);
        assert_eq!(run(&mut connection, &all).unwrap(), [2]);
        assert_eq!(tables(&connection), ["t1", "t2", "t3"]);
    }

    #[test]
    fn a_changed_file_is_refused_and_nothing_else_is_applied() {
        let mut connection = Connection::open_in_memory().unwrap();
        run(&mut connection, &[migration(1, "CREATE TABLE t1 (x);")]).unwrap();
        let changed = [migration(1, "CREATE TABLE t1 (x, y);"), migration(2, "CREATE TABLE t2 (x);")];
        let error = run(&mut connection, &changed).unwrap_err();
        assert!(matches!(error, MigrateError::ChecksumMismatch { version: 1, .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.starts_with("migration 1 (test) was applied from a different file"), "{message}");
        assert_eq!(tables(&connection), ["t1"]);
    }

    #[test]
    fn a_dirty_or_unknown_history_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        run(&mut connection, &[migration(1, "CREATE TABLE t1 (x);"), migration(2, "CREATE TABLE t2 (x);")]).unwrap();
        let error = run(&mut connection, &[migration(1, "CREATE TABLE t1 (x);")]).unwrap_err();
        assert!(matches!(error, MigrateError::Unknown(2)), "{error:?}");
        connection.execute("UPDATE _sqlx_migrations SET success = false WHERE version = 2", []).unwrap();
        let error = run(&mut connection, &[migration(1, "CREATE TABLE t1 (x);"), migration(2, "CREATE TABLE t2 (x);")]);
        assert!(matches!(error, Err(MigrateError::Dirty(2))), "{error:?}");
    }

    #[test]
    fn a_failing_migration_leaves_nothing_of_itself() {
        let mut connection = Connection::open_in_memory().unwrap();
        let failing = [
            migration(1, "CREATE TABLE t1 (x);"),
            migration(2, "CREATE TABLE t2 (x); INSERT INTO nowhere VALUES (1);"),
        ];
        let error = run(&mut connection, &failing).unwrap_err();
        assert!(matches!(error, MigrateError::Apply { version: 2, .. }), "{error:?}");
        assert!(error.to_string().contains("no such table: nowhere"), "{error}");
        assert_eq!(tables(&connection), ["t1"]);
        let versions: i64 =
            connection.query_row("SELECT COUNT(*) FROM _sqlx_migrations", [], |row| row.get(0)).unwrap();
        assert_eq!(versions, 1);
    }
}

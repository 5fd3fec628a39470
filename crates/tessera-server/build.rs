//! Lists `migrations/sqlite/` at build time, so that the SQLite migrator embeds every
//! migration file without a hand-kept list: a new `NNNN_name.sql` is picked up as it is.
//!
//! Names are read the way sqlx's `migrate!` reads them (version before the first `_`, the
//! rest without `.sql` and with `_` as spaces is the description), because the history table
//! they are recorded in, `_sqlx_migrations`, is shared with the releases that used sqlx.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let folder = Path::new(&manifest).join("migrations/sqlite");
    println!("cargo:rerun-if-changed={}", folder.display());
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let Some((version, rest)) = name.split_once('_') else { continue };
        let Some(description) = rest.strip_suffix(".sql") else { continue };
        if description.ends_with(".up") || description.ends_with(".down") {
            return Err(format!("{name}: reversible migrations are not supported").into());
        }
        let version: i64 = version.parse().map_err(|_| format!("{name}: the name must start with a number"))?;
        if std::fs::read_to_string(&path)?.starts_with("-- no-transaction") {
            return Err(format!("{name}: every migration runs in a transaction").into());
        }
        println!("cargo:rerun-if-changed={}", path.display());
        migrations.push((version, description.replace('_', " "), path));
    }
    migrations.sort_by_key(|(version, _, _)| *version);
    if let Some(pair) = migrations.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!("two SQLite migrations are numbered {}", pair[0].0).into());
    }
    let mut list = String::from("&[\n");
    for (version, description, path) in &migrations {
        let path = path.to_str().ok_or("a migration path is not UTF-8")?;
        writeln!(
            list,
            "    Migration {{ version: {version}, description: {description:?}, sql: include_str!({path:?}) }},"
        )?;
    }
    list.push_str("]\n");
    let out = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out).join("sqlite_migrations.rs"), list)?;
    Ok(())
}

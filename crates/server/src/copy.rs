//! `trustdesk copy --from sqlite://… --to postgres://…`: moves an embedded
//! installation to PostgreSQL without losing anything.
//!
//! Both stores keep the same tables and columns under the same numbered
//! migrations (`trustdesk-store-postgres` tests that the lists match), so
//! the copy is table by table, row by row, with nothing reinterpreted:
//! ids, cursors, sealed secrets and hashes move as they are, so every
//! credential, marker and certificate id keeps working, and the nodes need
//! the master key the embedded installation used.
//!
//! Order and safety:
//! * The source is brought to the current schema first (as `serve` would)
//!   and then only read. Stop the embedded server before copying, so that
//!   nothing is written behind the copy.
//! * The target is migrated and must hold no account: the copy never
//!   merges.
//! * Everything is written in ONE transaction: a failed or interrupted copy
//!   leaves the target empty. Triggers are disabled inside it (the counts
//!   they keep come from the source rows already) and enabled again before
//!   the commit; the counters are then recomputed from the copied rows.
//! * Identity sequences are moved past the highest id the source ever
//!   handed out (SQLite's `sqlite_sequence` included), so ids are never
//!   reused after the move either.
//! * At the end the row count of every table is compared, source against
//!   target, inside the transaction; any difference aborts it.
//!
//! Columns are copied by name: the PostgreSQL column's type says how to
//! read the SQLite value (BIGINT, TEXT, BYTEA, BOOLEAN from 0/1). A column
//! that exists only in PostgreSQL (`access_keys.seq`, SQLite's rowid
//! there) takes its default, rows being inserted in rowid order.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Postgres, QueryBuilder, Row};
use trustdesk_store_postgres::PgStore;
use trustdesk_store_sqlite::{SqliteOptions, SqliteStore};

use crate::config::Config;
use crate::serve::{is_postgres, pg_options, redact_url};

/// Tables in an order that satisfies every foreign key, with the column
/// that orders their rows (parents before children, creation order).
const TABLES: &[(&str, &str)] = &[
    ("accounts", "id"),
    ("containers", "id"),
    ("users", "seq"),
    ("access_keys", "rowid"),
    ("nonces", "expires_at, access_key_id, nonce"),
    ("certificates", "id"),
    ("audit_events", "id"),
    ("api_keys", "id"),
    ("groups", "seq"),
    ("group_members", "seq"),
    ("policies", "seq"),
    ("policy_versions", "policy_seq, version"),
    ("policy_attachments", "seq"),
];

/// Identity columns whose sequences must move past the source's ids.
const IDENTITIES: &[(&str, &str)] = &[
    ("users", "seq"),
    ("access_keys", "seq"),
    ("certificates", "id"),
    ("audit_events", "id"),
    ("containers", "id"),
    ("api_keys", "id"),
    ("groups", "seq"),
    ("group_members", "seq"),
    ("policies", "seq"),
    ("policy_attachments", "seq"),
];

/// PostgreSQL caps a statement at 65,535 bound values.
const MAX_BINDS: usize = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
}

impl Kind {
    fn of(pg_type: &str) -> anyhow::Result<Self> {
        Ok(match pg_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "text" => Kind::Text,
            "bytea" => Kind::Bytes,
            "boolean" => Kind::Bool,
            other => bail!("column type {other} has no copy rule"),
        })
    }
}

enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(Option<bool>),
}

fn read(row: &SqliteRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int => Value::Int(row.try_get(i)?),
        Kind::Text => Value::Text(row.try_get(i)?),
        Kind::Bytes => Value::Bytes(row.try_get(i)?),
        Kind::Bool => Value::Bool(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
    })
}

/// What a copy moved: rows inserted, per table.
#[derive(Debug, Default)]
pub struct Report {
    pub tables: Vec<(&'static str, u64)>,
}

/// `trustdesk copy`.
pub async fn run(
    config: &Config,
    from: &str,
    to: &str,
    progress: &mut dyn Write,
) -> anyhow::Result<Report> {
    if is_postgres(from) || !is_postgres(to) {
        bail!(
            "copy moves an SQLite installation to PostgreSQL: --from sqlite://<path> --to postgres://…"
        );
    }
    let started = Instant::now();
    let source_path = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
        .unwrap_or(from);
    if !std::path::Path::new(source_path.split('?').next().unwrap_or(source_path)).exists() {
        bail!("the source database {from} does not exist");
    }
    writeln!(progress, "source: {from}")?;
    // Bring the source to the current schema, as `serve` would, then read
    // it on a connection of our own.
    drop(
        SqliteStore::open(from, SqliteOptions::default())
            .await
            .with_context(|| format!("opening {from}"))?,
    );
    let mut src = SqliteConnectOptions::new()
        .filename(source_path.split('?').next().unwrap_or(source_path))
        .read_only(true)
        // Reading a whole table is one long statement by design.
        .disable_statement_logging()
        .connect()
        .await
        .with_context(|| format!("opening {from}"))?;

    writeln!(progress, "target: {}", redact_url(to))?;
    let target = PgStore::open(to, pg_options(config))
        .await
        .with_context(|| format!("opening {}", redact_url(to)))?;
    let mut tx = target.pool().begin().await?;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut *tx)
        .await?;
    if accounts > 0 {
        bail!(
            "the target database already holds {accounts} account(s); copy only fills an empty database"
        );
    }
    for (table, _) in TABLES {
        sqlx::query(AssertSqlSafe(format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER"
        )))
        .execute(&mut *tx)
        .await?;
    }

    let mut report = Report::default();
    for (table, order) in TABLES {
        let n = copy_table(&mut src, &mut tx, table, order, progress).await?;
        report.tables.push((table, n));
    }

    for (table, _) in TABLES {
        sqlx::query(AssertSqlSafe(format!(
            "ALTER TABLE {table} ENABLE TRIGGER USER"
        )))
        .execute(&mut *tx)
        .await?;
    }
    // The counters the triggers keep, from the rows themselves.
    sqlx::query(
        "UPDATE accounts a SET
             user_count = (SELECT count(*) FROM users u WHERE u.account_id = a.id),
             certificate_count = (SELECT count(*) FROM certificates c WHERE c.account_id = a.id),
             policy_count = (SELECT count(*) FROM policies p WHERE p.account_id = a.id),
             policy_epoch = a.policy_epoch + 1",
    )
    .execute(&mut *tx)
    .await?;
    for (table, column) in IDENTITIES {
        let used = highest_used(&mut src, table, column).await?;
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                           GREATEST($1, (SELECT COALESCE(max({column}), 0) FROM {table}), 1),
                           $1 > 0 OR EXISTS (SELECT 1 FROM {table}))"
        )))
        .bind(used)
        .execute(&mut *tx)
        .await?;
    }
    // Verify before committing: what was inserted is what the target
    // holds, and what the source holds now (a source written to during
    // the copy shows here).
    for (table, copied) in &report.tables {
        let in_source: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut src)
                .await?;
        let in_target: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await?;
        if in_source != in_target || in_target as u64 != *copied {
            bail!(
                "{table}: {in_source} rows in the source, {in_target} in the target; nothing was committed"
            );
        }
    }
    tx.commit().await.context("committing the copy")?;
    src.close().await?;
    let total: u64 = report.tables.iter().map(|(_, n)| n).sum();
    writeln!(
        progress,
        "done: {total} rows in {} tables copied and verified in {:.1} s",
        report.tables.len(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(report)
}

/// The highest id SQLite ever handed out in `table.column`: the larger of
/// the AUTOINCREMENT counter (which remembers deleted rows) and the
/// largest id present.
async fn highest_used(
    src: &mut SqliteConnection,
    table: &str,
    column: &str,
) -> anyhow::Result<i64> {
    let column = if table == "access_keys" {
        "rowid"
    } else {
        column
    };
    let present: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT max({column}) FROM {table}")))
            .fetch_one(&mut *src)
            .await?;
    let counter: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?")
        .bind(table)
        .fetch_optional(&mut *src)
        .await?;
    Ok(present.unwrap_or(0).max(counter.unwrap_or(0)))
}

async fn copy_table(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    table: &'static str,
    order: &str,
    progress: &mut dyn Write,
) -> anyhow::Result<u64> {
    // The columns both sides have, typed by PostgreSQL.
    let pg: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await?;
    let sqlite: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&mut *src)
        .await?;
    if sqlite.is_empty() {
        bail!("the source has no table {table}");
    }
    if let Some(missing) = sqlite.iter().find(|c| !pg.iter().any(|(n, _)| n == *c)) {
        bail!("{table}.{missing} exists in the source but not in the target");
    }
    let columns: Vec<(String, Kind)> = pg
        .iter()
        .filter(|(n, _)| sqlite.contains(n))
        .map(|(n, t)| Ok((n.clone(), Kind::of(t)?)))
        .collect::<anyhow::Result<_>>()?;
    let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut *src)
        .await?;
    let names = columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let batch = (MAX_BINDS / columns.len()).max(1);
    let select = format!("SELECT {names} FROM {table} ORDER BY {order}");
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&mut *src);
    let mut pending: Vec<Vec<Value>> = Vec::with_capacity(batch);
    let mut done = 0u64;
    let mut last_report = Instant::now();
    writeln!(progress, "{table}: {total} rows")?;
    loop {
        let row = rows.try_next().await?;
        if let Some(row) = &row {
            let values = columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| read(row, i, *kind))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading a row of {table}"))?;
            pending.push(values);
        }
        if pending.len() == batch || (row.is_none() && !pending.is_empty()) {
            done += pending.len() as u64;
            insert(dst, table, &names, pending.drain(..)).await?;
            if last_report.elapsed().as_secs() >= 2 {
                writeln!(progress, "  {table}: {done}/{total} rows")?;
                last_report = Instant::now();
            }
        }
        if row.is_none() {
            break;
        }
    }
    // Counted against both databases once everything is in (see `run`).
    Ok(done)
}

async fn insert(
    dst: &mut PgConnection,
    table: &str,
    names: &str,
    rows: impl Iterator<Item = Vec<Value>>,
) -> anyhow::Result<()> {
    let mut qb = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({names}) "));
    // Identity columns are GENERATED BY DEFAULT, so explicit ids are kept.
    qb.push_values(rows, |mut b, values| {
        for v in values {
            match v {
                Value::Int(x) => b.push_bind(x),
                Value::Text(x) => b.push_bind(x),
                Value::Bytes(x) => b.push_bind(x),
                Value::Bool(x) => b.push_bind(x),
            };
        }
    });
    qb.build()
        .execute(&mut *dst)
        .await
        .with_context(|| format!("writing rows of {table}"))?;
    Ok(())
}

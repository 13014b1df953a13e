//! `trustdesk audit`: prints the audit trail as JSON lines, oldest first,
//! for operators and log shippers. Reads the database only (no master key
//! needed: events hold no secrets).

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::serve::open_store;

#[derive(Serialize)]
struct Line<'a> {
    id: u64,
    at: String,
    account_id: String,
    actor: &'a str,
    access_key_id: &'a str,
    action: &'a str,
    resource: &'a str,
    outcome: &'a str,
    request_id: &'a str,
}

/// Writes events with ids above `after`, at most `limit`, to `out`; returns
/// how many were written.
pub async fn print(
    config: &Config,
    after: u64,
    limit: u32,
    out: &mut impl std::io::Write,
) -> anyhow::Result<usize> {
    let store = open_store(config, &config.database_url()).await?;
    let Some(account) = store.root_account().await? else {
        return Ok(0);
    };
    let events = store
        .audit_events(account.id, after, limit)
        .await
        .context("reading the audit trail")?;
    for (id, e) in &events {
        let line = Line {
            id: *id,
            at: e
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            account_id: e.account.to_string(),
            actor: &e.actor,
            access_key_id: e.access_key.as_str(),
            action: &e.action,
            resource: &e.resource,
            outcome: e.outcome.as_str(),
            request_id: &e.request_id,
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
    Ok(events.len())
}

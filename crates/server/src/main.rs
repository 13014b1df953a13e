//! `trustdesk`: the command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trustdesk::config::{Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "trustdesk",
    version,
    about = "Self-hosted identity and certificate service speaking the Alibaba Cloud RPC API (RAM 2015-05-01, CAS 2018-07-13).",
    long_about = "Self-hosted identity and certificate service speaking the Alibaba Cloud RPC API (RAM 2015-05-01, CAS 2018-07-13).\n\n\
Configuration comes from built-in defaults, then the TOML file given with --config, then environment \
variables prefixed TRUSTDESK_ (TRUSTDESK_LISTEN, TRUSTDESK_DATA_DIR, TRUSTDESK_DATABASE_URL, \
TRUSTDESK_LOG_FORMAT, TRUSTDESK_MASTER_KEY, TRUSTDESK_MASTER_KEY_FILE, ...). See README.md."
)]
struct Cli {
    /// TOML configuration file (keys as in the environment, without the
    /// TRUSTDESK_ prefix, in lower case).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the data directory, master key and root
    /// account on first start).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Print the audit trail (certificate uploads, deletions, private-key
    /// disclosures and refused attempts at them) as JSON lines, oldest
    /// first.
    Audit {
        /// Only events with an id above this one (the `id` of the last line
        /// of a previous run), to follow the trail incrementally.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many events.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
    /// Copy an embedded (SQLite) installation into an empty PostgreSQL
    /// database, in one transaction, verified table by table. Stop the
    /// server first; the nodes then need the same master key.
    Copy {
        /// The SQLite database to read (default: the configured one,
        /// <data dir>/trustdesk.db).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The PostgreSQL database to fill, e.g.
        /// postgres://trustdesk:secret@db.internal:5432/trustdesk
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Print the version and exit.
    Version,
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = config
        .log
        .as_deref()
        .map(EnvFilter::new)
        .unwrap_or_else(|| {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!("trustdesk {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trustdesk: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trustdesk: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => trustdesk::serve::serve(config).await,
            Command::Migrate => trustdesk::serve::migrate(&config).await,
            Command::Audit { after, limit } => {
                trustdesk::audit::print(&config, after, limit, &mut std::io::stdout().lock())
                    .await
                    .map(|_| ())
            }
            Command::Copy { from, to } => {
                let from = from.unwrap_or_else(|| config.database_url());
                trustdesk::copy::run(&config, &from, &to, &mut std::io::stderr())
                    .await
                    .map(|_| ())
            }
            Command::Version => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("trustdesk: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! The `tidings` command: run the server, make UserSigs, run benchmarks.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tidings_server::{Config, Server};

// glibc's malloc took a fifth of the CPU of a receipt storm, much of it in arena locks: buffers
// are allocated on runtime threads and freed on the store's writer thread. mimalloc frees
// across threads without a shared lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    about = "Self-hosted instant messaging with exact read receipts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (embedded SQLite store by default).
    Serve(ServeArgs),
    /// Print a UserSig (Tencent TLSSigAPIv2) for a user.
    Usersig(UsersigArgs),
    /// Run a load scenario against an in-process server (or --url) and report the figures.
    Bench(tidings_bench::BenchArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML config file; flags and environment variables override it.
    #[arg(long, env = "TIDINGS_CONFIG")]
    config: Option<PathBuf>,
    /// Address of the HTTP port (WebSocket /ws, REST /v4/, /healthz, /metrics) [default: 127.0.0.1:8080].
    #[arg(long, env = "TIDINGS_LISTEN")]
    listen: Option<SocketAddr>,
    /// A separate address for /metrics, which then leaves the client port (keep it
    /// unreachable by clients in production).
    #[arg(long, env = "TIDINGS_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Directory of the embedded database [default: ./tidings-data].
    #[arg(long, env = "TIDINGS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The store: `postgres://…` (PostgreSQL) or `sqlite:PATH`; the embedded SQLite store in
    /// the data directory when absent.
    #[arg(long, env = "TIDINGS_STORE", hide_env_values = true)]
    store: Option<String>,
    /// The cluster's bus, `nats://HOST:PORT` (needs a PostgreSQL --store); alone when absent.
    #[arg(long, env = "TIDINGS_BUS")]
    bus: Option<String>,
    /// This node's name in the cluster [default: generated, and logged].
    #[arg(long, env = "TIDINGS_NODE_ID")]
    node_id: Option<String>,
    /// The application's SDKAppID [default: 1400000000].
    #[arg(long, env = "TIDINGS_SDKAPPID")]
    sdkappid: Option<u64>,
    /// UserSig signing key [default: generated into the data dir on first start].
    #[arg(long, env = "TIDINGS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The App administrator account for the REST API [default: administrator].
    #[arg(long, env = "TIDINGS_ADMIN")]
    admin: Option<String>,
    /// Demo mode: the web chat signs in as any user (the server hands out UserSigs) and demo
    /// users alice, bob, carol, dave and the group "demo" are created. Trusted networks only.
    #[arg(long, env = "TIDINGS_DEMO", value_parser = clap::builder::FalseyValueParser::new())]
    demo: bool,
    /// Allow demo mode on an address other than loopback, where anyone who reaches the port
    /// can sign in as any user.
    #[arg(long, env = "TIDINGS_DEMO_PUBLIC", value_parser = clap::builder::FalseyValueParser::new())]
    demo_public: bool,
}

#[derive(Debug, Args)]
struct UsersigArgs {
    /// The application's SDKAppID.
    #[arg(long, env = "TIDINGS_SDKAPPID")]
    sdkappid: u64,
    /// The signing key.
    #[arg(long, env = "TIDINGS_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
    /// The user the UserSig is for.
    #[arg(long)]
    user: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = tidings_usersig::DEFAULT_EXPIRE_SECS)]
    expire: u64,
}

impl ServeArgs {
    /// The config file (or defaults) with flags and environment variables applied on top.
    fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(metrics_listen) = self.metrics_listen {
            config.metrics_listen = Some(metrics_listen);
        }
        if let Some(data_dir) = &self.data_dir {
            config.data_dir = data_dir.clone();
        }
        if let Some(store) = &self.store {
            config.store.url = Some(store.clone());
        }
        if let Some(bus) = &self.bus {
            config.bus.url = Some(bus.clone());
        }
        if let Some(node_id) = &self.node_id {
            config.bus.node_id = Some(node_id.clone());
        }
        if let Some(sdkappid) = self.sdkappid {
            config.sdkappid = sdkappid;
        }
        if let Some(secret_key) = &self.secret_key {
            config.secret_key = Some(secret_key.clone());
        }
        if let Some(admin) = &self.admin {
            config.admin = admin.clone();
        }
        if self.demo {
            config.demo = true;
        }
        if self.demo_public {
            config.demo_public = true;
        }
        Ok(config)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            if let Err(e) = serve(&args) {
                // One line an operator (or a supervisor's log) reads at a glance.
                eprintln!("tidings: {}", one_line(&e));
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Bench(args) => tidings_bench::main(args),
        Command::Usersig(args) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let now = i64::try_from(now)?;
            println!(
                "{}",
                tidings_usersig::generate(
                    args.sdkappid,
                    &args.secret_key,
                    &args.user,
                    args.expire,
                    now
                )
            );
            Ok(())
        }
    }
}

/// The error and its causes on one line, each cause once (many messages already quote their
/// cause).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

fn serve(args: &ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = args.config()?;
    // The server sizes its connection caps to the open-file limit: use all the hard limit allows.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::open(&config).await?;
        if config.demo {
            tidings_server::seed_demo(server.state())
                .await
                .context("cannot create the demo users and group")?;
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let metrics = match config.metrics_listen {
            Some(metrics_listen) => Some(
                tokio::net::TcpListener::bind(metrics_listen)
                    .await
                    .with_context(|| format!("cannot listen on {metrics_listen} for metrics"))?,
            ),
            None => None,
        };
        let metrics_address = metrics.as_ref().map(|m| m.local_addr()).transpose()?;
        print_banner(
            &config,
            &server,
            address,
            metrics_address.unwrap_or(address),
        );
        server
            .serve_with_metrics(listener, metrics, shutdown_signal())
            .await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn print_banner(config: &Config, server: &Server, address: SocketAddr, metrics: SocketAddr) {
    let key_file = config.data_dir.join("secret.key");
    println!("Tidings is listening on http://{address}");
    println!("  WebSocket:  ws://{address}/ws");
    println!("  REST API:   http://{address}/v4/");
    println!("  health:     http://{address}/healthz   metrics: http://{metrics}/metrics");
    println!("  Web chat: http://{address}/");
    println!("  data dir:   {}", config.data_dir.display());
    if let Ok(store) = config.store_config() {
        println!("  store:      {}", store.url);
    }
    if let Some(bus) = &config.bus.url {
        println!("  bus:        {bus}");
    }
    println!("  SDKAppID:   {}", config.sdkappid);
    if server.generated_key() {
        println!("  secret key: generated into {}", key_file.display());
    }
    let key_hint = if config.secret_key.is_some() {
        "<your key>".to_owned()
    } else {
        format!("$(cat {})", key_file.display())
    };
    println!("Make a UserSig for a user with:");
    println!(
        "  tidings usersig --sdkappid {} --secret-key {key_hint} --user alice",
        config.sdkappid
    );
    if config.demo {
        let users: Vec<&str> = tidings_server::DEMO_USERS
            .iter()
            .map(|(user_id, _)| *user_id)
            .collect();
        println!(
            "Demo mode: open the web chat and sign in as any name ({} share the group \"{}\"); anyone who can reach this port can too.",
            users.join(", "),
            tidings_server::DEMO_GROUP
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

//! The `tidings` command: run the server, make UserSigs, run benchmarks.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// Log lines as text (colours only on a terminal) or as one JSON object each, for log
    /// collectors; with json, the start-up banner is a JSON line too.
    #[arg(long, env = "TIDINGS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How `tidings serve` writes its log lines (to stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Args)]
struct UsersigArgs {
    /// The application's SDKAppID [default: 1400000000, the server's default].
    #[arg(long, env = "TIDINGS_SDKAPPID", default_value_t = Config::default().sdkappid)]
    sdkappid: u64,
    /// The signing key; without it, the key the server generated into the data directory.
    #[arg(long, env = "TIDINGS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The server's data directory, whose secret.key is read when no --secret-key is given
    /// [default: ./tidings-data].
    #[arg(long, env = "TIDINGS_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
            if let Err(e) = usersig(&args) {
                eprintln!("tidings: {}", one_line(&e));
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Prints a UserSig, signed with --secret-key or the data directory's generated key.
fn usersig(args: &UsersigArgs) -> Result<()> {
    let key = match &args.secret_key {
        Some(key) => key.clone(),
        None => {
            let data_dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| Config::default().data_dir);
            let path = data_dir.join("secret.key");
            let key = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the secret key {} (give --data-dir of the server, or --secret-key)",
                    path.display()
                )
            })?;
            let key = key.trim().to_owned();
            if key.is_empty() {
                bail!("the secret key file {} is empty", path.display());
            }
            key
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let now = i64::try_from(now)?;
    println!(
        "{}",
        tidings_usersig::generate(args.sdkappid, &key, &args.user, args.expire, now)
    );
    Ok(())
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

/// Logs to stdout: text with colours only when stdout is a terminal (escape codes in a file or
/// a collector are noise), or JSON lines.
fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

fn serve(args: &ServeArgs) -> Result<()> {
    init_logging(args.log_format);
    let config = args.config()?;
    // The server sizes its connection caps to the open-file limit: use all the hard limit allows.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        // The ports first: a start that cannot listen fails before it touches the data
        // directory.
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
        let server = Server::open(&config).await?;
        let shutdown = shutdown_signal();
        if config.demo {
            tidings_server::seed_demo(server.state())
                .await
                .context("cannot create the demo users and group")?;
        }
        let banner = Banner::new(
            &config,
            &server,
            address,
            metrics_address.unwrap_or(address),
        );
        match args.log_format {
            LogFormat::Text => banner.print(),
            LogFormat::Json => banner.log(),
        }
        server
            .serve_with_metrics(listener, metrics, shutdown)
            .await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// What `tidings serve` tells a person at start: where it listens and how to sign in.
struct Banner {
    headline: String,
    /// Label and value, printed aligned.
    rows: Vec<(&'static str, String)>,
    /// The command that prints a UserSig for alice with this server's key.
    usersig_command: String,
    demo: Option<String>,
}

impl Banner {
    fn new(config: &Config, server: &Server, address: SocketAddr, metrics: SocketAddr) -> Self {
        let key_file = config.data_dir.join("secret.key");
        let mut rows = vec![
            ("Web chat", format!("http://{address}/")),
            ("WebSocket", format!("ws://{address}/ws")),
            ("REST API", format!("http://{address}/v4/")),
            ("Health", format!("http://{address}/healthz")),
            ("Metrics", format!("http://{metrics}/metrics")),
            ("Data dir", config.data_dir.display().to_string()),
        ];
        if let Ok(store) = config.store_config() {
            rows.push(("Store", store.url.to_string()));
        }
        if let Some(bus) = &config.bus.url {
            rows.push(("Bus", bus.clone()));
        }
        rows.push(("SDKAppID", config.sdkappid.to_string()));
        if server.generated_key() {
            rows.push((
                "Secret key",
                format!("generated into {}", key_file.display()),
            ));
        }
        let sdkappid = if config.sdkappid == Config::default().sdkappid {
            String::new()
        } else {
            format!(" --sdkappid {}", config.sdkappid)
        };
        // The key stays off the command line (shell history, `ps`): the command reads the
        // key file, or the environment variable when the key was given to the server.
        let usersig_command = if config.secret_key.is_some() {
            format!(
                "TIDINGS_SECRET_KEY=<the key> {} usersig{sdkappid} --user alice",
                this_program()
            )
        } else {
            format!(
                "{} usersig{sdkappid} --data-dir {} --user alice",
                this_program(),
                shell_word(&config.data_dir.display().to_string())
            )
        };
        let demo = config.demo.then(|| {
            let users: Vec<&str> = tidings_server::DEMO_USERS
                .iter()
                .map(|(user_id, _)| *user_id)
                .collect();
            format!(
                "Demo mode: open the web chat and sign in as any name ({} share the group \"{}\", ID {}); anyone who can reach this port can too.",
                users.join(", "),
                tidings_server::DEMO_GROUP_NAME,
                tidings_server::DEMO_GROUP
            )
        });
        Self {
            headline: format!("Tidings is listening on http://{address}"),
            rows,
            usersig_command,
            demo,
        }
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|(label, _)| label.len())
            .max()
            .unwrap_or(0)
            + 1;
        println!("{}", self.headline);
        for (label, value) in &self.rows {
            println!("  {:<width$} {value}", format!("{label}:"));
        }
        println!("Make a UserSig for a user with:");
        println!("  {}", self.usersig_command);
        if let Some(demo) = &self.demo {
            println!("{demo}");
        }
    }

    /// The banner as one log event, for `--log-format json`.
    fn log(&self) {
        let value = |label: &str| {
            self.rows
                .iter()
                .find(|(l, _)| *l == label)
                .map_or("", |(_, v)| v.as_str())
        };
        tracing::info!(
            web_chat = value("Web chat"),
            websocket = value("WebSocket"),
            rest_api = value("REST API"),
            health = value("Health"),
            metrics = value("Metrics"),
            data_dir = value("Data dir"),
            store = value("Store"),
            bus = value("Bus"),
            sdkappid = value("SDKAppID"),
            secret_key = value("Secret key"),
            usersig_command = %self.usersig_command,
            demo = self.demo.is_some(),
            "{}",
            self.headline
        );
    }
}

/// How to run this binary again from the current directory: its name when the shell finds
/// this very file on PATH, else its path (relative when below the current directory, as
/// `target/release/tidings` is under `cargo run`).
fn this_program() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "tidings".into();
    };
    let exe = exe.canonicalize().unwrap_or(exe);
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            dir.join("tidings")
                .canonicalize()
                .is_ok_and(|found| found == exe)
        })
    });
    if on_path {
        return "tidings".into();
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            exe.strip_prefix(cwd.canonicalize().unwrap_or(cwd))
                .ok()
                .map(Path::to_owned)
        })
        .unwrap_or_else(|| exe.clone());
    shell_word(&shown.display().to_string())
}

/// `text` as one word for a POSIX shell: as is when it is plain, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Listens for SIGINT and SIGTERM from now on; the future resolves on the first of them.
/// Called before the banner: a signal that arrives before the server's loop first waits for it
/// must stop the server gracefully too, not by the signal's default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let listeners = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match listeners {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (interrupt, terminate) => {
                for e in [interrupt.err(), terminate.err()].into_iter().flatten() {
                    tracing::error!(error = %e, "cannot listen for SIGINT and SIGTERM");
                }
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}

//! The Tidings load generator: `tidings bench <scenario>`.
//!
//! Each scenario speaks the WebSocket protocol to a server: one it starts in this process on a
//! temporary data directory (durable `synchronous = "full"` by default), or a running one given
//! by `--url` (loopback only). It shows a progress bar on stderr, prints a table (or `--json`)
//! at the end, checks that the results are exact, and stops within `--max-seconds`.
//!
//! Scenarios: `receipt-storm`, `large-group`, `c2c`, `fan-out`, `connections`, `abuse`,
//! `echo-baseline`, and `all`
//! (every scenario with small parameters). Unless `--no-echo` is given, the echo baseline runs
//! first in the same invocation and every throughput is also reported as a ratio to it.
//! `BENCHMARKS.md` at the repository root has the figures and how they were obtained.

mod abuse;
mod c2c;
mod client;
mod connections;
mod echo;
mod fanout;
mod large;
mod report;
mod setup;
mod storm;
mod target;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

pub use report::{Check, Metric, Report};

/// `tidings bench`: options shared by every scenario, and the scenario.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The scenario to run.
    #[command(subcommand)]
    pub scenario: Scenario,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of every scenario.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// WebSocket URL of a running server (loopback only), e.g. ws://127.0.0.1:8080/ws; several
    /// (comma-separated or repeated) for the nodes of a cluster, over which the connections are
    /// spread in turn (the first URL gets the first connection). Without it, a server is
    /// started in this process on a temporary data directory.
    #[arg(long, global = true, value_delimiter = ',')]
    pub url: Vec<String>,
    /// SDKAppID of the `--url` server [default: 1400000000].
    #[arg(long, global = true)]
    pub sdkappid: Option<u64>,
    /// Secret key of the `--url` server, to sign UserSigs.
    #[arg(
        long,
        global = true,
        env = "TIDINGS_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Process IDs of the `--url` servers (comma-separated or repeated), to read their memory
    /// (connections scenario; the figure is over their sum).
    #[arg(long, global = true, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Print the reports as JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Stop after this many seconds, reporting what was measured so far as incomplete.
    #[arg(long, global = true, default_value_t = 600)]
    pub max_seconds: u64,
    /// In-process server's store: `postgres://…` of a PostgreSQL server (whose user may create
    /// databases) on which a scratch database is made for the run and dropped after it; the
    /// embedded SQLite store in a temporary directory when absent.
    #[arg(long, global = true)]
    pub store: Option<String>,
    /// In-process server on PostgreSQL (`--store`): most connections of its pool [default:
    /// the server's].
    #[arg(long, global = true)]
    pub pool_size: Option<usize>,
    /// In-process server: `full` (acknowledged writes survive power loss) or `normal`.
    #[arg(long, global = true, default_value = "full")]
    pub synchronous: String,
    /// In-process server: group receipt notification window in milliseconds.
    #[arg(long, global = true, default_value_t = 100)]
    pub notify_window_ms: u64,
    /// Skip the echo baseline (no ratios).
    #[arg(long, global = true)]
    pub no_echo: bool,
    /// Seed of the pseudo-random batch sizes and reading orders.
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,
}

/// The scenarios.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// G members on their own connections receipt M messages in batches.
    ReceiptStorm(StormArgs),
    /// A 100,000-member group: receipts, counts, member-list pages, bytes on disk.
    LargeGroup(LargeArgs),
    /// P pairs chatting with read receipts.
    C2c(C2cArgs),
    /// One message at a time to a G-member group whose members are all online.
    FanOut(FanOutArgs),
    /// N idle logged-in connections: memory per connection and login rate.
    Connections(ConnectionsArgs),
    /// A normal receipt load without, then beside, bounded attacks (issue 15): its ack p99 and
    /// the server's memory both ways.
    Abuse(AbuseArgs),
    /// A bare WebSocket echo server: what the transport alone does.
    EchoBaseline(EchoArgs),
    /// Every scenario with small parameters (a quick check).
    All,
    /// Internal: holds client connections for `connections` in a child process.
    #[command(hide = true)]
    ConnectHelper(connections::HelperArgs),
}

/// `receipt-storm` parameters.
#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Group members, each on its own connection (the sender among them).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Messages asking for receipts.
    #[arg(long, default_value_t = 100)]
    pub messages: usize,
    /// Fewest message IDs per receipt call.
    #[arg(long, default_value_t = 10)]
    pub batch_min: usize,
    /// Most message IDs per receipt call.
    #[arg(long, default_value_t = 30)]
    pub batch_max: usize,
}

/// `large-group` parameters.
#[derive(Debug, Clone, Args)]
pub struct LargeArgs {
    /// Members of the group (the sender among them).
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
    /// Messages asking for receipts.
    #[arg(long, default_value_t = 100)]
    pub messages: usize,
    /// Message IDs per in-process receipt call.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// In-process receipt calls in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Samples of each latency measured over WebSocket.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
}

/// `c2c` parameters.
#[derive(Debug, Clone, Args)]
pub struct C2cArgs {
    /// Pairs of users, each user on its own connection.
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// Messages each user sends to the other (each asking for a receipt).
    #[arg(long, default_value_t = 50)]
    pub messages: usize,
}

/// `fan-out` parameters.
#[derive(Debug, Clone, Args)]
pub struct FanOutArgs {
    /// Group members, each on its own connection (the sender among them).
    #[arg(long, default_value_t = 10_000)]
    pub members: usize,
    /// Messages sent, one at a time.
    #[arg(long, default_value_t = 10)]
    pub messages: usize,
}

/// `connections` parameters.
#[derive(Debug, Clone, Args)]
pub struct ConnectionsArgs {
    /// Idle logged-in connections to hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Handshakes and logins in flight.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Child processes holding the client ends [default: 0 when this process has file
    /// descriptors for both ends, else enough to hold 15,000 each].
    #[arg(long)]
    pub client_processes: Option<usize>,
}

/// `abuse` parameters: the normal load, the size of each attack, and the server's limits they
/// run against (set on the in-process server; with `--url`, give the server's own).
#[derive(Debug, Clone, Args)]
pub struct AbuseArgs {
    /// Members of the normal load's group, each on its own connection (the sender among them).
    #[arg(long, default_value_t = 200)]
    pub members: usize,
    /// Seconds of each phase: without, then with the attacks.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Messages asking for receipts the normal load's sender sends a second.
    #[arg(long, default_value_t = 10)]
    pub message_rate: u32,
    /// WebSocket connections that never log in, from one address, beyond its cap.
    #[arg(long, default_value_t = 100)]
    pub idle_beyond_cap: usize,
    /// Half-sent HTTP heads held open (slowloris).
    #[arg(long, default_value_t = 100)]
    pub slowloris: usize,
    /// REST requests with a forged UserSig promising a 1 MiB body, stalled after 64 KiB.
    #[arg(long, default_value_t = 100)]
    pub stalled_bodies: usize,
    /// REST requests to made-up commands, spread over the phase.
    #[arg(long, default_value_t = 5000)]
    pub unknown_commands: usize,
    /// Connections that stop reading while 12 KiB group messages are pushed to them.
    #[arg(long, default_value_t = 4)]
    pub slow_readers: usize,
    /// Conversations of the user whose list is walked.
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Connections walking that list page by page (100 a page) throughout the phase.
    #[arg(long, default_value_t = 4)]
    pub list_walkers: usize,
    /// Requests one connection pipelines at once, once a second.
    #[arg(long, default_value_t = 2000)]
    pub flood: usize,
    /// Rounds of bad frames (over 64 KiB, not JSON, 1,000 IDs, a page of 1,000,000), spread
    /// over the phase.
    #[arg(long, default_value_t = 200)]
    pub bad_frames: usize,
    /// The server's `[limits] max_connections_per_ip`.
    #[arg(long, default_value_t = tidings_server::config::LimitsConfig::default().max_connections_per_ip)]
    pub per_ip_cap: usize,
    /// The server's `[limits] login_timeout_ms`.
    #[arg(long, default_value_t = tidings_server::config::LimitsConfig::default().login_timeout_ms)]
    pub login_timeout_ms: u64,
    /// The server's `[limits] http_header_timeout_ms`.
    #[arg(long, default_value_t = tidings_server::config::LimitsConfig::default().http_header_timeout_ms)]
    pub header_timeout_ms: u64,
    /// The server's `[limits] write_timeout_ms`.
    #[arg(long, default_value_t = tidings_server::config::LimitsConfig::default().write_timeout_ms)]
    pub write_timeout_ms: u64,
}

/// `echo-baseline` parameters.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// Connections.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Sequential round trips per connection.
    #[arg(long, default_value_t = 50)]
    pub round_trips: usize,
    /// Message IDs in each frame (a `sendMessageReadReceipts` request).
    #[arg(long, default_value_t = 20)]
    pub frame_ids: usize,
    /// Read buffer of the echo server's WebSockets in bytes [default: the Tidings gateway's].
    #[arg(long, default_value_t = tidings_server::WS_READ_BUFFER_BYTES)]
    pub read_buffer: usize,
}

/// What every scenario of one invocation shares.
#[derive(Debug, Clone)]
pub(crate) struct RunContext {
    pub(crate) common: CommonArgs,
    pub(crate) quiet: bool,
    deadline: Instant,
}

impl RunContext {
    /// Time left of `--max-seconds`.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Small parameters of `all`.
fn quick() -> (
    StormArgs,
    LargeArgs,
    C2cArgs,
    ConnectionsArgs,
    EchoArgs,
    FanOutArgs,
    AbuseArgs,
) {
    (
        StormArgs {
            members: 200,
            messages: 20,
            batch_min: 10,
            batch_max: 30,
        },
        LargeArgs {
            members: 10_000,
            messages: 10,
            batch: 100,
            concurrency: 64,
            samples: 50,
        },
        C2cArgs {
            pairs: 20,
            messages: 20,
        },
        ConnectionsArgs {
            connections: 1000,
            concurrency: 256,
            client_processes: None,
        },
        EchoArgs {
            connections: 200,
            round_trips: 50,
            frame_ids: 20,
            read_buffer: tidings_server::WS_READ_BUFFER_BYTES,
        },
        FanOutArgs {
            members: 200,
            messages: 3,
        },
        AbuseArgs {
            members: 50,
            seconds: 3,
            message_rate: 10,
            idle_beyond_cap: 10,
            slowloris: 10,
            stalled_bodies: 10,
            unknown_commands: 100,
            slow_readers: 2,
            conversations: 150,
            list_walkers: 2,
            flood: 200,
            bad_frames: 10,
            per_ip_cap: 100,
            login_timeout_ms: 1000,
            header_timeout_ms: 1000,
            write_timeout_ms: 1000,
        },
    )
}

/// Runs the scenario(s) and returns their reports (nothing is printed but the progress bar).
pub fn run(args: &BenchArgs) -> Result<Vec<Report>> {
    if let Scenario::ConnectHelper(helper) = &args.scenario {
        connections::helper_main(helper)?;
        return Ok(Vec::new());
    }
    if !matches!(args.common.synchronous.as_str(), "full" | "normal") {
        bail!("--synchronous must be full or normal");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let ctx = RunContext {
        common: args.common.clone(),
        quiet: args.common.quiet || args.common.json,
        deadline: Instant::now() + Duration::from_secs(args.common.max_seconds),
    };
    let reports = runtime.block_on(run_all(&ctx, &args.scenario));
    runtime.shutdown_timeout(Duration::from_secs(5));
    reports
}

async fn run_all(ctx: &RunContext, scenario: &Scenario) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    let echo_shape = |connections: usize| EchoArgs {
        connections,
        round_trips: 50,
        frame_ids: 20,
        read_buffer: tidings_server::WS_READ_BUFFER_BYTES,
    };
    let echo = match scenario {
        Scenario::EchoBaseline(args) => Some(args.clone()),
        _ if ctx.common.no_echo => None,
        Scenario::ReceiptStorm(args) => Some(echo_shape(args.members)),
        Scenario::C2c(args) => Some(echo_shape(args.pairs * 2)),
        Scenario::Abuse(args) => Some(echo_shape(args.members)),
        Scenario::LargeGroup(_) | Scenario::Connections(_) | Scenario::FanOut(_) => {
            Some(echo_shape(1000))
        }
        Scenario::All => Some(quick().4),
        Scenario::ConnectHelper(_) => None,
    };
    // The memory figure goes first, before the echo baseline too: memory that earlier runs of
    // this process freed would be reused by the server's new connections and hide their cost.
    match scenario {
        Scenario::All => reports.push(connections::run(ctx, &quick().3).await?),
        Scenario::Connections(args) => reports.push(connections::run(ctx, args).await?),
        _ => {}
    }
    let mut echo_rate = None;
    if let Some(echo_args) = echo {
        let report = echo::run(ctx, &echo_args).await?;
        echo_rate = report.value("frames_per_sec");
        reports.push(report);
    }
    match scenario {
        Scenario::ReceiptStorm(args) => reports.push(storm::run(ctx, args).await?),
        Scenario::LargeGroup(args) => reports.push(large::run(ctx, args).await?),
        Scenario::C2c(args) => reports.push(c2c::run(ctx, args).await?),
        Scenario::FanOut(args) => reports.push(fanout::run(ctx, args).await?),
        Scenario::Abuse(args) => reports.push(abuse::run(ctx, args).await?),
        Scenario::Connections(_) | Scenario::EchoBaseline(_) | Scenario::ConnectHelper(_) => {}
        Scenario::All => {
            let (storm_args, large_args, c2c_args, _, _, fan_out_args, abuse_args) = quick();
            reports.push(storm::run(ctx, &storm_args).await?);
            reports.push(large::run(ctx, &large_args).await?);
            reports.push(c2c::run(ctx, &c2c_args).await?);
            reports.push(fanout::run(ctx, &fan_out_args).await?);
            reports.push(abuse::run(ctx, &abuse_args).await?);
        }
    }
    if let Some(echo_rate) = echo_rate.filter(|r| *r > 0.0) {
        for report in reports.iter_mut().filter(|r| r.scenario != "echo-baseline") {
            add_echo_ratios(report, echo_rate);
        }
    }
    Ok(reports)
}

/// Adds `<figure>_vs_echo` for every per-second figure of a report.
fn add_echo_ratios(report: &mut Report, echo_rate: f64) {
    let ratios: Vec<Metric> = report
        .metrics
        .iter()
        .filter(|m| m.unit.ends_with("/s"))
        .map(|m| {
            let value = m.value / echo_rate;
            let (target, met) = if m.name == "receipt_calls_per_sec" {
                (Some("≥ 0.3".to_owned()), Some(value >= 0.3))
            } else {
                (None, None)
            };
            Metric {
                name: format!("{}_vs_echo", m.name),
                value,
                unit: "× echo".into(),
                target,
                met,
            }
        })
        .collect();
    report.metrics.extend(ratios);
}

/// `tidings bench`: runs, prints the tables (or JSON), and fails when a check failed.
pub fn main(args: BenchArgs) -> Result<()> {
    // Before the in-process server starts: its connection caps follow the open-file limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let reports = run(&args)?;
    if matches!(args.scenario, Scenario::ConnectHelper(_)) {
        return Ok(());
    }
    if args.common.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            println!("{}", report.table());
        }
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.scenario.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "checks failed or the run was cut short in: {}",
            failed.join(", ")
        );
    }
    Ok(())
}

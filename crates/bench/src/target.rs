//! The server under load: one started in this process on a temporary data directory, or
//! running ones given by `--url` (loopback addresses only): one server, or the nodes of a
//! cluster, over which a scenario spreads its connections in turn.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tidings_server::{Config, Server};
use tidings_service::{Hub, Tidings};
use tidings_store::StorageStats;
use tidings_store::scratch::ScratchDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::CommonArgs;

/// Requests per second (and burst) per connection allowed by the in-process server.
pub(crate) const IN_PROCESS_RATE_LIMIT: u32 = 1_000_000;

/// Where a `ws://host:port/path` URL points.
#[derive(Debug, Clone)]
pub(crate) struct WsAddr {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    pub(crate) path: String,
}

/// Parses a `ws://` URL and refuses anything that is not a loopback address.
pub(crate) fn parse_loopback_url(url: &str) -> Result<WsAddr> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| anyhow!("--url must be a ws:// URL (loopback only), not {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/ws"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, port) = v6
            .split_once("]:")
            .ok_or_else(|| anyhow!("bad address in {url:?}"))?;
        (host, port)
    } else {
        authority.rsplit_once(':').unwrap_or((authority, "80"))
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("bad port in {url:?}"))?;
    let ip: IpAddr = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .with_context(|| format!("{host:?} is not an IP address; use 127.0.0.1"))?
    };
    if !ip.is_loopback() {
        bail!("the load generator talks to loopback addresses only (127.0.0.0/8, ::1), not {ip}");
    }
    Ok(WsAddr {
        addr: SocketAddr::new(ip, port),
        host: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// Makes UserSigs for the server's application.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub(crate) sdkappid: u64,
    pub(crate) secret_key: String,
}

impl Signer {
    pub(crate) fn sign(&self, user: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        tidings_usersig::generate(self.sdkappid, &self.secret_key, user, 86_400, now)
    }
}

/// The in-process server.
pub(crate) struct Local {
    pub(crate) tidings: Arc<Tidings>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) storage: Arc<dyn StorageStats>,
    /// Keeps the data directory until the run ends.
    _data_dir: tempfile::TempDir,
    /// The PostgreSQL database of the run, dropped when it ends.
    database: Option<ScratchDatabase>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Local {
    /// The URL of the run's PostgreSQL database, when the server runs on one.
    pub(crate) fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(ScratchDatabase::url)
    }
}

/// The server under load.
pub(crate) struct Target {
    /// WebSocket URLs: the in-process server's, or one per `--url` (one per cluster node).
    pub(crate) urls: Vec<String>,
    /// The same, parsed.
    pub(crate) ws: Vec<WsAddr>,
    pub(crate) signer: Signer,
    pub(crate) local: Option<Local>,
    /// Processes whose memory `connections` reads: this one when in-process, else
    /// `--server-pid`.
    pub(crate) server_pids: Vec<u32>,
}

impl Target {
    /// Starts an in-process server, or checks the `--url` of a running one.
    pub(crate) async fn start(common: &CommonArgs) -> Result<Self> {
        Self::start_with(common, |_| {}).await
    }

    /// [`Target::start`], with `configure` applied last to the in-process server's
    /// configuration (not to a `--url` server's).
    pub(crate) async fn start_with(
        common: &CommonArgs,
        configure: impl FnOnce(&mut Config),
    ) -> Result<Self> {
        if !common.url.is_empty() {
            let ws = common
                .url
                .iter()
                .map(|url| parse_loopback_url(url))
                .collect::<Result<Vec<_>>>()?;
            let secret_key = common.secret_key.clone().ok_or_else(|| {
                anyhow!("--url needs --secret-key (or TIDINGS_SECRET_KEY) to sign UserSigs")
            })?;
            let sdkappid = common.sdkappid.unwrap_or(Config::default().sdkappid);
            return Ok(Self {
                urls: common.url.clone(),
                ws,
                signer: Signer {
                    sdkappid,
                    secret_key,
                },
                local: None,
                server_pids: common.server_pid.clone(),
            });
        }
        let data_dir = tempfile::Builder::new()
            .prefix("tidings-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let secret_key: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            secret_key: Some(secret_key.clone()),
            ..Config::default()
        };
        config.store.synchronous = common.synchronous.clone();
        if let Some(pool_size) = common.pool_size {
            config.store.pool_size = pool_size;
        }
        let database = match &common.store {
            Some(server) => {
                let database = ScratchDatabase::create(server)
                    .await
                    .context("cannot create the run's PostgreSQL database")?;
                config.store.url = Some(database.url().to_owned());
                Some(database)
            }
            None => None,
        };
        config.read_receipts.notify_window_ms = common.notify_window_ms;
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        // One measuring connection (large-group's sender) sends thousands of requests back to
        // back; the per-connection rate limit would answer them 7008.
        config.limits.requests_per_second = IN_PROCESS_RATE_LIMIT;
        config.limits.request_burst = IN_PROCESS_RATE_LIMIT;
        // Every simulated client connects from 127.0.0.1.
        config.limits.max_connections_per_ip = 0;
        configure(&mut config);
        let server = Server::open(&config)
            .await
            .context("cannot open the in-process server")?;
        let tidings = Arc::clone(&server.state().tidings);
        let hub = Arc::clone(&server.state().hub);
        let storage = Arc::clone(server.storage_stats());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = server.serve(listener, shutdown).await {
                eprintln!("in-process server failed: {e}");
            }
        });
        let url = format!("ws://{addr}/ws");
        Ok(Self {
            ws: vec![parse_loopback_url(&url)?],
            urls: vec![url],
            signer: Signer {
                sdkappid: config.sdkappid,
                secret_key,
            },
            local: Some(Local {
                tidings,
                hub,
                storage,
                _data_dir: data_dir,
                database,
                stop: Some(stop),
                task: Some(task),
            }),
            server_pids: vec![std::process::id()],
        })
    }

    /// The URL of a scenario's `index`-th connection: the URLs in turn.
    pub(crate) fn url(&self, index: usize) -> &str {
        &self.urls[index % self.urls.len()]
    }

    /// Whether the connections go to several servers (the nodes of a cluster).
    pub(crate) fn nodes(&self) -> usize {
        self.urls.len()
    }

    /// Resident memory of the server processes together; None when there are none or one
    /// cannot be read.
    pub(crate) fn server_rss(&self) -> Option<u64> {
        if self.server_pids.is_empty() {
            return None;
        }
        self.server_pids.iter().map(|pid| rss_bytes(*pid)).sum()
    }

    /// Whether the server runs in this process.
    pub(crate) fn in_process(&self) -> bool {
        self.local.is_some()
    }

    /// Stops the in-process server (closing its sessions) and waits for it, at most 15 s.
    pub(crate) async fn stop(mut self) {
        if let Some(local) = self.local.as_mut() {
            if let Some(stop) = local.stop.take() {
                let _ = stop.send(());
            }
            if let Some(task) = local.task.take() {
                let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
            }
        }
    }
}

/// Resident memory of a process in bytes (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let path = if pid == std::process::id() {
        "/proc/self/status".to_owned()
    } else {
        format!("/proc/{pid}/status")
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time this process's threads have run so far (the first field of each thread's
/// `/proc/self/task/<tid>/schedstat`, in nanoseconds). Threads that already exited are not
/// counted, so take it around phases during which the server's and generator's threads live.
pub(crate) fn process_cpu() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between listing and reading.
        let Ok(stat) = std::fs::read_to_string(path) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Microseconds of [`process_cpu`] per unit of work between two readings; None when a reading
/// failed or nothing was done.
pub(crate) fn cpu_us_per(
    before: Option<Duration>,
    after: Option<Duration>,
    units: u64,
) -> Option<f64> {
    let spent = after?.checked_sub(before?)?;
    (units > 0).then(|| spent.as_secs_f64() * 1e6 / units as f64)
}

/// A short random tag so that user and group IDs of one run never collide with another's on
/// a long-running server.
pub(crate) fn run_tag() -> String {
    let letters: String = (0..5)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    letters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert!(parse_loopback_url("ws://127.0.0.1:8080/ws").is_ok());
        assert!(parse_loopback_url("ws://127.0.0.9:8080/ws").is_ok());
        assert!(parse_loopback_url("ws://localhost:8080/ws").is_ok());
        assert!(parse_loopback_url("ws://[::1]:8080/ws").is_ok());
        assert!(parse_loopback_url("ws://10.0.0.1:8080/ws").is_err());
        assert!(parse_loopback_url("ws://example.com:8080/ws").is_err());
        assert!(parse_loopback_url("http://127.0.0.1:8080/ws").is_err());
        let parsed = parse_loopback_url("ws://127.0.0.1:9000/ws").unwrap();
        assert_eq!(parsed.addr.port(), 9000);
        assert_eq!(parsed.path, "/ws");
        assert_eq!(parsed.host, "127.0.0.1:9000");
    }
}

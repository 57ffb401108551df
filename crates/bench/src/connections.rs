//! `connections`: N idle, logged-in connections. Reports the login rate and the server's
//! resident memory per connection (`VmRSS` deltas of `/proc/<pid>/status`: this process when the
//! server runs in it, otherwise the sum over the `--server-pid` processes, e.g. every node of a
//! cluster whose `--url`s the connections are spread over).
//!
//! The client ends are kept as lean as possible so that they barely show in the in-process
//! memory figure: a hand-rolled WebSocket handshake and one masked login frame on a plain
//! `TcpStream`, after which the client keeps only the socket. Each connection needs a file
//! descriptor at each end, so the open-file limit is raised to its hard limit; when this process
//! cannot hold both ends, the client ends go to child processes (`tidings bench connect-helper`,
//! hidden), each holding up to 15,000. Beyond 12,000 connections the client ends bind to several
//! source addresses (127.0.0.2, 127.0.0.3, …) so that no source runs out of ephemeral ports.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::report::{Bound, Deadline, Report, progress, rate};
use crate::target::{Signer, Target, WsAddr, parse_loopback_url, run_tag};
use crate::{ConnectionsArgs, RunContext};

/// The memory target per idle connection.
const BYTES_PER_CONNECTION: f64 = 30.0 * 1024.0;
/// File descriptors kept for everything but connections (store, listener, runtime, stdio).
const FD_RESERVE: u64 = 300;
/// Client ends per helper process.
const PER_HELPER: usize = 15_000;
/// Connections per source address. A socket bound before it connects gets its port at bind
/// time, and Linux's bind takes ephemeral ports from one half of the range first (about 14,000 of
/// the default 28,232); past that, the load stalled.
const PER_SOURCE: usize = 12_000;

/// Parameters of a helper process (internal).
#[derive(Debug, Clone, Args)]
pub struct HelperArgs {
    /// The servers' WebSocket URLs (comma-separated): connection `i` goes to the `i mod n`-th.
    #[arg(long, value_delimiter = ',', required = true)]
    target: Vec<String>,
    /// SDKAppID.
    #[arg(long)]
    sdkappid: u64,
    /// Signing key (from the environment).
    #[arg(long, env = "TIDINGS_BENCH_HELPER_KEY", hide_env_values = true)]
    key: String,
    /// User ID prefix.
    #[arg(long)]
    prefix: String,
    /// Index of the first connection.
    #[arg(long)]
    first: usize,
    /// Connections to hold.
    #[arg(long)]
    count: usize,
    /// Total connections of the run (decides the source addresses).
    #[arg(long)]
    total: usize,
    /// Handshakes in flight.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

fn source_for(index: usize, total: usize, target: &WsAddr) -> Option<IpAddr> {
    if total <= PER_SOURCE || !target.addr.ip().is_loopback() || !target.addr.is_ipv4() {
        return None;
    }
    let host = 2 + (index / PER_SOURCE) as u8;
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
}

/// A masked client text frame.
pub(crate) fn client_frame(payload: &[u8]) -> Vec<u8> {
    const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x81);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frame
}

/// Reads server frames until a text frame arrives; returns its payload.
pub(crate) async fn read_text_frame(
    stream: &mut TcpStream,
    mut buffer: Vec<u8>,
) -> Result<Vec<u8>> {
    loop {
        if let Some((opcode, start, end)) = parse_frame(&buffer)? {
            match opcode {
                0x1 => return Ok(buffer[start..end].to_vec()),
                0x8 => bail!("server closed the connection"),
                _ => {
                    buffer.drain(..end);
                    continue;
                }
            }
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before the login response");
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// A complete unmasked frame at the start of `buffer`: (opcode, payload start, payload end).
pub(crate) fn parse_frame(buffer: &[u8]) -> Result<Option<(u8, usize, usize)>> {
    if buffer.len() < 2 {
        return Ok(None);
    }
    let opcode = buffer[0] & 0x0f;
    let masked = buffer[1] & 0x80 != 0;
    let (len, mut header) = match buffer[1] & 0x7f {
        126 if buffer.len() >= 4 => (usize::from(u16::from_be_bytes([buffer[2], buffer[3]])), 4),
        127 if buffer.len() >= 10 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buffer[2..10]);
            (usize::try_from(u64::from_be_bytes(bytes))?, 10)
        }
        126 | 127 => return Ok(None),
        len => (usize::from(len), 2),
    };
    if masked {
        header += 4;
    }
    if buffer.len() < header + len {
        return Ok(None);
    }
    if masked {
        bail!("server frames must not be masked");
    }
    Ok(Some((opcode, header, header + len)))
}

/// A TCP connection to `addr` from `from` (the default address when `None`), with a receive
/// buffer of `recv_buffer` bytes when given (set before connecting, so that the window the
/// server sees is small from the start).
pub(crate) async fn connect_from(
    addr: SocketAddr,
    from: Option<IpAddr>,
    recv_buffer: Option<u32>,
) -> Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = from {
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("cannot bind {ip}"))?;
    }
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    Ok(socket.connect(addr).await?)
}

/// Opens a WebSocket with a minimal handshake and logs in; returns the bare socket.
async fn raw_login(
    target: &WsAddr,
    source: Option<IpAddr>,
    user: &str,
    sig: &str,
) -> Result<TcpStream> {
    let mut stream = connect_from(target.addr, source, None).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.host
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(512);
    let rest = loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed during the handshake");
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break head.split_off(end + 4);
        }
        if head.len() > 16 * 1024 {
            bail!("handshake response too long");
        }
    };
    if !head.starts_with(b"HTTP/1.1 101") {
        let line = String::from_utf8_lossy(&head);
        bail!("handshake refused: {}", line.lines().next().unwrap_or(""));
    }
    let login = serde_json::json!({ "id": 1, "method": "login", "params": { "userID": user, "userSig": sig } });
    stream
        .write_all(&client_frame(login.to_string().as_bytes()))
        .await?;
    let payload = read_text_frame(&mut stream, rest).await?;
    let response: serde_json::Value = serde_json::from_slice(&payload)?;
    let code = response.get("code").and_then(serde_json::Value::as_u64);
    if code != Some(0) {
        bail!("login refused: {response}");
    }
    Ok(stream)
}

/// The users `range` of a run, with their UserSigs.
fn sign_range(
    signer: &Signer,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<(usize, String, String)> {
    range
        .map(|i| {
            let user = format!("{prefix}-c{i}");
            let sig = signer.sign(&user);
            (i, user, sig)
        })
        .collect()
}

/// What [`connect_all`] did.
struct Connected {
    streams: Vec<TcpStream>,
    errors: Vec<String>,
    /// Logged-in connections per target, in the targets' order.
    per_target: Vec<usize>,
}

/// Connects and logs in the signed users, user `i` to `targets[i mod n]`.
async fn connect_all(
    targets: &[WsAddr],
    users: Vec<(usize, String, String)>,
    total: usize,
    concurrency: usize,
    bar: &indicatif::ProgressBar,
) -> Connected {
    let results: Vec<(usize, Result<TcpStream>)> = futures_util::stream::iter(users)
        .map(|(i, user, sig)| async move {
            let which = i % targets.len();
            let target = &targets[which];
            let result = raw_login(target, source_for(i, total, target), &user, &sig).await;
            bar.inc(1);
            (which, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut connected = Connected {
        streams: Vec::with_capacity(results.len()),
        errors: Vec::new(),
        per_target: vec![0; targets.len()],
    };
    for (which, result) in results {
        match result {
            Ok(stream) => {
                connected.streams.push(stream);
                connected.per_target[which] += 1;
            }
            Err(e) => connected.errors.push(e.to_string()),
        }
    }
    connected
}

/// How many of `total` connections go to the `which`-th of `targets` URLs, in turn.
fn share_of(total: usize, targets: usize, which: usize) -> usize {
    (total + targets - 1 - which) / targets
}

pub(crate) async fn run(ctx: &RunContext, args: &ConnectionsArgs) -> Result<Report> {
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let fd_limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let mut report = Report::new(
        "connections",
        serde_json::json!({
            "connections": args.connections,
            "concurrency": args.concurrency,
            "open_file_limit": fd_limit,
        }),
    );
    let target = Target::start(&ctx.common).await?;
    let outcome = connections(ctx, args, &target, fd_limit, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn connections(
    ctx: &RunContext,
    args: &ConnectionsArgs,
    target: &Target,
    fd_limit: u64,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let mut wanted = args.connections;
    if target.in_process() && wanted as u64 + FD_RESERVE > fd_limit {
        let cap = fd_limit.saturating_sub(FD_RESERVE) as usize;
        report.notes.push(format!(
            "asked for {wanted} connections, but this process may open {fd_limit} files \
             (RLIMIT_NOFILE hard limit; raising it needs CAP_SYS_RESOURCE, e.g. `ulimit -Hn` as \
             root or LimitNOFILE=): holding {cap}"
        ));
        wanted = cap;
    }
    // In process, this process holds both ends of every connection; otherwise the client ends.
    let ends_here = if target.in_process() { 2 } else { 1 };
    let helpers = match args.client_processes {
        Some(n) => n,
        None if ends_here * wanted as u64 + FD_RESERVE <= fd_limit => 0,
        None => wanted.div_ceil(PER_HELPER),
    };
    report.params["client_processes"] = serde_json::json!(helpers);
    report.params["held"] = serde_json::json!(wanted);
    report.params["nodes"] = serde_json::json!(target.nodes());
    let prefix = run_tag();

    // Warm up every server (a first connection allocates lazily built state), then the
    // baseline.
    for (node, ws) in target.ws.iter().enumerate() {
        let user = format!("{prefix}-warm{node}");
        let warm = raw_login(ws, None, &user, &target.signer.sign(&user)).await?;
        drop(warm);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = target.server_rss();

    let bar = progress(wanted as u64, "connections", ctx.quiet);
    let (held, failures, login_time, mut children, per_url) = if helpers == 0 {
        let users = sign_range(&target.signer, &prefix, 0..wanted);
        let begin = Instant::now();
        let outcome = deadline
            .run(connect_all(
                &target.ws,
                users,
                wanted,
                args.concurrency,
                &bar,
            ))
            .await;
        let Some(connected) = outcome else {
            bar.finish_and_clear();
            report.cut_short("connecting");
            return Ok(());
        };
        let elapsed = begin.elapsed();
        (
            Held::Local(connected.streams),
            connected.errors,
            elapsed,
            Vec::new(),
            connected.per_target,
        )
    } else {
        spawn_helpers(ctx, args, target, &prefix, wanted, helpers, deadline, &bar).await?
    };
    bar.finish_and_clear();
    let connected = held.count(&children);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = target.server_rss();
    let sessions = target.local.as_ref().map(|local| local.hub.session_count());

    report.check(
        "every connection logged in",
        failures.is_empty() && connected == wanted,
        match failures.first() {
            None => format!("{connected} of {wanted}"),
            Some(e) => format!(
                "{connected} of {wanted}; {} failed, first: {e}",
                failures.len()
            ),
        },
    );
    if target.nodes() > 1 {
        let spread = (0..target.nodes())
            .all(|which| per_url.get(which) == Some(&share_of(wanted, target.nodes(), which)));
        report.check(
            "connections spread over every URL in turn",
            spread,
            format!("logged in per URL: {per_url:?}"),
        );
        for (which, count) in per_url.iter().enumerate() {
            report.metric(
                &format!("connections_on_url_{which}"),
                *count as f64,
                "connections",
            );
        }
    }
    if let Some(sessions) = sessions {
        report.check(
            "the server holds one session per connection",
            sessions == connected,
            format!("{sessions} sessions for {connected} connections"),
        );
    }
    if args.connections >= 100_000 {
        report.metric_target(
            "connections_held",
            connected as f64,
            "connections",
            Bound::AtLeast(100_000.0),
        );
    } else {
        report.metric("connections_held", connected as f64, "connections");
    }
    report.metric(
        "logins_per_sec",
        rate(connected as u64, login_time),
        "logins/s",
    );
    match (rss_before, rss_after) {
        (Some(before), Some(after)) if connected > 0 => {
            let per = after.saturating_sub(before) as f64 / connected as f64;
            report.metric_target(
                "rss_bytes_per_connection",
                per,
                "bytes",
                Bound::AtMost(BYTES_PER_CONNECTION),
            );
            report.metric("rss_before_mib", before as f64 / 1_048_576.0, "MiB");
            report.metric("rss_after_mib", after as f64 / 1_048_576.0, "MiB");
            let who = if !target.in_process() {
                format!(
                    "{} server processes summed, over {} node URLs (client ends in other \
                     processes)",
                    target.server_pids.len(),
                    target.nodes()
                )
            } else if helpers > 0 {
                "server only (client ends in other processes)".to_owned()
            } else {
                "server plus the bare client sockets in the same process (a socket and its \
                 reactor registration each)"
                    .to_owned()
            };
            report
                .notes
                .push(format!("memory: VmRSS delta of the server process: {who}"));
        }
        _ => report
            .notes
            .push("no server memory figure: pass --server-pid with --url".into()),
    }
    drop(held);
    for child in &mut children {
        drop(child.stdin.take());
    }
    for mut child in children {
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
    Ok(())
}

enum Held {
    Local(Vec<TcpStream>),
    Remote(usize),
}

impl Held {
    fn count(&self, _children: &[tokio::process::Child]) -> usize {
        match self {
            Self::Local(streams) => streams.len(),
            Self::Remote(count) => *count,
        }
    }
}

/// The held connections, the failures, the time to log in, the helpers, and the logged-in
/// connections per URL.
type Spawned = (
    Held,
    Vec<String>,
    Duration,
    Vec<tokio::process::Child>,
    Vec<usize>,
);

/// Starts helper processes, lets them sign, then connects them all at once.
#[allow(clippy::too_many_arguments)]
async fn spawn_helpers(
    ctx: &RunContext,
    args: &ConnectionsArgs,
    target: &Target,
    prefix: &str,
    wanted: usize,
    helpers: usize,
    deadline: Deadline,
    bar: &indicatif::ProgressBar,
) -> Result<Spawned> {
    let exe = std::env::current_exe().context("cannot find this program to start helpers")?;
    let per = wanted.div_ceil(helpers.max(1));
    let mut children = Vec::new();
    let mut lines = Vec::new();
    for h in 0..helpers {
        let first = h * per;
        let count = per.min(wanted.saturating_sub(first));
        if count == 0 {
            break;
        }
        let mut child = tokio::process::Command::new(&exe)
            .args([
                "bench",
                "connect-helper",
                "--target",
                &target.urls.join(","),
                "--prefix",
                prefix,
            ])
            .args(["--sdkappid", &target.signer.sdkappid.to_string()])
            .args(["--first", &first.to_string(), "--count", &count.to_string()])
            .args([
                "--total",
                &wanted.to_string(),
                "--concurrency",
                &args.concurrency.to_string(),
            ])
            .env("TIDINGS_BENCH_HELPER_KEY", &target.signer.secret_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start helper {}", exe.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("helper without stdout"))?;
        lines.push(BufReader::new(stdout).lines());
        children.push(child);
    }
    for reader in &mut lines {
        let line = deadline
            .run(reader.next_line())
            .await
            .ok_or_else(|| anyhow!("helpers too slow to sign"))??;
        if line.as_deref() != Some("signed") {
            bail!("helper failed before connecting: {line:?}");
        }
    }
    let begin = Instant::now();
    for child in &mut children {
        if let Some(stdin) = child.stdin.as_mut() {
            stdin.write_all(b"go\n").await?;
            stdin.flush().await?;
        }
    }
    let mut connected = 0;
    let mut per_url = vec![0usize; target.nodes()];
    let mut errors = Vec::new();
    let mut elapsed = Duration::ZERO;
    for reader in &mut lines {
        loop {
            let line = deadline
                .run(reader.next_line())
                .await
                .ok_or_else(|| anyhow!("helpers too slow to connect"))??;
            let Some(line) = line else {
                bail!("a helper ended before reporting")
            };
            let mut words = line.splitn(4, ' ');
            match words.next() {
                Some("per-url") => {
                    let counts = words.next().unwrap_or("").split(',');
                    for (which, count) in counts.enumerate() {
                        if let (Some(total), Ok(count)) =
                            (per_url.get_mut(which), count.parse::<usize>())
                        {
                            *total += count;
                        }
                    }
                }
                Some("progress") => {
                    let n: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    bar.inc(n);
                }
                Some("ready") => {
                    let ok: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    let failed: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    connected += ok;
                    if failed > 0 {
                        errors.push(format!(
                            "{failed} failed in a helper: {}",
                            words.next().unwrap_or("")
                        ));
                    }
                    elapsed = begin.elapsed();
                    break;
                }
                _ => bail!("unexpected helper output: {line}"),
            }
        }
    }
    let _ = ctx;
    Ok((Held::Remote(connected), errors, elapsed, children, per_url))
}

/// The helper process: sign, wait for `go`, connect, report, hold until stdin closes.
pub(crate) fn helper_main(args: &HelperArgs) -> Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let targets = args
            .target
            .iter()
            .map(|url| parse_loopback_url(url))
            .collect::<Result<Vec<_>>>()?;
        let signer = Signer {
            sdkappid: args.sdkappid,
            secret_key: args.key.clone(),
        };
        let users = sign_range(&signer, &args.prefix, args.first..args.first + args.count);
        say("signed")?;
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        if stdin.next_line().await?.as_deref() != Some("go") {
            return Ok(());
        }
        let bar = indicatif::ProgressBar::hidden();
        let connected = connect_all(&targets, users, args.total, args.concurrency, &bar).await;
        say(&format!("progress {}", args.count))?;
        let per_url: Vec<String> = connected.per_target.iter().map(usize::to_string).collect();
        say(&format!("per-url {}", per_url.join(",")))?;
        let first_error = connected.errors.first().map_or("", String::as_str);
        say(&format!(
            "ready {} {} {first_error}",
            connected.streams.len(),
            connected.errors.len()
        ))?;
        while stdin.next_line().await?.is_some() {}
        drop(connected);
        Ok(())
    })
}

fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_parser() {
        let frame = client_frame(b"hello");
        assert_eq!(frame[0], 0x81);
        assert_eq!(frame[1], 0x80 | 5);
        let server = [0x81, 3, b'a', b'b', b'c'];
        assert_eq!(parse_frame(&server).unwrap(), Some((1, 2, 5)));
        assert_eq!(parse_frame(&server[..4]).unwrap(), None);
        let long = client_frame(&[b'x'; 300]);
        assert_eq!(long[1], 0x80 | 126);
        assert_eq!(u16::from_be_bytes([long[2], long[3]]), 300);
    }

    #[test]
    fn connections_go_to_the_urls_in_turn() {
        assert_eq!(
            (0..3).map(|w| share_of(10, 3, w)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!(
            (0..2).map(|w| share_of(40, 2, w)).collect::<Vec<_>>(),
            [20, 20]
        );
        assert_eq!(share_of(1, 3, 2), 0);
    }
}

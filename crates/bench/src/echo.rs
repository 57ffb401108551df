//! `echo-baseline`: the same frames through a bare axum WebSocket echo server (no parsing, no
//! logic, no storage), with the same client code, so every throughput can be put next to what
//! the transport alone does on this machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use axum::serve::ListenerExt;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use crate::client::Conn;
use crate::report::{Deadline, Latency, Report, progress, rate};
use crate::target::{cpu_us_per, process_cpu};
use crate::{EchoArgs, RunContext};

/// A request frame of `sendMessageReadReceipts` naming `ids`, as the storm sends it.
pub(crate) fn receipt_request(id: u64, ids: &[String]) -> String {
    let mut text = String::with_capacity(80 + ids.len() * 34);
    text.push_str("{\"id\":");
    text.push_str(&id.to_string());
    text.push_str(",\"method\":\"sendMessageReadReceipts\",\"params\":{\"messageIDList\":[");
    for (i, msg_id) in ids.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push('"');
        text.push_str(msg_id);
        text.push('"');
    }
    text.push_str("]}}");
    text
}

/// Message IDs shaped like the server's (`<millis>-<16 hex digits>`), for echo frames.
pub(crate) fn fake_msg_ids(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            format!(
                "1764000000000-{:016x}",
                0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1)
            )
        })
        .collect()
}

/// Opens `count` connections to `url` (at most 128 handshakes at once), in order.
pub(crate) async fn open_plain(
    url: &str,
    count: usize,
    label: &str,
    quiet: bool,
) -> Result<Vec<Arc<Conn>>> {
    let bar = progress(count as u64, label, quiet);
    let conns: Vec<Result<Arc<Conn>>> = futures_util::stream::iter(0..count)
        .map(|_| {
            let bar = bar.clone();
            async move {
                let (conn, _) = Conn::open(url, false).await?;
                bar.inc(1);
                Ok(Arc::new(conn))
            }
        })
        .buffered(128)
        .collect()
        .await;
    bar.finish_and_clear();
    conns.into_iter().collect()
}

struct EchoServer {
    url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                if socket.send(message).await.is_err() {
                    break;
                }
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

async fn start_server(read_buffer: usize) -> Result<EchoServer> {
    let app = Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| async move {
            upgrade.read_buffer_size(read_buffer).on_upgrade(echo)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the echo server")?;
    let url = format!("ws://{}/ws", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener.tap_io(tidings_server::disable_nagle), app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(EchoServer { url, stop, task })
}

/// Runs the echo baseline: `connections` connections, each doing `round_trips` sequential
/// request/echo round trips of a receipt frame naming `frame_ids` message IDs.
pub(crate) async fn run(ctx: &RunContext, args: &EchoArgs) -> Result<Report> {
    let started = Instant::now();
    let mut report = Report::new(
        "echo-baseline",
        serde_json::json!({
            "connections": args.connections,
            "round_trips": args.round_trips,
            "frame_ids": args.frame_ids,
            "server_read_buffer": args.read_buffer,
        }),
    );
    let deadline = Deadline::after(ctx.remaining());
    let server = start_server(args.read_buffer).await?;
    let ids = Arc::new(fake_msg_ids(args.frame_ids));
    let frame_bytes = receipt_request(1, &ids).len();
    let conns = match deadline
        .run(open_plain(
            &server.url,
            args.connections,
            "echo: connect",
            ctx.quiet,
        ))
        .await
    {
        Some(conns) => conns?,
        None => {
            report.cut_short("connecting");
            return Ok(finish(report, server, Vec::new(), started).await);
        }
    };
    let total = (args.connections * args.round_trips) as u64;
    let bar = progress(total, "echo: frames", ctx.quiet);
    let cpu_before = process_cpu();
    let begin = Instant::now();
    let tasks: Vec<_> = conns
        .iter()
        .map(|conn| {
            let conn = Arc::clone(conn);
            let ids = Arc::clone(&ids);
            let bar = bar.clone();
            let round_trips = args.round_trips;
            tokio::spawn(async move {
                let mut latency = Latency::default();
                let mut done = 0u64;
                for _ in 0..round_trips {
                    let id = conn.next_id();
                    let sent = Instant::now();
                    match conn.call_text(id, receipt_request(id, &ids)).await {
                        Ok(reply) => {
                            latency.record(reply.at.duration_since(sent));
                            done += 1;
                            bar.inc(1);
                        }
                        Err(_) => break,
                    }
                }
                (latency, done)
            })
        })
        .collect();
    let joined = deadline.run(futures_util::future::join_all(tasks)).await;
    let elapsed = begin.elapsed();
    let cpu_after = process_cpu();
    bar.finish_and_clear();
    let Some(joined) = joined else {
        report.cut_short("round trips");
        return Ok(finish(report, server, conns, started).await);
    };
    let mut latency = Latency::default();
    let mut done = 0;
    for (part, count) in joined.into_iter().flatten() {
        latency.merge(&part);
        done += count;
    }
    report.metric("frames_per_sec", rate(done, elapsed), "frames/s");
    report.latency("round_trip", &latency, None);
    if let Some(per_frame) = cpu_us_per(cpu_before, cpu_after, done) {
        report.metric("cpu_us_per_frame", per_frame, "µs");
    }
    report.metric("frame_bytes", frame_bytes as f64, "bytes");
    report.check(
        "every frame echoed",
        done == total,
        format!("{done} of {total} round trips"),
    );
    report.notes.push(
        "bare axum WebSocket echo in this process (same tungstenite, same client code as the \
         scenarios); a frame is one request/echo round trip; cpu_us_per_frame is the CPU time \
         of this process (server and client) per frame"
            .into(),
    );
    Ok(finish(report, server, conns, started).await)
}

async fn finish(
    mut report: Report,
    server: EchoServer,
    conns: Vec<Arc<Conn>>,
    started: Instant,
) -> Report {
    for conn in &conns {
        conn.close();
    }
    drop(conns);
    let _ = server.stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server.task).await;
    report.seconds = started.elapsed().as_secs_f64();
    report
}

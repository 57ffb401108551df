//! The accept loop of the one HTTP port: one HTTP/1.1 connection per socket (upgradable to a
//! WebSocket), a header timeout that also ends idle keep-alive connections, caps on open
//! connections (per client address, and in all below the process's open-file limit) that
//! refuse beyond them with HTTP 503, and a shutdown that waits for every connection, WebSocket
//! sessions included.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tower_service::Service;

/// Descriptors kept back from connections for the store's files, webhook connections, the
/// listener and logs.
const FD_HEADROOM: u64 = 256;
/// Connections kept back from WebSockets, so that `/healthz`, REST and refusals still get a
/// socket when WebSockets fill their cap.
const HTTP_RESERVE: usize = 64;
/// Refusals being written at once; beyond, a refused socket is closed without a word.
const MAX_REFUSALS: usize = 64;
/// How long a refusal may take to be written and its request to be drained.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections of each kind fit in the process's open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionCaps {
    /// TCP connections of any kind.
    pub open: usize,
    /// WebSocket sessions (the rest stays for plain HTTP).
    pub websockets: usize,
}

impl ConnectionCaps {
    /// The caps for an open-file limit of `nofile` and at most `configured` WebSockets.
    pub(crate) fn within(nofile: u64, configured: usize) -> Self {
        let open = usize::try_from(nofile.saturating_sub(FD_HEADROOM))
            .unwrap_or(usize::MAX)
            .max(HTTP_RESERVE + 1);
        Self {
            open,
            websockets: configured.min(open - HTTP_RESERVE),
        }
    }

    /// The caps for this process's (soft) open-file limit.
    pub(crate) fn for_this_process(configured: usize) -> Self {
        match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _hard)) => Self::within(soft, configured),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open-file limit; assuming 1024");
                Self::within(1024, configured)
            }
        }
    }
}

/// Counts open connections, in all and per client address.
#[derive(Debug)]
pub(crate) struct Gate {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    max_open: usize,
    /// 0: no per-address cap.
    max_per_ip: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Full,
    PerIp,
}

/// One admitted connection: counted until the last holder (its HTTP task, then its WebSocket
/// session if it upgraded) drops it. It also keeps the accept loop's shutdown waiting.
#[derive(Debug)]
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
    _running: mpsc::Sender<()>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(count) = open.1.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    pub(crate) fn new(max_open: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new((0, HashMap::new())),
            max_open,
            max_per_ip,
        })
    }

    fn admit(self: &Arc<Self>, ip: IpAddr, running: &mpsc::Sender<()>) -> Result<Ticket, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.max_open {
            return Err(Refusal::Full);
        }
        let from_ip = open.1.entry(ip).or_default();
        if self.max_per_ip > 0 && *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *from_ip += 1;
        open.0 += 1;
        Ok(Ticket {
            gate: Arc::clone(self),
            ip,
            _running: running.clone(),
        })
    }
}

/// Accepts and serves connections until `shutdown` resolves, then waits until every admitted
/// connection, WebSocket sessions included, has ended.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    gate: Arc<Gate>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(false);
    let (running, mut all_ended) = mpsc::channel::<()>(1);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    tokio::pin!(shutdown);
    loop {
        let (mut stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, most likely: retrying at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        crate::disable_nagle(&mut stream);
        match gate.admit(peer.ip(), &running) {
            Ok(ticket) => {
                let connection = serve_connection(
                    stream,
                    peer,
                    Arc::new(ticket),
                    app.clone(),
                    header_timeout,
                    stopping.clone(),
                );
                tokio::spawn(connection);
            }
            Err(refusal) => {
                metrics::counter!("tidings_connections_refused_total").increment(1);
                if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(REFUSAL_TIMEOUT, refuse(stream, refusal)).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drop(running);
    let _ = all_ended.recv().await;
}

/// Serves one HTTP/1.1 connection; the ticket goes into every request, so that a WebSocket
/// upgrade keeps it for as long as its session runs.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    ticket: Arc<Ticket>,
    app: Router,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(Arc::clone(&ticket));
        let mut app = app.clone();
        async move { app.call(request).await }
    });
    let mut builder = http1::Builder::new();
    // Without a timer hyper has no header timeout: half-sent headers, and idle keep-alive
    // connections, were kept open for good (slowloris).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
            return;
        }
        _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
    }
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

/// Answers a connection beyond a cap with a 503 before reading its request, then drains what
/// the client sent, so that closing does not reset the connection before the client read it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let body = match refusal {
        Refusal::Full => "connection limit reached\n",
        Refusal::PerIp => "too many connections from this address\n",
    };
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(response.as_bytes()).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_leave_headroom_below_the_open_file_limit() {
        assert_eq!(
            ConnectionCaps::within(1024, 200_000),
            ConnectionCaps {
                open: 768,
                websockets: 704
            }
        );
        assert_eq!(
            ConnectionCaps::within(1_048_576, 200_000),
            ConnectionCaps {
                open: 1_048_320,
                websockets: 200_000
            }
        );
        assert_eq!(
            ConnectionCaps::within(100, 200_000),
            ConnectionCaps {
                open: 65,
                websockets: 1
            }
        );
    }
}

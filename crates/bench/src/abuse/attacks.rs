//! The attacks of issue 15 (items 1 to 5), each in a bounded form, and what the server answered
//! to each. Every attack speaks raw TCP where its point is what a well-behaved client would not
//! send (half-sent heads, stalled bodies, sockets never read, frames over the limits), and the
//! protocol client elsewhere. Attacks that need connections from one address beyond its cap
//! bind their sockets to addresses of their own on the loopback network (127.0.0.2 to
//! 127.0.0.4), so that the normal load's address is not the one capped.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};
use tidings_proto::methods::ConversationListResult;
use tidings_proto::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::AbuseArgs;
use crate::client::Conn;
use crate::connections::{client_frame, connect_from, parse_frame};
use crate::report::{Deadline, Report};
use crate::setup::create_work_group;
use crate::target::{Target, WsAddr};

/// The administrator's identifier (the server's default `admin`).
const ADMIN: &str = "administrator";
/// Bytes a stalled REST request promises (just under the 1 MiB body limit) and sends.
const STALLED_PROMISED: usize = 1024 * 1024 - 1;
const STALLED_SENT: usize = 64 * 1024;
/// Beyond this a WebSocket message is not read at all: the connection is dropped.
const HARD_FRAME_BYTES: usize = 1024 * 1024;
/// Keep-alive connections the made-up REST commands are spread over.
const UNKNOWN_COMMAND_CONNECTIONS: usize = 4;
/// Pushes sent to the slow readers at most (12 KiB each), whether or not they were closed:
/// enough to fill the kernel's buffers (several MiB on loopback) and the push queue's 4 MiB.
const MAX_SLOW_PUSHES: usize = 4000;
/// Receive buffer of a slow reader's socket while it does not read: small, so that the
/// server's writes stall after a few pushes instead of after the kernel's megabytes.
const SLOW_READ_BUFFER: u32 = 4096;
/// Pushes to the slow readers sent at once, between two looks at which of them are still
/// online.
const SLOW_PUSHES_IN_FLIGHT: usize = 16;
/// WebSocket handshakes in flight at once for the idle connections.
const HANDSHAKES_IN_FLIGHT: usize = 64;
/// The reasons of the two 1008 closes a slow reader may get.
pub(super) const SLOW_READER_REASONS: [&str; 2] = [
    "pushes may have been missed; reconnect and catch up",
    "too slow to read; reconnect and catch up",
];
/// The reason of the close of a connection that never logs in.
pub(super) const LOGIN_TIMEOUT_REASON: &str = "no login within the login timeout";
/// What reading an HTTP response reports when the server closed without one.
const NO_RESPONSE: &str = "connection closed before a whole response";
/// The body of the refusal beyond the per-address cap.
pub(super) const PER_ADDRESS_REFUSAL: &str = "too many connections from this address\n";

/// What the attacks need that is set up before the measured phases.
pub(super) struct Prepared {
    url: String,
    ws: WsAddr,
    rest: Rest,
    tag: String,
    list_user: (String, String),
    conversations: usize,
    slow_users: Vec<(String, String)>,
    accomplice: Arc<Conn>,
    slow_group: String,
    flood_user: (String, String),
    frames_user: (String, String),
}

/// The server's administrator REST API, one request per connection.
#[derive(Clone)]
struct Rest {
    addr: SocketAddr,
    host: String,
    /// The administrator's credentials.
    query: String,
    /// The same with a UserSig that cannot be decoded.
    forged: String,
}

impl Rest {
    async fn call(&self, command: &str, body: &Value) -> Result<Value> {
        let mut stream = TcpStream::connect(self.addr).await?;
        let body = body.to_string();
        let request = format!(
            "POST /v4/{command}?{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.query,
            self.host,
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let (status, text) = read_http_response(&mut stream, &mut Vec::new()).await?;
        if status != 200 {
            bail!("{command}: HTTP {status}");
        }
        let reply: Value = serde_json::from_str(&text)?;
        if reply["ErrorCode"] != 0 {
            bail!("{command}: {reply}");
        }
        Ok(reply)
    }
}

/// Source address `127.0.0.<host>` when the target is on IPv4 loopback, else the default.
fn source(target: &WsAddr, host: u8) -> Option<IpAddr> {
    (target.addr.ip().is_loopback() && target.addr.is_ipv4())
        .then_some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
}

/// A TCP connection to `addr` from `from` (the default address when `None`).
async fn connect(addr: SocketAddr, from: Option<IpAddr>) -> Result<TcpStream> {
    connect_from(addr, from, None).await
}

/// Reads one HTTP/1.1 response (its status and body) from `stream`, `buffer` holding what was
/// read before; what follows the response stays in `buffer`. A response without
/// `Content-Length` (a `101 Switching Protocols`) has no body.
async fn read_http_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(u16, String)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow!("no status line in {head:?}"))?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
                buffer.drain(..end + 4 + length);
                return Ok((status, body));
            }
        }
        buffer.reserve(2048);
        if stream.read_buf(buffer).await? == 0 {
            bail!(NO_RESPONSE);
        }
    }
}

/// `GET path` on a new connection from the default address; its status and body.
async fn get(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    read_http_response(&mut stream, &mut Vec::new()).await
}

/// A WebSocket client on a bare socket: frames sent as given, frames read one by one.
struct RawWs {
    stream: TcpStream,
    read: Vec<u8>,
}

/// A frame the server sent: opcode and payload.
struct ServerFrame {
    opcode: u8,
    payload: Vec<u8>,
}

impl ServerFrame {
    /// The code and reason of a close frame.
    fn close(&self) -> Option<(u16, String)> {
        (self.opcode == 0x8 && self.payload.len() >= 2).then(|| {
            (
                u16::from_be_bytes([self.payload[0], self.payload[1]]),
                String::from_utf8_lossy(&self.payload[2..]).into_owned(),
            )
        })
    }
}

/// How a WebSocket upgrade went.
enum Upgrade {
    Upgraded(RawWs),
    Refused(u16, String),
}

impl RawWs {
    /// Upgrades `stream` to a WebSocket, or returns the server's refusal.
    async fn upgrade(mut stream: TcpStream, target: &WsAddr) -> Result<Upgrade> {
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.path, target.host
        );
        stream.write_all(request.as_bytes()).await?;
        let mut read = Vec::new();
        let (status, body) = read_http_response(&mut stream, &mut read).await?;
        if status != 101 {
            return Ok(Upgrade::Refused(status, body));
        }
        Ok(Upgrade::Upgraded(Self { stream, read }))
    }

    /// Connects, upgrades and logs `user` in.
    async fn login(
        target: &WsAddr,
        from: Option<IpAddr>,
        recv_buffer: Option<u32>,
        user: &(String, String),
    ) -> Result<Self> {
        let stream = connect_from(target.addr, from, recv_buffer).await?;
        let Upgrade::Upgraded(mut ws) = Self::upgrade(stream, target).await? else {
            bail!("upgrade refused");
        };
        let login = json!({"id": 1, "method": "login",
            "params": {"userID": user.0, "userSig": user.1}});
        let response = ws.call(&login.to_string()).await?;
        if response["code"] != 0 {
            bail!("login refused: {response}");
        }
        Ok(ws)
    }

    async fn send(&mut self, text: &[u8]) -> Result<()> {
        self.stream.write_all(&client_frame(text)).await?;
        Ok(())
    }

    /// The next frame; `None` when the server ended the connection.
    async fn next(&mut self) -> Result<Option<ServerFrame>> {
        loop {
            if let Some((opcode, start, end)) = parse_frame(&self.read)? {
                let payload = self.read[start..end].to_vec();
                self.read.drain(..end);
                return Ok(Some(ServerFrame { opcode, payload }));
            }
            // Into the buffer itself: a thousand idle connections must not each hold a read
            // buffer of their own in this process, whose memory may be the figure.
            self.read.reserve(2048);
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }

    /// Sends a request and returns the next text frame as JSON (pings and pongs skipped).
    async fn call(&mut self, text: &str) -> Result<Value> {
        self.send(text.as_bytes()).await?;
        loop {
            let frame = self
                .next()
                .await?
                .ok_or_else(|| anyhow!("connection closed before a response"))?;
            match frame.opcode {
                0x1 => return Ok(serde_json::from_slice(&frame.payload)?),
                0x8 => bail!("closed: {:?}", frame.close()),
                _ => {}
            }
        }
    }

    /// Reads (and drops) frames until the server's close frame or the end of the connection;
    /// `None` when `give_up` came first.
    async fn close_frame(&mut self, give_up: Deadline) -> Option<Ended> {
        let wait = async {
            while let Ok(Some(frame)) = self.next().await {
                if frame.opcode == 0x8 {
                    return match frame.close() {
                        Some((code, reason)) => Ended::Close(code, reason),
                        None => Ended::Close(0, String::new()),
                    };
                }
            }
            Ended::Dropped
        };
        give_up.run(wait).await
    }
}

/// How the server ended a WebSocket connection.
#[derive(Debug)]
enum Ended {
    /// With a close frame: its code and reason.
    Close(u16, String),
    /// Without one.
    Dropped,
}

/// Whether the server ends `stream` (end of stream or reset) before `give_up`.
async fn closed_by_server(stream: &mut TcpStream, give_up: Deadline) -> bool {
    let drained = async {
        let mut sink = [0u8; 4096];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    give_up.run(drained).await.is_some()
}

/// Sets up what the attacks need: the user whose conversation list is walked, with its
/// conversations; the slow readers and the group through which they are pushed to; the users of
/// the flood and of the bad frames. Through the administrator's REST API.
pub(super) async fn prepare(
    target: &Target,
    tag: &str,
    args: &AbuseArgs,
    deadline: Deadline,
    report: &mut Report,
) -> Result<Option<Prepared>> {
    let ws = target.ws[0].clone();
    let rest = Rest {
        addr: ws.addr,
        host: ws.host.clone(),
        query: format!(
            "sdkappid={}&identifier={ADMIN}&usersig={}&random=1&contenttype=json",
            target.signer.sdkappid,
            target.signer.sign(ADMIN)
        ),
        forged: format!(
            "sdkappid={}&identifier={ADMIN}&usersig=forged&random=2&contenttype=json",
            target.signer.sdkappid
        ),
    };
    let user = |name: String| {
        let sig = target.signer.sign(&name);
        (name, sig)
    };
    let list_user = user(format!("{tag}-list"));
    let peers: Vec<String> = (0..args.conversations)
        .map(|i| format!("{tag}-p{i}"))
        .collect();
    let slow_users: Vec<(String, String)> = (0..args.slow_readers)
        .map(|i| user(format!("{tag}-slow{i}")))
        .collect();
    let accomplice = user(format!("{tag}-pusher"));
    let mut accounts: Vec<String> = vec![list_user.0.clone()];
    accounts.extend(peers.iter().cloned());
    accounts.extend(slow_users.iter().map(|(u, _)| u.clone()));
    let setup = async {
        for chunk in accounts.chunks(100) {
            let reply = rest
                .call(
                    "im_open_login_svc/multiaccount_import",
                    &json!({ "Accounts": chunk }),
                )
                .await?;
            if reply["FailAccounts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            {
                bail!("accounts not imported: {reply}");
            }
        }
        // One message from the list's user to each peer: a conversation each.
        for chunk in peers.chunks(500) {
            rest.call(
                "openim/batchsendmsg",
                &json!({
                    "SyncOtherMachine": 2,
                    "From_Account": list_user.0,
                    "To_Account": chunk,
                    "MsgRandom": 1,
                    "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}],
                }),
            )
            .await?;
        }
        anyhow::Ok(())
    };
    let Some(done) = deadline.run(setup).await else {
        report.cut_short("setting up the attacks");
        return Ok(None);
    };
    done?;
    let (accomplice, _) = Conn::login(target.url(0), &accomplice.0, &accomplice.1, false).await?;
    let slow_ids: Vec<String> = slow_users.iter().map(|(u, _)| u.clone()).collect();
    let Some(slow_group) = create_work_group(
        &accomplice,
        &format!("{tag}-slow"),
        "slow readers",
        &slow_ids,
        deadline,
        report,
        None,
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Prepared {
        url: target.url(0).to_owned(),
        ws,
        rest,
        tag: tag.to_owned(),
        list_user,
        conversations: args.conversations,
        slow_users,
        accomplice: Arc::new(accomplice),
        slow_group,
        flood_user: user(format!("{tag}-flood")),
        frames_user: user(format!("{tag}-frames")),
    }))
}

/// Item 3: WebSocket upgrades that never log in, from one address, beyond its cap.
#[derive(Default)]
pub(super) struct IdleOutcome {
    pub(super) attempted: usize,
    pub(super) upgraded: usize,
    /// Refused with 503 and the per-address body.
    pub(super) refused: usize,
    /// Refused by closing without a response (the server writes at most 64 refusals at once).
    pub(super) refused_silently: usize,
    /// Upgraded, then closed by the server with 1008 and the login timeout's reason.
    pub(super) closed_1008: usize,
    /// Most upgraded connections open at once, as this end saw them.
    pub(super) most_held: usize,
    pub(super) other: Vec<String>,
}

/// Item 2: half-sent heads, and REST bodies stalled before authentication.
#[derive(Default)]
pub(super) struct HttpOutcome {
    pub(super) slowloris: usize,
    /// Half-sent heads the server closed.
    pub(super) slowloris_closed: usize,
    pub(super) stalled: usize,
    /// Stalled requests answered 70003 at once (HTTP 200), before their bodies.
    pub(super) stalled_refused: usize,
    pub(super) other: Vec<String>,
}

/// Item 1: REST requests to made-up commands.
#[derive(Default)]
pub(super) struct UnknownOutcome {
    pub(super) sent: usize,
    /// Answered 70003 (the forged UserSig), HTTP 200.
    pub(super) refused: usize,
    /// Lines of `/metrics` naming one of the made-up commands (None: no `/metrics` there).
    pub(super) metric_lines: Option<usize>,
    /// Bytes of the `/metrics` page after the attack.
    pub(super) metrics_bytes: Option<usize>,
    pub(super) other: Vec<String>,
}

/// Item 4: connections that stop reading while pushes go to them.
#[derive(Default)]
pub(super) struct SlowOutcome {
    pub(super) readers: usize,
    /// 12 KiB group messages pushed to them.
    pub(super) pushes: usize,
    /// Whether the pushes stopped because none of them was online any more.
    pub(super) all_dropped_from_delivery: bool,
    /// Readers that, reading again once dropped from delivery, found a 1008 close frame with
    /// one of the slow reader reasons.
    pub(super) closed_1008: usize,
    pub(super) other: Vec<String>,
}

/// Item 5: the conversation list walked page by page over and over.
#[derive(Default)]
pub(super) struct ListOutcome {
    pub(super) walks: usize,
    /// Walks that returned every conversation exactly once.
    pub(super) exact_walks: usize,
    pub(super) pages: usize,
    /// Largest page returned.
    pub(super) largest_page: usize,
    /// Pages refused 7008 (the walker then waits and asks again).
    pub(super) limited: usize,
    pub(super) other: Vec<String>,
}

/// Requests pipelined beyond the per-connection limits.
#[derive(Default)]
pub(super) struct FloodOutcome {
    pub(super) sent: usize,
    pub(super) ok: usize,
    pub(super) limited: usize,
    pub(super) other: Vec<String>,
}

/// Frames over the limits and malformed ones.
#[derive(Default)]
pub(super) struct FramesOutcome {
    pub(super) rounds: usize,
    /// Over 64 KiB: answered 9522.
    pub(super) oversized_9522: usize,
    /// Not JSON: answered 6017.
    pub(super) malformed_6017: usize,
    /// `sendMessageReadReceipts` of 1,000 IDs: answered 6017.
    pub(super) huge_batch_6017: usize,
    /// `getConversationList` of 1,000,000 a page: answered 6017.
    pub(super) huge_page_6017: usize,
    /// Connections that sent a frame over 1 MiB.
    pub(super) over_hard_limit: usize,
    /// Of them, ended by the server.
    pub(super) over_hard_limit_closed: usize,
    pub(super) other: Vec<String>,
}

/// Every attack's outcome, and the readiness answers meanwhile.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) idle: IdleOutcome,
    pub(super) http: HttpOutcome,
    pub(super) unknown: UnknownOutcome,
    pub(super) slow: SlowOutcome,
    pub(super) list: ListOutcome,
    pub(super) flood: FloodOutcome,
    pub(super) frames: FramesOutcome,
    /// `/healthz` asked once a second during the attacks: answers 200, and others.
    pub(super) healthz_ok: usize,
    pub(super) healthz_other: Vec<String>,
}

/// The server's limits the attacks run against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) per_ip_cap: usize,
    /// The longest of the login, header and write timeouts: what an attack waits at most for
    /// the server to close what it holds, after the phase.
    pub(super) longest_timeout: Duration,
}

/// Runs every attack from now until `end` (those that hold things open wait for the server
/// to close them, at most the longest timeout and 10 s more).
pub(super) async fn run(
    prepared: &Prepared,
    args: &AbuseArgs,
    limits: Limits,
    end: Instant,
) -> Outcome {
    let give_up = Deadline::after(
        end.saturating_duration_since(Instant::now())
            + limits.longest_timeout
            + Duration::from_secs(10),
    );
    let ws = &prepared.ws;
    let (idle, (http, unknown), slow, list, flood, frames, healthz) = tokio::join!(
        idle_connections(ws, limits.per_ip_cap + args.idle_beyond_cap, give_up),
        async {
            tokio::join!(
                half_sent_and_stalled(ws, args, &prepared.rest, give_up),
                unknown_commands(
                    ws,
                    &prepared.tag,
                    &prepared.rest,
                    args.unknown_commands,
                    end
                ),
            )
        },
        slow_readers(prepared, give_up),
        walk_lists(prepared, args.list_walkers, end),
        flood(prepared, args.flood, end),
        bad_frames(prepared, args.bad_frames, end, give_up),
        healthz(ws, end),
    );
    Outcome {
        idle,
        http,
        unknown,
        slow,
        list,
        flood,
        frames,
        healthz_ok: healthz.0,
        healthz_other: healthz.1,
    }
}

/// What one idle connection ended with.
enum Idle {
    Refused(u16, String),
    RefusedSilently,
    Closed(Option<Ended>),
    Failed(String),
}

async fn idle_connections(ws: &WsAddr, count: usize, give_up: Deadline) -> IdleOutcome {
    let from = source(ws, 2);
    let handshakes = Semaphore::new(HANDSHAKES_IN_FLIGHT);
    let held = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let one = |_: usize| async {
        let upgraded = {
            let _permit = handshakes.acquire().await;
            match connect(ws.addr, from).await {
                Ok(stream) => RawWs::upgrade(stream, ws).await,
                Err(e) => Err(e),
            }
        };
        match upgraded {
            Ok(Upgrade::Upgraded(mut raw)) => {
                let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let close = raw.close_frame(give_up).await;
                held.fetch_sub(1, Ordering::SeqCst);
                Idle::Closed(close)
            }
            Ok(Upgrade::Refused(status, body)) => Idle::Refused(status, body),
            Err(e) if e.to_string() == NO_RESPONSE => Idle::RefusedSilently,
            Err(e) => Idle::Failed(e.to_string()),
        }
    };
    let results = futures_util::future::join_all((0..count).map(one)).await;
    let mut outcome = IdleOutcome {
        attempted: count,
        most_held: most.load(Ordering::SeqCst),
        ..IdleOutcome::default()
    };
    for result in results {
        match result {
            Idle::Refused(503, body) if body == PER_ADDRESS_REFUSAL => outcome.refused += 1,
            Idle::RefusedSilently => outcome.refused_silently += 1,
            Idle::Refused(status, body) => outcome
                .other
                .push(format!("upgrade refused {status}: {body:?}")),
            Idle::Closed(close) => {
                outcome.upgraded += 1;
                match close {
                    Some(Ended::Close(1008, reason)) if reason == LOGIN_TIMEOUT_REASON => {
                        outcome.closed_1008 += 1;
                    }
                    other => outcome
                        .other
                        .push(format!("idle connection ended with {other:?}")),
                }
            }
            Idle::Failed(e) => outcome.other.push(e),
        }
    }
    outcome
}

async fn half_sent_and_stalled(
    ws: &WsAddr,
    args: &AbuseArgs,
    rest: &Rest,
    give_up: Deadline,
) -> HttpOutcome {
    let from = source(ws, 3);
    let mut outcome = HttpOutcome {
        slowloris: args.slowloris,
        stalled: args.stalled_bodies,
        ..HttpOutcome::default()
    };
    let slowloris = futures_util::future::join_all((0..args.slowloris).map(|_| async {
        let mut stream = connect(ws.addr, from).await?;
        let partial = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n", ws.host);
        stream.write_all(partial.as_bytes()).await?;
        anyhow::Ok(closed_by_server(&mut stream, give_up).await)
    }));
    // A UserSig that cannot be decoded: the server must answer from the query alone.
    let forged = &rest.forged;
    let stalled = futures_util::future::join_all((0..args.stalled_bodies).map(|_| async {
        let mut stream = connect(ws.addr, from).await?;
        let head = format!(
            "POST /v4/im_open_login_svc/account_import?{forged} HTTP/1.1\r\nHost: {}\r\n\
             Content-Length: {STALLED_PROMISED}\r\n\r\n",
            ws.host
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&vec![b' '; STALLED_SENT]).await?;
        let response = give_up
            .run(read_http_response(&mut stream, &mut Vec::new()))
            .await
            .ok_or_else(|| anyhow!("no answer"))??;
        anyhow::Ok(response)
    }));
    let (slowloris, stalled) = tokio::join!(slowloris, stalled);
    for result in slowloris {
        match result {
            Ok(true) => outcome.slowloris_closed += 1,
            Ok(false) => outcome.other.push("a half-sent head was kept open".into()),
            Err(e) => outcome.other.push(format!("slowloris: {e}")),
        }
    }
    for result in stalled {
        match result {
            Ok((200, body)) if rest_code(&body) == Some(70003) => outcome.stalled_refused += 1,
            Ok((status, body)) => outcome
                .other
                .push(format!("stalled body answered {status}: {body}")),
            Err(e) => outcome.other.push(format!("stalled body: {e}")),
        }
    }
    outcome
}

fn rest_code(body: &str) -> Option<u64> {
    serde_json::from_str::<Value>(body).ok()?["ErrorCode"].as_u64()
}

async fn unknown_commands(
    ws: &WsAddr,
    tag: &str,
    rest: &Rest,
    count: usize,
    end: Instant,
) -> UnknownOutcome {
    let from = source(ws, 3);
    let mut outcome = UnknownOutcome::default();
    let forged = &rest.forged;
    let per_connection = count.div_ceil(UNKNOWN_COMMAND_CONNECTIONS);
    let window = end.saturating_duration_since(Instant::now());
    let results = futures_util::future::join_all((0..UNKNOWN_COMMAND_CONNECTIONS).map(|c| {
        async move {
            let mut codes = Vec::new();
            let mut errors = Vec::new();
            let mine = per_connection.min(count.saturating_sub(c * per_connection));
            // Spread over the phase: one request every `window / mine`.
            let mut tick =
                tokio::time::interval((window / mine.max(1) as u32).max(Duration::from_micros(1)));
            let mut conn: Option<(TcpStream, Vec<u8>)> = None;
            for i in 0..mine {
                tick.tick().await;
                let n = c * per_connection + i;
                let request = format!(
                    "POST /v4/{tag}zz{n}/{tag}yy{n}?{forged} HTTP/1.1\r\nHost: {}\r\n\
                     Content-Length: 0\r\n\r\n",
                    ws.host
                );
                // A kept-alive connection the server closed meanwhile is opened again once.
                let mut answered = Err(anyhow!("not sent"));
                for _ in 0..2 {
                    let reused = conn.is_some();
                    let (stream, buffer) = match conn.as_mut() {
                        Some(open) => open,
                        None => match connect(ws.addr, from).await {
                            Ok(stream) => conn.insert((stream, Vec::new())),
                            Err(e) => {
                                answered = Err(e);
                                break;
                            }
                        },
                    };
                    answered = async {
                        stream.write_all(request.as_bytes()).await?;
                        read_http_response(stream, buffer).await
                    }
                    .await;
                    if answered.is_ok() {
                        break;
                    }
                    conn = None;
                    if !reused {
                        break;
                    }
                }
                match answered {
                    Ok((200, body)) => codes.push(rest_code(&body)),
                    Ok((status, body)) => errors.push(format!("HTTP {status}: {body}")),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (codes, errors)
        }
    }))
    .await;
    for (codes, errors) in results {
        outcome.sent += codes.len() + errors.len();
        outcome.refused += codes.iter().filter(|c| **c == Some(70003)).count();
        outcome.other.extend(
            codes
                .iter()
                .filter(|c| **c != Some(70003))
                .map(|c| format!("made-up command answered {c:?}")),
        );
        outcome.other.extend(errors);
    }
    if let Ok((200, page)) = get(rest.addr, &rest.host, "/metrics").await {
        let made_up = format!("{tag}zz");
        outcome.metric_lines = Some(page.lines().filter(|l| l.contains(&made_up)).count());
        outcome.metrics_bytes = Some(page.len());
    }
    outcome
}

/// Whether each of `users` has a session, per the REST API.
async fn online(rest: &Rest, users: &[(String, String)]) -> Result<Vec<bool>> {
    let names: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    let reply = rest
        .call(
            "openim/query_online_status",
            &json!({ "To_Account": names }),
        )
        .await?;
    let results = reply["QueryResult"]
        .as_array()
        .ok_or_else(|| anyhow!("no QueryResult: {reply}"))?;
    Ok(results.iter().map(|r| r["Status"] == "Online").collect())
}

async fn slow_readers(prepared: &Prepared, give_up: Deadline) -> SlowOutcome {
    let ws = &prepared.ws;
    let from = source(ws, 4);
    let mut outcome = SlowOutcome {
        readers: prepared.slow_users.len(),
        ..SlowOutcome::default()
    };
    let logins = futures_util::future::join_all(
        prepared
            .slow_users
            .iter()
            .map(|user| RawWs::login(ws, from, Some(SLOW_READ_BUFFER), user)),
    )
    .await;
    let mut readers = Vec::new();
    for login in logins {
        match login {
            Ok(raw) => readers.push(Some(raw)),
            Err(e) => outcome.other.push(format!("slow reader login: {e}")),
        }
    }
    // Pushes of 12 KiB to all of them at once, until none is online (or the bound). A reader
    // starts reading again as soon as the server dropped it from delivery, and must then find
    // the 1008 close after what was written (the server waits a write timeout for that).
    let text = "x".repeat(MAX_MESSAGE_BYTES);
    let params = json!({ "groupID": prepared.slow_group, "textElem": { "text": text } });
    let mut closes = Vec::new();
    let mut refused = false;
    while outcome.pushes < MAX_SLOW_PUSHES && !give_up.expired() && !refused {
        match online(&prepared.rest, &prepared.slow_users).await {
            Ok(online) => {
                for (reader, online) in readers.iter_mut().zip(online) {
                    if !online && let Some(mut raw) = reader.take() {
                        closes.push(tokio::spawn(async move {
                            // Reading in earnest now: a window as small as while it did not
                            // read would make what the server wrote trickle in.
                            let _ = socket2::SockRef::from(&raw.stream)
                                .set_recv_buffer_size(1024 * 1024);
                            raw.close_frame(give_up).await
                        }));
                    }
                }
                if readers.iter().all(Option::is_none) {
                    outcome.all_dropped_from_delivery = true;
                    break;
                }
            }
            Err(e) => {
                outcome.other.push(format!("online status: {e}"));
                break;
            }
        }
        let sends = (0..SLOW_PUSHES_IN_FLIGHT)
            .map(|_| prepared.accomplice.call_value("sendMessage", &params));
        for reply in futures_util::future::join_all(sends).await {
            match reply {
                Ok(reply) if reply.code == 0 => outcome.pushes += 1,
                Ok(reply) if reply.code == 7008 => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(reply) => {
                    outcome
                        .other
                        .push(format!("push refused: {} {}", reply.code, reply.desc));
                    refused = true;
                }
                Err(e) => {
                    outcome.other.push(format!("push failed: {e}"));
                    refused = true;
                }
            }
        }
    }
    for close in closes {
        match close.await {
            Ok(Some(Ended::Close(1008, reason)))
                if SLOW_READER_REASONS.contains(&reason.as_str()) =>
            {
                outcome.closed_1008 += 1;
            }
            other => outcome
                .other
                .push(format!("a slow reader ended with {other:?}")),
        }
    }
    outcome
}

async fn walk_lists(prepared: &Prepared, walkers: usize, end: Instant) -> ListOutcome {
    let mut outcome = ListOutcome::default();
    let user = &prepared.list_user;
    let results = futures_util::future::join_all((0..walkers).map(|_| async {
        let mut mine = ListOutcome::default();
        let conn = match Conn::login(&prepared.url, &user.0, &user.1, false).await {
            Ok((conn, _)) => conn,
            Err(e) => {
                mine.other.push(format!("list walker login: {e}"));
                return mine;
            }
        };
        'walks: while Instant::now() < end {
            let mut seen = HashSet::new();
            let mut returned = 0usize;
            let mut next_seq = 0u64;
            loop {
                if Instant::now() >= end {
                    break 'walks;
                }
                let params = json!({ "nextSeq": next_seq, "count": 100 });
                let reply = match conn.call_value("getConversationList", &params).await {
                    Ok(reply) => reply,
                    Err(e) => {
                        mine.other.push(e.to_string());
                        break 'walks;
                    }
                };
                if reply.code == 7008 {
                    mine.limited += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                let page: ConversationListResult = match reply.decode("getConversationList") {
                    Ok(page) => page,
                    Err(e) => {
                        mine.other.push(e.to_string());
                        break 'walks;
                    }
                };
                mine.pages += 1;
                mine.largest_page = mine.largest_page.max(page.conversation_list.len());
                returned += page.conversation_list.len();
                seen.extend(
                    page.conversation_list
                        .into_iter()
                        .map(|c| c.conversation_id),
                );
                next_seq = page.next_seq;
                if page.is_finished {
                    break;
                }
            }
            mine.walks += 1;
            if returned == prepared.conversations && seen.len() == prepared.conversations {
                mine.exact_walks += 1;
            }
        }
        mine
    }))
    .await;
    for mine in results {
        outcome.walks += mine.walks;
        outcome.exact_walks += mine.exact_walks;
        outcome.pages += mine.pages;
        outcome.largest_page = outcome.largest_page.max(mine.largest_page);
        outcome.limited += mine.limited;
        outcome.other.extend(mine.other);
    }
    outcome
}

async fn flood(prepared: &Prepared, size: usize, end: Instant) -> FloodOutcome {
    let mut outcome = FloodOutcome::default();
    let user = &prepared.flood_user;
    let conn = match Conn::login(&prepared.url, &user.0, &user.1, false).await {
        Ok((conn, _)) => conn,
        Err(e) => {
            outcome.other.push(format!("flood login: {e}"));
            return outcome;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        let calls = (0..size).map(|_| {
            let id = conn.next_id();
            let text = format!(
                "{{\"id\":{id},\"method\":\"getConversationList\",\"params\":{{\"count\":1}}}}"
            );
            conn.call_text(id, text)
        });
        for reply in futures_util::future::join_all(calls).await {
            outcome.sent += 1;
            match reply {
                Ok(reply) if reply.code == 0 => outcome.ok += 1,
                Ok(reply) if reply.code == 7008 => outcome.limited += 1,
                Ok(reply) => outcome
                    .other
                    .push(format!("flood answered {}: {}", reply.code, reply.desc)),
                Err(e) => outcome.other.push(format!("flood: {e}")),
            }
        }
    }
    outcome
}

async fn bad_frames(
    prepared: &Prepared,
    rounds: usize,
    end: Instant,
    give_up: Deadline,
) -> FramesOutcome {
    let mut outcome = FramesOutcome::default();
    let ws = &prepared.ws;
    let mut raw = match RawWs::login(ws, None, None, &prepared.frames_user).await {
        Ok(raw) => raw,
        Err(e) => {
            outcome.other.push(format!("bad frames login: {e}"));
            return outcome;
        }
    };
    let oversized = {
        let mut text =
            String::from("{\"id\":1,\"method\":\"getConversationList\",\"params\":{\"pad\":\"");
        text.push_str(&"x".repeat(MAX_FRAME_BYTES));
        text.push_str("\"}}");
        text
    };
    let ids: Vec<String> = (0..1000).map(|i| format!("{}-{i}", prepared.tag)).collect();
    let huge_batch = json!({"id": 3, "method": "sendMessageReadReceipts",
        "params": {"messageIDList": ids}})
    .to_string();
    let huge_page =
        json!({"id": 4, "method": "getConversationList", "params": {"count": 1_000_000}})
            .to_string();
    let window = end.saturating_duration_since(Instant::now());
    let mut tick =
        tokio::time::interval((window / rounds.max(1) as u32).max(Duration::from_micros(1)));
    for _ in 0..rounds {
        tick.tick().await;
        outcome.rounds += 1;
        let kinds = [
            (oversized.as_str(), 9522, &mut outcome.oversized_9522),
            ("{\"id\": 2, \"method\":", 6017, &mut outcome.malformed_6017),
            (huge_batch.as_str(), 6017, &mut outcome.huge_batch_6017),
            (huge_page.as_str(), 6017, &mut outcome.huge_page_6017),
        ];
        let mut failed = None;
        for (text, want, answered) in kinds {
            match raw.call(text).await {
                Ok(response) if response["code"] == want => *answered += 1,
                Ok(response) => {
                    failed = Some(format!("expected {want}, got {response}"));
                    break;
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(failed) = failed {
            outcome.other.push(failed);
            return outcome;
        }
    }
    // Beyond the hard limit the server reads no further and ends the connection.
    let huge = vec![b' '; HARD_FRAME_BYTES + 1];
    for _ in 0..3 {
        outcome.over_hard_limit += 1;
        let mut raw = match RawWs::login(ws, None, None, &prepared.frames_user).await {
            Ok(raw) => raw,
            Err(e) => {
                outcome.other.push(format!("bad frames login: {e}"));
                continue;
            }
        };
        // The write may fail half-way when the server drops the connection.
        let _ = give_up.run(raw.send(&huge)).await;
        if closed_by_server(&mut raw.stream, give_up).await {
            outcome.over_hard_limit_closed += 1;
        } else {
            outcome.other.push("a frame over 1 MiB was read on".into());
        }
    }
    outcome
}

/// `/healthz` once a second until `end`: how many answered 200, and the other answers.
async fn healthz(ws: &WsAddr, end: Instant) -> (usize, Vec<String>) {
    let mut ok = 0;
    let mut other = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        match get(ws.addr, &ws.host, "/healthz").await {
            Ok((200, _)) => ok += 1,
            Ok((status, body)) => other.push(format!("/healthz {status}: {body}")),
            Err(e) => other.push(format!("/healthz: {e}")),
        }
    }
    (ok, other)
}

//! `abuse`: a normal receipt load (`load.rs`), first alone and then beside bounded versions of
//! the resource-exhaustion attacks of issue 15, items 1 to 5 (`attacks.rs`): made-up REST
//! commands (metric labels), half-sent HTTP heads and REST bodies stalled before
//! authentication, WebSocket connections that never log in from one address beyond its cap,
//! connections that stop reading while large pushes go to them, the conversation list walked
//! page by page over and over, pipelined floods beyond the per-connection limits, and frames
//! that are malformed, too large or name too much.
//!
//! Reports the normal load's receipt ack p99 without and with the attacks and their ratio
//! (target ≤ 2), and the server's resident memory: its peak without and with the attacks, and the
//! growth the attacks caused (target: within [`MEMORY_BUDGET_MIB`]). Checks that the normal
//! load stayed exact in both phases (every message delivered to every member, every receipt
//! acknowledged, pulled counts exact) and that each attack got the documented answer: 70003 for
//! forged credentials before any body, no metric series per made-up command, half-sent heads
//! closed, 503 beyond the per-address cap and 1008 after the login timeout, 1008 for readers
//! that stop reading, pages of at most 100 and every walk exact, only 0 or 7008 to a flood and
//! some 7008, 9522 and 6017 for bad frames, connections closed beyond the hard frame limit,
//! `/healthz` 200 throughout.

mod attacks;
mod load;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tidings_server::config::LimitsConfig;
use tokio::sync::watch;

use crate::report::{Bound, Deadline, Report};
use crate::target::{Target, rss_bytes, run_tag};
use crate::{AbuseArgs, RunContext};

use attacks::Limits;
use load::{NormalLoad, Phase};

/// The target for the server's memory growth under the attacks (`BENCHMARKS.md`): what the
/// attacks of the default size may hold at once by design (1,000 connections that never log in
/// at about 30 KiB each, and 4 slow readers' 4 MiB push queues), with room for the rest.
pub(crate) const MEMORY_BUDGET_MIB: u64 = 128;
/// The target for the normal load's receipt ack p99 with the attacks over without.
const ACK_P99_RATIO: f64 = 2.0;

pub(crate) async fn run(ctx: &RunContext, args: &AbuseArgs) -> Result<Report> {
    if args.members < 2 || args.seconds == 0 || args.message_rate == 0 {
        bail!("abuse needs --members ≥ 2, --seconds ≥ 1 and --message-rate ≥ 1");
    }
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let mut report = Report::new(
        "abuse",
        serde_json::json!({
            "members": args.members,
            "seconds": args.seconds,
            "message_rate": args.message_rate,
            "idle_beyond_cap": args.idle_beyond_cap,
            "slowloris": args.slowloris,
            "stalled_bodies": args.stalled_bodies,
            "unknown_commands": args.unknown_commands,
            "slow_readers": args.slow_readers,
            "conversations": args.conversations,
            "list_walkers": args.list_walkers,
            "flood": args.flood,
            "bad_frames": args.bad_frames,
            "per_ip_cap": args.per_ip_cap,
            "login_timeout_ms": args.login_timeout_ms,
            "header_timeout_ms": args.header_timeout_ms,
            "write_timeout_ms": args.write_timeout_ms,
            "synchronous": ctx.common.synchronous,
        }),
    );
    // The server's own limits, but the timeouts and the per-address cap the run gives (the
    // in-process server's defaults would be the bench's: no rate limit, no cap).
    let defaults = LimitsConfig::default();
    let target = Target::start_with(&ctx.common, |config| {
        config.limits.requests_per_second = defaults.requests_per_second;
        config.limits.request_burst = defaults.request_burst;
        config.limits.max_connections_per_ip = args.per_ip_cap;
        config.limits.login_timeout_ms = args.login_timeout_ms;
        config.limits.http_header_timeout_ms = args.header_timeout_ms;
        config.limits.write_timeout_ms = args.write_timeout_ms;
    })
    .await?;
    if !target.in_process() {
        report.params["url"] = serde_json::json!(target.urls);
    }
    let outcome = abuse(ctx, args, &target, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Samples the servers' resident memory every 50 ms until told to stop; returns the peak.
fn sample_peak(pids: Vec<u32>) -> (watch::Sender<bool>, tokio::task::JoinHandle<Option<u64>>) {
    let (stop_tx, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let rss = || -> Option<u64> {
            if pids.is_empty() {
                return None;
            }
            pids.iter().map(|pid| rss_bytes(*pid)).sum()
        };
        let mut peak = rss();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = tick.tick() => peak = peak.max(rss()),
                _ = stop.wait_for(|stop| *stop) => return peak.max(rss()),
            }
        }
    });
    (stop_tx, task)
}

async fn abuse(
    ctx: &RunContext,
    args: &AbuseArgs,
    target: &Target,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let tag = run_tag();
    let Some(mut normal) =
        NormalLoad::set_up(ctx, target, &tag, args.members, deadline, report).await?
    else {
        return Ok(());
    };
    let Some(prepared) = attacks::prepare(target, &tag, args, deadline, report).await? else {
        return Ok(());
    };
    let readers = normal.readers();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_start = target.server_rss();

    // Without the attacks.
    let (stop, sampler) = sample_peak(target.server_pids.clone());
    let quiet = normal
        .phase(args.seconds, args.message_rate, deadline)
        .await;
    let _ = stop.send(true);
    let rss_quiet = sampler.await.ok().flatten();
    if deadline.expired() {
        report.cut_short("the phase without attacks");
        return Ok(());
    }

    // With them.
    let limits = Limits {
        per_ip_cap: args.per_ip_cap,
        longest_timeout: Duration::from_millis(
            args.login_timeout_ms
                .max(args.header_timeout_ms)
                .max(args.write_timeout_ms),
        ),
    };
    let (stop, sampler) = sample_peak(target.server_pids.clone());
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let (attacked, outcome) = tokio::join!(
        normal.phase(args.seconds, args.message_rate, deadline),
        attacks::run(&prepared, args, limits, end),
    );
    let _ = stop.send(true);
    let rss_attacked = sampler.await.ok().flatten();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = target.server_rss();
    if deadline.expired() {
        report.cut_short("the phase with attacks");
        return Ok(());
    }

    // The normal load: exact in both phases, and its tail.
    for (label, phase) in [("without attacks", &quiet), ("with attacks", &attacked)] {
        check_phase(report, label, phase, readers);
    }
    let prefix = |label: &str, phase: &Phase, report: &mut Report| {
        report.latency(&format!("{label}_ack"), &phase.ack, None);
        report.latency(&format!("{label}_delivery"), &phase.delivery, None);
        report.metric(
            &format!("{label}_receipts"),
            phase.receipted as f64,
            "receipts",
        );
        report.metric(
            &format!("{label}_receipts_per_sec"),
            if phase.seconds > 0.0 {
                phase.receipted as f64 / phase.seconds
            } else {
                0.0
            },
            "receipts/s",
        );
    };
    prefix("quiet", &quiet, report);
    prefix("attacked", &attacked, report);
    if quiet.ack.count() > 0 && attacked.ack.count() > 0 {
        report.metric_target(
            "ack_p99_ratio",
            attacked.ack.quantile_ms(0.99) / quiet.ack.quantile_ms(0.99),
            "× without",
            Bound::AtMost(ACK_P99_RATIO),
        );
    }

    // Memory.
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if let Some(start) = rss_start {
        report.metric("rss_start_mib", mib(start), "MiB");
    }
    if let (Some(quiet), Some(attacked)) = (rss_quiet, rss_attacked) {
        report.metric("rss_peak_quiet_mib", mib(quiet), "MiB");
        report.metric("rss_peak_attacked_mib", mib(attacked), "MiB");
        report.metric_target(
            "rss_growth_under_attack_mib",
            mib(attacked.saturating_sub(quiet)),
            "MiB",
            Bound::AtMost(MEMORY_BUDGET_MIB as f64),
        );
    } else {
        report
            .notes
            .push("no memory figures: give --server-pid with --url".into());
    }
    if let Some(after) = rss_after {
        report.metric("rss_after_attack_mib", mib(after), "MiB");
    }

    check_attacks(report, &outcome, args);
    report.notes.push(format!(
        "{readers} readers receipt every message of {} a second, one call in flight each, \
         for {} s without and then {} s with the attacks; the attackers run in this process, on \
         the same cores as the server{}",
        args.message_rate,
        args.seconds,
        args.seconds,
        if target.in_process() {
            ", and memory is this whole process's (server and load generator)"
        } else {
            ""
        }
    ));
    Ok(())
}

fn check_phase(report: &mut Report, label: &str, phase: &Phase, readers: usize) {
    let expected = phase.expected(readers);
    let first_error = phase.errors.first().map_or_else(String::new, |e| {
        format!("; {} errors, first: {e}", phase.errors.len())
    });
    report.check(
        &format!("{label}: every message sent"),
        phase.sent == phase.attempted && phase.sent > 0,
        format!("{} of {}{first_error}", phase.sent, phase.attempted),
    );
    report.check(
        &format!("{label}: every member received every message"),
        phase.delivered == expected,
        format!("{} of {expected} pushes", phase.delivered),
    );
    report.check(
        &format!("{label}: every receipt acknowledged"),
        phase.receipted == expected && phase.errors.is_empty(),
        format!("{} of {expected} receipts{first_error}", phase.receipted),
    );
    report.check(
        &format!("{label}: pulled counts are exact"),
        phase.pulled_exact == phase.sent,
        format!(
            "{} of {} messages read by {readers}, unread by 0",
            phase.pulled_exact, phase.sent
        ),
    );
}

fn first(other: &[String]) -> String {
    other.first().map_or_else(String::new, |e| {
        format!("; {} others, first: {e}", other.len())
    })
}

fn check_attacks(report: &mut Report, outcome: &attacks::Outcome, args: &AbuseArgs) {
    let o = &outcome.unknown;
    report.metric("unknown_commands_sent", o.sent as f64, "requests");
    report.check(
        "made-up REST commands: refused 70003 before anything else",
        o.refused == args.unknown_commands && o.other.is_empty(),
        format!(
            "{} of {} answered 70003{}",
            o.refused,
            args.unknown_commands,
            first(&o.other)
        ),
    );
    match o.metric_lines {
        Some(lines) => {
            report.check(
                "made-up REST commands: no metric series of their own",
                lines == 0,
                format!("{lines} lines of /metrics name them"),
            );
            if let Some(bytes) = o.metrics_bytes {
                report.metric("metrics_page_bytes_after", bytes as f64, "bytes");
            }
        }
        None => report
            .notes
            .push("/metrics is not on the client port: metric series not checked".into()),
    }

    let o = &outcome.http;
    report.check(
        "REST bodies stalled before authentication: answered 70003 without waiting",
        o.stalled_refused == o.stalled,
        format!("{} of {}{}", o.stalled_refused, o.stalled, first(&o.other)),
    );
    report.check(
        "half-sent HTTP heads: closed by the server",
        o.slowloris_closed == o.slowloris,
        format!("{} of {}", o.slowloris_closed, o.slowloris),
    );

    let o = &outcome.idle;
    report.metric("idle_upgraded", o.upgraded as f64, "connections");
    report.metric("idle_refused_503", o.refused as f64, "connections");
    report.metric(
        "idle_refused_silently",
        o.refused_silently as f64,
        "connections",
    );
    report.check(
        "connections that never log in: 101 then 1008, or refused beyond the address's cap",
        o.closed_1008 == o.upgraded && o.upgraded + o.refused + o.refused_silently == o.attempted,
        format!(
            "{} of {} upgraded and closed 1008, {} refused 503, {} closed unanswered{}",
            o.closed_1008,
            o.attempted,
            o.refused,
            o.refused_silently,
            first(&o.other)
        ),
    );
    report.check(
        "connections that never log in: at most the address's cap at once",
        o.most_held <= args.per_ip_cap || args.per_ip_cap == 0,
        format!("{} at most, cap {}", o.most_held, args.per_ip_cap),
    );

    let o = &outcome.slow;
    report.metric("slow_reader_pushes", o.pushes as f64, "pushes");
    report.check(
        "readers that stop reading: dropped from delivery, then closed 1008",
        o.all_dropped_from_delivery && o.closed_1008 == o.readers,
        format!(
            "{} of {} after {} pushes of 12 KiB{}",
            o.closed_1008,
            o.readers,
            o.pushes,
            first(&o.other)
        ),
    );

    let o = &outcome.list;
    report.metric("list_pages", o.pages as f64, "pages");
    report.metric("list_walks", o.walks as f64, "walks");
    report.metric("list_pages_limited_7008", o.limited as f64, "pages");
    report.check(
        "conversation list walks: every conversation once, pages of at most 100",
        o.walks > 0 && o.exact_walks == o.walks && o.largest_page <= 100 && o.other.is_empty(),
        format!(
            "{} of {} walks exact over {} conversations, largest page {}{}",
            o.exact_walks,
            o.walks,
            args.conversations,
            o.largest_page,
            first(&o.other)
        ),
    );

    let o = &outcome.flood;
    report.metric("flood_limited_7008", o.limited as f64, "requests");
    report.metric("flood_served", o.ok as f64, "requests");
    report.check(
        "pipelined floods: each request answered, 0 or 7008, some 7008",
        o.sent > 0 && o.ok + o.limited == o.sent && o.limited > 0,
        format!(
            "{} sent, {} served, {} refused 7008{}",
            o.sent,
            o.ok,
            o.limited,
            first(&o.other)
        ),
    );

    let o = &outcome.frames;
    let all = |n: usize| n == o.rounds;
    report.check(
        "bad frames: 9522 over 64 KiB, 6017 malformed, over-long batches and pages",
        o.rounds == args.bad_frames
            && all(o.oversized_9522)
            && all(o.malformed_6017)
            && all(o.huge_batch_6017)
            && all(o.huge_page_6017),
        format!(
            "{} rounds: {} × 9522, {} × 6017 malformed, {} × 6017 batch, {} × 6017 page{}",
            o.rounds,
            o.oversized_9522,
            o.malformed_6017,
            o.huge_batch_6017,
            o.huge_page_6017,
            first(&o.other)
        ),
    );
    report.check(
        "frames over 1 MiB: connection ended",
        o.over_hard_limit_closed == o.over_hard_limit,
        format!("{} of {}", o.over_hard_limit_closed, o.over_hard_limit),
    );

    report.check(
        "/healthz answered 200 throughout the attacks",
        outcome.healthz_ok > 0 && outcome.healthz_other.is_empty(),
        format!(
            "{} × 200{}",
            outcome.healthz_ok,
            first(&outcome.healthz_other)
        ),
    );
}

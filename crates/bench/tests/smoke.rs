//! Runs every scenario of the load generator with tiny parameters against an in-process server
//! and checks its exactness outputs. No timing is asserted: figures only have to be present.

use clap::Parser;
use tidings_bench::{BenchArgs, Report};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn run(args: &[&str]) -> Vec<Report> {
    let mut argv = vec!["bench"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&[
        "--quiet",
        "--max-seconds",
        "120",
        "--synchronous",
        "normal",
        "--notify-window-ms",
        "20",
    ]);
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    tidings_bench::run(&cli.bench).expect("the scenario runs")
}

fn assert_exact(report: &Report, figures: &[&str]) {
    assert!(
        report.complete,
        "{} did not complete:\n{}",
        report.scenario,
        report.table()
    );
    assert!(
        !report.checks.is_empty(),
        "{} checked nothing",
        report.scenario
    );
    for check in &report.checks {
        assert!(
            check.ok,
            "{}: {} failed: {}",
            report.scenario, check.name, check.detail
        );
    }
    for figure in figures {
        let value = report
            .value(figure)
            .unwrap_or_else(|| panic!("{} has no {figure}:\n{}", report.scenario, report.table()));
        assert!(value.is_finite() && value >= 0.0, "{figure} = {value}");
    }
}

fn scenario<'a>(reports: &'a [Report], name: &str) -> &'a Report {
    reports
        .iter()
        .find(|r| r.scenario == name)
        .unwrap_or_else(|| panic!("no {name} report"))
}

#[test]
fn receipt_storm_counts_are_exact() {
    let reports = run(&[
        "receipt-storm",
        "--members",
        "12",
        "--messages",
        "25",
        "--batch-min",
        "3",
        "--batch-max",
        "7",
    ]);
    assert_eq!(reports.len(), 2, "echo baseline first, then the storm");
    assert_exact(scenario(&reports, "echo-baseline"), &["frames_per_sec"]);
    let storm = scenario(&reports, "receipt-storm");
    assert_exact(
        storm,
        &[
            "receipts_per_sec",
            "receipt_calls_per_sec",
            "ack_p99_ms",
            "notify_p99_ms",
        ],
    );
    assert_eq!(storm.value("receipts"), Some(11.0 * 25.0));
    assert!(
        storm.value("receipt_calls_per_sec_vs_echo").is_some(),
        "ratio to the echo baseline"
    );
}

#[test]
fn large_group_lists_and_counts_are_exact() {
    let reports = run(&[
        "large-group",
        "--members",
        "450",
        "--messages",
        "12",
        "--batch",
        "5",
        "--samples",
        "3",
        "--no-echo",
    ]);
    assert_eq!(reports.len(), 1);
    let large = scenario(&reports, "large-group");
    assert_exact(
        large,
        &[
            "receipts_per_sec",
            "get_receipts_30_p99_ms",
            "read_page_first_p99_ms",
            "read_page_middle_p99_ms",
            "unread_page_last_p99_ms",
            "read_state_bytes_all_read",
        ],
    );
    assert_eq!(large.value("receipts"), Some(449.0 * 12.0));
}

#[test]
fn c2c_messages_and_receipts_are_exact() {
    let reports = run(&["c2c", "--pairs", "3", "--messages", "6", "--no-echo"]);
    let c2c = scenario(&reports, "c2c");
    assert_exact(
        c2c,
        &[
            "messages_per_sec",
            "delivery_p99_ms",
            "receipt_notify_p99_ms",
        ],
    );
    assert_eq!(c2c.value("messages"), Some(36.0));
}

#[test]
fn connections_are_all_held() {
    let reports = run(&[
        "connections",
        "--connections",
        "40",
        "--concurrency",
        "8",
        "--no-echo",
    ]);
    let connections = scenario(&reports, "connections");
    assert_exact(connections, &["logins_per_sec", "rss_bytes_per_connection"]);
    assert_eq!(connections.value("connections_held"), Some(40.0));
}

#[test]
fn echo_baseline_alone() {
    let reports = run(&["echo-baseline", "--connections", "4", "--round-trips", "10"]);
    assert_eq!(reports.len(), 1);
    assert_exact(&reports[0], &["frames_per_sec", "round_trip_p99_ms"]);
}

#[test]
fn remote_targets_must_be_loopback() {
    let cli = Cli::try_parse_from([
        "bench",
        "c2c",
        "--url",
        "ws://192.0.2.1:8080/ws",
        "--secret-key",
        "k",
        "--quiet",
    ])
    .expect("arguments parse");
    let error = tidings_bench::run(&cli.bench).expect_err("a non-loopback target is refused");
    assert!(error.to_string().contains("loopback"), "{error}");
}

#[test]
fn fan_out_delivers_every_message_to_every_member_in_order() {
    let reports = run(&["fan-out", "--members", "30", "--messages", "4", "--no-echo"]);
    let fan_out = scenario(&reports, "fan-out");
    assert_exact(fan_out, &["delivery_p99_ms", "deliveries_per_sec"]);
}

/// Two servers with the same key, each on its own port and data directory, as two nodes
/// would be; their URLs, and the directories to keep while they run.
fn two_servers(
    runtime: &tokio::runtime::Runtime,
    key: &str,
) -> (Vec<String>, Vec<tempfile::TempDir>) {
    runtime.block_on(async {
        let mut urls = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..2 {
            let data_dir = tempfile::tempdir().expect("temporary directory");
            let config = tidings_server::Config {
                data_dir: data_dir.path().to_owned(),
                secret_key: Some(key.to_owned()),
                listen: "127.0.0.1:0".parse().expect("address"),
                ..tidings_server::Config::default()
            };
            let server = tidings_server::Server::open(&config)
                .await
                .expect("server opens");
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .expect("listen");
            urls.push(format!(
                "ws://{}/ws",
                listener.local_addr().expect("address")
            ));
            tokio::spawn(server.serve(listener, std::future::pending::<()>()));
            dirs.push(data_dir);
        }
        (urls, dirs)
    })
}

#[test]
fn connections_are_spread_over_every_url_in_turn() {
    let servers = tokio::runtime::Runtime::new().expect("runtime");
    let key = "spread-test-key";
    let (urls, _dirs) = two_servers(&servers, key);
    let reports = run(&[
        "connections",
        "--url",
        &urls.join(","),
        "--secret-key",
        key,
        "--connections",
        "41",
        "--concurrency",
        "8",
        "--no-echo",
    ]);
    let connections = scenario(&reports, "connections");
    assert_exact(connections, &["logins_per_sec"]);
    assert_eq!(connections.value("connections_held"), Some(41.0));
    assert_eq!(connections.value("connections_on_url_0"), Some(21.0));
    assert_eq!(connections.value("connections_on_url_1"), Some(20.0));
}

#[test]
fn abuse_attacks_get_their_documented_answers_beside_an_exact_normal_load() {
    let reports = run(&[
        "abuse",
        "--members",
        "8",
        "--seconds",
        "3",
        "--message-rate",
        "10",
        "--idle-beyond-cap",
        "5",
        "--slowloris",
        "5",
        "--stalled-bodies",
        "5",
        "--unknown-commands",
        "40",
        "--slow-readers",
        "2",
        "--conversations",
        "150",
        "--list-walkers",
        "2",
        "--flood",
        "300",
        "--bad-frames",
        "5",
        "--per-ip-cap",
        "40",
        "--login-timeout-ms",
        "1000",
        "--header-timeout-ms",
        "1000",
        "--write-timeout-ms",
        "1000",
        "--no-echo",
    ]);
    assert_eq!(reports.len(), 1);
    let abuse = scenario(&reports, "abuse");
    assert_exact(
        abuse,
        &[
            "quiet_ack_p99_ms",
            "attacked_ack_p99_ms",
            "ack_p99_ratio",
            "rss_peak_quiet_mib",
            "rss_peak_attacked_mib",
            "rss_growth_under_attack_mib",
            "metrics_page_bytes_after",
        ],
    );
    let checks: Vec<&str> = abuse.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        checks,
        [
            "without attacks: every message sent",
            "without attacks: every member received every message",
            "without attacks: every receipt acknowledged",
            "without attacks: pulled counts are exact",
            "with attacks: every message sent",
            "with attacks: every member received every message",
            "with attacks: every receipt acknowledged",
            "with attacks: pulled counts are exact",
            "made-up REST commands: refused 70003 before anything else",
            "made-up REST commands: no metric series of their own",
            "REST bodies stalled before authentication: answered 70003 without waiting",
            "half-sent HTTP heads: closed by the server",
            "connections that never log in: 101 then 1008, or refused beyond the address's cap",
            "connections that never log in: at most the address's cap at once",
            "readers that stop reading: dropped from delivery, then closed 1008",
            "conversation list walks: every conversation once, pages of at most 100",
            "pipelined floods: each request answered, 0 or 7008, some 7008",
            "bad frames: 9522 over 64 KiB, 6017 malformed, over-long batches and pages",
            "frames over 1 MiB: connection ended",
            "/healthz answered 200 throughout the attacks",
        ]
    );
    assert_eq!(abuse.value("unknown_commands_sent"), Some(40.0));
    assert_eq!(
        abuse
            .value("idle_upgraded")
            .zip(abuse.value("idle_refused_503"))
            .map(|(a, b)| a + b),
        Some(45.0),
        "every connection from the capped address upgraded or refused"
    );
    // Every phase's receipts: one per reader (7) and message sent.
    for phase in ["quiet", "attacked"] {
        let receipts = abuse.value(&format!("{phase}_receipts")).expect("receipts");
        assert!(
            receipts > 0.0 && receipts % 7.0 == 0.0,
            "{phase}: {receipts}"
        );
    }
}

//! What a scenario reports: figures with their targets, exactness checks, and how they print
//! (a table for people, JSON for machines). Also latency histograms, progress bars and the
//! run's time limit.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// Machine name, e.g. `receipts_per_sec`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Unit, e.g. `receipts/s`, `ms`, `bytes`.
    pub unit: String,
    /// The target for it, in words (e.g. `≥ 50000`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the target is met (None when there is no target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// One exactness check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// Details (expected and found).
    pub detail: String,
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name, e.g. `receipt-storm`.
    pub scenario: String,
    /// The parameters it ran with.
    pub params: serde_json::Value,
    /// Whether every phase finished within `--max-seconds`.
    pub complete: bool,
    /// Wall time of the whole scenario, seconds.
    pub seconds: f64,
    /// Figures.
    pub metrics: Vec<Metric>,
    /// Exactness checks.
    pub checks: Vec<Check>,
    /// Remarks (how a figure was measured, what limited the run).
    pub notes: Vec<String>,
}

/// Whether a target is a lower bound (`≥`) or an upper bound (`≤`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Report {
    pub(crate) fn new(scenario: &str, params: serde_json::Value) -> Self {
        Self {
            scenario: scenario.to_owned(),
            params,
            complete: true,
            seconds: 0.0,
            metrics: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a figure without target.
    pub(crate) fn metric(&mut self, name: &str, value: f64, unit: &str) {
        self.metrics.push(Metric {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target: None,
            met: None,
        });
    }

    /// Records a figure with the target.
    pub(crate) fn metric_target(&mut self, name: &str, value: f64, unit: &str, bound: Bound) {
        let (target, met) = match bound {
            Bound::AtLeast(limit) => (format!("≥ {}", fmt_num(limit)), value >= limit),
            Bound::AtMost(limit) => (format!("≤ {}", fmt_num(limit)), value <= limit),
        };
        self.metrics.push(Metric {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target: Some(target),
            met: Some(met),
        });
    }

    /// Records the p50/p99/max of a latency histogram (microseconds) in milliseconds.
    pub(crate) fn latency(&mut self, name: &str, histogram: &Latency, p99_target_ms: Option<f64>) {
        if histogram.count() == 0 {
            self.notes.push(format!("{name}: no samples"));
            return;
        }
        self.metric(&format!("{name}_p50_ms"), histogram.quantile_ms(0.50), "ms");
        match p99_target_ms {
            Some(limit) => self.metric_target(
                &format!("{name}_p99_ms"),
                histogram.quantile_ms(0.99),
                "ms",
                Bound::AtMost(limit),
            ),
            None => self.metric(&format!("{name}_p99_ms"), histogram.quantile_ms(0.99), "ms"),
        }
        self.metric(&format!("{name}_max_ms"), histogram.max_ms(), "ms");
    }

    /// Records an exactness check.
    pub(crate) fn check(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        });
    }

    /// Marks the run as cut short by the time limit.
    pub(crate) fn cut_short(&mut self, phase: &str) {
        self.complete = false;
        self.check(
            "finished within --max-seconds",
            false,
            format!("stopped during {phase}; later figures and checks are missing"),
        );
    }

    /// Whether every check passed and the run completed.
    pub fn passed(&self) -> bool {
        self.complete && self.checks.iter().all(|c| c.ok)
    }

    /// The value of a figure, by name.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 4]> = vec![[
            "figure".into(),
            "value".into(),
            "target".into(),
            "met".into(),
        ]];
        for m in &self.metrics {
            rows.push([
                m.name.clone(),
                format!("{} {}", fmt_num(m.value), m.unit),
                m.target.clone().unwrap_or_default(),
                match m.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => String::new(),
                },
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = format!(
            "== {} ({}, {:.1} s) ==\n",
            self.scenario,
            if self.complete {
                "complete"
            } else {
                "INCOMPLETE"
            },
            self.seconds
        );
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}", width = *width))
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("-+-"));
                out.push('\n');
            }
        }
        for check in &self.checks {
            let mark = if check.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("[{mark}] {}: {}\n", check.name, check.detail));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

/// A number for people: integers without decimals, small values with three significant digits.
pub(crate) fn fmt_num(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// A latency histogram in microseconds (1 µs to 10 min, 3 significant digits).
#[derive(Debug, Clone)]
pub(crate) struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(
            Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds")),
        )
    }
}

impl Latency {
    pub(crate) fn record(&mut self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.0.saturating_record(micros);
    }

    pub(crate) fn merge(&mut self, other: &Latency) {
        let _ = self.0.add(&other.0);
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.len()
    }

    pub(crate) fn quantile_ms(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal or when quiet).
pub(crate) fn progress(len: u64, label: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>16} [{bar:32}] {pos}/{len} {per_sec:>12} {elapsed:>4} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

/// The time limit of a run (`--max-seconds`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
}

impl Deadline {
    pub(crate) fn after(limit: Duration) -> Self {
        Self {
            end: Instant::now() + limit,
        }
    }

    /// Time left (zero when past).
    pub(crate) fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.end
    }

    /// Runs `future` until the deadline; None when the time ran out.
    pub(crate) async fn run<T>(&self, future: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.remaining(), future).await.ok()
    }
}

/// Per-second rate of `count` events over `elapsed`.
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Profiling hook around the measured phase of a scenario, so that a profile holds that
/// phase only (not set-up or checks):
/// - `TIDINGS_BENCH_PERF_CTL=<fifo>`: the control FIFO of
///   `perf record --delay=-1 --control=fifo:<fifo>`; sampling is enabled and disabled;
/// - `TIDINGS_BENCH_CALLGRIND=1` under `valgrind --tool=callgrind --instr-atstart=no`:
///   instrumentation is switched with `callgrind_control -i on|off`.
pub(crate) fn profile_phase(on: bool) {
    if let Some(path) = std::env::var_os("TIDINGS_BENCH_PERF_CTL") {
        let command: &[u8] = if on { b"enable\n" } else { b"disable\n" };
        if let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(path) {
            use std::io::Write as _;
            let _ = fifo.write_all(command);
        }
    }
    if std::env::var_os("TIDINGS_BENCH_CALLGRIND").is_some() {
        let _ = std::process::Command::new("callgrind_control")
            .args([
                "-i",
                if on { "on" } else { "off" },
                &std::process::id().to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

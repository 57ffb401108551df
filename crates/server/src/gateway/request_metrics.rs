//! Per-method request metrics (`tidings_request_seconds`, `tidings_requests_total`), with the
//! handles of every method registered once: the `metrics` macros build, hash and look up their
//! labels on every call, which cost about a tenth of a receipt call.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use tidings_proto::methods::ALL_METHODS;

/// Label of requests naming no known method.
const UNKNOWN: &str = "unknown";

struct MethodMetrics {
    seconds: Histogram,
    succeeded: Counter,
}

fn table() -> &'static HashMap<&'static str, MethodMetrics> {
    static TABLE: OnceLock<HashMap<&'static str, MethodMetrics>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ALL_METHODS
            .iter()
            .chain([&UNKNOWN])
            .map(|&method| {
                let metrics = MethodMetrics {
                    seconds: metrics::histogram!("tidings_request_seconds", "method" => method),
                    succeeded: metrics::counter!(
                        "tidings_requests_total", "method" => method, "code" => "0"
                    ),
                };
                (method, metrics)
            })
            .collect()
    })
}

/// Records one request of `method` (any text the client sent) that ended with `code`.
pub(crate) fn record(method: &str, code: u32, took: Duration) {
    let table = table();
    let Some((&label, metrics)) = table
        .get_key_value(method)
        .or_else(|| table.get_key_value(UNKNOWN))
    else {
        return;
    };
    metrics.seconds.record(took.as_secs_f64());
    if code == 0 {
        metrics.succeeded.increment(1);
    } else {
        metrics::counter!("tidings_requests_total", "method" => label, "code" => code.to_string())
            .increment(1);
    }
}

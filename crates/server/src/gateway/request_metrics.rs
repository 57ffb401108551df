//! Per-method request metrics (`tidings_request_seconds`, `tidings_requests_total`), with the
//! handles of every method registered once: the `metrics` macros build, hash and look up their
//! labels on every call, which cost about a tenth of a receipt call.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use tidings_proto::MethodKind;

/// Label of requests naming no known method.
const UNKNOWN: &str = "unknown";

struct MethodMetrics {
    label: &'static str,
    seconds: Histogram,
    succeeded: Counter,
}

/// The handles of each method in the order of [`MethodKind::ALL`], then those of unknown
/// methods.
fn table() -> &'static [MethodMetrics] {
    static TABLE: OnceLock<Vec<MethodMetrics>> = OnceLock::new();
    TABLE.get_or_init(|| {
        MethodKind::ALL
            .iter()
            .map(|method| method.name())
            .chain([UNKNOWN])
            .map(|label| MethodMetrics {
                label,
                seconds: metrics::histogram!("tidings_request_seconds", "method" => label),
                succeeded: metrics::counter!(
                    "tidings_requests_total", "method" => label, "code" => "0"
                ),
            })
            .collect()
    })
}

/// Records one request of `method` (`None`: a name no method has) that ended with `code`.
pub(crate) fn record(method: Option<MethodKind>, code: u32, took: Duration) {
    let table = table();
    let index = method.map_or(MethodKind::ALL.len(), |method| method as usize);
    let Some(metrics) = table.get(index) else {
        return;
    };
    metrics.seconds.record(took.as_secs_f64());
    if code == 0 {
        metrics.succeeded.increment(1);
    } else {
        metrics::counter!("tidings_requests_total", "method" => metrics.label, "code" => code.to_string())
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_finds_the_handles_labelled_with_its_name() {
        let table = table();
        for &method in MethodKind::ALL {
            assert_eq!(table[method as usize].label, method.name());
        }
        assert_eq!(table[MethodKind::ALL.len()].label, UNKNOWN);
        assert_eq!(table.len(), MethodKind::ALL.len() + 1);
    }
}

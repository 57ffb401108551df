//! A throw-away NATS server: `nats-server` started on a free loopback port, killed when the
//! handle goes. For tests that need a bus of their own (Debian's `nats-server` package on the
//! PATH).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to accept connections.
const START_WAIT: Duration = Duration::from_secs(10);

/// A `nats-server` of the caller's own on 127.0.0.1, killed (and reaped) when this is dropped.
#[derive(Debug)]
pub struct ScratchNats {
    child: Child,
    port: u16,
}

impl ScratchNats {
    /// A server on a free port. Panics when `nats-server` cannot be run or does not start.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    /// A server on `port` (again, after one there was stopped), once it accepts connections.
    /// Panics when `nats-server` cannot be run or does not start.
    pub fn start_on(port: u16) -> Self {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server on the PATH (Debian package nats-server)");
        let deadline = Instant::now() + START_WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL for clients (`--bus`).
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for ScratchNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

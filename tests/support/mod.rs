//! Test harness: a real moto server (S3) on 127.0.0.1 and a free port, started by the test
//! and killed when dropped (also when the test panics), plus a switchable TCP proxy that
//! simulates an S3 outage without losing moto's in-memory state.
//!
//! moto is found at `$DDB_AUDIT_TOOLS/bin/moto_server`, then `<repo>/.tools/bin/moto_server`,
//! then on `PATH`. If it is nowhere, the test fails (never skips) with a message naming
//! `scripts/setup`, which installs it.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a starting moto server may take before the test gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`, killed on drop.
#[derive(Debug)]
pub(crate) struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts moto on 127.0.0.1 and a free port and waits until it answers HTTP.
    pub(crate) fn start() -> Self {
        let program = find_moto().unwrap_or_else(|| {
            panic!(
                "moto_server not found (looked in $DDB_AUDIT_TOOLS/bin, {}/.tools/bin and PATH). \
                 Run `scripts/setup` from the repository root to install the pinned tools.",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        let dir = tempfile::tempdir().expect("temporary directory for the moto log");
        let log = dir.path().join("moto.log");
        let port = free_port();
        let log_file = std::fs::File::create(&log).expect("moto log file");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("moto log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()));
        let mut server = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        server.wait_until_ready();
        server
    }

    /// The server's endpoint URL, e.g. `http://127.0.0.1:40123`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The server's output so far (for failure messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("moto status") {
                panic!(
                    "moto_server exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            if http_answers(self.port) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not answer on port {} within {STARTUP_TIMEOUT:?}:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // The wrapper in .tools/bin execs moto, so the child is the server itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$DDB_AUDIT_TOOLS/bin`, then the repository's `.tools/bin`, then `PATH`.
fn find_moto() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(tools) = std::env::var_os("DDB_AUDIT_TOOLS") {
        candidates.push(Path::new(&tools).join("bin/moto_server"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/moto_server"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("moto_server")));
    }
    candidates.into_iter().find(|candidate| candidate.is_file())
}

/// A port nobody listens on right now (the OS picks it; the listener is closed again).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether an HTTP server answers a GET on the port.
fn http_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// A TCP proxy in front of a server that can be taken down and brought back: while down
/// it cuts every open connection and closes new ones at once, so clients see the endpoint
/// fail exactly as during a network outage, while the server keeps its state.
#[derive(Debug)]
pub(crate) struct OutageProxy {
    port: u16,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Milliseconds every chunk of an answer is held before it is passed on (0: none).
    latency_ms: Arc<AtomicU64>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    accept_thread: Option<std::thread::JoinHandle<()>>,
}

impl OutageProxy {
    /// Starts forwarding 127.0.0.1:<free port> to 127.0.0.1:`target_port` (up).
    pub(crate) fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listener");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let up = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let latency_ms = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let (up, stop, connections) = (up.clone(), stop.clone(), connections.clone());
            let latency_ms = latency_ms.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            if up.load(Ordering::SeqCst) {
                                forward(client, target_port, &connections, &latency_ms);
                            } else {
                                let _ = client.shutdown(Shutdown::Both);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            port,
            up,
            stop,
            latency_ms,
            connections,
            accept_thread: Some(accept_thread),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The outage begins: open connections are cut, new ones refused.
    pub(crate) fn take_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut_all();
    }

    /// The outage ends.
    pub(crate) fn bring_back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// A slow server: every answer is held `latency` before it is passed on (the request
    /// still reaches the server, so a write may land while its answer is late). Zero ends it,
    /// also for answers being held.
    pub(crate) fn hold_answers(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(ms, Ordering::SeqCst);
    }

    fn cut_all(&self) {
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

/// Pipes bytes both ways between `client` and the target, remembering both sockets so an
/// outage can cut them.
fn forward(
    client: TcpStream,
    target_port: u16,
    connections: &Mutex<Vec<TcpStream>>,
    latency_ms: &Arc<AtomicU64>,
) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nonblocking(false);
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    {
        let mut open = connections.lock().unwrap();
        open.extend(client.try_clone());
        open.extend(server.try_clone());
    }
    for (answers, pair) in [false, true].into_iter().zip(pairs) {
        if let (Ok(mut from), Ok(mut to)) = pair {
            let latency_ms = latency_ms.clone();
            std::thread::spawn(move || {
                if answers {
                    copy_held(&mut from, &mut to, &latency_ms);
                } else {
                    let _ = std::io::copy(&mut from, &mut to);
                }
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    }
}

/// Copies `from` to `to`, holding each chunk for the current latency (re-read while held,
/// so lowering it releases the chunk).
fn copy_held(from: &mut TcpStream, to: &mut TcpStream, latency_ms: &AtomicU64) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let read_at = Instant::now();
        while read_at.elapsed() < Duration::from_millis(latency_ms.load(Ordering::SeqCst)) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buffer[..n]).is_err() {
            return;
        }
    }
}

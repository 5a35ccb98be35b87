//! Connections cannot starve the server: with its file descriptors limited to 128, 150 idle
//! HTTP/2 (h2c) connections are closed by the idle timeout, the accept loop backs off instead of
//! spinning while descriptors are out, and `/healthz` answers within a second once they are
//! gone, with a short log.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{BIN, Workspace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The HTTP/2 connection preface (prior knowledge, h2c) and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test]
async fn idle_h2_connections_over_the_descriptor_limit_are_shed() {
    let ws = Workspace::demo();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .arg("--config")
        .arg(&ws.config)
        .args(["serve", "--http", "127.0.0.1:0"])
        .env("MLOPS_MCP_HTTP__IDLE_TIMEOUT_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(AtomicUsize::new(0));
    let (url_tx, url_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let counted = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            counted.fetch_add(1, Ordering::Relaxed);
            if let Some(rest) = line.strip_prefix("listening on ") {
                let _ = url_tx.send(rest.trim_end_matches("/mcp").to_owned());
            }
        }
    });
    let base = url_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let addr = base.trim_start_matches("http://").to_owned();

    // 150 clients open an HTTP/2 connection each and then say nothing; each waits (bounded)
    // for the server to close it.
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..150 {
        let addr = addr.clone();
        clients.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            stream.write_all(H2_PREFACE).await.unwrap();
            let mut sink = Vec::new();
            tokio::time::timeout(Duration::from_secs(90), stream.read_to_end(&mut sink))
                .await
                .is_ok()
        }));
    }
    let mut closed = 0;
    for c in clients {
        if c.await.unwrap() {
            closed += 1;
        }
    }
    let shed_in = started.elapsed();
    assert_eq!(closed, 150, "the server closed every idle connection");

    let health = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("/healthz answers within 1 s");
    assert_eq!(health.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
    let logged = lines.load(Ordering::Relaxed);
    eprintln!("150 idle connections shed in {shed_in:?}; the server logged {logged} lines");
    assert!(logged < 1000, "{logged} log lines");
}

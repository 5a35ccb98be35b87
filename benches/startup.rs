//! Benchmark (not a test): stdio cold start to the first `tools/list` answer, and idle memory.
//!
//! Run with `cargo bench --bench startup`. Prints a table; the figures are committed in
//! BENCHMARKS.md. Targets: cold start < 50 ms, idle RSS < 30 MB.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mlops-mcp");
const RUNS: usize = 30;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
const MODERN_TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}"#;

fn spawn(config: &std::path::Path) -> Child {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("MLOPS_MCP_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Spawns the server, sends `lines`, and returns the time until the answer with id 2.
fn cold_start(config: &std::path::Path, lines: &[&str]) -> (Duration, Child) {
    let started = Instant::now();
    let mut child = spawn(config);
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "server closed stdout"
        );
        if line.contains("\"id\":2") {
            assert!(line.contains("list_models"), "{line}");
            break;
        }
    }
    let elapsed = started.elapsed();
    // Keep stdin open (the session is live) until the caller is done with the process.
    std::mem::forget(stdin);
    (elapsed, child)
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(BIN)
        .args(["demo", "--no-serve", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(ok.status.success());
    let config = dir.path().join("mlops-mcp.toml");

    println!("mlops-mcp startup benchmark ({RUNS} runs each, binary {BIN})");
    println!();
    println!("| measure | min | p50 | p90 | max |");
    println!("|---|---|---|---|---|");
    for (name, lines) in [
        (
            "stdio cold start → tools/list (legacy initialize)",
            &[INITIALIZE, INITIALIZED, TOOLS_LIST][..],
        ),
        (
            "stdio cold start → tools/list (2026-07-28, no handshake)",
            &[MODERN_TOOLS_LIST][..],
        ),
    ] {
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let (t, mut child) = cold_start(&config, lines);
                let _ = child.kill();
                let _ = child.wait();
                t
            })
            .collect();
        times.sort();
        println!(
            "| {name} | {} ms | {} ms | {} ms | {} ms |",
            ms(times[0]),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(times[times.len() - 1])
        );
    }

    let (_, mut child) = cold_start(&config, &[INITIALIZE, INITIALIZED, TOOLS_LIST]);
    std::thread::sleep(Duration::from_secs(1));
    let (rss, hwm) = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    println!();
    println!("| memory (stdio, idle after tools/list) | value |");
    println!("|---|---|");
    println!("| RSS | {:.1} MiB |", rss as f64 / 1024.0);
    println!("| peak RSS (VmHWM) | {:.1} MiB |", hwm as f64 / 1024.0);
}

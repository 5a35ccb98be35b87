//! MCP over stdio: what Claude Desktop and IDEs spawn. stdout carries protocol messages only.
//!
//! Lines from stdin pass through a filter before rmcp sees them: a line that is not a JSON-RPC
//! message is answered with a JSON-RPC error (rmcp would drop it silently), and an over-long
//! line is refused without buffering it. One writer task owns stdout so answers from rmcp and
//! from the filter never interleave within a line.

use futures_util::StreamExt as _;
use mlops_auth::Principal;
use tokio::io::{AsyncBufReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use crate::app::App;
use crate::jsonrpc;

const PIPE_BYTES: usize = 64 * 1024;

/// Serves one client on stdin/stdout until it disconnects or a signal arrives.
pub async fn serve(app: App, principal: Principal) -> anyhow::Result<()> {
    tracing::info!(principal = %principal.subject, "serving MCP over stdio");
    tokio::select! {
        result = serve_io(app, principal, tokio::io::stdin(), tokio::io::stdout()) => result,
        () = super::shutdown_signal() => Ok(()),
    }
}

/// Serves one client on any line-oriented byte stream pair (stdio, or a pipe in tests) until
/// its input ends.
pub async fn serve_io(
    app: App,
    principal: Principal,
    input: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
) -> anyhow::Result<()> {
    let max_line = app.config().http.max_body_bytes;
    let (to_rmcp_read, to_rmcp_write) = tokio::io::duplex(PIPE_BYTES);
    let (from_rmcp_read, from_rmcp_write) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::channel::<String>(64);

    tokio::spawn(filter_input(input, to_rmcp_write, errors_tx, max_line));
    let writer = tokio::spawn(write_output(from_rmcp_read, errors_rx, output));

    crate::mcp::stdio_session(app, principal, to_rmcp_read, from_rmcp_write).await?;
    // rmcp has dropped its end of the output pipe: let the writer flush what is left.
    let _ = writer.await;
    Ok(())
}

async fn filter_input(
    input: impl tokio::io::AsyncRead + Unpin,
    mut to_rmcp: impl AsyncWrite + Unpin,
    errors: mpsc::Sender<String>,
    max_line: usize,
) {
    let mut lines = FramedRead::new(input, LinesCodec::new_with_max_length(max_line));
    while let Some(line) = lines.next().await {
        let verdict = match &line {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => jsonrpc::check(text.as_bytes()),
            Err(LinesCodecError::MaxLineLengthExceeded) => Err(jsonrpc::error_response(
                serde_json::Value::Null,
                jsonrpc::INVALID_REQUEST,
                format!("invalid request: the message is longer than {max_line} bytes"),
            )),
            Err(LinesCodecError::Io(error)) => {
                tracing::warn!(%error, "stdin failed");
                break;
            }
        };
        match (verdict, line) {
            (Ok(()), Ok(text)) => {
                if to_rmcp.write_all(text.as_bytes()).await.is_err()
                    || to_rmcp.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
            (Err(error), _) => {
                tracing::warn!(%error, "refused a malformed message on stdin");
                if errors.send(error.to_string()).await.is_err() {
                    break;
                }
            }
            (Ok(()), Err(_)) => {}
        }
    }
    // Dropping `to_rmcp` closes rmcp's input: end of stdin ends the session.
}

async fn write_output(
    from_rmcp: impl tokio::io::AsyncRead + Unpin,
    mut errors: mpsc::Receiver<String>,
    mut out: impl AsyncWrite + Unpin,
) {
    let mut lines = BufReader::new(from_rmcp).lines();
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => line,
                _ => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(error) => error,
                None => { errors_open = false; continue; }
            },
        };
        if out.write_all(line.as_bytes()).await.is_err()
            || out.write_all(b"\n").await.is_err()
            || out.flush().await.is_err()
        {
            break;
        }
    }
}

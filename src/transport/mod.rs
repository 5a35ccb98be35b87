//! Transports: stdio and streamable HTTP (the listener, its connections and the router that
//! puts [`crate::http`]'s routes beside `/mcp`), and the shutdown signal they share.

pub mod connections;
pub mod http;
pub mod stdio;

/// Installs the SIGINT/SIGTERM handlers now and returns a future that resolves on either.
/// Installing before a server announces readiness means an early signal is never fatal.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| {
            signal(kind)
                .map_err(|error| tracing::warn!(%error, "cannot listen for a shutdown signal"))
                .ok()
        };
        (
            install(SignalKind::interrupt()),
            install(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int.take()) => {},
                () = wait(term.take()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

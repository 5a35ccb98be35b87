//! The HTTP transport: address, hosts, origins, body sizes and timeouts.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address `serve --http` binds when no address is given.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// Accepted `Host` header values (DNS-rebinding protection). Add your public host name
    /// when serving behind a proxy.
    #[serde(default = "default_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin` values (scheme://host[:port], `:*` for any port). A request with an
    /// Origin not listed gets 403; requests without Origin (non-browser clients) pass.
    #[serde(default = "default_origins")]
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Largest body of an ingest request (`POST /v1/models/{model}/records`), in bytes.
    #[serde(default = "default_ingest_body")]
    pub max_ingest_bytes: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Longest a client may take to send the request headers, in seconds (slow-loris guard).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// Where to serve `/metrics` without a token (e.g. `127.0.0.1:9464`, reachable only from
    /// the scraper's network). Unset: `/metrics` is on the main listener and needs a bearer
    /// token with the scope `metrics:read`.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
    /// A connection (HTTP/1.1 keep-alive or HTTP/2) that sends no request for this long is
    /// closed; requests in flight finish first. In seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Most connections served at once; past it new ones wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

pub(super) fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
pub(super) fn default_hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}
pub(super) fn default_origins() -> Vec<String> {
    vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()]
}
pub(super) fn default_body() -> usize {
    1024 * 1024
}
pub(super) fn default_ingest_body() -> usize {
    32 * 1024 * 1024
}
pub(super) fn default_timeout() -> u64 {
    120
}
pub(super) fn default_header_timeout() -> u64 {
    10
}
pub(super) fn default_idle_timeout() -> u64 {
    60
}
pub(super) fn default_max_connections() -> usize {
    1024
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            allowed_hosts: default_hosts(),
            allowed_origins: default_origins(),
            max_body_bytes: default_body(),
            max_ingest_bytes: default_ingest_body(),
            request_timeout_secs: default_timeout(),
            header_timeout_secs: default_header_timeout(),
            metrics_bind: None,
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

impl HttpConfig {
    /// What is wrong with `[http]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_connections == 0 || self.idle_timeout_secs == 0 {
            out.push("http.max_connections and http.idle_timeout_secs must be at least 1".into());
        }
        if self.allowed_hosts.is_empty() {
            out.push("http.allowed_hosts is empty: list the host names clients use, e.g. [\"localhost\", \"127.0.0.1\"]".into());
        }
        for (i, o) in self.allowed_origins.iter().enumerate() {
            if o != "null" && !(o.starts_with("http://") || o.starts_with("https://")) {
                out.push(format!(
                    "http.allowed_origins[{i}] = {o:?}: an origin needs a scheme, e.g. \"https://app.example.com\""
                ));
            }
        }
        if self.max_body_bytes < 1024 {
            out.push(format!(
                "http.max_body_bytes = {}: use at least 1024",
                self.max_body_bytes
            ));
        }
        if self.request_timeout_secs == 0 {
            out.push("http.request_timeout_secs = 0: use a positive number of seconds".into());
        }
        if self.header_timeout_secs == 0 {
            out.push("http.header_timeout_secs = 0: use a positive number of seconds".into());
        }
        out
    }
}

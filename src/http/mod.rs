//! HTTP routes beside the MCP endpoint: the gate every request passes (authentication,
//! quotas, refusals), monitoring-data ingest, health, metrics and the approval page. The MCP
//! transport itself (`/mcp`, the listener, connections) is [`crate::transport`].

pub mod approvals;
pub mod body_encoding;
pub mod gate;
pub mod health;
pub mod ingest;
pub mod labels;
pub mod metrics;

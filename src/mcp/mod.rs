//! The rmcp handler: tools, resources and the prompt, with authorization and tracing around
//! every tool call.

mod prompts;
mod resources;
mod schema;
mod serve;
mod server;
mod subscriptions;
mod tools;

pub use serve::{http_router, stdio_session};
pub use server::McpServer;

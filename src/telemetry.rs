//! Logging. Tracing to stderr, filtered by `log_level` (config) or `RUST_LOG`.
//!
//! What is logged is chosen so that secrets never are: request spans carry the method and the
//! path, never the query, body or token headers.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once; later calls are no-ops (tests build many servers).
pub fn init(level: Option<&str>) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::new(v),
        _ => EnvFilter::new(level.unwrap_or("info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

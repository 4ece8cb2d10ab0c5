//! Typed errors of the simulator's Rust API.

/// What can go wrong when starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listener could not be bound.
    #[error("cannot bind the simulator to {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No person with this id.
    #[error("no employee with id {0}")]
    NotFound(String),
    /// A mutation was rejected (unknown supervisor, a cycle, a bad value…).
    #[error("invalid change: {0}")]
    Invalid(String),
}

//! One module per subcommand; each exposes its clap `Args` and an async `run`.

pub mod bench;
pub mod check;
pub mod demo;
pub mod employees;
pub mod serve;
pub mod sim;
pub mod sync;
pub mod webhooks;

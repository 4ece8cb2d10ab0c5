//! One module per subcommand; each exposes its clap `Args` and an async `run`.

pub mod check;
pub mod demo;
pub mod employees;
pub mod sim;
pub mod sync;

//! The `pets` program, as a library so tests can start it in-process.
//!
//! [`configuration`] reads the environment into [`Settings`], [`telemetry`]
//! sets up logging, and [`startup`] builds the store and both HTTP servers and
//! runs them until a shutdown signal. `main.rs` only strings these together.

pub mod configuration;
pub mod healthcheck;
pub mod startup;
pub mod telemetry;

pub use configuration::Settings;
pub use startup::Application;

//! The `pets` program, as a library so tests can start it in-process.
//!
//! [`configuration`] reads the command line and the environment into
//! [`Settings`], [`telemetry`] sets up logging, [`serve`] serves one port
//! with its timeouts and limits, and [`startup`] builds the store and both
//! servers and runs them until a shutdown signal; [`allocator`] sets up the
//! allocator and hands freed memory back after a burst; [`paas`] serves Pets
//! as a Service (`pets paas`); [`consul_acl`] gives a Consul cluster pets'
//! least-privilege roles (`pets consul-acl`). `main.rs` only strings these together.

pub mod allocator;
pub mod configuration;
pub mod consul_acl;
pub mod healthcheck;
pub mod paas;
pub mod serve;
pub mod startup;
pub mod telemetry;

pub use configuration::Settings;
pub use startup::Application;

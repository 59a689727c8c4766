//! End-to-end tests of the app on the embedded store: the real servers on
//! free ports, driven over HTTP.

mod admin;
mod browser;
mod consul;
mod health;
mod helpers;
mod security;
mod shutdown;
mod voter;

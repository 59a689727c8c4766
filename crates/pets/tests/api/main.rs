//! End-to-end tests of the app on the embedded store: the real servers on
//! free ports, driven over HTTP.

mod acl;
mod admin;
mod binary;
mod browser;
mod command_line;
mod consul;
mod docs;
mod faults;
mod fleet;
mod fold;
mod hardening;
mod health;
mod helpers;
mod lab;
mod layout;
mod limits;
mod load;
mod logs;
mod metrics;
mod movers;
mod quorum;
mod results;
mod room;
mod room_browser;
mod rounds;
mod security;
mod shutdown;
mod slow_bodies;
mod voter;

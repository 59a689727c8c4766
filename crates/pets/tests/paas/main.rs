//! Pets as a Service on the real Docker engine: instances made, reached
//! through the proxy by `Host`, isolated, limited, expired and adopted.

use pets_testkit::docker as support;

mod helpers;

mod browser;
mod expiry;
mod flow;
mod hardening;
mod hostile;
mod isolation;
mod limits;
mod operator;

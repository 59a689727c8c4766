//! `pets load`: a traffic driver for labs. Synthetic visitors, each with its
//! own cookies, vote and then browse pet pages at a steady open-loop rate:
//! requests go out on schedule whether or not earlier ones answered, so an
//! outage shows as errors and latency, never as silently fewer requests.
//!
//! [`options`] is what it runs with; [`targets`] resolves each target to
//! every address behind it, again every few seconds, so `tasks.web` spreads
//! the load over Swarm's tasks; [`drive`] sends the requests; [`tally`]
//! counts every outcome and keeps the latencies; [`report`] prints the live
//! line, the per-second JSON lines and the final report; [`publish`] hands
//! each second to the store, for the console's availability meter.

pub mod drive;
pub mod options;
pub mod publish;
pub mod report;
pub mod tally;
pub mod targets;

pub use drive::run;
pub use options::LoadOptions;

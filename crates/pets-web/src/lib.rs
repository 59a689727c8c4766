//! The HTTP surface of pets: the voter site and the admin console.
//!
//! [`voter_router`] serves the pet pages, voting, health and static files
//! (port 5000); [`console_router`] serves the console (port 7000). Both
//! share one [`AppState`], which sits below every handler: a handler takes
//! only the part it needs (the store, the metrics, the faults, the health),
//! through axum's sub-states. Handlers live one module per page under
//! `voter` and `console`; the pieces they share (errors, extractors, the
//! cross-site guard, sessions, pictures, the pre-rendered pet pages, health,
//! faults) have modules of their own, none of which imports a handler or the
//! state.

mod around;
pub mod assets;
pub mod auth;
mod console;
mod csrf;
mod embedded;
mod error;
mod extract;
pub mod faults;
pub mod figures;
#[doc(hidden)]
pub mod fuzz;
mod guard;
mod health;
mod hosts;
mod join;
pub mod lab;
pub mod metrics;
pub mod open_files;
mod pet_pages;
mod pictures;
pub mod qr;
pub mod rate;
mod settings;
mod state;
mod templates;
mod voter;

pub use around::{hardened, wrap};
pub use auth::AdminAuth;
pub use console::console_router;
pub use error::{ApiError, AppError};
pub use health::Health;
pub use hosts::{valid_domain, PublicUrl};
pub use settings::{PetOptions, WebSettings};
pub use state::AppState;
pub use templates::TemplateError;
pub use voter::voter_router;

//! The HTTP surface of pets: the voter site and the admin console.
//!
//! [`voter_router`] serves the pet pages, voting, health and static files
//! (port 5000); [`admin_router`] serves the results console (port 7000). Both
//! share one [`AppState`]: the store, the settings, the templates and the
//! health flag. Handlers live one module per page under `voter` and `admin`;
//! the pieces they share (errors, extractors, the cross-site guard, admin
//! sessions, pictures) have modules of their own.

mod admin;
mod around;
mod assets;
pub mod auth;
mod csrf;
mod embedded;
mod error;
mod extract;
pub mod faults;
#[doc(hidden)]
pub mod fuzz;
mod guard;
pub mod metrics;
mod pictures;
pub mod rate;
mod settings;
mod state;
mod templates;
mod voter;

pub use admin::admin_router;
pub use around::{around, hardened};
pub use auth::AdminAuth;
pub use error::{ApiError, AppError};
pub use settings::{PetOptions, WebSettings};
pub use state::{AppState, Health};
pub use templates::TemplateError;
pub use voter::voter_router;

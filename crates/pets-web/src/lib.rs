//! The HTTP surface of pets: the voter site and the admin console.
//!
//! [`voter_router`] serves the pet pages, voting, health and static files
//! (port 5000); [`admin_router`] serves the results console (port 7000). Both
//! share one [`AppState`]: the store, the settings, the templates and the
//! health flag. Handlers live one module per page under [`voter`] and
//! [`admin`]; the pieces they share (errors, extractors, the cross-site guard,
//! admin sessions) have modules of their own.

pub mod admin;
mod assets;
pub mod auth;
mod csrf;
mod error;
mod extract;
mod settings;
mod state;
mod templates;
pub mod voter;

pub use admin::admin_router;
pub use auth::{AdminAuth, SESSION_COOKIE};
pub use settings::{PetOptions, WebSettings};
pub use state::{AppState, Health};
pub use voter::voter_router;

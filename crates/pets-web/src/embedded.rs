//! The files compiled into the binary: page templates and static files
//! (stylesheets, scripts, the built-in pictures).

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/templates"]
pub struct Templates;

#[derive(RustEmbed)]
#[folder = "../../web/static"]
pub struct StaticFiles;

//! Page templates: compiled into the binary once, or read from disk on every
//! render under `DEBUG` so edits to a mounted source tree show at once.

use rust_embed::RustEmbed;
use tera::{Context, Tera};

use crate::settings::WebSettings;

#[derive(RustEmbed)]
#[folder = "../../web/templates"]
struct Embedded;

pub enum Templates {
    Compiled(Box<Tera>),
    FromDisk(String),
}

impl Templates {
    pub fn load(settings: &WebSettings) -> Result<Self, String> {
        if settings.debug {
            let glob = format!("{}/templates/**/*.html", settings.web_root.display());
            Tera::new(&glob).map_err(|e| format!("templates in {glob}: {e}"))?;
            return Ok(Self::FromDisk(glob));
        }
        let mut tera = Tera::default();
        let files: Vec<(String, String)> = Embedded::iter()
            .filter_map(|name| {
                let file = Embedded::get(&name)?;
                Some((
                    name.to_string(),
                    String::from_utf8_lossy(&file.data).into_owned(),
                ))
            })
            .collect();
        tera.add_raw_templates(files)
            .map_err(|e| format!("built-in templates: {e}"))?;
        Ok(Self::Compiled(Box::new(tera)))
    }

    pub fn render(&self, name: &str, context: &Context) -> Result<String, String> {
        let result = match self {
            Self::Compiled(tera) => tera.render(name, context),
            Self::FromDisk(glob) => Tera::new(glob).and_then(|t| t.render(name, context)),
        };
        result.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            message
        })
    }
}

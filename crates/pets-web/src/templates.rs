//! Page templates: compiled into the binary once, or read from disk on every
//! render under `DEBUG` so edits to a mounted source tree show at once. Every
//! page is rendered with what all pages show (version, theme, host, whether
//! votes are shared).

use axum::response::Html;
use tera::{Context, Tera};

use crate::embedded;
use crate::settings::WebSettings;

/// A template that would not load or render, with tera's cause kept.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the templates in {glob} do not load")]
    Disk {
        glob: String,
        #[source]
        source: tera::Error,
    },
    #[error("the built-in templates do not load")]
    BuiltIn(#[source] tera::Error),
    #[error("the page {name} does not render")]
    Render {
        name: String,
        #[source]
        source: tera::Error,
    },
}

pub enum Templates {
    Compiled(Box<Tera>),
    FromDisk(String),
}

impl Templates {
    pub fn load(settings: &WebSettings) -> Result<Self, TemplateError> {
        if settings.debug {
            let glob = format!("{}/templates/**/*.html", settings.web_root.display());
            return match Tera::new(&glob) {
                Ok(_) => Ok(Self::FromDisk(glob)),
                Err(source) => Err(TemplateError::Disk { glob, source }),
            };
        }
        let mut tera = Tera::default();
        let files: Vec<(String, String)> = embedded::Templates::iter()
            .filter_map(|name| {
                let file = embedded::Templates::get(&name)?;
                Some((
                    name.to_string(),
                    String::from_utf8_lossy(&file.data).into_owned(),
                ))
            })
            .collect();
        tera.add_raw_templates(files)
            .map_err(TemplateError::BuiltIn)?;
        Ok(Self::Compiled(Box::new(tera)))
    }

    pub fn render(&self, name: &str, context: &Context) -> Result<String, TemplateError> {
        let result = match self {
            Self::Compiled(tera) => tera.render(name, context),
            Self::FromDisk(glob) => Tera::new(glob).and_then(|t| t.render(name, context)),
        };
        result.map_err(|source| TemplateError::Render {
            name: name.to_owned(),
            source,
        })
    }

    /// Renders a page with what every page shows added to `context`.
    pub fn page(
        &self,
        name: &str,
        mut context: Context,
        settings: &WebSettings,
        shared_votes: bool,
    ) -> Result<Html<String>, TemplateError> {
        context.insert("version", &settings.version);
        context.insert("theme", settings.theme());
        context.insert("hostname", &settings.hostname);
        context.insert("memory_store", &!shared_votes);
        let extended = settings.expires_at_file.as_ref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            text.trim().parse::<u64>().ok()
        });
        if let Some(at) = extended.or(settings.expires_at) {
            let now = pets_store::unix_now();
            context.insert("expires_at", &at);
            context.insert("expires_in_minutes", &at.saturating_sub(now).div_ceil(60));
        }
        self.render(name, &context).map(Html)
    }
}

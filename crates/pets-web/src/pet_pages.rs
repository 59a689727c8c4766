//! The pet page, rendered once per picture at start.
//!
//! Everything on the pet page is fixed when the process starts (the pet's
//! name, the picture, version, theme, host) except the pets-served count.
//! So each picture's page is rendered once, with a mark where the count
//! goes, and split there; serving a page is then two copies and a number
//! instead of a template render (the profile in `docs/PERFORMANCE.md`).
//!
//! The live render is kept where a page can change after start: under
//! `DEBUG` (templates are read from disk on every render, so edits show)
//! and in a Pets-as-a-Service instance (the page counts down to its
//! expiry). A unit test holds the two to the same bytes.

use std::fmt::Write;

use pets_store::PetChoice;
use rand::Rng;
use tera::Context;

use crate::pictures::Pictures;
use crate::settings::WebSettings;
use crate::templates::{TemplateError, Templates};

/// Stands where the count goes while a page is rendered: letters and
/// digits only, so the template's escaping leaves it as it is.
const SERVED_MARK: &str = "pets0served0count0mark";

/// One page, cut where the count goes.
struct Split {
    before: String,
    after: String,
}

/// Every picture's page, by pet.
pub struct PetPages {
    pages: [Vec<Split>; 3],
}

impl PetPages {
    /// The pages, or `None` where they must be rendered live (see the
    /// module's doc) or the template does not show the count once.
    pub fn build(
        templates: &Templates,
        pictures: &Pictures,
        settings: &WebSettings,
        shared_votes: bool,
    ) -> Result<Option<Self>, TemplateError> {
        if settings.debug || settings.expires_at.is_some() || settings.expires_at_file.is_some() {
            return Ok(None);
        }
        let mut pages: [Vec<Split>; 3] = Default::default();
        for choice in PetChoice::ALL {
            let all = pictures.all(choice);
            let shown: Vec<Option<&str>> = if all.is_empty() {
                vec![None]
            } else {
                all.iter().map(|url| Some(url.as_str())).collect()
            };
            for picture in shown {
                let page = templates.page(
                    "pet.html",
                    context(settings, choice, picture, &SERVED_MARK),
                    settings,
                    shared_votes,
                )?;
                let mut parts = page.0.split(SERVED_MARK);
                let (Some(before), Some(after), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Ok(None);
                };
                pages[choice.index()].push(Split {
                    before: before.to_owned(),
                    after: after.to_owned(),
                });
            }
        }
        Ok(Some(Self { pages }))
    }

    /// A random picture's page for `choice`, showing `served`.
    pub fn page(&self, choice: PetChoice, served: u64) -> String {
        let pages = &self.pages[choice.index()];
        let split = &pages[rand::rng().random_range(0..pages.len())];
        let mut page = String::with_capacity(split.before.len() + split.after.len() + 20);
        page.push_str(&split.before);
        let _ = write!(page, "{served}");
        page.push_str(&split.after);
        page
    }
}

/// What the pet page is rendered with, less what every page shows.
pub fn context(
    settings: &WebSettings,
    choice: PetChoice,
    picture: Option<&str>,
    served: &impl serde::Serialize,
) -> Context {
    let mut context = Context::new();
    context.insert("pet", settings.options.name(choice));
    context.insert("choice", choice.id());
    context.insert("picture", &picture);
    context.insert("served", served);
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebSettings {
        WebSettings {
            hostname: "replica-7".into(),
            chaos: true,
            ..WebSettings::example()
        }
    }

    /// Each prerendered page is byte for byte the page the template renders.
    #[test]
    fn prerendered_pages_are_the_rendered_pages() {
        let settings = settings();
        let templates = Templates::load(&settings).unwrap();
        let pictures = Pictures::find(&settings);
        let pages = PetPages::build(&templates, &pictures, &settings, true)
            .unwrap()
            .expect("the built-in template shows the count once");
        for choice in PetChoice::ALL {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let page = pages.page(choice, 1_234_567);
                assert!(page.contains(">1234567<"), "{page}");
                seen.insert(page);
            }
            let rendered: std::collections::HashSet<String> = pictures
                .all(choice)
                .iter()
                .map(|url| {
                    let context = context(&settings, choice, Some(url), &1_234_567u64);
                    templates
                        .page("pet.html", context, &settings, true)
                        .unwrap()
                        .0
                })
                .collect();
            assert_eq!(seen, rendered, "{choice:?}: every picture, and only those");
        }
    }

    /// A page that counts down to its expiry is rendered live.
    #[test]
    fn pages_that_change_are_not_prerendered() {
        let mut settings = settings();
        settings.expires_at = Some(4_000_000_000);
        let templates = Templates::load(&settings).unwrap();
        let pictures = Pictures::find(&settings);
        assert!(PetPages::build(&templates, &pictures, &settings, true)
            .unwrap()
            .is_none());
    }
}

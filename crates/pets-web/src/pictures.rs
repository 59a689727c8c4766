//! The pictures of each pet, found once at start: the built-in ones, or a
//! folder `option_a`, `option_b` or `option_c` under `PICTURES_DIR` that
//! replaces that option's, which is how a user mounts their own.

use std::path::{Path, PathBuf};

use pets_store::PetChoice;
use rand::Rng;

use crate::embedded::StaticFiles;
use crate::settings::WebSettings;

const IMAGE_EXTENSIONS: [&str; 6] = ["svg", "png", "jpg", "jpeg", "gif", "webp"];

/// The picture URLs for each option, found once at start.
pub struct Pictures {
    urls: [Vec<String>; 3],
    mounted: [Option<PathBuf>; 3],
}

impl Pictures {
    pub fn find(settings: &WebSettings) -> Self {
        let mut urls: [Vec<String>; 3] = Default::default();
        let mut mounted: [Option<PathBuf>; 3] = Default::default();
        for choice in PetChoice::ALL {
            let folder = format!("option_{}", choice.id());
            let dir = settings.pictures_dir.join(&folder);
            let files = image_files(&dir);
            if files.is_empty() {
                urls[choice.index()] = StaticFiles::iter()
                    .filter(|f| f.starts_with(&format!("{folder}/")) && is_image(f))
                    .map(|f| format!("/static/{f}"))
                    .collect();
            } else {
                tracing::info!(dir = %dir.display(), pictures = files.len(), "using mounted pictures");
                urls[choice.index()] = files
                    .iter()
                    .map(|f| format!("/pictures/{folder}/{f}"))
                    .collect();
                mounted[choice.index()] = Some(dir);
            }
            urls[choice.index()].sort();
        }
        Self { urls, mounted }
    }

    pub fn random(&self, choice: PetChoice) -> Option<&str> {
        let urls = &self.urls[choice.index()];
        if urls.is_empty() {
            return None;
        }
        Some(&urls[rand::rng().random_range(0..urls.len())])
    }

    pub fn all(&self, choice: PetChoice) -> &[String] {
        &self.urls[choice.index()]
    }

    /// The folder mounted for `choice`, if one replaced the built-in pictures.
    pub fn mounted(&self, choice: PetChoice) -> Option<&Path> {
        self.mounted[choice.index()].as_deref()
    }
}

fn is_image(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn image_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| is_image(name) && !name.starts_with('.'))
        .collect()
}

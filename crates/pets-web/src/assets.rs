//! Static files and pet pictures.
//!
//! Stylesheets, scripts and the built-in pictures are compiled into the
//! binary and served with an ETag and a cache lifetime. Under `DEBUG` they
//! come from `web/static` on disk instead. A folder `option_a`, `option_b` or
//! `option_c` under `PICTURES_DIR` replaces that option's built-in pictures,
//! which is how a user mounts their own.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pets_store::PetChoice;
use rand::Rng;
use rust_embed::RustEmbed;

use crate::error::AppError;
use crate::settings::WebSettings;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "../../web/static"]
pub struct StaticFiles;

const IMAGE_EXTENSIONS: [&str; 6] = ["svg", "png", "jpg", "jpeg", "gif", "webp"];
const CACHE_FOR: &str = "public, max-age=3600";

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

/// `GET /static/*path`
pub async fn static_file(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if state.settings.debug {
        let root = state.settings.web_root.join("static");
        return disk_file(&root, &path, "no-cache").await;
    }
    let file = StaticFiles::get(&path).ok_or(AppError::NotFound)?;
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, mime.as_ref().to_owned()),
            (header::CACHE_CONTROL, CACHE_FOR.to_owned()),
            (header::ETAG, etag),
        ],
        file.data,
    )
        .into_response())
}

/// `GET /pictures/:folder/:file`: a mounted picture, only if it was listed.
pub async fn mounted_picture(
    State(state): State<AppState>,
    UrlPath((folder, file)): UrlPath<(String, String)>,
) -> Result<Response, AppError> {
    let choice = folder
        .strip_prefix("option_")
        .and_then(|id| PetChoice::parse(id).ok())
        .ok_or(AppError::NotFound)?;
    let dir = state.pictures.mounted[choice.index()]
        .as_ref()
        .ok_or(AppError::NotFound)?;
    let url = format!("/pictures/{folder}/{file}");
    if !state.pictures.all(choice).contains(&url) {
        return Err(AppError::NotFound);
    }
    disk_file(dir, &file, CACHE_FOR).await
}

async fn disk_file(root: &Path, relative: &str, cache: &str) -> Result<Response, AppError> {
    if relative
        .split('/')
        .any(|part| part.is_empty() || part == ".." || part.starts_with('.'))
    {
        return Err(AppError::NotFound);
    }
    let path = root.join(relative);
    let data = tokio::fs::read(&path)
        .await
        .map_err(|_| AppError::NotFound)?;
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let mut response = data.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

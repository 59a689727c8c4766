//! Static files and mounted pictures, as responses.
//!
//! Stylesheets, scripts and the built-in pictures are compiled into the
//! binary ([`Embedded`]) and served with an ETag and a cache lifetime. Under
//! `DEBUG` they come from `web/static` on disk instead. Pictures mounted
//! under `PICTURES_DIR` are served only if [`Pictures`](crate::pictures::Pictures)
//! listed them at start.

use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pets_store::PetChoice;

use crate::embedded::StaticFiles;
use crate::error::AppError;
use crate::state::AppState;

/// How long browsers may keep a static file or picture.
pub const CACHE_FOR: &str = "public, max-age=3600";

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
    embedded(&path, &headers).ok_or(AppError::NotFound)
}

/// A file compiled in from `web/static` (`css/pets.css`, `favicon.svg`),
/// with its type, an ETag and a cache lifetime, or 304 when `headers` say
/// the browser has it; `None` when there is no such file. `pets paas`
/// serves pets' stylesheet and paw through this too, so its pages look
/// like pets from the same bytes.
pub fn embedded(path: &str, headers: &HeaderMap) -> Option<Response> {
    let file = StaticFiles::get(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| etag_matches(v, &etag))
    {
        return Some((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Some(
        (
            [
                (header::CONTENT_TYPE, mime.as_ref().to_owned()),
                (header::CACHE_CONTROL, CACHE_FOR.to_owned()),
                (header::ETAG, etag),
            ],
            file.data,
        )
            .into_response(),
    )
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags
/// compared weakly (a `W/` prefix does not matter), as RFC 9110 says.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
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
    let dir = state.pictures.mounted(choice).ok_or(AppError::NotFound)?;
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

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_takes_weak_tags_lists_and_star() {
        let etag = "\"abc\"";
        for header in ["\"abc\"", "W/\"abc\"", "\"x\", W/\"abc\"", "*"] {
            assert!(etag_matches(header, etag), "{header}");
        }
        assert!(!etag_matches("\"abd\"", etag));
        assert!(!etag_matches("abc", etag));
    }
}

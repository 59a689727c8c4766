//! Entry points for the fuzz targets in `fuzz/`: each parser that reads
//! what a client sends, run the way a request runs it. Not an API; the
//! targets only check that no input panics or hangs them.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, HeaderMap, HeaderValue, Request};
use axum_extra::extract::CookieJar;
use pets_store::{PetChoice, VoterName};

use crate::auth::client::{came_over_https, client_address};
use crate::auth::session::SessionKey;
use crate::extract::FormInput;
use crate::voter::vote::VoteForm;
use crate::voter::Visitor;

/// A ballot form body, as `POST /vote` reads it, under a content type taken
/// from the first line of `data`.
pub fn vote_form(data: &[u8]) {
    let (content_type, body) = split_first_line(data);
    let mut request = Request::post("/vote")
        .body(Body::from(body.to_vec()))
        .unwrap();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        request.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    if let Ok(FormInput(form)) = runtime.block_on(FormInput::<VoteForm>::from_request(request, &()))
    {
        let _ = VoterName::parse(&form.name);
        let _ = PetChoice::parse(&form.vote);
    }
}

/// A `Cookie` header, as every page and the console read it.
pub fn cookies(data: &[u8]) {
    static KEY: OnceLock<SessionKey> = OnceLock::new();
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, value);
    let jar = CookieJar::from_headers(&headers);
    let _ = Visitor::from_cookies(&jar);
    let key = KEY.get_or_init(|| SessionKey::derive(b"fuzz"));
    if let Some(session) = jar.get(crate::auth::SESSION_COOKIE) {
        let _ = key.verify(session.value(), pets_store::unix_now());
    }
}

/// A whole `POST /vote` as the voter site takes it, on the embedded store:
/// the first line of `data` is the `Cookie` header (the voter's signed id,
/// the place of their first vote, their vote), the rest the form's body.
/// Any cookie and body may be refused; none may panic, and a cookie pets did
/// not sign must never stand for a voter.
pub fn vote(data: &[u8]) {
    use tower::ServiceExt;
    static SITE: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    let (runtime, router) = SITE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let router = runtime.block_on(async {
            let stopping = tokio_util::sync::CancellationToken::new();
            let store = std::sync::Arc::new(pets_store::MemoryStore::new());
            let state = crate::AppState::new(store, fuzz_settings(), None, stopping)
                .expect("the built-in templates load");
            crate::voter_router(state)
        });
        (runtime, router)
    });
    let (cookies, body) = split_first_line(data);
    let mut request = Request::post("/vote")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_vec()))
        .unwrap();
    if let Ok(value) = HeaderValue::from_bytes(cookies) {
        request.headers_mut().insert(header::COOKIE, value);
    }
    let peer: std::net::SocketAddr = ([127, 0, 0, 1], 40000).into();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
    assert!(
        response.status().is_redirection() || response.status().is_client_error(),
        "a vote is counted or refused as the client's fault: {}",
        response.status()
    );
}

fn fuzz_settings() -> crate::WebSettings {
    crate::WebSettings {
        hostname: "fuzz".into(),
        ..crate::WebSettings::example()
    }
}

/// Forwarding headers from a trusted proxy, as the login reads them.
pub fn forwarded(data: &[u8]) {
    let (forwarded_for, forwarded) = split_first_line(data);
    let mut headers = HeaderMap::new();
    for (name, value) in [("x-forwarded-for", forwarded_for), ("forwarded", forwarded)] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    let trusted = ["127.0.0.0/8".parse().unwrap()];
    let peer = [127, 0, 0, 1].into();
    let _ = client_address(peer, &headers, &trusted);
    let _ = came_over_https(peer, &headers, &trusted);
}

fn split_first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_points_take_odd_input() {
        for data in [
            &b"application/x-www-form-urlencoded\nname=%FF%FE&vote=a&vote=b"[..],
            b"\n\n\n",
            b"pets_admin=a.b.c; pets_voter=zz; pets_vote=d",
            b"pets_voter=00000000000000000000000000000000.00; pets_ballot=0000000000000000\nname=Ann&vote=a",
            b"1.2.3.4, [::1\nfor=\"[\";proto=https",
            &[0xff, 0x00, b'\n', 0x80],
        ] {
            vote_form(data);
            cookies(data);
            forwarded(data);
            vote(data);
        }
    }
}

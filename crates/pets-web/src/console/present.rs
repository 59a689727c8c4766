//! `GET /present`: the projector's page, for 1920 x 1080 and the back of
//! the room. The results large with the vote rate, the join panel, the
//! cluster by node ([`cluster`](super::cluster)) and the availability
//! meter; behind the console's login. Kept live by the console's event
//! stream (`present.js`); without JavaScript it reloads every 5 s.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use pets_store::unix_now;

use super::cluster::ClusterView;
use super::dashboard::live_page;
use super::shades::Shades;
use crate::error::AppError;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, AppError> {
    let mut context = live_page(&state, &headers).await;
    let (fleet, meter, now) = (state.store.fleet(), state.store.meter(), unix_now());
    let shades = Shades::console(&fleet, &meter, now);
    context.insert("cluster", &ClusterView::shaded(&fleet, &shades));
    state.render("present.html", context)
}

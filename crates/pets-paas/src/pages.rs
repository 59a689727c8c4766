//! The service's own pages, rendered from templates compiled into the
//! binary: the landing page, the waiting page, and one page for every
//! refusal or error, each saying why.

use std::sync::OnceLock;
use std::time::Duration;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use tera::{Context, Tera};

fn templates() -> &'static Tera {
    static TERA: OnceLock<Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut tera = Tera::default();
        tera.add_raw_templates([
            ("base.html", include_str!("../templates/base.html")),
            ("landing.html", include_str!("../templates/landing.html")),
            ("waiting.html", include_str!("../templates/waiting.html")),
            ("message.html", include_str!("../templates/message.html")),
            ("admin.html", include_str!("../templates/admin.html")),
            (
                "admin_login.html",
                include_str!("../templates/admin_login.html"),
            ),
        ])
        .expect("the built-in templates parse");
        tera
    })
}

/// Renders `name` with `context`, answering `status`.
pub fn render(status: StatusCode, name: &str, context: &Context) -> Response {
    match templates().render(name, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("cannot render {name}: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A stylesheet or script of the service's own, compiled in.
pub async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, content_type),
            (http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The page for a name that is no instance: never was, or its time is up.
pub fn no_such_pets(home: &str) -> Response {
    Message {
        status: StatusCode::NOT_FOUND,
        title: "No such pets",
        message: "There is no pets at this address: it never existed, or its time is up.".into(),
        link: None,
        home,
    }
    .into_response()
}

/// A page that says what happened, with an optional link onwards.
pub struct Message<'a> {
    pub status: StatusCode,
    pub title: &'a str,
    pub message: String,
    pub link: Option<(String, &'a str)>,
    /// The service's own address, for the way back.
    pub home: &'a str,
}

impl IntoResponse for Message<'_> {
    fn into_response(self) -> Response {
        let mut context = Context::new();
        context.insert("title", self.title);
        context.insert("message", &self.message);
        context.insert("home", self.home);
        if let Some((link, text)) = &self.link {
            context.insert("link", link);
            context.insert("link_text", text);
        }
        render(self.status, "message.html", &context)
    }
}

/// `2 min 5 s`, or `45 s`.
pub fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders() {
        let mut c = Context::new();
        c.insert("ttl_minutes", &40);
        c.insert("running", &1);
        c.insert("free", &19);
        assert!(templates()
            .render("landing.html", &c)
            .unwrap()
            .contains("19 free"));
        let mut c = Context::new();
        for (k, v) in [
            ("id", "x"),
            ("site_url", "s"),
            ("admin_url", "a"),
            ("left", "1 min 0 s"),
        ] {
            c.insert(k, v);
        }
        c.insert("seconds_left", &60);
        c.insert("password", "p-w");
        c.insert("password_shown", &true);
        c.insert("restarts", &0);
        let page = templates().render("waiting.html", &c).unwrap();
        assert!(page.contains("p-w") && page.contains(r#"data-stay="true""#));
        assert!(!page.contains("started afresh"));
        c.insert("restarts", &2);
        let moved = templates().render("waiting.html", &c).unwrap();
        assert!(moved.contains("Your pets started afresh") && moved.contains("(2 times)"));
        assert!(moved.contains("the votes it held are gone"));
        assert!(
            !page.contains("<script>") && !page.contains("style="),
            "nothing inline: the CSP allows none"
        );
        let mut c = Context::new();
        c.insert(
            "nodes",
            &serde_json::json!([{"name": "node2", "ready": true, "up": true, "room": 3, "instances": [{
                "id": "abc", "version": "2.0", "url": "u", "healthy": false,
                "age": "1 s", "left": "2 s", "cpu": "0.1%", "memory": "1.0 MiB", "restarts": 1
            }]}, {"name": "node3", "ready": false, "up": false, "room": 0, "instances": []}, {"name": "node4", "ready": false, "up": true, "room": 0, "instances": []}]),
        );
        for (k, v) in [("running", 1), ("free", 2), ("max", 3)] {
            c.insert(k, &v);
        }
        c.insert("ttl", "40 min 0 s");
        let page = templates().render("admin.html", &c).unwrap();
        assert!(page.contains(r#"data-node="node2""#) && page.contains(r#"data-id="abc""#));
        assert!(page.contains("not answering") && page.contains("No instance runs here."));
        assert!(page.contains("room for 3 more") && page.contains("down: its instances move"));
        assert!(page.contains("paused or drained: no new instances"));
        assert!(page.contains(r#"data-field="restarts">1 ×"#));
        let page = Message {
            status: StatusCode::NOT_FOUND,
            title: "No such pets",
            message: "<script>".into(),
            link: None,
            home: "/",
        }
        .into_response();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn durations_read_as_minutes() {
        assert_eq!(minutes(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(minutes(Duration::from_secs(45)), "45 s");
    }
}

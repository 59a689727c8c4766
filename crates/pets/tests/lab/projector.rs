//! The projector in the lab: `/present` in Chromium at 1920 x 1080 on one
//! web task's console, logged in with the lab's session, read tile by tile.
//! It follows the cluster: three nodes before a node's loss, two after it,
//! three again once a drained node's tasks land on the node that returned.
//! A console whose task went away is replaced by another task's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::browser::{Browser, Viewport};

use crate::prod::service;
use crate::rig::Lab;
use crate::support::Task;

pub struct Projector {
    browser: Browser,
    cookie: String,
}

impl Projector {
    /// `/present` on the console of a web task not on node `avoid`.
    pub async fn open(lab: &Arc<Lab>, cookie: &str, avoid: usize) -> Self {
        let projector = Self {
            browser: Browser::start_at(Viewport::Screen(1920, 1080)).await,
            cookie: cookie.to_owned(),
        };
        projector.show(lab, avoid).await;
        projector
    }

    async fn show(&self, lab: &Arc<Lab>, avoid: usize) {
        let lab = lab.clone();
        let tasks = tokio::task::spawn_blocking(move || lab.tasks(&service("web")))
            .await
            .unwrap()
            .unwrap_or_default();
        match tasks.into_iter().find(|(n, _)| *n != avoid) {
            Some((_, task)) => self.goto(&task).await,
            None => eprintln!("  the projector: no web task to show yet"),
        }
    }

    async fn goto(&self, task: &Task) {
        let client = &self.browser.client;
        let console = format!("http://{}:7000", task.ip);
        client.goto(&format!("{console}/login")).await.unwrap();
        // The lab's session, set from the page: a cookie for an address
        // (no domain) is refused by WebDriver's own call.
        let set = format!(
            "document.cookie = {:?}; return null;",
            format!("{}; path=/", self.cookie)
        );
        self.browser.eval(&set).await;
        client.goto(&format!("{console}/present")).await.unwrap();
    }

    /// The nodes the page shows replicas on, in order, once per tile.
    pub async fn tile_nodes(&self) -> Vec<String> {
        let value = self
            .browser
            .eval(
                "return Array.from(document.querySelectorAll('#cluster-nodes li.tile:not(.leaving)'))
                   .map(function (t) { return t.closest('div.node').dataset.node; });",
            )
            .await;
        serde_json::from_value(value).unwrap_or_default()
    }

    /// Waits up to 90 s for the page's tiles to satisfy `wanted`, moving
    /// to another task's console (not on `avoid`) if this one stops
    /// answering; returns the nodes shown.
    pub async fn wait_for(
        &self,
        lab: &Arc<Lab>,
        avoid: usize,
        what: &str,
        wanted: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let started = Instant::now();
        let mut last_move = Instant::now();
        loop {
            let nodes = self.tile_nodes().await;
            if wanted(&nodes) {
                eprintln!("  the projector: {what}: tiles on {nodes:?}");
                return nodes;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the projector never showed {what}: tiles on {nodes:?}"
            );
            if last_move.elapsed() > Duration::from_secs(20) {
                self.show(lab, avoid).await;
                last_move = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn screenshot(&self, name: &str) {
        self.browser.screenshot(name).await;
    }

    pub async fn close(self) {
        self.browser.close().await;
    }
}

/// Whether tiles stand on each of `nodes` and on no other.
pub fn on_exactly(shown: &[String], nodes: &[&str]) -> bool {
    let mut distinct: Vec<&str> = shown.iter().map(String::as_str).collect();
    distinct.sort();
    distinct.dedup();
    distinct == nodes
}

//! A real browser for the tests: headless Chromium driven through
//! chromedriver, one session per [`Browser`], with the few actions the
//! tests take and screenshots for the README and docs/ (`images/`). Any
//! `*.test` host name reaches 127.0.0.1, and a session can be phone-sized
//! ([`Viewport`]).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// What at a phone's size breaks the phone rules: sideways scrolling, a
/// tap target under 44 px, a picture larger than the screen.
pub const PHONE_RULES: &str = r#"
  const vw = window.innerWidth, vh = window.innerHeight, bad = [];
  if (document.documentElement.scrollWidth > vw) bad.push('scrolls sideways to ' + document.documentElement.scrollWidth);
  document.querySelectorAll('a, button, input, summary').forEach(function (el) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    const name = el.id || el.tagName;
    if (r.height < 44 || r.width < 44) bad.push(name + ' is ' + Math.round(r.width) + 'x' + Math.round(r.height));
    if (r.right > vw + 0.5) bad.push(name + ' runs off the screen');
  });
  const img = document.getElementById('pet-picture');
  if (img) {
    const r = img.getBoundingClientRect();
    if (!img.complete || img.naturalWidth === 0) bad.push('the picture did not load');
    if (r.width > vw || r.height > vh) bad.push('the picture is ' + Math.round(r.width) + 'x' + Math.round(r.height));
  }
  return { width: vw, height: vh, bad: bad };
"#;

/// How many chromedrivers are started, one after another, before a test
/// gives up on a browser: a loaded machine has seen one answer nothing.
const DRIVER_TRIES: u32 = 3;
/// How long one chromedriver has to give a session.
const SESSION_WAIT: Duration = Duration::from_secs(20);

/// The size of the page a session shows, in CSS pixels.
#[derive(Debug, Clone, Copy)]
pub enum Viewport {
    /// A desktop window (the default: 900 x 1000), its browser's own
    /// parts taken from the height.
    Window(u32, u32),
    /// A screen whose page is exactly this size, such as a projector's
    /// 1920 x 1080.
    Screen(u32, u32),
    /// A phone: Chromium's mobile emulation, touch and a device pixel
    /// ratio of 2, so the page sees exactly this viewport.
    Phone(u32, u32),
}

/// One browser session through a chromedriver of its own.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
}

/// A chromedriver process, run in a process group of its own and killed
/// whole when this is dropped, so a failing test leaves no browser behind;
/// its profile and log go with it.
struct Driver {
    child: tokio::process::Child,
    url: String,
    profile: PathBuf,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling the process group our own child leads.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Driver {
    fn spawn() -> Self {
        let port = crate::free_port();
        let name = format!("pets-chrome-{}-{port}", std::process::id());
        let (profile, log) = (
            std::env::temp_dir().join(&name),
            std::env::temp_dir().join(format!("{name}.log")),
        );
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is not installed: run scripts/install-deps.sh");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
            log,
        }
    }

    fn capabilities(&self, viewport: Viewport) -> serde_json::Map<String, serde_json::Value> {
        let (width, height) = match viewport {
            Viewport::Window(w, h) | Viewport::Screen(w, h) | Viewport::Phone(w, h) => (w, h),
        };
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                format!("--window-size={width},{height}"),
                // Any `*.test` name reaches this machine, so a test can open
                // a site under a name other than localhost.
                "--host-resolver-rules=MAP *.test 127.0.0.1",
                format!("--user-data-dir={}", self.profile.display()),
            ]
        });
        let (ratio, phone) = match viewport {
            Viewport::Window(..) => (0.0, false),
            Viewport::Screen(..) => (1.0, false),
            Viewport::Phone(..) => (2.0, true),
        };
        if ratio > 0.0 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": ratio,
                    "touch": phone, "mobile": phone,
                }
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        capabilities
    }

    /// A session, or why there is none: the driver exited, or gave none
    /// within [`SESSION_WAIT`] (with the end of its log).
    async fn session(&mut self, viewport: Viewport) -> Result<Client, String> {
        let started = Instant::now();
        loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(self.capabilities(viewport))
                .connect(&self.url)
                .await;
            let error = match attempt {
                Ok(client) => return Ok(client),
                Err(e) => e.to_string(),
            };
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > SESSION_WAIT {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                let why = match exited {
                    Some(status) => format!("chromedriver exited ({status})"),
                    None => format!("no session in {} s", SESSION_WAIT.as_secs()),
                };
                return Err(format!("{why}: {error}; its log ends: {tail:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Browser {
    /// A session in a 900 x 1000 window.
    pub async fn start() -> Self {
        Self::start_at(Viewport::Window(900, 1000)).await
    }

    /// A session through a new chromedriver; one that exits or answers
    /// nothing is replaced by another on a new port, [`DRIVER_TRIES`] in all.
    pub async fn start_at(viewport: Viewport) -> Self {
        let mut failures = Vec::new();
        for _ in 0..DRIVER_TRIES {
            let mut driver = Driver::spawn();
            match driver.session(viewport).await {
                Ok(client) => {
                    return Self {
                        client,
                        _driver: driver,
                    }
                }
                Err(why) => {
                    eprintln!("no browser session from chromedriver, starting another: {why}");
                    failures.push(why);
                }
            }
        }
        panic!("no browser session from {DRIVER_TRIES} chromedrivers: {failures:#?}");
    }

    /// The element at `css`, waiting up to 5 s for it to exist.
    async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// The rendered text of the element, waiting up to 5 s for it to exist.
    /// An element the page replaced between finding and reading it (a
    /// script re-rendering it) is found again, for up to those 5 s.
    pub async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                Err(e)
                    if e.is_stale_element_reference()
                        && started.elapsed() < Duration::from_secs(5) =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("the text of {css}: {e}"),
            }
        }
    }

    /// Waits up to 5 s for the element's text to become `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text == expected || started.elapsed() > Duration::from_secs(5) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }

    /// The page's path once it is `expected`, waiting up to 5 s for a
    /// navigation to finish.
    pub async fn wait_for_path(&self, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let path = self.client.current_url().await.unwrap().path().to_owned();
            if path == expected || started.elapsed() > Duration::from_secs(5) {
                return path;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot to `images/<name>` for the README and docs/,
    /// and returns where.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../images");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("the page could not run {script:.60}: {e}"))
    }

    /// Fails unless the page keeps the phone rules ([`PHONE_RULES`]) at
    /// `size`, which must be the session's viewport; `page` names it in the
    /// failure.
    pub async fn assert_fits_a_phone(&self, page: &str, size: (u32, u32)) {
        let report = self.eval(PHONE_RULES).await;
        assert_eq!(
            (report["width"].as_u64(), report["height"].as_u64()),
            (Some(size.0 as u64), Some(size.1 as u64)),
            "the phone's viewport"
        );
        assert_eq!(report["bad"], json!([]), "{page} at {size:?}");
    }

    /// The QR code drawn by the element at `css`, decoded by a real decoder
    /// (zbarimg, from Debian's zbar-tools) from a screenshot of the screen
    /// with the code scrolled into view, as a camera would see it (an
    /// element's own screenshot comes out cropped under a phone's pixel
    /// ratio).
    pub async fn scan_code(&self, css: &str) -> String {
        let code = self.wait_for(css).await;
        let element = serde_json::to_value(&code).expect("an element is JSON");
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![element],
            )
            .await
            .expect("the code scrolls into view");
        let png = self.client.screenshot().await.expect("a screenshot");
        let file = std::env::temp_dir().join(format!(
            "pets-qr-{}-{}.png",
            std::process::id(),
            crate::free_port()
        ));
        std::fs::write(&file, png).unwrap();
        let output = std::process::Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&file)
            .output()
            .expect("zbarimg is not installed: run scripts/install-deps.sh");
        assert!(
            output.status.success(),
            "zbarimg found no code in {} (kept): {output:?}",
            file.display()
        );
        let _ = std::fs::remove_file(&file);
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

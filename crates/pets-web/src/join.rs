//! The join panel: where a room votes from its phones. The console and the
//! projector page (`/present`) show the voter site's address in large type
//! and as a QR code, drawn here on the server as SVG (no script, no outside
//! service).
//!
//! The address is `PETS_PUBLIC_URL` when it is set ([`PublicUrl`](crate::hosts::PublicUrl) parses it
//! once, at start). Otherwise it is the host the console was opened at, with
//! the web port: a console opened at `http://192.168.1.20:7000` shows
//! `http://192.168.1.20:5000/`. An address a phone could not use gets no
//! code, and the panel says why instead: a console opened at `localhost`,
//! a host name that is not one, or, with `PETS_ALLOWED_HOSTS` set, an
//! address the voter site would refuse.

use serde::Serialize;

use crate::hosts::{host_allowed, host_name};
use crate::settings::WebSettings;

/// What the panel shows: a code and its address, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JoinPanel {
    Code {
        url: String,
        /// The QR code as an inline `<svg>` element.
        svg: String,
    },
    Unavailable {
        reason: String,
    },
}

impl JoinPanel {
    /// The panel for a console opened at `host` (the request's `Host`).
    pub fn new(settings: &WebSettings, host: Option<&str>) -> Self {
        match address(settings, host) {
            Ok(url) => match crate::qr::svg(&url, "QR code of the voting address") {
                Some(svg) => Self::Code { url, svg },
                None => Self::Unavailable {
                    reason: format!("{url} is too long for a QR code."),
                },
            },
            Err(reason) => Self::Unavailable { reason },
        }
    }
}

/// The voter site's address for a console opened at `host`, or why a phone
/// could not use one.
fn address(settings: &WebSettings, host: Option<&str>) -> Result<String, String> {
    let allowed = &settings.allowed_hosts;
    if let Some(public) = &settings.public_url {
        if !allowed.is_empty() && !host_allowed(public.host(), allowed) {
            return Err(format!(
                "PETS_PUBLIC_URL names {}, which PETS_ALLOWED_HOSTS does not list, \
                 so the voter site would refuse it. Add it to PETS_ALLOWED_HOSTS.",
                public.host()
            ));
        }
        return Ok(public.as_str().to_owned());
    }
    let set_it = "Set PETS_PUBLIC_URL to the address the room uses.";
    let Some(name) = host.and_then(host_name) else {
        return Err(format!(
            "The console was opened without a host name pets can use. {set_it}"
        ));
    };
    if is_loopback(&name) {
        return Err(format!(
            "The console is open at {name}, which only this machine can reach. Open it \
             at this machine's network address, such as http://192.168.1.20:7000, or \
             set PETS_PUBLIC_URL to the address the room uses."
        ));
    }
    if !allowed.is_empty() && !host_allowed(&name, allowed) {
        return Err(format!(
            "{name} is not in PETS_ALLOWED_HOSTS, so the voter site would refuse it. {set_it}"
        ));
    }
    Ok(format!("http://{name}:{}/", settings.web_port))
}

fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public: Option<&str>, allowed: &[&str]) -> WebSettings {
        WebSettings {
            public_url: public.map(|p| crate::hosts::PublicUrl::parse(p).unwrap()),
            allowed_hosts: allowed.iter().map(|h| h.to_string()).collect(),
            web_port: 5000,
            ..WebSettings::example()
        }
    }

    fn url(panel: JoinPanel) -> Result<String, String> {
        match panel {
            JoinPanel::Code { url, svg } => {
                assert!(svg.starts_with("<svg class=\"qr-code\""), "{svg:.80}");
                assert!(svg.ends_with("</svg>"));
                Ok(url)
            }
            JoinPanel::Unavailable { reason } => Err(reason),
        }
    }

    #[test]
    fn the_console_host_with_the_web_port() {
        let s = settings(None, &[]);
        for (host, expected) in [
            ("192.168.1.20:7000", "http://192.168.1.20:5000/"),
            ("Pets.Example.com:7000", "http://pets.example.com:5000/"),
            ("10.0.0.5", "http://10.0.0.5:5000/"),
            ("[fd00::5]:7000", "http://[fd00::5]:5000/"),
        ] {
            assert_eq!(url(JoinPanel::new(&s, Some(host))).as_deref(), Ok(expected));
        }
    }

    #[test]
    fn an_address_a_phone_cannot_use_gets_a_reason_instead_of_a_code() {
        let s = settings(None, &[]);
        for host in [
            None,
            Some("localhost:7000"),
            Some("127.0.0.1:7000"),
            Some("[::1]:7000"),
            Some("0.0.0.0:7000"),
            Some("bad_name:7000"),
            Some("x:99999"),
            Some("\"><script>:7000"),
        ] {
            let reason = url(JoinPanel::new(&s, host)).unwrap_err();
            assert!(reason.contains("PETS_PUBLIC_URL"), "{host:?}: {reason}");
        }
    }

    #[test]
    fn the_public_url_wins_unless_the_allowed_hosts_refuse_it() {
        let s = settings(Some("https://pets.example.com"), &[]);
        assert_eq!(
            url(JoinPanel::new(&s, Some("localhost:7000"))).as_deref(),
            Ok("https://pets.example.com/")
        );
        let s = settings(Some("https://pets.example.com/vote"), &["pets.example.com"]);
        assert_eq!(
            url(JoinPanel::new(&s, None)).as_deref(),
            Ok("https://pets.example.com/vote")
        );
        let s = settings(Some("https://other.example.com/"), &["pets.example.com"]);
        let reason = url(JoinPanel::new(&s, None)).unwrap_err();
        assert!(reason.contains("other.example.com"), "{reason}");
        assert!(reason.contains("PETS_ALLOWED_HOSTS"), "{reason}");
    }

    #[test]
    fn with_allowed_hosts_only_an_allowed_console_host_is_shown() {
        let s = settings(None, &["pets.example.com"]);
        assert_eq!(
            url(JoinPanel::new(&s, Some("pets.example.com:7000"))).as_deref(),
            Ok("http://pets.example.com:5000/")
        );
        assert!(url(JoinPanel::new(&s, Some("evil.example:7000"))).is_err());
    }
}

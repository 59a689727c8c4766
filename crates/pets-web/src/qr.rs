//! QR codes of addresses, drawn on the server as inline SVG (no script, no
//! outside service): the join panel's code of the voter site, and
//! `pets paas`'s code of a visitor's own instance, so they can move to a
//! phone.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The QR code of `url` as an inline `<svg>` element (without the XML
/// prolog a file would have), black on white with the quiet zone scanners
/// need, named for screen readers by `label`. `None` when `url` is too long
/// for a code.
pub fn svg(url: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg")?;
    let label = tera::escape_html(label);
    Some(image[start..].replacen(
        "<svg ",
        &format!("<svg class=\"qr-code\" role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_becomes_an_inline_svg_with_its_label() {
        let code = svg("http://pets.example.com:5000/", "the \"voting\" address").unwrap();
        assert!(
            code.starts_with("<svg class=\"qr-code\" role=\"img\""),
            "{code:.80}"
        );
        assert!(code.contains("aria-label=\"the &quot;voting&quot; address\""));
        assert!(code.ends_with("</svg>"));
    }

    #[test]
    fn an_address_too_long_for_a_code_gets_none() {
        assert!(svg(&"x".repeat(4000), "long").is_none());
    }
}

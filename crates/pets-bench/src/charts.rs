//! The curves as SVG charts, drawn from the run's own figures with
//! plotters: each chart holds today's points, joined, and the target as a
//! dashed line, and is captioned with the run's date. `docs/PERFORMANCE.md`
//! shows the ones from a dated run, copied into `images/`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// One chart: a curve against a target line.
pub struct Chart<'a> {
    /// The file's name, without `.svg`.
    pub name: &'a str,
    pub caption: String,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// The points, x ascending.
    pub points: Vec<(f64, f64)>,
    pub target: f64,
    /// What the target line says, as "at most" or "at least" it.
    pub target_label: String,
    /// Sizes far apart (256 to 10,000) drawn evenly spaced, each
    /// labelled with its size, rather than on a linear axis.
    pub evenly_spaced: bool,
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const CURVE: RGBColor = RGBColor(0x5b, 0x3f, 0xb5);
const TARGET: RGBColor = RGBColor(0xc0, 0x39, 0x2b);

/// Draws `chart` to `<dir>/<name>.svg` and returns the path.
pub fn draw(dir: &Path, chart: &Chart) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{}.svg", chart.name));
    let root = SVGBackend::new(&path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(to_error)?;
    let y_top = chart
        .points
        .iter()
        .map(|p| p.1)
        .chain([chart.target])
        .fold(0.0, f64::max)
        * 1.25;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&chart.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56);
    // Evenly spaced sizes are drawn at their index, labelled with the size.
    let xs: Vec<f64> = chart.points.iter().map(|p| p.0).collect();
    let points: Vec<(f64, f64)> = if chart.evenly_spaced {
        chart
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64, p.1))
            .collect()
    } else {
        chart.points.clone()
    };
    let (x_min, x_max) = bounds(points.iter().map(|p| p.0));
    let pad = (x_max - x_min) * 0.05 + 0.2 * f64::from(u8::from(chart.evenly_spaced));
    let mut drawn = builder
        .build_cartesian_2d(x_min - pad..x_max + pad, 0.0..y_top)
        .map_err(to_error)?;
    let label = |x: &f64| {
        if !chart.evenly_spaced {
            return thousands(*x);
        }
        let i = x.round();
        match xs.get(i as usize) {
            Some(size) if (x - i).abs() < 1e-6 && i >= 0.0 => thousands(*size),
            _ => String::new(),
        }
    };
    drawn
        .configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&label)
        .y_label_formatter(&|y| format!("{y:.1}"))
        .max_light_lines(0)
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(to_error)?;
    draw_curve(&mut drawn, chart, &points)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    drop(drawn);
    drop(root);
    Ok(path)
}

/// The target line, the curve, its points and the legend.
fn draw_curve<'a>(
    drawn: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    chart: &Chart,
    points: &[(f64, f64)],
) -> anyhow::Result<()> {
    let (x_min, x_max) = bounds(points.iter().map(|p| p.0));
    drawn
        .draw_series(DashedLineSeries::new(
            [(x_min, chart.target), (x_max, chart.target)],
            8,
            5,
            TARGET.stroke_width(2),
        ))
        .map_err(to_error)?
        .label(&chart.target_label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], TARGET.stroke_width(2)));
    drawn
        .draw_series(LineSeries::new(
            points.iter().copied(),
            CURVE.stroke_width(2),
        ))
        .map_err(to_error)?
        .label("this run")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE.stroke_width(2)));
    drawn
        .draw_series(points.iter().map(|&p| Circle::new(p, 4, CURVE.filled())))
        .map_err(to_error)?;
    drawn
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(to_error)?;
    Ok(())
}

/// A size as people write it: 10,000.
fn thousands(x: f64) -> String {
    crate::report::thousands(x.round() as u64)
}

fn bounds(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

/// plotters' drawing errors hold the backend's error type, which is not
/// `Send`; the message is what is kept.
fn to_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_labelled_at_its_sizes_with_its_target() {
        let dir = std::env::temp_dir().join(format!("pets-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = Chart {
            name: "test",
            caption: "The pet page against nginx (2026-12-05)".into(),
            x_label: "keep-alive clients",
            y_label: "pages/s, x nginx's",
            points: vec![(256.0, 0.7), (2048.0, 0.64), (10_000.0, 0.66)],
            target: 0.8,
            target_label: "target: at least 0.8 x".into(),
            evenly_spaced: true,
        };
        let path = draw(&dir, &chart).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in [
            "2026-12-05",
            ">\n256\n<",
            "2,048",
            "10,000",
            "at least 0.8 x",
        ] {
            assert!(
                svg.contains(text),
                "{text:?} missing from {}",
                path.display()
            );
        }
        assert_eq!(svg.matches("<circle").count(), 3, "one dot a point");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

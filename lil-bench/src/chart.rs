//! The scaling chart (SVG, with `plotters`): time and memory against the
//! number of per-class stubs in one code cache, both axes logarithmic, so a
//! straight line of slope one is linear growth.

use std::path::Path;

use lil_codegen::Target;
use plotters::prelude::*;

use crate::scaling::Point;

/// Draw `points` into an SVG file at `path`.
pub fn draw(points: &[Point], path: &Path) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|x| e(&x))?;
    }
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let (left, right) = root.split_horizontally(500);

    let n_range = range(points.iter().map(|p| p.stubs as f64));
    let series =
        |target: Target| -> Vec<&Point> { points.iter().filter(|p| p.target == target).collect() };
    let targets = [
        (Target::X64, "x86-64", BLUE),
        (Target::Arm64, "AArch64 (code only)", RED),
    ];

    // Time.
    let ms = |p: &Point| p.elapsed.as_secs_f64() * 1e3;
    let t_range = range(points.iter().map(ms));
    let mut chart = ChartBuilder::on(&left)
        .caption(
            "N stubs: generate + check + compile + install",
            ("sans-serif", 17),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(n_range.clone().log_scale(), t_range.log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("per-class instanceof stubs in one cache")
        .y_desc("total time (ms)")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| tick(*y))
        .draw()
        .map_err(|x| e(&x))?;
    for (target, name, color) in targets {
        let pts: Vec<(f64, f64)> = series(target)
            .iter()
            .map(|p| (p.stubs as f64, ms(p)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(|x| e(&x))?;

    // Memory (x86-64 run).
    let x64 = series(Target::X64);
    let mib = |b: usize| (b as f64 / (1 << 20) as f64).max(1e-3);
    type Kind = (&'static str, RGBColor, fn(&Point) -> usize);
    let kinds: [Kind; 3] = [
        ("code bytes", BLUE, |p| p.code_bytes),
        ("cache bookkeeping", GREEN, |p| p.bookkeeping_bytes),
        ("resident set growth", MAGENTA, |p| p.rss_growth),
    ];
    let m_range = range(
        x64.iter()
            .flat_map(|p| kinds.iter().map(move |k| mib(k.2(p)))),
    );
    let mut chart = ChartBuilder::on(&right)
        .caption("memory (x86-64)", ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(n_range.log_scale(), m_range.log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("per-class instanceof stubs in one cache")
        .y_desc("MiB")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| tick(*y))
        .draw()
        .map_err(|x| e(&x))?;
    for (name, color, value) in kinds {
        let pts: Vec<(f64, f64)> = x64
            .iter()
            .map(|p| (p.stubs as f64, mib(value(p))))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// A tick label: no decimals above 10, enough below.
fn tick(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A positive range around the values, with a margin on the log scale.
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || hi <= 0.0 {
        return 1.0..10.0;
    }
    lo / 1.5..hi * 1.5
}

//! `--plot FILE.svg`: a grouped bar chart of the ratio to the copy floor.
//!
//! One group per workload, one bar per backend (OpenCV's included when merged),
//! each labelled with its ratio; a dashed line at 1.0 is the floor. Text is written
//! as SVG `<text>` (no font files needed).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::{OPENCV, Row};
use crate::error::{CliError, Result};

/// Bar colours, one per backend in order of appearance (OpenCV always gray).
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const OPENCV_COLOR: RGBColor = RGBColor(110, 110, 110);

/// Draws the chart of `rows` (grouped by workload in `order`) into `path`.
pub fn draw(path: &Path, title: &str, order: &[&str], rows: &[Row]) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| {
        CliError::new(format!("--plot: drawing `{}`: {e}", path.display()))
    };
    let mut backends: Vec<&str> = Vec::new();
    for r in rows {
        if !backends.contains(&r.backend.as_str()) {
            backends.push(&r.backend);
        }
    }
    let color = |i: usize, b: &str| {
        if b == OPENCV {
            OPENCV_COLOR
        } else {
            COLORS[i % COLORS.len()]
        }
    };
    let max = rows
        .iter()
        .map(|r| r.ratio_to_floor)
        .filter(|r| r.is_finite())
        .fold(1.0f64, f64::max);
    let groups = order.len().max(1) as f64;
    let width = (160 * order.len() as u32).clamp(640, 1600);
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..groups, 0.0..max * 1.35)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|_| String::new())
        .x_desc("workload")
        .y_desc("time / copy floor (lower is faster; 1.0 = copy)")
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;

    // Headroom above the tallest bar keeps the legend (upper left) off the bars.
    // Bars: each group spans [g + 0.1, g + 0.9], split evenly between backends.
    let slot = 0.8 / backends.len().max(1) as f64;
    let value_font =
        TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (bi, &backend) in backends.iter().enumerate() {
        let c = color(bi, backend);
        let bars: Vec<(f64, f64)> = order
            .iter()
            .enumerate()
            .filter_map(|(g, w)| {
                rows.iter()
                    .find(|r| r.workload == *w && r.backend == backend)
                    .filter(|r| r.ratio_to_floor.is_finite())
                    .map(|r| (g as f64 + 0.1 + bi as f64 * slot, r.ratio_to_floor))
            })
            .collect();
        chart
            .draw_series(
                bars.iter()
                    .map(|&(x, r)| Rectangle::new([(x, 0.0), (x + slot * 0.92, r)], c.filled())),
            )
            .map_err(|e| err(&e))?
            .label(if backend == OPENCV {
                "opencv (ratio to its own copy floor)"
            } else {
                backend
            })
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        chart
            .draw_series(bars.iter().map(|&(x, r)| {
                Text::new(
                    format!("{r:.2}"),
                    (x + slot * 0.46, r + max * 0.01),
                    value_font.clone(),
                )
            }))
            .map_err(|e| err(&e))?;
    }
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 1.0), (groups, 1.0)],
            6,
            4,
            BLACK.stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label("copy floor (1.0)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;

    // Workload names under each group, in pixel coordinates of the whole image.
    let name_font =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (g, name) in order.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            name.to_string(),
            (px, py + 6),
            name_font.clone(),
        ))
        .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(w: &str, b: &str, ratio: f64) -> Row {
        Row {
            workload: w.into(),
            backend: b.into(),
            threads: 1,
            median_ms: ratio,
            mpx_s: 1.0,
            ratio_to_floor: ratio,
            external: b == OPENCV,
        }
    }

    #[test]
    fn the_svg_names_every_workload_backend_and_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.svg");
        let rows = [
            row("sobel_x_3x3", "generic", 2.5),
            row("sobel_x_3x3", "jit", 1.25),
            row("sobel_x_3x3", OPENCV, 1.38),
            row("dense_7x7", "jit", 3.75),
        ];
        draw(&path, "title here", &["sobel_x_3x3", "dense_7x7"], &rows).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for needle in [
            "title here",
            "sobel_x_3x3",
            "dense_7x7",
            "generic",
            "jit",
            "opencv",
            "copy floor",
            "3.75",
            "1.38",
            "<rect",
        ] {
            assert!(svg.contains(needle), "the SVG lacks `{needle}`");
        }
    }

    #[test]
    fn an_unwritable_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("p.svg");
        let e = draw(&path, "t", &["a"], &[row("a", "jit", 1.0)]).unwrap_err();
        assert!(e.to_string().contains("--plot"), "{e}");
    }
}

//! The harness's chart: commands per second by clients, one line per
//! backend, durability, system, workload and group-commit setting, drawn as SVG with
//! plotters (text is left to the SVG viewer, so no fonts are needed).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::BenchError;
use crate::options::WorkloadKind;
use crate::report::{Report, System};

/// The chart's size in pixels.
const CHART_SIZE: (u32, u32) = (960, 600);

/// Draws the report's rows into an SVG file at `path`.
pub fn draw(report: &Report, path: &Path) -> Result<(), BenchError> {
    let err = |e: &dyn std::fmt::Display| BenchError::Chart(e.to_string());
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    // Warm-up rounds are not results.
    for r in report.rows.iter().filter(|r| !r.warmup) {
        let split = match r.workload {
            WorkloadKind::Transfer => "",
            WorkloadKind::Split => " split",
        };
        let name = match (r.system, r.group_commit) {
            (System::Baseline, _) => format!("{} baseline ({})", r.backend, r.durability),
            (System::GroupedBaseline, _) => format!("{} grouped baseline ({})", r.backend, r.durability),
            (System::Ledger, Some(true)) => format!("{} ledger{split}, group commit ({})", r.backend, r.durability),
            (System::Ledger, _) => format!("{} ledger{split} ({})", r.backend, r.durability),
        };
        series.entry(name).or_default().push(((r.clients.max(1) as f64).log2(), r.commands_per_second.max(1.0)));
    }
    let x_max = series.values().flatten().map(|p| p.0).fold(1.0, f64::max);
    let y_max = series.values().flatten().map(|p| p.1).fold(10.0, f64::max) * 2.0;
    let root = SVGBackend::new(path, CHART_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "commands (transfers or split entries) per second by concurrent clients (log scales)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.2..x_max + 0.2, (1.0..y_max).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("clients")
        .y_desc("commands/s")
        .x_label_formatter(&|x| format!("{:.0}", x.exp2()))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (name, mut points)) in series.into_iter().enumerate() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = Palette99::pick(i).to_rgba();
        let width = if name.contains("baseline") { 1 } else { 3 };
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

//! The report's SVG plots (plotters, SVG backend, text as SVG `<text>`): cost against size.

use std::path::Path;

use plotters::prelude::*;

/// One line of a plot: a label, a colour, its points (users, value), and whether it is a dashed
/// reference line rather than a measurement.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// Colours that stay apart in print and for the common colour blindnesses (Okabe–Ito).
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const VERMILION: RGBColor = RGBColor(213, 94, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const GREY: RGBColor = RGBColor(120, 120, 120);
pub const DARK: RGBColor = RGBColor(40, 40, 40);

/// Users on the x axis, logarithmic, from a bit under 1,000 to a bit over 100,000 whatever was run,
/// so plots of a quick run and a full run compare at a glance.
const X_RANGE: std::ops::Range<f64> = 700.0..150_000.0;

/// Draws `lines` on a log-x plot; the y axis is logarithmic when `log_y`.
pub fn plot(path: &Path, title: &str, y_desc: &str, lines: &[Line], log_y: bool) -> Result<(), String> {
    let values: Vec<f64> = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).filter(|v| *v > 0.0).collect();
    if values.is_empty() {
        return Err("nothing measured to plot".to_owned());
    }
    let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let root = SVGBackend::new(path, (860, 500)).into_drawing_area();
    let error = |err: &dyn std::fmt::Display| format!("{}: {err}", path.display());
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, ("sans-serif", 20)).margin(16).x_label_area_size(44).y_label_area_size(72);
    let x_label = |x: &f64| crate::markdown::thousands(*x as u64);
    if log_y {
        let mut chart = builder
            .build_cartesian_2d(X_RANGE.log_scale(), (decade_below(min) * 0.99..decade_above(max) * 1.01).log_scale())
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .x_desc("users")
            .y_desc(y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(|e| error(&e))?;
        for line in lines {
            draw_line(&mut chart, line).map_err(|e| error(&e))?;
        }
        legend(&mut chart).map_err(|e| error(&e))?;
    } else {
        let mut chart = builder.build_cartesian_2d(X_RANGE.log_scale(), 0.0..max * 1.5).map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .x_desc("users")
            .y_desc(y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(|e| error(&e))?;
        for line in lines {
            draw_line(&mut chart, line).map_err(|e| error(&e))?;
        }
        legend(&mut chart).map_err(|e| error(&e))?;
    }
    root.present().map_err(|e| error(&e))?;
    Ok(())
}

type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::combinators::LogCoord<f64>, Y>>;

fn draw_line<Y>(chart: &mut Chart<'_, '_, Y>, line: &Line) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    Y: Ranged<ValueType = f64>,
{
    let color = line.color;
    let style = color.stroke_width(2);
    let anchor = if line.dashed {
        chart.draw_series(DashedLineSeries::new(line.points.clone(), 8, 5, style))?
    } else {
        chart.draw_series(LineSeries::new(line.points.clone(), style).point_size(4))?
    };
    anchor.label(&line.label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2)));
    Ok(())
}

fn legend<'a, 'b: 'a, Y>(chart: &mut Chart<'a, 'b, Y>) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(DARK)
        .background_style(WHITE.mix(0.85))
        .draw()
}

/// The power of ten at or below `v`, and the one at or above it: log axes then start and end on a
/// labelled line.
fn decade_below(v: f64) -> f64 {
    10f64.powf(v.log10().floor())
}

fn decade_above(v: f64) -> f64 {
    10f64.powf(v.log10().ceil())
}

/// 12000 → "12k", 0.25 → "0.25".
fn short(y: f64) -> String {
    if y >= 1000.0 { format!("{}k", crate::markdown::trim(y / 1000.0)) } else { crate::markdown::trim(y) }
}

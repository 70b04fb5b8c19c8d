//! PNG figures with plotters. The font is bundled (DejaVu Sans, assets/fonts), so plots render the
//! same on any machine without system fonts. Files are written atomically.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use otto_ot::Matrix;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Distinct colours for successive frames, from the source colour to the target colour.
const PALETTE: [RGBColor; 7] = [
    SOURCE,
    RGBColor(23, 190, 207),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    TARGET,
];

/// Source points are drawn in this colour, target points in [`TARGET`].
pub const SOURCE: RGBColor = RGBColor(31, 119, 180);
/// Colour of target points.
pub const TARGET: RGBColor = RGBColor(214, 39, 40);
/// Colour of reference points drawn behind others.
pub const MUTED: RGBColor = RGBColor(160, 160, 160);

/// Renders a `width × height` PNG at `path` with `draw`, through a temporary file and a rename.
pub fn save_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let tmp = temporary(path, "png")?;
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root)?;
        root.present()
            .map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Renders an animated `width × height` GIF at `path`, `frames` frames of `delay_ms` each, frame
/// k drawn by `draw(k, area)` on a white background; through a temporary file and a rename.
pub fn save_gif(
    path: &Path,
    size: (u32, u32),
    delay_ms: u32,
    frames: usize,
    mut draw: impl FnMut(usize, &DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let tmp = temporary(path, "gif")?;
    {
        let root = BitMapBackend::gif(&tmp, size, delay_ms)
            .map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?
            .into_drawing_area();
        for k in 0..frames {
            root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
            draw(k, &root)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?;
        }
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Registers the font and creates `path`'s folder; returns the temporary file next to `path`
/// (`.STEM.tmpPID.EXT`) that a figure is drawn into before the rename.
fn temporary(path: &Path, extension: &str) -> Result<std::path::PathBuf> {
    register_font();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    Ok(dir.join(format!(
        ".{}.tmp{}.{extension}",
        stem.unwrap_or_default(),
        std::process::id()
    )))
}

/// Registers the bundled font as "sans-serif" (once per process); every backend needs it.
pub fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font shipped with the crate; failure is impossible
        // short of a corrupted build, and would only lose text, so the result is ignored.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A square-ish range covering the first two coordinates of all `clouds`, with a 5% margin.
pub fn bounds(clouds: &[&Matrix]) -> (Range<f64>, Range<f64>) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for c in clouds {
        for i in 0..c.rows() {
            for k in 0..2 {
                lo[k] = lo[k].min(c.get(i, k));
                hi[k] = hi[k].max(c.get(i, k));
            }
        }
    }
    let pad = |k: usize| 0.05 * (hi[k] - lo[k]).max(1e-9);
    (
        (lo[0] - pad(0))..(hi[0] + pad(0)),
        (lo[1] - pad(1))..(hi[1] + pad(1)),
    )
}

/// One panel: segments `x_i → y_j` with opacity `alpha`, then the two clouds on top.
pub fn coupling_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    x: &Matrix,
    y: &Matrix,
    segments: &[(usize, usize, f64)],
) -> Result<()> {
    let mut chart = chart(area, title, &[x, y])?;
    for &(i, j, alpha) in segments {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x.get(i, 0), x.get(i, 1)), (y.get(j, 0), y.get(j, 1))],
                BLACK.mix(alpha.clamp(0.0, 1.0) * 0.5),
            )))
            .map_err(|e| anyhow!("{e}"))?;
    }
    scatter(&mut chart, x, SOURCE, "source")?;
    scatter(&mut chart, y, TARGET, "target")?;
    legend(&mut chart)
}

/// A captioned 2-D chart with axes covering the first two coordinates of `clouds`.
fn chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    clouds: &[&Matrix],
) -> Result<Chart<'a, 'b>> {
    chart_within(area, title, bounds(clouds))
}

/// A captioned 2-D chart over the given ranges.
fn chart_within<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    (xr, yr): (Range<f64>, Range<f64>),
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(xr, yr)
        .map_err(|e| anyhow!("{e}"))?;
    // About one tick label per 70 pixels across and 35 down, so that narrow panels' labels do
    // not run into each other (plotters' default is ten per axis whatever the size).
    let (width, height) = area.dim_in_pixel();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels((width / 70).max(3) as usize)
        .y_labels((height / 35).max(3) as usize)
        .x_label_formatter(&|v| linear_tick(*v))
        .y_label_formatter(&|v| linear_tick(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(chart)
}

/// A linear axis's tick label: the value rounded to 6 decimals (tick positions are multiples of
/// a step, up to round-off), without a trailing `.0` (`-2`, `0.5`, `2.5`).
fn linear_tick(v: f64) -> String {
    format!("{}", (v * 1e6).round() / 1e6 + 0.0)
}

/// Draws the legend of the labelled series in the upper-left corner.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<()> {
    legend_at(chart, SeriesLabelPosition::UpperLeft, 14)
}

/// Draws the legend of the labelled series of any chart at `position`, in type of size `font`.
fn legend_at<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font: u32,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", font))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws the first two coordinates of `points` as small dots, with a legend entry.
pub fn scatter(chart: &mut Chart, points: &Matrix, colour: RGBColor, label: &str) -> Result<()> {
    chart
        .draw_series(
            (0..points.rows())
                .map(|i| Circle::new((points.get(i, 0), points.get(i, 1)), 2, colour.filled())),
        )
        .map_err(|e| anyhow!("{e}"))?
        .label(label)
        .legend(move |(a, b)| Circle::new((a, b), 4, colour.filled()));
    Ok(())
}

/// One panel with several labelled clouds in the colours of [`PALETTE`].
pub fn interpolation_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    frames: &[(String, Matrix)],
) -> Result<()> {
    let refs: Vec<&Matrix> = frames.iter().map(|f| &f.1).collect();
    let mut chart = chart(area, title, &refs)?;
    for (k, (label, points)) in frames.iter().enumerate() {
        scatter(&mut chart, points, PALETTE[k % PALETTE.len()], label)?;
    }
    legend(&mut chart)
}

/// The ticks of a log axis over [lo, hi] (0 < lo < hi): (labelled, light). Labelled: the powers
/// of ten over three decades or more (beyond six decades every second or third, 10⁰ among them,
/// so that labels do not collide), the 1-2-5 steps over one to three decades, every multiple 1…9
/// under one — a panel always names at least two values (plotters' own choice labelled only "1"
/// on an axis from 0.2 to 3). Light: the multiples 1…9 of every decade, as grid lines.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let decades = (hi / lo).log10();
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (first..=last)
            .filter(|k| k.rem_euclid(every) == 0)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let all = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let labelled = if decades >= 3.0 {
        steps(&[1.0], (decades / 6.0).ceil().max(1.0) as i32)
    } else if decades >= 1.0 {
        steps(&[1.0, 2.0, 5.0], 1)
    } else {
        steps(&all, 1)
    };
    (labelled, steps(&all, 1))
}

/// A log axis over [lo, hi] with the ticks of [`log_ticks`].
fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
    let (labelled, light) = log_ticks(lo, hi);
    (lo..hi)
        .log_scale()
        .with_key_points(labelled)
        .with_light_points(light)
}

/// A log axis's tick label: values from 10⁻³ to 10⁵ in plain decimals with as many places as
/// their leading digit needs (0.002, 0.5, 16, 1000), others as one significant digit and an
/// exponent (1e-6, 2e5).
fn log_tick(v: f64) -> String {
    if (1e-3..1e5).contains(&v) {
        let places = (-v.log10().floor()).max(0.0) as usize;
        format!("{v:.places$}")
    } else {
        format!("{v:.0e}")
    }
}

/// Lines on log-log axes, one per labelled series of (x, y) points with x, y > 0.
pub fn loglog_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|p| p.0 > 0.0 && p.1 > 0.0)
        .collect();
    if all.is_empty() {
        return Ok(());
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        all.iter().map(pick).fold(init, f)
    };
    let (x0, x1) = (
        fold(f64::min, f64::INFINITY, |p| p.0),
        fold(f64::max, 0.0, |p| p.0),
    );
    let (y0, y1) = (
        fold(f64::min, f64::INFINITY, |p| p.1),
        fold(f64::max, 0.0, |p| p.1),
    );
    // The axes' ranges, with a margin around the data (also the legend's unit square).
    let (x_lo, x_hi, y_lo, y_hi) = (x0 * 0.8, x1 * 1.25, y0 * 0.5, y1 * 2.0);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(log_axis(x_lo, x_hi), log_axis(y_lo, y_hi))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| log_tick(*v))
        .y_label_formatter(&|v| log_tick(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, (label, points)) in series.iter().enumerate() {
        let colour = series_colour(k);
        let pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(label.clone())
            .legend(move |(a, b)| {
                PathElement::new(vec![(a, b), (a + 16, b)], colour.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| anyhow!("{e}"))?;
    }
    let log = |v: f64, lo: f64, hi: f64| (v.ln() - lo.ln()) / (hi.ln() - lo.ln());
    let unit: Vec<(f64, f64)> = all
        .iter()
        .map(|&(x, y)| (log(x, x_lo, x_hi), log(y, y_lo, y_hi)))
        .collect();
    legend_at(&mut chart, emptiest_corner(&unit), 14)
}

/// The corner of a plot whose legend-sized box (the outer 40% of the width and 45% of the height)
/// covers the fewest of `points`, given in the unit square (x right, y up); ties go to the upper
/// right, then lower left, upper left, lower right.
fn emptiest_corner(points: &[(f64, f64)]) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerLeft, false, false),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
    ];
    let covered = |&(_, right, upper): &(SeriesLabelPosition, bool, bool)| {
        let inside = |&&(x, y): &&(f64, f64)| {
            let x_in = if right { x > 0.6 } else { x < 0.4 };
            let y_in = if upper { y > 0.55 } else { y < 0.45 };
            x_in && y_in
        };
        points.iter().filter(inside).count()
    };
    let best = corners
        .iter()
        .min_by_key(|c| covered(c))
        .expect("four corners");
    best.0.clone()
}

/// One panel with several labelled clouds (first two coordinates), each in its colour.
pub fn clouds_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    clouds: &[(&str, &Matrix, RGBColor)],
) -> Result<()> {
    let refs: Vec<&Matrix> = clouds.iter().map(|c| c.1).collect();
    clouds_panel_within(area, title, bounds(&refs), clouds)
}

/// [`clouds_panel`] over fixed ranges, for panels or animation frames that share their axes; the
/// legend goes to the corner the clouds leave emptiest.
pub fn clouds_panel_within(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    ranges: (Range<f64>, Range<f64>),
    clouds: &[(&str, &Matrix, RGBColor)],
) -> Result<()> {
    let (xr, yr) = ranges.clone();
    let mut chart = chart_within(area, title, ranges)?;
    for (label, points, colour) in clouds {
        scatter(&mut chart, points, *colour, label)?;
    }
    // The legend goes to the corner the clouds leave emptiest (with shared axes, that differs
    // from panel to panel).
    let unit: Vec<(f64, f64)> = clouds
        .iter()
        .flat_map(|(_, points, _)| (0..points.rows()).map(|i| (points.get(i, 0), points.get(i, 1))))
        .map(|(x, y)| {
            (
                (x - xr.start) / (xr.end - xr.start),
                (y - yr.start) / (yr.end - yr.start),
            )
        })
        .collect();
    legend_at(&mut chart, emptiest_corner(&unit), 14)
}

/// Trajectories as thin lines, with their start (source colour) and end (target colour) points.
pub fn trajectories_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    paths: &[Vec<(f64, f64)>],
) -> Result<()> {
    let all = Matrix::from_rows(
        &paths
            .iter()
            .flatten()
            .map(|&(x, y)| vec![x, y])
            .collect::<Vec<_>>(),
    )?;
    let mut chart = chart(area, title, &[&all])?;
    for p in paths {
        chart
            .draw_series(std::iter::once(PathElement::new(
                p.clone(),
                BLACK.mix(0.25),
            )))
            .map_err(|e| anyhow!("{e}"))?;
    }
    let starts = Matrix::from_rows(
        &paths
            .iter()
            .filter_map(|p| p.first())
            .map(|&(x, y)| vec![x, y])
            .collect::<Vec<_>>(),
    )?;
    let ends = Matrix::from_rows(
        &paths
            .iter()
            .filter_map(|p| p.last())
            .map(|&(x, y)| vec![x, y])
            .collect::<Vec<_>>(),
    )?;
    scatter(&mut chart, &starts, SOURCE, "t = 0")?;
    scatter(&mut chart, &ends, TARGET, "t = 1")?;
    legend(&mut chart)
}

/// Arrows `x → x + scale·v(x)` on a grid, scaled so the longest arrow spans one grid cell.
pub fn quiver_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    points: &Matrix,
    velocity: &Matrix,
) -> Result<()> {
    let mut chart = chart(area, title, &[points])?;
    let n = points.rows();
    let cells = (n as f64).sqrt().max(2.0) - 1.0;
    let (xr, _) = bounds(&[points]);
    let cell = (xr.end - xr.start) / cells;
    let longest = (0..n)
        .map(|i| velocity.get(i, 0).hypot(velocity.get(i, 1)))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let scale = cell / longest;
    for i in 0..n {
        let (x, y) = (points.get(i, 0), points.get(i, 1));
        let (u, v) = (velocity.get(i, 0) * scale, velocity.get(i, 1) * scale);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y), (x + u, y + v)],
                SOURCE,
            )))
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(std::iter::once(Circle::new(
                (x + u, y + v),
                2,
                SOURCE.filled(),
            )))
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

/// A line chart of (step, mean loss since the previous log line).
pub fn loss_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    curve: &[(f64, f64)],
) -> Result<()> {
    lines_panel(
        area,
        title,
        "step",
        "loss",
        &[Curve {
            label: "training loss".into(),
            colour: SOURCE,
            points: curve.to_vec(),
        }],
    )
}

/// A labelled curve of a [`lines_panel`] in its colour.
pub struct Curve {
    pub label: String,
    pub colour: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// The `k`-th colour of the palette used for labelled series: [`PALETTE`], then five colours
/// that are not in it, so that twelve series are told apart (cycled after that).
pub fn series_colour(k: usize) -> RGBColor {
    const MORE: [RGBColor; 5] = [
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(0, 0, 0),
        RGBColor(174, 199, 232),
    ];
    let all = PALETTE.len() + MORE.len();
    match k % all {
        i if i < PALETTE.len() => PALETTE[i],
        i => MORE[i - PALETTE.len()],
    }
}

/// A colour for the fraction `f ∈ [0, 1]` of a time axis, from dark blue to yellow (viridis).
pub fn viridis(f: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = f.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let w = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + w * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Curves on linear axes with a legend in the corner they leave emptiest.
pub fn lines_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<()> {
    let all: Vec<(f64, f64)> = curves
        .iter()
        .flat_map(|c| c.points.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in &all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0.partial_cmp(&x1) != Some(std::cmp::Ordering::Less) {
        return Ok(());
    }
    let pad = 0.05 * (y1 - y0).max(1e-12);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| linear_tick(*v))
        .y_label_formatter(&|v| linear_tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    draw_curves(&mut chart, curves, |p| p.1.is_finite())?;
    let unit: Vec<(f64, f64)> = all
        .iter()
        .map(|&(x, y)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0)))
        .collect();
    legend_at(&mut chart, emptiest_corner(&unit), 15)
}

/// Curves with a logarithmic y axis (points with y ≤ 0 or non-finite are left out) and a linear
/// x axis, legend at `legend`.
pub fn semilogy_panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    curves: &[Curve],
    legend: SeriesLabelPosition,
) -> Result<()> {
    let shown = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite() && p.1 > 0.0;
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in curves.iter().flat_map(|c| &c.points).filter(|p| shown(p)) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0.partial_cmp(&x1) != Some(std::cmp::Ordering::Less) {
        return Ok(());
    }
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, (y0 / 1.5..y1 * 1.5).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| linear_tick(*v))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    draw_curves(&mut chart, curves, shown)?;
    legend_at(&mut chart, legend, 15)
}

/// Draws each curve's points that pass `shown` as a labelled line of width 2 in its colour.
fn draw_curves<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    curves: &[Curve],
    shown: impl Fn(&(f64, f64)) -> bool,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for c in curves {
        let colour = c.colour;
        chart
            .draw_series(LineSeries::new(
                c.points.iter().copied().filter(|p| shown(p)),
                colour.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(c.label.clone())
            .legend(move |(a, b)| {
                PathElement::new(vec![(a, b), (a + 16, b)], colour.stroke_width(2))
            });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        let log: Vec<String> = [16.0, 100.0, 1000.0, 0.001, 0.5, 0.2 * 3.0, 2.5e5, 1e-6]
            .map(log_tick)
            .to_vec();
        assert_eq!(
            log,
            ["16", "100", "1000", "0.001", "0.5", "0.6", "2e5", "1e-6"]
        );
        let linear: Vec<String> = [-2.0, -0.0, 0.5, 0.30000000000000004, 150.0]
            .map(linear_tick)
            .to_vec();
        assert_eq!(linear, ["-2", "0", "0.5", "0.3", "150"]);
    }

    #[test]
    fn log_axes_name_at_least_two_values() {
        // By hand: under a decade every multiple, one to three decades the 1-2-5 steps, wider
        // ranges the powers of ten (thinned beyond six decades); the light lines are the
        // multiples 1…9 in range.
        let labelled =
            |lo, hi| -> Vec<String> { log_ticks(lo, hi).0.into_iter().map(log_tick).collect() };
        assert_eq!(
            labelled(0.25, 0.95),
            ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
        );
        assert_eq!(labelled(0.13, 3.5), ["0.2", "0.5", "1", "2"]);
        assert_eq!(labelled(3.0, 150.0), ["5", "10", "20", "50", "100"]);
        assert_eq!(
            labelled(0.9e-13, 2.0),
            ["1e-12", "1e-9", "1e-6", "0.001", "1"]
        );
        assert_eq!(labelled(0.5, 2e3), ["1", "10", "100", "1000"]);
        let (_, light) = log_ticks(0.13, 3.5);
        assert_eq!(light.len(), 8 + 3, "0.2…0.9 and 1, 2, 3");
    }

    #[test]
    fn the_legend_goes_where_the_points_are_not() {
        let corner = |points: &[(f64, f64)]| format!("{:?}", emptiest_corner(points));
        // Falling curves (an error against NFE) leave the lower left empty.
        let falling = [(0.05, 0.95), (0.5, 0.5), (0.95, 0.6), (0.7, 0.9)];
        assert_eq!(corner(&falling), "LowerLeft");
        // Nothing in the upper right: it is the first choice.
        assert_eq!(corner(&[(0.1, 0.1), (0.5, 0.5)]), "UpperRight");
        // Every corner but the lower right holds a point.
        let three = [(0.9, 0.9), (0.1, 0.1), (0.1, 0.9)];
        assert_eq!(corner(&three), "LowerRight");
    }
}

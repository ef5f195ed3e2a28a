//! Plots a participant sees inline in a notebook: confusion matrices, ROC and
//! precision-recall curves, bar charts, histograms, scatter plots and line
//! charts.
//!
//! Why this module exists: judging a model means *looking* at it, and the
//! notebook kernel (evcxr) shows a value as an image when its type has an
//! `evcxr_display` method. Every function here returns a [`Plot`], which is
//! such a value, so ending a cell with `roc_plot(&fpr, &tpr, auc)?` draws the
//! curve under the cell.
//!
//! Design:
//! - **Plain data in.** The functions take slices, [`Matrix`], [`Vector`] and
//!   [`Labels`], not the metric types, so a plot does not care how its numbers
//!   were computed.
//! - **SVG out, nothing else needed.** Drawing uses plotters' SVG backend into
//!   a `String`: no font files, no native libraries, no temporary files. Text
//!   stays `<text>` for the browser to lay out; its size is only estimated
//!   (plotters' built-in guess, without font metrics), so the layouts leave
//!   room to spare.
//! - **Bad input is an error, not a misleading picture:** empty data, NaN or
//!   infinite values and mismatched lengths give an [`MlError`] that says what
//!   is wrong.
//! - **Text is safe.** Titles, class names, column names and series names are
//!   escaped (`<`, `>`, `&`, quotes) by the SVG backend, so a class called
//!   `<b>` cannot inject markup into the notebook.
//!
//! ```
//! use flywheel_ml::plot::{line_plot, roc_plot};
//!
//! let roc = roc_plot(&[0.0, 0.1, 0.4, 1.0], &[0.0, 0.6, 0.9, 1.0], 0.85)?;
//! assert_eq!(roc.title(), "ROC curve (AUC = 0.850)");
//! assert!(roc.to_svg().starts_with("<svg"));
//!
//! let train = [0.9, 0.5, 0.3, 0.25];
//! let valid = [0.95, 0.6, 0.45, 0.44];
//! let loss = line_plot("Loss", "iteration", "log loss", &[("training", &train), ("validation", &valid)])?;
//! println!("{loss}"); // Plot("Loss", … kB SVG)
//! # Ok::<(), flywheel_ml::MlError>(())
//! ```

use std::error::Error;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::{Labels, Matrix, Vector};
use crate::display::{emit, number};
use crate::error::{MlError, Result};

/// Default width of a plot, in pixels.
pub const WIDTH: u32 = 640;
/// Default height of a plot, in pixels. Bar plots with many bars and
/// confusion matrices with many classes grow taller (and wider) than this so
/// that every label stays readable.
pub const HEIGHT: u32 = 480;

/// The colours of series and classes, in order (matplotlib's "tab10", which
/// stays distinguishable for most colour-blind readers). Class `i` is always
/// drawn in colour `i % 10`.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Colour of reference lines (chance diagonal, baselines).
const REFERENCE: RGBColor = RGBColor(110, 110, 110);
/// Colour of axis and label text.
const INK: RGBColor = RGBColor(34, 34, 34);
/// Light-to-dark stops of the heat-map colour scale (ColorBrewer "Blues").
const HEAT: [(u8, u8, u8); 5] = [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)];

const FONT: &str = "sans-serif";
// Sizes in plotters' units; the SVG font-size is this / 1.24.
const TITLE_SIZE: f64 = 24.0;
const DESC_SIZE: f64 = 18.0;
const TICK_SIZE: f64 = 15.0;
const LEGEND_SIZE: f64 = 15.0;
/// Longest class or feature name drawn on an axis; longer ones end in `…`.
const MAX_LABEL_CHARS: usize = 28;
/// More points than this in a line series are drawn without markers.
const MAX_MARKED_POINTS: usize = 40;
/// Most bins a histogram may have.
const MAX_BINS: usize = 10_000;

/// A rendered plot: an SVG image with a title.
///
/// In a notebook, a cell ending with a `Plot` shows the image
/// ([`Plot::evcxr_display`]); printing it with `{}` gives a one-line summary
/// such as `Plot("ROC curve (AUC = 0.912)", 14.2 kB SVG)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    svg: String,
    title: String,
}

impl Plot {
    /// The SVG document (`<svg …>…</svg>`, no XML declaration), ready to embed
    /// in HTML or write to a `.svg` file.
    pub fn to_svg(&self) -> &str {
        &self.svg
    }

    /// The plot's title, as drawn above it.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Writes the SVG document to `path` (conventionally ending in `.svg`),
    /// replacing any file there.
    ///
    /// # Errors
    /// [`MlError::Write`] when the file cannot be written (missing folder, no
    /// permission, …); the message names the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, &self.svg).map_err(|e| MlError::Write(format!("the plot to {}: {e}", path.display())))
    }

    /// Shows the plot as an image in a notebook (evcxr's display protocol,
    /// MIME type `image/svg+xml`).
    pub fn evcxr_display(&self) {
        emit("image/svg+xml", &self.svg);
    }
}

impl fmt::Display for Plot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plot({:?}, {:.1} kB SVG)", self.title, self.svg.len() as f64 / 1000.0)
    }
}

/// A confusion matrix as a heat map: one square cell per (actual, predicted)
/// pair, darker for larger counts, with the count written in the cell.
///
/// - `counts[i][j]`: how many rows of actual class `i` were predicted as
///   class `j` (rows = actual, top to bottom; columns = predicted, left to
///   right), a `k × k` table for `k` classes.
/// - `classes`: the `k` class names, in index order; they label both axes
///   ("Actual" on the left, "Predicted" below). Names longer than 28
///   characters are shortened with `…`; names too wide for their column are
///   written vertically.
///
/// The image is 640 × 480 pixels, larger when there are so many classes that
/// the cells would be smaller than about 34 pixels.
///
/// # Errors
/// - [`MlError::Empty`] when there are no classes.
/// - [`MlError::Shape`] when `counts` is not `k × k` for `k = classes.len()`.
pub fn confusion_matrix_plot(counts: &[Vec<usize>], classes: &[String]) -> Result<Plot> {
    let k = classes.len();
    if k == 0 {
        return Err(MlError::Empty("confusion_matrix_plot: there are no classes".into()));
    }
    if counts.len() != k {
        return Err(MlError::Shape(format!(
            "confusion_matrix_plot: {k} classes but {} rows of counts (expected a {k} × {k} table)",
            counts.len()
        )));
    }
    if let Some((i, row)) = counts.iter().enumerate().find(|(_, r)| r.len() != k) {
        return Err(MlError::Shape(format!(
            "confusion_matrix_plot: row {i} of the counts has {} values, expected {k} (one per class)",
            row.len()
        )));
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    let names: Vec<String> = classes.iter().map(|c| shorten(c, MAX_LABEL_CHARS)).collect();
    let label_w = names.iter().map(|s| text_width(s, TICK_SIZE)).fold(0.0, f64::max).ceil() as i32;

    // Layout in pixels: cells are square and at least MIN_CELL wide; the grid
    // with its names and axis titles is centred below the title.
    const MIN_CELL: i32 = 34;
    const DESC_H: i32 = 22; // "Actual", "Predicted"
    const MARGIN: i32 = 16;
    let (kk, title_h) = (k as i32, 48);
    let left = DESC_H + 10 + label_w + 8; // "Actual", gap, names, gap
    let bottom_for = |names_h: i32| 8 + names_h + 12 + DESC_H; // gap, names, gap, "Predicted"
    let cell_for = |width: i32, height: i32, bottom: i32| {
        ((width - 2 * MARGIN - left) / kk).min((height - title_h - MARGIN - bottom) / kk)
    };
    let width = (WIDTH as i32).max(2 * MARGIN + left + kk * MIN_CELL);
    // Names go vertical below the grid when they are wider than a cell.
    let vertical = label_w + 8 > cell_for(width, HEIGHT as i32, bottom_for(18)).max(MIN_CELL);
    let names_h = if vertical { label_w } else { 18 };
    let bottom = bottom_for(names_h);
    let height = (HEIGHT as i32).max(title_h + kk * MIN_CELL + bottom + MARGIN);
    let cell = cell_for(width, height, bottom);
    let grid = cell * kk;
    let bx = (width - left - grid) / 2;
    let by = title_h + (height - title_h - MARGIN - grid - bottom) / 2;
    let (x0, y0) = (bx + left, by);

    let title = "Confusion matrix";
    render(title, (width as u32, height as u32), |root| {
        draw_title(root, title, width)?;
        let count_size = |text: &str| {
            let fit = 0.8 * cell as f64 / (0.48 * text.chars().count().max(1) as f64);
            fit.min(0.42 * cell as f64).min(24.0)
        };
        for (i, row) in counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                let t = if max == 0 { 0.0 } else { c as f64 / max as f64 };
                let (cx, cy) = (x0 + j as i32 * cell, y0 + i as i32 * cell);
                root.draw(&Rectangle::new([(cx, cy), (cx + cell, cy + cell)], heat_colour(t).filled()))?;
                root.draw(&Rectangle::new([(cx, cy), (cx + cell, cy + cell)], WHITE.stroke_width(1)))?;
                let text = c.to_string();
                let colour = if t > 0.5 { WHITE } else { INK };
                let style = text_style(count_size(&text), colour).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(text, (cx + cell / 2, cy + cell / 2), style))?;
            }
        }
        // Class names: actual on the left, predicted below.
        let tick = text_style(TICK_SIZE, INK);
        for (i, name) in names.iter().enumerate() {
            let c = i as i32 * cell + cell / 2;
            root.draw(&Text::new(
                name.as_str(),
                (x0 - 8, y0 + c),
                tick.clone().pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            let below = if vertical {
                tick.clone().transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                tick.clone().pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(name.as_str(), (x0 + c, y0 + grid + 8), below))?;
        }
        let desc = text_style(DESC_SIZE, INK);
        root.draw(&Text::new(
            "Predicted",
            (x0 + grid / 2, y0 + grid + 8 + names_h + 12),
            desc.clone().pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        root.draw(&Text::new(
            "Actual",
            (bx, y0 + grid / 2),
            desc.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        Ok(())
    })
}

/// A ROC curve: true positive rate against false positive rate, with the
/// dashed diagonal of a classifier that guesses, and the area under the
/// curve in the title (3 decimals). Both axes run from 0 to 1.
///
/// - `fpr`, `tpr`: the curve's points, one per threshold, in the order to
///   join them (usually from (0, 0) to (1, 1)); same length, values in 0..=1.
/// - `auc`: the area under the curve, in 0..=1.
///
/// # Errors
/// - [`MlError::Empty`] when there are no points.
/// - [`MlError::Shape`] when `fpr` and `tpr` differ in length.
/// - [`MlError::NonFinite`] for a NaN or infinite value (its position is the
///   row; `auc` is reported as row 0 of column `auc`).
/// - [`MlError::InvalidData`] for a value outside 0..=1.
pub fn roc_plot(fpr: &[f64], tpr: &[f64], auc: f64) -> Result<Plot> {
    check_pair("roc_plot", ("fpr", fpr), ("tpr", tpr))?;
    check_unit("roc_plot", "fpr", fpr)?;
    check_unit("roc_plot", "tpr", tpr)?;
    check_unit("roc_plot", "auc", &[auc])?;
    let title = format!("ROC curve (AUC = {auc:.3})");
    let curve: Vec<(f64, f64)> = fpr.iter().copied().zip(tpr.iter().copied()).collect();
    let chance = [(0.0, 0.0), (1.0, 1.0)];
    let entries = [format!("model (AUC = {auc:.3})"), "chance (AUC = 0.500)".to_owned()];
    rate_plot(
        &title,
        ("False positive rate", "True positive rate"),
        &curve,
        &chance,
        &entries,
        &[Corner::LowerRight, Corner::UpperLeft, Corner::LowerLeft, Corner::UpperRight],
    )
}

/// A precision-recall curve: precision against recall, with a dashed
/// horizontal baseline at the positive rate (the precision of a classifier
/// that guesses) and the average precision in the title (3 decimals). Both
/// axes run from 0 to 1.
///
/// - `recall`, `precision`: the curve's points, one per threshold, in the
///   order to join them; same length, values in 0..=1.
/// - `average_precision`: the average precision (area under the curve), in 0..=1.
/// - `positive_rate`: the share of positive rows in the data, in 0..=1.
///
/// # Errors
/// - [`MlError::Empty`] when there are no points.
/// - [`MlError::Shape`] when `recall` and `precision` differ in length.
/// - [`MlError::NonFinite`] for a NaN or infinite value.
/// - [`MlError::InvalidData`] for a value outside 0..=1.
pub fn pr_plot(recall: &[f64], precision: &[f64], average_precision: f64, positive_rate: f64) -> Result<Plot> {
    check_pair("pr_plot", ("recall", recall), ("precision", precision))?;
    check_unit("pr_plot", "recall", recall)?;
    check_unit("pr_plot", "precision", precision)?;
    check_unit("pr_plot", "average_precision", &[average_precision])?;
    check_unit("pr_plot", "positive_rate", &[positive_rate])?;
    let title = format!("Precision-recall curve (AP = {average_precision:.3})");
    let curve: Vec<(f64, f64)> = recall.iter().copied().zip(precision.iter().copied()).collect();
    let baseline = [(0.0, positive_rate), (1.0, positive_rate)];
    let entries =
        [format!("model (AP = {average_precision:.3})"), format!("chance (positive rate {positive_rate:.3})")];
    rate_plot(
        &title,
        ("Recall", "Precision"),
        &curve,
        &baseline,
        &entries,
        &[Corner::LowerLeft, Corner::UpperRight, Corner::LowerRight, Corner::UpperLeft],
    )
}

/// A horizontal bar chart, bars sorted from the largest value (top) to the
/// smallest (bottom), each labelled with its name on the axis and its value
/// at the bar's end: feature importances, coefficients, per-class scores.
/// Negative values point left from zero, in a second colour.
///
/// - `title`: drawn above the chart.
/// - `names`, `values`: one bar per name; same length. Names longer than 28
///   characters are shortened with `…`.
///
/// The image is 640 pixels wide and 480 tall, taller when there are more
/// than about 15 bars (24 pixels per bar).
///
/// # Errors
/// - [`MlError::Empty`] when there are no bars.
/// - [`MlError::Shape`] when `names` and `values` differ in length.
/// - [`MlError::NonFinite`] for a NaN or infinite value.
pub fn bar_plot(title: &str, names: &[String], values: &[f64]) -> Result<Plot> {
    if names.len() != values.len() {
        return Err(MlError::Shape(format!("bar_plot: {} names but {} values", names.len(), values.len())));
    }
    if values.is_empty() {
        return Err(MlError::Empty("bar_plot: there are no bars (names and values are empty)".into()));
    }
    check_finite("bar_plot", "values", values)?;
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    // Bar `k` from the top is centred at y = n - k - 0.5.
    let labels: Vec<String> = order.iter().map(|&i| shorten(&names[i], MAX_LABEL_CHARS)).collect();
    let centre = |k: usize| (n - k) as f64 - 0.5;
    let label_w = labels.iter().map(|s| text_width(s, TICK_SIZE)).fold(0.0, f64::max).ceil() as u32;

    let lo = values.iter().copied().fold(0.0, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    // Room for the value written at the end of each bar.
    let x_range =
        (if lo < 0.0 { lo - 0.16 * span } else { 0.0 })..(if hi > 0.0 || lo == hi { hi + 0.16 * span } else { 0.0 });
    let height = HEIGHT.max(110 + 24 * n as u32);

    render(title, (WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_SIZE, INK))
            .margin(14)
            .margin_right(28)
            .x_label_area_size(34)
            .y_label_area_size(label_w + 18)
            .build_cartesian_2d(x_range.clone(), 0.0..n as f64)?;
        house_style(&mut chart.configure_mesh(), 0.1)
            .disable_y_mesh()
            .x_labels(8)
            .y_labels(0)
            .x_label_formatter(&|v| tick(*v, &x_range))
            .draw()?;
        chart.draw_series(order.iter().enumerate().map(|(k, &i)| {
            let colour = if values[i] < 0.0 { PALETTE[1] } else { PALETTE[0] };
            Rectangle::new([(0.0, centre(k) - 0.36), (values[i], centre(k) + 0.36)], colour.filled())
        }))?;
        if lo < 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (0.0, n as f64)], INK.mix(0.6))))?;
        }
        // Names on the axis (plotters cannot place labels at chosen f64 points).
        let x_start = chart.x_range().start;
        for (k, &i) in order.iter().enumerate() {
            let (ax, ay) = chart.backend_coord(&(x_start, centre(k)));
            let style = text_style(TICK_SIZE, INK).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(labels[k].as_str(), (ax - 8, ay), style))?;
            let (px, py) = chart.backend_coord(&(values[i], centre(k)));
            let (dx, h) = if values[i] < 0.0 { (-5, HPos::Right) } else { (5, HPos::Left) };
            let style = text_style(TICK_SIZE, INK).pos(Pos::new(h, VPos::Center));
            root.draw(&Text::new(tick(values[i], &(0.0..0.0)), (px + dx, py), style))?;
        }
        Ok(())
    })
}

/// A histogram of `values` in `bins` equal-width bins spanning their range
/// (the last bin includes the maximum). When every value is the same, the
/// range is that value ± 0.5.
///
/// - `title`: drawn above the chart.
/// - `values`: the sample; at least one value.
/// - `bins`: the number of bins, 1 to 10 000 (20 to 50 suit most samples).
///
/// # Errors
/// - [`MlError::Empty`] when `values` is empty.
/// - [`MlError::InvalidParams`] when `bins` is 0 or above 10 000.
/// - [`MlError::NonFinite`] for a NaN or infinite value.
/// - [`MlError::InvalidData`] when the range of the values overflows `f64`.
pub fn histogram(title: &str, values: &Vector, bins: usize) -> Result<Plot> {
    if !(1..=MAX_BINS).contains(&bins) {
        return Err(MlError::InvalidParams(format!("histogram: bins must be between 1 and {MAX_BINS}, got {bins}")));
    }
    let values = values.as_slice();
    if values.is_empty() {
        return Err(MlError::Empty("histogram: there are no values".into()));
    }
    check_finite("histogram", "values", values)?;
    let (mut lo, mut hi) = min_max(values);
    if lo == hi {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let width = (hi - lo) / bins as f64;
    if !width.is_finite() || width <= 0.0 {
        return Err(MlError::InvalidData(format!("histogram: cannot bin values from {lo:e} to {hi:e}")));
    }
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1) as f64 * 1.08;

    render(title, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_SIZE, INK))
            .margin(14)
            .margin_right(28)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(lo..hi, 0.0..top)?;
        house_style(&mut chart.configure_mesh(), 0.1)
            .disable_x_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|v| tick(*v, &(lo..hi)))
            .y_label_formatter(&|v| tick(*v, &(0.0..top)))
            .x_desc("value")
            .y_desc("count")
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(b, &c)| {
            let x = lo + b as f64 * width;
            Rectangle::new([(x, 0.0), (x + width, c as f64)], PALETTE[0].filled())
        }))?;
        // Thin white gaps between bars (separate outlines keep the fills countable).
        if bins <= 200 {
            chart.draw_series(counts.iter().enumerate().filter(|&(_, &c)| c > 0).map(|(b, &c)| {
                let x = lo + b as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, c as f64)], WHITE.stroke_width(1))
            }))?;
        }
        Ok(())
    })
}

/// A scatter plot of the first two columns of `points` (x = column 0,
/// y = column 1, each axis titled with its column's name), one dot per row.
/// With `labels`, each class has its own colour (class `i` in palette colour
/// `i`, repeating after 10) and a legend names the classes.
///
/// Every point is an SVG element: past some 20 000 rows the image gets heavy
/// for a notebook, so plot a sample ([`Matrix::select_rows`]).
///
/// # Errors
/// - [`MlError::Empty`] when `points` has no rows.
/// - [`MlError::Shape`] when `points` has fewer than 2 columns, or `labels`
///   has a different length than `points` has rows.
/// - [`MlError::NonFinite`] for a NaN or infinite value in the first two
///   columns (naming its row and column).
pub fn scatter(title: &str, points: &Matrix, labels: Option<&Labels>) -> Result<Plot> {
    if points.ncols() < 2 {
        return Err(MlError::Shape(format!("scatter: needs 2 columns (x and y), the matrix has {}", points.ncols())));
    }
    if points.nrows() == 0 {
        return Err(MlError::Empty("scatter: the matrix has no rows".into()));
    }
    if let Some(l) = labels.filter(|l| l.len() != points.nrows()) {
        return Err(MlError::Shape(format!("scatter: {} rows of points but {} labels", points.nrows(), l.len())));
    }
    let view = points.view();
    let xy: Vec<(f64, f64)> = view.outer_iter().map(|r| (r[0], r[1])).collect();
    for (i, &(x, y)) in xy.iter().enumerate() {
        if let Some(j) = [x, y].iter().position(|v| !v.is_finite()) {
            return Err(MlError::NonFinite { row: i, column: format!("`{}`", points.columns()[j]) });
        }
    }
    let xs: Vec<f64> = xy.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = xy.iter().map(|p| p.1).collect();
    let x_range = padded(min_max(&xs));
    let y_range = padded(min_max(&ys));
    let (x_name, y_name) = (points.columns()[0].as_str(), points.columns()[1].as_str());

    render(title, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_SIZE, INK))
            .margin(14)
            .margin_right(28)
            .x_label_area_size(52)
            .y_label_area_size(84)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        house_style(&mut chart.configure_mesh(), 0.08)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|v| tick(*v, &x_range))
            .y_label_formatter(&|v| tick(*v, &y_range))
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()?;
        let dot = |p: (f64, f64), colour: RGBColor| Circle::new(p, 3, colour.mix(0.75).filled());
        match labels {
            None => {
                chart.draw_series(xy.iter().map(|&p| dot(p, PALETTE[0])))?;
            }
            Some(labels) => {
                for (c, name) in labels.classes().iter().enumerate() {
                    let colour = PALETTE[c % PALETTE.len()];
                    let class_points = labels.ids().iter().zip(&xy).filter(|&(&id, _)| id == c);
                    chart
                        .draw_series(class_points.map(|(_, &p)| dot(p, colour)))?
                        .label(name.as_str())
                        .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
                }
                let marks: Vec<(i32, i32)> = xy.iter().map(|p| chart.backend_coord(p)).collect();
                let names: Vec<&str> = labels.classes().iter().map(String::as_str).collect();
                let corner = legend_corner(chart.plotting_area().get_pixel_range(), &names, &marks, &Corner::ALL);
                draw_legend(&mut chart, corner)?;
            }
        }
        Ok(())
    })
}

/// A line chart of one or more series against their index (x = 0, 1, 2, …):
/// training and validation loss per iteration, a metric per epoch. Each
/// series has its own colour and an entry in the legend; series may differ
/// in length. Short series (up to 40 points) also get a dot per point.
///
/// - `title`, `x_label`, `y_label`: drawn above the chart and along the axes.
/// - `series`: `(name, values)` pairs.
///
/// # Errors
/// - [`MlError::Empty`] when there are no series or a series has no values.
/// - [`MlError::NonFinite`] for a NaN or infinite value (the row is its
///   index, the column the series' name).
pub fn line_plot(title: &str, x_label: &str, y_label: &str, series: &[(&str, &[f64])]) -> Result<Plot> {
    check_series("line_plot", series.iter().map(|(name, values)| (*name, values.len())))?;
    for (name, values) in series {
        check_finite("line_plot", name, values)?;
    }
    #[allow(clippy::cast_precision_loss)]
    let points: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, values)| (*name, values.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect()))
        .collect();
    let longest = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    #[allow(clippy::cast_precision_loss)]
    let x_range = 0.0..(longest.saturating_sub(1)).max(1) as f64;
    draw_lines(title, (x_label, y_label), (x_range, true), &points)
}

/// A line chart of one or more series of `(x, y)` points, x increasing:
/// a quantity over time (requests per second per minute, latency
/// percentiles), where [`line_plot`]'s x = 0, 1, 2, … would not say when.
/// Each series has its own colour and an entry in the legend; series may
/// cover different x. Short series (up to 40 points) also get a dot per
/// point; a gap in x is drawn as a straight line between its ends.
///
/// - `title`, `x_label`, `y_label`: drawn above the chart and along the axes.
/// - `series`: `(name, points)` pairs, each sorted by x.
///
/// # Errors
/// - [`MlError::Empty`] when there are no series or a series has no points.
/// - [`MlError::NonFinite`] for a NaN or infinite x or y (the row is the
///   point's index, the column the series' name).
/// - [`MlError::InvalidData`] when a series' x decreases.
pub fn xy_plot(title: &str, x_label: &str, y_label: &str, series: &[(&str, &[(f64, f64)])]) -> Result<Plot> {
    check_series("xy_plot", series.iter().map(|(name, points)| (*name, points.len())))?;
    for (name, points) in series {
        let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
        check_finite("xy_plot", name, &xs)?;
        check_finite("xy_plot", name, &ys)?;
        if let Some(i) = xs.windows(2).position(|w| w[1] < w[0]) {
            return Err(MlError::InvalidData(format!(
                "xy_plot: series `{name}` goes back in x at point {}: sort its points by x",
                i + 1
            )));
        }
    }
    let xs: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)).collect();
    let (lo, hi) = min_max(&xs);
    let x_range = if hi > lo { lo..hi } else { padded((lo, hi)) };
    let points: Vec<(&str, Vec<(f64, f64)>)> = series.iter().map(|(name, p)| (*name, p.to_vec())).collect();
    draw_lines(title, (x_label, y_label), (x_range, false), &points)
}

/// [`MlError::Empty`] unless there are series and each has values.
fn check_series<'a>(function: &str, mut lengths: impl ExactSizeIterator<Item = (&'a str, usize)>) -> Result<()> {
    if lengths.len() == 0 {
        return Err(MlError::Empty(format!("{function}: there are no series")));
    }
    match lengths.find(|(_, n)| *n == 0) {
        Some((name, _)) => Err(MlError::Empty(format!("{function}: series `{name}` has no values"))),
        None => Ok(()),
    }
}

/// The lines of [`line_plot`] and [`xy_plot`], checked points in; with
/// `whole_x`, x ticks are labelled at whole numbers only (iterations, epochs).
fn draw_lines(
    title: &str,
    (x_label, y_label): (&str, &str),
    (x_range, whole_x): (Range<f64>, bool),
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<Plot> {
    let all: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)).collect();
    let y_range = padded(min_max(&all));
    render(title, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_SIZE, INK))
            .margin(14)
            .margin_right(28)
            .x_label_area_size(52)
            .y_label_area_size(84)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        house_style(&mut chart.configure_mesh(), 0.08)
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|v| if whole_x && v.fract() != 0.0 { String::new() } else { tick(*v, &x_range) })
            .y_label_formatter(&|v| tick(*v, &y_range))
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()?;
        let mut marks = Vec::new();
        for (s, (name, line)) in series.iter().enumerate() {
            let colour = PALETTE[s % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(line.iter().copied(), colour.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
            if line.len() <= MAX_MARKED_POINTS {
                chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            }
            let pixels: Vec<(i32, i32)> = line.iter().map(|p| chart.backend_coord(p)).collect();
            marks.extend(densify(&pixels));
        }
        let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
        let corner = legend_corner(chart.plotting_area().get_pixel_range(), &names, &marks, &Corner::ALL);
        draw_legend(&mut chart, corner)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Shared drawing

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = std::result::Result<(), Box<dyn Error>>;

/// Draws onto a white `size` canvas and returns the SVG.
fn render(title: &str, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> Result<Plot> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
            .map_err(|e| MlError::InvalidData(format!("cannot draw the plot `{title}`: {e}")))?;
    }
    Ok(Plot { svg, title: title.to_owned() })
}

/// The two curves of a ROC or precision-recall plot on the unit square.
fn rate_plot(
    title: &str,
    (x_desc, y_desc): (&str, &str),
    curve: &[(f64, f64)],
    reference: &[(f64, f64)],
    entries: &[String; 2],
    corners: &[Corner],
) -> Result<Plot> {
    render(title, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_SIZE, INK))
            .margin(14)
            .margin_right(28)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        house_style(&mut chart.configure_mesh(), 0.08)
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| tick(*v, &(0.0..1.0)))
            .y_label_formatter(&|v| tick(*v, &(0.0..1.0)))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        let colour = PALETTE[0];
        // A light fill under the curve shows the area being measured.
        if curve.len() > 1 {
            let mut area = curve.to_vec();
            area.push((curve[curve.len() - 1].0, 0.0));
            area.push((curve[0].0, 0.0));
            chart.draw_series(std::iter::once(Polygon::new(area, colour.mix(0.12).filled())))?;
        }
        chart
            .draw_series(LineSeries::new(curve.iter().copied(), colour.stroke_width(2)))?
            .label(entries[0].as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(reference.iter().copied(), 6, 5, REFERENCE.stroke_width(1)))?
            .label(entries[1].as_str())
            .legend(|(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (7, 0)], REFERENCE.stroke_width(1))
                    + PathElement::new(vec![(12, 0), (19, 0)], REFERENCE.stroke_width(1))
            });
        if curve.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(curve[0], 4, colour.filled())))?;
        }
        let pixels: Vec<(i32, i32)> = curve.iter().map(|p| chart.backend_coord(p)).collect();
        let mut marks = densify(&pixels);
        let reference: Vec<(i32, i32)> = reference.iter().map(|p| chart.backend_coord(p)).collect();
        marks.extend(densify(&reference));
        let names: Vec<&str> = entries.iter().map(String::as_str).collect();
        let corner = legend_corner(chart.plotting_area().get_pixel_range(), &names, &marks, corners);
        draw_legend(&mut chart, corner)?;
        Ok(())
    })
}

fn draw_title(root: &Area<'_>, title: &str, width: i32) -> Drawn {
    let style = text_style(TITLE_SIZE, INK).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title, (width / 2, 12), style))?;
    Ok(())
}

fn draw_legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>, corner: Corner) -> Drawn
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(corner.position())
        .label_font(text_style(LEGEND_SIZE, INK))
        .background_style(WHITE.mix(0.88))
        .border_style(BLACK.mix(0.25))
        .draw()?;
    Ok(())
}

/// The grid, axes and labels every chart shares: a faint grid of this
/// opacity, no minor lines, grey axes, tick and axis labels in the house font.
fn house_style<'m, 'a, 'b, X, Y, XT, YT>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>,
    grid_opacity: f64,
) -> &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>
where
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    mesh.bold_line_style(BLACK.mix(grid_opacity))
        .light_line_style(TRANSPARENT)
        .axis_style(INK.mix(0.6))
        .label_style(text_style(TICK_SIZE, INK))
        .axis_desc_style(text_style(DESC_SIZE, INK))
}

fn text_style(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour)
}

/// Approximate width in pixels of `text` drawn at plotters size `size`
/// (a generous average glyph width; the SVG font size is `size / 1.24`).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * 0.5 * size
}

/// A short axis label for `v` on an axis spanning `axis`: up to 4 decimals,
/// scientific notation for very large or small magnitudes, and `0` for
/// rounding noise next to zero.
fn tick(v: f64, axis: &Range<f64>) -> String {
    let a = v.abs();
    if a <= (axis.end - axis.start).abs() * 1e-9 {
        return "0".into();
    }
    if (1e-3..1e6).contains(&a) {
        return number(v);
    }
    let s = format!("{v:.3e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    format!("{}e{exponent}", mantissa.trim_end_matches('0').trim_end_matches('.'))
}

/// `s`, cut to `max` characters with a trailing `…` when longer.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The heat-map colour for `t` in 0..=1: near-white at 0, dark blue at 1.
fn heat_colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (HEAT.len() - 1) as f64;
    let i = (t.floor() as usize).min(HEAT.len() - 2);
    let f = t - i as f64;
    let (a, b) = (HEAT[i], HEAT[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A corner of the plotting area where a legend can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corner {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

impl Corner {
    const ALL: [Corner; 4] = [Corner::UpperRight, Corner::UpperLeft, Corner::LowerRight, Corner::LowerLeft];

    fn position(self) -> SeriesLabelPosition {
        match self {
            Corner::UpperRight => SeriesLabelPosition::UpperRight,
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        }
    }
}

/// The corner (of `order`, earlier ones winning ties) where a legend with
/// entries `names` would cover the fewest `marks` (pixel positions of the
/// data), given the plotting area's pixel ranges.
fn legend_corner(area: (Range<i32>, Range<i32>), names: &[&str], marks: &[(i32, i32)], order: &[Corner]) -> Corner {
    // Mirrors plotters' legend box: text + 30 px of symbol + 10 px margins,
    // lines 1.25 font sizes apart, 5 px from the area's edge; plus slack.
    let longest = names.iter().map(|s| text_width(s, LEGEND_SIZE)).fold(0.0, f64::max);
    let w = (longest + 50.0 + 8.0) as i32;
    let h = (names.len() as f64 * LEGEND_SIZE * 1.25 + 20.0 + 8.0) as i32;
    let (xs, ys) = area;
    let covered = |c: Corner| {
        let left = matches!(c, Corner::UpperLeft | Corner::LowerLeft);
        let upper = matches!(c, Corner::UpperLeft | Corner::UpperRight);
        let bx = if left { xs.start..xs.start + w } else { xs.end - w..xs.end };
        let by = if upper { ys.start..ys.start + h } else { ys.end - h..ys.end };
        marks.iter().filter(|(x, y)| bx.contains(x) && by.contains(y)).count()
    };
    order.iter().copied().min_by_key(|&c| covered(c)).unwrap_or(Corner::UpperRight)
}

/// The points of a polyline, with extra points every few pixels along each
/// segment, so that counting points in a box also counts lines crossing it.
fn densify(line: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = line.first().copied().into_iter().collect();
    for w in line.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) / 4).clamp(1, 400);
        for s in 1..=steps {
            let f = s as f64 / steps as f64;
            out.push((x0 + ((x1 - x0) as f64 * f).round() as i32, y0 + ((y1 - y0) as f64 * f).round() as i32));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Input checks

fn check_finite(function: &str, what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(MlError::NonFinite { row: i, column: format!("`{what}` (in {function})") }),
        None => Ok(()),
    }
}

/// Finite values within 0..=1 (rates, areas).
fn check_unit(function: &str, what: &str, values: &[f64]) -> Result<()> {
    check_finite(function, what, values)?;
    match values.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
        Some((i, v)) => {
            let at = if values.len() == 1 { String::new() } else { format!(" (value {i})") };
            Err(MlError::InvalidData(format!("{function}: {what} must lie between 0 and 1, got {v}{at}")))
        }
        None => Ok(()),
    }
}

/// Two non-empty slices of equal length (the x and y of a curve).
fn check_pair(function: &str, (a, xs): (&str, &[f64]), (b, ys): (&str, &[f64])) -> Result<()> {
    if xs.len() != ys.len() {
        return Err(MlError::Shape(format!("{function}: {} {a} values but {} {b} values", xs.len(), ys.len())));
    }
    if xs.is_empty() {
        return Err(MlError::Empty(format!("{function}: there are no points ({a} and {b} are empty)")));
    }
    Ok(())
}

/// Smallest and largest of finite, non-empty `values`.
fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// An axis range around `lo..=hi` with 5 % room on each side (± 0.5, or
/// ± 5 % of the value, when the range is a single value).
fn padded((lo, hi): (f64, f64)) -> Range<f64> {
    if hi > lo {
        let pad = 0.05 * (hi - lo);
        lo - pad..hi + pad
    } else {
        let pad = (0.05 * lo.abs()).max(0.5);
        lo - pad..hi + pad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_colours_darken_with_the_count() {
        let lum = |c: RGBColor| 0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64;
        let steps: Vec<f64> = (0..=10).map(|i| lum(heat_colour(i as f64 / 10.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] < w[0]), "{steps:?}");
        assert_eq!(heat_colour(0.0), RGBColor(247, 251, 255));
        assert_eq!(heat_colour(1.0), RGBColor(8, 48, 107));
    }

    #[test]
    fn legends_avoid_the_data() {
        let area = (0..400, 0..300);
        // Points crowd the upper right: the legend goes elsewhere.
        let marks: Vec<(i32, i32)> = (300..400).flat_map(|x| (0..60).map(move |y| (x, y))).collect();
        assert_ne!(legend_corner(area.clone(), &["a", "b"], &marks, &Corner::ALL), Corner::UpperRight);
        assert_eq!(legend_corner(area, &["a"], &[], &[Corner::LowerLeft, Corner::UpperRight]), Corner::LowerLeft);
    }

    #[test]
    fn densified_lines_keep_their_ends_and_fill_gaps() {
        let d = densify(&[(0, 0), (40, 0)]);
        assert_eq!(d.first(), Some(&(0, 0)));
        assert_eq!(d.last(), Some(&(40, 0)));
        assert!(d.windows(2).all(|w| (w[1].0 - w[0].0).abs() <= 4));
    }

    #[test]
    fn ticks_are_short() {
        let unit = 0.0..1.0;
        assert_eq!(tick(0.2, &unit), "0.2");
        assert_eq!(tick(5.551115123125783e-17, &(-0.3..0.3)), "0");
        assert_eq!(tick(2_500_000.0, &(0.0..3e6)), "2.5e6");
        assert_eq!(tick(-0.000125, &(-0.001..0.0)), "-1.25e-4");
        assert_eq!(tick(1e-12, &(0.0..1e-11)), "1e-12");
        assert_eq!(tick(123456.0, &(0.0..2e5)), "123456");
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abcd", 4), "abcd");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded((2.0, 2.0)), 1.5..2.5);
        assert_eq!(padded((0.0, 10.0)), -0.5..10.5);
        assert_eq!(padded((100.0, 100.0)), 95.0..105.0);
    }
}

//! The plots: well-formed SVG with the expected marks, errors on bad input,
//! user text escaped. With `FLYWHEEL_PLOT_DIR` set, every plot is also saved
//! there for looking at.

use flywheel_ml::plot::{
    Plot, bar_plot, confusion_matrix_plot, histogram, line_plot, pr_plot, roc_plot, scatter, xy_plot,
};
use flywheel_ml::{Labels, Matrix, MlError, Vector};

/// Checks the SVG is a balanced tree of tags with quoted attributes and
/// well-formed entities, rooted at one `<svg>`, then saves it when asked.
fn check(plot: &Plot, file: &str) {
    let svg = plot.to_svg();
    assert!(svg.starts_with("<svg"), "does not start with <svg: {}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"), "does not end with </svg>");
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = open + rest[open..].find('>').expect("unclosed tag");
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched closing tag");
        } else {
            if stack.is_empty() {
                roots += 1;
            }
            let name = tag.split_whitespace().next().unwrap_or("").trim_end_matches('/');
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()), "bad tag name in <{tag}>");
            check_text(tag);
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    assert_eq!(roots, 1, "more than one root element");
    assert!(rest.trim().is_empty());
    if let Ok(dir) = std::env::var("FLYWHEEL_PLOT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        plot.save(format!("{dir}/{file}.svg")).unwrap();
    }
}

/// Every `&` starts an entity XML knows.
fn check_text(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text.len().min(i + 8)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"].iter().any(|e| entity.starts_with(e)),
            "bare & in {text}"
        );
    }
}

/// The contents of the `<text>` elements, as written (escaped).
fn texts(svg: &str) -> Vec<String> {
    elements(svg, "text").into_iter().map(|(_, body)| body.trim().to_owned()).collect()
}

/// `(attributes, content)` of each `<name …>content</name>` element.
fn elements<'a>(svg: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let (open, close) = (format!("<{name} "), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find(&open) {
        let end_tag = i + rest[i..].find('>').unwrap();
        let attrs = &rest[i + open.len()..end_tag];
        if attrs.ends_with('/') {
            out.push((attrs, ""));
            rest = &rest[end_tag + 1..];
        } else {
            let body_end = end_tag + rest[end_tag..].find(&close).unwrap();
            out.push((attrs, &rest[end_tag + 1..body_end]));
            rest = &rest[body_end..];
        }
    }
    out
}

/// The value of attribute `name` in `attrs`.
fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = format!(" {attrs}").find(&key)? + key.len() - 1;
    let end = start + attrs[start..].find('"')?;
    Some(&attrs[start..end])
}

/// Elements `name` filled with `colour` (`#RRGGBB`, any case).
fn filled_with(svg: &str, name: &str, colour: &str) -> usize {
    elements(svg, name).iter().filter(|(a, _)| attr(a, "fill").is_some_and(|f| f.eq_ignore_ascii_case(colour))).count()
}

const BLUE: &str = "#1F77B4";
const ORANGE: &str = "#FF7F0E";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn confusion_matrices_write_every_count_in_a_cell() {
    let classes = strings(&["cat", "dog", "bird"]);
    let counts = vec![vec![50, 3, 11], vec![4, 42, 6], vec![7, 8, 39]];
    let plot = confusion_matrix_plot(&counts, &classes).unwrap();
    check(&plot, "confusion_matrix");
    let svg = plot.to_svg();
    let t = texts(svg);
    for c in counts.iter().flatten() {
        assert_eq!(t.iter().filter(|s| **s == c.to_string()).count(), 1, "count {c} in {t:?}");
    }
    for name in &classes {
        assert_eq!(t.iter().filter(|s| *s == name).count(), 2, "{name} on both axes: {t:?}");
    }
    assert!(t.iter().any(|s| s == "Predicted") && t.iter().any(|s| s == "Actual"));
    assert_eq!(plot.title(), "Confusion matrix");
    assert!(t.iter().any(|s| s == "Confusion matrix"));
    // Background + 9 filled cells + 9 cell outlines.
    assert_eq!(elements(svg, "rect").len(), 19);
    // The largest count has the darkest cell, in white text.
    let darkest = elements(svg, "rect").into_iter().filter(|(a, _)| attr(a, "fill") == Some("#08306B")).count();
    assert_eq!(darkest, 1);
    let fifty = elements(svg, "text").into_iter().find(|(_, b)| b.trim() == "50").unwrap();
    assert_eq!(attr(fifty.0, "fill"), Some("#FFFFFF"));
}

#[test]
fn confusion_matrices_with_many_long_classes_grow_and_turn_labels() {
    let classes: Vec<String> = (0..12).map(|i| format!("a rather long class {i}")).collect();
    let counts: Vec<Vec<usize>> =
        (0..12).map(|i| (0..12).map(|j| if i == j { 900 } else { i + j }).collect()).collect();
    let plot = confusion_matrix_plot(&counts, &classes).unwrap();
    check(&plot, "confusion_matrix_12");
    let rotated = elements(plot.to_svg(), "text").into_iter().filter(|(a, _)| a.contains("rotate(270")).count();
    assert_eq!(rotated, 12 + 1, "predicted names and \"Actual\" are vertical");
}

#[test]
fn confusion_matrices_reject_bad_shapes() {
    let classes = strings(&["a", "b"]);
    assert!(matches!(confusion_matrix_plot(&[], &[]), Err(MlError::Empty(_))));
    assert!(matches!(confusion_matrix_plot(&[vec![1, 2]], &classes), Err(MlError::Shape(_))));
    let e = confusion_matrix_plot(&[vec![1, 2], vec![3]], &classes).unwrap_err();
    assert!(matches!(&e, MlError::Shape(m) if m.contains("row 1")), "{e}");
    // All zero is drawable.
    assert!(confusion_matrix_plot(&[vec![0, 0], vec![0, 0]], &classes).is_ok());
}

/// The `points` attribute of the polylines drawn in `colour`, as point counts.
fn polylines_in(svg: &str, colour: &str) -> Vec<usize> {
    elements(svg, "polyline")
        .into_iter()
        .filter(|(a, _)| attr(a, "stroke").is_some_and(|s| s.eq_ignore_ascii_case(colour)))
        .map(|(a, _)| attr(a, "points").unwrap().split_whitespace().count())
        .collect()
}

#[test]
fn roc_plots_show_the_curve_the_diagonal_and_the_auc() {
    let fpr = [0.0, 0.0, 0.1, 0.25, 0.5, 1.0];
    let tpr = [0.0, 0.4, 0.7, 0.85, 0.95, 1.0];
    let plot = roc_plot(&fpr, &tpr, 0.87654).unwrap();
    check(&plot, "roc");
    let svg = plot.to_svg();
    assert_eq!(plot.title(), "ROC curve (AUC = 0.877)");
    let t = texts(svg);
    assert!(t.contains(&"ROC curve (AUC = 0.877)".to_owned()), "{t:?}");
    assert!(t.contains(&"False positive rate".to_owned()) && t.contains(&"True positive rate".to_owned()));
    // The curve is one polyline through every point (plus its legend sample).
    assert!(polylines_in(svg, BLUE).contains(&fpr.len()), "{:?}", polylines_in(svg, BLUE));
    // The dashed diagonal is many short pieces.
    assert!(polylines_in(svg, "#6E6E6E").len() > 10);
    // Axes from 0 to 1.
    assert!(t.contains(&"0".to_owned()) && t.contains(&"1".to_owned()) && t.contains(&"0.6".to_owned()));
}

#[test]
fn roc_plots_reject_bad_input() {
    assert!(matches!(roc_plot(&[], &[], 0.5), Err(MlError::Empty(_))));
    assert!(matches!(roc_plot(&[0.0, 1.0], &[0.0], 0.5), Err(MlError::Shape(_))));
    assert_eq!(
        roc_plot(&[0.0, f64::NAN], &[0.0, 1.0], 0.5).unwrap_err(),
        MlError::NonFinite { row: 1, column: "`fpr` (in roc_plot)".into() }
    );
    assert!(matches!(roc_plot(&[0.0, 1.0], &[0.0, 1.0], f64::NAN), Err(MlError::NonFinite { .. })));
    assert!(matches!(roc_plot(&[0.0, 1.5], &[0.0, 1.0], 0.5), Err(MlError::InvalidData(m)) if m.contains("fpr")));
    assert!(matches!(roc_plot(&[0.0, 1.0], &[0.0, 1.0], 2.0), Err(MlError::InvalidData(_))));
}

#[test]
fn pr_plots_show_the_curve_and_the_baseline() {
    let recall = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
    let precision = [1.0, 0.95, 0.9, 0.8, 0.6, 0.3];
    let plot = pr_plot(&recall, &precision, 0.8123, 0.3).unwrap();
    check(&plot, "pr");
    let svg = plot.to_svg();
    assert_eq!(plot.title(), "Precision-recall curve (AP = 0.812)");
    let t = texts(svg);
    assert!(t.iter().any(|s| s == "Precision-recall curve (AP = 0.812)"));
    assert!(t.iter().any(|s| s == "chance (positive rate 0.300)"), "{t:?}");
    assert!(polylines_in(svg, BLUE).contains(&recall.len()));
    // The baseline is horizontal: every dash lies at one height.
    let heights: Vec<&str> = elements(svg, "polyline")
        .into_iter()
        .filter(|(a, _)| attr(a, "stroke") == Some("#6E6E6E"))
        .flat_map(|(a, _)| attr(a, "points").unwrap().split_whitespace().map(|p| p.split(',').nth(1).unwrap()))
        .collect();
    assert!(heights.len() > 10);
    // (The legend's sample dashes sit elsewhere; all others share one y.)
    let most = heights.iter().filter(|h| **h == heights[0]).count();
    assert!(most >= heights.len() - 4, "{heights:?}");
    assert!(matches!(pr_plot(&[0.5], &[0.5], 0.5, 1.5), Err(MlError::InvalidData(m)) if m.contains("positive_rate")));
    assert!(matches!(pr_plot(&[0.5, 1.0], &[0.5], 0.5, 0.5), Err(MlError::Shape(_))));
    // A single point is drawn as a dot.
    assert!(pr_plot(&[0.5], &[0.5], 0.5, 0.5).is_ok());
}

#[test]
fn bar_plots_sort_bars_by_value() {
    let names = strings(&["age", "income", "tenure", "balance"]);
    let values = [0.1, 0.45, -0.2, 0.25];
    let plot = bar_plot("Feature importance", &names, &values).unwrap();
    check(&plot, "bar");
    let svg = plot.to_svg();
    assert_eq!(filled_with(svg, "rect", BLUE), 3);
    assert_eq!(filled_with(svg, "rect", ORANGE), 1, "the negative bar");
    // Names from top to bottom in decreasing value.
    let y_of = |name: &str| -> i32 {
        let (a, _) = elements(svg, "text").into_iter().find(|(_, b)| b.trim() == name).unwrap();
        attr(a, "y").unwrap().parse().unwrap()
    };
    let ys: Vec<i32> = ["income", "balance", "age", "tenure"].iter().map(|n| y_of(n)).collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}");
    let t = texts(svg);
    assert!(t.iter().any(|s| s == "0.45") && t.iter().any(|s| s == "-0.2"), "values at the bars: {t:?}");
    assert!(t.iter().any(|s| s == "Feature importance"));

    assert!(matches!(bar_plot("x", &names, &values[..3]), Err(MlError::Shape(_))));
    assert!(matches!(bar_plot("x", &[], &[]), Err(MlError::Empty(_))));
    assert!(matches!(bar_plot("x", &names[..1], &[f64::INFINITY]), Err(MlError::NonFinite { row: 0, .. })));
}

#[test]
fn bar_plots_with_many_bars_grow_taller() {
    let names: Vec<String> = (0..40).map(|i| format!("feature_{i:02}")).collect();
    let values: Vec<f64> = (0..40).map(|i| ((i * 37) % 40) as f64 / 40.0).collect();
    let plot = bar_plot("Forty features", &names, &values).unwrap();
    check(&plot, "bar_40");
    let svg = plot.to_svg();
    let (root, _) = elements(svg, "svg")[0];
    let height: u32 = attr(root, "height").unwrap().parse().unwrap();
    assert!(height >= 40 * 20, "{height}");
    let t = texts(svg);
    assert!(names.iter().all(|n| t.contains(n)), "every name is on the axis");
}

#[test]
fn histograms_have_one_bar_per_bin() {
    let values = Vector::from_vec((0..1000).map(|i| ((i as f64) * 0.7).sin() * 3.0 + (i % 7) as f64).collect());
    let plot = histogram("Amount", &values, 25).unwrap();
    check(&plot, "histogram");
    let svg = plot.to_svg();
    assert_eq!(filled_with(svg, "rect", BLUE), 25);
    assert!(texts(svg).iter().any(|s| s == "Amount"));
    // Constant values still make a histogram.
    let constant = histogram("c", &Vector::from_vec(vec![2.0; 5]), 3).unwrap();
    assert_eq!(filled_with(constant.to_svg(), "rect", BLUE), 3);
    assert!(matches!(histogram("h", &values, 0), Err(MlError::InvalidParams(_))));
    assert!(matches!(histogram("h", &Vector::from_vec(vec![]), 5), Err(MlError::Empty(_))));
    assert!(matches!(
        histogram("h", &Vector::from_vec(vec![1.0, f64::NAN]), 5),
        Err(MlError::NonFinite { row: 1, .. })
    ));
}

fn two_blobs() -> (Matrix, Labels) {
    let mut rows = Vec::new();
    let mut classes = Vec::new();
    for i in 0..60 {
        let a = i as f64 * 0.9;
        let (cx, cy, class) = match i % 3 {
            0 => (0.0, 0.0, "setosa"),
            1 => (4.0, 1.0, "versicolor"),
            _ => (2.0, 4.0, "virginica"),
        };
        rows.push(vec![cx + a.sin() * 1.2, cy + (a * 1.3).cos(), 0.0]);
        classes.push(class);
    }
    let m = Matrix::from_rows(&rows).unwrap().with_columns(&["petal length", "petal width", "z"]).unwrap();
    (m, Labels::from_strings(&classes))
}

#[test]
fn scatter_plots_colour_classes_and_name_them() {
    let (m, labels) = two_blobs();
    let plot = scatter("Iris", &m, Some(&labels)).unwrap();
    check(&plot, "scatter");
    let svg = plot.to_svg();
    let circles = elements(svg, "circle");
    // 60 points + 3 legend markers.
    assert_eq!(circles.len(), 63);
    assert_eq!(filled_with(svg, "circle", BLUE), 21);
    let t = texts(svg);
    for name in ["setosa", "versicolor", "virginica", "petal length", "petal width", "Iris"] {
        assert!(t.iter().any(|s| s == name), "{name} in {t:?}");
    }
    let plain = scatter("Iris", &m, None).unwrap();
    check(&plain, "scatter_plain");
    assert_eq!(filled_with(plain.to_svg(), "circle", BLUE), 60);
    assert!(!texts(plain.to_svg()).iter().any(|s| s == "setosa"));
}

#[test]
fn scatter_plots_reject_bad_input() {
    let (m, labels) = two_blobs();
    let one = m.select_columns(&["z"]).unwrap();
    assert!(matches!(scatter("s", &one, None), Err(MlError::Shape(_))));
    let fewer = labels.select(&[0, 1]).unwrap();
    assert!(matches!(scatter("s", &m, Some(&fewer)), Err(MlError::Shape(m)) if m.contains("2 labels")));
    let empty = Matrix::from_vec(0, 2, vec![]).unwrap();
    assert!(matches!(scatter("s", &empty, None), Err(MlError::Empty(_))));
    let nan = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, f64::NAN]]).unwrap().with_columns(&["a", "b"]).unwrap();
    assert_eq!(scatter("s", &nan, None).unwrap_err(), MlError::NonFinite { row: 1, column: "`b`".into() });
}

#[test]
fn line_plots_draw_each_series_with_a_legend() {
    let train: Vec<f64> = (0..50).map(|i| 1.0 / (1.0 + i as f64 * 0.2)).collect();
    let valid: Vec<f64> = (0..50).map(|i| 1.1 / (1.0 + i as f64 * 0.15) + 0.05).collect();
    let plot = line_plot("Loss", "iteration", "log loss", &[("training", &train), ("validation", &valid)]).unwrap();
    check(&plot, "line");
    let svg = plot.to_svg();
    assert!(polylines_in(svg, BLUE).contains(&50));
    assert!(polylines_in(svg, ORANGE).contains(&50));
    let t = texts(svg);
    for s in ["Loss", "iteration", "log loss", "training", "validation"] {
        assert!(t.iter().any(|x| x == s), "{s} in {t:?}");
    }
    // Short series get a dot per point.
    let short = line_plot("Accuracy", "epoch", "accuracy", &[("valid", &[0.5, 0.7, 0.8][..])]).unwrap();
    check(&short, "line_short");
    assert_eq!(filled_with(short.to_svg(), "circle", BLUE), 3);
    assert!(line_plot("x", "a", "b", &[("one", &[1.0][..])]).is_ok());

    assert!(matches!(line_plot("x", "a", "b", &[]), Err(MlError::Empty(_))));
    assert!(matches!(line_plot("x", "a", "b", &[("e", &[][..])]), Err(MlError::Empty(m)) if m.contains("`e`")));
    let e = line_plot("x", "a", "b", &[("ok", &[1.0][..]), ("bad", &[1.0, f64::NAN][..])]).unwrap_err();
    assert_eq!(e, MlError::NonFinite { row: 1, column: "`bad` (in line_plot)".into() });
}

#[test]
fn xy_plots_put_points_at_their_x() {
    // Requests per second at 0, 10 and 40 s (nothing between 10 and 40 s).
    let a = [(0.0, 5.0), (10.0, 7.0), (40.0, 6.0)];
    let b = [(10.0, 1.0), (20.0, 2.0)];
    let plot = xy_plot("Requests", "seconds since 10:00", "requests/s", &[("a", &a[..]), ("b", &b[..])]).unwrap();
    check(&plot, "xy");
    let svg = plot.to_svg();
    assert!(polylines_in(svg, BLUE).contains(&3));
    assert!(polylines_in(svg, ORANGE).contains(&2));
    assert_eq!(filled_with(svg, "circle", BLUE), 3);
    let t = texts(svg);
    for s in ["Requests", "seconds since 10:00", "requests/s", "a", "b", "40"] {
        assert!(t.iter().any(|x| x == s), "{s} in {t:?}");
    }
    // One point is drawn too.
    assert!(xy_plot("x", "a", "b", &[("one", &[(3.0, 1.0)][..])]).is_ok());

    assert!(matches!(xy_plot("x", "a", "b", &[]), Err(MlError::Empty(_))));
    let e = xy_plot("x", "a", "b", &[("bad", &[(0.0, 1.0), (f64::INFINITY, 1.0)][..])]).unwrap_err();
    assert_eq!(e, MlError::NonFinite { row: 1, column: "`bad` (in xy_plot)".into() });
    let e = xy_plot("x", "a", "b", &[("back", &[(2.0, 1.0), (1.0, 1.0)][..])]).unwrap_err();
    assert!(matches!(e, MlError::InvalidData(m) if m.contains("`back`") && m.contains("point 1")));
}

#[test]
fn user_text_cannot_inject_markup() {
    let evil = "<b onload=\"x\">&'";
    let escaped = "&lt;b onload=&quot;x&quot;&gt;&amp;&apos;";
    let classes = vec![evil.to_owned(), "ok".to_owned()];
    let plots = vec![
        confusion_matrix_plot(&[vec![1, 2], vec![3, 4]], &classes).unwrap(),
        bar_plot(evil, &classes, &[1.0, 2.0]).unwrap(),
        histogram(evil, &Vector::from_vec(vec![1.0, 2.0]), 2).unwrap(),
        scatter(
            evil,
            &Matrix::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap().with_columns(&[evil, "y"]).unwrap(),
            Some(&Labels::from_strings(&[evil, "ok"])),
        )
        .unwrap(),
        line_plot(evil, evil, evil, &[(evil, &[1.0, 2.0][..])]).unwrap(),
    ];
    for plot in &plots {
        check(plot, "escaping");
        let svg = plot.to_svg();
        assert!(!svg.contains("<b"), "raw markup in {}", plot.title());
        assert!(svg.contains(escaped), "escaped text missing in {}", plot.title());
    }
    let counts: Vec<usize> = plots.iter().map(|p| p.to_svg().matches(escaped).count()).collect();
    // Confusion matrix: both axes; bar: title + axis; histogram: title;
    // scatter: title + x axis + legend; line: title, two axes, legend.
    assert_eq!(counts, [2, 2, 1, 3, 4]);
}

#[test]
fn plots_print_briefly_and_save() {
    let plot = roc_plot(&[0.0, 1.0], &[0.0, 1.0], 0.5).unwrap();
    let shown = plot.to_string();
    assert!(shown.starts_with("Plot(\"ROC curve (AUC = 0.500)\", ") && shown.ends_with(" kB SVG)"), "{shown}");
    let kb = format!("{:.1}", plot.to_svg().len() as f64 / 1000.0);
    assert!(shown.contains(&kb));
    let path = std::env::temp_dir().join(format!("flywheel-plot-test-{}.svg", std::process::id()));
    plot.save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), plot.to_svg());
    std::fs::remove_file(&path).unwrap();
    let e = plot.save("/nonexistent-dir/x/plot.svg").unwrap_err();
    assert!(matches!(&e, MlError::Write(m) if m.contains("/nonexistent-dir/x/plot.svg")), "{e}");
}

#[test]
fn axes_of_huge_and_tiny_numbers_keep_short_labels() {
    let rows: Vec<Vec<f64>> = (0..30).map(|i| vec![3e9 + i as f64 * 1.7e8, -2e-5 + i as f64 * 3.1e-6]).collect();
    let m = Matrix::from_rows(&rows).unwrap().with_columns(&["revenue", "drift"]).unwrap();
    let plot = scatter("Scales", &m, None).unwrap();
    check(&plot, "scatter_scales");
    let ticks: Vec<String> = texts(plot.to_svg())
        .into_iter()
        .filter(|t| t.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']))
        .collect();
    assert!(ticks.len() >= 8, "{ticks:?}");
    assert!(ticks.iter().all(|t| t.len() <= 8), "{ticks:?}");
    assert!(ticks.iter().any(|t| t.contains("e9")) && ticks.iter().any(|t| t.contains("e-5")), "{ticks:?}");
}

//! Object detection's small parts: [`BoundingBox`] (axis-aligned, in
//! pixels), [`Detection`] (a box with a score) and
//! [`non_max_suppression`]. Their metric is
//! [`metrics::average_precision_at_iou`](crate::metrics::average_precision_at_iou).

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels: its left edge `x`, top edge `y`, `width`
/// and `height` (x grows to the right, y downwards, as in images).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge, in pixels from the image's left.
    pub x: f64,
    /// Top edge, in pixels from the image's top.
    pub y: f64,
    /// Width in pixels (≥ 0).
    pub width: f64,
    /// Height in pixels (≥ 0).
    pub height: f64,
}

impl BoundingBox {
    /// A box from its left, top, width and height; negative sizes count as 0.
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Self {
        Self { x, y, width: width.max(0.0), height: height.max(0.0) }
    }

    /// Area in square pixels.
    pub fn area(&self) -> f64 {
        self.width * self.height
    }

    /// Intersection over union with `other`, 0–1 (0 for disjoint or empty boxes).
    pub fn iou(&self, other: &BoundingBox) -> f64 {
        let w = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let h = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        let inter = w.max(0.0) * h.max(0.0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// A detector's answer: a box and its score (higher is surer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Where.
    pub bbox: BoundingBox,
    /// How sure, e.g. the classifier's probability for the window.
    pub score: f64,
}

/// Greedy non-maximum suppression: detections by falling score, each kept
/// unless its IoU with one already kept exceeds `iou_threshold` (the
/// classic rule of Felzenszwalb et al. 2010 and `torchvision.ops.nms`).
/// Returns the kept detections, highest score first; NaN scores go last.
pub fn non_max_suppression(detections: &[Detection], iou_threshold: f64) -> Vec<Detection> {
    let mut order: Vec<Detection> = detections.to_vec();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    order.sort_by_key(|d| d.score.is_nan());
    let mut kept: Vec<Detection> = Vec::new();
    for d in order {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou_threshold) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        // Half overlapping: 50 / (100 + 100 − 50).
        assert!((a.iou(&BoundingBox::new(5.0, 0.0, 10.0, 10.0)) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.iou(&BoundingBox::new(10.0, 0.0, 5.0, 5.0)), 0.0);
        assert_eq!(BoundingBox::new(0.0, 0.0, -1.0, 3.0).iou(&BoundingBox::new(0.0, 0.0, 0.0, 0.0)), 0.0);
    }

    #[test]
    fn suppression_keeps_the_best_of_each_cluster() {
        let at = |x: f64, score: f64| Detection { bbox: BoundingBox::new(x, 0.0, 10.0, 10.0), score };
        let kept = non_max_suppression(&[at(0.0, 0.6), at(1.0, 0.9), at(30.0, 0.5), at(2.0, f64::NAN)], 0.5);
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].score, kept[1].score), (0.9, 0.5));
    }
}

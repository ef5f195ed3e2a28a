//! [`Images`]: a batch of same-sized images, N × C × H × W in `f32`, the
//! layout candle and PyTorch take (channels first). Pixels are in 0–1
//! (0 black, 1 full intensity); channel order is RGB for colour images.
//! In a notebook a batch shows as a grid of thumbnails.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::display::{emit, escape};
use crate::error::{MlError, Result};
use crate::{Labels, Matrix};

/// How many thumbnails a notebook shows of a batch.
const SHOWN: usize = 32;

/// N images of C channels, H rows and W columns each, row-major in that
/// order (the pixel `(i, c, y, x)` is at `((i·C + c)·H + y)·W + x`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Images {
    shape: [usize; 4],
    pixels: Vec<f32>,
}

impl Images {
    /// Images from their pixels, N × C × H × W.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `pixels` does not hold N·C·H·W values, C is
    /// not 1 (grey) or 3 (RGB), or H or W is 0; [`MlError::NonFinite`] for a
    /// NaN or infinite pixel.
    pub fn from_pixels(shape: [usize; 4], pixels: Vec<f32>) -> Result<Self> {
        let [n, c, h, w] = shape;
        if !matches!(c, 1 | 3) {
            return Err(MlError::Shape(format!("images have 1 (grey) or 3 (RGB) channels, not {c}")));
        }
        if h == 0 || w == 0 {
            return Err(MlError::Shape(format!("an image of {h} × {w} pixels")));
        }
        if pixels.len() != n * c * h * w {
            return Err(MlError::Shape(format!(
                "{} pixel values for {n} images of {c} × {h} × {w} ({} expected)",
                pixels.len(),
                n * c * h * w
            )));
        }
        if let Some(at) = pixels.iter().position(|p| !p.is_finite()) {
            let (image, within) = (at / (c * h * w), at % (c * h * w));
            let (channel, y, x) = (within / (h * w), within % (h * w) / w, within % w);
            return Err(MlError::NonFinite { row: image, column: format!("channel {channel}, pixel ({y}, {x})") });
        }
        Ok(Self { shape, pixels })
    }

    /// `[N, C, H, W]`.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// Number of images, N.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// Channels per image, C (1 grey, 3 RGB).
    pub fn channels(&self) -> usize {
        self.shape[1]
    }

    /// Rows per image, H.
    pub fn height(&self) -> usize {
        self.shape[2]
    }

    /// Columns per image, W.
    pub fn width(&self) -> usize {
        self.shape[3]
    }

    /// Values per image, C·H·W.
    fn size(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }

    /// All pixels, image after image (see the layout above).
    pub fn as_slice(&self) -> &[f32] {
        &self.pixels
    }

    /// The C·H·W pixels of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[f32]> {
        (i < self.len()).then(|| &self.pixels[i * self.size()..(i + 1) * self.size()])
    }

    /// Pixel `(i, c, y, x)`, or `None` out of range.
    pub fn pixel(&self, i: usize, c: usize, y: usize, x: usize) -> Option<f32> {
        let [n, cs, h, w] = self.shape;
        (i < n && c < cs && y < h && x < w).then(|| self.pixels[((i * cs + c) * h + y) * w + x])
    }

    /// The images at the given positions, in that order.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select(&self, rows: &[usize]) -> Result<Images> {
        let mut pixels = Vec::with_capacity(rows.len() * self.size());
        for &i in rows {
            let image = self.image(i).ok_or_else(|| MlError::Shape(format!("image {i} of {}", self.len())))?;
            pixels.extend_from_slice(image);
        }
        let [_, c, h, w] = self.shape;
        Ok(Images { shape: [rows.len(), c, h, w], pixels })
    }

    /// The images shrunk by a whole `factor` in both directions, each new
    /// pixel the mean of the `factor` × `factor` block it covers (the last
    /// row and column of blocks may be partial). A factor of 0 or 1 copies.
    pub fn downscaled(&self, factor: usize) -> Images {
        let f = factor.max(1);
        let [n, c, h, w] = self.shape;
        let (sh, sw) = (h.div_ceil(f), w.div_ceil(f));
        let mut pixels = Vec::with_capacity(n * c * sh * sw);
        for plane in self.pixels.chunks(h * w) {
            for y in 0..sh {
                for x in 0..sw {
                    let (ys, xs) = (y * f..((y + 1) * f).min(h), x * f..((x + 1) * f).min(w));
                    let count = (ys.len() * xs.len()) as f32;
                    let sum: f32 = ys.flat_map(|yy| xs.clone().map(move |xx| plane[yy * w + xx])).sum();
                    pixels.push(sum / count);
                }
            }
        }
        Images { shape: [n, c, sh, sw], pixels }
    }

    /// Windows of `height` × `width` pixels cut from image `i`, one per
    /// `(x, y)` top-left corner, as a batch (a sliding window's input).
    ///
    /// # Errors
    /// [`MlError::Shape`] when `i` is past the end or a window reaches past the image.
    pub fn crops(&self, i: usize, corners: &[(usize, usize)], (height, width): (usize, usize)) -> Result<Images> {
        let image = self.image(i).ok_or_else(|| MlError::Shape(format!("image {i} of {}", self.len())))?;
        let [_, c, h, w] = self.shape;
        let mut pixels = Vec::with_capacity(corners.len() * c * height * width);
        for &(x, y) in corners {
            if x + width > w || y + height > h || height == 0 || width == 0 {
                return Err(MlError::Shape(format!("a {height} × {width} window at ({x}, {y}) in a {h} × {w} image")));
            }
            for channel in 0..c {
                for row in y..y + height {
                    let start = (channel * h + row) * w + x;
                    pixels.extend_from_slice(&image[start..start + width]);
                }
            }
        }
        Ok(Images { shape: [corners.len(), c, height, width], pixels })
    }

    /// Images from an IDX file (the format of MNIST and Fashion-MNIST; gzipped
    /// or not): unsigned bytes in 3 dimensions, N × H × W, become N × 1 × H × W
    /// grey images with pixels byte / 255.
    ///
    /// # Errors
    /// [`MlError::Read`] when the file cannot be read, is not IDX, holds
    /// another type or number of dimensions, or is cut short.
    pub fn read_idx(path: impl AsRef<std::path::Path>) -> Result<Images> {
        let (dims, bytes) = read_idx(path.as_ref(), 3)?;
        let pixels = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        Images::from_pixels([dims[0], 1, dims[1], dims[2]], pixels)
    }

    /// Images from PNG files, all of one size: grey PNGs give 1 channel,
    /// colour ones 3 (alpha is dropped, palettes and 16-bit depths are
    /// expanded to 8 bits), pixels byte / 255.
    ///
    /// # Errors
    /// [`MlError::Read`] for a file that cannot be read or decoded;
    /// [`MlError::Shape`] when sizes or channel counts differ, naming the
    /// first file that differs; [`MlError::Empty`] for no paths.
    pub fn read_png<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<Images> {
        let mut shape: Option<[usize; 3]> = None;
        let mut pixels = Vec::new();
        for path in paths {
            let name = path.as_ref().display().to_string();
            let bad = |e: &dyn std::fmt::Display| MlError::Read(format!("{name}: {e}"));
            let file = std::fs::File::open(path.as_ref()).map_err(|e| bad(&e))?;
            let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
            decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
            let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
            let mut buffer = vec![0; reader.output_buffer_size().ok_or_else(|| bad(&"too large"))?];
            let info = reader.next_frame(&mut buffer).map_err(|e| bad(&e))?;
            let (h, w) = (info.height as usize, info.width as usize);
            let stride = info.color_type.samples();
            let c = if stride >= 3 { 3 } else { 1 };
            match shape {
                None => shape = Some([c, h, w]),
                Some(first) if first != [c, h, w] => {
                    return Err(MlError::Shape(format!(
                        "{name} is {c} × {h} × {w}, the first image {} × {} × {}",
                        first[0], first[1], first[2]
                    )));
                }
                Some(_) => {}
            }
            for channel in 0..c {
                pixels.extend((0..h * w).map(|p| f32::from(buffer[p * stride + channel]) / 255.0));
            }
        }
        let [c, h, w] = shape.ok_or_else(|| MlError::Empty("no PNG files given".into()))?;
        Images::from_pixels([paths.len(), c, h, w], pixels)
    }

    /// Every image mirrored left to right.
    pub fn flipped_horizontally(&self) -> Images {
        self.map_images(|plane, h, w, out| {
            for y in 0..h {
                out.extend((0..w).rev().map(|x| plane[y * w + x]));
            }
        })
    }

    /// Every image mirrored top to bottom.
    pub fn flipped_vertically(&self) -> Images {
        self.map_images(|plane, h, w, out| {
            for y in (0..h).rev() {
                out.extend_from_slice(&plane[y * w..(y + 1) * w]);
            }
        })
    }

    /// Every image turned `turns` quarter turns clockwise (an odd number
    /// of turns swaps height and width).
    pub fn rotated(&self, turns: usize) -> Images {
        let mut images = self.clone();
        for _ in 0..turns % 4 {
            let [n, c, h, w] = images.shape;
            let mut turned = images.map_images(|plane, h, w, out| {
                // Clockwise: the new row r is the old column r read bottom-up.
                for x in 0..w {
                    out.extend((0..h).rev().map(|y| plane[y * w + x]));
                }
            });
            turned.shape = [n, c, w, h];
            images = turned;
        }
        images
    }

    /// Every pixel times `factor`, clipped to 0–1 (brighter above 1).
    pub fn with_brightness(&self, factor: f32) -> Images {
        Images { shape: self.shape, pixels: self.pixels.iter().map(|p| (p * factor).clamp(0.0, 1.0)).collect() }
    }

    /// A random variant of every image, for training on more than the data
    /// (deterministic per `seed`): flipped left to right with probability
    /// ½, top to bottom with ½, turned 0–3 quarter turns when the images
    /// are square (satellite chips have no up), and brightness × 0.8–1.2.
    pub fn augmented(&self, seed: u64) -> Images {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let square = self.height() == self.width();
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for i in 0..self.len() {
            let mut one = self.select(&[i]).expect("an index below len");
            if rng.gen_bool(0.5) {
                one = one.flipped_horizontally();
            }
            if rng.gen_bool(0.5) {
                one = one.flipped_vertically();
            }
            if square {
                one = one.rotated(rng.gen_range(0..4));
            }
            one = one.with_brightness(rng.gen_range(0.8..1.2));
            pixels.extend(one.pixels);
        }
        Images { shape: self.shape, pixels }
    }

    /// A new batch from `f(plane, h, w, out)` applied to every H × W
    /// plane, which pushes the new plane's H·W values onto `out`.
    fn map_images(&self, f: impl Fn(&[f32], usize, usize, &mut Vec<f32>)) -> Images {
        let [_, _, h, w] = self.shape;
        let mut out = Vec::with_capacity(self.pixels.len());
        for plane in self.pixels.chunks(h * w) {
            f(plane, h, w, &mut out);
        }
        Images { shape: self.shape, pixels: out }
    }

    /// Colour histograms, a baseline's features: per image and channel, the
    /// share of pixels in each of `bins` equal bins over 0–1 (C·bins columns
    /// named `red_0`…, or `grey_0`… for one channel; each channel's row sums to 1).
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for 0 bins.
    pub fn colour_histograms(&self, bins: usize) -> Result<Matrix> {
        if bins == 0 {
            return Err(MlError::InvalidParams("a histogram needs at least 1 bin".into()));
        }
        let [n, c, h, w] = self.shape;
        let plane = (h * w) as f64;
        let mut values = Vec::with_capacity(n * c * bins);
        for channel in self.pixels.chunks(h * w) {
            let mut counts = vec![0usize; bins];
            for &p in channel {
                counts[((p.clamp(0.0, 1.0) * bins as f32) as usize).min(bins - 1)] += 1;
            }
            values.extend(counts.iter().map(|&k| k as f64 / plane));
        }
        let channel_names: &[&str] = if c == 3 { &["red", "green", "blue"] } else { &["grey"] };
        let names: Vec<String> =
            channel_names.iter().flat_map(|ch| (0..bins).map(move |b| format!("{ch}_{b}"))).collect();
        Matrix::from_vec(n, c * bins, values)?.with_columns(&names)
    }

    /// Brightness and edge statistics, a baseline's features: per image, of
    /// the brightness (the channels' mean) its `brightness_mean`, `_std`,
    /// `_min` and `_max`, and of the Sobel gradient magnitude (Sobel &
    /// Feldman 1968; 3 × 3, borders skipped, in brightness per pixel) its
    /// `edge_mean`, `edge_std`, `edge_p90`, `edge_max` and `edge_share`
    /// (the share of pixels above 0.1): 9 columns.
    ///
    /// # Errors
    /// [`MlError::Shape`] for images smaller than 3 × 3.
    pub fn edge_statistics(&self) -> Result<Matrix> {
        let [n, c, h, w] = self.shape;
        if h < 3 || w < 3 {
            return Err(MlError::Shape(format!("edges need images of at least 3 × 3 pixels, not {h} × {w}")));
        }
        let mut values = Vec::with_capacity(n * 9);
        for image in self.pixels.chunks(c * h * w) {
            let brightness: Vec<f64> =
                (0..h * w).map(|p| (0..c).map(|ch| f64::from(image[ch * h * w + p])).sum::<f64>() / c as f64).collect();
            let at = |x: usize, y: usize| brightness[y * w + x];
            let mut edges = Vec::with_capacity((h - 2) * (w - 2));
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                        - at(x - 1, y - 1)
                        - 2.0 * at(x - 1, y)
                        - at(x - 1, y + 1);
                    let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                        - at(x - 1, y - 1)
                        - 2.0 * at(x, y - 1)
                        - at(x + 1, y - 1);
                    edges.push((gx * gx + gy * gy).sqrt() / 8.0);
                }
            }
            let (b_mean, b_std) = mean_std(&brightness);
            let (e_mean, e_std) = mean_std(&edges);
            let b_min = brightness.iter().copied().fold(f64::INFINITY, f64::min);
            let b_max = brightness.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let share = edges.iter().filter(|&&e| e > 0.1).count() as f64 / edges.len() as f64;
            edges.sort_by(f64::total_cmp);
            let p90 = edges[(edges.len() * 9 / 10).min(edges.len() - 1)];
            let e_max = edges[edges.len() - 1];
            values.extend([b_mean, b_std, b_min, b_max, e_mean, e_std, p90, e_max, share]);
        }
        let names = [
            "brightness_mean",
            "brightness_std",
            "brightness_min",
            "brightness_max",
            "edge_mean",
            "edge_std",
            "edge_p90",
            "edge_max",
            "edge_share",
        ];
        Matrix::from_vec(n, 9, values)?.with_columns(&names)
    }

    /// One row per image, C·H·W columns in the layout's order: the input
    /// of the algorithms that take a [`Matrix`] (a baseline before a
    /// convolutional network).
    pub fn to_matrix(&self) -> Matrix {
        let values: Vec<f64> = self.pixels.iter().map(|&p| f64::from(p)).collect();
        Matrix::from_vec(self.len(), self.size(), values).expect("N × C·H·W values")
    }

    /// Image `i` as a PNG file (8 bits per channel, values clamped to 0–1).
    ///
    /// # Errors
    /// [`MlError::Shape`] past the end; [`MlError::Write`] if encoding fails.
    pub fn to_png(&self, i: usize) -> Result<Vec<u8>> {
        let image = self.image(i).ok_or_else(|| MlError::Shape(format!("image {i} of {}", self.len())))?;
        let [_, c, h, w] = self.shape;
        // PNG is interleaved (RGBRGB…), the batch is planar.
        let mut bytes = Vec::with_capacity(c * h * w);
        for p in 0..h * w {
            for channel in 0..c {
                bytes.push((image[channel * h * w + p].clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
        encoder.set_color(if c == 3 { png::ColorType::Rgb } else { png::ColorType::Grayscale });
        encoder.set_depth(png::BitDepth::Eight);
        let write = |e: png::EncodingError| MlError::Write(format!("PNG: {e}"));
        let mut writer = encoder.write_header().map_err(write)?;
        writer.write_image_data(&bytes).map_err(write)?;
        writer.finish().map_err(write)?;
        Ok(out)
    }

    /// Image `i` as a `data:image/png;base64,…` URI, for an `<img>` in a cell's HTML.
    ///
    /// # Errors
    /// As [`Images::to_png`].
    pub(crate) fn png_data_uri(&self, i: usize) -> Result<String> {
        use base64::Engine as _;
        Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(self.to_png(i)?)))
    }

    /// An HTML grid of the first `max` images as thumbnails, each with its
    /// caption (`captions[i]`, when given) under it.
    ///
    /// # Errors
    /// [`MlError::Write`] if an image cannot be encoded.
    pub fn thumbnails(&self, captions: &[String], max: usize) -> Result<String> {
        let shown = self.len().min(max);
        let size = (self.width().max(self.height())).clamp(56, 96);
        let mut html = String::from(r#"<div style="display:flex;flex-wrap:wrap;gap:6px">"#);
        for i in 0..shown {
            let png = self.png_data_uri(i)?;
            let caption = captions.get(i).map_or_else(|| i.to_string(), |c| escape(c));
            let _ = write!(
                html,
                r#"<figure style="margin:0;text-align:center;font-size:11px"><img src="{png}" width="{size}" height="{size}" style="image-rendering:pixelated" alt="image {i}"><figcaption>{caption}</figcaption></figure>"#
            );
        }
        html.push_str("</div>");
        Ok(html)
    }

    /// [`Images::thumbnails`] captioned with each image's class in `labels`.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `labels` has another length; [`MlError::Write`] as above.
    pub fn thumbnails_with(&self, labels: &Labels, max: usize) -> Result<String> {
        if labels.len() != self.len() {
            return Err(MlError::Shape(format!("{} labels for {} images", labels.len(), self.len())));
        }
        let captions: Vec<String> = (0..self.len()).map(|i| labels.get(i).unwrap_or("").to_owned()).collect();
        self.thumbnails(&captions, max)
    }

    /// The notebook's view: the shape and the first 32 thumbnails.
    pub fn evcxr_display(&self) {
        let [n, c, h, w] = self.shape;
        let grid = self.thumbnails(&[], SHOWN).unwrap_or_else(|e| escape(&e.to_string()));
        let more = if n > SHOWN { format!(", the first {SHOWN} shown") } else { String::new() };
        emit("text/html", &format!("<div><strong>Images</strong> {n} × {c} × {h} × {w}{more}</div>{grid}"));
    }
}

/// The mean and (population) standard deviation of `values`.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt())
}

impl Labels {
    /// Labels from an IDX file of one dimension (MNIST's and Fashion-MNIST's
    /// label files; gzipped or not): class `k` of a byte `k` is `classes[k]`,
    /// or the number `k` when `classes` is empty.
    ///
    /// # Errors
    /// [`MlError::Read`] as for [`Images::read_idx`]; [`MlError::Shape`] for a
    /// byte with no class in `classes`.
    pub fn read_idx(path: impl AsRef<std::path::Path>, classes: &[&str]) -> Result<Labels> {
        let (_, bytes) = read_idx(path.as_ref(), 1)?;
        let ids: Vec<usize> = bytes.iter().map(|&b| usize::from(b)).collect();
        let names: Vec<String> = if classes.is_empty() {
            (0..=ids.iter().copied().max().unwrap_or(0)).map(|k| k.to_string()).collect()
        } else {
            classes.iter().map(|&c| c.to_owned()).collect()
        };
        Labels::from_ids(ids, names)
    }
}

/// The dimensions and bytes of an IDX file of unsigned bytes with `rank`
/// dimensions (LeCun's format: two zero bytes, type 0x08, the rank, then
/// each dimension as a big-endian u32, then the data).
fn read_idx(path: &std::path::Path, rank: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    use std::io::Read as _;
    let name = path.display();
    let raw = std::fs::read(path).map_err(|e| MlError::Read(format!("{name}: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| MlError::Read(format!("{name}: not valid gzip: {e}")))?;
        out
    } else {
        raw
    };
    let bad = |what: String| MlError::Read(format!("{name}: {what}"));
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("not an IDX file (it does not start with two zero bytes)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!("IDX of type 0x{:02x}; only unsigned bytes (0x08) are read", bytes[2])));
    }
    if bytes[3] != rank {
        return Err(bad(format!("{} dimensions, {rank} expected", bytes[3])));
    }
    let header = 4 + 4 * usize::from(rank);
    if bytes.len() < header {
        return Err(bad("cut short in its header".into()));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let size: usize = dims.iter().product();
    if bytes.len() - header != size {
        return Err(bad(format!("{} data bytes for dimensions {dims:?} ({size} expected)", bytes.len() - header)));
    }
    Ok((dims, bytes[header..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Images {
        // Two 1 × 2 × 3 grey images: 0…5 and 6…11, scaled to 0–1.
        Images::from_pixels([2, 1, 2, 3], (0..12).map(|v| v as f32 / 11.0).collect()).unwrap()
    }

    #[test]
    fn pixels_are_where_the_layout_says() {
        let images = two();
        assert_eq!(images.pixel(1, 0, 1, 2), Some(1.0));
        assert_eq!(images.pixel(0, 0, 1, 0), Some(3.0 / 11.0));
        assert_eq!(images.pixel(2, 0, 0, 0), None);
        assert_eq!(images.image(1).unwrap().len(), 6);
        let picked = images.select(&[1, 1, 0]).unwrap();
        assert_eq!(picked.shape(), [3, 1, 2, 3]);
        assert_eq!(picked.pixel(2, 0, 0, 1), Some(1.0 / 11.0));
        assert!(images.select(&[2]).is_err());
        let m = images.to_matrix();
        assert_eq!((m.nrows(), m.ncols()), (2, 6));
    }

    #[test]
    fn windows_and_downscaling_keep_the_layout() {
        let images = two();
        let windows = images.crops(1, &[(1, 0), (0, 1)], (1, 2)).unwrap();
        assert_eq!(windows.shape(), [2, 1, 1, 2]);
        assert_eq!(windows.image(0).unwrap(), &[7.0 / 11.0, 8.0 / 11.0]);
        assert_eq!(windows.image(1).unwrap(), &[9.0 / 11.0, 10.0 / 11.0]);
        let e = images.crops(0, &[(2, 0)], (1, 2)).unwrap_err().to_string();
        assert!(e.contains("a 1 × 2 window at (2, 0) in a 2 × 3 image"), "{e}");
        // 2 × 3 by 2: blocks {0,1,3,4} and {2,5}.
        let small = images.downscaled(2);
        assert_eq!(small.shape(), [2, 1, 1, 2]);
        assert_eq!(small.image(0).unwrap(), &[2.0 / 11.0, 3.5 / 11.0]);
    }

    #[test]
    fn idx_files_read_gzipped_or_not() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("flywheel-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Two 2 × 3 images, bytes 0…11, and their labels 1, 0.
        let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        images.extend(0..12u8);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&images).unwrap();
        std::fs::write(dir.join("images.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.join("labels"), [0, 0, 8, 1, 0, 0, 0, 2, 1, 0]).unwrap();
        let read = Images::read_idx(dir.join("images.gz")).unwrap();
        assert_eq!(read.shape(), [2, 1, 2, 3]);
        assert_eq!(read.pixel(1, 0, 1, 2), Some(11.0 / 255.0));
        let labels = Labels::read_idx(dir.join("labels"), &["shirt", "bag"]).unwrap();
        assert_eq!((labels.get(0), labels.get(1)), (Some("bag"), Some("shirt")));
        assert_eq!(Labels::read_idx(dir.join("labels"), &[]).unwrap().classes(), ["0", "1"]);
        // Labels where images are expected, a short file, a missing one.
        let e = Images::read_idx(dir.join("labels")).unwrap_err().to_string();
        assert!(e.contains("1 dimensions, 3 expected"), "{e}");
        std::fs::write(dir.join("short"), &images[..20]).unwrap();
        let e = Images::read_idx(dir.join("short")).unwrap_err().to_string();
        assert!(e.contains("4 data bytes for dimensions [2, 2, 3] (12 expected)"), "{e}");
        assert!(Images::read_idx(dir.join("missing")).is_err());
        assert!(Labels::read_idx(dir.join("labels"), &["only one"]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn baseline_features_of_known_images() {
        // A 4 × 4 grey image: left half 0, right half 1 (a vertical edge), and a flat one.
        let mut pixels: Vec<f32> = (0..16).map(|i| if i % 4 >= 2 { 1.0 } else { 0.0 }).collect();
        pixels.extend([0.5; 16]);
        let images = Images::from_pixels([2, 1, 4, 4], pixels).unwrap();
        let hist = images.colour_histograms(2).unwrap();
        assert_eq!(hist.columns(), ["grey_0", "grey_1"]);
        assert_eq!(hist.row(0).unwrap(), vec![0.5, 0.5]);
        assert_eq!(hist.row(1).unwrap(), vec![0.0, 1.0]);
        let edges = images.edge_statistics().unwrap();
        let row = edges.row(0).unwrap();
        // Brightness 0.5 ± 0.5; every inner pixel touches the edge: Sobel |gx| = 4, ÷ 8.
        assert_eq!(&row[..4], &[0.5, 0.5, 0.0, 1.0]);
        assert_eq!((row[4], row[7], row[8]), (0.5, 0.5, 1.0));
        assert_eq!(edges.row(1).unwrap()[4..], [0.0; 5]);
        assert!(Images::from_pixels([1, 1, 2, 2], vec![0.0; 4]).unwrap().edge_statistics().is_err());
        assert!(images.colour_histograms(0).is_err());
    }

    #[test]
    fn flips_turns_and_brightness() {
        let images = two(); // image 0: rows [0 1 2] [3 4 5] (÷ 11)
        let row = |im: &Images| im.image(0).unwrap().iter().map(|p| (p * 11.0).round() as u8).collect::<Vec<_>>();
        assert_eq!(row(&images.flipped_horizontally()), [2, 1, 0, 5, 4, 3]);
        assert_eq!(row(&images.flipped_vertically()), [3, 4, 5, 0, 1, 2]);
        let turned = images.rotated(1);
        assert_eq!(turned.shape(), [2, 1, 3, 2]);
        assert_eq!(row(&turned), [3, 0, 4, 1, 5, 2]);
        assert_eq!(images.rotated(4), images);
        assert_eq!(images.rotated(2), images.flipped_horizontally().flipped_vertically());
        assert_eq!(images.with_brightness(2.0).pixel(1, 0, 1, 2), Some(1.0));
        // Augmentation: the seed's, and each image keeps its content up to brightness.
        let square = Images::from_pixels([3, 1, 2, 2], (0..12).map(|v| v as f32 / 20.0).collect()).unwrap();
        assert_eq!(square.augmented(7), square.augmented(7));
        let sorted = |im: &Images, i: usize| {
            let mut v = im.image(i).unwrap().to_vec();
            v.sort_by(f32::total_cmp);
            let top = v[3];
            v.iter().map(|p| p / top).collect::<Vec<_>>()
        };
        let augmented = square.augmented(7);
        for i in 0..3 {
            let (a, b) = (sorted(&square, i), sorted(&augmented, i));
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "{a:?} {b:?}");
        }
    }

    #[test]
    fn pngs_read_back_what_was_written() {
        let dir = std::env::temp_dir().join(format!("flywheel-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let images = two();
        for i in 0..2 {
            std::fs::write(dir.join(format!("{i}.png")), images.to_png(i).unwrap()).unwrap();
        }
        let paths = [dir.join("0.png"), dir.join("1.png")];
        let read = Images::read_png(&paths).unwrap();
        assert_eq!(read.shape(), [2, 1, 2, 3]);
        assert!(read.as_slice().iter().zip(images.as_slice()).all(|(a, b)| (a - b).abs() <= 0.5 / 255.0));
        let other = Images::from_pixels([1, 3, 2, 2], vec![0.5; 12]).unwrap();
        std::fs::write(dir.join("rgb.png"), other.to_png(0).unwrap()).unwrap();
        let e = Images::read_png(&[dir.join("0.png"), dir.join("rgb.png")]).unwrap_err().to_string();
        assert!(e.contains("rgb.png is 3 × 2 × 2, the first image 1 × 2 × 3"), "{e}");
        assert!(Images::read_png(&[dir.join("missing.png")]).is_err());
        assert!(Images::read_png::<&str>(&[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_shapes_and_values_are_named() {
        let e = Images::from_pixels([1, 2, 2, 2], vec![0.0; 8]).unwrap_err().to_string();
        assert!(e.contains("1 (grey) or 3 (RGB) channels, not 2"), "{e}");
        let e = Images::from_pixels([2, 3, 4, 4], vec![0.0; 10]).unwrap_err().to_string();
        assert!(e.contains("10 pixel values for 2 images of 3 × 4 × 4 (96 expected)"), "{e}");
        let mut pixels = vec![0.0; 8];
        pixels[5] = f32::NAN;
        assert!(Images::from_pixels([2, 1, 2, 2], pixels).is_err());
    }

    #[test]
    fn a_png_decodes_to_the_same_pixels() {
        let images = two();
        let png = images.to_png(1).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!((info.width, info.height, info.color_type), (3, 2, png::ColorType::Grayscale));
        let expected: Vec<u8> = (6..12).map(|v| (v as f32 / 11.0 * 255.0).round() as u8).collect();
        assert_eq!(&buffer[..6], &expected[..]);
        let html = images.thumbnails(&["a <b>".into()], 1).unwrap();
        assert_eq!(html.matches("<img").count(), 1);
        assert!(html.contains("a &lt;b&gt;"), "{html}");
    }
}

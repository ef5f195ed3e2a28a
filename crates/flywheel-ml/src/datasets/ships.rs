//! A seeded generator of chips in the schema of "Ships in Satellite
//! Imagery" (ShipsNet: Planet Labs' PlanetScope scenes of the San Francisco
//! Bay and San Pedro Bay, published by Robert Hammell on Kaggle, CC BY-SA
//! 4.0). The real chips are not ours to ship; these are drawn by the rules
//! below, which follow the data set's own description. Chip for chip they
//! differ; what a lab learns from them — one ship in four, a third of the
//! "no ship" chips made of the things a detector mistakes for ships — is
//! the same.
//!
//! **Schema, as ShipsNet's:** 80 × 80 RGB chips at about 3 m per pixel
//! (a chip covers 240 m), label `ship` or `no ship`, 1 ship to 3 no-ship.
//! A ship chip is near-centred on one whole ship; the no-ship chips are a
//! third background, a third partial ships and a third confusers
//! (ShipsNet: "images that had previously been mislabeled by machine
//! learning models, caused by strong linear features or bright pixels").
//!
//! | kind | label | how it is drawn |
//! | --- | --- | --- |
//! | `ship` | ship | one whole hull near the centre (±5 px): length log-uniform 8–60 px (24–180 m), beam 13–22 % of the length, heading uniform; bow tapered over 15–40 % of the length (pointed or sleek), square stern; hull colour white, light grey, dark grey, red-brown, black or blue; a lighter deck, a white superstructure aft on most, cargo hatches on some; a shadow 1–2.5 px down-sun; a wake behind half of them; a quarter lie beside a coast |
//! | `open water` | no ship | sea only |
//! | `land` | no ship | vegetation, bare earth or town (buildings, roads) |
//! | `partial ship` | no ship | a ship drawn as above whose centre is placed so that only 15–60 % of its hull is inside the chip |
//! | `dock` | no ship | land along one side and 1–3 straight concrete piers of 3–6 px by 25–70 px into the water |
//! | `wake` | no ship | a ship's wake (turbulent centre line and Kelvin arms at 19.5°) whose hull has left the chip |
//! | `sun glint` | no ship | a patch of bright specular speckles, 15–40 px across |
//! | `waves` | no ship | wave crests 3–8 px apart in one direction, with whitecaps |
//! | `haze` | no ship | cloud or haze over 30–90 % of the chip |
//! | `buoys` | no ship | 1–5 dots of 2–3 px, red, yellow or white |
//! | `barge` | no ship | a blunt box hull (no bow taper, no superstructure) 12–40 px long, 28–40 % as wide, rust, grey or black with cargo patches; beside a pier in 40 % |
//! | `coastline` | no ship | land over about 20–60 % of the chip behind a ragged shore with a beach |
//!
//! Background halves are open water and land; confusers cycle through the
//! eight confuser kinds. Every chip, whatever its kind, is then seen
//! through its own collection conditions: sea colour (dark blue-green to
//! grey-green: red 0.1–0.2, green 0.04–0.12 above it, blue −0.02–0.08 above green), texture (value noise at 3–24 px), mild waves on 30 % and thin
//! haze on 20 %, a gain of 0.85–1.15 and an offset of ±0.03, and sensor
//! noise with a standard deviation of 0.008–0.02 per channel; values are
//! clipped to 0–1. Each chip has its own random stream drawn from the
//! seed, so `ship_chips(n, seed)` is the same on every run and machine of
//! one platform (a golden-hash test keeps it so).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fraud::normal;
use crate::detection::BoundingBox;
use crate::display::{emit, escape, html_table};
use crate::error::{MlError, Result};
use crate::{Images, Labels};

/// Side of a chip, in pixels.
pub const CHIP_SIZE: usize = 80;
/// Ground distance of a pixel, in metres.
pub const METRES_PER_PIXEL: f64 = 3.0;

const N: usize = CHIP_SIZE;
const NF: f32 = CHIP_SIZE as f32;

/// What a chip shows: the ship class and the eleven ways of being no ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChipKind {
    /// One whole ship near the centre (the `ship` class).
    Ship,
    /// Background: sea only.
    OpenWater,
    /// Background: land only.
    Land,
    /// Part of a ship, cut by the chip's border.
    PartialShip,
    /// Confuser: piers into the water.
    Dock,
    /// Confuser: a wake without its hull.
    Wake,
    /// Confuser: bright specular speckles.
    SunGlint,
    /// Confuser: wave crests and whitecaps.
    Waves,
    /// Confuser: haze or cloud.
    Haze,
    /// Confuser: small bright buoys.
    Buoys,
    /// Confuser: a blunt barge.
    Barge,
    /// Confuser: a ragged coastline.
    Coastline,
}

/// The eight confuser kinds, in the order no-ship confusers cycle through them.
const CONFUSERS: [ChipKind; 8] = [
    ChipKind::Dock,
    ChipKind::Wake,
    ChipKind::SunGlint,
    ChipKind::Waves,
    ChipKind::Haze,
    ChipKind::Buoys,
    ChipKind::Barge,
    ChipKind::Coastline,
];

impl ChipKind {
    /// The kind's name, as in the module's table (`"partial ship"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ship => "ship",
            Self::OpenWater => "open water",
            Self::Land => "land",
            Self::PartialShip => "partial ship",
            Self::Dock => "dock",
            Self::Wake => "wake",
            Self::SunGlint => "sun glint",
            Self::Waves => "waves",
            Self::Haze => "haze",
            Self::Buoys => "buoys",
            Self::Barge => "barge",
            Self::Coastline => "coastline",
        }
    }

    /// Whether the kind is one of the confusers (the third third of no-ship chips).
    pub fn is_confuser(self) -> bool {
        CONFUSERS.contains(&self)
    }
}

/// Chips with their labels (`no ship`, `ship`: ship is the positive class)
/// and what each shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipChips {
    /// N × 3 × 80 × 80, RGB in 0–1.
    pub images: Images,
    /// `ship` or `no ship` per chip.
    pub labels: Labels,
    /// What each chip shows (finer than its label).
    pub kinds: Vec<ChipKind>,
}

impl ShipChips {
    /// Number of chips.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether there are no chips.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The chips at the given positions, in that order.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select(&self, rows: &[usize]) -> Result<ShipChips> {
        Ok(ShipChips {
            images: self.images.select(rows)?,
            labels: self.labels.select(rows)?,
            kinds: rows.iter().map(|&i| self.kinds[i]).collect(),
        })
    }

    /// How many chips of each kind, in the kinds' order.
    pub fn kind_counts(&self) -> Vec<(ChipKind, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for &k in &self.kinds {
            *counts.entry(k).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }

    /// The notebook's view: the counts per class and kind, then the first
    /// 24 chips captioned with their kind.
    pub fn evcxr_display(&self) {
        let rows: Vec<Vec<String>> = self
            .kind_counts()
            .into_iter()
            .map(|(k, n)| {
                let class = if k == ChipKind::Ship { "ship" } else { "no ship" };
                vec![k.name().to_owned(), class.to_owned(), n.to_string()]
            })
            .collect();
        let header = ["kind", "class", "chips"].map(String::from);
        let table = html_table(&format!("Ship chips ({})", self.len()), &header, &rows);
        let captions: Vec<String> = self.kinds.iter().map(|k| k.name().to_owned()).collect();
        let grid = self.images.thumbnails(&captions, 24).unwrap_or_else(|e| escape(&e.to_string()));
        emit("text/html", &format!("{table}{grid}"));
    }
}

/// Draws `n` chips from `seed` (see the module's rules).
pub(super) fn generate(n: usize, seed: u64) -> Result<ShipChips> {
    if n == 0 {
        return Err(MlError::InvalidParams("ship_chips needs at least 1 chip".into()));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let ships = n.div_ceil(4);
    let rest = n - ships;
    let mut kinds = vec![ChipKind::Ship; ships];
    for i in 0..rest {
        kinds.push(match i % 3 {
            0 => [ChipKind::OpenWater, ChipKind::Land][(i / 3) % 2],
            1 => ChipKind::PartialShip,
            _ => CONFUSERS[(i / 3) % CONFUSERS.len()],
        });
    }
    // Fisher–Yates, so the order is the seed's.
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.gen_range(0..=i));
    }
    let seeds: Vec<u64> = kinds.iter().map(|_| rng.r#gen()).collect();
    let chips: Vec<Vec<f32>> = kinds.par_iter().zip(&seeds).map(|(&kind, &s)| chip(kind, s)).collect();
    let pixels = chips.concat();
    let images = Images::from_pixels([n, 3, N, N], pixels)?;
    let ids = kinds.iter().map(|&k| usize::from(k == ChipKind::Ship)).collect();
    let labels = Labels::from_ids(ids, vec!["no ship".into(), "ship".into()])?;
    Ok(ShipChips { images, labels, kinds })
}

/// A ship in a scene: its box and heading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SceneShip {
    /// The axis-aligned box around the hull, in pixels.
    pub bbox: BoundingBox,
    /// Where the bow points, in degrees clockwise from the image's +x axis
    /// (east; y grows downwards), 0–360.
    pub heading: f64,
    /// Hull length in metres (3 m per pixel).
    pub length_m: f64,
}

/// One scene: a picture of 512–1024 × 512–1024 pixels and its ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipScene {
    /// 1 × 3 × H × W, RGB in 0–1.
    pub image: Images,
    /// Every whole ship in the picture (barges are not ships).
    pub ships: Vec<SceneShip>,
}

impl ShipScene {
    /// The ships' boxes: the truth for
    /// [`metrics::average_precision_at_iou`](crate::metrics::average_precision_at_iou).
    pub fn boxes(&self) -> Vec<BoundingBox> {
        self.ships.iter().map(|s| s.bbox).collect()
    }

    /// The scene (scaled down to at most 480 pixels a side) with the true
    /// boxes in green and `detections` in orange, each with its score.
    pub fn view(&self, detections: &[crate::detection::Detection]) -> SceneView {
        let [_, _, h, w] = self.image.shape();
        let factor = h.max(w).div_ceil(480);
        let small = self.image.downscaled(factor);
        let scale = 1.0 / factor as f64;
        let png = small.png_data_uri(0);
        let Ok(png) = png else { return SceneView { html: escape("the scene could not be encoded") } };
        let (sw, sh) = (small.width(), small.height());
        let mut html = format!(
            r#"<div style="position:relative;width:{sw}px;height:{sh}px"><img src="{png}" width="{sw}" height="{sh}" style="position:absolute;left:0;top:0" alt="scene">"#
        );
        let frame = |b: &BoundingBox, colour: &str, label: &str| {
            format!(
                r#"<div style="position:absolute;left:{:.1}px;top:{:.1}px;width:{:.1}px;height:{:.1}px;border:2px solid {colour};box-sizing:border-box"><span style="position:absolute;top:-14px;left:0;font-size:10px;color:{colour}">{label}</span></div>"#,
                b.x * scale - 1.0,
                b.y * scale - 1.0,
                b.width * scale + 2.0,
                b.height * scale + 2.0,
            )
        };
        for ship in &self.ships {
            html.push_str(&frame(&ship.bbox, "#2ecc71", ""));
        }
        for d in detections {
            html.push_str(&frame(&d.bbox, "#ff9f1a", &format!("{:.2}", d.score)));
        }
        html.push_str(&format!(
            "</div><div>{w} × {h} px, {} ships (green){}</div>",
            self.ships.len(),
            if detections.is_empty() { String::new() } else { format!(", {} detections (orange)", detections.len()) }
        ));
        SceneView { html }
    }

    /// The notebook's view: [`ShipScene::view`] with no detections.
    pub fn evcxr_display(&self) {
        self.view(&[]).evcxr_display();
    }
}

/// A scene drawn with its boxes, for a notebook (see [`ShipScene::view`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SceneView {
    html: String,
}

impl SceneView {
    /// The view as HTML.
    pub fn to_html(&self) -> &str {
        &self.html
    }

    /// Shows the view in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.html);
    }
}

/// Draws `n` scenes from `seed` (see [`super::ship_scenes`]).
pub(super) fn generate_scenes(n: usize, seed: u64) -> Result<Vec<ShipScene>> {
    if n == 0 {
        return Err(MlError::InvalidParams("ship_scenes needs at least 1 scene".into()));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let seeds: Vec<u64> = (0..n).map(|_| rng.r#gen()).collect();
    seeds.par_iter().map(|&s| scene(s)).collect()
}

/// One scene from its own seed.
fn scene(seed: u64) -> Result<ShipScene> {
    let rng = &mut Xoshiro256PlusPlus::seed_from_u64(seed);
    let (w, h) = (512 + 16 * rng.gen_range(0..=32), 512 + 16 * rng.gen_range(0..=32));
    let sun_angle = uniform(rng, 0.0, std::f32::consts::TAU);
    let sun_distance = uniform(rng, 1.0, 2.5);
    let sun = (sun_angle.cos() * sun_distance, sun_angle.sin() * sun_distance);
    let mut canvas = sea(rng, (w, h));
    // A coast on most, a harbour's piers on half of those.
    let shore = if rng.gen_bool(0.7) {
        let (share, ragged) = (uniform(rng, 0.08, 0.35), uniform(rng, 8.0, 30.0));
        let shore = coast(rng, &mut canvas, share, ragged, 96.0);
        if rng.gen_bool(0.5) {
            let count = rng.gen_range(2..9);
            let first = uniform(rng, -200.0, 0.0);
            let gap = uniform(rng, 25.0, 60.0);
            piers(rng, &mut canvas, &shore, (count, first, gap), (30.0, 120.0), sun);
        }
        Some(shore)
    } else {
        None
    };
    let at_sea = |x: f32, y: f32| shore.as_ref().is_none_or(|s| s.depth(x, y) < -6.0);
    // Ships and barges where there is sea, apart from each other.
    let mut taken: Vec<BoundingBox> = Vec::new();
    let mut place = |rng: &mut Xoshiro256PlusPlus, hull: &mut Hull| {
        for _ in 0..100 {
            (hull.cx, hull.cy) = (uniform(rng, 0.0, w as f32), uniform(rng, 0.0, h as f32));
            let box_ = hull.bbox((w, h));
            let ends = [hull.stern(), (2.0 * hull.cx - hull.stern().0, 2.0 * hull.cy - hull.stern().1)];
            let clear = taken.iter().all(|t| {
                let grown = BoundingBox::new(t.x - 6.0, t.y - 6.0, t.width + 12.0, t.height + 12.0);
                grown.iou(&box_) == 0.0
            });
            if fits(hull, (w, h)) && ends.iter().chain([&(hull.cx, hull.cy)]).all(|&(x, y)| at_sea(x, y)) && clear {
                taken.push(box_);
                return true;
            }
        }
        false
    };
    let mut ships = Vec::new();
    for _ in 0..rng.gen_range(0..=20) {
        let length = uniform(rng, 8f32.ln(), 60f32.ln()).exp();
        let mut hull = Hull::ship(rng, length);
        if place(rng, &mut hull) {
            ships.push(hull);
        }
    }
    let mut barges = Vec::new();
    for _ in 0..rng.gen_range(0..=3) {
        let mut hull = Hull::barge(rng);
        if place(rng, &mut hull) {
            barges.push(hull);
        }
    }
    // Wakes first, so no wake crosses a hull; they share one foam texture.
    let foam = value_noise(rng, (w, h), 3.0, 2);
    for hull in &ships {
        if rng.gen_bool(0.5) {
            wake(rng, &mut canvas, (hull.stern(), hull.cos, hull.sin), hull.beam, Some(&foam));
        }
    }
    for hull in &ships {
        hull.draw(&mut canvas, sun);
    }
    for hull in &barges {
        hull.draw(&mut canvas, sun);
        hull.cargo(rng, &mut canvas);
    }
    for _ in 0..rng.gen_range(0..=12) {
        let at = (uniform(rng, 3.0, w as f32 - 3.0), uniform(rng, 3.0, h as f32 - 3.0));
        if at_sea(at.0, at.1) {
            buoy(rng, &mut canvas, at, sun);
        }
    }
    let image = Images::from_pixels([1, 3, h, w], conditions(rng, canvas))?;
    let ships = ships
        .iter()
        .map(|hull| SceneShip {
            bbox: hull.bbox((w, h)),
            heading: f64::from(hull.sin.atan2(hull.cos).to_degrees().rem_euclid(360.0)),
            length_m: f64::from(hull.length) * METRES_PER_PIXEL,
        })
        .collect();
    Ok(ShipScene { image, ships })
}

/// An RGB picture being drawn: a chip or a scene.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn at(&mut self, x: usize, y: usize) -> &mut [f32; 3] {
        &mut self.px[y * self.w + x]
    }

    /// Mixes `colour` into every pixel with weight `alpha(x, y)` (0–1) at the pixel's centre.
    fn blend(&mut self, colour: impl Fn(f32, f32) -> [f32; 3], alpha: impl Fn(f32, f32) -> f32) {
        self.blend_near((0.0, 0.0), f32::INFINITY, colour, alpha);
    }

    /// [`Canvas::blend`] over the pixels within `reach` of `centre` (in both axes) only.
    fn blend_near(
        &mut self,
        centre: (f32, f32),
        reach: f32,
        colour: impl Fn(f32, f32) -> [f32; 3],
        alpha: impl Fn(f32, f32) -> f32,
    ) {
        let span = |c: f32, n: usize| {
            let lo = (c - reach).floor().clamp(0.0, n as f32) as usize;
            let hi = (c + reach).ceil().clamp(0.0, n as f32) as usize;
            lo..hi
        };
        for y in span(centre.1, self.h) {
            for x in span(centre.0, self.w) {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let a = alpha(fx, fy).clamp(0.0, 1.0);
                if a > 0.0 {
                    let c = colour(fx, fy);
                    let p = self.at(x, y);
                    for k in 0..3 {
                        p[k] += a * (c[k] - p[k]);
                    }
                }
            }
        }
    }

    /// Channels first, clipped to 0–1.
    fn into_planar(self) -> Vec<f32> {
        let plane = self.w * self.h;
        let mut out = vec![0.0; 3 * plane];
        for (i, p) in self.px.iter().enumerate() {
            for k in 0..3 {
                out[k * plane + i] = p[k].clamp(0.0, 1.0);
            }
        }
        out
    }
}

/// A scalar per pixel (noise), read at any point of the picture.
struct Field {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

impl Field {
    /// The value of the pixel holding `(x, y)`, the nearest one outside the picture.
    fn at(&self, x: f32, y: f32) -> f32 {
        let (i, j) = ((x.max(0.0) as usize).min(self.w - 1), (y.max(0.0) as usize).min(self.h - 1));
        self.v[j * self.w + i]
    }
}

fn uniform(rng: &mut Xoshiro256PlusPlus, low: f32, high: f32) -> f32 {
    rng.gen_range(low..high)
}

fn gauss(rng: &mut Xoshiro256PlusPlus) -> f32 {
    normal(rng) as f32
}

/// Value noise over a `w` × `h` picture in about −1…1: random values on a
/// grid of `cell` pixels, smoothly interpolated, summed over `octaves`
/// halvings of the cell with halving weights.
fn value_noise(rng: &mut Xoshiro256PlusPlus, (w, h): (usize, usize), cell: f32, octaves: u32) -> Field {
    let mut field = vec![0.0f32; w * h];
    let (mut size, mut weight, mut total) = (cell, 1.0f32, 0.0f32);
    for _ in 0..octaves {
        let (gw, gh) = ((w as f32 / size).ceil() as usize + 2, (h as f32 / size).ceil() as usize + 2);
        let grid: Vec<f32> = (0..gw * gh).map(|_| uniform(rng, -1.0, 1.0)).collect();
        for y in 0..h {
            for x in 0..w {
                let (gx, gy) = (x as f32 / size, y as f32 / size);
                let (ix, iy) = (gx.floor() as usize, gy.floor() as usize);
                let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
                let (tx, ty) = (smooth(gx.fract()), smooth(gy.fract()));
                let v = |i: usize, j: usize| grid[j * gw + i];
                let top = v(ix, iy) + tx * (v(ix + 1, iy) - v(ix, iy));
                let bottom = v(ix, iy + 1) + tx * (v(ix + 1, iy + 1) - v(ix, iy + 1));
                field[y * w + x] += weight * (top + ty * (bottom - top));
            }
        }
        total += weight;
        size = (size / 2.0).max(1.0);
        weight /= 2.0;
    }
    field.iter_mut().for_each(|v| *v /= total);
    Field { w, h, v: field }
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Open sea of `w` × `h` pixels: a colour between dark blue-green and grey, with texture.
fn sea(rng: &mut Xoshiro256PlusPlus, (w, h): (usize, usize)) -> Canvas {
    let red = uniform(rng, 0.1, 0.2);
    let green = red + uniform(rng, 0.04, 0.12);
    let base = [red, green, green + uniform(rng, -0.02, 0.08)];
    let cell = uniform(rng, 12.0, 24.0);
    let broad = value_noise(rng, (w, h), cell, 3);
    let fine = value_noise(rng, (w, h), 3.0, 1);
    let (a, b) = (uniform(rng, 0.01, 0.035), uniform(rng, 0.004, 0.012));
    Canvas { w, h, px: (0..w * h).map(|i| base.map(|c| c + a * broad.v[i] + b * fine.v[i])).collect() }
}

/// Land (vegetation, bare earth or town) over the pixels where `mask` is positive.
fn land(rng: &mut Xoshiro256PlusPlus, canvas: &mut Canvas, mask: &dyn Fn(f32, f32) -> f32) {
    const VEGETATION: [f32; 3] = [0.24, 0.29, 0.17];
    const EARTH: [f32; 3] = [0.46, 0.39, 0.30];
    const TOWN: [f32; 3] = [0.44, 0.43, 0.42];
    let kind = rng.gen_range(0..3);
    let (first, second) = [(VEGETATION, EARTH), (EARTH, VEGETATION), (TOWN, EARTH)][kind];
    let size = (canvas.w, canvas.h);
    let (width, height) = (canvas.w as f32, canvas.h as f32);
    let mix = value_noise(rng, size, 20.0, 2);
    let texture = value_noise(rng, size, 4.0, 2);
    let amp = uniform(rng, 0.04, 0.08);
    canvas.blend(
        |x, y| {
            let t = smoothstep(-0.3, 0.3, mix.at(x, y));
            std::array::from_fn(|k| first[k] + t * (second[k] - first[k]) + amp * texture.at(x, y))
        },
        mask,
    );
    // Towns have buildings on a street grid; other land a road now and then
    // (as many per 80 × 80 pixels).
    let per_chip = (width * height / (NF * NF)).max(1.0);
    let angle = uniform(rng, 0.0, std::f32::consts::PI);
    let buildings = if kind == 2 { rng.gen_range(8..25) } else { rng.gen_range(0..3) };
    for _ in 0..(buildings as f32 * per_chip) as usize {
        let (cx, cy) = (uniform(rng, 0.0, width), uniform(rng, 0.0, height));
        let (w, h) = (uniform(rng, 2.0, 7.0), uniform(rng, 2.0, 6.0));
        let roof = [[0.7, 0.7, 0.68], [0.3, 0.3, 0.32], [0.55, 0.35, 0.28], [0.85, 0.85, 0.83]][rng.gen_range(0..4)];
        let (cos, sin) = (angle.cos(), angle.sin());
        canvas.blend_near(
            (cx, cy),
            w + h + 1.0,
            |_, _| roof,
            |x, y| {
                let (dx, dy) = (x - cx, y - cy);
                let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                if u.abs() < w && v.abs() < h { mask(x, y) } else { 0.0 }
            },
        );
    }
    if rng.gen_bool(0.4) {
        let (px, py) = (uniform(rng, 0.0, width), uniform(rng, 0.0, height));
        let (cos, sin) = (angle.cos(), angle.sin());
        let width = uniform(rng, 0.8, 1.6);
        canvas.blend(
            |_, _| [0.5, 0.5, 0.5],
            |x, y| {
                let d = (-(x - px) * sin + (y - py) * cos).abs();
                (1.0 - smoothstep(width, width + 1.0, d)) * mask(x, y)
            },
        );
    }
}

/// A shore across the picture: land on the side its normal points to.
struct Shore {
    /// The picture's centre.
    centre: (f32, f32),
    /// Unit normal, pointing inland.
    normal: (f32, f32),
    /// Where the straight shore crosses the normal through the centre.
    offset: f32,
    /// Pixels of raggedness.
    ragged: f32,
    bumps: Field,
}

impl Shore {
    /// A shore with about `land_share` of the picture inland, its bumps
    /// `ragged` pixels deep and about `cell` pixels apart.
    fn new(rng: &mut Xoshiro256PlusPlus, (w, h): (usize, usize), land_share: f32, ragged: f32, cell: f32) -> Shore {
        let angle = uniform(rng, 0.0, std::f32::consts::TAU);
        let normal = (angle.cos(), angle.sin());
        let half_span = 0.5 * (w as f32 * normal.0.abs() + h as f32 * normal.1.abs());
        Shore {
            centre: (w as f32 / 2.0, h as f32 / 2.0),
            normal,
            offset: half_span * (1.0 - 2.0 * land_share),
            ragged,
            bumps: value_noise(rng, (w, h), cell, 3),
        }
    }

    /// How far a point is from the shore, positive inland.
    fn depth(&self, x: f32, y: f32) -> f32 {
        (x - self.centre.0) * self.normal.0 + (y - self.centre.1) * self.normal.1 - self.offset
            + self.ragged * self.bumps.at(x, y)
    }

    /// The land's weight at a point: 0 at sea, 1 inland.
    fn land(&self, x: f32, y: f32) -> f32 {
        smoothstep(-0.7, 0.7, self.depth(x, y))
    }
}

/// Land behind a shore (see [`Shore::new`]), with a sand beach along it.
fn coast(rng: &mut Xoshiro256PlusPlus, canvas: &mut Canvas, land_share: f32, ragged: f32, cell: f32) -> Shore {
    let shore = Shore::new(rng, (canvas.w, canvas.h), land_share, ragged, cell);
    land(rng, canvas, &|x, y| shore.land(x, y));
    let beach = uniform(rng, 0.0, 3.0);
    canvas.blend(
        |_, _| [0.62, 0.57, 0.46],
        |x, y| shore.land(x, y) * (1.0 - smoothstep(beach, beach + 1.0, shore.depth(x, y))),
    );
    shore
}

/// A hull: a ship's or a barge's.
#[derive(Default)]
struct Hull {
    cx: f32,
    cy: f32,
    cos: f32,
    sin: f32,
    length: f32,
    beam: f32,
    /// Share of the length over which the bow narrows (0: a box).
    bow: f32,
    hull: [f32; 3],
    deck: [f32; 3],
    /// A white superstructure aft.
    bridge: bool,
    /// Cargo hatches along the deck.
    hatches: usize,
}

impl Hull {
    fn ship(rng: &mut Xoshiro256PlusPlus, length: f32) -> Hull {
        const COLOURS: [[f32; 3]; 6] = [
            [0.86, 0.86, 0.84],
            [0.62, 0.63, 0.64],
            [0.32, 0.32, 0.34],
            [0.5, 0.22, 0.16],
            [0.1, 0.1, 0.11],
            [0.2, 0.3, 0.5],
        ];
        let hull = COLOURS[rng.gen_range(0..COLOURS.len())];
        let lighter = uniform(rng, 0.05, 0.25);
        let heading = uniform(rng, 0.0, std::f32::consts::TAU);
        Hull {
            cx: 0.0,
            cy: 0.0,
            cos: heading.cos(),
            sin: heading.sin(),
            length,
            beam: (length * uniform(rng, 0.13, 0.22)).max(2.5),
            bow: uniform(rng, 0.15, 0.4),
            hull,
            deck: hull.map(|c| c + lighter * (1.0 - c)),
            bridge: rng.gen_bool(0.7),
            hatches: if rng.gen_bool(0.35) { rng.gen_range(3..8) } else { 0 },
        }
    }

    fn barge(rng: &mut Xoshiro256PlusPlus) -> Hull {
        const COLOURS: [[f32; 3]; 3] = [[0.45, 0.28, 0.18], [0.27, 0.27, 0.29], [0.12, 0.12, 0.12]];
        let length = uniform(rng, 12.0, 40.0);
        let hull = COLOURS[rng.gen_range(0..COLOURS.len())];
        let heading = uniform(rng, 0.0, std::f32::consts::TAU);
        Hull {
            cos: heading.cos(),
            sin: heading.sin(),
            length,
            beam: length * uniform(rng, 0.28, 0.4),
            hull,
            deck: hull.map(|c| c * 1.15),
            ..Hull::default()
        }
    }

    /// `(along, across)`: the point in the hull's frame (along the heading, from the centre).
    fn local(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        (dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos)
    }

    /// The hull's half-width at `along`, or `None` past its ends.
    fn half_width(&self, along: f32) -> Option<f32> {
        let half = self.length / 2.0;
        if along.abs() > half {
            return None;
        }
        let taper = self.bow * self.length;
        let w = self.beam / 2.0;
        Some(if taper > 0.0 && along > half - taper { w * ((half - along) / taper).sqrt() } else { w })
    }

    /// The colour of the hull at a point, or `None` off it.
    fn colour(&self, x: f32, y: f32) -> Option<[f32; 3]> {
        let (u, v) = self.local(x, y);
        let w = self.half_width(u)?;
        if v.abs() > w {
            return None;
        }
        if w - v.abs() < 0.7 {
            return Some(self.hull);
        }
        let half = self.length / 2.0;
        let aft = u + half;
        if self.bridge && aft > 0.08 * self.length && aft < 0.24 * self.length && v.abs() < 0.8 * w {
            return Some([0.93, 0.93, 0.92]);
        }
        if self.hatches > 0 && u > -0.2 * self.length && u < 0.3 * self.length && v.abs() < 0.7 * w {
            let slot = (u + 0.2 * self.length) / (0.5 * self.length) * self.hatches as f32;
            if slot.fract() < 0.7 {
                return Some(self.deck.map(|c| c * 0.7));
            }
        }
        Some(self.deck)
    }

    /// The share of the hull's area inside a `w` × `h` picture (sampled on a grid in its frame).
    fn inside_share(&self, (w, h): (usize, usize)) -> f32 {
        let (mut all, mut inside) = (0u32, 0u32);
        for i in 0..48 {
            let u = -self.length / 2.0 + self.length * (i as f32 + 0.5) / 48.0;
            let Some(half) = self.half_width(u) else { continue };
            for j in 0..7 {
                let v = -half + 2.0 * half * (j as f32 + 0.5) / 7.0;
                let (x, y) = (self.cx + u * self.cos - v * self.sin, self.cy + u * self.sin + v * self.cos);
                all += 1;
                inside += u32::from((0.0..w as f32).contains(&x) && (0.0..h as f32).contains(&y));
            }
        }
        inside as f32 / all.max(1) as f32
    }

    /// Cargo heaps on a barge's deck: darker and lighter patches.
    fn cargo(&self, rng: &mut Xoshiro256PlusPlus, canvas: &mut Canvas) {
        let heaps = value_noise(rng, (canvas.w, canvas.h), 4.0, 2);
        let (half, w) = (self.length / 2.0 - 1.5, self.beam / 2.0 - 1.5);
        canvas.blend_near(
            (self.cx, self.cy),
            self.length / 2.0 + self.beam + 2.0,
            |x, y| {
                let shade = 0.35 + 0.3 * heaps.at(x, y);
                [shade, shade * 0.95, shade * 0.85]
            },
            |x, y| {
                let (u, v) = self.local(x, y);
                if u.abs() < half && v.abs() < w { 0.6 } else { 0.0 }
            },
        );
    }

    /// The corners of the hull's length × beam rectangle, in picture coordinates.
    fn corners(&self) -> [(f32, f32); 4] {
        let (along, across) = (self.length / 2.0, self.beam / 2.0);
        [(along, across), (along, -across), (-along, across), (-along, -across)]
            .map(|(u, v)| (self.cx + u * self.cos - v * self.sin, self.cy + u * self.sin + v * self.cos))
    }

    /// The axis-aligned box around the hull, clipped to a `w` × `h` picture.
    fn bbox(&self, (w, h): (usize, usize)) -> BoundingBox {
        let corners = self.corners();
        let (x0, x1) = corners.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(c.0), hi.max(c.0)));
        let (y0, y1) = corners.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(c.1), hi.max(c.1)));
        let (x0, y0) = (x0.max(0.0), y0.max(0.0));
        let (x1, y1) = (x1.min(w as f32), y1.min(h as f32));
        BoundingBox::new(f64::from(x0), f64::from(y0), f64::from(x1 - x0), f64::from(y1 - y0))
    }

    /// The stern's midpoint.
    fn stern(&self) -> (f32, f32) {
        (self.cx - self.cos * self.length / 2.0, self.cy - self.sin * self.length / 2.0)
    }

    /// Draws the hull (3 × 3 samples a pixel), with its shadow `sun` pixels away first.
    fn draw(&self, canvas: &mut Canvas, sun: (f32, f32)) {
        let reach = self.length / 2.0 + self.beam + 3.0;
        let span = |c: f32, n: usize| {
            ((c - reach).floor().clamp(0.0, n as f32) as usize)..((c + reach).ceil().clamp(0.0, n as f32) as usize)
        };
        for pass in 0..2 {
            let (sx, sy) = if pass == 0 { sun } else { (0.0, 0.0) };
            for y in span(self.cy + sy, canvas.h) {
                for x in span(self.cx + sx, canvas.w) {
                    let (mut covered, mut sum) = (0u32, [0.0f32; 3]);
                    for j in 0..3 {
                        for i in 0..3 {
                            let (px, py) = (x as f32 + (i as f32 + 0.5) / 3.0, y as f32 + (j as f32 + 0.5) / 3.0);
                            if let Some(c) = self.colour(px - sx, py - sy) {
                                covered += 1;
                                (0..3).for_each(|k| sum[k] += c[k]);
                            }
                        }
                    }
                    if covered == 0 {
                        continue;
                    }
                    let a = covered as f32 / 9.0;
                    let p = canvas.at(x, y);
                    for k in 0..3 {
                        p[k] = if pass == 0 {
                            p[k] * (1.0 - 0.4 * a)
                        } else {
                            p[k] + a * (sum[k] / covered as f32 - p[k])
                        };
                    }
                }
            }
        }
    }
}

/// A wake behind a stern at `(sx, sy)` heading `(cos, sin)`: a turbulent
/// centre line and the two Kelvin arms at about 19.5° (tan = 0.354).
/// Its foam's texture is `foam`, or a new field when `None`.
fn wake(
    rng: &mut Xoshiro256PlusPlus,
    canvas: &mut Canvas,
    (stern, cos, sin): ((f32, f32), f32, f32),
    beam: f32,
    foam: Option<&Field>,
) {
    let strength = uniform(rng, 0.25, 0.6);
    let decay = uniform(rng, 20.0, 70.0);
    let own;
    let foam = match foam {
        Some(field) => field,
        None => {
            own = value_noise(rng, (canvas.w, canvas.h), 3.0, 2);
            &own
        }
    };
    // Past five decay lengths the wake is gone.
    canvas.blend_near(
        stern,
        5.0 * decay,
        |_, _| [0.82, 0.86, 0.88],
        |x, y| {
            let (dx, dy) = (x - stern.0, y - stern.1);
            let (behind, across) = (-(dx * cos + dy * sin), -dx * sin + dy * cos);
            if behind <= 0.0 {
                return 0.0;
            }
            let spread = beam / 2.0 + 0.08 * behind;
            let centre = (-(across / spread).powi(2)).exp() * (-behind / decay).exp();
            let arm_width = 0.8 + 0.04 * behind;
            let arm =
                0.5 * (-((across.abs() - 0.354 * behind) / arm_width).powi(2)).exp() * (-behind / (0.7 * decay)).exp();
            strength * (centre + arm) * (0.75 + 0.25 * foam.at(x, y))
        },
    );
}

/// A pier `length` pixels long from `from` along `(cos, sin)`.
fn pier(
    rng: &mut Xoshiro256PlusPlus,
    canvas: &mut Canvas,
    from: (f32, f32),
    (cos, sin): (f32, f32),
    length: f32,
    sun: (f32, f32),
) {
    let width = uniform(rng, 1.5, 3.0);
    let grey = uniform(rng, 0.55, 0.75);
    let on = |x: f32, y: f32| {
        let (dx, dy) = (x - from.0, y - from.1);
        let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
        let along = smoothstep(-0.5, 0.5, u) * (1.0 - smoothstep(length - 0.5, length + 0.5, u));
        along * (1.0 - smoothstep(width - 0.5, width + 0.5, v.abs()))
    };
    let middle = (from.0 + cos * length / 2.0, from.1 + sin * length / 2.0);
    let reach = length / 2.0 + width + 4.0;
    canvas.blend_near(middle, reach, |_, _| [0.0, 0.0, 0.0], |x, y| 0.35 * on(x - sun.0, y - sun.1));
    canvas.blend_near(middle, reach, |_, _| [grey, grey, grey * 0.97], on);
}

/// Piers side by side from the shore straight out to sea: `count` of them,
/// the first `first` pixels along the shore from the centre's foot on it,
/// `gap` apart, each of a length drawn from `lengths`.
fn piers(
    rng: &mut Xoshiro256PlusPlus,
    canvas: &mut Canvas,
    shore: &Shore,
    (count, first, gap): (usize, f32, f32),
    lengths: (f32, f32),
    sun: (f32, f32),
) {
    let (nx, ny) = shore.normal;
    let (tx, ty) = (-ny, nx);
    let foot = (shore.centre.0 + nx * shore.offset, shore.centre.1 + ny * shore.offset);
    for k in 0..count {
        let t = first + gap * k as f32;
        let from = (foot.0 + tx * t + nx * 4.0, foot.1 + ty * t + ny * 4.0);
        let length = uniform(rng, lengths.0, lengths.1);
        pier(rng, canvas, from, (-nx, -ny), length, sun);
    }
}

/// A buoy at `at`: a red, yellow or white dot of 2–3 px with its shadow.
fn buoy(rng: &mut Xoshiro256PlusPlus, canvas: &mut Canvas, (bx, by): (f32, f32), sun: (f32, f32)) {
    let r = uniform(rng, 0.8, 1.5);
    let colour = [[0.8, 0.2, 0.15], [0.85, 0.8, 0.2], [0.9, 0.9, 0.9]][rng.gen_range(0..3)];
    let dot = move |x: f32, y: f32| 1.0 - smoothstep(r - 0.5, r + 0.5, ((x - bx).powi(2) + (y - by).powi(2)).sqrt());
    canvas.blend_near((bx, by), r + 4.0, |_, _| [0.0, 0.0, 0.0], |x, y| 0.35 * dot(x - sun.0 * 0.5, y - sun.1 * 0.5));
    canvas.blend_near((bx, by), r + 4.0, |_, _| colour, dot);
}

/// A point on the chip's border, and the inward direction there.
fn border_point(rng: &mut Xoshiro256PlusPlus) -> ((f32, f32), (f32, f32)) {
    let t = uniform(rng, 10.0, NF - 10.0);
    match rng.gen_range(0..4) {
        0 => ((t, 0.0), (0.0, 1.0)),
        1 => ((t, NF), (0.0, -1.0)),
        2 => ((0.0, t), (1.0, 0.0)),
        _ => ((NF, t), (-1.0, 0.0)),
    }
}

/// One chip of `kind` from its own seed: N·N·3 values, channels first.
fn chip(kind: ChipKind, seed: u64) -> Vec<f32> {
    let rng = &mut Xoshiro256PlusPlus::seed_from_u64(seed);
    let sun_angle = uniform(rng, 0.0, std::f32::consts::TAU);
    let sun_distance = uniform(rng, 1.0, 2.5);
    let sun = (sun_angle.cos() * sun_distance, sun_angle.sin() * sun_distance);
    let mut canvas = sea(rng, (N, N));
    match kind {
        ChipKind::Ship => {
            if rng.gen_bool(0.25) {
                let share = uniform(rng, 0.05, 0.2);
                coast(rng, &mut canvas, share, 3.0, 16.0);
            }
            let length = uniform(rng, 8f32.ln(), 60f32.ln()).exp();
            let mut hull = Hull::ship(rng, length);
            (hull.cx, hull.cy) = (NF / 2.0 + uniform(rng, -5.0, 5.0), NF / 2.0 + uniform(rng, -5.0, 5.0));
            while !fits(&hull, (N, N)) {
                hull.length *= 0.9;
                hull.beam = (hull.beam * 0.9).max(2.5);
            }
            if rng.gen_bool(0.5) {
                wake(rng, &mut canvas, (hull.stern(), hull.cos, hull.sin), hull.beam, None);
            }
            hull.draw(&mut canvas, sun);
        }
        ChipKind::OpenWater => {}
        ChipKind::Land => land(rng, &mut canvas, &|_, _| 1.0),
        ChipKind::PartialShip => {
            let length = uniform(rng, 20.0, 60.0);
            let mut hull = Hull::ship(rng, length);
            for _ in 0..64 {
                let ((bx, by), (ix, iy)) = border_point(rng);
                let depth = uniform(rng, -0.4, 0.45) * hull.length;
                (hull.cx, hull.cy) = (bx + ix * depth, by + iy * depth);
                if (0.15..=0.6).contains(&hull.inside_share((N, N))) {
                    break;
                }
            }
            if rng.gen_bool(0.3) {
                wake(rng, &mut canvas, (hull.stern(), hull.cos, hull.sin), hull.beam, None);
            }
            hull.draw(&mut canvas, sun);
        }
        ChipKind::Dock => {
            let (share, ragged) = (uniform(rng, 0.1, 0.3), uniform(rng, 0.0, 1.5));
            let shore = coast(rng, &mut canvas, share, ragged, 16.0);
            let count = rng.gen_range(1..4);
            let first = uniform(rng, -30.0, -5.0);
            let gap = uniform(rng, 12.0, 25.0);
            piers(rng, &mut canvas, &shore, (count, first, gap), (25.0, 70.0), sun);
        }
        ChipKind::Wake => {
            let ((bx, by), (ix, iy)) = border_point(rng);
            let turn = uniform(rng, -0.8, 0.8);
            let (cos, sin) = (-(ix * turn.cos() - iy * turn.sin()), -(ix * turn.sin() + iy * turn.cos()));
            let (beyond, beam) = (uniform(rng, 2.0, 20.0), uniform(rng, 3.0, 10.0));
            wake(rng, &mut canvas, ((bx + cos * beyond, by + sin * beyond), cos, sin), beam, None);
        }
        ChipKind::SunGlint => {
            let (gx, gy) = (uniform(rng, 10.0, NF - 10.0), uniform(rng, 10.0, NF - 10.0));
            let sigma = uniform(rng, 7.0, 20.0);
            let speckle: Vec<f32> = (0..N * N).map(|_| rng.r#gen::<f32>()).collect();
            let bright: Vec<f32> = (0..N * N).map(|_| uniform(rng, 0.3, 0.8)).collect();
            canvas.blend(
                |_, _| [0.95, 0.95, 0.93],
                |x, y| {
                    let density = (-((x - gx).powi(2) + (y - gy).powi(2)) / (2.0 * sigma * sigma)).exp();
                    let i = (y as usize).min(N - 1) * N + (x as usize).min(N - 1);
                    0.15 * density + if speckle[i] < 0.4 * density { bright[i] } else { 0.0 }
                },
            );
        }
        ChipKind::Waves => {
            let amp = uniform(rng, 0.04, 0.1);
            waves(rng, &mut canvas, amp, true);
        }
        ChipKind::Haze => {
            let cell = uniform(rng, 15.0, 35.0);
            let cloud = value_noise(rng, (N, N), cell, 4);
            let cover = uniform(rng, 0.3, 0.9);
            let mut sorted = cloud.v.clone();
            sorted.sort_by(f32::total_cmp);
            let threshold = sorted[((1.0 - cover) * (N * N) as f32) as usize];
            let thickness = uniform(rng, 0.6, 0.95);
            canvas.blend(
                |_, _| [0.84, 0.86, 0.89],
                |x, y| thickness * smoothstep(threshold - 0.05, threshold + 0.15, cloud.at(x, y)),
            );
        }
        ChipKind::Buoys => {
            for _ in 0..rng.gen_range(1..6) {
                let at = (uniform(rng, 3.0, NF - 3.0), uniform(rng, 3.0, NF - 3.0));
                buoy(rng, &mut canvas, at, sun);
            }
        }
        ChipKind::Barge => {
            let mut hull = Hull::barge(rng);
            (hull.cx, hull.cy) = (NF / 2.0 + uniform(rng, -8.0, 8.0), NF / 2.0 + uniform(rng, -8.0, 8.0));
            while !fits(&hull, (N, N)) {
                hull.length *= 0.9;
                hull.beam *= 0.9;
            }
            if rng.gen_bool(0.4) {
                // Moored along a pier beside it, which runs past both ends.
                let (offset, back) = (hull.beam / 2.0 + 3.5, hull.length / 2.0 + 12.0);
                let from =
                    (hull.cx - hull.cos * back - hull.sin * offset, hull.cy - hull.sin * back + hull.cos * offset);
                pier(rng, &mut canvas, from, (hull.cos, hull.sin), 2.0 * back, sun);
            }
            hull.draw(&mut canvas, sun);
            hull.cargo(rng, &mut canvas);
        }
        ChipKind::Coastline => {
            let (share, ragged) = (uniform(rng, 0.2, 0.6), uniform(rng, 3.0, 9.0));
            coast(rng, &mut canvas, share, ragged, 16.0);
        }
    }
    conditions(rng, canvas)
}

/// Whether a hull lies wholly inside the chip with a pixel to spare.
fn fits(hull: &Hull, (w, h): (usize, usize)) -> bool {
    hull.corners().iter().all(|&(x, y)| (1.0..w as f32 - 1.0).contains(&x) && (1.0..h as f32 - 1.0).contains(&y))
}

/// Wave crests of amplitude `amp` in one direction; with `whitecaps`, foam on the highest.
fn waves(rng: &mut Xoshiro256PlusPlus, canvas: &mut Canvas, amp: f32, whitecaps: bool) {
    let angle = uniform(rng, 0.0, std::f32::consts::PI);
    let wavelength = uniform(rng, 3.0, 8.0);
    let phase = value_noise(rng, (canvas.w, canvas.h), 12.0, 2);
    let caps: Vec<f32> = (0..canvas.w * canvas.h).map(|_| rng.r#gen::<f32>()).collect();
    let (cos, sin) = (angle.cos(), angle.sin());
    for y in 0..canvas.h {
        for x in 0..canvas.w {
            let i = y * canvas.w + x;
            let crest =
                (std::f32::consts::TAU * (x as f32 * cos + y as f32 * sin) / wavelength + 2.5 * phase.v[i]).sin();
            let foam = if whitecaps && crest > 0.85 && caps[i] < 0.12 { 0.3 } else { 0.0 };
            for c in canvas.at(x, y) {
                *c += amp * crest + foam * (0.9 - *c);
            }
        }
    }
}

/// The picture's collection conditions (see the module's table), then channels first.
fn conditions(rng: &mut Xoshiro256PlusPlus, mut canvas: Canvas) -> Vec<f32> {
    if rng.gen_bool(0.3) {
        let amp = uniform(rng, 0.005, 0.02);
        waves(rng, &mut canvas, amp, false);
    }
    if rng.gen_bool(0.2) {
        let thin = uniform(rng, 0.03, 0.15);
        canvas.blend(|_, _| [0.8, 0.82, 0.85], |_, _| thin);
    }
    let gain = uniform(rng, 0.85, 1.15);
    let offset = uniform(rng, -0.03, 0.03);
    let noise = uniform(rng, 0.008, 0.02);
    for p in &mut canvas.px {
        for c in p.iter_mut() {
            *c = *c * gain + offset + noise * gauss(rng);
        }
    }
    canvas.into_planar()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ship_in_four_and_the_no_ship_chips_in_thirds() {
        let chips = generate(120, 1).unwrap();
        assert_eq!(chips.images.shape(), [120, 3, 80, 80]);
        assert_eq!(chips.labels.counts(), vec![("no ship".to_owned(), 90), ("ship".to_owned(), 30)]);
        let count = |f: &dyn Fn(ChipKind) -> bool| chips.kinds.iter().filter(|&&k| f(k)).count();
        assert_eq!(count(&|k| matches!(k, ChipKind::OpenWater | ChipKind::Land)), 30);
        assert_eq!(count(&|k| k == ChipKind::PartialShip), 30);
        assert_eq!(count(&|k| k.is_confuser()), 30);
        // Every kind appears, and labels follow kinds.
        assert_eq!(chips.kind_counts().len(), 12);
        for (i, &k) in chips.kinds.iter().enumerate() {
            assert_eq!(chips.labels.is_positive(i), k == ChipKind::Ship);
        }
        assert!(chips.images.as_slice().iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn the_same_seed_draws_the_same_chips() {
        let (a, b, c) = (generate(12, 5).unwrap(), generate(12, 5).unwrap(), generate(12, 6).unwrap());
        assert_eq!(a, b);
        assert_ne!(a.images, c.images);
        assert!(generate(0, 5).is_err());
    }

    /// How much a chip's centre (the middle 24 × 24 pixels) stands out from
    /// its edge band: the mean absolute difference of the brightness from
    /// the band's median.
    fn centre_contrast(chips: &ShipChips, i: usize) -> f32 {
        let brightness =
            |x: usize, y: usize| (0..3).map(|c| chips.images.pixel(i, c, y, x).unwrap()).sum::<f32>() / 3.0;
        let mut band: Vec<f32> = (0..N)
            .flat_map(|y| (0..N).map(move |x| (x, y)))
            .filter(|&(x, y)| x < 6 || y < 6 || x >= N - 6 || y >= N - 6)
            .map(|(x, y)| brightness(x, y))
            .collect();
        band.sort_by(f32::total_cmp);
        let median = band[band.len() / 2];
        let centre: Vec<f32> = (28..52)
            .flat_map(|y| (28..52).map(move |x| (x, y)))
            .map(|(x, y)| (brightness(x, y) - median).abs())
            .collect();
        centre.iter().sum::<f32>() / centre.len() as f32
    }

    #[test]
    fn ships_stand_out_at_the_centre_and_open_water_does_not() {
        let chips = generate(200, 3).unwrap();
        let mean = |kind: ChipKind| {
            let of: Vec<f32> =
                (0..chips.len()).filter(|&i| chips.kinds[i] == kind).map(|i| centre_contrast(&chips, i)).collect();
            of.iter().sum::<f32>() / of.len() as f32
        };
        let (ship, water) = (mean(ChipKind::Ship), mean(ChipKind::OpenWater));
        assert!(ship > 3.0 * water, "ship {ship}, open water {water}");
    }

    #[test]
    fn a_partial_ship_is_cut_by_the_border() {
        let rng = &mut Xoshiro256PlusPlus::seed_from_u64(9);
        let mut hull = Hull::ship(rng, 40.0);
        (hull.cx, hull.cy) = (40.0, 40.0);
        assert!((hull.inside_share((N, N)) - 1.0).abs() < 1e-6 && fits(&hull, (N, N)));
        (hull.cx, hull.cy) = (-100.0, 40.0);
        assert_eq!(hull.inside_share((N, N)), 0.0);
        (hull.cx, hull.cy, hull.cos, hull.sin) = (0.0, 40.0, 1.0, 0.0);
        assert!((hull.inside_share((N, N)) - 0.5).abs() < 0.1, "{}", hull.inside_share((N, N)));
    }

    /// The chips of seed 2024, byte for byte (8-bit pixels and labels):
    /// a change to any rule changes this hash, and must change the docs with it.
    #[test]
    fn the_generator_is_pinned_by_a_golden_hash() {
        use sha2::Digest as _;
        let chips = generate(16, 2024).unwrap();
        let mut hash = sha2::Sha256::new();
        let bytes: Vec<u8> = chips.images.as_slice().iter().map(|&p| (p * 255.0).round() as u8).collect();
        hash.update(&bytes);
        hash.update(chips.labels.ids().iter().map(|&l| l as u8).collect::<Vec<_>>());
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b8962bef0cf969342566ba3bca3edd37c050b3f6ca9d62038baa93ffe1362cde");
    }

    /// The largest difference in brightness between a pixel in `b` and the
    /// median of a 4-pixel ring around it.
    fn stands_out(image: &Images, b: &BoundingBox) -> f32 {
        let [_, _, h, w] = image.shape();
        let brightness = |x: usize, y: usize| (0..3).map(|c| image.pixel(0, c, y, x).unwrap()).sum::<f32>() / 3.0;
        let (x0, y0) = (b.x as usize, b.y as usize);
        let (x1, y1) = (((b.x + b.width).ceil() as usize).min(w), ((b.y + b.height).ceil() as usize).min(h));
        let mut ring = Vec::new();
        for y in y0.saturating_sub(4)..(y1 + 4).min(h) {
            for x in x0.saturating_sub(4)..(x1 + 4).min(w) {
                if x < x0 || x >= x1 || y < y0 || y >= y1 {
                    ring.push(brightness(x, y));
                }
            }
        }
        ring.sort_by(f32::total_cmp);
        let median = ring[ring.len() / 2];
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .map(|(x, y)| (brightness(x, y) - median).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn scenes_hold_boxed_ships_at_sea_apart_from_each_other() {
        // One scene: in a debug build a scene takes seconds.
        let scenes = generate_scenes(1, 11).unwrap();
        let (mut ships, mut standing_out) = (0, Vec::new());
        for scene in &scenes {
            let [n, c, h, w] = scene.image.shape();
            assert_eq!((n, c), (1, 3));
            assert!((512..=1024).contains(&h) && (512..=1024).contains(&w));
            for (i, a) in scene.ships.iter().enumerate() {
                let b = a.bbox;
                assert!(b.x >= 0.0 && b.y >= 0.0 && b.x + b.width <= w as f64 && b.y + b.height <= h as f64, "{b:?}");
                assert!((24.0..=180.0).contains(&a.length_m) && (0.0..360.0).contains(&a.heading), "{a:?}");
                assert!(scene.ships[i + 1..].iter().all(|o| o.bbox.iou(&b) == 0.0));
                standing_out.push(stands_out(&scene.image, &b));
            }
            ships += scene.ships.len();
        }
        assert!(ships >= 5, "{ships} ships in the scene");
        // The box holds the hull: something in it differs from the sea around it.
        standing_out.sort_by(f32::total_cmp);
        let share = standing_out.iter().filter(|&&d| d > 0.12).count() as f32 / standing_out.len() as f32;
        assert!(share >= 0.8, "{standing_out:?}");
        let html = scenes[0].view(&[]).to_html().to_owned();
        assert_eq!(html.matches("border:2px solid #2ecc71").count(), scenes[0].ships.len());
    }
}

//! Geo indexes on sorted sets, as Redis builds them: a point is a member
//! whose score is its 52-bit interleaved geohash, so GEOADD on Kiln and on
//! Redis store the same scores and a DUMP moves between them unchanged.
//!
//! ```text
//!  score = interleave(lat cell, lon cell) over 26 steps   (lat bits even, lon bits odd)
//!  lat ∈ [-85.05112878, 85.05112878]   lon ∈ [-180, 180]   (the Web Mercator square)
//! ```
//!
//! A radius or box search covers its shape with the cell it is centred in
//! and that cell's eight neighbours, at the coarsest step Redis estimates
//! for the radius ([`Query::areas`]), reads each cell's score interval from
//! the sorted set, and keeps the points whose exact (haversine) distance or
//! box test passes. The cells, their order and the early stop of `COUNT n
//! ANY` are Redis's, so even an unsorted reply comes in Redis's order.

use bytes::Bytes;

use crate::error::StoreError;
use crate::shard::Shard;
use crate::zset::{ScoreRange, ZSet};

/// Southmost latitude a point may have.
pub const LAT_MIN: f64 = -85.05112878;
/// Northmost latitude a point may have.
pub const LAT_MAX: f64 = 85.05112878;
/// Westmost longitude.
pub const LON_MIN: f64 = -180.0;
/// Eastmost longitude.
pub const LON_MAX: f64 = 180.0;
/// Steps (bits per coordinate) of a stored score.
pub const STEP_MAX: u8 = 26;
/// Redis's earth radius (WGS-84 quadratic mean), in meters.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Web Mercator square's side, in meters (the step estimate's
/// bound).
const MERCATOR_MAX: f64 = 20037726.37;
/// The most points one search may collect before sorting and COUNT: a
/// reply (or stored set) past it is refused, as SORT refuses one.
pub const MAX_GEO_RESULTS: usize = 1 << 24;

/// Degrees per radian's inverse, as Redis computes it.
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(deg: f64) -> f64 {
    deg * D_R
}

fn rad_deg(rad: f64) -> f64 {
    rad / D_R
}

/// A coordinate interval a geohash subdivides.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    min: f64,
    max: f64,
}

const LON_SPAN: Span = Span {
    min: LON_MIN,
    max: LON_MAX,
};
const LAT_SPAN: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A geohash cell: `2 * step` interleaved bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    bits: u64,
    step: u8,
}

/// Spreads the 32 bits of `v` over the even bit positions of a `u64`.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into a `u32` (inverse of [`spread`]).
fn gather(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude cell in the even bits, longitude cell in the odd ones.
fn interleave(lat_cell: u32, lon_cell: u32) -> u64 {
    spread(lat_cell) | (spread(lon_cell) << 1)
}

/// `(lat cell, lon cell)` of interleaved bits.
fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// Whether a point is one a geo set may hold.
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The cell of `step` holding a point, over the given spans; `None` for a
/// point outside them (or outside the geo limits).
fn encode_in(lon_span: Span, lat_span: Span, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !valid(lon, lat)
        || lat < lat_span.min
        || lat > lat_span.max
        || lon < lon_span.min
        || lon > lon_span.max
    {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_span.min) / (lat_span.max - lat_span.min) * cells;
    let lon_offset = (lon - lon_span.min) / (lon_span.max - lon_span.min) * cells;
    // Truncated as C converts; the northmost (eastmost) edge gives 2^step,
    // one past the last cell, exactly as in Redis.
    Some(Cell {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LON_SPAN, LAT_SPAN, lon, lat, step)
}

/// The score GEOADD stores for a point (`None` outside the geo limits).
pub fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|c| align52(c) as f64)
}

/// A cell's bits moved to the top of a 52-bit score.
fn align52(cell: Cell) -> u64 {
    cell.bits << (52 - 2 * u32::from(cell.step))
}

/// A cell's corners: `(lon min, lon max, lat min, lat max)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Area {
    lon: Span,
    lat: Span,
}

fn decode_cell(cell: Cell) -> Area {
    let (lat_cell, lon_cell) = deinterleave(cell.bits);
    let cells = (1u64 << cell.step) as f64;
    let lat_scale = LAT_SPAN.max - LAT_SPAN.min;
    let lon_scale = LON_SPAN.max - LON_SPAN.min;
    let at = |span: Span, scale: f64, i: u32| span.min + (f64::from(i) / cells) * scale;
    Area {
        lat: Span {
            min: at(LAT_SPAN, lat_scale, lat_cell),
            max: LAT_SPAN.min + ((f64::from(lat_cell) + 1.0) / cells) * lat_scale,
        },
        lon: Span {
            min: at(LON_SPAN, lon_scale, lon_cell),
            max: LON_SPAN.min + ((f64::from(lon_cell) + 1.0) / cells) * lon_scale,
        },
    }
}

/// The point a score stands for: its cell's centre, within the limits.
pub fn position(score: f64) -> (f64, f64) {
    let area = decode_cell(Cell {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// GEOHASH's 11-character string for a score: the position re-encoded
/// over the standard ±90° latitude range (the stored one is ±85°), the
/// last character always `0` (52 bits give 10 of them).
pub fn hash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = position(score);
    let standard = Span {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode_in(LON_SPAN, standard, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, ch) in out.iter_mut().take(10).enumerate() {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *ch = ALPHABET[idx as usize];
    }
    out
}

/// Meters along a meridian between two latitudes.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance in meters (Redis's haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The step whose cells (with their neighbours) cover a radius.
fn estimate_step(mut range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    // Cells narrow towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// A cell `d_lon`, `d_lat` cells away (±1 or 0), wrapping around.
fn moved(cell: Cell, d_lon: i64, d_lat: i64) -> Cell {
    let (lat_cell, lon_cell) = deinterleave(cell.bits);
    let mask = (1u64 << cell.step) - 1;
    let shift = |v: u32, d: i64| ((i64::from(v) + d) as u64 & mask) as u32;
    Cell {
        bits: interleave(shift(lat_cell, d_lat), shift(lon_cell, d_lon)),
        step: cell.step,
    }
}

/// What a search covers around its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// BYRADIUS: a radius, in the unit.
    Radius(f64),
    /// BYBOX: width and height, in the unit.
    Box {
        /// East-west extent.
        width: f64,
        /// North-south extent.
        height: f64,
    },
}

/// One GEOSEARCH / GEORADIUS query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// The area searched.
    pub shape: Shape,
    /// Meters per unit of the shape (M 1, KM 1000, FT 0.3048, MI 1609.34).
    pub to_meters: f64,
}

/// A point a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoPoint {
    /// The member.
    pub member: Bytes,
    /// Its score (the 52-bit geohash).
    pub score: f64,
    /// Its longitude.
    pub lon: f64,
    /// Its latitude.
    pub lat: f64,
    /// Its distance from the centre, in meters.
    pub dist: f64,
}

impl Query {
    /// `(lon min, lat min, lon max, lat max)` of the shape.
    fn bounds(&self) -> [f64; 4] {
        let (half_w, half_h) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (width / 2.0, height / 2.0),
        };
        let (w, h) = (half_w * self.to_meters, half_h * self.to_meters);
        let lat_delta = rad_deg(h / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(w / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(w / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        // The edge nearer the pole is the wider one.
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The nine cells searched, in Redis's order (centre, N, S, E, W, NE,
    /// NW, SE, SW); `None` for one the shape cannot reach.
    fn areas(&self) -> [Option<Cell>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_m = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0).powi(2) + (height / 2.0).powi(2)).sqrt(),
        } * self.to_meters;
        let mut step = estimate_step(radius_m, self.lat);
        let neighbours = |c: Cell| {
            [
                c,
                moved(c, 0, 1),
                moved(c, 0, -1),
                moved(c, 1, 0),
                moved(c, -1, 0),
                moved(c, 1, 1),
                moved(c, -1, 1),
                moved(c, 1, -1),
                moved(c, -1, -1),
            ]
        };
        // The centre is valid (checked when parsed or stored).
        let centre = |step| encode(self.lon, self.lat, step).unwrap_or(Cell { bits: 0, step });
        let mut cells = neighbours(centre(step));
        // A shape reaching past the neighbours needs a coarser step.
        let (north, south) = (decode_cell(cells[1]), decode_cell(cells[2]));
        let (east, west) = (decode_cell(cells[3]), decode_cell(cells[4]));
        let too_fine = north.lat.max < max_lat
            || south.lat.min > min_lat
            || east.lon.max < max_lon
            || west.lon.min > min_lon;
        if step > 1 && too_fine {
            step -= 1;
            cells = neighbours(centre(step));
        }
        let mut out = cells.map(Some);
        if step >= 2 {
            let area = decode_cell(cells[0]);
            let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| out[i] = None);
            if area.lat.min < min_lat {
                drop([2, 8, 7]);
            }
            if area.lat.max > max_lat {
                drop([1, 5, 6]);
            }
            if area.lon.min < min_lon {
                drop([4, 8, 6]);
            }
            if area.lon.max > max_lon {
                drop([3, 7, 5]);
            }
        }
        out
    }

    /// The point's distance from the centre if it lies within the shape.
    fn within(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.to_meters).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.to_meters, height * self.to_meters);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The points of `z` within the shape, in Redis's (cell, then score)
    /// order; with `limit` > 0 it stops once that many are found (ANY).
    pub fn run(&self, z: &ZSet, limit: usize) -> Result<Vec<GeoPoint>, StoreError> {
        let cells = self.areas();
        let mut found: Vec<GeoPoint> = Vec::new();
        let full = |found: &Vec<GeoPoint>| limit != 0 && found.len() >= limit;
        let mut last: Option<Cell> = None;
        for (i, cell) in cells.iter().enumerate() {
            let Some(cell) = *cell else { continue };
            // At very large radii neighbours coincide: a cell equal to the
            // one searched just before is skipped (Redis never compares
            // with the centre cell, so neither do we).
            if i > 0 && last == Some(cell) {
                continue;
            }
            if full(&found) {
                break;
            }
            let min = align52(cell) as f64;
            let max = align52(Cell {
                bits: cell.bits + 1,
                step: cell.step,
            }) as f64;
            let (lo, hi) = ScoreRange {
                min,
                min_exclusive: false,
                max,
                max_exclusive: true,
            }
            .ranks(z);
            for (member, score) in z.range(lo, hi) {
                let (lon, lat) = position(score);
                if let Some(dist) = self.within(lon, lat) {
                    if found.len() >= MAX_GEO_RESULTS {
                        return Err(StoreError::GeoTooLarge);
                    }
                    found.push(GeoPoint {
                        member,
                        score,
                        lon,
                        lat,
                        dist,
                    });
                }
                if full(&found) {
                    break;
                }
            }
            last = (i > 0).then_some(cell);
        }
        Ok(found)
    }
}

/// A distance as Redis prints it: fixed, 4 decimals, rounded half to even
/// after scaling (Redis 7.2's `fixedpoint_d2string`).
pub fn format_distance(d: f64) -> String {
    let scaled = (d * 10_000.0).round_ties_even();
    if !scaled.is_finite() || scaled.abs() >= 9.2e18 {
        return format!("{d:.4}");
    }
    let v = scaled as i64;
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:04}", a / 10_000, a % 10_000)
}

impl Shard {
    /// Whether `key` holds a sorted set (a read, counted as one); WRONGTYPE
    /// for another type.
    pub fn geo_exists(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.is_some())
    }

    /// The position of `member` of the geo set at `key`, if both exist.
    pub fn geo_position(
        &mut self,
        key: &[u8],
        member: &[u8],
    ) -> Result<Option<(f64, f64)>, StoreError> {
        Ok(self
            .peek_coll::<ZSet>(key)?
            .and_then(|z| z.score(member))
            .map(position))
    }

    /// The points of the geo set at `key` a query finds (none for a
    /// missing key), in Redis's unsorted order; `limit` as [`Query::run`].
    pub fn geo_search(
        &mut self,
        key: &[u8],
        query: &Query,
        limit: usize,
    ) -> Result<Vec<GeoPoint>, StoreError> {
        match self.peek_coll::<ZSet>(key)? {
            Some(z) => query.run(z, limit),
            None => Ok(Vec::new()),
        }
    }

    /// A search's STORE: `items` become the sorted set at `dst` (deleted
    /// when there are none); how many.
    pub fn geo_store(&mut self, dst: &[u8], items: &[(Bytes, f64)]) -> usize {
        let z = crate::zset::ops::build(items, &self.config.encoding);
        self.store_coll(dst, z);
        items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values were read from redis-server 7.0.15.

    #[test]
    fn scores_are_redis_geohashes() {
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698.0));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909.0));
        assert_eq!(score_of(200.0, 10.0), None);
        assert_eq!(score_of(10.0, 85.06), None);
    }

    #[test]
    fn positions_and_hashes_match_redis() {
        let (lon, lat) = position(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&hash_string(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&hash_string(3479447370796909.0), b"sqdtr74hyu0");
    }

    #[test]
    fn distances_match_redis() {
        let (a, b) = (position(3479099956230698.0), position(3479447370796909.0));
        let d = distance(a.0, a.1, b.0, b.1);
        assert_eq!(format_distance(d / 1000.0), "166.2742");
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.00004), "0.0000");
        assert_eq!(format_distance(1.23456), "1.2346");
    }

    #[test]
    fn bits_interleave_and_back() {
        for (lat, lon) in [(0u32, 0u32), (1, 0), (0, 1), (0x3ff_ffff, 0x155_5555)] {
            assert_eq!(deinterleave(interleave(lat, lon)), (lat, lon));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn neighbours_wrap_around() {
        let c = Cell { bits: 0, step: 2 };
        let west = moved(c, -1, 0);
        assert_eq!(deinterleave(west.bits), (0, 3));
        let north = moved(c, 0, 1);
        assert_eq!(deinterleave(north.bits), (1, 0));
        assert_eq!(moved(moved(c, 1, 1), -1, -1), c);
    }

    #[test]
    fn steps_follow_redis_estimate() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(200_000.0, 37.0), 6);
        assert_eq!(estimate_step(200_000.0, 70.0), 5);
        assert_eq!(estimate_step(200_000.0, 85.0), 4);
        assert_eq!(estimate_step(1e9, 0.0), 1);
    }

    #[test]
    fn a_radius_search_finds_what_redis_finds() {
        let limits = crate::collection::EncodingLimits::default();
        let mut z = ZSet::new();
        z.insert(b"Palermo", 3479099956230698.0, &limits);
        z.insert(b"Catania", 3479447370796909.0, &limits);
        let q = Query {
            lon: 15.0,
            lat: 37.0,
            shape: Shape::Radius(200.0),
            to_meters: 1000.0,
        };
        let found = q.run(&z, 0).unwrap();
        let mut names: Vec<(&[u8], String)> = found
            .iter()
            .map(|p| (&p.member[..], format_distance(p.dist / 1000.0)))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                (&b"Catania"[..], "56.4413".to_owned()),
                (&b"Palermo"[..], "190.4424".to_owned())
            ]
        );
        let near = Query {
            shape: Shape::Radius(100.0),
            ..q
        };
        assert_eq!(near.run(&z, 0).unwrap().len(), 1);
        let any = q.run(&z, 1).unwrap();
        assert_eq!(any.len(), 1);
        let boxed = Query {
            shape: Shape::Box {
                width: 400.0,
                height: 400.0,
            },
            ..q
        };
        assert_eq!(boxed.run(&z, 0).unwrap().len(), 2);
    }
}

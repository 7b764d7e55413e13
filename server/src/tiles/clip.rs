//! From lon/lat geometries to tile geometries: Web Mercator projection into the tile's 4096 grid,
//! clipping to the buffered tile square (Liang–Barsky per line segment, Sutherland–Hodgman per
//! polygon ring), Douglas–Peucker simplification with a tolerance of one grid unit, rounding,
//! and the MVT ring rules (open rings, exterior positive area / interior negative in tile
//! coordinates with y down).

use std::f64::consts::PI;

use geo::{Coord, Geometry, LineString, MultiPolygon, Polygon};

use super::mvt::{TileGeometry, TilePoint, EXTENT};
use super::TileError;

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 22;

/// Buffer around the tile, in grid units on each side: geometries are clipped to
/// `-BUFFER..EXTENT + BUFFER` so that lines and outlines do not end visibly at tile edges.
pub const BUFFER: f64 = 64.0;

/// Douglas–Peucker tolerance, in grid units (1/4096 of a tile side: ~0.6 m at z14 here, ~10 m
/// at z10). Being in grid units, it simplifies more the lower the zoom.
const SIMPLIFY: f64 = 1.0;

/// Latitude limit of Web Mercator.
const MAX_LAT: f64 = 85.051_128_779_806_59;

type P = [f64; 2];

/// Projects lon/lat into one tile's grid and clips there.
#[derive(Debug, Clone, Copy)]
pub struct TileTransform {
    /// Tiles per world side, 2^z.
    n: f64,
    x: f64,
    y: f64,
    lo: f64,
    hi: f64,
}

impl TileTransform {
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileTransform, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::Zoom(z));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(TileError::OutOfRange { z, x, y });
        }
        Ok(TileTransform {
            n: n as f64,
            x: f64::from(x),
            y: f64::from(y),
            lo: -BUFFER,
            hi: f64::from(EXTENT) + BUFFER,
        })
    }

    /// Grid coordinates of a lon/lat position (x right, y down; 0..4096 inside the tile).
    #[inline]
    pub fn project(&self, c: Coord<f64>) -> P {
        let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
        let wx = (c.x + 180.0) / 360.0;
        let wy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
        let e = f64::from(EXTENT);
        [(wx * self.n - self.x) * e, (wy * self.n - self.y) * e]
    }

    /// Lon/lat of a grid position (the inverse of [`TileTransform::project`]).
    pub fn unproject(&self, p: P) -> Coord<f64> {
        let e = f64::from(EXTENT);
        let wx = (p[0] / e + self.x) / self.n;
        let wy = (p[1] / e + self.y) / self.n;
        let lat = (PI * (1.0 - 2.0 * wy)).sinh().atan().to_degrees();
        Coord {
            x: wx * 360.0 - 180.0,
            y: lat,
        }
    }

    /// The buffered tile as a lon/lat box (min, max), for the R-tree query.
    pub fn query_box(&self) -> ([f64; 2], [f64; 2]) {
        let nw = self.unproject([self.lo, self.lo]);
        let se = self.unproject([self.hi, self.hi]);
        ([nw.x, se.y], [se.x, nw.y])
    }

    /// The geometry in tile coordinates, clipped, simplified and rounded; `None` when nothing
    /// of it is left in the buffered tile (outside, or collapsed below one grid unit).
    /// Geometry collections are not drawn (a feature has one geometry type).
    pub fn geometry(&self, g: &Geometry<f64>) -> Option<TileGeometry> {
        let tg = match g {
            Geometry::Point(p) => TileGeometry::Points(self.points(std::iter::once(p.0))),
            Geometry::MultiPoint(mp) => TileGeometry::Points(self.points(mp.iter().map(|p| p.0))),
            Geometry::Line(l) => {
                let mut out = Vec::new();
                self.line(&[l.start, l.end], &mut out);
                TileGeometry::Lines(out)
            }
            Geometry::LineString(l) => {
                let mut out = Vec::new();
                self.line(&l.0, &mut out);
                TileGeometry::Lines(out)
            }
            Geometry::MultiLineString(ml) => {
                let mut out = Vec::new();
                for l in ml {
                    self.line(&l.0, &mut out);
                }
                TileGeometry::Lines(out)
            }
            Geometry::Polygon(p) => {
                let mut out = Vec::new();
                self.polygon(p, &mut out);
                TileGeometry::Polygons(out)
            }
            Geometry::MultiPolygon(mp) => {
                let mut out = Vec::new();
                for p in mp {
                    self.polygon(p, &mut out);
                }
                TileGeometry::Polygons(out)
            }
            Geometry::Rect(r) => {
                let mut out = Vec::new();
                self.polygon(&r.to_polygon(), &mut out);
                TileGeometry::Polygons(out)
            }
            Geometry::Triangle(t) => {
                let mut out = Vec::new();
                self.polygon(&t.to_polygon(), &mut out);
                TileGeometry::Polygons(out)
            }
            Geometry::GeometryCollection(_) => return None,
        };
        let empty = match &tg {
            TileGeometry::Points(p) => p.is_empty(),
            TileGeometry::Lines(l) => l.is_empty(),
            TileGeometry::Polygons(r) => r.is_empty(),
        };
        (!empty).then_some(tg)
    }

    /// [`TileTransform::geometry`] of a multipolygon, without building a `Geometry`.
    pub fn multi_polygon(&self, mp: &MultiPolygon<f64>) -> Option<TileGeometry> {
        let mut out = Vec::new();
        for p in mp {
            self.polygon(p, &mut out);
        }
        (!out.is_empty()).then_some(TileGeometry::Polygons(out))
    }

    fn inside(&self, p: P) -> bool {
        (self.lo..=self.hi).contains(&p[0]) && (self.lo..=self.hi).contains(&p[1])
    }

    fn points(&self, coords: impl Iterator<Item = Coord<f64>>) -> Vec<TilePoint> {
        let mut out: Vec<TilePoint> = coords
            .map(|c| self.project(c))
            .filter(|&p| self.inside(p))
            .map(round)
            .collect();
        out.dedup();
        out
    }

    /// Clips one line string; each part left in the buffered tile becomes a line.
    fn line(&self, coords: &[Coord<f64>], out: &mut Vec<Vec<TilePoint>>) {
        let mut parts = Vec::new();
        clip_line(
            coords.iter().map(|&c| self.project(c)),
            self.lo,
            self.hi,
            &mut parts,
        );
        for part in parts {
            let simplified = simplify(&part, SIMPLIFY);
            let line = rounded(&simplified);
            if line.len() >= 2 {
                out.push(line);
            }
        }
    }

    /// Clips one polygon; appends its exterior and surviving interiors, wound per the spec.
    /// A polygon whose exterior collapses is dropped with its holes.
    fn polygon(&self, p: &Polygon<f64>, out: &mut Vec<Vec<TilePoint>>) {
        let Some(exterior) = self.ring(p.exterior(), true) else {
            return;
        };
        out.push(exterior);
        for interior in p.interiors() {
            if let Some(r) = self.ring(interior, false) {
                out.push(r);
            }
        }
    }

    fn ring(&self, ring: &LineString<f64>, exterior: bool) -> Option<Vec<TilePoint>> {
        let mut pts: Vec<P> = ring.0.iter().map(|&c| self.project(c)).collect();
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        if pts.len() < 3 {
            return None;
        }
        // Quick reject / accept on the ring's box before clipping.
        let (min, max) = bounds(&pts);
        if max[0] < self.lo || max[1] < self.lo || min[0] > self.hi || min[1] > self.hi {
            return None;
        }
        if min[0] < self.lo || min[1] < self.lo || max[0] > self.hi || max[1] > self.hi {
            pts = clip_ring(&pts, self.lo, self.hi);
        }
        let pts = simplify_ring(&pts, SIMPLIFY);
        let mut r = rounded(&pts);
        while r.len() > 1 && r.first() == r.last() {
            r.pop();
        }
        if r.len() < 3 {
            return None;
        }
        let area2 = signed_area2(&r);
        // Collapsed below one grid unit of area.
        if area2.abs() < 2 {
            return None;
        }
        if (area2 > 0) != exterior {
            r.reverse();
        }
        Some(r)
    }
}

/// The tile (x, y) at zoom `z` that contains a lon/lat position (clamped to the world).
pub fn tile_at(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let z = z.min(MAX_ZOOM);
    let n = (1u64 << z) as f64;
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let wx = (lon.clamp(-180.0, 180.0) + 180.0) / 360.0;
    let wy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    let max = n - 1.0;
    (
        (wx * n).floor().clamp(0.0, max) as u32,
        (wy * n).floor().clamp(0.0, max) as u32,
    )
}

#[inline]
fn round(p: P) -> TilePoint {
    [p[0].round() as i32, p[1].round() as i32]
}

/// Rounds to the grid and drops repeated consecutive vertices.
fn rounded(pts: &[P]) -> Vec<TilePoint> {
    let mut out: Vec<TilePoint> = pts.iter().map(|&p| round(p)).collect();
    out.dedup();
    out
}

fn bounds(pts: &[P]) -> (P, P) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in pts {
        for k in 0..2 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    (min, max)
}

/// Twice the signed area by the surveyor's formula, in tile coordinates: positive for an
/// exterior ring per the spec (clockwise as drawn, since y points down).
pub fn signed_area2(ring: &[TilePoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let a = ring[i];
            let b = ring[(i + 1) % n];
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

/// Liang–Barsky: the part of segment a→b inside the square [lo, hi]², as parameters (t0, t1).
fn clip_segment(a: P, b: P, lo: f64, hi: f64) -> Option<(f64, f64)> {
    let d = [b[0] - a[0], b[1] - a[1]];
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for k in 0..2 {
        for (p, q) in [(-d[k], a[k] - lo), (d[k], hi - a[k])] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    if r > t1 {
                        return None;
                    }
                    t0 = t0.max(r);
                } else {
                    if r < t0 {
                        return None;
                    }
                    t1 = t1.min(r);
                }
            }
        }
    }
    Some((t0, t1))
}

/// Clips a polyline to the square [lo, hi]², appending each inside part (≥ 2 vertices).
fn clip_line(pts: impl Iterator<Item = P>, lo: f64, hi: f64, out: &mut Vec<Vec<P>>) {
    let mut part: Vec<P> = Vec::new();
    let mut prev: Option<P> = None;
    for b in pts {
        let Some(a) = prev.replace(b) else {
            continue;
        };
        match clip_segment(a, b, lo, hi) {
            None => flush(&mut part, out),
            Some((t0, t1)) => {
                let at = |t: f64| [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                // Continue the current part only if this segment starts where it ended, inside.
                if t0 > 0.0 || part.is_empty() {
                    flush(&mut part, out);
                    part.push(if t0 > 0.0 { at(t0) } else { a });
                }
                part.push(if t1 < 1.0 { at(t1) } else { b });
                if t1 < 1.0 {
                    flush(&mut part, out);
                }
            }
        }
    }
    flush(&mut part, out);
}

fn flush(part: &mut Vec<P>, out: &mut Vec<Vec<P>>) {
    if part.len() >= 2 {
        out.push(std::mem::take(part));
    } else {
        part.clear();
    }
}

/// Sutherland–Hodgman: an open ring clipped to the square [lo, hi]² (possibly empty). Concave
/// rings may come out with zero-width spikes along the square's edges, which renderers fill as
/// nothing.
fn clip_ring(ring: &[P], lo: f64, hi: f64) -> Vec<P> {
    let mut pts = ring.to_vec();
    let mut next = Vec::with_capacity(pts.len() + 4);
    // (axis, bound, keep when coordinate ≥ bound)
    for (k, bound, keep_above) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)] {
        next.clear();
        let inside = |p: &P| {
            if keep_above {
                p[k] >= bound
            } else {
                p[k] <= bound
            }
        };
        let Some(&last) = pts.last() else {
            return Vec::new();
        };
        let mut a = last;
        for &b in &pts {
            let (ia, ib) = (inside(&a), inside(&b));
            if ia != ib {
                let t = (bound - a[k]) / (b[k] - a[k]);
                let mut c = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                c[k] = bound;
                next.push(c);
            }
            if ib {
                next.push(b);
            }
            a = b;
        }
        std::mem::swap(&mut pts, &mut next);
    }
    pts
}

/// Douglas–Peucker on a polyline, keeping both ends.
fn simplify(pts: &[P], tolerance: f64) -> Vec<P> {
    if pts.len() <= 2 {
        return pts.to_vec();
    }
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[pts.len() - 1] = true;
    douglas_peucker(
        |i| pts[i],
        0,
        pts.len() - 1,
        tolerance * tolerance,
        &mut keep,
    );
    kept(pts, &keep)
}

/// Douglas–Peucker on an open ring: split at the first vertex and the vertex farthest from it;
/// index `n` stands for vertex 0 again, closing the ring. Triangles and quads (most buildings)
/// are left alone: at most they would lose one vertex, and the area check still drops them
/// when they collapse.
fn simplify_ring(pts: &[P], tolerance: f64) -> Vec<P> {
    let n = pts.len();
    if n <= 4 {
        return pts.to_vec();
    }
    let a = pts[0];
    let far = (1..n)
        .max_by(|&i, &j| dist2(a, pts[i]).total_cmp(&dist2(a, pts[j])))
        .unwrap_or(1);
    let mut keep = vec![false; n + 1];
    keep[0] = true;
    keep[far] = true;
    let t2 = tolerance * tolerance;
    let at = |i: usize| pts[i % n];
    douglas_peucker(at, 0, far, t2, &mut keep);
    douglas_peucker(at, far, n, t2, &mut keep);
    kept(pts, &keep[..n])
}

fn kept(pts: &[P], keep: &[bool]) -> Vec<P> {
    pts.iter()
        .zip(keep)
        .filter(|(_, &k)| k)
        .map(|(&p, _)| p)
        .collect()
}

fn douglas_peucker(
    pts: impl Fn(usize) -> P,
    first: usize,
    last: usize,
    t2: f64,
    keep: &mut [bool],
) {
    // Iterative, so long rings cannot overflow the stack.
    let mut stack = vec![(first, last)];
    while let Some((first, last)) = stack.pop() {
        if last <= first + 1 {
            continue;
        }
        let (a, b) = (pts(first), pts(last));
        let (mut worst, mut at) = (0.0, first);
        for i in first + 1..last {
            let d = seg_dist2(pts(i), a, b);
            if d > worst {
                worst = d;
                at = i;
            }
        }
        if worst > t2 {
            keep[at] = true;
            stack.push((first, at));
            stack.push((at, last));
        }
    }
}

fn dist2(a: P, b: P) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Squared distance from p to segment a–b.
fn seg_dist2(p: P, a: P, b: P) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    if len2 == 0.0 {
        return dist2(p, a);
    }
    let t = (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0);
    dist2(p, [a[0] + t * d[0], a[1] + t * d[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_round_trips_and_matches_known_tiles() {
        // (113.11, 23.03) lies in z14 tile 13339/7114 (slippy-map formula by hand).
        assert_eq!(tile_at(113.11, 23.03, 14), (13339, 7114));
        assert_eq!(tile_at(-180.0, 85.0, 3), (0, 0));
        assert_eq!(tile_at(180.0, -85.0, 3), (7, 7));
        let t = TileTransform::new(14, 13339, 7114).expect("tile");
        let p = t.project(Coord {
            x: 113.11,
            y: 23.03,
        });
        assert!(
            (0.0..4096.0).contains(&p[0]) && (0.0..4096.0).contains(&p[1]),
            "{p:?}"
        );
        let back = t.unproject(p);
        assert!((back.x - 113.11).abs() < 1e-9 && (back.y - 23.03).abs() < 1e-9);
        // z0: the whole world; lon 0 lat 0 is the centre.
        let w = TileTransform::new(0, 0, 0).expect("tile");
        let c = w.project(Coord { x: 0.0, y: 0.0 });
        assert!((c[0] - 2048.0).abs() < 1e-9 && (c[1] - 2048.0).abs() < 1e-9);
        let (min, max) = w.query_box();
        assert!(min[0] < -180.0 && max[0] > 180.0 && max[1] > 85.0);
    }

    #[test]
    fn bad_tiles_are_rejected() {
        assert_eq!(
            TileTransform::new(23, 0, 0).err(),
            Some(TileError::Zoom(23))
        );
        assert!(TileTransform::new(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());
        assert_eq!(
            TileTransform::new(3, 8, 0).err(),
            Some(TileError::OutOfRange { z: 3, x: 8, y: 0 })
        );
        assert!(TileTransform::new(3, 0, 8).is_err());
        assert!(TileTransform::new(0, 1, 0).is_err());
    }

    #[test]
    fn lines_are_cut_into_parts_at_the_square() {
        let mut out = Vec::new();
        // In, out through the right edge, back in, out through the top.
        let pts = [
            [5.0, 5.0],
            [15.0, 5.0],
            [15.0, 8.0],
            [5.0, 8.0],
            [5.0, -5.0],
        ];
        clip_line(pts.into_iter(), 0.0, 10.0, &mut out);
        assert_eq!(
            out,
            vec![
                vec![[5.0, 5.0], [10.0, 5.0]],
                vec![[10.0, 8.0], [5.0, 8.0], [5.0, 0.0]],
            ]
        );
        out.clear();
        // Entirely outside, and crossing a corner region without entering.
        clip_line([[11.0, 0.0], [20.0, 5.0]].into_iter(), 0.0, 10.0, &mut out);
        clip_line([[-5.0, 4.0], [4.0, -5.0]].into_iter(), 0.0, 10.0, &mut out);
        assert!(out.is_empty(), "{out:?}");
        // Just touching a corner region: x + y = 1 crosses the square's corner.
        clip_line([[-5.0, 6.0], [6.0, -5.0]].into_iter(), 0.0, 10.0, &mut out);
        assert_eq!(out, vec![vec![[0.0, 1.0], [1.0, 0.0]]]);
    }

    #[test]
    fn rings_are_clipped_to_the_square() {
        let big = [[-5.0, -5.0], [15.0, -5.0], [15.0, 15.0], [-5.0, 15.0]];
        let r = clip_ring(&big, 0.0, 10.0);
        let mut r: Vec<TilePoint> = rounded(&r);
        r.sort();
        assert_eq!(r, vec![[0, 0], [0, 10], [10, 0], [10, 10]]);
        let outside = [[20.0, 20.0], [30.0, 20.0], [30.0, 30.0]];
        assert!(clip_ring(&outside, 0.0, 10.0).len() < 3);
    }

    #[test]
    fn simplification_drops_sub_unit_wiggles_only() {
        let pts = [[0.0, 0.0], [10.0, 0.4], [20.0, 0.0], [30.0, 5.0]];
        assert_eq!(
            simplify(&pts, 1.0),
            vec![[0.0, 0.0], [20.0, 0.0], [30.0, 5.0]]
        );
        let ring = [
            [0.0, 0.0],
            [50.0, 0.3],
            [100.0, 0.0],
            [100.0, 100.0],
            [0.0, 100.0],
        ];
        assert_eq!(
            simplify_ring(&ring, 1.0),
            vec![[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]]
        );
        // A wiggle on the closing side of the ring.
        let ring = [
            [0.0, 0.0],
            [100.0, 0.0],
            [100.0, 100.0],
            [0.0, 100.0],
            [0.4, 50.0],
        ];
        assert_eq!(simplify_ring(&ring, 1.0).len(), 4);
    }
}

//! Geometry validation and repair shared by the GeoJSON and OSM readers.
//!
//! Every coordinate must be a finite lon/lat within ±180/±90. Then, per geometry:
//! - **repaired** (reported, kept): consecutive duplicate points dropped, unclosed rings closed,
//!   zero-area holes and zero-length parts of multi-geometries dropped, self-intersecting or
//!   overlapping polygons rebuilt with an even-odd overlay (a bow-tie becomes its two triangles,
//!   overlapping holes or parts are merged);
//! - **rejected** (reported, dropped): a non-finite or out-of-range coordinate, a line with fewer
//!   than 2 distinct points, an exterior ring with fewer than 4 points after repair or no area, a
//!   hole lying outside its polygon (which ring was meant is a guess), a ring or line with more
//!   than [`MAX_RING_VERTICES`] vertices or a geometry with more than [`MAX_GEOMETRY_VERTICES`],
//!   and polygons too tangled to repair safely.
//!
//! Validity is checked with a sweep over the rings' segments whose work is capped, so a hostile
//! polygon is rejected in bounded time rather than checked pair by pair (geo's `Validation` is
//! quadratic in the number of vertices).

use geo::bool_ops::FillRule;
use geo::coordinate_position::{coord_pos_relative_to_ring, CoordPos};
use geo::line_intersection::{line_intersection, LineIntersection};
use geo::orient::Direction;
use geo::{
    unary_union, BooleanOps, Coord, CoordsIter, Geometry, Line, LineString, MapCoordsInPlace,
    MultiLineString, MultiPoint, MultiPolygon, Orient, Point, Polygon,
};

/// A single ring or line with more vertices than this is rejected.
pub const MAX_RING_VERTICES: usize = 1_000_000;
/// A geometry with more vertices than this in total is rejected.
pub const MAX_GEOMETRY_VERTICES: usize = 5_000_000;
/// More crossings than this and a polygon is not repaired but rejected.
const MAX_CROSSINGS_TO_REPAIR: usize = 1_000;
/// Segment pairs (plus point-in-ring steps) the validity check may look at per geometry.
const CHECK_BUDGET: u64 = 50_000_000;

/// A geometry as read, before validation: coordinates may be anything (NaN stands for a `null`
/// or non-numeric coordinate).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawGeom {
    Point(Coord),
    MultiPoint(Vec<Coord>),
    LineString(Vec<Coord>),
    MultiLineString(Vec<Vec<Coord>>),
    /// Rings, the first one exterior.
    Polygon(Vec<Vec<Coord>>),
    MultiPolygon(Vec<Vec<Vec<Coord>>>),
    Collection(Vec<RawGeom>),
}

/// A geometry that passed validation, with what was repaired on the way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cleaned {
    pub geometry: Geometry<f64>,
    pub repairs: Vec<String>,
}

/// Topological dimension of a cleaned geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    Point,
    Line,
    Area,
}

impl Dim {
    pub fn of(g: &Geometry<f64>) -> Dim {
        match g {
            Geometry::Point(_) | Geometry::MultiPoint(_) => Dim::Point,
            Geometry::Line(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => Dim::Line,
            _ => Dim::Area,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Dim::Point => "a point",
            Dim::Line => "a line",
            Dim::Area => "a polygon",
        }
    }
}

/// Converts a raw coordinate to WGS84 (identity for WGS84 input).
pub(crate) type Transform<'a> = &'a dyn Fn(f64, f64) -> (f64, f64);

/// Validates, converts (with `tf`) and repairs a raw geometry.
pub(crate) fn clean(raw: RawGeom, tf: Transform<'_>) -> Result<Cleaned, String> {
    let mut points = Vec::new();
    let mut lines = Vec::new();
    let mut polygons = Vec::new();
    flatten(raw, &mut points, &mut lines, &mut polygons);
    let total = points.len()
        + lines.iter().map(Vec::len).sum::<usize>()
        + polygons.iter().flatten().map(Vec::len).sum::<usize>();
    if total > MAX_GEOMETRY_VERTICES {
        return Err(format!(
            "geometry has {total} vertices, more than the limit of {MAX_GEOMETRY_VERTICES}"
        ));
    }
    let kinds = [!points.is_empty(), !lines.is_empty(), !polygons.is_empty()];
    match kinds {
        [false, false, false] => Err("geometry is empty (it has no coordinates)".into()),
        [true, false, false] => {
            let many = points.len() > 1;
            for (i, c) in points.iter_mut().enumerate() {
                let what = if many {
                    format!("point {i}")
                } else {
                    "the point".into()
                };
                convert(std::slice::from_mut(c), tf, &what)?;
            }
            let geometry = if many {
                Geometry::MultiPoint(MultiPoint(points.into_iter().map(Point).collect()))
            } else {
                Geometry::Point(Point(points[0]))
            };
            Ok(Cleaned {
                geometry,
                repairs: Vec::new(),
            })
        }
        [false, true, false] => clean_lines(lines, tf),
        [false, false, true] => {
            let (mp, repairs) = clean_polygonal(polygons, tf)?;
            let geometry = if mp.0.len() == 1 {
                Geometry::Polygon(mp.0.into_iter().next().unwrap_or_else(empty_polygon))
            } else {
                Geometry::MultiPolygon(mp)
            };
            Ok(Cleaned { geometry, repairs })
        }
        _ => Err("a GeometryCollection mixing points, lines and polygons is not supported".into()),
    }
}

fn empty_polygon() -> Polygon<f64> {
    Polygon::new(LineString::new(vec![]), vec![])
}

fn flatten(
    raw: RawGeom,
    points: &mut Vec<Coord>,
    lines: &mut Vec<Vec<Coord>>,
    polygons: &mut Vec<Vec<Vec<Coord>>>,
) {
    match raw {
        RawGeom::Point(c) => points.push(c),
        RawGeom::MultiPoint(cs) => points.extend(cs),
        RawGeom::LineString(l) => lines.push(l),
        RawGeom::MultiLineString(ls) => lines.extend(ls),
        RawGeom::Polygon(p) => polygons.push(p),
        RawGeom::MultiPolygon(ps) => polygons.extend(ps),
        RawGeom::Collection(gs) => {
            for g in gs {
                flatten(g, points, lines, polygons);
            }
        }
    }
}

/// Checks that every coordinate is finite, converts it with `tf` and checks the result is a
/// lon/lat in range.
fn convert(coords: &mut [Coord], tf: Transform<'_>, what: &str) -> Result<(), String> {
    for (i, c) in coords.iter_mut().enumerate() {
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(format!(
                "coordinate {i} of {what} is not a finite number ({}, {}); null, NaN and \
                 Infinity are not coordinates",
                c.x, c.y
            ));
        }
        // Range-checked after `tf`, which may be a projection's inverse (metres in, degrees out).
        let (x, y) = tf(c.x, c.y);
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return Err(format!(
                "coordinate {i} of {what} ({}, {}) is out of range: longitude must be within \
                 ±180 and latitude within ±90 (are the axes swapped, or is this a projected CRS?)",
                c.x, c.y
            ));
        }
        *c = Coord { x, y };
    }
    Ok(())
}

fn check_len(len: usize, what: &str) -> Result<(), String> {
    if len > MAX_RING_VERTICES {
        return Err(format!(
            "{what} has {len} vertices, more than the limit of {MAX_RING_VERTICES}"
        ));
    }
    Ok(())
}

/// Drops consecutive duplicate points; returns how many were dropped.
fn dedup(coords: &mut Vec<Coord>) -> usize {
    let before = coords.len();
    coords.dedup();
    before - coords.len()
}

fn clean_lines(lines: Vec<Vec<Coord>>, tf: Transform<'_>) -> Result<Cleaned, String> {
    let many = lines.len() > 1;
    let mut repairs = Vec::new();
    let mut kept: Vec<LineString<f64>> = Vec::new();
    for (i, mut line) in lines.into_iter().enumerate() {
        let what = if many {
            format!("line {i}")
        } else {
            "the line".into()
        };
        check_len(line.len(), &what)?;
        convert(&mut line, tf, &what)?;
        let dropped = dedup(&mut line);
        if line.len() < 2 {
            let why = format!(
                "{what} has fewer than 2 distinct points ({} after dropping duplicates)",
                line.len()
            );
            if many {
                repairs.push(format!("dropped {what}: it has no length"));
                continue;
            }
            return Err(why);
        }
        if dropped > 0 {
            repairs.push(format!(
                "dropped {dropped} consecutive duplicate point(s) from {what}"
            ));
        }
        kept.push(LineString::new(line));
    }
    let geometry = match kept.len() {
        0 => return Err("every line has fewer than 2 distinct points".into()),
        1 => Geometry::LineString(kept.remove(0)),
        _ => Geometry::MultiLineString(MultiLineString::new(kept)),
    };
    Ok(Cleaned { geometry, repairs })
}

/// Why a ring was unusable.
struct Degenerate(String);

/// Dedups, closes and checks one ring. `Ok` carries the repairs made.
fn prepare_ring(
    ring: &mut Vec<Coord>,
    what: &str,
    repairs: &mut Vec<String>,
) -> Result<(), Degenerate> {
    let dropped = dedup(ring);
    let mut closed = false;
    if ring.len() >= 2 && ring.first() != ring.last() {
        let first = ring[0];
        ring.push(first);
        closed = true;
    }
    if ring.len() < 4 {
        return Err(Degenerate(format!(
            "has {} distinct point(s) after repair; a ring needs at least 3 plus the closing point",
            ring.len().saturating_sub(1)
        )));
    }
    if is_flat(ring) {
        return Err(Degenerate(
            "has zero area (all its points are on one line)".into(),
        ));
    }
    if dropped > 0 {
        repairs.push(format!(
            "dropped {dropped} consecutive duplicate point(s) from {what}"
        ));
    }
    if closed {
        repairs.push(format!(
            "closed {what} (its last point did not repeat the first)"
        ));
    }
    Ok(())
}

/// Whether every point of `coords` lies on one straight line, to within a billionth of the
/// extent (so float noise in collinear input still counts as flat). A bow-tie, whose signed area
/// can be zero, is not flat.
fn is_flat(coords: &[Coord]) -> bool {
    let Some(&o) = coords.first() else {
        return true;
    };
    let norm2 = |c: Coord| c.x * c.x + c.y * c.y;
    let far = coords
        .iter()
        .map(|&c| c - o)
        .max_by(|a, b| norm2(*a).total_cmp(&norm2(*b)))
        .unwrap_or_default();
    let len = norm2(far).sqrt();
    if len == 0.0 {
        return true;
    }
    coords.iter().all(|&c| {
        let d = c - o;
        (far.x * d.y - far.y * d.x).abs() / len <= 1e-9 * len
    })
}

/// A polygon being cleaned: exterior ring and holes.
type Part = (LineString<f64>, Vec<LineString<f64>>);

/// Validates, converts and repairs polygons (each a list of rings, exterior first) into one
/// valid multipolygon. Used for GeoJSON (multi)polygons and OSM buildings and boundaries.
pub(crate) fn clean_polygonal(
    polygons: Vec<Vec<Vec<Coord>>>,
    tf: Transform<'_>,
) -> Result<(MultiPolygon<f64>, Vec<String>), String> {
    let total: usize = polygons.iter().flatten().map(Vec::len).sum();
    if total > MAX_GEOMETRY_VERTICES {
        return Err(format!(
            "geometry has {total} vertices, more than the limit of {MAX_GEOMETRY_VERTICES}"
        ));
    }
    let multi = polygons.len() > 1;
    let mut repairs = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    for (pi, rings) in polygons.into_iter().enumerate() {
        let mut rings = rings.into_iter();
        let Some(mut shell) = rings.next() else {
            if multi {
                repairs.push(format!("dropped polygon {pi}: it has no rings"));
                continue;
            }
            return Err("polygon has no rings".into());
        };
        let shell_what = if multi {
            format!("the exterior ring of polygon {pi}")
        } else {
            "the exterior ring".into()
        };
        check_len(shell.len(), &shell_what)?;
        convert(&mut shell, tf, &shell_what)?;
        let mut part_repairs = Vec::new();
        if let Err(Degenerate(why)) = prepare_ring(&mut shell, &shell_what, &mut part_repairs) {
            if multi {
                repairs.push(format!("dropped polygon {pi}: its exterior ring {why}"));
                continue;
            }
            return Err(format!("{shell_what} {why}"));
        }
        let mut holes = Vec::new();
        for (hi, mut hole) in rings.enumerate() {
            let what = if multi {
                format!("hole {hi} of polygon {pi}")
            } else {
                format!("hole {hi}")
            };
            check_len(hole.len(), &what)?;
            convert(&mut hole, tf, &what)?;
            match prepare_ring(&mut hole, &what, &mut part_repairs) {
                Ok(()) => holes.push(LineString::new(hole)),
                Err(Degenerate(why)) => {
                    part_repairs.push(format!("dropped {what}: it {why}"));
                }
            }
        }
        repairs.extend(part_repairs);
        parts.push((LineString::new(shell), holes));
    }
    if parts.is_empty() {
        return Err("no polygon has a usable exterior ring".into());
    }

    let mut budget = CHECK_BUDGET;
    let problems = analyse(&parts, &mut budget)?;
    if problems.is_empty() {
        let mp = MultiPolygon::new(
            parts
                .into_iter()
                .map(|(shell, holes)| Polygon::new(shell, holes))
                .collect(),
        );
        return Ok((mp, repairs));
    }
    let mut repaired = repair(&parts);
    if !within_extent(&mut repaired, &parts) {
        return Err(format!(
            "invalid polygon ({}) whose repair gave coordinates that are not finite",
            problems.join("; ")
        ));
    }
    if repaired.0.is_empty() {
        return Err(format!(
            "invalid polygon ({}) and repairing it leaves no area",
            problems.join("; ")
        ));
    }
    let again: Vec<Part> = repaired
        .0
        .iter()
        .map(|p| (p.exterior().clone(), p.interiors().to_vec()))
        .collect();
    let mut budget = CHECK_BUDGET;
    let left = analyse(&again, &mut budget)?;
    if !left.is_empty() {
        return Err(format!(
            "invalid polygon ({}) that could not be repaired ({} after repair)",
            problems.join("; "),
            left.join("; ")
        ));
    }
    repairs.push(format!(
        "invalid polygon ({}) rebuilt as {} valid polygon(s)",
        problems.join("; "),
        repaired.0.len()
    ));
    Ok((repaired, repairs))
}

/// Rebuilds invalid parts: each exterior ring through an even-odd self-union (a bow-tie becomes
/// two triangles), minus the union of its holes (each also self-unioned), then all parts merged.
fn repair(parts: &[Part]) -> MultiPolygon<f64> {
    let empty = MultiPolygon::<f64>::new(vec![]);
    let self_union = |ring: &LineString<f64>| {
        Polygon::new(ring.clone(), vec![])
            .union_with_fill_rule(&empty, FillRule::EvenOdd)
            .orient(Direction::Default)
    };
    let mut fixed: Vec<Polygon<f64>> = Vec::new();
    for (shell, holes) in parts {
        let shell = self_union(shell);
        if holes.is_empty() {
            fixed.extend(shell.0);
            continue;
        }
        let hole_parts: Vec<Polygon<f64>> = holes.iter().flat_map(|h| self_union(h).0).collect();
        let holes = unary_union(&hole_parts);
        fixed.extend(shell.difference(&holes).orient(Direction::Default).0);
    }
    if fixed.len() > 1 {
        unary_union(&fixed)
    } else {
        MultiPolygon::new(fixed)
    }
}

/// Puts the overlay's output back within the extent of its input. The overlay snaps vertices to
/// a grid of its own, which can move one on the edge of the extent slightly outside it — past
/// ±180 or ±90 for a polygon touching the edge of the world; such a vertex is moved onto the
/// edge. `false` if a vertex is not finite.
fn within_extent(mp: &mut MultiPolygon<f64>, parts: &[Part]) -> bool {
    let mut extent = Bbox::of(&[]);
    for (shell, holes) in parts {
        for ring in std::iter::once(shell).chain(holes) {
            let b = Bbox::of(&ring.0);
            extent.min.x = extent.min.x.min(b.min.x);
            extent.min.y = extent.min.y.min(b.min.y);
            extent.max.x = extent.max.x.max(b.max.x);
            extent.max.y = extent.max.y.max(b.max.y);
        }
    }
    if !mp.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite()) {
        return false;
    }
    mp.map_coords_in_place(|c| Coord {
        // Not `clamp`, which panics on an empty extent.
        x: c.x.max(extent.min.x).min(extent.max.x),
        y: c.y.max(extent.min.y).min(extent.max.y),
    });
    true
}

/// Where a ring sits in the parts: polygon index and hole index (`None` for the exterior).
#[derive(Clone, Copy, PartialEq, Eq)]
struct RingId {
    part: usize,
    hole: Option<usize>,
}

impl RingId {
    fn describe(self, multi: bool) -> String {
        match (self.hole, multi) {
            (None, false) => "the exterior ring".into(),
            (None, true) => format!("the exterior ring of polygon {}", self.part),
            (Some(h), false) => format!("hole {h}"),
            (Some(h), true) => format!("hole {h} of polygon {}", self.part),
        }
    }
}

/// What is wrong with the parts, described for the report; empty if they form a valid
/// multipolygon. `Err` when they are unsafe to repair or too costly to check.
fn analyse(parts: &[Part], budget: &mut u64) -> Result<Vec<String>, String> {
    let multi = parts.len() > 1;
    let mut ids = Vec::new();
    let mut rings: Vec<&[Coord]> = Vec::new();
    for (pi, (shell, holes)) in parts.iter().enumerate() {
        ids.push(RingId {
            part: pi,
            hole: None,
        });
        rings.push(&shell.0);
        for (hi, h) in holes.iter().enumerate() {
            ids.push(RingId {
                part: pi,
                hole: Some(hi),
            });
            rings.push(&h.0);
        }
    }
    let crossings = find_crossings(&rings, MAX_CROSSINGS_TO_REPAIR, budget)?;
    if crossings.len() > MAX_CROSSINGS_TO_REPAIR {
        return Err(format!(
            "polygon has more than {MAX_CROSSINGS_TO_REPAIR} self-intersections; too tangled to \
             repair safely"
        ));
    }
    let mut problems: Vec<String> = Vec::new();
    let mut note = |p: String| {
        if !problems.contains(&p) {
            problems.push(p);
        }
    };
    for &(a, b) in &crossings {
        let (ia, ib) = (ids[a], ids[b]);
        let p = if a == b {
            format!("{} crosses itself", ia.describe(multi))
        } else if ia.part == ib.part {
            format!(
                "{} and {} intersect",
                ia.describe(multi),
                ib.describe(multi)
            )
        } else {
            format!("polygons {} and {} intersect", ia.part, ib.part)
        };
        note(p);
    }
    if !crossings.is_empty() {
        // Rings that cross cannot be classified by a single vertex; the overlay sorts them out.
        return Ok(finish(problems, crossings.len()));
    }

    // No two rings cross: containment can be decided from one vertex per ring.
    let bboxes: Vec<Bbox> = rings.iter().map(|r| Bbox::of(r)).collect();
    for (pi, (shell, holes)) in parts.iter().enumerate() {
        let shell_idx = ids
            .iter()
            .position(|id| id.part == pi && id.hole.is_none())
            .unwrap_or(0);
        for (hi, hole) in holes.iter().enumerate() {
            let what = RingId {
                part: pi,
                hole: Some(hi),
            }
            .describe(multi);
            match ring_position(&hole.0, shell, budget)? {
                CoordPos::Inside => {}
                CoordPos::Outside => {
                    return Err(format!(
                        "{what} lies outside its exterior ring; which ring was meant cannot be \
                         told safely"
                    ))
                }
                CoordPos::OnBoundary => {
                    return Err(format!("{what} coincides with its exterior ring"))
                }
            }
            let hole_idx = shell_idx + 1 + hi;
            for (hj, other) in holes.iter().enumerate() {
                if hj == hi || !bboxes[shell_idx + 1 + hj].contains(&bboxes[hole_idx]) {
                    continue;
                }
                if ring_position(&hole.0, other, budget)? != CoordPos::Outside {
                    note(format!(
                        "{what} lies inside {}",
                        RingId {
                            part: pi,
                            hole: Some(hj)
                        }
                        .describe(multi)
                    ));
                }
            }
        }
    }
    if multi {
        let shell_idx: Vec<usize> = (0..parts.len())
            .map(|pi| {
                ids.iter()
                    .position(|id| id.part == pi && id.hole.is_none())
                    .unwrap_or(0)
            })
            .collect();
        for (pa, (shell_a, _)) in parts.iter().enumerate() {
            for (pb, (shell_b, holes_b)) in parts.iter().enumerate() {
                if pa == pb || !bboxes[shell_idx[pb]].intersects(&bboxes[shell_idx[pa]]) {
                    continue;
                }
                let pos = ring_position(&shell_a.0, shell_b, budget)?;
                if pos == CoordPos::Outside {
                    continue;
                }
                let mut in_hole = false;
                for h in holes_b {
                    if ring_position(&shell_a.0, h, budget)? == CoordPos::Inside {
                        in_hole = true;
                        break;
                    }
                }
                if !in_hole {
                    let (lo, hi) = (pa.min(pb), pa.max(pb));
                    note(format!("polygons {lo} and {hi} overlap"));
                }
            }
        }
    }
    Ok(finish(problems, 0))
}

fn finish(mut problems: Vec<String>, crossings: usize) -> Vec<String> {
    const SHOWN: usize = 3;
    if problems.len() > SHOWN {
        let more = problems.len() - SHOWN;
        problems.truncate(SHOWN);
        problems.push(format!("{more} more"));
    }
    if crossings > 1 {
        problems.push(format!("{crossings} crossings"));
    }
    problems
}

/// Position of `ring` relative to `other`, from its first vertex that is not on `other`'s
/// boundary; `OnBoundary` if every vertex is.
fn ring_position(
    ring: &[Coord],
    other: &LineString<f64>,
    budget: &mut u64,
) -> Result<CoordPos, String> {
    for c in ring {
        spend(budget, other.0.len() as u64)?;
        match coord_pos_relative_to_ring(*c, other) {
            CoordPos::OnBoundary => continue,
            pos => return Ok(pos),
        }
    }
    Ok(CoordPos::OnBoundary)
}

fn spend(budget: &mut u64, work: u64) -> Result<(), String> {
    if *budget < work {
        return Err("polygon is too complex to validate within the time allowed".into());
    }
    *budget -= work;
    Ok(())
}

#[derive(Clone, Copy)]
struct Bbox {
    min: Coord,
    max: Coord,
}

impl Bbox {
    fn of(coords: &[Coord]) -> Bbox {
        let mut b = Bbox {
            min: Coord {
                x: f64::INFINITY,
                y: f64::INFINITY,
            },
            max: Coord {
                x: f64::NEG_INFINITY,
                y: f64::NEG_INFINITY,
            },
        };
        for c in coords {
            b.min.x = b.min.x.min(c.x);
            b.min.y = b.min.y.min(c.y);
            b.max.x = b.max.x.max(c.x);
            b.max.y = b.max.y.max(c.y);
        }
        b
    }

    fn intersects(&self, o: &Bbox) -> bool {
        self.min.x <= o.max.x
            && o.min.x <= self.max.x
            && self.min.y <= o.max.y
            && o.min.y <= self.max.y
    }

    fn contains(&self, o: &Bbox) -> bool {
        self.min.x <= o.min.x
            && self.min.y <= o.min.y
            && o.max.x <= self.max.x
            && o.max.y <= self.max.y
    }
}

struct Seg {
    a: Coord,
    b: Coord,
    bbox: Bbox,
    ring: u32,
    idx: u32,
}

/// Pairs of rings (indices into `rings`, equal for a ring crossing itself) with a forbidden
/// intersection: a proper crossing, a vertex touching another segment's interior, or segments
/// overlapping along a line. Rings may touch themselves or each other at shared vertices (as geo's
/// validation allows). Stops after `cap + 1` findings; `Err` when the work budget runs out.
fn find_crossings(
    rings: &[&[Coord]],
    cap: usize,
    budget: &mut u64,
) -> Result<Vec<(usize, usize)>, String> {
    let mut segs = Vec::with_capacity(rings.iter().map(|r| r.len()).sum());
    let seg_counts: Vec<u32> = rings
        .iter()
        .map(|r| r.len().saturating_sub(1) as u32)
        .collect();
    for (ri, ring) in rings.iter().enumerate() {
        for (i, w) in ring.windows(2).enumerate() {
            segs.push(Seg {
                a: w[0],
                b: w[1],
                bbox: Bbox::of(w),
                ring: ri as u32,
                idx: i as u32,
            });
        }
    }
    segs.sort_unstable_by(|s, t| s.bbox.min.x.total_cmp(&t.bbox.min.x));
    let mut found = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        for t in &segs[i + 1..] {
            if t.bbox.min.x > s.bbox.max.x {
                break;
            }
            spend(budget, 1)?;
            if t.bbox.min.y > s.bbox.max.y || t.bbox.max.y < s.bbox.min.y {
                continue;
            }
            if forbidden(s, t, &seg_counts) {
                let (a, b) = (s.ring.min(t.ring) as usize, s.ring.max(t.ring) as usize);
                found.push((a, b));
                if found.len() > cap {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

fn forbidden(s: &Seg, t: &Seg, seg_counts: &[u32]) -> bool {
    let adjacent = s.ring == t.ring && {
        let (i, j) = (s.idx.min(t.idx), s.idx.max(t.idx));
        j - i == 1 || (i == 0 && j + 1 == seg_counts[s.ring as usize])
    };
    match line_intersection(Line::new(s.a, s.b), Line::new(t.a, t.b)) {
        None => false,
        Some(LineIntersection::Collinear { intersection }) => {
            intersection.start != intersection.end
        }
        Some(LineIntersection::SinglePoint {
            intersection: p,
            is_proper,
        }) => {
            if adjacent {
                false
            } else if is_proper {
                true
            } else {
                let vertex_of_s = p == s.a || p == s.b;
                let vertex_of_t = p == t.a || p == t.b;
                !(vertex_of_s && vertex_of_t)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo::{Area, Validation};

    fn id(x: f64, y: f64) -> (f64, f64) {
        (x, y)
    }

    /// A unit square scaled to ~100 m near Foshan, for realistic magnitudes.
    fn c(x: f64, y: f64) -> Coord {
        Coord {
            x: 113.1 + x * 0.001,
            y: 23.0 + y * 0.001,
        }
    }

    fn ring(pts: &[(f64, f64)]) -> Vec<Coord> {
        pts.iter().map(|&(x, y)| c(x, y)).collect()
    }

    #[test]
    fn closes_rings_and_drops_duplicates() {
        let raw = RawGeom::Polygon(vec![ring(&[
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.0),
            (1.0, 1.0),
            (0.0, 1.0),
        ])]);
        let cleaned = clean(raw, &id).unwrap();
        let Geometry::Polygon(p) = &cleaned.geometry else {
            panic!("{cleaned:?}")
        };
        assert_eq!(p.exterior().0.len(), 5);
        assert!(p.exterior().is_closed());
        assert_eq!(cleaned.repairs.len(), 2, "{:?}", cleaned.repairs);
        assert!(cleaned.repairs.iter().any(|r| r.contains("closed")));
        assert!(cleaned.repairs.iter().any(|r| r.contains("duplicate")));
    }

    #[test]
    fn rejects_degenerate_rings_and_lines() {
        let err = clean(
            RawGeom::Polygon(vec![ring(&[(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)])]),
            &id,
        )
        .unwrap_err();
        assert!(err.contains("distinct point"), "{err}");
        let err = clean(
            RawGeom::Polygon(vec![ring(&[
                (0.0, 0.0),
                (1.0, 1.0),
                (2.0, 2.0),
                (0.0, 0.0),
            ])]),
            &id,
        )
        .unwrap_err();
        assert!(err.contains("zero area"), "{err}");
        let err = clean(RawGeom::LineString(ring(&[(0.0, 0.0), (0.0, 0.0)])), &id).unwrap_err();
        assert!(err.contains("fewer than 2"), "{err}");
    }

    #[test]
    fn rejects_bad_coordinates() {
        let err = clean(
            RawGeom::Point(Coord {
                x: f64::NAN,
                y: 1.0,
            }),
            &id,
        )
        .unwrap_err();
        assert!(err.contains("not a finite number"), "{err}");
        let err = clean(
            RawGeom::LineString(vec![Coord { x: 10.0, y: 10.0 }, Coord { x: 10.0, y: 95.0 }]),
            &id,
        )
        .unwrap_err();
        assert!(err.contains("out of range"), "{err}");
    }

    #[test]
    fn bow_tie_becomes_two_triangles() {
        let raw = RawGeom::Polygon(vec![ring(&[
            (0.0, 0.0),
            (1.0, 1.0),
            (1.0, 0.0),
            (0.0, 1.0),
            (0.0, 0.0),
        ])]);
        assert!(!Polygon::new(
            LineString::new(ring(&[
                (0.0, 0.0),
                (1.0, 1.0),
                (1.0, 0.0),
                (0.0, 1.0),
                (0.0, 0.0)
            ])),
            vec![]
        )
        .is_valid());
        let cleaned = clean(raw, &id).unwrap();
        let Geometry::MultiPolygon(mp) = &cleaned.geometry else {
            panic!("{cleaned:?}")
        };
        assert_eq!(mp.0.len(), 2);
        assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        // Two triangles of a quarter each of the 0.001° square.
        assert!(
            (mp.unsigned_area() - 0.5e-6).abs() < 1e-12,
            "{}",
            mp.unsigned_area()
        );
        assert!(
            cleaned.repairs[0].contains("crosses itself"),
            "{:?}",
            cleaned.repairs
        );
    }

    #[test]
    fn overlapping_parts_are_merged_and_outside_holes_rejected() {
        let a = ring(&[(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0)]);
        let b = ring(&[(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0), (1.0, 1.0)]);
        let (mp, repairs) = clean_polygonal(vec![vec![a.clone()], vec![b]], &id).unwrap();
        assert_eq!(mp.0.len(), 1);
        assert!(mp.is_valid());
        assert!((mp.unsigned_area() - 7e-6).abs() < 1e-12);
        assert!(repairs[0].contains("intersect"), "{repairs:?}");

        let outside = ring(&[(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 6.0), (5.0, 5.0)]);
        let err = clean_polygonal(vec![vec![a.clone(), outside]], &id).unwrap_err();
        assert!(err.contains("outside its exterior ring"), "{err}");

        // A proper hole is kept as is, without a repair note.
        let hole = ring(&[(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0), (0.5, 0.5)]);
        let (mp, repairs) = clean_polygonal(vec![vec![a, hole]], &id).unwrap();
        assert!(repairs.is_empty(), "{repairs:?}");
        assert_eq!(mp.0[0].interiors().len(), 1);
    }

    #[test]
    fn a_repair_at_the_edge_of_the_world_stays_in_range() {
        // Two triangles sharing an edge, one reaching (180, 90): the overlay used to snap that
        // corner to 90.00000004768371, out of range.
        let p = |x: f64, y: f64| Coord { x, y };
        let a = vec![p(9.5, 47.1), p(9.5001, 47.1), p(9.5, 47.1001)];
        let b = vec![p(180.0, 90.0), p(9.5, 47.1), p(9.5, 47.1001)];
        let (mp, repairs) = clean_polygonal(vec![vec![a], vec![b]], &id).unwrap();
        assert!(repairs.iter().any(|r| r.contains("rebuilt")), "{repairs:?}");
        let coords: Vec<Coord> = mp.0.iter().flat_map(|p| p.exterior().0.clone()).collect();
        assert!(coords.contains(&p(180.0, 90.0)), "{coords:?}");
        for c in coords {
            assert!(
                (9.5..=180.0).contains(&c.x) && (47.1..=90.0).contains(&c.y),
                "{c:?}"
            );
        }
    }

    #[test]
    fn too_many_vertices_is_rejected() {
        let big: Vec<Coord> = (0..=MAX_RING_VERTICES)
            .map(|i| c((i as f64 / 1e6).cos(), (i as f64 / 1e6).sin()))
            .collect();
        let err = clean(RawGeom::LineString(big), &id).unwrap_err();
        assert!(err.contains("more than the limit"), "{err}");
    }

    #[test]
    fn crossing_check_is_bounded() {
        // A zigzag whose segments all overlap in x but never cross: the sweep must give up
        // within its budget rather than compare every pair.
        let n = 20_000;
        let mut pts: Vec<Coord> = (0..n)
            .map(|i| Coord {
                x: if i % 2 == 0 { 0.0 } else { 1.0 },
                y: i as f64 * 1e-3,
            })
            .collect();
        pts.push(Coord {
            x: -1.0,
            y: n as f64 * 1e-3,
        });
        pts.push(Coord { x: -1.0, y: 0.0 });
        pts.push(pts[0]);
        let mut budget = 1_000_000;
        let err = find_crossings(&[&pts], 10, &mut budget).unwrap_err();
        assert!(err.contains("too complex"), "{err}");
    }
}

//! "What is near here": one R-tree of bounding boxes per asset layer, a box query around the
//! point, then the exact distance from the point to each candidate's geometry (not its box),
//! in metres, with the nearest point on it. Measured here, a box query plus an exact filter is
//! about twice as fast as rstar's `locate_within_distance` for this shape of data.

use std::collections::HashMap;
use std::hash::BuildHasher;

use geo::{BoundingRect, Coord, Geometry, LineString, MultiPolygon, Polygon};
use hashbrown::{DefaultHashBuilder, HashTable};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeParams, AABB};

use super::metric::{nearest_on_segment, LocalMetric};
use super::LonLat;
use crate::district::{Asset, AssetLayer};

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Nodes of up to 16 children (rstar's default is 6): fewer levels to build and to descend;
/// measured faster for both with a million boxes.
pub struct WideNodes;

impl RTreeParams for WideNodes {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

type Tree = RTree<Entry, WideNodes>;

/// Largest search radius accepted, in metres.
pub const MAX_RADIUS_M: f64 = 2000.0;

/// A search radius in metres, checked once at the edge: finite, > 0 and ≤ [`MAX_RADIUS_M`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radius(f64);

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("radius_m must be a number of metres greater than 0 and at most {MAX_RADIUS_M}")]
pub struct RadiusError;

impl Radius {
    pub fn parse(metres: f64) -> Result<Radius, RadiusError> {
        if metres.is_finite() && metres > 0.0 && metres <= MAX_RADIUS_M {
            Ok(Radius(metres))
        } else {
            Err(RadiusError)
        }
    }

    pub fn metres(self) -> f64 {
        self.0
    }
}

/// An asset within the radius.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyAsset<'a> {
    pub asset: &'a Asset,
    /// Metres from the point to the asset's geometry (0 inside a polygon).
    pub distance_m: f64,
    /// The point of the asset's geometry nearest to the query point, lon/lat degrees.
    pub nearest: Coord<f64>,
}

/// All assets of a district, indexed by layer.
#[derive(Default)]
pub struct AssetIndex {
    assets: Vec<Asset>,
    layers: HashMap<AssetLayer, LayerIndex>,
    /// Positions in `assets` by (layer, id), hashed without copying the ids.
    by_id: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl AssetIndex {
    /// Bulk-loads one R-tree per layer. The trees and the id table are built on their own
    /// threads (a million assets take about a second on one core).
    pub fn new(assets: Vec<Asset>) -> AssetIndex {
        let mut entries: HashMap<AssetLayer, Vec<Entry>> = HashMap::new();
        for (i, a) in assets.iter().enumerate() {
            let Some(r) = a.geometry.bounding_rect() else {
                continue;
            };
            entries.entry(a.layer).or_default().push(GeomWithData::new(
                Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                i as u32,
            ));
        }
        let hasher = DefaultHashBuilder::default();
        let (trees, by_id) = std::thread::scope(|s| {
            let ids = s.spawn(|| {
                let mut table = HashTable::with_capacity(assets.len());
                for (i, a) in assets.iter().enumerate() {
                    let hash = hasher.hash_one((a.layer, a.id.as_str()));
                    let same = |&j: &u32| {
                        let b = &assets[j as usize];
                        b.layer == a.layer && b.id == a.id
                    };
                    let rehash = |&j: &u32| {
                        let b = &assets[j as usize];
                        hasher.hash_one((b.layer, b.id.as_str()))
                    };
                    // A repeated id keeps the last asset, like a map insert.
                    match table.entry(hash, same, rehash) {
                        hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = i as u32,
                        hashbrown::hash_table::Entry::Vacant(e) => {
                            e.insert(i as u32);
                        }
                    }
                }
                table
            });
            let assets = &assets;
            let layers: Vec<_> = entries
                .into_iter()
                .map(|(layer, e)| (layer, s.spawn(move || LayerIndex::build(e, assets))))
                .collect();
            let layers = layers
                .into_iter()
                .map(|(layer, t)| (layer, join(t)))
                .collect();
            (layers, join(ids))
        });
        AssetIndex {
            assets,
            layers: trees,
            by_id,
            hasher,
        }
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    pub fn count(&self, layer: AssetLayer) -> usize {
        self.layers.get(&layer).map_or(0, |l| l.tree.size())
    }

    pub fn get(&self, layer: AssetLayer, id: &str) -> Option<&Asset> {
        let hash = self.hasher.hash_one((layer, id));
        self.by_id
            .find(hash, |&j| {
                let a = &self.assets[j as usize];
                a.layer == layer && a.id == id
            })
            .map(|&i| &self.assets[i as usize])
    }

    /// Assets of `layer` whose bounding box intersects the lon/lat box `min`–`max`.
    pub fn in_box(
        &self,
        layer: AssetLayer,
        min: [f64; 2],
        max: [f64; 2],
    ) -> impl Iterator<Item = &Asset> + '_ {
        let envelope = AABB::from_corners(min, max);
        self.layers
            .get(&layer)
            .into_iter()
            .flat_map(move |l| {
                l.tree
                    .locate_in_envelope_intersecting(&envelope)
                    .map(|entry| l.shapes[entry.data as usize].asset)
            })
            .map(|asset| &self.assets[asset as usize])
    }

    /// Assets of `layers` whose geometry lies within `radius` of `at`, nearest first.
    pub fn nearby(
        &self,
        at: LonLat,
        radius: Radius,
        layers: &[AssetLayer],
    ) -> Vec<NearbyAsset<'_>> {
        let origin = Coord {
            x: at.lon(),
            y: at.lat(),
        };
        let metric = LocalMetric::at(origin);
        let (dlon, dlat) = metric.degrees_for(radius.metres());
        let envelope = AABB::from_corners(
            [origin.x - dlon, origin.y - dlat],
            [origin.x + dlon, origin.y + dlat],
        );
        let r = radius.metres();
        let mut found = Vec::with_capacity(256);
        for layer in layers {
            let Some(index) = self.layers.get(layer) else {
                continue;
            };
            for entry in index.tree.locate_in_envelope_intersecting(&envelope) {
                // The query box is a square around the circle: skip boxes in its corners.
                let b = entry.geom();
                let (lo, hi) = (b.lower(), b.upper());
                let dx = (lo[0] - origin.x).max(origin.x - hi[0]).max(0.0) * metric.m_per_deg_lon;
                let dy = (lo[1] - origin.y).max(origin.y - hi[1]).max(0.0) * metric.m_per_deg_lat;
                if dx * dx + dy * dy > r * r {
                    continue;
                }
                let shape = index.shapes[entry.data as usize];
                let best = index.nearest(&metric, shape);
                if best.d2 <= r * r {
                    let (distance_m, nearest) = best.result(&metric);
                    found.push(NearbyAsset {
                        asset: &self.assets[shape.asset as usize],
                        distance_m,
                        nearest,
                    });
                }
            }
        }
        nearest_first(found)
    }
}

/// Sorts by distance, ties by id then layer (so answers are deterministic). Distances are
/// never negative, so their bit patterns order like the numbers: the sort runs on 16-byte
/// integer keys rather than on the answers themselves, and ids are compared only on ties.
fn nearest_first(found: Vec<NearbyAsset<'_>>) -> Vec<NearbyAsset<'_>> {
    let mut order: Vec<(u64, u32)> = found
        .iter()
        .enumerate()
        .map(|(i, f)| (f.distance_m.to_bits(), i as u32))
        .collect();
    order.sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let end = start
            + order[start..]
                .iter()
                .take_while(|(d, _)| *d == order[start].0)
                .count();
        if end - start > 1 {
            order[start..end].sort_unstable_by(|a, b| {
                let (x, y) = (found[a.1 as usize].asset, found[b.1 as usize].asset);
                x.id.cmp(&y.id)
                    .then_with(|| x.layer.as_str().cmp(y.layer.as_str()))
            });
        }
        start = end;
    }
    order
        .into_iter()
        .map(|(_, i)| found[i as usize].clone())
        .collect()
}

/// One layer's R-tree, with a copy of its geometries' vertices laid out in the tree's order:
/// the candidates of one query sit together in memory rather than scattered over a million
/// assets, which is what makes the exact-distance pass fast.
#[derive(Default)]
struct LayerIndex {
    /// Boxes; an entry's data is its slot in `shapes`.
    tree: Tree,
    shapes: Vec<Shape>,
    parts: Vec<Part>,
    coords: Vec<Coord<f64>>,
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Position of the asset in [`AssetIndex::assets`].
    asset: u32,
    /// Its parts: `parts[first_part..first_part + part_count]`.
    first_part: u32,
    part_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Points,
    Line,
    /// The outer ring of a polygon; the holes that follow belong to it.
    Exterior,
    Hole,
}

#[derive(Debug, Clone, Copy)]
struct Part {
    kind: PartKind,
    /// Its vertices: `coords[start..end]`.
    start: u32,
    end: u32,
}

impl LayerIndex {
    fn build(entries: Vec<Entry>, assets: &[Asset]) -> LayerIndex {
        let mut tree = Tree::bulk_load_with_params(entries);
        let mut out = LayerIndex {
            shapes: Vec::with_capacity(tree.size()),
            ..Default::default()
        };
        // Walk the tree in its own order, so neighbours in the tree are neighbours in memory.
        for entry in tree.iter_mut() {
            let asset = entry.data;
            let first_part = out.parts.len() as u32;
            out.push_geometry(&assets[asset as usize].geometry);
            entry.data = out.shapes.len() as u32;
            out.shapes.push(Shape {
                asset,
                first_part,
                part_count: out.parts.len() as u32 - first_part,
            });
        }
        out.tree = tree;
        out.parts.shrink_to_fit();
        out.coords.shrink_to_fit();
        out
    }

    fn push_part(&mut self, kind: PartKind, coords: impl IntoIterator<Item = Coord<f64>>) {
        let start = self.coords.len() as u32;
        self.coords.extend(coords);
        self.parts.push(Part {
            kind,
            start,
            end: self.coords.len() as u32,
        });
    }

    fn push_polygon(&mut self, p: &Polygon<f64>) {
        self.push_part(PartKind::Exterior, p.exterior().0.iter().copied());
        for hole in p.interiors() {
            self.push_part(PartKind::Hole, hole.0.iter().copied());
        }
    }

    fn push_geometry(&mut self, g: &Geometry<f64>) {
        match g {
            Geometry::Point(p) => self.push_part(PartKind::Points, [p.0]),
            Geometry::MultiPoint(mp) => self.push_part(PartKind::Points, mp.iter().map(|p| p.0)),
            Geometry::Line(l) => self.push_part(PartKind::Line, [l.start, l.end]),
            Geometry::LineString(l) => self.push_part(PartKind::Line, l.0.iter().copied()),
            Geometry::MultiLineString(ml) => {
                for l in ml {
                    self.push_part(PartKind::Line, l.0.iter().copied());
                }
            }
            Geometry::Polygon(p) => self.push_polygon(p),
            Geometry::MultiPolygon(mp) => mp.iter().for_each(|p| self.push_polygon(p)),
            Geometry::Rect(r) => self.push_polygon(&r.to_polygon()),
            Geometry::Triangle(t) => self.push_polygon(&t.to_polygon()),
            Geometry::GeometryCollection(gc) => gc.iter().for_each(|g| self.push_geometry(g)),
        }
    }

    /// The point of the shape nearest to the metric's origin; its `result` is the same answer
    /// as [`distance`] on the asset's geometry.
    fn nearest(&self, metric: &LocalMetric, shape: Shape) -> Best {
        let mut best = Best::default();
        let parts =
            &self.parts[shape.first_part as usize..(shape.first_part + shape.part_count) as usize];
        // Whether the origin is inside the polygon whose rings are being read.
        let mut polygon_inside = false;
        let mut inside_any = false;
        for part in parts {
            let coords = &self.coords[part.start as usize..part.end as usize];
            match part.kind {
                PartKind::Points => coords
                    .iter()
                    .for_each(|&c| best.offer_m(metric.to_metres(c))),
                PartKind::Line => best.line_coords(metric, coords),
                PartKind::Exterior => {
                    inside_any |= polygon_inside;
                    polygon_inside = best.ring_coords(metric, coords);
                }
                PartKind::Hole => {
                    if best.ring_coords(metric, coords) {
                        polygon_inside = false;
                    }
                }
            }
        }
        if inside_any || polygon_inside {
            best.d2 = 0.0;
            best.nearest = Coord { x: 0.0, y: 0.0 };
        }
        best
    }
}

/// The result of a scoped thread; its panic, if any, goes on in the caller.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Metres from `origin` (the metric's origin) to `geometry` and the nearest point on it
/// (lon/lat); 0 inside a polygon. The index answers from its flat copy of the vertices
/// ([`LayerIndex::distance`]); this is the same computation on a geometry, which the tests
/// hold it to.
#[cfg(test)]
pub fn distance(
    metric: &LocalMetric,
    origin: Coord<f64>,
    geometry: &Geometry<f64>,
) -> (f64, Coord<f64>) {
    debug_assert_eq!(metric.origin(), origin);
    let mut best = Best::default();
    match geometry {
        Geometry::Point(p) => best.offer_m(metric.to_metres(p.0)),
        Geometry::MultiPoint(mp) => mp.iter().for_each(|p| best.offer_m(metric.to_metres(p.0))),
        Geometry::LineString(l) => best.line(metric, l),
        Geometry::MultiLineString(ml) => ml.iter().for_each(|l| best.line(metric, l)),
        Geometry::Polygon(p) => best.polygon(metric, p),
        Geometry::MultiPolygon(mp) => mp.iter().for_each(|p| best.polygon(metric, p)),
        Geometry::Line(l) => best.segment(metric.to_metres(l.start), metric.to_metres(l.end)),
        Geometry::Rect(r) => best.polygon(metric, &r.to_polygon()),
        Geometry::Triangle(t) => best.polygon(metric, &t.to_polygon()),
        Geometry::GeometryCollection(gc) => {
            for g in gc {
                let (_, n) = distance(metric, origin, g);
                best.offer_m(metric.to_metres(n));
            }
        }
    }
    best.result(metric)
}

/// Metres from `origin` (the metric's origin) to a multipolygon (0 inside or on it) and the
/// nearest point on it.
pub fn distance_to_area(
    metric: &LocalMetric,
    origin: Coord<f64>,
    area: &MultiPolygon<f64>,
) -> (f64, Coord<f64>) {
    debug_assert_eq!(metric.origin(), origin);
    let mut best = Best::default();
    area.iter().for_each(|p| best.polygon(metric, p));
    best.result(metric)
}

/// The nearest point found so far, in local metres around the query point (the origin), and
/// its squared distance: square roots are taken once, at the end.
struct Best {
    d2: f64,
    nearest: Coord<f64>,
}

impl Default for Best {
    fn default() -> Self {
        Best {
            d2: f64::INFINITY,
            nearest: Coord { x: 0.0, y: 0.0 },
        }
    }
}

impl Best {
    fn result(&self, metric: &LocalMetric) -> (f64, Coord<f64>) {
        (self.d2.sqrt(), metric.to_degrees(self.nearest))
    }

    #[inline]
    fn offer_m(&mut self, m: Coord<f64>) {
        let d2 = m.x * m.x + m.y * m.y;
        if d2 < self.d2 {
            self.d2 = d2;
            self.nearest = m;
        }
    }

    #[inline]
    fn segment(&mut self, a: Coord<f64>, b: Coord<f64>) {
        self.offer_m(nearest_on_segment(a, b));
    }

    #[cfg(test)]
    fn line(&mut self, metric: &LocalMetric, line: &LineString<f64>) {
        self.line_coords(metric, &line.0);
    }

    fn line_coords(&mut self, metric: &LocalMetric, line: &[Coord<f64>]) {
        let mut coords = line.iter().map(|&c| metric.to_metres(c));
        let Some(mut prev) = coords.next() else {
            return;
        };
        self.offer_m(prev);
        for c in coords {
            self.segment(prev, c);
            prev = c;
        }
    }

    fn ring(&mut self, metric: &LocalMetric, ring: &LineString<f64>) -> bool {
        self.ring_coords(metric, &ring.0)
    }

    /// Distance to a ring's edges; returns whether the origin is inside the ring (crossing
    /// number; a point on an edge is at distance 0 either way). The ring may or may not repeat
    /// its first vertex at the end.
    fn ring_coords(&mut self, metric: &LocalMetric, ring: &[Coord<f64>]) -> bool {
        let (Some(&first), Some(&last)) = (ring.first(), ring.last()) else {
            return false;
        };
        let closing = (first != last).then_some(first);
        let mut coords = ring
            .iter()
            .copied()
            .chain(closing)
            .map(|c| metric.to_metres(c));
        let Some(first) = coords.next() else {
            return false;
        };
        let mut inside = false;
        let mut prev = first;
        self.offer_m(prev);
        for c in coords {
            if (prev.y > 0.0) != (c.y > 0.0)
                && prev.x - prev.y * (c.x - prev.x) / (c.y - prev.y) > 0.0
            {
                inside = !inside;
            }
            self.segment(prev, c);
            prev = c;
        }
        inside
    }

    fn polygon(&mut self, metric: &LocalMetric, p: &Polygon<f64>) {
        let mut inside = self.ring(metric, p.exterior());
        for hole in p.interiors() {
            if self.ring(metric, hole) {
                inside = false;
            }
        }
        if inside {
            self.d2 = 0.0;
            self.nearest = Coord { x: 0.0, y: 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, point, polygon};

    fn asset(layer: AssetLayer, id: &str, geometry: Geometry<f64>) -> Asset {
        Asset {
            layer,
            id: id.to_string(),
            name: id.to_string(),
            kind: "k".to_string(),
            owner: "o".to_string(),
            props: Default::default(),
            geometry,
        }
    }

    #[test]
    fn distances_are_to_the_geometry_not_its_box_and_sorted() {
        let m = LocalMetric::at(Coord { x: 113.1, y: 23.0 });
        let (dlon, dlat) = m.degrees_for(1.0);
        // A diagonal road whose box contains the point but whose line passes ~70 m away.
        let diagonal =
            line_string![(x: 113.1 - 100.0 * dlon, y: 23.0), (x: 113.1, y: 23.0 + 100.0 * dlat)];
        let near_road = line_string![(x: 113.1 - 50.0 * dlon, y: 23.0 + 10.0 * dlat), (x: 113.1 + 50.0 * dlon, y: 23.0 + 10.0 * dlat)];
        let building = polygon![
            (x: 113.1 - 5.0 * dlon, y: 23.0 - 5.0 * dlat),
            (x: 113.1 + 5.0 * dlon, y: 23.0 - 5.0 * dlat),
            (x: 113.1 + 5.0 * dlon, y: 23.0 + 5.0 * dlat),
            (x: 113.1 - 5.0 * dlon, y: 23.0 + 5.0 * dlat),
        ];
        let far_poi = point!(x: 113.1 + 300.0 * dlon, y: 23.0);
        let idx = AssetIndex::new(vec![
            asset(AssetLayer::Roads, "R-diag", diagonal.into()),
            asset(AssetLayer::Roads, "R-near", near_road.into()),
            asset(AssetLayer::Buildings, "B-1", building.into()),
            asset(AssetLayer::Pois, "POI-far", far_poi.into()),
        ]);
        let at = LonLat::parse(113.1, 23.0).expect("valid");
        let all = [AssetLayer::Roads, AssetLayer::Buildings, AssetLayer::Pois];
        let found = idx.nearby(at, Radius::parse(50.0).expect("radius"), &all);
        let ids: Vec<&str> = found.iter().map(|f| f.asset.id.as_str()).collect();
        assert_eq!(
            ids,
            ["B-1", "R-near"],
            "the diagonal road is 70 m away though its box holds the point"
        );
        assert_eq!(found[0].distance_m, 0.0);
        assert!(
            (found[1].distance_m - 10.0).abs() < 0.01,
            "{}",
            found[1].distance_m
        );
        assert!((found[1].nearest.x - 113.1).abs() < 1e-9);

        let wide = idx.nearby(at, Radius::parse(400.0).expect("radius"), &all);
        let diag = wide
            .iter()
            .find(|f| f.asset.id == "R-diag")
            .expect("diagonal");
        assert!(
            (diag.distance_m - 100.0 / 2f64.sqrt()).abs() < 0.1,
            "{}",
            diag.distance_m
        );
        assert_eq!(wide.last().map(|f| f.asset.id.as_str()), Some("POI-far"));
        assert!(idx
            .nearby(
                at,
                Radius::parse(50.0).expect("radius"),
                &[AssetLayer::Pipelines]
            )
            .is_empty());
    }

    #[test]
    fn the_flat_copy_answers_like_the_geometry_for_every_kind() {
        use geo::{LineString, MultiLineString, MultiPoint, MultiPolygon};
        let m = LocalMetric::at(Coord { x: 113.1, y: 23.0 });
        let (dlon, dlat) = m.degrees_for(1.0);
        let c = |x: f64, y: f64| Coord {
            x: 113.1 + x * dlon,
            y: 23.0 + y * dlat,
        };
        let square = |x0: f64, y0: f64, s: f64| {
            LineString::new(vec![
                c(x0, y0),
                c(x0 + s, y0),
                c(x0 + s, y0 + s),
                c(x0, y0 + s),
                c(x0, y0),
            ])
        };
        // A courtyard building: the point at (0, 0) sits in its hole.
        let courtyard = Polygon::new(square(-20.0, -20.0, 40.0), vec![square(-5.0, -5.0, 10.0)]);
        let two_blocks = MultiPolygon::new(vec![
            Polygon::new(square(30.0, 30.0, 10.0), vec![]),
            Polygon::new(square(-3.0, 60.0, 6.0), vec![]),
        ]);
        let geometries: Vec<Geometry<f64>> = vec![
            courtyard.into(),
            two_blocks.into(),
            MultiLineString::new(vec![
                LineString::new(vec![c(-100.0, 7.0), c(100.0, 7.0)]),
                LineString::new(vec![c(3.0, -90.0), c(3.0, -30.0)]),
            ])
            .into(),
            MultiPoint::new(vec![geo::Point(c(40.0, -40.0)), geo::Point(c(-8.0, 1.0))]).into(),
            geo::Line::new(c(-50.0, -50.0), c(50.0, -45.0)).into(),
        ];
        let assets: Vec<Asset> = geometries
            .iter()
            .enumerate()
            .map(|(i, g)| asset(AssetLayer::Buildings, &format!("A-{i}"), g.clone()))
            .collect();
        let idx = AssetIndex::new(assets.clone());
        let r = Radius::parse(2000.0).expect("radius");
        for (x, y) in [
            (0.0, 0.0),
            (-10.0, 0.0),
            (35.0, 35.0),
            (0.0, 62.0),
            (3.0, -60.0),
            (90.0, 90.0),
        ] {
            let at = LonLat::parse(c(x, y).x, c(x, y).y).expect("valid");
            let origin = c(x, y);
            let metric = LocalMetric::at(origin);
            let found = idx.nearby(at, r, &[AssetLayer::Buildings]);
            assert_eq!(found.len(), assets.len());
            for f in found {
                let (d, n) = distance(&metric, origin, &f.asset.geometry);
                assert_eq!(f.distance_m, d, "{} at ({x}, {y})", f.asset.id);
                assert_eq!(f.nearest, n, "{} at ({x}, {y})", f.asset.id);
            }
        }
        // Inside the hole the courtyard is 5 m away; inside its ring it is at 0.
        let at = |x: f64, y: f64| LonLat::parse(c(x, y).x, c(x, y).y).expect("valid");
        let d = |x, y| {
            idx.nearby(at(x, y), r, &[AssetLayer::Buildings])
                .into_iter()
                .find(|f| f.asset.id == "A-0")
                .map(|f| f.distance_m)
        };
        assert!((d(0.0, 0.0).expect("found") - 5.0).abs() < 1e-6);
        assert_eq!(d(-10.0, 0.0), Some(0.0));
        assert_eq!(
            idx.get(AssetLayer::Buildings, "A-3").map(|a| &a.id),
            Some(&assets[3].id)
        );
        assert!(idx.get(AssetLayer::Roads, "A-3").is_none());
    }

    #[test]
    fn radius_is_checked() {
        assert!(Radius::parse(250.0).is_ok());
        assert!(Radius::parse(2000.0).is_ok());
        for bad in [0.0, -1.0, 2000.5, f64::NAN, f64::INFINITY] {
            assert_eq!(Radius::parse(bad), Err(RadiusError));
        }
    }
}

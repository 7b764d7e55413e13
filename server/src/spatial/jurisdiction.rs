//! Which grid, community, street and district a point lies in.
//!
//! One R-tree of bounding boxes per level narrows the candidates; an exact point-in-polygon test
//! (boundary included) decides. A point on a shared boundary belongs to the candidate with the
//! lowest code, so the answer is deterministic.

use std::collections::HashMap;

use geo::{BoundingRect, Intersects};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use super::metric::LocalMetric;
use super::nearby::distance_to_area;
use super::LonLat;
use crate::district::{Jurisdiction, Level};

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Default distance from a boundary within which a point is at a seam, in metres.
pub const DEFAULT_SEAM_M: f64 = 30.0;

/// A jurisdiction a point at a seam could belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct SeamCandidate<'a> {
    pub jurisdiction: &'a Jurisdiction,
    /// Metres from the point to the jurisdiction (0 inside or on its boundary).
    pub distance_m: f64,
}

/// The jurisdiction chain of a point, outermost first.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<'a> {
    pub chain: Vec<&'a Jurisdiction>,
}

impl<'a> Located<'a> {
    pub fn at(&self, level: Level) -> Option<&'a Jurisdiction> {
        self.chain.iter().copied().find(|j| j.level == level)
    }
}

pub struct JurisdictionIndex {
    items: Vec<Jurisdiction>,
    by_code: HashMap<String, usize>,
    grids: RTree<Entry>,
    /// Where the index falls back when a level has no children (e.g. imported streets only).
    levels: HashMap<Level, RTree<Entry>>,
}

impl JurisdictionIndex {
    pub fn new(items: Vec<Jurisdiction>) -> JurisdictionIndex {
        let by_code = items
            .iter()
            .enumerate()
            .map(|(i, j)| (j.code.clone(), i))
            .collect();
        let mut levels = HashMap::new();
        for level in Level::ALL {
            let entries: Vec<Entry> = items
                .iter()
                .enumerate()
                .filter(|(_, j)| j.level == level)
                .filter_map(|(i, j)| {
                    let r = j.geometry.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    ))
                })
                .collect();
            levels.insert(level, RTree::bulk_load(entries));
        }
        let grids = levels.remove(&Level::Grid).unwrap_or_default();
        JurisdictionIndex {
            items,
            by_code,
            grids,
            levels,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn all(&self) -> &[Jurisdiction] {
        &self.items
    }

    pub fn by_code(&self, code: &str) -> Option<&Jurisdiction> {
        self.by_code.get(code).map(|&i| &self.items[i])
    }

    /// The chain from the district down to the finest level that contains the point, or `None`
    /// when no jurisdiction contains it.
    pub fn locate(&self, at: LonLat) -> Option<Located<'_>> {
        let finest = self
            .containing(&self.grids, at)
            .or_else(|| self.containing(self.levels.get(&Level::Community)?, at))
            .or_else(|| self.containing(self.levels.get(&Level::Street)?, at))
            .or_else(|| self.containing(self.levels.get(&Level::District)?, at))?;
        Some(self.chain_of(finest))
    }

    /// The chain from the district down to `finest`, following parent codes.
    pub fn chain_of<'a>(&'a self, finest: &'a Jurisdiction) -> Located<'a> {
        let mut chain = vec![finest];
        while let Some(parent) = chain
            .last()
            .and_then(|j| j.parent.as_deref())
            .and_then(|code| self.by_code(code))
        {
            if chain.len() > Level::ALL.len() {
                break;
            }
            chain.push(parent);
        }
        chain.reverse();
        Located { chain }
    }

    /// Every jurisdiction within `within_m` metres of the point, at each level where the point
    /// is near a boundary between candidates: inside the district, where there is more than
    /// one; outside every jurisdiction, where there is any (the point is near the district's
    /// outer boundary, and the jurisdictions on our side of it are its candidates). Empty when
    /// it is at no seam. Sorted by level, then distance, then code.
    ///
    /// So a point just outside the district is at a seam wherever it lies along the boundary,
    /// not only where two grids happen to meet; a point just inside, with only one jurisdiction
    /// of each level near it, is at none (the other side is nobody's here).
    pub fn seam(&self, at: LonLat, within_m: f64) -> Vec<SeamCandidate<'_>> {
        let at_least = if self.locate(at).is_some() { 2 } else { 1 };
        let origin = geo::Coord {
            x: at.lon(),
            y: at.lat(),
        };
        let metric = LocalMetric::at(origin);
        let (dlon, dlat) = metric.degrees_for(within_m);
        let envelope = rstar::AABB::from_corners(
            [origin.x - dlon, origin.y - dlat],
            [origin.x + dlon, origin.y + dlat],
        );
        let mut out = Vec::new();
        for level in Level::ALL {
            let tree = if level == Level::Grid {
                Some(&self.grids)
            } else {
                self.levels.get(&level)
            };
            let Some(tree) = tree else { continue };
            let mut here: Vec<SeamCandidate<'_>> = tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|e| &self.items[e.data])
                .filter_map(|j| {
                    let (d, _) = distance_to_area(&metric, origin, &j.geometry);
                    (d <= within_m).then_some(SeamCandidate {
                        jurisdiction: j,
                        distance_m: d,
                    })
                })
                .collect();
            if here.len() >= at_least {
                here.sort_by(|a, b| {
                    a.distance_m
                        .total_cmp(&b.distance_m)
                        .then_with(|| a.jurisdiction.code.cmp(&b.jurisdiction.code))
                });
                out.extend(here);
            }
        }
        out
    }

    fn containing(&self, tree: &RTree<Entry>, at: LonLat) -> Option<&Jurisdiction> {
        let point = at.point();
        tree.locate_all_at_point(&[at.lon(), at.lat()])
            .map(|e| &self.items[e.data])
            .filter(|j| j.geometry.intersects(&point))
            .min_by(|a, b| a.code.cmp(&b.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(
        level: Level,
        code: &str,
        parent: Option<&str>,
        x0: f64,
        y0: f64,
        size: f64,
    ) -> Jurisdiction {
        Jurisdiction {
            generated: false,
            level,
            code: code.to_string(),
            name: code.to_string(),
            parent: parent.map(str::to_string),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: y0),
                (x: x0 + size, y: y0),
                (x: x0 + size, y: y0 + size),
                (x: x0, y: y0 + size),
                (x: x0, y: y0),
            ]]),
        }
    }

    fn index() -> JurisdictionIndex {
        JurisdictionIndex::new(vec![
            square(Level::District, "440604", None, 0.0, 0.0, 2.0),
            square(Level::Street, "440604010", Some("440604"), 0.0, 0.0, 2.0),
            square(
                Level::Community,
                "440604010001",
                Some("440604010"),
                0.0,
                0.0,
                2.0,
            ),
            square(
                Level::Grid,
                "440604010001001",
                Some("440604010001"),
                0.0,
                0.0,
                1.0,
            ),
            square(
                Level::Grid,
                "440604010001002",
                Some("440604010001"),
                1.0,
                0.0,
                1.0,
            ),
        ])
    }

    fn at(lon: f64, lat: f64) -> LonLat {
        LonLat::parse(lon, lat).expect("valid")
    }

    #[test]
    fn locate_returns_the_whole_chain() {
        let idx = index();
        let codes: Vec<&str> = idx
            .locate(at(1.5, 0.5))
            .expect("inside")
            .chain
            .iter()
            .map(|j| j.code.as_str())
            .collect();
        assert_eq!(
            codes,
            ["440604", "440604010", "440604010001", "440604010001002"]
        );
    }

    #[test]
    fn a_point_on_a_shared_boundary_goes_to_the_lowest_code() {
        let idx = index();
        let grid = idx
            .locate(at(1.0, 0.5))
            .and_then(|l| l.at(Level::Grid))
            .map(|j| j.code.clone());
        assert_eq!(grid.as_deref(), Some("440604010001001"));
    }

    #[test]
    fn seams_list_every_candidate_near_a_boundary_at_each_level() {
        let idx = index();
        // Squares of 1 degree: 0.0001 degree of longitude at the equator is about 11 m.
        let near = idx.seam(at(1.0001, 0.5), 30.0);
        let codes: Vec<(&str, bool)> = near
            .iter()
            .map(|c| (c.jurisdiction.code.as_str(), c.distance_m > 0.0))
            .collect();
        assert_eq!(
            codes,
            [("440604010001002", false), ("440604010001001", true)],
            "only the grid level has a boundary here"
        );
        assert!(
            (near[1].distance_m - 11.13).abs() < 0.05,
            "{}",
            near[1].distance_m
        );
        // Exactly on the boundary: both at distance 0.
        let on = idx.seam(at(1.0, 0.5), 30.0);
        assert_eq!(on.len(), 2);
        assert!(on.iter().all(|c| c.distance_m == 0.0));
        // Well inside one grid: no seam.
        assert!(idx.seam(at(0.5, 0.5), 30.0).is_empty());
        // Just inside the district's outer edge: one jurisdiction per level, no seam.
        assert!(idx.seam(at(1.9999, 0.5), 30.0).is_empty());
        // Just outside it: every jurisdiction of ours within reach is a candidate.
        let outside = idx.seam(at(2.0001, 0.5), 30.0);
        let codes: Vec<&str> = outside
            .iter()
            .map(|c| c.jurisdiction.code.as_str())
            .collect();
        assert_eq!(
            codes,
            ["440604", "440604010", "440604010001", "440604010001002"]
        );
        assert!(outside.iter().all(|c| (c.distance_m - 11.13).abs() < 0.05));
        // Outside everything, far away: nothing.
        assert!(idx.seam(at(5.0, 5.0), 30.0).is_empty());
    }

    #[test]
    fn outside_every_jurisdiction_is_none_and_a_gap_in_grids_falls_back_to_the_community() {
        let idx = index();
        assert!(idx.locate(at(5.0, 5.0)).is_none());
        let l = idx.locate(at(0.5, 1.5)).expect("inside the community");
        assert_eq!(l.chain.len(), 3);
        assert!(l.at(Level::Grid).is_none());
    }
}

/// Seams on the demo district (seed 1) at every level: every side two of its grids share, and
/// the sides on the district's outer boundary, probed exactly on the boundary (a shared vertex
/// and a mid-edge point), 10 m to either side and 40 m away (beyond the default 30 m).
#[cfg(test)]
mod demo_seams {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use geo::{Coord, Intersects};

    use super::*;
    use crate::sim::district_gen::seed1;

    /// Fine segments per grid side in the demo district (each cell side holds 4 block corners).
    const SEGMENTS_PER_SIDE: usize = 5;

    fn index() -> &'static JurisdictionIndex {
        static I: OnceLock<JurisdictionIndex> = OnceLock::new();
        I.get_or_init(|| JurisdictionIndex::new(seed1().jurisdictions.clone()))
    }

    /// One whole side of a grid: its vertices in order, the grid, and the grid across it
    /// (`None` on the district's outer boundary).
    struct Side {
        a: &'static Jurisdiction,
        b: Option<&'static Jurisdiction>,
        vertices: Vec<Coord<f64>>,
    }

    impl Side {
        /// A vertex inside the side, shared by `a` and `b` only.
        fn vertex(&self) -> Coord<f64> {
            self.vertices[SEGMENTS_PER_SIDE / 2]
        }

        /// The middle segment, whose midpoint is far from the side's corners.
        fn middle(&self) -> (Coord<f64>, Coord<f64>) {
            let k = SEGMENTS_PER_SIDE / 2;
            (self.vertices[k], self.vertices[k + 1])
        }

        /// The midpoint of the middle segment.
        fn mid_edge(&self) -> Coord<f64> {
            let (p, q) = self.middle();
            Coord {
                x: (p.x + q.x) / 2.0,
                y: (p.y + q.y) / 2.0,
            }
        }

        /// `offset_m` metres from the mid-edge point, square to the side, into `a`.
        fn toward_a(&self, offset_m: f64) -> LonLat {
            let (p, q) = self.middle();
            let mid = self.mid_edge();
            let metric = LocalMetric::at(mid);
            let d = metric.to_metres(q) - metric.to_metres(p);
            let len = d.x.hypot(d.y);
            let normal = Coord {
                x: -d.y / len,
                y: d.x / len,
            };
            let probe = |sign: f64| metric.to_degrees(normal * (sign * 10.0));
            let toward_a = if self.a.geometry.intersects(&probe(1.0)) {
                1.0
            } else {
                -1.0
            };
            lonlat(metric.to_degrees(normal * (toward_a * offset_m)))
        }

        /// The level at which the two sides' chains first differ: the coarsest boundary the
        /// side lies on (`District` for the outer boundary).
        fn level(&self) -> Level {
            let Some(b) = self.b else {
                return Level::District;
            };
            let (ca, cb) = (chain_of(self.a), chain_of(b));
            Level::ALL
                .into_iter()
                .find(|&l| at_level(&ca, l).map(|j| &j.code) != at_level(&cb, l).map(|j| &j.code))
                .unwrap_or(Level::Grid)
        }
    }

    fn lonlat(c: Coord<f64>) -> LonLat {
        LonLat::parse(c.x, c.y).expect("inside the valid range")
    }

    /// The grid and its ancestors, outermost first.
    fn chain_of(grid: &'static Jurisdiction) -> Vec<&'static Jurisdiction> {
        let mut chain = vec![grid];
        while let Some(parent) = chain
            .last()
            .and_then(|j| j.parent.as_deref())
            .and_then(|code| index().by_code(code))
        {
            chain.push(parent);
        }
        chain.reverse();
        chain
    }

    fn at_level<'a>(chain: &[&'a Jurisdiction], level: Level) -> Option<&'a Jurisdiction> {
        chain.iter().copied().find(|j| j.level == level)
    }

    fn codes(chain: &[&Jurisdiction]) -> Vec<String> {
        chain.iter().map(|j| j.code.clone()).collect()
    }

    /// Every whole side of every grid of the demo district: shared sides once (from the grid
    /// with the lower code), outer sides as they come.
    fn sides() -> &'static [Side] {
        static SIDES: OnceLock<Vec<Side>> = OnceLock::new();
        SIDES.get_or_init(|| {
            let grids: Vec<&'static Jurisdiction> = index()
                .all()
                .iter()
                .filter(|j| j.level == Level::Grid)
                .collect();
            let key = |p: Coord<f64>, q: Coord<f64>| {
                let (p, q) = (
                    (p.x.to_bits(), p.y.to_bits()),
                    (q.x.to_bits(), q.y.to_bits()),
                );
                if p < q {
                    (p, q)
                } else {
                    (q, p)
                }
            };
            let mut owners: HashMap<_, Vec<usize>> = HashMap::new();
            for (g, grid) in grids.iter().enumerate() {
                for poly in &grid.geometry {
                    for w in poly.exterior().0.windows(2) {
                        owners.entry(key(w[0], w[1])).or_default().push(g);
                    }
                }
            }
            let mut out = Vec::new();
            for (g, grid) in grids.iter().enumerate() {
                for poly in &grid.geometry {
                    let ring = &poly.exterior().0;
                    let n = ring.len() - 1;
                    let across: Vec<Option<usize>> = (0..n)
                        .map(|i| {
                            owners[&key(ring[i], ring[i + 1])]
                                .iter()
                                .copied()
                                .find(|&o| o != g)
                        })
                        .collect();
                    // Runs of segments with the same grid across, starting where one begins.
                    let Some(start) = (0..n).find(|&i| across[i] != across[(i + n - 1) % n]) else {
                        continue;
                    };
                    let mut i = 0;
                    while i < n {
                        let first = (start + i) % n;
                        let mut len = 1;
                        while len < n - i && across[(first + len) % n] == across[first] {
                            len += 1;
                        }
                        let other = across[first];
                        let wanted = match other {
                            Some(o) => grids[o].code > grid.code,
                            None => true,
                        };
                        // Whole cell sides only: an outer run longer than one side turns a
                        // corner of the district.
                        if wanted && len == SEGMENTS_PER_SIDE {
                            out.push(Side {
                                a: grid,
                                b: other.map(|o| grids[o]),
                                vertices: (0..=len).map(|k| ring[(first + k) % n]).collect(),
                            });
                        }
                        i += len;
                    }
                }
            }
            out
        })
    }

    fn seam_at(at: LonLat) -> Vec<(Level, String, f64)> {
        index()
            .seam(at, DEFAULT_SEAM_M)
            .into_iter()
            .map(|c| {
                (
                    c.jurisdiction.level,
                    c.jurisdiction.code.clone(),
                    c.distance_m,
                )
            })
            .collect()
    }

    fn located(at: LonLat) -> Option<Vec<String>> {
        index().locate(at).map(|l| codes(&l.chain))
    }

    /// What a point `offset_m` from a shared side should get as seam candidates: at every
    /// level where the two sides differ, both, the near one at 0 m and the far one at the
    /// offset; at the levels where they agree (coarser than the side's level), none.
    fn check_candidates(
        side: &Side,
        b: &'static Jurisdiction,
        at: LonLat,
        near_a: bool,
        offset_m: f64,
        what: &str,
    ) {
        let got = seam_at(at);
        let (ca, cb) = (chain_of(side.a), chain_of(b));
        let mut expected_levels = Vec::new();
        for level in Level::ALL {
            let (ja, jb) = (
                at_level(&ca, level).expect("level"),
                at_level(&cb, level).expect("level"),
            );
            let here: Vec<&(Level, String, f64)> = got.iter().filter(|c| c.0 == level).collect();
            if ja.code == jb.code {
                assert!(
                    here.is_empty(),
                    "{what}: no {level:?} boundary here, got {here:?}"
                );
                continue;
            }
            expected_levels.push(level);
            let (near, far) = if near_a { (ja, jb) } else { (jb, ja) };
            assert_eq!(here.len(), 2, "{what}: {level:?} candidates {here:?}");
            assert_eq!(here[0].1, near.code, "{what}: nearest first");
            assert_eq!(here[1].1, far.code, "{what}");
            assert_eq!(here[0].2, 0.0, "{what}: inside the near one");
            assert!(
                (here[1].2 - offset_m).abs() <= 0.5,
                "{what}: far one at {} m, expected {offset_m} m",
                here[1].2
            );
        }
        let levels: Vec<Level> = got.iter().map(|c| c.0).collect();
        assert!(
            levels.windows(2).all(|w| w[0] <= w[1]),
            "{what}: sorted by level"
        );
        assert!(!expected_levels.is_empty());
        assert!(expected_levels.contains(&Level::Grid), "{what}");
    }

    #[test]
    fn the_demo_district_has_sides_at_every_level() {
        let mut count: HashMap<Level, usize> = HashMap::new();
        for side in sides() {
            *count.entry(side.level()).or_default() += 1;
        }
        for level in Level::ALL {
            assert!(
                count.get(&level).copied().unwrap_or(0) >= 3,
                "{level:?}: {count:?}"
            );
        }
    }

    #[test]
    fn shared_sides_at_every_level_have_exact_chains_and_seams_on_both_sides() {
        let mut checked: HashMap<Level, usize> = HashMap::new();
        for side in sides() {
            let Some(b) = side.b else { continue };
            let level = side.level();
            let what = |p: &str| format!("{level:?} side {} | {}: {p}", side.a.code, b.code);
            let (chain_a, chain_b) = (codes(&chain_of(side.a)), codes(&chain_of(b)));

            // Exactly on a vertex both grids share: the grid with the lower code, its whole
            // chain, the same answer every time; both sides are candidates at 0 m.
            let v = lonlat(side.vertex());
            let lower = if side.a.code < b.code {
                &chain_a
            } else {
                &chain_b
            };
            assert_eq!(located(v).as_ref(), Some(lower), "{}", what("vertex"));
            assert_eq!(located(v), located(v), "{}", what("deterministic"));
            let on = seam_at(v);
            for code in [&side.a.code, &b.code] {
                assert!(
                    on.iter().any(|c| &c.1 == code && c.2 == 0.0),
                    "{}: {on:?}",
                    what("vertex seam")
                );
            }

            // On the middle of an edge (the midpoint as floating point has it): a whole chain
            // of whichever grid holds it, the lower code when both do; both at ~0 m.
            let m = side.mid_edge();
            let holders: Vec<&Vec<String>> = [(&side.a, &chain_a), (&b, &chain_b)]
                .into_iter()
                .filter(|(j, _)| j.geometry.intersects(&m))
                .map(|(_, c)| c)
                .collect();
            let expected = holders.iter().min_by_key(|c| c.last().cloned()).copied();
            assert!(
                expected.is_some(),
                "{}",
                what("the mid-edge point is in a grid")
            );
            assert_eq!(
                located(lonlat(m)).as_ref(),
                expected,
                "{}",
                what("mid-edge")
            );
            let on = seam_at(lonlat(m));
            for code in [&side.a.code, &b.code] {
                assert!(
                    on.iter().any(|c| &c.1 == code && c.2 < 0.01),
                    "{}: {on:?}",
                    what("mid-edge seam")
                );
            }

            // 10 m to either side: that side's chain; both candidates, the far one at ~10 m,
            // at every level the side separates and no other.
            let a10 = side.toward_a(10.0);
            assert_eq!(
                located(a10).as_ref(),
                Some(&chain_a),
                "{}",
                what("10 m into a")
            );
            check_candidates(side, b, a10, true, 10.0, &what("10 m into a"));
            let b10 = side.toward_a(-10.0);
            assert_eq!(
                located(b10).as_ref(),
                Some(&chain_b),
                "{}",
                what("10 m into b")
            );
            check_candidates(side, b, b10, false, 10.0, &what("10 m into b"));

            // 40 m away, beyond the 30 m seam distance: no seam at all.
            for (at, chain, p) in [
                (side.toward_a(40.0), &chain_a, "40 m into a"),
                (side.toward_a(-40.0), &chain_b, "40 m into b"),
            ] {
                assert_eq!(located(at).as_ref(), Some(chain), "{}", what(p));
                let seam = seam_at(at);
                assert!(seam.is_empty(), "{}: {seam:?}", what(p));
            }
            *checked.entry(level).or_default() += 1;
        }
        for level in [Level::Street, Level::Community, Level::Grid] {
            assert!(
                checked.get(&level).copied().unwrap_or(0) > 0,
                "{level:?}: {checked:?}"
            );
        }
    }

    /// Outside the district where two grids meet on its boundary, the point used to be at a
    /// grid seam but not at the district's (two grids, one district); now every jurisdiction
    /// within reach is a candidate, as anywhere else along the outer boundary.
    #[test]
    fn outside_where_two_grids_meet_on_the_outer_boundary_every_level_is_a_candidate() {
        let outer: Vec<&Side> = sides().iter().filter(|s| s.b.is_none()).collect();
        let mut checked = 0;
        for s in &outer {
            // The corner where this outer side ends, if the next outer side is another grid's.
            let corner = s.vertices[SEGMENTS_PER_SIDE];
            let Some(next) = outer
                .iter()
                .find(|t| t.a.code != s.a.code && t.vertices[0] == corner)
            else {
                continue;
            };
            // 10 m outward along the average of the two sides' outward directions.
            let out = |side: &Side| {
                let metric = LocalMetric::at(corner);
                let inward = metric.to_metres(side.toward_a(1.0).point().0)
                    - metric.to_metres(side.mid_edge());
                inward * -1.0
            };
            let metric = LocalMetric::at(corner);
            let dir = out(s) + out(next);
            let len = dir.x.hypot(dir.y);
            let at = lonlat(metric.to_degrees(dir * (10.0 / len)));
            assert_eq!(located(at), None);
            let seam = seam_at(at);
            let levels: Vec<Level> = seam.iter().map(|c| c.0).collect();
            assert!(levels.contains(&Level::District), "{seam:?}");
            for grid in [&s.a.code, &next.a.code] {
                assert!(
                    seam.iter().any(|c| &c.1 == grid && c.2 <= 10.5),
                    "{grid} in {seam:?}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 5, "{checked} corners");
    }

    #[test]
    fn the_outer_boundary_belongs_to_the_district_and_just_outside_it_is_a_seam() {
        let mut checked = 0;
        for side in sides().iter().filter(|s| s.b.is_none()) {
            let what = |p: &str| format!("outer side of {}: {p}", side.a.code);
            let chain = codes(&chain_of(side.a));
            assert_eq!(chain.len(), 4);
            // On the boundary (vertex and mid-edge): inside, boundary included, whole chain.
            let v = lonlat(side.vertex());
            assert_eq!(located(v).as_ref(), Some(&chain), "{}", what("vertex"));
            let m = lonlat(side.mid_edge());
            if side.a.geometry.intersects(&side.mid_edge()) {
                assert_eq!(located(m).as_ref(), Some(&chain), "{}", what("mid-edge"));
            } else {
                assert_eq!(located(m), None, "{}", what("mid-edge, rounded outward"));
            }
            // Inside near the edge: the chain, and no seam (nobody of ours across the edge).
            for offset in [10.0, 40.0] {
                let at = side.toward_a(offset);
                let p = format!("{offset} m inside");
                assert_eq!(located(at).as_ref(), Some(&chain), "{}", what(&p));
                let seam = seam_at(at);
                assert!(seam.is_empty(), "{}: {seam:?}", what(&p));
            }
            let seam = seam_at(v);
            assert!(seam.is_empty(), "{}: {seam:?}", what("vertex"));
            // 10 m outside: no chain, and the jurisdictions on our side of the edge, one per
            // level, ~10 m away, are the candidates. 40 m outside: nothing at all.
            let out10 = side.toward_a(-10.0);
            assert_eq!(located(out10), None, "{}", what("10 m outside"));
            let seam = seam_at(out10);
            let codes: Vec<String> = seam.iter().map(|c| c.1.clone()).collect();
            assert_eq!(codes, chain, "{}: {seam:?}", what("10 m outside"));
            for c in &seam {
                assert!(
                    (c.2 - 10.0).abs() <= 0.5,
                    "{}: {seam:?}",
                    what("10 m outside")
                );
            }
            let out40 = side.toward_a(-40.0);
            assert_eq!(located(out40), None, "{}", what("40 m outside"));
            let seam = seam_at(out40);
            assert!(seam.is_empty(), "{}: {seam:?}", what("40 m outside"));
            checked += 1;
        }
        assert!(checked >= 10, "{checked} outer sides");
    }
}

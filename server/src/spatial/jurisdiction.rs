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
        let mut chain = vec![finest];
        while let Some(parent) = chain
            .last()
            .and_then(|j| j.parent.as_deref())
            .and_then(|code| self.by_code(code))
        {
            chain.push(parent);
        }
        chain.reverse();
        Some(Located { chain })
    }

    /// Every jurisdiction within `within_m` metres of the point, at each level where there is
    /// more than one (the point is near a boundary between them); empty when it is at no seam.
    /// Sorted by level, then distance, then code.
    pub fn seam(&self, at: LonLat, within_m: f64) -> Vec<SeamCandidate<'_>> {
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
            if here.len() > 1 {
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

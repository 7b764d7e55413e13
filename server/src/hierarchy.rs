//! The jurisdiction hierarchy across imports: an import brings some levels (boundaries from one
//! file, grids from another), and each import replaces only the levels it brings. Parents are
//! then made whole again: a jurisdiction with no parent, or whose parent is gone, gets the
//! innermost jurisdiction of a coarser level that contains its interior point.
//!
//! Plain values: no IO, no SQL. The importer and `onegrid grid generate` call it before saving.

use std::collections::{HashMap, HashSet};

use geo::{Area, BoundingRect, Contains, InteriorPoint};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use crate::district::{Jurisdiction, Level};

/// The jurisdictions after an import of `imported`: the levels it holds replace those levels of
/// `existing` (imported grids replace generated ones too), the other levels stay, and parents
/// are repaired with [`assign_parents`].
pub fn merge_levels(existing: Vec<Jurisdiction>, imported: &[Jurisdiction]) -> Vec<Jurisdiction> {
    let levels: HashSet<Level> = imported.iter().map(|j| j.level).collect();
    let mut out: Vec<Jurisdiction> = existing
        .into_iter()
        .filter(|j| !levels.contains(&j.level))
        .collect();
    let codes: HashSet<String> = imported.iter().map(|j| j.code.clone()).collect();
    // A kept jurisdiction whose code an imported one now uses gives way to it.
    out.retain(|j| !codes.contains(&j.code));
    out.extend(imported.iter().cloned());
    assign_parents(&mut out);
    out
}

/// Gives each jurisdiction whose parent is missing, unknown, or not of a coarser level the
/// innermost jurisdiction of a coarser level containing its interior point (the smallest one,
/// among those of the finest level that contains it); `None` when nothing contains it.
pub fn assign_parents(js: &mut [Jurisdiction]) {
    let by_code: HashMap<&str, Level> = js.iter().map(|j| (j.code.as_str(), j.level)).collect();
    let needs: Vec<usize> = js
        .iter()
        .enumerate()
        .filter(|(_, j)| {
            j.level != Level::District
                && j.parent
                    .as_deref()
                    .and_then(|p| by_code.get(p))
                    .is_none_or(|pl| *pl >= j.level)
        })
        .map(|(i, _)| i)
        .collect();
    if needs.is_empty() {
        return;
    }
    let tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>> = RTree::bulk_load(
        js.iter()
            .enumerate()
            .filter(|(_, j)| j.level != Level::Grid)
            .filter_map(|(i, j)| {
                let r = j.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect(),
    );
    let mut found = Vec::with_capacity(needs.len());
    for &i in &needs {
        let j = &js[i];
        let parent = j.geometry.interior_point().and_then(|p| {
            tree.locate_all_at_point(&[p.x(), p.y()])
                .map(|e| &js[e.data])
                .filter(|o| o.level < j.level && o.code != j.code && o.geometry.contains(&p))
                .max_by(|a, b| {
                    a.level.cmp(&b.level).then(
                        b.geometry
                            .unsigned_area()
                            .total_cmp(&a.geometry.unsigned_area()),
                    )
                })
                .map(|o| o.code.clone())
        });
        found.push(parent);
    }
    for (i, parent) in needs.into_iter().zip(found) {
        js[i].parent = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(level: Level, code: &str, parent: Option<&str>, x0: f64, size: f64) -> Jurisdiction {
        Jurisdiction {
            level,
            code: code.into(),
            name: code.into(),
            parent: parent.map(str::to_string),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: 0.0),
                (x: x0 + size, y: 0.0),
                (x: x0 + size, y: size),
                (x: x0, y: size),
                (x: x0, y: 0.0),
            ]]),
            generated: false,
        }
    }

    fn parents(js: &[Jurisdiction]) -> Vec<(String, Option<String>)> {
        let mut v: Vec<_> = js
            .iter()
            .map(|j| (j.code.clone(), j.parent.clone()))
            .collect();
        v.sort();
        v
    }

    fn pair(code: &str, parent: Option<&str>) -> (String, Option<String>) {
        (code.into(), parent.map(str::to_string))
    }

    #[test]
    fn an_import_replaces_its_levels_and_the_others_find_their_parents_again() {
        let existing = vec![
            square(Level::District, "D", None, 0.0, 4.0),
            square(Level::Street, "S-old", Some("D"), 0.0, 4.0),
            Jurisdiction {
                generated: true,
                ..square(Level::Grid, "G1", Some("S-old"), 0.0, 1.0)
            },
            square(Level::Grid, "G2", Some("S-old"), 2.0, 1.0),
        ];
        // New streets (no parents given): two halves of the district.
        let imported = vec![
            square(Level::Street, "S-west", None, 0.0, 2.0),
            square(Level::Street, "S-east", None, 2.0, 2.0),
        ];
        let merged = merge_levels(existing, &imported);
        assert_eq!(
            parents(&merged),
            [
                pair("D", None),
                pair("G1", Some("S-west")),
                pair("G2", Some("S-east")),
                pair("S-east", Some("D")),
                pair("S-west", Some("D")),
            ]
        );
        assert!(
            merged.iter().any(|j| j.code == "G1" && j.generated),
            "kept as it was"
        );

        // Imported grids replace every grid, generated or not.
        let grids = vec![square(Level::Grid, "G9", Some("nowhere"), 0.5, 0.5)];
        let merged = merge_levels(merged, &grids);
        let codes: Vec<&str> = merged
            .iter()
            .filter(|j| j.level == Level::Grid)
            .map(|j| j.code.as_str())
            .collect();
        assert_eq!(codes, ["G9"]);
        assert!(merged
            .iter()
            .any(|j| j.code == "G9" && j.parent.as_deref() == Some("S-west")));
    }

    #[test]
    fn a_parent_that_exists_and_is_coarser_is_kept_and_the_innermost_wins_otherwise() {
        let mut js = vec![
            square(Level::District, "D", None, 0.0, 4.0),
            square(Level::Street, "S", Some("D"), 0.0, 4.0),
            square(Level::Community, "C", None, 0.0, 2.0),
            // Its named parent is a grid: not coarser, so it is replaced.
            square(Level::Community, "C2", Some("G"), 2.0, 2.0),
            square(Level::Grid, "G", Some("S"), 0.0, 1.0),
            square(Level::Grid, "G-out", None, 10.0, 1.0),
        ];
        assign_parents(&mut js);
        assert_eq!(
            parents(&js),
            [
                pair("C", Some("S")),
                pair("C2", Some("S")),
                pair("D", None),
                pair("G", Some("S")),
                pair("G-out", None),
                pair("S", Some("D")),
            ]
        );
    }
}

//! `onegrid grid generate`: unit grids (单元网格) where a district's imported jurisdictions stop
//! above grid level. Each finest imported jurisdiction (a community, or a street/town or district
//! with nothing finer inside it) is divided into cells of a target area (default 10,000 m², in
//! the spirit of CJ/T 213), clipped to it, following main roads where the road layer has them
//! ([`cells`]), each with a 15-digit code under its parent's code.
//!
//! Imported grid polygons always take precedence: a jurisdiction that holds imported grids gets
//! no generated ones, and importing grids later replaces every generated grid. Generating again
//! replaces the generated grids of the last run.
//!
//! Plain values in and out: the caller loads the jurisdictions and roads from the store and
//! saves the result as one event. No IO, no SQL.

pub mod cells;

use std::collections::{HashMap, HashSet};

use geo::{Area, Contains, InteriorPoint};

use crate::district::{Asset, AssetLayer, Jurisdiction, Level};
use crate::hierarchy;

pub use cells::RoadLines;

/// The area of a unit grid cell when none is given, in square metres.
pub const DEFAULT_CELL_AREA_M2: f64 = 10_000.0;
/// Grids one parent can hold: the last three digits of a 15-digit grid code.
pub const MAX_GRIDS_PER_PARENT: usize = 999;

/// How to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridOptions {
    /// Target area of one cell, square metres.
    pub cell_area_m2: f64,
    /// Pull cell corners onto nearby main roads.
    pub follow_roads: bool,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            cell_area_m2: DEFAULT_CELL_AREA_M2,
            follow_roads: true,
        }
    }
}

/// What happened to one finest jurisdiction.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentReport {
    pub level: Level,
    pub code: String,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Divided into `cells` grids of about `cell_area_m2` each (larger than asked when the
    /// target would need more than [`MAX_GRIDS_PER_PARENT`]); `road_corners` of their corners
    /// were moved onto roads.
    Generated {
        cells: usize,
        cell_area_m2: f64,
        road_corners: usize,
    },
    /// It holds imported grids, which take precedence.
    HasImportedGrids(usize),
    /// It could not be divided (e.g. no area), with the reason.
    Skipped(String),
}

/// The result: every jurisdiction as it should be saved (the imported ones unchanged, the
/// previous run's generated grids replaced by this run's), and a report per finest jurisdiction.
#[derive(Debug, Clone)]
pub struct Generated {
    pub jurisdictions: Vec<Jurisdiction>,
    pub parents: Vec<ParentReport>,
    /// Grids made by this run.
    pub generated: usize,
    /// Grids of an earlier run that this one replaced.
    pub replaced: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("there are no jurisdictions to divide; import the district's boundaries first")]
    NoJurisdictions,
    #[error("cell area {0} m² is not a positive number")]
    BadArea(f64),
    #[error("two jurisdictions would share the code {0}; give the boundaries distinct codes")]
    CodeCollision(String),
}

/// Generates grids for every finest jurisdiction that has none imported. `progress(done,
/// total)` counts finest jurisdictions.
pub fn generate(
    existing: Vec<Jurisdiction>,
    roads: &[Asset],
    options: &GridOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Generated, GridError> {
    if !options.cell_area_m2.is_finite() || options.cell_area_m2 <= 0.0 {
        return Err(GridError::BadArea(options.cell_area_m2));
    }
    let replaced = existing.iter().filter(|j| j.generated).count();
    let kept: Vec<Jurisdiction> = existing.into_iter().filter(|j| !j.generated).collect();
    if kept.iter().all(|j| j.level == Level::Grid) {
        return Err(GridError::NoJurisdictions);
    }
    let road_lines = options.follow_roads.then(|| main_roads(roads));
    let leaves = finest(&kept);
    let digits = code_digits(&kept);
    // Each imported grid's parent and interior point, found once.
    let imported_grids: Vec<(Option<&str>, Option<geo::Point<f64>>)> = kept
        .iter()
        .filter(|j| j.level == Level::Grid)
        .map(|g| (g.parent.as_deref(), g.geometry.interior_point()))
        .collect();

    let mut parents = Vec::with_capacity(leaves.len());
    let mut made = Vec::new();
    for (done, leaf) in leaves.iter().enumerate() {
        progress(done, leaves.len());
        let holding = imported_grids
            .iter()
            .filter(|(parent, point)| {
                *parent == Some(leaf.code.as_str())
                    || point.is_some_and(|p| leaf.geometry.contains(&p))
            })
            .count();
        let outcome = if holding > 0 {
            Outcome::HasImportedGrids(holding)
        } else {
            match cells::divide(
                &leaf.geometry,
                options.cell_area_m2,
                MAX_GRIDS_PER_PARENT,
                road_lines.as_ref(),
            ) {
                None => Outcome::Skipped("it has no area to divide".into()),
                Some(division) => {
                    let prefix = grid_prefix(&digits, leaf);
                    let n = division.cells.len();
                    for (k, cell) in division.cells.into_iter().enumerate() {
                        made.push(Jurisdiction {
                            level: Level::Grid,
                            code: format!("{prefix}{:03}", k + 1),
                            name: format!("{}第{}网格", leaf.name, k + 1),
                            parent: Some(leaf.code.clone()),
                            geometry: cell,
                            generated: true,
                        });
                    }
                    Outcome::Generated {
                        cells: n,
                        cell_area_m2: (division.side_m * division.side_m).round(),
                        road_corners: division.snapped,
                    }
                }
            }
        };
        parents.push(ParentReport {
            level: leaf.level,
            code: leaf.code.clone(),
            name: leaf.name.clone(),
            outcome,
        });
    }
    progress(leaves.len(), leaves.len());

    let mut seen: HashSet<&str> = kept.iter().map(|j| j.code.as_str()).collect();
    for g in &made {
        if !seen.insert(g.code.as_str()) {
            return Err(GridError::CodeCollision(g.code.clone()));
        }
    }
    let generated = made.len();
    let mut jurisdictions = kept;
    jurisdictions.extend(made);
    hierarchy::assign_parents(&mut jurisdictions);
    Ok(Generated {
        jurisdictions,
        parents,
        generated,
        replaced,
    })
}

/// The non-grid jurisdictions that no other non-grid jurisdiction names as its parent, in code
/// order.
fn finest(js: &[Jurisdiction]) -> Vec<&Jurisdiction> {
    let parents: HashSet<&str> = js
        .iter()
        .filter(|j| j.level != Level::Grid)
        .filter_map(|j| j.parent.as_deref())
        .collect();
    let mut leaves: Vec<&Jurisdiction> = js
        .iter()
        .filter(|j| j.level != Level::Grid && !parents.contains(j.code.as_str()))
        .filter(|j| j.geometry.unsigned_area() > 0.0)
        .collect();
    leaves.sort_by(|a, b| a.code.cmp(&b.code));
    leaves
}

/// Digits of each jurisdiction's code in the CJ/T 213 scheme: district 6, street 9, community
/// 12. A code already of that shape is used as it is; any other (an OSM relation id, a name)
/// gets its parent's digits followed by its position among its siblings, so grids under it still
/// get 15-digit codes that start with their parent's.
fn code_digits(js: &[Jurisdiction]) -> HashMap<String, String> {
    let by_code: HashMap<&str, &Jurisdiction> = js.iter().map(|j| (j.code.as_str(), j)).collect();
    let mut siblings: HashMap<(Option<&str>, Level), Vec<&str>> = HashMap::new();
    for j in js.iter().filter(|j| j.level != Level::Grid) {
        siblings
            .entry((j.parent.as_deref(), j.level))
            .or_default()
            .push(j.code.as_str());
    }
    for list in siblings.values_mut() {
        list.sort_unstable();
    }
    fn width(level: Level) -> usize {
        match level {
            Level::District => 6,
            Level::Street => 9,
            Level::Community | Level::Grid => 12,
        }
    }
    fn digits_of<'a>(
        j: &'a Jurisdiction,
        by_code: &HashMap<&str, &'a Jurisdiction>,
        siblings: &HashMap<(Option<&str>, Level), Vec<&str>>,
        depth: usize,
    ) -> String {
        let w = width(j.level);
        if j.code.len() == w && j.code.bytes().all(|b| b.is_ascii_digit()) {
            return j.code.clone();
        }
        let position = siblings
            .get(&(j.parent.as_deref(), j.level))
            .and_then(|l| l.iter().position(|c| *c == j.code))
            .map_or(1, |p| p + 1);
        let parent = j
            .parent
            .as_deref()
            .and_then(|p| by_code.get(p))
            .filter(|p| p.level < j.level && depth < 4);
        match parent {
            Some(p) => {
                let mut d = digits_of(p, by_code, siblings, depth + 1);
                let gap = w.saturating_sub(d.len()).max(3);
                d.push_str(&format!("{:0gap$}", position % 10usize.pow(gap as u32)));
                d
            }
            None => format!("{:0w$}", position),
        }
    }
    js.iter()
        .filter(|j| j.level != Level::Grid)
        .map(|j| (j.code.clone(), digits_of(j, &by_code, &siblings, 0)))
        .collect()
}

/// The first 12 digits of the codes of the grids under `leaf`.
fn grid_prefix(digits: &HashMap<String, String>, leaf: &Jurisdiction) -> String {
    let mut d: String = digits.get(&leaf.code).cloned().unwrap_or_default();
    d.truncate(12);
    format!("{d:0<12}")
}

/// Main road centrelines (major classes and tertiary roads) that grid edges may follow.
fn main_roads(roads: &[Asset]) -> RoadLines {
    let mut lines = Vec::new();
    for a in roads.iter().filter(|a| a.layer == AssetLayer::Roads) {
        if !(crate::district::is_major_road(&a.kind) || a.kind.starts_with("tertiary")) {
            continue;
        }
        let mut push = |ls: &geo::LineString<f64>| {
            for l in ls.lines() {
                lines.push([l.start, l.end]);
            }
        };
        match &a.geometry {
            geo::Geometry::LineString(ls) => push(ls),
            geo::Geometry::MultiLineString(m) => m.0.iter().for_each(&mut push),
            _ => {}
        }
    }
    RoadLines(lines)
}

#[cfg(test)]
mod tests;

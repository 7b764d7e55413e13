//! The spatial engine: in-memory R-trees answering "whose area is this" (and, as layers grow,
//! "what is near here"). Coordinates are WGS84 lon/lat in degrees; distances are metres.
//!
//! No IO, no async, no SQL: it is built from values the store loaded and is a cache of the
//! store, never a second source of truth.

mod jurisdiction;
pub mod metric;
mod nearby;
pub mod responsibility;

pub use jurisdiction::{JurisdictionIndex, Located, SeamCandidate, DEFAULT_SEAM_M};
pub use nearby::{AssetIndex, NearbyAsset, Radius, RadiusError, MAX_RADIUS_M};
pub use responsibility::{Decision, RuleContext, Rules, DEFAULT_RULES};

use onegrid_app::wire::{
    Analysis, AssetLayer, Category, DepartmentRef, JurisdictionRef, LocateAnswer, NearbyFeature,
    Responsibility, Seam,
};

use crate::district::{Jurisdiction, Level};

/// How many of the nearest assets of each layer an incident keeps, and from how far.
const SUMMARY_PER_LAYER: usize = 5;
const SUMMARY_RADIUS_M: f64 = 50.0;

/// The engine: jurisdictions, assets and responsibility rules of one district.
pub struct Spatial {
    pub jurisdictions: JurisdictionIndex,
    pub assets: AssetIndex,
    pub rules: Rules,
    /// Distance from a boundary within which a point is at a seam, in metres.
    pub seam_m: f64,
}

impl Spatial {
    /// The jurisdiction chain and, near a boundary, the seam candidates.
    pub fn locate(&self, at: LonLat) -> LocateAnswer {
        let chain = self
            .jurisdictions
            .locate(at)
            .map(|l| l.chain.iter().map(|j| jurisdiction_ref(j)).collect())
            .unwrap_or_default();
        LocateAnswer {
            chain,
            seam: self.seam(at),
        }
    }

    fn seam(&self, at: LonLat) -> Option<Seam> {
        seam_answer(&self.jurisdictions.seam(at, self.seam_m))
    }

    pub fn nearby(&self, at: LonLat, radius: Radius, layers: &[AssetLayer]) -> Vec<NearbyFeature> {
        self.assets
            .nearby(at, radius, layers)
            .iter()
            .map(nearby_feature)
            .collect()
    }

    /// Everything onegrid works out about a new incident's place: its chain and grid, the
    /// seam, the nearest assets and the proposed department (or why none is proposed).
    ///
    /// A point outside the district but within the seam distance of it (a pothole on the
    /// border road) is placed in the nearest grid for review, with the jurisdictions near it as
    /// its seam candidates; farther out it is [`Unplaced::Outside`].
    pub fn analyse(&self, category: Category, at: LonLat) -> Result<Placed<'_>, Unplaced<'_>> {
        let candidates = self.jurisdictions.seam(at, self.seam_m);
        let seam = seam_answer(&candidates);
        let (located, outside_m) = match self.jurisdictions.locate(at) {
            Some(located) => (located, None),
            None => {
                let nearest_grid = candidates
                    .iter()
                    .filter(|c| c.jurisdiction.level == Level::Grid)
                    .min_by(|a, b| a.distance_m.total_cmp(&b.distance_m))
                    .ok_or(Unplaced::Outside)?;
                (
                    self.jurisdictions.chain_of(nearest_grid.jurisdiction),
                    Some(round_cm(nearest_grid.distance_m)),
                )
            }
        };
        let Some(grid) = located.at(Level::Grid) else {
            return Err(Unplaced::NotInAGrid(located));
        };
        let street = located.at(Level::Street);
        let near = match Radius::parse(SUMMARY_RADIUS_M) {
            Ok(radius) => self.assets.nearby(at, radius, &AssetLayer::ALL),
            Err(_) => Vec::new(),
        };
        let review_required = seam.is_some() || outside_m.is_some();
        let mut responsibility = match self.rules.decide(category, &located.chain, &near) {
            Some(d) => Responsibility {
                department: Some(DepartmentRef {
                    code: d.department.code.clone(),
                    name_zh: d.department.name_zh.clone(),
                    name_en: d.department.name_en.clone(),
                    contact: d.department.contact.clone(),
                }),
                rule: Some(d.rule.id.clone()),
                explanation_zh: d.explanation_zh,
                explanation_en: d.explanation_en,
                review_required,
            },
            None => {
                let (explanation_zh, explanation_en) =
                    responsibility::undecided_explanation(category, &located.chain);
                Responsibility {
                    department: None,
                    rule: None,
                    explanation_zh,
                    explanation_en,
                    review_required: true,
                }
            }
        };
        if let Some(m) = outside_m {
            responsibility.explanation_zh.push_str(&format!(
                "；该点在辖区边界外 {m:.1} 米，暂归最近的网格，需复核"
            ));
            responsibility.explanation_en.push_str(&format!(
                "; the point is {m:.1} m outside the district boundary, placed in the nearest grid for review"
            ));
        }
        let mut per_layer = std::collections::HashMap::new();
        let nearby = near
            .iter()
            .filter(|n| {
                let seen = per_layer.entry(n.asset.layer).or_insert(0usize);
                *seen += 1;
                *seen <= SUMMARY_PER_LAYER
            })
            .map(nearby_feature)
            .collect();
        let analysis = Analysis {
            jurisdiction: located.chain.iter().map(|j| jurisdiction_ref(j)).collect(),
            seam,
            nearby,
            responsibility: Some(responsibility),
            outside_m,
        };
        Ok(Placed {
            analysis,
            street,
            grid,
        })
    }
}

impl Spatial {
    /// Codes of every jurisdiction an analysed incident lies in or touches at a seam, with all
    /// their ancestors: who is responsible for the place, at every level.
    pub fn touched_jurisdictions(&self, analysis: &Analysis) -> Vec<String> {
        let mut codes: Vec<String> = analysis
            .jurisdiction
            .iter()
            .map(|j| j.code.clone())
            .collect();
        for candidate in analysis.seam.iter().flat_map(|s| &s.candidates) {
            match self.jurisdictions.by_code(&candidate.code) {
                Some(j) => codes.extend(
                    self.jurisdictions
                        .chain_of(j)
                        .chain
                        .iter()
                        .map(|j| j.code.clone()),
                ),
                None => codes.push(candidate.code.clone()),
            }
        }
        codes.sort();
        codes.dedup();
        codes
    }
}

/// A new incident's place, as [`Spatial::analyse`] worked it out.
#[derive(Debug)]
pub struct Placed<'a> {
    pub analysis: Analysis,
    /// `None` where the imported jurisdictions have no street/town level.
    pub street: Option<&'a Jurisdiction>,
    pub grid: &'a Jurisdiction,
}

/// Why a point cannot take an incident.
#[derive(Debug)]
pub enum Unplaced<'a> {
    /// Farther outside the district than the seam distance.
    Outside,
    /// Inside jurisdictions that stop above grid level (the chain it lies in).
    NotInAGrid(Located<'a>),
}

/// Seam candidates as answers carry them; `None` when there are none.
fn seam_answer(candidates: &[SeamCandidate<'_>]) -> Option<Seam> {
    (!candidates.is_empty()).then(|| Seam {
        candidates: candidates
            .iter()
            .map(|c| onegrid_app::wire::SeamCandidate {
                level: c.jurisdiction.level,
                code: c.jurisdiction.code.clone(),
                name: c.jurisdiction.name.clone(),
                distance_m: round_cm(c.distance_m),
            })
            .collect(),
    })
}

fn jurisdiction_ref(j: &Jurisdiction) -> JurisdictionRef {
    JurisdictionRef {
        level: j.level,
        code: j.code.clone(),
        name: j.name.clone(),
    }
}

fn nearby_feature(n: &NearbyAsset<'_>) -> NearbyFeature {
    NearbyFeature {
        layer: n.asset.layer,
        id: n.asset.id.clone(),
        name: n.asset.name.clone(),
        kind: n.asset.kind.clone(),
        owner: n.asset.owner.clone(),
        distance_m: round_cm(n.distance_m),
        nearest: [n.nearest.x, n.nearest.y],
    }
}

/// Metres to the centimetre, as answers carry them.
fn round_cm(m: f64) -> f64 {
    (m * 100.0).round() / 100.0
}

/// A WGS84 position that has been checked once, at the edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum CoordError {
    #[error("latitude must be a number between -90 and 90")]
    Latitude,
    #[error("longitude must be a number between -180 and 180")]
    Longitude,
}

impl LonLat {
    pub fn parse(lon: f64, lat: f64) -> Result<LonLat, CoordError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(CoordError::Latitude);
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(CoordError::Longitude);
        }
        Ok(LonLat { lon, lat })
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn point(self) -> geo::Point<f64> {
        geo::Point::new(self.lon, self.lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_out_of_range_or_not_finite_are_rejected() {
        assert!(LonLat::parse(113.1, 23.0).is_ok());
        assert_eq!(LonLat::parse(113.1, 90.5), Err(CoordError::Latitude));
        assert_eq!(LonLat::parse(180.1, 23.0), Err(CoordError::Longitude));
        assert_eq!(LonLat::parse(f64::NAN, 23.0), Err(CoordError::Longitude));
        assert_eq!(
            LonLat::parse(113.0, f64::INFINITY),
            Err(CoordError::Latitude)
        );
    }
}

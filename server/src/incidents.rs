//! Reporting incidents (moving them is `cases`): validate → commit (state + event) → publish to the hub.
//! Nothing is announced before it is committed. Used by the HTTP API and the simulator alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use geo::{Distance, Geodesic};
use onegrid_app::wire::{Analysis, Category, Incident, NewIncident};

use crate::accounts::{department_key, jurisdiction_key, Actor};
use crate::cases::CasePolicy;
use crate::clock::Clock;
use crate::district_state::DistrictState;
use crate::live::{incident_frame, Feed};
use crate::spatial::{CoordError, LonLat, Spatial, Unplaced};
use crate::store::{IncidentDraft, IncidentEvent, Store, StoreError};

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Longest reporter name accepted, in characters.
pub const MAX_REPORTER_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("unknown category {0:?}; GET /api/v1/categories lists the codes")]
    UnknownCategory(String),
    #[error("{0}")]
    Coordinates(#[from] CoordError),
    #[error(
        "the point ({lon}, {lat}) is outside the district (farther than the seam distance from \
         its boundary)"
    )]
    OutsideDistrict { lon: f64, lat: f64 },
    /// Inside imported jurisdictions that stop above the grid level (e.g. municipal boundaries
    /// only): an incident needs a street/town and a grid to be routed.
    #[error(
        "the point ({lon}, {lat}) lies in {within} but in no grid; incidents need a street/town \
         and a grid there: import the grid boundaries"
    )]
    NotInAGrid { lon: f64, lat: f64, within: String },
    #[error("description is {0} characters; at most {MAX_DESCRIPTION_CHARS} are accepted")]
    DescriptionTooLong(usize),
    #[error("reporter is {0} characters; at most {MAX_REPORTER_CHARS} are accepted")]
    ReporterTooLong(usize),
    /// Text holding U+0000, which no text column of either store can keep.
    #[error("{0} contains the NUL character (U+0000), which is not accepted in text")]
    NulCharacter(&'static str),
    /// The caller may not report at all (a screen), or not at this place (outside its scope).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The incident service: the one way incidents are created and changed.
#[derive(Clone)]
pub struct Incidents {
    store: Store,
    feed: Feed,
    district: DistrictState,
    clock: Clock,
    policy: Arc<CasePolicy>,
}

impl Incidents {
    pub fn new(
        store: Store,
        feed: Feed,
        district: DistrictState,
        clock: Clock,
        policy: Arc<CasePolicy>,
    ) -> Incidents {
        Incidents {
            store,
            feed,
            district,
            clock,
            policy,
        }
    }

    /// Checks a report, locates it, checks the caller may report there, commits it with its
    /// event and audit row, then publishes it.
    pub async fn report(&self, actor: &Actor, input: NewIncident) -> Result<Incident, ReportError> {
        if !actor.can_report() {
            return Err(ReportError::Forbidden(format!(
                "a {} cannot report incidents",
                actor.role.as_str()
            )));
        }
        let category = Category::parse(&input.category)
            .ok_or_else(|| ReportError::UnknownCategory(input.category.clone()))?;
        let at = LonLat::parse(input.lon, input.lat)?;
        let description = input.description.trim().to_string();
        if description.contains('\0') {
            return Err(ReportError::NulCharacter("description"));
        }
        if input.reporter.as_deref().is_some_and(|r| r.contains('\0')) {
            return Err(ReportError::NulCharacter("reporter"));
        }
        let chars = description.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(ReportError::DescriptionTooLong(chars));
        }
        let reporter = input
            .reporter
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if let Some(n) = reporter.as_ref().map(|r| r.chars().count()) {
            if n > MAX_REPORTER_CHARS {
                return Err(ReportError::ReporterTooLong(n));
            }
        }
        // Analysed against the district as loaded now (the newest import it has picked up).
        let district = self.district.current();
        let placed = district.spatial.analyse(category, at).map_err(|unplaced| {
            let (lon, lat) = (at.lon(), at.lat());
            match unplaced {
                Unplaced::NotInAGrid(located) => ReportError::NotInAGrid {
                    lon,
                    lat,
                    within: located
                        .chain
                        .iter()
                        .map(|j| format!("{} ({})", j.name, j.code))
                        .collect::<Vec<_>>()
                        .join(" › "),
                },
                Unplaced::Outside => ReportError::OutsideDistrict { lon, lat },
            }
        })?;
        let scope_keys = scope_keys(&district.spatial, &placed.analysis);
        if !actor.sees(&scope_keys) {
            return Err(ReportError::Forbidden(format!(
                "the point ({}, {}) is outside your area ({}); report it to the duty officer",
                at.lon(),
                at.lat(),
                actor.scope.code().unwrap_or_default()
            )));
        }
        let now = self.clock.now();
        let (dispatch_due_at, resolve_due_at) = self.policy.due(category, now);
        let duplicate_of = self.duplicate_of(category, at, now).await?;
        let draft = IncidentDraft {
            category,
            lon: at.lon(),
            lat: at.lat(),
            description,
            reporter,
            street_code: placed.street.map(|s| s.code.clone()).unwrap_or_default(),
            street_name: placed.street.map(|s| s.name.clone()).unwrap_or_default(),
            grid_code: placed.grid.code.clone(),
            grid_name: placed.grid.name.clone(),
            analysis: placed.analysis,
            scope_keys,
            duplicate_of,
            dispatch_due_at: Some(dispatch_due_at),
            resolve_due_at: Some(resolve_due_at),
        };
        drop(district);
        let event = self
            .store
            .report_incident(&draft, &actor.who(), now)
            .await?;
        self.publish(&event).await;
        Ok(event.incident)
    }

    /// The nearest open incident of `category` within the duplicate distance of `at`, reported
    /// within the duplicate hours before `now`: the one a new report probably duplicates.
    async fn duplicate_of(
        &self,
        category: Category,
        at: LonLat,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let metres = self.policy.duplicate_distance_m;
        if metres <= 0.0 || self.policy.duplicate_hours == 0 {
            return Ok(None);
        }
        let dlat = metres / 111_000.0;
        let dlon = metres / (111_000.0 * at.lat().to_radians().cos().max(0.01));
        let bbox = [
            at.lon() - dlon,
            at.lat() - dlat,
            at.lon() + dlon,
            at.lat() + dlat,
        ];
        let since = now - chrono::Duration::hours(i64::from(self.policy.duplicate_hours));
        let here = geo::Point::new(at.lon(), at.lat());
        let nearest = self
            .store
            .open_incidents_near(category, bbox, since)
            .await?
            .into_iter()
            .map(|i| (Geodesic.distance(here, geo::Point::new(i.lon, i.lat)), i.id))
            .filter(|(d, _)| *d <= metres)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        Ok(nearest.map(|(_, id)| id))
    }

    /// After commit: to this replica's live feed (in `seq` order) and to the other replicas.
    async fn publish(&self, event: &IncidentEvent) {
        let frame = incident_frame(event.seq, &event.incident, event.scope.clone());
        self.feed.committed(frame).await;
    }
}

/// Who may see an incident with this analysis: every jurisdiction it lies in or touches at a
/// seam, and its proposed department.
pub fn scope_keys(spatial: &Spatial, analysis: &Analysis) -> Vec<String> {
    let mut keys: Vec<String> = spatial
        .touched_jurisdictions(analysis)
        .iter()
        .map(|code| jurisdiction_key(code))
        .collect();
    if let Some(d) = analysis
        .responsibility
        .as_ref()
        .and_then(|r| r.department.as_ref())
    {
        keys.push(department_key(&d.code));
    }
    keys
}

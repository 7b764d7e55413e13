//! `/api/v1/departments` (the district's departments, from the store) and `/api/v1/rules` (the
//! responsibility rules in force, those skipped and why, as the loaded district has them).

use axum::extract::State;
use onegrid_app::wire::{DepartmentInfo, RulesReport};

use super::error::{Error, Json};
use crate::accounts::Actor;
use crate::AppState;

pub async fn departments(
    State(state): State<AppState>,
    _actor: Actor,
) -> Result<Json<Vec<DepartmentInfo>>, Error> {
    let departments = state.store.load_departments().await?;
    Ok(Json(
        departments
            .into_iter()
            .map(|d| DepartmentInfo {
                code: d.code,
                name_zh: d.name_zh,
                name_en: d.name_en,
                contact: d.contact,
                parent: d.parent,
            })
            .collect(),
    ))
}

pub async fn rules(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<RulesReport>, Error> {
    if !actor.is_district_wide() {
        return Err(Error::forbidden(
            "forbidden",
            "the responsibility rules are shown to administrators and duty officers",
        ));
    }
    Ok(Json(
        state.district.current().spatial.rules.report().clone(),
    ))
}

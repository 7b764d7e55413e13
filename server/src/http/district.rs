//! `/api/v1/departments` (the district's departments, from the store) and `/api/v1/rules` (the
//! responsibility rules in force, those skipped and why, as the loaded district has them).

use axum::extract::State;
use onegrid_app::wire::{DepartmentInfo, RulesReport};

use super::error::{Error, Json};
use crate::AppState;

/// The district's departments.
#[utoipa::path(
    get,
    path = "/departments",
    tag = "district",
    responses(
        (status = 200, description = "Every department.", body = Vec<DepartmentInfo>),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn departments(
    State(state): State<AppState>,
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

/// The responsibility rules in force (the first that matches decides), those skipped and why,
/// and problems with the rules file as a whole.
#[utoipa::path(
    get,
    path = "/rules",
    tag = "district",
    responses((status = 200, description = "The rules as loaded.", body = RulesReport)),
)]
pub async fn rules(State(state): State<AppState>) -> Json<RulesReport> {
    Json(state.district.current().spatial.rules.report().clone())
}

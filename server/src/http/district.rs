//! `/api/v1/departments` (the district's departments, from the store) and `/api/v1/rules` (the
//! responsibility rules in force, those skipped and why, as the loaded district has them). The
//! rules file is named by its file name only: where it lives on the server is not the client's
//! business.

use axum::extract::State;
use onegrid_app::wire::{DepartmentInfo, RulesReport};

use super::error::{Error, Json};
use crate::accounts::Actor;
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

/// The responsibility rules in force (the first that matches decides), those skipped and why,
/// and problems with the rules file as a whole.
#[utoipa::path(
    get,
    path = "/rules",
    tag = "district",
    responses((status = 200, description = "The rules as loaded.", body = RulesReport)),
)]
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
    Ok(Json(without_paths(
        state.district.current().spatial.rules.report().clone(),
    )))
}

/// The report with the rules file's path replaced by its file name, in the report and in every
/// message that quotes it.
fn without_paths(mut report: RulesReport) -> RulesReport {
    let path = std::mem::take(&mut report.file);
    let name = std::path::Path::new(&path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !path.is_empty() && path != name {
        let strip = |text: &mut String| {
            if text.contains(&path) {
                *text = text.replace(&path, &name);
            }
        };
        for problem in &mut report.problems {
            strip(&mut problem.message);
            strip(&mut problem.message_zh);
        }
        for skipped in &mut report.skipped {
            strip(&mut skipped.reason);
            strip(&mut skipped.reason_zh);
        }
    }
    report.file = name;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use onegrid_app::wire::{RulesProblem, SkippedRule};

    #[test]
    fn the_report_names_the_rules_file_without_its_folder() {
        let report = RulesReport {
            file: "/srv/onegrid/data/responsibility.toml".into(),
            problems: vec![RulesProblem {
                message: "/srv/onegrid/data/responsibility.toml cannot be read as TOML".into(),
                message_zh: "/srv/onegrid/data/responsibility.toml 不是有效的 TOML".into(),
            }],
            skipped: vec![SkippedRule {
                index: 1,
                id: None,
                reason: "see /srv/onegrid/data/responsibility.toml".into(),
                reason_zh: String::new(),
            }],
            ..RulesReport::default()
        };
        let shown = without_paths(report);
        assert_eq!(shown.file, "responsibility.toml");
        let text = format!("{shown:?}");
        assert!(!text.contains("/srv"), "{text}");
        assert!(shown.problems[0]
            .message
            .starts_with("responsibility.toml cannot"));
    }
}

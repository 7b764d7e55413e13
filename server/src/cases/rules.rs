//! The lifecycle's rules: who may take which action from which state, what each action needs,
//! and what it changes. Pure: no store, no clock, no HTTP.

use onegrid_app::wire::{ActionRequest, CaseAction, Category, Incident, Role};
use serde_json::{json, Map, Value};

use crate::accounts::{Actor, Scope};

/// Longest `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// Longest `note`, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Why an action is refused before anything is written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// 422: the request is not a well-formed action.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// 403: this caller may not take this action on this incident.
    #[error("{0}")]
    Forbidden(String),
    /// 409: not legal from the incident's current state.
    #[error("{action} is not possible while the incident is {status}")]
    Illegal {
        action: &'static str,
        status: &'static str,
    },
}

fn invalid(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        code,
        message: message.into(),
    }
}

/// An action checked for shape: its kind and the fields it carries, trimmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub action: CaseAction,
    pub category: Option<Category>,
    pub department: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub into: Option<i64>,
}

/// Checks the request's shape: a known action, only the fields that action takes, the ones it
/// needs whatever the incident, lengths and characters.
pub fn check(req: &ActionRequest) -> Result<Checked, Refusal> {
    let action = CaseAction::parse(&req.action).ok_or_else(|| {
        invalid(
            "unknown_action",
            format!(
                "unknown action {:?}; use one of {}",
                req.action,
                CaseAction::ALL.map(|a| a.as_str()).join(", ")
            ),
        )
    })?;
    let takes: &[&str] = match action {
        CaseAction::Triage => &["category", "note"],
        CaseAction::Dispatch => &["department", "reason", "note"],
        CaseAction::Accept | CaseAction::Close => &["note"],
        CaseAction::Resolve => &["note"],
        CaseAction::Reopen | CaseAction::Reject => &["reason", "note"],
        CaseAction::Merge => &["into", "reason", "note"],
        CaseAction::Dismiss => &["note"],
    };
    let given = [
        ("category", req.category.is_some()),
        ("department", req.department.is_some()),
        ("reason", req.reason.is_some()),
        ("note", req.note.is_some()),
        ("into", req.into.is_some()),
    ];
    if let Some((field, _)) = given.iter().find(|(f, set)| *set && !takes.contains(f)) {
        return Err(invalid(
            "unexpected_field",
            format!(
                "{} does not take `{field}`; it takes {}",
                action.as_str(),
                takes
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let reason = text(req.reason.as_deref(), "reason", MAX_REASON_CHARS)?;
    let note = text(req.note.as_deref(), "note", MAX_NOTE_CHARS)?;
    let category = match req.category.as_deref() {
        None => None,
        Some(code) => Some(Category::parse(code).ok_or_else(|| {
            invalid(
                "unknown_category",
                format!("unknown category {code:?}; GET /api/v1/categories lists the codes"),
            )
        })?),
    };
    let department = text(req.department.as_deref(), "department", 100)?;
    match action {
        CaseAction::Reject | CaseAction::Reopen if reason.is_none() => {
            return Err(invalid(
                "reason_required",
                format!("{} needs a `reason`", action.as_str()),
            ))
        }
        CaseAction::Resolve if note.is_none() => {
            return Err(invalid(
                "note_required",
                "resolve needs a `note`: what was done",
            ))
        }
        _ => {}
    }
    Ok(Checked {
        action,
        category,
        department,
        reason,
        note,
        into: req.into,
    })
}

/// Trimmed text, `None` when empty; refused when too long or holding U+0000.
fn text(value: Option<&str>, field: &'static str, max: usize) -> Result<Option<String>, Refusal> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.contains('\0') {
        return Err(invalid(
            "nul_character",
            format!("{field} contains the NUL character (U+0000), which is not accepted in text"),
        ));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(
            "too_long",
            format!("{field} is {n} characters; at most {max} are accepted"),
        ));
    }
    Ok(Some(value.to_string()))
}

/// May `actor` take `action` on `incident`? Officers move cases; the department it is
/// dispatched to accepts and resolves it (the duty officer and the admin may act for it).
pub fn permitted(actor: &Actor, action: CaseAction, incident: &Incident) -> Result<(), Refusal> {
    let officer = matches!(
        actor.role,
        Role::Admin | Role::DutyOfficer | Role::StreetOfficer | Role::CommunityWorker
    );
    let ok = match action {
        CaseAction::Accept | CaseAction::Resolve => match (&actor.role, &actor.scope) {
            (Role::Admin | Role::DutyOfficer, _) => true,
            (Role::DepartmentOperator, Scope::Department(code)) => {
                incident.department.as_deref() == Some(code.as_str())
            }
            _ => false,
        },
        _ => officer,
    };
    if ok {
        return Ok(());
    }
    Err(Refusal::Forbidden(match action {
        CaseAction::Accept | CaseAction::Resolve if actor.role == Role::DepartmentOperator => {
            format!(
                "only the department the incident is dispatched to may {} it",
                action.as_str()
            )
        }
        _ => format!(
            "a {} cannot {} incidents",
            actor.role.as_str(),
            action.as_str()
        ),
    }))
}

/// Is `action` legal on the incident as it is?
pub fn legal(action: CaseAction, incident: &Incident) -> Result<(), Refusal> {
    if action.is_legal_on(incident) {
        Ok(())
    } else if action == CaseAction::Dismiss && action.from_states().contains(&incident.status) {
        Err(Refusal::Invalid {
            code: "no_duplicate_suggested",
            message: "no duplicate is suggested for this incident".into(),
        })
    } else {
        Err(Refusal::Illegal {
            action: action.as_str(),
            status: incident.status.as_str(),
        })
    }
}

/// The department a dispatch sends the incident to, and the decision's record: at a seam (or
/// with no proposal) the officer must name the department and say why; choosing another
/// department than the proposed one needs a reason too. `known` says whether a code is a
/// department of the district.
pub fn dispatch_target(
    incident: &Incident,
    checked: &Checked,
    known: impl Fn(&str) -> bool,
) -> Result<String, Refusal> {
    let responsibility = incident.analysis.responsibility.as_ref();
    let proposed = responsibility
        .and_then(|r| r.department.as_ref())
        .map(|d| d.code.clone());
    let at_seam = responsibility.is_some_and(|r| r.review_required);
    if at_seam && (checked.department.is_none() || checked.reason.is_none()) {
        return Err(invalid(
            "decision_required",
            "the incident sits at a seam between jurisdictions: dispatch needs an explicit \
             decision, the `department` and the `reason`",
        ));
    }
    let department = match (&checked.department, &proposed) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(invalid(
                "department_required",
                "no department is proposed for this incident: name the `department` and the \
                 `reason`",
            ))
        }
    };
    if !known(&department) {
        return Err(invalid(
            "unknown_department",
            format!("unknown department {department:?}; GET /api/v1/departments lists the codes"),
        ));
    }
    if proposed.as_deref() != Some(department.as_str()) && checked.reason.is_none() {
        return Err(invalid(
            "reason_required",
            format!(
                "{department} is not the proposed department{}: say why in `reason`",
                proposed.map(|p| format!(" ({p})")).unwrap_or_default()
            ),
        ));
    }
    Ok(department)
}

/// What the event records besides the new state: from, to, and everything the officer said.
pub fn detail(
    incident: &Incident,
    checked: &Checked,
    department: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("action".into(), json!(checked.action.as_str()));
    m.insert("from".into(), json!(incident.status.as_str()));
    m.insert(
        "to".into(),
        json!(checked.action.to_state(incident.status).as_str()),
    );
    if checked.action == CaseAction::Dismiss {
        m.insert("dismissed".into(), json!(incident.duplicate_of));
    }
    if let Some(c) = checked.category.filter(|c| *c != incident.category) {
        m.insert(
            "category".into(),
            json!({ "from": incident.category.code(), "to": c.code() }),
        );
    }
    if let Some(d) = department {
        m.insert("department".into(), json!(d));
        let proposed = incident
            .analysis
            .responsibility
            .as_ref()
            .and_then(|r| r.department.as_ref())
            .map(|d| d.code.as_str());
        if proposed != Some(d) {
            m.insert("proposed".into(), json!(proposed));
        }
        if incident
            .analysis
            .responsibility
            .as_ref()
            .is_some_and(|r| r.review_required)
        {
            m.insert("seam_decision".into(), json!(true));
        }
    }
    if let Some(r) = &checked.reason {
        m.insert("reason".into(), json!(r));
    }
    if let Some(n) = &checked.note {
        m.insert("note".into(), json!(n));
    }
    if let Some(i) = checked.into {
        m.insert("into".into(), json!(i));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(action: &str) -> ActionRequest {
        ActionRequest {
            action: action.into(),
            seq: 1,
            ..Default::default()
        }
    }

    #[test]
    fn every_state_allows_exactly_the_actions_that_lead_out_of_it() {
        use onegrid_app::wire::IncidentStatus::{self, *};
        let expect: [(IncidentStatus, &[&str]); 8] = [
            (Reported, &["triage", "dispatch", "reject", "merge"]),
            (Triaged, &["dispatch", "reject", "merge"]),
            (Dispatched, &["accept"]),
            (InProgress, &["resolve"]),
            (Resolved, &["close", "reopen"]),
            (Closed, &["reopen"]),
            (Rejected, &[]),
            (Merged, &[]),
        ];
        for (status, actions) in expect {
            let got: Vec<_> = CaseAction::allowed_from(status)
                .into_iter()
                .map(|a| a.as_str())
                .collect();
            assert_eq!(got, actions, "from {}", status.as_str());
        }
        assert!(!CaseAction::Resolve.from_states().contains(&Dispatched));
        assert!(CaseAction::Reopen.from_states().contains(&Closed));
    }

    #[test]
    fn shape_is_checked_per_action() {
        assert!(matches!(
            check(&req("teleport")),
            Err(Refusal::Invalid {
                code: "unknown_action",
                ..
            })
        ));
        assert!(matches!(
            check(&req("reject")),
            Err(Refusal::Invalid {
                code: "reason_required",
                ..
            })
        ));
        let mut r = req("reject");
        r.reason = Some("   ".into());
        assert!(matches!(
            check(&r),
            Err(Refusal::Invalid {
                code: "reason_required",
                ..
            })
        ));
        assert!(matches!(
            check(&req("resolve")),
            Err(Refusal::Invalid {
                code: "note_required",
                ..
            })
        ));
        let mut r = req("accept");
        r.department = Some("x".into());
        assert!(matches!(
            check(&r),
            Err(Refusal::Invalid {
                code: "unexpected_field",
                ..
            })
        ));
        let mut r = req("triage");
        r.category = Some("nope".into());
        assert!(matches!(
            check(&r),
            Err(Refusal::Invalid {
                code: "unknown_category",
                ..
            })
        ));
        let mut r = req("resolve");
        r.note = Some("x".repeat(MAX_NOTE_CHARS + 1));
        assert!(matches!(
            check(&r),
            Err(Refusal::Invalid {
                code: "too_long",
                ..
            })
        ));
        let mut r = req("resolve");
        r.note = Some("a\0b".into());
        assert!(matches!(
            check(&r),
            Err(Refusal::Invalid {
                code: "nul_character",
                ..
            })
        ));
        let mut r = req("triage");
        r.category = Some("damaged_manhole_cover".into());
        r.note = Some("  checked on site ".into());
        let c = check(&r).expect("a valid triage");
        assert_eq!(c.category, Some(Category::DamagedManholeCover));
        assert_eq!(c.note.as_deref(), Some("checked on site"));
    }
}

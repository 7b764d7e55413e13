//! Case work on the wire: the actions that move an incident through its lifecycle
//! (`POST /api/v1/incidents/{id}/actions`) and its history (`GET /api/v1/incidents/{id}/history`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IncidentStatus, Lang};

/// What an officer or a department does to an incident. Each is legal from some states only
/// ([`CaseAction::from_states`]); anything else is refused with the actions that are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseAction {
    /// Confirm the report (correcting its category if needed): reported → triaged.
    Triage,
    /// Send it to a department: reported or triaged → dispatched; at a seam the department and
    /// the reason are required.
    Dispatch,
    /// The department takes it on: dispatched → in progress.
    Accept,
    /// The department has dealt with it (a note is required): in progress → resolved.
    Resolve,
    /// An officer confirms the resolution: resolved → closed.
    Close,
    /// It is not dealt with after all (a reason is required): resolved or closed → triaged.
    Reopen,
    /// Not a case (a reason is required): reported or triaged → rejected.
    Reject,
    /// A duplicate of another open incident (`into`): reported or triaged → merged.
    Merge,
    /// The incident offered as the one this duplicates is not: the suggestion is dropped, the
    /// state stays.
    Dismiss,
}

impl CaseAction {
    pub const ALL: [CaseAction; 9] = [
        CaseAction::Triage,
        CaseAction::Dispatch,
        CaseAction::Accept,
        CaseAction::Resolve,
        CaseAction::Close,
        CaseAction::Reopen,
        CaseAction::Reject,
        CaseAction::Merge,
        CaseAction::Dismiss,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseAction::Triage => "triage",
            CaseAction::Dispatch => "dispatch",
            CaseAction::Accept => "accept",
            CaseAction::Resolve => "resolve",
            CaseAction::Close => "close",
            CaseAction::Reopen => "reopen",
            CaseAction::Reject => "reject",
            CaseAction::Merge => "merge",
            CaseAction::Dismiss => "dismiss",
        }
    }

    pub fn parse(s: &str) -> Option<CaseAction> {
        CaseAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The states this action is legal from.
    pub fn from_states(self) -> &'static [IncidentStatus] {
        use IncidentStatus::*;
        match self {
            CaseAction::Triage => &[Reported],
            CaseAction::Dispatch => &[Reported, Triaged],
            CaseAction::Accept => &[Dispatched],
            CaseAction::Resolve => &[InProgress],
            CaseAction::Close => &[Resolved],
            CaseAction::Reopen => &[Resolved, Closed],
            CaseAction::Reject => &[Reported, Triaged],
            CaseAction::Merge => &[Reported, Triaged],
            CaseAction::Dismiss => &[Reported, Triaged, Dispatched, InProgress],
        }
    }

    /// The state the action leads to from `from`.
    pub fn to_state(self, from: IncidentStatus) -> IncidentStatus {
        match self {
            CaseAction::Dismiss => from,
            CaseAction::Triage => IncidentStatus::Triaged,
            CaseAction::Dispatch => IncidentStatus::Dispatched,
            CaseAction::Accept => IncidentStatus::InProgress,
            CaseAction::Resolve => IncidentStatus::Resolved,
            CaseAction::Close => IncidentStatus::Closed,
            CaseAction::Reopen => IncidentStatus::Triaged,
            CaseAction::Reject => IncidentStatus::Rejected,
            CaseAction::Merge => IncidentStatus::Merged,
        }
    }

    /// The actions legal from `status`, in display order (`dismiss` only when a duplicate is
    /// suggested: see [`CaseAction::allowed_for`]).
    pub fn allowed_from(status: IncidentStatus) -> Vec<CaseAction> {
        CaseAction::ALL
            .into_iter()
            .filter(|a| *a != CaseAction::Dismiss && a.from_states().contains(&status))
            .collect()
    }

    /// The actions legal on `incident` now.
    pub fn allowed_for(incident: &super::Incident) -> Vec<CaseAction> {
        CaseAction::ALL
            .into_iter()
            .filter(|a| a.is_legal_on(incident))
            .collect()
    }

    /// Legal on `incident` now: from its state (and, to dismiss, with a duplicate suggested).
    pub fn is_legal_on(self, incident: &super::Incident) -> bool {
        self.from_states().contains(&incident.status)
            && (self != CaseAction::Dismiss || incident.duplicate_of.is_some())
    }

    /// The kind of the event it is recorded as.
    pub fn event_kind(self) -> &'static str {
        match self {
            CaseAction::Triage => "incident.triaged",
            CaseAction::Dispatch => "incident.dispatched",
            CaseAction::Accept => "incident.accepted",
            CaseAction::Resolve => "incident.resolved",
            CaseAction::Close => "incident.closed",
            CaseAction::Reopen => "incident.reopened",
            CaseAction::Reject => "incident.rejected",
            CaseAction::Merge => "incident.merged",
            CaseAction::Dismiss => "incident.duplicate_dismissed",
        }
    }

    /// Irreversible from the desk (asks for confirmation first).
    pub fn is_final(self) -> bool {
        matches!(self, CaseAction::Reject | CaseAction::Merge)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (CaseAction::Triage, Lang::Zh) => "确认",
            (CaseAction::Dispatch, Lang::Zh) => "派遣",
            (CaseAction::Accept, Lang::Zh) => "受理",
            (CaseAction::Resolve, Lang::Zh) => "办结",
            (CaseAction::Close, Lang::Zh) => "结案",
            (CaseAction::Reopen, Lang::Zh) => "重新打开",
            (CaseAction::Reject, Lang::Zh) => "不予受理",
            (CaseAction::Merge, Lang::Zh) => "合并",
            (CaseAction::Dismiss, Lang::Zh) => "非重复",
            (CaseAction::Triage, Lang::En) => "Triage",
            (CaseAction::Dispatch, Lang::En) => "Dispatch",
            (CaseAction::Accept, Lang::En) => "Accept",
            (CaseAction::Resolve, Lang::En) => "Resolve",
            (CaseAction::Close, Lang::En) => "Close",
            (CaseAction::Reopen, Lang::En) => "Reopen",
            (CaseAction::Reject, Lang::En) => "Reject",
            (CaseAction::Merge, Lang::En) => "Merge",
            (CaseAction::Dismiss, Lang::En) => "Not a duplicate",
        }
    }
}

/// `POST /api/v1/incidents/{id}/actions` body. `seq` is the incident's `seq` the caller saw
/// when it decided: if the incident has changed since, nothing happens and the answer is 409
/// with the current state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `triage`, `dispatch`, `accept`, `resolve`, `close`, `reopen`, `reject` or `merge`.
    #[cfg_attr(feature = "ssr", schema(value_type = CaseAction))]
    pub action: String,
    /// The incident's `seq` this action was decided on.
    pub seq: i64,
    /// `triage`: the corrected category code, if it was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `dispatch`: the department's code; absent: the proposed department. Required at a seam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Why: required to `reject` and `reopen`, to `dispatch` at a seam, and to `dispatch` to
    /// another department than the proposed one (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was done or seen: required to `resolve` (at most 4000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `merge`: the id of the open incident this one duplicates (default: the one suggested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<i64>,
}

/// The 409 answer to an action that is not legal now, or that was decided on a state that
/// has changed since (`code` is `illegal_transition` or `stale`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConflictBody {
    pub error: ConflictDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConflictDetail {
    pub code: String,
    pub message: String,
    /// The incident as it is now.
    pub incident: Box<super::Incident>,
    /// What may be done from its current state.
    pub allowed: Vec<CaseAction>,
}

/// One entry of `GET /api/v1/incidents/{id}/history`: one event of the log, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// `incident.reported`, `incident.triaged`, `incident.dispatched`, … (see the README).
    pub kind: String,
    /// Who caused it (`user:NAME`, `screen:NAME`, `api_client:NAME`, `system`).
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<IncidentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<IncidentStatus>,
    /// The rest of what was recorded: `reason`, `note`, `department`, `category`, `into`, …
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// `GET /api/v1/incidents/counts`: how many incidents of the queue fall under each value of
/// each filter (every other filter applied; an incident with no department counts under `""`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueueCountsInfo {
    pub total: i64,
    pub statuses: std::collections::BTreeMap<String, i64>,
    pub categories: std::collections::BTreeMap<String, i64>,
    pub streets: std::collections::BTreeMap<String, i64>,
    pub departments: std::collections::BTreeMap<String, i64>,
    /// Past the deadline of their phase now.
    pub overdue: i64,
    /// At a seam.
    pub seam: i64,
}

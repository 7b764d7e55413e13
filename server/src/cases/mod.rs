//! Case work: an incident taken from report to closure, one action at a time. Each action is
//! checked ([`rules`]), committed as one event of the log together with the state it produces
//! — only if the incident is still at the `seq` the caller decided on — and then published.
//! The incident's state is the projection of those events; its history is the events.

pub mod policy;
pub mod rules;
mod watch;

use std::sync::Arc;

use onegrid_app::wire::{ActionRequest, CaseAction, HistoryEntry, Incident};
use serde_json::json;

use crate::accounts::{department_key, Actor};
use crate::clock::Clock;
use crate::district_state::DistrictState;
use crate::incidents::scope_keys;
use crate::live::{incident_frame, Feed};
use crate::spatial::LonLat;
use crate::store::{CaseChange, CaseOutcome, IncidentEvent, Joined, Resolution, Store, StoreError};

pub use policy::{CasePolicy, PolicyError};
pub use rules::{Refusal, MAX_NOTE_CHARS, MAX_REASON_CHARS};
pub use watch::spawn_watch;

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// No such incident that the caller can see.
    #[error("no incident {0}")]
    NotFound(i64),
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// 409: the action is not legal now, or the incident changed since the caller's `seq`.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        incident: Box<Incident>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The case service: the one way an incident moves after it is reported.
#[derive(Clone)]
pub struct Cases {
    store: Store,
    feed: Feed,
    district: DistrictState,
    clock: Clock,
    policy: Arc<CasePolicy>,
}

impl Cases {
    pub fn new(
        store: Store,
        feed: Feed,
        district: DistrictState,
        clock: Clock,
        policy: Arc<CasePolicy>,
    ) -> Cases {
        Cases {
            store,
            feed,
            district,
            clock,
            policy,
        }
    }

    /// The case settings in force.
    pub fn policy(&self) -> &CasePolicy {
        &self.policy
    }

    /// Takes `req` on incident `id` for `actor`: checked, committed with its event only if the
    /// incident is still at `req.seq`, then published. Answers the incident's new state.
    pub async fn act(
        &self,
        actor: &Actor,
        id: i64,
        req: &ActionRequest,
    ) -> Result<Incident, ActError> {
        if !actor.can_change_incidents() {
            return Err(Refusal::Forbidden(format!(
                "a {} cannot change incidents",
                actor.role.as_str()
            ))
            .into());
        }
        let checked = rules::check(req)?;
        let key = actor.scope.key();
        let current = self
            .store
            .incident(id, key.as_deref())
            .await?
            .ok_or(ActError::NotFound(id))?;
        rules::permitted(actor, checked.action, &current)?;
        if current.seq != req.seq {
            return Err(stale(current, req.seq));
        }
        match rules::legal(checked.action, &current) {
            Ok(()) => {}
            Err(refusal @ Refusal::Illegal { .. }) => {
                return Err(ActError::Conflict {
                    code: "illegal_transition",
                    message: refusal.to_string(),
                    incident: Box::new(current),
                })
            }
            Err(other) => return Err(other.into()),
        }
        let change = self.change(actor, &current, &checked).await?;
        let outcome = self
            .store
            .apply_case(
                id,
                req.seq,
                key.as_deref(),
                &change,
                &actor.who(),
                self.clock.now(),
            )
            .await?;
        match outcome {
            CaseOutcome::NotFound => Err(ActError::NotFound(id)),
            CaseOutcome::Stale(now) => Err(stale(*now, req.seq)),
            CaseOutcome::JoinedChanged(target) => Err(ActError::Conflict {
                code: "stale",
                message: format!(
                    "incident {target} changed while this one was being merged into it; look \
                     again and retry"
                ),
                incident: Box::new(current),
            }),
            CaseOutcome::Applied { event, joined } => {
                self.publish(&event).await;
                if let Some(joined) = &joined {
                    self.publish(joined).await;
                }
                Ok(event.incident)
            }
        }
    }

    /// The incident's events, oldest first; `None` if there is no such incident that the
    /// caller can see.
    pub async fn history(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Option<Vec<HistoryEntry>>, StoreError> {
        self.store
            .incident_history(id, actor.scope.key().as_deref())
            .await
    }

    /// What the checked action changes, given the incident as it is now.
    async fn change(
        &self,
        actor: &Actor,
        current: &Incident,
        checked: &rules::Checked,
    ) -> Result<CaseChange, ActError> {
        let action = checked.action;
        let mut change = CaseChange::new(
            action.event_kind(),
            action.to_state(current.status),
            serde_json::Map::new(),
        );
        change.resolution = match action {
            CaseAction::Resolve => Resolution::Set,
            CaseAction::Reopen => Resolution::Clear,
            _ => Resolution::Keep,
        };
        // A new phase starts: its own deadline, no escalation yet.
        if matches!(action, CaseAction::Dispatch | CaseAction::Reopen) {
            change.escalation = Some(0);
        }
        change.clear_duplicate = matches!(action, CaseAction::Merge | CaseAction::Dismiss);
        let mut department = None;
        match action {
            CaseAction::Triage => {
                if let Some(category) = checked.category.filter(|c| *c != current.category) {
                    // Another category can mean another responsible department: analysed
                    // again, against the district as loaded now.
                    let district = self.district.current();
                    let at = LonLat::parse(current.lon, current.lat).map_err(|e| {
                        StoreError::Corrupt(format!("incident {}: {e}", current.id))
                    })?;
                    let placed = district.spatial.analyse(category, at).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "incident {} no longer lies in the district",
                            current.id
                        ))
                    })?;
                    let mut keys = scope_keys(&district.spatial, &placed.analysis);
                    if let Some(d) = &current.department {
                        keys.push(department_key(d));
                    }
                    change.category = Some(category);
                    change.analysis = Some(placed.analysis);
                    change.scope_keys = Some(keys);
                    change.due = Some(self.policy.due(category, current.created_at));
                }
            }
            CaseAction::Dispatch => {
                let district = self.district.current();
                let code = rules::dispatch_target(current, checked, |code| {
                    district.spatial.rules.department(code).is_some()
                })?;
                change.add_scope_key = Some(department_key(&code));
                change.department = Some(code.clone());
                department = Some(code);
            }
            CaseAction::Merge => {
                let into =
                    checked
                        .into
                        .or(current.duplicate_of)
                        .ok_or_else(|| Refusal::Invalid {
                            code: "into_required",
                            message:
                                "merge needs `into`: the id of the incident this one duplicates \
                                  (none is suggested)"
                                    .into(),
                        })?;
                let key = actor.scope.key();
                let target = match self.store.incident(into, key.as_deref()).await? {
                    Some(t) if t.id != current.id => t,
                    Some(_) => {
                        return Err(Refusal::Invalid {
                            code: "merge_target",
                            message: "an incident cannot be merged into itself".into(),
                        }
                        .into())
                    }
                    None => {
                        return Err(Refusal::Invalid {
                            code: "merge_target",
                            message: format!("no incident {into} to merge into"),
                        }
                        .into())
                    }
                };
                if !target.status.is_open() {
                    return Err(Refusal::Invalid {
                        code: "merge_target",
                        message: format!(
                            "incident {into} is {}: merge into an open incident",
                            target.status.as_str()
                        ),
                    }
                    .into());
                }
                change.merged_into = Some(into);
                let mut joined = serde_json::Map::new();
                joined.insert("duplicate".into(), json!(current.id));
                joined.insert("description".into(), json!(current.description));
                if let Some(r) = &current.reporter {
                    joined.insert("reporter".into(), json!(r));
                }
                joined.insert("reported_at".into(), json!(current.created_at));
                change.joined = Some(Joined {
                    id: into,
                    seq: target.seq,
                    detail: joined,
                });
            }
            _ => {}
        }
        change.detail = rules::detail(current, checked, department.as_deref());
        Ok(change)
    }

    async fn publish(&self, event: &IncidentEvent) {
        let frame = incident_frame(event.seq, &event.incident, event.scope.clone());
        self.feed.committed(frame).await;
    }
}

fn stale(current: Incident, seen: i64) -> ActError {
    ActError::Conflict {
        code: "stale",
        message: format!(
            "the incident has changed since seq {seen} (it is at seq {}, {}): look again and \
             retry",
            current.seq,
            current.status.as_str()
        ),
        incident: Box::new(current),
    }
}

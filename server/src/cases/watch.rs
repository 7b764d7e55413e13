//! The deadline watch: every few seconds, what is due is worked out from the store (the
//! projection of the log: each incident's deadlines and the escalation it has reached) and the
//! clock — never from a timer in memory — so a restart loses no escalation and repeats none,
//! and several replicas watching at once record each one once (an escalation is written only
//! if the incident is still at the `seq` it was decided on).
//!
//! At the deadline of the phase an incident is in (to be dispatched; to be resolved) the
//! street's officers are told, at 150 % of the time allowed the district's duty officers: each
//! an `incident.escalated` event naming who was told. A resolved incident nobody closed or
//! reopened closes itself after the configured days (`incident.closed`, `auto: true`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use onegrid_app::wire::{Incident, IncidentStatus, Role};
use serde_json::json;

use super::policy::escalation_level;
use super::Cases;
use crate::accounts::Actor;
use crate::store::{CaseChange, CaseOutcome, StoreError, UserRow};

/// At most this many incidents are handled per round (the rest in the next).
const BATCH: i64 = 500;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub escalated: usize,
    pub closed: usize,
}

/// Runs the watch every `interval` until the handle is aborted.
pub fn spawn_watch(cases: Cases, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match cases.sweep().await {
                Ok(s) if s.escalated + s.closed > 0 => {
                    tracing::info!(escalated = s.escalated, closed = s.closed, "deadline watch")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline watch failed; trying again"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}

impl Cases {
    /// One round of the watch at the clock's now.
    pub async fn sweep(&self) -> Result<Swept, StoreError> {
        let now = self.clock.now();
        let mut swept = Swept::default();
        let mut users: Option<Vec<UserRow>> = None;
        for incident in self.store.due_for_escalation(now, BATCH).await? {
            let Some((phase, due)) = phase(&incident) else {
                continue;
            };
            let reached = escalation_level(incident.created_at, due, now);
            let mut current = incident;
            // Every level passed is recorded, in order, even when the server was down for both.
            for level in (current.escalation + 1)..=reached {
                if users.is_none() {
                    users = Some(self.store.list_users().await?);
                }
                let notified = notified(users.as_deref().unwrap_or_default(), &current, level);
                let change = escalation(&current, phase, due, level, now, notified);
                match self.apply_system(&current, &change).await? {
                    Some(next) => {
                        swept.escalated += 1;
                        current = next;
                    }
                    None => break,
                }
            }
        }
        if self.policy.auto_close_days > 0 {
            let before = now - chrono::Duration::days(i64::from(self.policy.auto_close_days));
            for incident in self.store.resolved_before(before, BATCH).await? {
                let change = auto_close(&incident, self.policy.auto_close_days);
                if self.apply_system(&incident, &change).await?.is_some() {
                    swept.closed += 1;
                }
            }
        }
        Ok(swept)
    }

    /// Writes a change of the system's own if the incident is still as it was read; `None` when
    /// it moved meanwhile (the next round looks again).
    async fn apply_system(
        &self,
        incident: &Incident,
        change: &CaseChange,
    ) -> Result<Option<Incident>, StoreError> {
        let outcome = self
            .store
            .apply_case(
                incident.id,
                incident.seq,
                None,
                change,
                &Actor::system().who(),
                self.clock.now(),
            )
            .await?;
        Ok(match outcome {
            CaseOutcome::Applied { event, .. } => {
                self.publish(&event).await;
                Some(event.incident)
            }
            _ => None,
        })
    }
}

/// The phase an open incident is in and its deadline: `dispatch` (reported, triaged) or
/// `resolve` (dispatched, in progress).
fn phase(incident: &Incident) -> Option<(&'static str, DateTime<Utc>)> {
    match incident.status {
        IncidentStatus::Reported | IncidentStatus::Triaged => {
            Some(("dispatch", incident.dispatch_due_at?))
        }
        IncidentStatus::Dispatched | IncidentStatus::InProgress => {
            Some(("resolve", incident.resolve_due_at?))
        }
        _ => None,
    }
}

/// Who is told at `level`: 1, the officers of the incident's street; 2, the duty officers.
fn notified(users: &[UserRow], incident: &Incident, level: u8) -> Vec<String> {
    users
        .iter()
        .filter(|u| !u.disabled)
        .filter(|u| match level {
            1 => {
                u.role == Role::StreetOfficer
                    && u.scope.as_deref() == Some(incident.street_code.as_str())
            }
            _ => u.role == Role::DutyOfficer,
        })
        .map(|u| u.username.clone())
        .collect()
}

fn escalation(
    incident: &Incident,
    phase: &str,
    due: DateTime<Utc>,
    level: u8,
    now: DateTime<Utc>,
    notified: Vec<String>,
) -> CaseChange {
    let mut detail = serde_json::Map::new();
    detail.insert("phase".into(), json!(phase));
    detail.insert("level".into(), json!(level));
    detail.insert("due_at".into(), json!(due));
    detail.insert(
        "overdue_minutes".into(),
        json!((now - due).num_minutes().max(0)),
    );
    detail.insert(
        "notified_role".into(),
        json!(if level == 1 {
            "street_officer"
        } else {
            "duty_officer"
        }),
    );
    detail.insert("notified".into(), json!(notified));
    let mut change = CaseChange::new("incident.escalated", incident.status, detail);
    change.escalation = Some(level);
    change
}

fn auto_close(incident: &Incident, days: u32) -> CaseChange {
    let mut detail = serde_json::Map::new();
    detail.insert("action".into(), json!("close"));
    detail.insert("from".into(), json!(incident.status.as_str()));
    detail.insert("to".into(), json!(IncidentStatus::Closed.as_str()));
    detail.insert("auto".into(), json!(true));
    detail.insert(
        "note".into(),
        json!(format!("办结后 {days} 天无异议，自动结案 (closed automatically {days} days after it was resolved)")),
    );
    CaseChange::new("incident.closed", IncidentStatus::Closed, detail)
}

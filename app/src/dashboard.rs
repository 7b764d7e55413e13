//! The command-center screen: header with live counts, connection state and who is logged in,
//! the district map, the live incident list and the details of the selected incident (with
//! its actions only for roles that may move incidents).
//!
//! Rendered on the server in its loading state; once hydrated, `client` loads the incidents,
//! follows the live feed and drives the map.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;

use crate::i18n::texts;
use crate::legend::MapLegend;
use crate::wire::{
    ActionRequest, CallerKind, CaseAction, DepartmentInfo, Incident, Lang, RulesReport,
    SessionInfo, Stats,
};

/// State of the live feed, shown in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Live,
    Down,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Live => "live",
            Conn::Down => "down",
        }
    }
}

/// Most incidents kept on screen.
pub const MAX_ON_SCREEN: usize = 500;

/// Everything the screen shows; each field is a signal, so the struct is `Copy`.
#[derive(Clone, Copy)]
pub struct Dash {
    pub lang: RwSignal<Lang>,
    pub incidents: RwSignal<Vec<Incident>>,
    pub loading: RwSignal<bool>,
    pub load_error: RwSignal<Option<String>>,
    pub stats: RwSignal<Option<Stats>>,
    pub conn: RwSignal<Conn>,
    pub selected: RwSignal<Option<i64>>,
    pub utc_offset_minutes: RwSignal<i32>,
    pub clock: RwSignal<String>,
    /// "Now" for deadlines (moved every 15 s).
    pub now: RwSignal<DateTime<Utc>>,
    pub map_error: RwSignal<bool>,
    pub action_error: RwSignal<Option<String>>,
    /// The reason or note being typed for the selected incident's next action.
    pub action_note: RwSignal<String>,
    /// The department chosen for a dispatch (empty: the proposed one).
    pub action_department: RwSignal<String>,
    pub departments: RwSignal<Vec<DepartmentInfo>>,
    /// The responsibility rules as the server loaded them; a warning shows when any were
    /// skipped or the file has problems.
    pub rules: RwSignal<Option<RulesReport>>,
    pub rules_open: RwSignal<bool>,
    /// Who is logged in (`GET /api/v1/session`), once known.
    pub session: RwSignal<Option<SessionInfo>>,
    pub logout_failed: RwSignal<bool>,
}

impl Dash {
    fn new() -> Dash {
        Dash {
            lang: RwSignal::new(Lang::Zh),
            incidents: RwSignal::new(Vec::new()),
            loading: RwSignal::new(true),
            load_error: RwSignal::new(None),
            stats: RwSignal::new(None),
            conn: RwSignal::new(Conn::Connecting),
            selected: RwSignal::new(None),
            utc_offset_minutes: RwSignal::new(480),
            clock: RwSignal::new(String::from("--:--:--")),
            now: RwSignal::new(Utc::now()),
            map_error: RwSignal::new(false),
            action_error: RwSignal::new(None),
            action_note: RwSignal::new(String::new()),
            action_department: RwSignal::new(String::new()),
            departments: RwSignal::new(Vec::new()),
            rules: RwSignal::new(None),
            rules_open: RwSignal::new(false),
            session: RwSignal::new(None),
            logout_failed: RwSignal::new(false),
        }
    }

    /// The logged-in caller may dispatch and resolve incidents (unknown until the session has
    /// loaded: no).
    pub fn may_change_incidents(&self) -> bool {
        self.session
            .with(|s| s.as_ref().is_some_and(|s| s.role.can_change_incidents()))
    }

    /// Adds or updates an incident, keeping the newest state (by `seq`) and newest-first order.
    pub fn upsert(&self, incident: Incident) {
        self.incidents.update(|list| upsert_into(list, incident));
    }
}

/// Inserts `incident` into a newest-first list, replacing an older state of the same incident.
pub fn upsert_into(list: &mut Vec<Incident>, incident: Incident) {
    if let Some(existing) = list.iter_mut().find(|i| i.id == incident.id) {
        if incident.seq > existing.seq {
            *existing = incident;
        }
        return;
    }
    let at = list
        .iter()
        .position(|i| (i.created_at, i.id) < (incident.created_at, incident.id))
        .unwrap_or(list.len());
    list.insert(at, incident);
    list.truncate(MAX_ON_SCREEN);
}

/// Who is logged in, as the header shows it: `张三 · 镇街工作人员 · 祖庙街道`, or for a wall
/// screen `大屏 · NAME`.
pub fn whoami(session: &SessionInfo, lang: Lang) -> String {
    match session.kind {
        CallerKind::Screen => format!("{} · {}", session.role.label(lang), session.name),
        CallerKind::User | CallerKind::ApiClient => format!(
            "{} · {} · {}",
            session.name,
            session.role.label(lang),
            session.scope.label(lang)
        ),
    }
}

pub fn format_time(t: DateTime<Utc>, offset_minutes: i32, with_date: bool) -> String {
    let offset = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).expect("+08:00 is valid"));
    let local = t.with_timezone(&offset);
    if with_date {
        local.format("%m-%d %H:%M:%S").to_string()
    } else {
        local.format("%H:%M:%S").to_string()
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let dash = Dash::new();
    provide_context(dash);

    #[cfg(feature = "hydrate")]
    crate::client::start(dash);

    let t = move || texts(dash.lang.get());
    view! {
        <div class="dashboard" data-lang=move || match dash.lang.get() { Lang::Zh => "zh", Lang::En => "en" }>
            <Header/>
            <main class="stage">
                <div id="map" class="map" aria-label="map"></div>
                <MapLegend/>
                <Show when=move || dash.map_error.get()>
                    <div class="map-error">{move || t().map_failed}</div>
                </Show>
                <IncidentList/>
                <Details/>
                <RulesPanel/>
            </main>
        </div>
    }
}

#[component]
fn Header() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let count = move |f: fn(&Stats) -> i64| {
        move || {
            dash.stats
                .get()
                .map(|s| f(&s).to_string())
                .unwrap_or_else(|| "–".to_string())
        }
    };
    let toggle = move |_| {
        dash.lang.update(|l| {
            *l = match l {
                Lang::Zh => Lang::En,
                Lang::En => Lang::Zh,
            }
        })
    };
    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo">"onegrid"</span>
                <h1>{move || t().title}</h1>
            </div>
            <div class="counters">
                <div class="counter">
                    <span class="counter-value" data-stat="today">{count(|s| s.today)}</span>
                    <span class="counter-label">{move || t().today}</span>
                </div>
                <div class="counter counter-open">
                    <span class="counter-value" data-stat="open">{count(|s| s.open)}</span>
                    <span class="counter-label">{move || t().open}</span>
                </div>
                <div class="counter counter-resolved">
                    <span class="counter-value" data-stat="resolved">{count(|s| s.resolved_today)}</span>
                    <span class="counter-label">{move || t().resolved_today}</span>
                </div>
            </div>
            <div class="status-area">
                <span class="conn" data-conn=move || dash.conn.get().as_str() role="status">
                    <span class="conn-dot"></span>
                    <span class="conn-text">
                        {move || match dash.conn.get() {
                            Conn::Live => t().live,
                            Conn::Connecting => t().connecting,
                            Conn::Down => t().offline,
                        }}
                    </span>
                </span>
                <Show when=move || dash.rules.get().is_some_and(|r| r.has_problems())>
                    <button class="rules-warning" data-rules="problems" on:click=move |_| dash.rules_open.update(|o| *o = !*o)>
                        "⚠ "{move || t().rules_warning}" "
                        <span class="rules-count">{move || dash.rules.get().map(|r| r.skipped.len() + r.problems.len()).unwrap_or(0)}</span>
                    </button>
                </Show>
                <span class="clock">{move || dash.clock.get()}</span>
                <WhoAmI/>
                <button class="lang-switch" on:click=toggle>{move || t().switch_lang}</button>
            </div>
        </header>
    }
}

/// Who is logged in, and the logout button (not for a wall screen, which has no one to log
/// out).
#[component]
fn WhoAmI() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    move || {
        let session = dash.session.get()?;
        let role = session.role.as_str();
        let person = session.kind == CallerKind::User;
        let kind = match session.kind {
            CallerKind::User => "user",
            CallerKind::Screen => "screen",
            CallerKind::ApiClient => "api_client",
        };
        let text = {
            let session = session.clone();
            move || whoami(&session, dash.lang.get())
        };
        let log_out = move |_| {
            #[cfg(feature = "hydrate")]
            crate::client::log_out(dash);
        };
        Some(view! {
            <span class="whoami-area">
                <span id="whoami" class="whoami" data-role=role data-kind=kind>
                    {text}
                </span>
                <Show when=move || person>
                    <button id="logout" class="logout" on:click=log_out
                        title=move || if dash.logout_failed.get() { t().logout_failed } else { t().logout }>
                        {move || t().logout}
                    </button>
                    <Show when=move || dash.logout_failed.get()>
                        <span class="logout-failed" role="alert">{move || t().logout_failed}</span>
                    </Show>
                </Show>
            </span>
        })
    }
}

/// What is wrong with the responsibility rules: the rules skipped and why, problems with the
/// file, and how many rules are in force. Opened from the header's warning.
#[component]
fn RulesPanel() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let lang = move || dash.lang.get();
    move || {
        let report = dash.rules.get().filter(|_| dash.rules_open.get())?;
        Some(view! {
            <section class="rules-panel" role="dialog" aria-label=move || t().rules_warning>
                <header>
                    <h3>{move || t().rules_warning}</h3>
                    <button class="close" on:click=move |_| dash.rules_open.set(false)>{move || t().close}</button>
                </header>
                <p class="muted">
                    {move || t().rules_file}" "<code>{report.file.clone()}</code>" · "
                    {report.rules.len()}" "{move || t().rules_in_force}
                </p>
                <ul class="rules-problems">
                    {report.problems.iter().map(|p| {
                        let text = if lang() == Lang::Zh { p.message_zh.clone() } else { p.message.clone() };
                        view! { <li class="rules-problem">{text}</li> }
                    }).collect_view()}
                    {report.skipped.iter().map(|s| {
                        let reason = if lang() == Lang::Zh { s.reason_zh.clone() } else { s.reason.clone() };
                        view! {
                            <li class="rules-skipped" data-rule=s.id.clone().unwrap_or_default()>
                                <span class="muted">{move || t().rules_skipped}" #"{s.index}</span>" "
                                <code>{s.id.clone().unwrap_or_else(|| "?".into())}</code>": "{reason}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <p class="muted">{move || t().rules_note}</p>
            </section>
        })
    }
}

#[component]
fn IncidentList() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let body = move || {
        if let Some(err) = dash.load_error.get() {
            return view! {
                <div class="panel-state panel-error">
                    <p>{t().load_failed}": "{err}</p>
                    <button on:click=move |_| {
                        #[cfg(feature = "hydrate")]
                        crate::client::reload(dash);
                    }>{t().retry}</button>
                </div>
            }
            .into_any();
        }
        if dash.loading.get() && dash.incidents.with(Vec::is_empty) {
            return view! { <div class="panel-state panel-loading"><span class="spinner"></span>{t().loading}</div> }
                .into_any();
        }
        if dash.incidents.with(Vec::is_empty) {
            return view! { <div class="panel-state panel-empty">{t().empty}</div> }.into_any();
        }
        view! {
            <ul class="incident-list">
                <For each=move || dash.incidents.get() key=|i| (i.id, i.seq) let:incident>
                    <IncidentItem incident/>
                </For>
            </ul>
        }
        .into_any()
    };
    view! {
        <aside class="incident-panel">
            <h2>
                {move || t().incidents}
                <span class="panel-count">{move || dash.incidents.with(Vec::len)}</span>
            </h2>
            {body}
        </aside>
    }
}

#[component]
fn IncidentItem(incident: Incident) -> impl IntoView {
    let dash = expect_context::<Dash>();
    let id = incident.id;
    let lang = move || dash.lang.get();
    let status = incident.status;
    let category = incident.category;
    let created = incident.created_at;
    let place = format!("{} · {}", incident.street_name, incident.grid_name);
    let description = incident.description.clone();
    let due = incident.due_at();
    let overdue = move || due.is_some_and(|d| dash.now.get() >= d);
    view! {
        <li
            class="incident"
            class:overdue=overdue
            class:selected=move || dash.selected.get() == Some(id)
            data-incident-id=id
            data-status=status.as_str()
            on:click=move |_| dash.selected.set(Some(id))
        >
            <span class="status-dot" style=format!("background:{}", status.color())></span>
            <div class="incident-main">
                <div class="incident-head">
                    <span class="incident-category">{move || category.label(lang())}</span>
                    <span class="incident-status" style=format!("color:{}", status.color())>
                        {move || status.label(lang())}
                    </span>
                    <Show when=overdue>
                        <span class="incident-overdue">{move || texts(lang()).overdue}</span>
                    </Show>
                    <time class="incident-time">
                        {move || format_time(created, dash.utc_offset_minutes.get(), false)}
                    </time>
                </div>
                <div class="incident-place">{place}</div>
                <div class="incident-desc">{description}</div>
            </div>
        </li>
    }
}

#[component]
fn Details() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let selected = Memo::new(move |_| {
        let id = dash.selected.get()?;
        dash.incidents
            .with(|l| l.iter().find(|i| i.id == id).cloned())
    });
    move || {
        selected.get().map(|i| {
            let lang = dash.lang.get();
            let id = i.id;
            let seq = i.seq;
            let allowed = CaseAction::allowed_for(&i);
            let at_seam = i
                .analysis
                .responsibility
                .as_ref()
                .is_some_and(|r| r.review_required);
            let proposed = i
                .analysis
                .responsibility
                .as_ref()
                .and_then(|r| r.department.as_ref())
                .map(|d| d.code.clone())
                .unwrap_or_default();
            let act = move |action: CaseAction| {
                move |_| {
                    let text = dash.action_note.get_untracked().trim().to_string();
                    let text = (!text.is_empty()).then_some(text);
                    let chosen = dash.action_department.get_untracked();
                    let mut req = ActionRequest {
                        action: action.as_str().to_string(),
                        seq,
                        ..Default::default()
                    };
                    match action {
                        CaseAction::Resolve | CaseAction::Accept | CaseAction::Close | CaseAction::Triage => req.note = text,
                        _ => req.reason = text,
                    }
                    if action == CaseAction::Dispatch && !chosen.is_empty() {
                        req.department = Some(chosen);
                    }
                    #[cfg(feature = "hydrate")]
                    crate::client::act(dash, id, req);
                    #[cfg(not(feature = "hydrate"))]
                    let _ = req;
                }
            };
            let can_dispatch = allowed.contains(&CaseAction::Dispatch);
            let buttons = allowed
                .iter()
                .map(|&a| {
                    let class = if a.is_final() { "danger" } else if a == allowed[0] { "primary" } else { "" };
                    view! {
                        <button class=class data-action=a.as_str() on:click=act(a)>{a.label(lang)}</button>
                    }
                })
                .collect::<Vec<_>>();
            let has_actions = !allowed.is_empty();
            let due_at = i.due_at();
            let escalation = i.escalation;
            let deadline = due_at.map(|due| {
                let left = move || {
                    let minutes = (due - dash.now.get()).num_minutes();
                    let t = t();
                    if minutes >= 0 {
                        format!("{} {minutes} {}", t.due_in, t.minutes)
                    } else {
                        let level = match escalation {
                            2 => t.escalated_district,
                            1 => t.escalated_street,
                            _ => "",
                        };
                        format!("{} {} {} {level}", t.overdue_by, -minutes, t.minutes)
                    }
                };
                view! {
                    <dt>{t().deadline}</dt>
                    <dd class="details-deadline" class:overdue={move || dash.now.get() >= due}>
                        {format_time(due, dash.utc_offset_minutes.get(), true)}" · "{left}
                    </dd>
                }
            });
            view! {
                <section class="details" data-incident-id=id>
                    <header>
                        <span class="status-dot" style=format!("background:{}", i.status.color())></span>
                        <h3>{i.category.label(lang)}</h3>
                        <span class="details-id">"#"{id}</span>
                        <button class="details-close" on:click=move |_| dash.selected.set(None)
                            title=t().close>"×"</button>
                    </header>
                    <p class="details-desc">{i.description.clone()}</p>
                    <dl>
                        <dt>{t().status}</dt>
                        <dd style=format!("color:{}", i.status.color())>{i.status.label(lang)}</dd>
                        <dt>{t().reported_at}</dt>
                        <dd>{format_time(i.created_at, dash.utc_offset_minutes.get(), true)}</dd>
                        <dt>{t().reporter}</dt>
                        <dd>{i.reporter.clone().unwrap_or_else(|| t().unknown_reporter.to_string())}</dd>
                        <dt>{t().street}</dt>
                        <dd>{i.street_name.clone()}" ("{i.street_code.clone()}")"</dd>
                        <dt>{t().grid}</dt>
                        <dd>{i.grid_name.clone()}<br/><code>{i.grid_code.clone()}</code></dd>
                        <dt>{t().location}</dt>
                        <dd><code>{format!("{:.6}, {:.6}", i.lat, i.lon)}</code></dd>
                        {deadline}
                        {i.department.clone().map(|code| {
                            // The department's name as the district lists it (its code until
                            // the list has loaded, or for one no longer listed).
                            let name = move || {
                                dash.departments.with(|list| {
                                    list.iter().find(|d| d.code == code).map_or_else(
                                        || code.clone(),
                                        |d| if lang == Lang::Zh { d.name_zh.clone() } else { d.name_en.clone() },
                                    )
                                })
                            };
                            view! { <dt>{t().assigned_to}</dt><dd>{name}</dd> }
                        })}
                        {i.duplicate_of.map(|d| view! { <dt>{t().duplicate_of}</dt><dd class="details-duplicate">"#"{d}</dd> })}
                        {i.merged_into.map(|d| view! { <dt>{t().merged_into}</dt><dd>"#"{d}</dd> })}
                    </dl>
                    <Analysis incident=i.clone()/>
                    {(dash.may_change_incidents() && has_actions).then(|| view! {
                        <div class="details-actions">
                            {can_dispatch.then(|| {
                                let proposed = proposed.clone();
                                view! {
                                    <label class="details-department">
                                        {move || if at_seam { t().seam_decision } else { t().dispatch_to }}
                                        <select on:change=move |ev| dash.action_department.set(event_target_value(&ev))
                                            prop:value=move || dash.action_department.get()>
                                            <option value="">{move || t().proposed_department}</option>
                                            {move || dash.departments.get().into_iter().map(|d| {
                                                let name = if lang == Lang::Zh { &d.name_zh } else { &d.name_en };
                                                let label = format!("{name}{}", if d.code == proposed { " ★" } else { "" });
                                                view! { <option value=d.code.clone()>{label}</option> }
                                            }).collect::<Vec<_>>()}
                                        </select>
                                    </label>
                                }
                            })}
                            <textarea class="details-note" rows="2" placeholder=move || t().note_placeholder
                                prop:value=move || dash.action_note.get()
                                on:input=move |ev| dash.action_note.set(event_target_value(&ev))></textarea>
                            <div class="details-buttons">{buttons}</div>
                        </div>
                    })}
                    {move || dash.action_error.get().map(|e| view! { <p class="details-error">{t().action_failed}": "{e}</p> })}
                </section>
            }
        })
    }
}

/// Jurisdiction chain, seam, proposed department and nearby assets of an incident.
#[component]
fn Analysis(incident: Incident) -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let a = incident.analysis;
    let lang = move || dash.lang.get();
    let chain = a
        .jurisdiction
        .iter()
        .map(|j| j.name.clone())
        .collect::<Vec<_>>()
        .join(" › ");
    let seam = a.seam.map(|seam| {
        view! {
            <div class="seam" data-seam="true">
                <h4>"⚠ "{move || t().seam}</h4>
                <p>{move || t().seam_note}</p>
                <ul>
                    {seam.candidates.into_iter().map(|c| view! {
                        <li>
                            <span class="seam-level">{move || c.level.label(lang())}</span>
                            " "{c.name.clone()}" "<code>{c.code.clone()}</code>
                            " · "{format!("{:.1}", c.distance_m)}" "{move || t().metres}
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        }
    });
    let responsibility = a.responsibility.map(|r| {
        let zh = r.explanation_zh.clone();
        let en = r.explanation_en.clone();
        let code = r.department.as_ref().map(|d| d.code.clone()).unwrap_or_default();
        let department = match r.department {
            Some(d) => {
                let (name_zh, name_en) = (d.name_zh.clone(), d.name_en.clone());
                view! {
                    <p class="department">
                        {move || if lang() == Lang::Zh { name_zh.clone() } else { name_en.clone() }}
                        <span class="contact">{move || t().contact}" "{d.contact.clone()}</span>
                    </p>
                }
                .into_any()
            }
            None => view! { <p class="department none">{move || t().no_department}</p> }.into_any(),
        };
        view! {
            <div class="responsibility" class:review=r.review_required data-department=code>
                <h4>{move || t().responsible}</h4>
                {department}
                <p class="explanation">{move || if lang() == Lang::Zh { zh.clone() } else { en.clone() }}</p>
            </div>
        }
    });
    let nearby = if a.nearby.is_empty() {
        view! { <p class="muted">{move || t().none_nearby}</p> }.into_any()
    } else {
        view! {
            <ul class="nearby-list">
                {a.nearby.into_iter().map(|n| {
                    let (layer, kind) = (n.layer, n.kind.clone());
                    view! {
                        <li data-layer=n.layer.as_str()>
                            <span class="nearby-kind">{move || crate::i18n::asset_label(layer, &kind, lang())}</span>
                            <span class="nearby-name">{n.name.clone()}</span>
                            <span class="nearby-distance">{format!("{:.1}", n.distance_m)}" "{move || t().metres}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="analysis">
            <p class="chain"><span class="muted">{move || t().chain}": "</span>{chain}</p>
            {seam}
            {responsibility}
            <h4>{move || t().nearby}</h4>
            {nearby}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Category, IncidentStatus};

    fn incident(id: i64, seq: i64, minute: u32, status: IncidentStatus) -> Incident {
        let at = DateTime::parse_from_rfc3339(&format!("2026-11-25T08:{minute:02}:00Z"))
            .expect("valid")
            .with_timezone(&Utc);
        Incident {
            id,
            seq,
            created_at: at,
            updated_at: at,
            status,
            category: Category::Garbage,
            lat: 23.0,
            lon: 113.1,
            description: String::new(),
            reporter: None,
            street_code: "440604012".into(),
            street_name: "祖庙街道".into(),
            grid_code: "440604012001001".into(),
            grid_name: "g".into(),
            department: None,
            merged_into: None,
            duplicate_of: None,
            dispatch_due_at: None,
            resolve_due_at: None,
            escalation: 0,
            analysis: Default::default(),
        }
    }

    #[test]
    fn upsert_keeps_newest_first_and_never_goes_back_to_an_older_state() {
        let mut list = Vec::new();
        upsert_into(&mut list, incident(1, 1, 0, IncidentStatus::Reported));
        upsert_into(&mut list, incident(3, 3, 2, IncidentStatus::Reported));
        upsert_into(&mut list, incident(2, 2, 1, IncidentStatus::Reported));
        assert_eq!(list.iter().map(|i| i.id).collect::<Vec<_>>(), [3, 2, 1]);
        upsert_into(&mut list, incident(2, 5, 1, IncidentStatus::Resolved));
        upsert_into(&mut list, incident(2, 4, 1, IncidentStatus::Dispatched));
        assert_eq!(list[1].status, IncidentStatus::Resolved);
        assert_eq!(list.len(), 3);
    }

    #[test]
    fn the_header_says_who_is_logged_in() {
        use crate::wire::{Role, ScopeInfo};
        let officer = SessionInfo {
            kind: CallerKind::User,
            name: "张三".into(),
            role: Role::StreetOfficer,
            scope: ScopeInfo::Jurisdiction {
                code: "440604012".into(),
                name: "祖庙街道".into(),
                level: None,
            },
            must_change_password: false,
            expires_at: None,
        };
        assert_eq!(whoami(&officer, Lang::Zh), "张三 · 镇街工作人员 · 祖庙街道");
        assert_eq!(
            whoami(&officer, Lang::En),
            "张三 · Street officer · 祖庙街道"
        );
        let wall = SessionInfo {
            kind: CallerKind::Screen,
            name: "指挥大厅".into(),
            role: Role::Screen,
            scope: ScopeInfo::District,
            ..officer
        };
        assert_eq!(whoami(&wall, Lang::Zh), "大屏 · 指挥大厅");
    }

    #[test]
    fn times_show_in_the_district_zone() {
        let i = incident(1, 1, 5, IncidentStatus::Reported);
        assert_eq!(format_time(i.created_at, 480, false), "16:05:00");
        assert_eq!(format_time(i.created_at, 480, true), "11-25 16:05:00");
    }
}

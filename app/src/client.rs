//! Browser side of the dashboard: loads who is logged in, incidents and counts over HTTP,
//! follows the live feed over a WebSocket (resuming from the last `seq` after a drop, reloading
//! on `resync`), keeps the connection indicator honest, and drives the map.
//!
//! A lost session (any answer 401, or 403 `password_change_required`) sends the browser to the
//! login page. Nothing else does: a wall screen runs unattended for weeks, and a server or
//! network that is down only means trying again later.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use chrono::Utc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::api::{self, ApiError, LOGIN_PAGE};
use crate::dashboard::{format_time, upsert_into, Conn, Dash, MAX_ON_SCREEN};
use crate::map;
use crate::wire::{
    ActionRequest, DepartmentInfo, Incident, MapInfo, RulesReport, ServerMessage, SessionInfo,
    Stats,
};

/// A feed silent for this long is treated as dead (the server sends a heartbeat every 15 s).
const SILENCE_LIMIT_MS: f64 = 45_000.0;
/// After this many failed connections in a row, the reconnect loop asks whether the session
/// is still there (a refused upgrade looks like any other failure from the page).
const SESSION_CHECK_AFTER: u32 = 2;

/// Starts everything the screen does once hydrated.
pub fn start(dash: Dash) {
    crate::i18n::keep_language(dash.lang);
    load_session(dash, 0);

    let tick = move || {
        let now = Utc::now();
        dash.clock.set(format_time(
            now,
            dash.utc_offset_minutes.get_untracked(),
            false,
        ));
        // Deadlines are shown to the minute: moving "now" every 15 s is enough.
        if (now - dash.now.get_untracked()).num_seconds().abs() >= 15 {
            dash.now.set(now);
        }
    };
    tick();
    set_interval(tick, Duration::from_secs(1));

    // The map follows the incident list and the selection.
    Effect::new(move |_| {
        let json = dash.incidents.with(|list| feature_collection(list));
        map::set_incidents(&json);
    });
    Effect::new(move |_| match dash.selected.get() {
        Some(id) => {
            let at = dash
                .incidents
                .with_untracked(|l| l.iter().find(|i| i.id == id).map(|i| (i.lon, i.lat)));
            if let Some((lon, lat)) = at {
                map::select_incident(id as f64, lon, lat, true);
            }
        }
        None => map::select_incident(-1.0, 0.0, 0.0, false),
    });

    // A reason, a chosen department or an error belong to the incident they were written for:
    // another selection starts afresh (a live update of the same incident keeps them).
    Effect::new(move |previous: Option<Option<i64>>| {
        let now = dash.selected.get();
        if previous.is_some_and(|p| p != now) {
            dash.action_note.set(String::new());
            dash.action_department.set(String::new());
            dash.action_error.set(None);
        }
        now
    });

    mount_map(dash, 0);
    refresh_rules(dash);
    load_departments(dash);
    let live = Rc::new(Live::default());
    connect(dash, live.clone());
    watch_silence(live.clone());
    reload(dash);
    // Counts roll over at midnight and drift if an event is missed: refresh now and then.
    set_interval(move || refresh_stats(dash), Duration::from_secs(60));
}

/// Loads who is logged in. A screen that starts while the server cannot be reached keeps
/// asking; a lost session, or a one-time password still to replace, goes to the login page.
fn load_session(dash: Dash, attempt: u32) {
    spawn_local(async move {
        match session().await {
            Ok(session) => dash.session.set(Some(session)),
            Err(e) if e.means_logged_out() => {}
            Err(e) => {
                leptos::logging::warn!("session: {e}");
                set_timeout(move || load_session(dash, attempt + 1), backoff(attempt));
            }
        }
    });
}

/// Frames the district on the map; tried again while the server cannot be reached.
fn mount_map(dash: Dash, attempt: u32) {
    spawn_local(async move {
        match get_json::<MapInfo>("/api/v1/map/info").await {
            Ok(info) => {
                dash.utc_offset_minutes.set(info.utc_offset_minutes);
                let json = serde_json::to_string(&info).unwrap_or_default();
                let on_select = Closure::<dyn Fn(f64)>::new(move |id: f64| {
                    dash.selected.set(Some(id as i64));
                });
                if !map::mount_map("map", &json, on_select.as_ref().unchecked_ref()) {
                    dash.map_error.set(true);
                }
                // The map lives as long as the page.
                on_select.forget();
            }
            Err(ApiError::Network(e)) => {
                leptos::logging::warn!("map info: {e}; trying again");
                set_timeout(move || mount_map(dash, attempt + 1), backoff(attempt));
            }
            Err(e) => {
                leptos::logging::error!("map info: {e}");
                dash.map_error.set(true);
            }
        }
    });
}

/// Ends the session and goes to the login page; says so if the server could not be told.
pub fn log_out(dash: Dash) {
    dash.logout_failed.set(false);
    spawn_local(async move {
        match api::log_out().await {
            Ok(()) | Err(ApiError::Unauthenticated) => api::go_to("/login"),
            Err(e) => {
                leptos::logging::warn!("logout: {e}");
                dash.logout_failed.set(true);
            }
        }
    });
}

/// Reloads the incident list and the counts over HTTP.
pub fn reload(dash: Dash) {
    dash.loading.set(true);
    dash.load_error.set(None);
    spawn_local(async move {
        let url = format!("/api/v1/incidents?limit={MAX_ON_SCREEN}");
        match get_json::<Vec<Incident>>(&url).await {
            Ok(list) => dash.incidents.update(|current| {
                for incident in list {
                    upsert_into(current, incident);
                }
            }),
            Err(e) => dash.load_error.set(Some(e.to_string())),
        }
        dash.loading.set(false);
    });
    refresh_stats(dash);
}

/// Loads the district's departments (the choices of a dispatch at a seam).
fn load_departments(dash: Dash) {
    spawn_local(async move {
        match get_json::<Vec<DepartmentInfo>>("/api/v1/departments").await {
            Ok(list) => dash.departments.set(list),
            Err(e) => leptos::logging::warn!("departments: {e}"),
        }
    });
}

/// Loads the responsibility rules report (shown in the header when rules were skipped).
fn refresh_rules(dash: Dash) {
    spawn_local(async move {
        match get_json::<RulesReport>("/api/v1/rules").await {
            Ok(report) => dash.rules.set(Some(report)),
            Err(e) => leptos::logging::warn!("responsibility rules: {e}"),
        }
    });
}

/// Takes a case action on an incident (decided on the `seq` in `req`).
pub fn act(dash: Dash, id: i64, req: ActionRequest) {
    dash.action_error.set(None);
    spawn_local(async move {
        let url = format!("/api/v1/incidents/{id}/actions");
        match leave_if_logged_out(api::post_json::<_, Incident>(&url, &req).await) {
            Ok(incident) => {
                dash.action_note.set(String::new());
                dash.upsert(incident)
            }
            Err(e) => dash.action_error.set(Some(e.to_string())),
        }
    });
}

fn refresh_stats(dash: Dash) {
    spawn_local(async move {
        if let Ok(stats) = get_json::<Stats>("/api/v1/stats").await {
            dash.stats.set(Some(stats));
        }
    });
}

/// The live connection and what it needs to resume.
#[derive(Default)]
struct Live {
    socket: RefCell<Option<Socket>>,
    /// Newest `seq` seen; a reconnect asks for what came after it.
    last_seq: Cell<i64>,
    last_message_ms: Cell<f64>,
    failures: Cell<u32>,
    stats_pending: Cell<bool>,
}

struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

fn connect(dash: Dash, live: Rc<Live>) {
    let location = window().location();
    let scheme = if location.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    let since = live.last_seq.get();
    let url = if since > 0 {
        format!("{scheme}://{host}/ws?since={since}")
    } else {
        format!("{scheme}://{host}/ws")
    };
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => {
            dash.conn.set(Conn::Down);
            schedule_reconnect(dash, live);
            return;
        }
    };
    live.last_message_ms.set(js_sys::Date::now());

    let on_message = {
        let live = live.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            live.last_message_ms.set(js_sys::Date::now());
            let Some(text) = e.data().as_string() else {
                return;
            };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Hello { seq, .. }) => {
                    live.failures.set(0);
                    if live.last_seq.get() == 0 {
                        live.last_seq.set(seq);
                    }
                    dash.conn.set(Conn::Live);
                    // The server is back: a list that failed to load is loaded now.
                    if dash.load_error.get_untracked().is_some() {
                        reload(dash);
                    }
                    schedule_stats(dash, live.clone());
                }
                Ok(ServerMessage::Incident { seq, incident }) => {
                    live.last_seq.set(live.last_seq.get().max(seq));
                    dash.upsert(*incident);
                    schedule_stats(dash, live.clone());
                }
                Ok(ServerMessage::Resync) => reload(dash),
                Ok(ServerMessage::Heartbeat { .. }) => {}
                // New district data (an import): the map refetches its tiles and boundaries.
                Ok(ServerMessage::DistrictChanged { generation }) => {
                    leptos::logging::log!(
                        "live feed: district data changed (generation {generation})"
                    );
                    map::district_changed(generation as f64);
                    refresh_rules(dash);
                }
                Err(e) => leptos::logging::warn!("live feed: unreadable message: {e}"),
            }
        })
    };
    let on_close = {
        let live = live.clone();
        Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
            dash.conn.set(Conn::Down);
            schedule_reconnect(dash, live.clone());
        })
    };
    let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        // A close event follows; reconnecting happens there.
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // Replacing the old socket drops its callbacks; this never runs inside one of them
    // (reconnects go through a timer), so none is dropped while it runs.
    if let Some(old) = live.socket.borrow_mut().replace(Socket {
        ws,
        _on_message: on_message,
        _on_close: on_close,
        _on_error: on_error,
    }) {
        old.ws.set_onclose(None);
        let _ = old.ws.close();
    }
}

fn schedule_reconnect(dash: Dash, live: Rc<Live>) {
    let failures = live.failures.get() + 1;
    live.failures.set(failures);
    let delay = backoff(failures);
    if failures < SESSION_CHECK_AFTER {
        set_timeout(move || connect(dash, live), delay);
        return;
    }
    // Only a definite answer that the session is gone leaves; the server or the network being
    // down means trying again, however long it takes.
    set_timeout(
        move || {
            spawn_local(async move {
                match session().await {
                    Err(e) if e.means_logged_out() => {}
                    _ => connect(dash, live),
                }
            })
        },
        delay,
    );
}

/// 1 s, 2 s, 4 s, … at most 15 s, after `failures` failures in a row.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis((500u64 << failures.min(5)).min(15_000))
}

/// Closes a socket that has gone silent, so its close handler reconnects.
fn watch_silence(live: Rc<Live>) {
    set_interval(
        move || {
            let silent = js_sys::Date::now() - live.last_message_ms.get() > SILENCE_LIMIT_MS;
            if silent {
                if let Some(s) = live.socket.borrow().as_ref() {
                    if s.ws.ready_state() == WebSocket::OPEN {
                        let _ = s.ws.close();
                    }
                }
            }
        },
        Duration::from_secs(5),
    );
}

/// Refreshes the counts at most twice a second while events stream in.
fn schedule_stats(dash: Dash, live: Rc<Live>) {
    if live.stats_pending.replace(true) {
        return;
    }
    set_timeout(
        move || {
            live.stats_pending.set(false);
            refresh_stats(dash);
        },
        Duration::from_millis(500),
    );
}

fn feature_collection(list: &[Incident]) -> String {
    let features: Vec<serde_json::Value> = list
        .iter()
        .map(|i| {
            serde_json::json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [i.lon, i.lat] },
                "properties": {
                    "id": i.id,
                    "status": i.status.as_str(),
                    "category": i.category.code(),
                },
            })
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features }).to_string()
}

/// Passes an answer on; a lost session sends the browser to the login page first.
fn leave_if_logged_out<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        if e.means_logged_out() {
            api::go_to(LOGIN_PAGE);
        }
    }
    result
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    leave_if_logged_out(api::get_json(url).await)
}

/// Who is logged in; a session whose one-time password is still to be replaced counts as
/// lost here (the login page asks for the new password).
async fn session() -> Result<SessionInfo, ApiError> {
    let result = match api::session().await {
        Ok(s) if s.must_change_password => Err(ApiError::PasswordChangeRequired),
        other => other,
    };
    leave_if_logged_out(result)
}

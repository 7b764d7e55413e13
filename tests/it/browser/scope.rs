//! Scope in a real browser: a street officer logs in on the login page and sees only his
//! street's incidents, in the list and on the map — an incident posted live in another street
//! never appears, one posted live in his street does; he logs out; a wall screen's URL shows
//! the district with no login.

use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::Locator;
use onegrid_app::wire::Role;
use onegrid_tests::{point_in_grid, TestServer, PASSWORD};
use serde_json::{json, Value};

use super::{browser, wait_until};

async fn report(server: &TestServer, (lon, lat): (f64, f64), text: &str) -> Result<Value> {
    let r = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "garbage", "lon": lon, "lat": lat, "description": text}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "report: {}", r.status());
    Ok(r.json().await?)
}

fn listed(id: &Value) -> String {
    format!("return document.querySelector(\"li.incident[data-incident-id='{id}']\") !== null")
}

fn on_map(id: &Value) -> String {
    format!("return !!(window.onegrid && window.onegrid.renderedIncidentIds().includes({id}))")
}

#[tokio::test]
async fn a_street_officer_sees_only_his_street_and_a_screen_url_needs_no_login() -> Result<()> {
    let server = TestServer::start().await?;
    // Two grids of different streets, each centre at no seam.
    let (mut mine, mut other) = (None, None);
    for index in (0..600).step_by(13) {
        let (lon, lat, _) = point_in_grid(&server, index).await?;
        let incident = report(&server, (lon, lat), "本街道的垃圾").await?;
        if !incident["seam"].is_null() {
            continue;
        }
        match &mine {
            None => mine = Some(((lon, lat), incident)),
            Some((_, m)) if m["street_code"] != incident["street_code"] => {
                other = Some(((lon, lat), incident));
                break;
            }
            Some(_) => {}
        }
    }
    let (here, in_street) = mine.context("an incident at no seam")?;
    let (there, elsewhere) = other.context("an incident in another street")?;
    let street = in_street["street_code"]
        .as_str()
        .context("street")?
        .to_string();
    server
        .add_user("jiedao", Role::StreetOfficer, Some(&street))
        .await?;

    let b = browser().await?;
    let c = &b.client;
    // Not logged in: the page sends the browser to the login page.
    c.goto(&server.url("/")).await?;
    wait_until(
        c,
        "return location.pathname === '/login'",
        10,
        "the redirect to the login page",
    )
    .await?;
    let username = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#login-username"))
        .await?;
    wait_until(
        c,
        "return !!document.querySelector('form[data-ready=true] #login-submit')",
        30,
        "the login form to hydrate",
    )
    .await?;
    username.send_keys("jiedao").await?;
    c.find(Locator::Css("#login-password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    c.find(Locator::Css("#login-submit")).await?.click().await?;
    wait_until(c, "return location.pathname === '/'", 20, "the dashboard").await?;
    wait_until(
        c,
        "return document.getElementById('whoami')?.dataset.role === 'street_officer'",
        20,
        "who is logged in",
    )
    .await?;
    let whoami = c.find(Locator::Css("#whoami")).await?.text().await?;
    assert!(whoami.contains("jiedao"), "{whoami}");
    let street_name = in_street["street_name"].as_str().unwrap_or_default();
    assert!(whoami.contains(street_name), "{whoami} names {street_name}");

    wait_until(c, &listed(&in_street["id"]), 30, "his street's incident").await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map",
    )
    .await?;
    wait_until(c, &on_map(&in_street["id"]), 30, "his incident on the map").await?;
    for script in [listed(&elsewhere["id"]), on_map(&elsewhere["id"])] {
        assert_eq!(
            c.execute(&script, vec![]).await?,
            Value::Bool(false),
            "{script}"
        );
    }

    // Live: one elsewhere (must never appear), then one here (must).
    let live_elsewhere = report(&server, there, "别的街道").await?;
    let live_here = report(&server, here, "本街道新报").await?;
    wait_until(c, &listed(&live_here["id"]), 20, "the live incident here").await?;
    wait_until(
        c,
        &on_map(&live_here["id"]),
        30,
        "the live incident on the map",
    )
    .await?;
    for script in [listed(&live_elsewhere["id"]), on_map(&live_elsewhere["id"])] {
        assert_eq!(
            c.execute(&script, vec![]).await?,
            Value::Bool(false),
            "{script}"
        );
    }
    let ids: Value = c
        .execute(
            "return [...document.querySelectorAll('li.incident')].map(e => e.dataset.incidentId)",
            vec![],
        )
        .await?;
    let all_here = server
        .client()
        .get(server.url("/api/v1/incidents?limit=1000"))
        .send()
        .await?
        .json::<Vec<Value>>()
        .await?;
    for id in ids.as_array().into_iter().flatten() {
        let incident = all_here
            .iter()
            .find(|i| i["id"].as_i64().map(|n| n.to_string()).as_deref() == id.as_str())
            .context("a listed incident")?;
        let touches_street = incident["street_code"] == street.as_str()
            || incident["seam"]["candidates"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|cand| {
                    cand["code"]
                        .as_str()
                        .is_some_and(|code| code.starts_with(&street))
                });
        assert!(touches_street, "listed {incident}");
    }

    // Logout: back at the login page, and the page is closed to him.
    c.find(Locator::Css("#logout")).await?.click().await?;
    wait_until(c, "return location.pathname === '/login'", 20, "logged out").await?;
    c.goto(&server.url("/")).await?;
    wait_until(
        c,
        "return location.pathname === '/login'",
        10,
        "still logged out",
    )
    .await?;

    // A wall screen: its URL, no login.
    let token = server.screen_token("lobby").await?;
    c.goto(&server.url(&format!("/screen?token={token}")))
        .await?;
    wait_until(c, "return location.pathname === '/'", 20, "the wall view").await?;
    wait_until(
        c,
        "return document.getElementById('whoami')?.dataset.role === 'screen'",
        20,
        "the screen shown as such",
    )
    .await?;
    wait_until(c, &listed(&live_elsewhere["id"]), 30, "the whole district").await?;
    assert_eq!(
        c.execute("return document.querySelector('#logout') === null", vec![])
            .await?,
        Value::Bool(true),
        "a screen has no logout"
    );
    Ok(())
}

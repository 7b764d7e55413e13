//! The dashboard in a real browser: it hydrates and shows new incidents live in the list and
//! on the map; its layout fits wall, desktop and laptop screens; an open screen redraws after
//! an import; skipped rules and uncovered incidents are shown to the duty officer.

use super::tiles::{show, strings, RENDERED};
use super::*;

#[tokio::test]
async fn the_page_hydrates_and_shows_new_incidents_live_in_the_list_and_on_the_map() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 40).await?;
    let first = post_incident(&server, lon, lat, "路面坑洞").await?;
    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;

    // Server-rendered in Chinese.
    let title = c.find(Locator::Css(".brand h1")).await?.text().await?;
    assert_eq!(title, "禅城区城市运行指挥中心");

    // Hydrated: the list loads over HTTP and reacts to a click.
    let item = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            "li.incident[data-incident-id='{}']",
            first["id"]
        )))
        .await
        .context("the incident list loads after hydration")?;
    item.click().await?;
    wait_until(
        c,
        "return document.querySelector('li.incident.selected') !== null",
        10,
        "the clicked item to be selected",
    )
    .await?;
    let details = c
        .find(Locator::Css("section.details"))
        .await?
        .text()
        .await?;
    assert!(
        details.contains("路面坑洞"),
        "details show the incident: {details}"
    );
    assert!(details.contains(first["grid_code"].as_str().unwrap()));

    // The live feed is up and the map has rendered our layers.
    wait_until(
        c,
        "return document.querySelector('.conn[data-conn=live]') !== null",
        20,
        "the live indicator",
    )
    .await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;

    // A new report appears in the list and on the map, without a reload.
    c.execute("window.__sameDocument = true; return true;", vec![])
        .await?;
    let second = post_incident(&server, lon + 0.0001, lat, "井盖旁路面塌陷").await?;
    let id = second["id"].as_i64().unwrap();
    wait_until(
        c,
        &format!(
            "return document.querySelector(\"li.incident[data-incident-id='{id}']\") !== null"
        ),
        15,
        "the new incident in the list",
    )
    .await?;
    wait_until(
        c,
        &format!(
            "return !!(window.onegrid && window.onegrid.renderedIncidentIds().includes({id}))"
        ),
        30,
        "the new incident as a rendered map feature",
    )
    .await?;
    assert_eq!(
        c.execute("return window.__sameDocument === true", vec![])
            .await?,
        Value::Bool(true),
        "no reload"
    );
    let today = c.find(Locator::Css("[data-stat=today]")).await?;
    wait_until(
        c,
        "return document.querySelector('[data-stat=today]').textContent === '2'",
        10,
        "the header count",
    )
    .await?;
    drop(today);

    // The English switch.
    c.find(Locator::Css("button.lang-switch"))
        .await?
        .click()
        .await?;
    wait_until(c, "return document.querySelector('.brand h1').textContent === 'Chancheng City Operations Center'", 5, "English title").await?;
    c.find(Locator::Css("button.lang-switch"))
        .await?
        .click()
        .await?;

    save_screenshot(c, "dashboard-1920x1080.png").await?;
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_layout_fits_wall_desktop_and_laptop_screens() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 50).await?;
    for i in 0..30 {
        post_incident(&server, lon, lat, &format!("第{i}条")).await?;
    }
    let b = browser().await?;
    let c = &b.client;
    for (w, h) in [(3840u32, 2160u32), (1920, 1080), (1366, 768)] {
        c.set_window_size(w, h).await?;
        open(c, &server).await?;
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("li.incident"))
            .await?;
        let check = c
            .execute(
                r#"
                const vw = window.innerWidth, vh = window.innerHeight;
                const inside = (sel) => {
                  const r = document.querySelector(sel).getBoundingClientRect();
                  return r.left >= 0 && r.top >= 0 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5 && r.width > 0;
                };
                const header = document.querySelector('.topbar').getBoundingClientRect();
                const title = document.querySelector('.brand h1');
                const map = document.getElementById('map').getBoundingClientRect();
                return {
                  panel: inside('.incident-panel'),
                  counters: inside('.counters'),
                  status: inside('.status-area'),
                  headerShare: header.height / vh,
                  titleWhole: title.scrollWidth <= title.clientWidth + 1,
                  mapShare: (map.width * map.height) / (vw * vh),
                  noScroll: document.documentElement.scrollHeight <= vh + 1,
                };
                "#,
                vec![],
            )
            .await?;
        assert_eq!(
            check["panel"], true,
            "{w}x{h}: list panel on screen: {check}"
        );
        assert_eq!(
            check["counters"], true,
            "{w}x{h}: counters on screen: {check}"
        );
        assert_eq!(
            check["status"], true,
            "{w}x{h}: connection and clock on screen: {check}"
        );
        assert_eq!(check["titleWhole"], true, "{w}x{h}: title not cut: {check}");
        assert_eq!(
            check["noScroll"], true,
            "{w}x{h}: a screen, not a scrolling page: {check}"
        );
        assert!(
            check["headerShare"].as_f64().unwrap() < 0.12,
            "{w}x{h}: header height: {check}"
        );
        assert!(
            check["mapShare"].as_f64().unwrap() > 0.8,
            "{w}x{h}: the map fills the screen: {check}"
        );
        save_screenshot(c, &format!("dashboard-{w}x{h}.png")).await?;
    }
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

/// Every `"url"` value in a Chromium NetLog (`--log-net-log`), whether or not Chromium finished
/// writing the file (it closes the JSON as it exits).

#[tokio::test]
async fn an_open_screen_redraws_after_an_import() -> Result<()> {
    use crate::reload::{import_building, NEW_BUILDING};

    let server = TestServer::start_with(Options {
        reload_interval_ms: 200,
        ..Options::default()
    })
    .await?;
    let (lon, lat, _) = point_in_grid(&server, 60).await?;
    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;
    show(c, [lon, lat], 16.0).await?;
    let before = c.execute(RENDERED, vec![]).await?;
    let ids = strings(&before["buildings"]["ids"]);
    assert!(!ids.is_empty(), "demo buildings are drawn: {before}");
    assert!(!ids.contains(NEW_BUILDING));

    // The import replaces the buildings layer; the server swaps it in and tells the page, which
    // refetches its tiles. Without that the old tiles would stay drawn until they expire
    // (`max-age=60`), so the wait below stays well under a minute.
    import_building(&server, lon, lat).await;
    wait_until(
        c,
        &format!(
            "return window.onegrid.map.queryRenderedFeatures({{ layers: ['building-fill'] }})\
             .some((f) => String(f.properties.id) === '{NEW_BUILDING}')"
        ),
        40,
        "the imported building to be drawn",
    )
    .await?;
    show(c, [lon, lat], 16.0).await?;
    let after = c.execute(RENDERED, vec![]).await?;
    let ids = strings(&after["buildings"]["ids"]);
    assert_eq!(
        ids,
        BTreeSet::from([NEW_BUILDING.to_string()]),
        "only the imported building is left: {after}"
    );
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn skipped_rules_and_an_incident_no_rule_covers_are_shown_to_the_duty_officer() -> Result<()>
{
    // One rule names a department the district does not have; nothing covers fire hazards.
    let rules = "[[rule]]\nid = \"moon-rule\"\ncategories = [\"garbage\"]\ndepartment = \"moon_office\"\n\n\
                 [[rule]]\nid = \"roads\"\ncategories = [\"damaged_road\"]\ndepartment = \"transport\"\n";
    let server = TestServer::start_with(Options {
        rules: Some(rules.into()),
        ..Options::default()
    })
    .await?;
    let (lon, lat, _) = point_in_grid(&server, 12).await?;
    let fire: Value = server.client().clone()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "fire_hazard", "lat": lat, "lon": lon, "description": "楼道堆放杂物"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(fire["responsibility"]["department"], Value::Null, "{fire}");

    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;
    let warning = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("button.rules-warning"))
        .await
        .context("the header warns about the rules")?;
    let text = warning.text().await?;
    assert!(text.contains("责任规则需要处理"), "{text}");
    warning.click().await?;
    let panel = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("section.rules-panel"))
        .await?
        .text()
        .await?;
    assert!(panel.contains("moon-rule"), "{panel}");
    assert!(panel.contains("moon_office"), "{panel}");
    assert!(panel.contains("部门名录中不存在"), "{panel}");
    assert!(panel.contains("1 条规则生效"), "{panel}");
    assert!(panel.contains("兜底规则"), "{panel}");
    save_screenshot(c, "rules-warning.png").await?;

    // The incident no rule covers: accepted, and its details say nobody is proposed.
    c.find(Locator::Css("section.rules-panel button.close"))
        .await?
        .click()
        .await?;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            "li.incident[data-incident-id='{}']",
            fire["id"]
        )))
        .await?
        .click()
        .await?;
    let none = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "section.details .responsibility.review .department.none",
        ))
        .await
        .context("the details say no department is proposed")?
        .text()
        .await?;
    assert!(none.contains("未提出责任部门"), "{none}");
    save_screenshot(c, "no-department.png").await?;
    c.clone().close().await?;
    server.stop().await;
    Ok(())
}

//! The dashboard hydrates and draws the map under the server's Content-Security-Policy, with
//! no violation reported in the page or in a worker.

use super::tiles::{show, RENDERED};
use super::*;

/// Collects the page's CSP violations into `window.__cspViolations`; installed through the
/// DevTools protocol so that it runs before any script of the page (and is itself exempt from
/// the page's policy).
const CSP_LISTENER: &str = r#"
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
"#;

/// Console messages of the browser so far that report a Content-Security-Policy violation (in
/// the page or in a worker).
async fn csp_messages_in_log(client: &Client) -> Result<Vec<String>> {
    let log = client
        .issue_cmd(DriverCommand {
            path: "se/log",
            body: json!({ "type": "browser" }),
        })
        .await?;
    Ok(log
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["message"].as_str())
        .filter(|m| m.contains("Content Security Policy"))
        .map(str::to_string)
        .collect())
}

#[tokio::test]
async fn the_dashboard_hydrates_and_draws_the_map_under_its_content_security_policy() -> Result<()>
{
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 120).await?;
    let incident = post_incident(&server, lon, lat, "路灯不亮").await?;
    let b = browser().await?;
    let c = &b.client;
    c.issue_cmd(DriverCommand {
        path: "goog/cdp/execute",
        body: json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": CSP_LISTENER },
        }),
    })
    .await?;
    open(c, &server).await?;

    // Hydrated (the list loads over HTTP), live (the WebSocket is open), the map drawn from
    // tiles fetched by MapLibre's worker.
    wait_until(
        c,
        &format!(
            "return document.querySelector(\"li.incident[data-incident-id='{}']\") !== null",
            incident["id"]
        ),
        30,
        "the incident list after hydration",
    )
    .await?;
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
    show(c, [lon, lat], 16.0).await?;
    let drawn = c.execute(RENDERED, vec![]).await?;
    for layer in ["buildings", "roads"] {
        assert!(
            drawn[layer]["count"].as_u64().unwrap_or(0) > 0,
            "{layer} drawn from tiles: {drawn}"
        );
    }

    let violations = c.execute("return window.__cspViolations", vec![]).await?;
    assert_eq!(violations, json!([]), "no CSP violation in the page");
    let logged = csp_messages_in_log(c).await?;
    assert!(
        logged.is_empty(),
        "no CSP violation in the console: {logged:?}"
    );

    // The policy is in force and the listener hears it: an inline script without the nonce
    // is refused and reported (scripts the driver runs itself are exempt, so it inserts one).
    c.execute(
        "const s = document.createElement('script'); \
         s.textContent = 'window.__inlineRan = true;'; \
         document.head.appendChild(s); return true;",
        vec![],
    )
    .await?;
    wait_until(
        c,
        "return window.__cspViolations.length === 1",
        10,
        "the refused inline script to be reported",
    )
    .await?;
    let ran = c
        .execute("return window.__inlineRan === true", vec![])
        .await?;
    assert_eq!(
        ran,
        json!(false),
        "an inline script without the nonce does not run"
    );
    let violations = c.execute("return window.__cspViolations", vec![]).await?;
    assert!(
        violations[0]
            .as_str()
            .is_some_and(|v| v.starts_with("script-src")),
        "{violations}"
    );
    let logged = csp_messages_in_log(c).await?;
    assert!(!logged.is_empty(), "the console reports violations too");
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

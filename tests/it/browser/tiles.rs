//! The map draws buildings, roads and pipelines from vector tiles, never from one big GeoJSON.

use super::*;

fn netlog_urls(text: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        Value::String(s) if k == "url" => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => walk(&v, &mut out),
        Err(_) => {
            let key = "\"url\":\"";
            for (at, _) in text.match_indices(key) {
                let rest = &text[at + key.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_string());
                }
            }
        }
    }
    out
}

/// Layers, kinds and ids of what `layer` draws on screen now.
pub(super) const RENDERED: &str = r#"
    const m = window.onegrid.map;
    const layer = (id) => {
      const fs = m.queryRenderedFeatures({ layers: [id] });
      return {
        count: fs.length,
        sources: [...new Set(fs.map((f) => `${f.source}/${f.sourceLayer}`))],
        kinds: [...new Set(fs.map((f) => f.properties.kind))],
        ids: [...new Set(fs.map((f) => String(f.properties.id ?? f.id)))],
      };
    };
    return {
      zoom: m.getZoom(),
      buildings: layer('building-fill'),
      outlines: layer('building-outline').count,
      roads: layer('road-line'),
      pipelines: layer('pipeline-line'),
    };
"#;

/// Moves the map to `center` at `zoom` and waits until every tile is loaded and drawn.
pub(super) async fn show(client: &Client, center: [f64; 2], zoom: f64) -> Result<()> {
    client
        .execute(
            "const m = window.onegrid.map; window.__idle = false; \
             m.once('idle', () => { window.__idle = true; }); \
             m.jumpTo({ center: arguments[0], zoom: arguments[1] }); return true;",
            vec![json!(center), json!(zoom)],
        )
        .await?;
    wait_until(
        client,
        "return window.__idle === true && window.onegrid.map.areTilesLoaded()",
        120,
        &format!("the map to be idle at z{zoom}"),
    )
    .await
}

pub(super) fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_map_draws_buildings_roads_and_pipelines_from_vector_tiles() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 120).await?;
    let info: Value = server
        .client()
        .get(server.url("/api/v1/map/info"))
        .send()
        .await?
        .json()
        .await?;
    let max_zoom = info["tile_max_zoom"].as_u64().context("tile_max_zoom")?;
    // What the index holds within 100 m, asked over the API, independently of the tiles.
    let nearby: Value = server
        .client()
        .get(server.url(&format!(
            "/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=100"
        )))
        .send()
        .await?
        .json()
        .await?;
    let near = |layer: &str| -> BTreeSet<String> {
        nearby["features"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["layer"] == layer)
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect()
    };
    for layer in ["buildings", "roads", "pipelines"] {
        assert!(!near(layer).is_empty(), "{layer} within 100 m: {nearby}");
    }
    let incident = post_incident(&server, lon, lat, "燃气管线上方路面塌陷").await?;
    let id = incident["id"].as_i64().context("incident id")?;

    let netlog_dir = tempfile::Builder::new()
        .prefix("onegrid-netlog-")
        .tempdir()?;
    let netlog = netlog_dir.path().join("netlog.json");
    let b = browser_with(&[format!("--log-net-log={}", netlog.display())]).await?;
    let c = &b.client;
    open(c, &server).await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;

    // The legend, in Chinese, draws each pipeline kind in the colour the map uses.
    let legend = c
        .execute(
            r#"
            const paint = window.onegrid.map.getPaintProperty('pipeline-line', 'line-color');
            const colors = {};
            for (let i = 2; i + 1 < paint.length; i += 2) colors[paint[i]] = paint[i + 1];
            const items = [...document.querySelectorAll('.map-legend .legend-pipelines li')];
            return {
              text: document.querySelector('.map-legend').textContent,
              items: items.map((li) => ({
                kind: li.dataset.kind,
                stroke: li.querySelector('line').getAttribute('stroke'),
                map: colors[li.dataset.kind] ?? null,
              })),
            };
            "#,
            vec![],
        )
        .await?;
    let text = legend["text"].as_str().unwrap_or_default();
    for word in [
        "图例", "建筑", "道路", "设施", "网格", "给水", "排水", "燃气", "电力", "通信",
    ] {
        assert!(text.contains(word), "legend shows {word}: {text}");
    }
    let items = legend["items"].as_array().context("legend items")?;
    assert_eq!(items.len(), 5, "{legend}");
    for item in items {
        assert!(item["map"].is_string(), "the map draws {item}");
        assert_eq!(item["stroke"], item["map"], "legend colour = map colour");
    }

    // Select the incident: the map flies to it and highlights its surroundings.
    c.find(Locator::Css(&format!(
        "li.incident[data-incident-id='{id}']"
    )))
    .await?
    .click()
    .await?;
    wait_until(
        c,
        "const m = window.onegrid.map; return !m.isMoving() && m.getZoom() >= 15;",
        30,
        "the flight to the incident",
    )
    .await?;

    // z16 over a dense spot: buildings, roads and pipelines come from the tile sources.
    show(c, [lon, lat], 16.0).await?;
    let r = c.execute(RENDERED, vec![]).await?;
    assert!((r["zoom"].as_f64().unwrap_or_default() - 16.0).abs() < 1e-6);
    for (layer, source) in [
        ("buildings", "buildings/buildings"),
        ("roads", "roads/roads"),
        ("pipelines", "pipelines/pipelines"),
    ] {
        let drawn = &r[layer];
        assert!(drawn["count"].as_u64().unwrap_or(0) > 0, "{layer} drawn");
        assert_eq!(drawn["sources"], json!([source]), "{layer} from its tiles");
        let ids = strings(&drawn["ids"]);
        let missing: Vec<_> = near(layer).difference(&ids).cloned().collect();
        assert!(
            missing.is_empty(),
            "every {layer} feature within 100 m is drawn; missing {missing:?}"
        );
    }
    assert!(r["outlines"].as_u64().unwrap_or(0) > 0, "building outlines");
    let pipeline_kinds = strings(&r["pipelines"]["kinds"]);
    assert!(
        pipeline_kinds.len() >= 2
            && pipeline_kinds.iter().all(|k| {
                ["water_supply", "drainage", "gas", "power", "telecom"].contains(&k.as_str())
            }),
        "pipeline kinds: {pipeline_kinds:?}"
    );
    let building_kinds = strings(&r["buildings"]["kinds"]);
    assert!(
        building_kinds.iter().all(|k| {
            [
                "residential",
                "commercial",
                "industrial",
                "public",
                "school",
                "mixed",
            ]
            .contains(&k.as_str())
        }),
        "building kinds: {building_kinds:?}"
    );

    // The selection draws above the tiles, the incidents above everything.
    let stack = c
        .execute(
            r#"
            const m = window.onegrid.map;
            return {
              order: m.getStyle().layers.map((l) => l.id),
              sources: Object.fromEntries(Object.entries(m.getStyle().sources).map(([k, v]) => [k, v.type])),
              atIncident: m.queryRenderedFeatures(m.project(arguments[0])).map((f) => f.layer.id),
              nearby: window.onegrid.renderedNearbyIds(),
              incidents: window.onegrid.renderedIncidentIds(),
            };
            "#,
            vec![json!([lon, lat])],
        )
        .await?;
    let order: Vec<&str> = stack["order"]
        .as_array()
        .context("layer order")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let at = |id: &str| order.iter().position(|l| *l == id);
    let tile_layers = [
        "building-fill",
        "building-outline",
        "road-line",
        "pipeline-line",
        "grid-line",
        "community-line",
        "poi-circle",
    ];
    let highest_tile = tile_layers
        .iter()
        .map(|l| at(l).with_context(|| format!("layer {l}")))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max();
    for l in [
        "nearby-building",
        "nearby-road",
        "nearby-pipeline",
        "nearby-poi",
    ] {
        assert!(at(l) > highest_tile, "{l} above the tile layers: {order:?}");
    }
    assert_eq!(order.last(), Some(&"incident-circle"), "{order:?}");
    for source in ["buildings", "roads", "pipelines", "pois", "jurisdictions"] {
        assert_eq!(stack["sources"][source], "vector", "{}", stack["sources"]);
    }
    let at_incident: Vec<&str> = stack["atIncident"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        at_incident.first(),
        Some(&"incident-circle"),
        "{at_incident:?}"
    );
    if let Some(first_tile) = at_incident.iter().position(|l| tile_layers.contains(l)) {
        assert!(
            !at_incident[first_tile..]
                .iter()
                .any(|l| l.starts_with("nearby-") || l.starts_with("incident-")),
            "nothing of the selection under a tile feature: {at_incident:?}"
        );
    }
    let highlighted = strings(&stack["nearby"]);
    let near_all: BTreeSet<String> = ["buildings", "roads", "pipelines", "pois"]
        .iter()
        .flat_map(|l| near(l))
        .collect();
    assert!(
        !highlighted.is_empty() && highlighted.is_subset(&near_all),
        "the selection's surroundings are highlighted: {highlighted:?}"
    );
    assert!(
        stack["incidents"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(id))),
        "the incident is drawn: {}",
        stack["incidents"]
    );
    save_screenshot(c, "map-tiles-z16-1920x1080.png").await?;

    // z18: drawn from the z16 tiles, overzoomed (no deeper tile is requested; checked below).
    show(c, [lon, lat], 18.0).await?;
    let deep = c.execute(RENDERED, vec![]).await?;
    assert!(
        deep["buildings"]["count"].as_u64().unwrap_or(0) > 0,
        "buildings at z18: {deep}"
    );

    // z13: the server leaves buildings and pipelines out of the tiles; roads stay.
    show(c, [lon, lat], 13.0).await?;
    let low = c.execute(RENDERED, vec![]).await?;
    assert_eq!(low["buildings"]["count"], 0, "no buildings at z13");
    assert_eq!(low["pipelines"]["count"], 0, "no pipelines at z13");
    assert!(
        low["roads"]["count"].as_u64().unwrap_or(0) > 0,
        "roads at z13"
    );

    // The network, as Chromium logged it: tiles, and no layer as one GeoJSON file. (MapLibre's
    // worker fetches tiles and GeoJSON, so the page's `performance` resource entries never list
    // them; the NetLog sees every request.)
    b.client.close().await?;
    let origin = server.url("");
    let mut urls = Vec::new();
    for _ in 0..50 {
        urls = netlog_urls(&std::fs::read_to_string(&netlog).unwrap_or_default())
            .into_iter()
            .filter(|u| u.starts_with(&origin))
            .map(|u| u[origin.len()..].to_string())
            .collect();
        if urls.iter().any(|u| u.starts_with("/tiles/buildings/16/")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for prefix in [
        "/tiles/buildings/16/",
        "/tiles/roads/16/",
        "/tiles/pipelines/16/",
        "/tiles/jurisdictions/16/",
        "/tiles/roads/13/",
    ] {
        assert!(
            urls.iter().any(|u| u.starts_with(prefix)),
            "requested {prefix}…: {urls:?}"
        );
    }
    for gone in [
        "/api/v1/map/roads",
        "/api/v1/map/boundaries/community",
        "/api/v1/map/boundaries/grid",
    ] {
        assert!(
            !urls.iter().any(|u| u.starts_with(gone)),
            "{gone} is not loaded"
        );
    }
    for u in urls.iter().filter(|u| u.starts_with("/tiles/")) {
        let parts: Vec<&str> = u.trim_start_matches("/tiles/").split('/').collect();
        let (layer, z) = (parts[0], parts[1].parse::<u64>()?);
        assert!(z <= max_zoom, "{u}: within the served zooms");
        assert!(
            z <= 16,
            "{u}: the map overzooms z16 tiles rather than asking for deeper ones"
        );
        let min = match layer {
            "buildings" | "pipelines" => 14,
            "roads" => 8,
            "pois" | "jurisdictions" => 10,
            other => bail!("{u}: unknown tile layer {other}"),
        };
        assert!(z >= min, "{u}: no request below z{min}");
    }
    server.stop().await;
    Ok(())
}

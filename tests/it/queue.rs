//! The queue through the API: every filter, the orders, paging, and the counts beside each
//! filter, against what the test itself reported and moved.

use std::collections::BTreeSet;

use onegrid_tests::{point_in_grid, Options, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::cases::{report, step};

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn the_queue_filters_orders_pages_and_counts_in_the_store() {
    let server = TestServer::start_with(Options {
        manual_clock: true,
        ..Default::default()
    })
    .await
    .expect("server");
    let duty = server.duty().clone();
    let (lon_a, lat_a, _) = point_in_grid(&server, 2).await.expect("grid");
    let (lon_b, lat_b, _) = point_in_grid(&server, 400).await.expect("grid");
    // Five incidents: two garbage, a fallen tree, a fire hazard in another place, one more tree.
    let g1 = report(&duty, &server, lon_a, lat_a, "garbage").await;
    let t1 = report(&duty, &server, lon_a + 0.001, lat_a, "fallen_tree").await;
    let g2 = report(&duty, &server, lon_b, lat_b, "garbage").await;
    let f1 = report(&duty, &server, lon_b + 0.001, lat_b, "fire_hazard").await;
    server.clock().advance(chrono::Duration::minutes(20));
    let t2 = report(&duty, &server, lon_b, lat_b + 0.001, "fallen_tree").await;
    let dispatched = step(&duty, &server, &g2, json!({"action": "dispatch", "department": g2["responsibility"]["department"]["code"], "reason": "按规则"})).await;
    let department = dispatched["department"]
        .as_str()
        .expect("department")
        .to_string();
    let street_a = g1["street_code"].as_str().expect("street").to_string();
    let get = |path: String| {
        let duty = duty.clone();
        let url = server.url(&path);
        async move {
            let r = duty.client.get(url).send().await.expect("get");
            let status = r.status();
            (status, r.json::<Value>().await.expect("json"))
        }
    };
    let list = |q: &str| get(format!("/api/v1/incidents?{q}"));

    // Filters, each against what was made.
    let (_, all) = list("").await;
    let every: Vec<i64> = [&t2, &f1, &g2, &t1, &g1]
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids(&all), every, "newest first");
    let (_, garbage) = list("category=garbage").await;
    assert_eq!(
        ids(&garbage),
        [g2["id"].as_i64().unwrap(), g1["id"].as_i64().unwrap()]
    );
    let (_, by_status) = list("status=dispatched").await;
    assert_eq!(ids(&by_status), [g2["id"].as_i64().unwrap()]);
    let (_, by_department) = list(&format!("department={department}")).await;
    assert_eq!(ids(&by_department), [g2["id"].as_i64().unwrap()]);
    let (_, in_street) = list(&format!("within={street_a}")).await;
    let in_street: BTreeSet<i64> = ids(&in_street).into_iter().collect();
    assert!(
        in_street.contains(&g1["id"].as_i64().unwrap())
            && in_street.contains(&t1["id"].as_i64().unwrap())
    );
    for i in [&g2, &f1, &t2] {
        if i["street_code"] != street_a.as_str() && i["seam"].is_null() {
            assert!(!in_street.contains(&i["id"].as_i64().unwrap()), "{i}");
        }
    }
    let (_, text) = list(&format!("q={}", urlencoding("测试案件"))).await;
    assert_eq!(ids(&text).len(), 5);
    let (_, by_id) = list(&format!("q={}", f1["id"])).await;
    assert_eq!(ids(&by_id), [f1["id"].as_i64().unwrap()]);
    let (_, nothing) = list("q=no-such-words").await;
    assert!(ids(&nothing).is_empty());

    // Overdue now (20 minutes after the first four, 0 after the last): nothing yet; 15 minutes
    // later the first tree and the fire hazard are (their 30 minutes to dispatch are up), the
    // second tree (reported 15 minutes ago) and the garbage (2 hours) not.
    let (_, overdue) = list("overdue=true").await;
    assert!(ids(&overdue).is_empty(), "{overdue}");
    server.clock().advance(chrono::Duration::minutes(15));
    let (_, overdue) = list("overdue=true").await;
    assert_eq!(
        ids(&overdue),
        [f1["id"].as_i64().unwrap(), t1["id"].as_i64().unwrap()]
    );

    // Orders and pages.
    let (_, oldest) = list("sort=oldest").await;
    let mut reversed = every.clone();
    reversed.reverse();
    assert_eq!(ids(&oldest), reversed);
    let (_, by_deadline) = list("sort=deadline&status=reported").await;
    assert_eq!(
        ids(&by_deadline)[0],
        t1["id"].as_i64().unwrap(),
        "the first tree's deadline is nearest"
    );
    let (_, page1) = list("limit=2").await;
    let (_, page2) = list("limit=2&offset=2").await;
    let (_, page3) = list("limit=2&offset=4").await;
    let paged: Vec<i64> = [page1, page2, page3].iter().flat_map(ids).collect();
    assert_eq!(paged, every);
    for bad in [
        "sort=sideways",
        "status=lost",
        "category=alien",
        "offset=1000001",
        "limit=0",
    ] {
        let (status, body) = list(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_query");
    }

    // The counts: every other filter applied.
    let (status, counts) = get("/api/v1/incidents/counts".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counts["total"], 5);
    assert_eq!(counts["statuses"], json!({"reported": 4, "dispatched": 1}));
    assert_eq!(
        counts["categories"],
        json!({"garbage": 2, "fallen_tree": 2, "fire_hazard": 1})
    );
    assert_eq!(counts["departments"][""], 4);
    assert_eq!(counts["departments"][department.as_str()], 1);
    assert_eq!(counts["overdue"], 2);
    let (_, counts) = get("/api/v1/incidents/counts?category=garbage&status=reported".into()).await;
    assert_eq!(counts["total"], 1);
    // The status counts ignore the status filter, the category counts the category filter.
    assert_eq!(counts["statuses"], json!({"reported": 1, "dispatched": 1}));
    assert_eq!(
        counts["categories"],
        json!({"garbage": 1, "fallen_tree": 2, "fire_hazard": 1})
    );

    // The exports: the whole filtered queue, read back by real parsers.
    let r = duty
        .client
        .get(server.url("/api/v1/incidents/export.csv?category=fallen_tree"))
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = r.bytes().await.expect("body");
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "a byte-order mark first"
    );
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header = reader.headers().expect("header").clone();
    assert_eq!(&header[0], "id");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    let got: Vec<i64> = rows.iter().map(|r| r[0].parse().expect("id")).collect();
    assert_eq!(
        got,
        [t1["id"].as_i64().unwrap(), t2["id"].as_i64().unwrap()],
        "id order"
    );
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(&rows[0][column("description")], "测试案件");
    assert_eq!(&rows[0][column("category")], "fallen_tree");
    let r = duty
        .client
        .get(server.url("/api/v1/incidents/export.geojson"))
        .send()
        .await
        .expect("geojson");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("body");
    let fc: geojson::FeatureCollection = text.parse().expect("a FeatureCollection");
    assert_eq!(fc.features.len(), 5);
    let first = &fc.features[0];
    assert_eq!(first.property("id"), Some(&g1["id"]));
    match &first.geometry.as_ref().expect("geometry").value {
        geojson::Value::Point(p) => {
            assert!((p[0] - g1["lon"].as_f64().unwrap()).abs() < 1e-9);
        }
        other => panic!("a point: {other:?}"),
    }
    server.stop().await;
}

/// An export longer than one page of the store comes whole, each incident once, in id order.
#[tokio::test]
async fn an_export_of_many_pages_holds_every_incident_once() {
    let server = TestServer::start().await.expect("server");
    let duty = server.duty().clone();
    let (lon, lat, _) = point_in_grid(&server, 30).await.expect("grid");
    let mut made = Vec::new();
    for n in 0..1100 {
        let i = report(&duty, &server, lon + (n % 30) as f64 * 2e-6, lat, "other").await;
        made.push(i["id"].as_i64().unwrap());
    }
    let body = duty
        .client
        .get(server.url("/api/v1/incidents/export.csv"))
        .send()
        .await
        .expect("csv")
        .bytes()
        .await
        .expect("body");
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let got: Vec<i64> = reader
        .records()
        .map(|r| r.expect("row")[0].parse().expect("id"))
        .collect();
    assert_eq!(got, made);
    server.stop().await;
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

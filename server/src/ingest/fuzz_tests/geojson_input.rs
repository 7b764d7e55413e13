//! GeoJSON on hostile input: arbitrary bytes, generated documents of every shape the reader
//! accepts (and many it must refuse) and mutated copies of the Vaduz fixtures, through
//! [`read_bytes`]; plus the geometry cleaner fed raw geometries directly.

use std::path::Path;
use std::sync::OnceLock;

use geo::Coord;
use proptest::prelude::*;
use serde_json::Value;

use super::{assert_valid, config, jsonish_bytes, mutate, mutations};
use crate::district::{AssetLayer, Level};
use crate::ingest::clean::{self, RawGeom};
use crate::ingest::{read_bytes, AdminLevels, Crs, CrsChoice, Format, ReadOptions, Target};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/vaduz");

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        prop::sample::select(AssetLayer::ALL.to_vec()).prop_map(Target::Layer),
        prop::sample::select(Level::ALL.to_vec()).prop_map(Target::Level),
        Just(Target::Levels(AdminLevels::default())),
    ]
}

fn options(target: Target, crs: u8, auto: bool) -> ReadOptions {
    let crs = match crs % 4 {
        0 => None,
        1 => Some(CrsChoice::Datum(Crs::Gcj02)),
        2 => Some(CrsChoice::Datum(Crs::Bd09)),
        _ => Some(CrsChoice::Datum(Crs::Wgs84)),
    };
    ReadOptions {
        format: if auto { Format::Auto } else { Format::GeoJson },
        crs,
        ..ReadOptions::new(target)
    }
}

/// Imports `bytes`; a result is either a clean error (whose message renders) or an import
/// whose every feature is valid.
fn check(bytes: &[u8], options: &ReadOptions) {
    match read_bytes("fuzz.geojson", bytes, options, &mut |_, _| {}) {
        Ok(got) => {
            assert_valid(&got);
            assert!(got.features_read >= got.assets.len() + got.jurisdictions.len());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

// ---------------------------------------------------------------------------------------------
// Generated documents
// ---------------------------------------------------------------------------------------------

/// A JSON value as text, so that numbers JSON cannot hold (NaN, 1e999) can be written.
#[derive(Debug, Clone)]
enum J {
    /// A token written as is: a number, `null`, `true`, `NaN`, …
    Raw(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    /// `depth` nested arrays around nothing, to probe the nesting limit.
    Deep(usize),
}

impl J {
    fn render(&self, out: &mut String) {
        match self {
            J::Raw(t) => out.push_str(t),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.render(out);
                }
                out.push('}');
            }
            J::Deep(depth) => {
                out.push_str(&"[".repeat(*depth));
                out.push_str(&"]".repeat(*depth));
            }
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }
}

fn obj(members: Vec<(&str, Option<J>)>) -> J {
    J::Obj(
        members
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect(),
    )
}

/// Numbers as exporters and attackers write them.
fn number() -> impl Strategy<Value = J> {
    prop_oneof![
        6 => (-180.0f64..180.0).prop_map(|v| J::Raw(format!("{v}"))),
        3 => (-1000.0f64..1000.0).prop_map(|v| J::Raw(format!("{v:e}"))),
        2 => any::<f64>().prop_filter_map("finite", |v| v.is_finite().then(|| J::Raw(format!("{v:e}")))),
        2 => any::<i64>().prop_map(|v| J::Raw(v.to_string())),
        3 => prop::sample::select(vec![
            "NaN", "-NaN", "Infinity", "-Infinity", "+Infinity", "1e999", "-1e999", "1e-999",
            "-0", "0", "180.0000001", "-90.5", "90.0000001", "1e308", "-1.7976931348623157e308",
            "123456789012345678901234567890", "18446744073709551616", "-9223372036854775809",
            "9007199254740993", "4.9e-324", "null", "true", "\"113.1\"", "{}", "[]",
        ])
        .prop_map(|t| J::Raw(t.to_string())),
        1 => (300usize..400).prop_map(|n| J::Raw("9".repeat(n))),
    ]
}

/// A position: usually two numbers, sometimes one or three, or a wrong value.
fn position() -> impl Strategy<Value = J> {
    prop_oneof![
        8 => (-0.01f64..0.01, -0.01f64..0.01).prop_map(|(x, y)| {
            J::Arr(vec![J::Raw(format!("{}", 113.1 + x)), J::Raw(format!("{}", 23.0 + y))])
        }),
        3 => prop::collection::vec(number(), 0..4).prop_map(J::Arr),
        1 => number(),
    ]
}

/// A ring or line: random points in a small box (self-intersections are likely), sometimes
/// closed, sometimes with a point repeated.
fn ring() -> impl Strategy<Value = J> {
    (
        prop::collection::vec(position(), 0..14),
        any::<bool>(),
        proptest::option::of((any::<prop::sample::Index>(), 1usize..4)),
    )
        .prop_map(|(mut pts, close, dup)| {
            if let (Some((i, n)), false) = (dup, pts.is_empty()) {
                let p = i.index(pts.len());
                for _ in 0..n {
                    pts.insert(p, pts[p].clone());
                }
            }
            if close && !pts.is_empty() {
                pts.push(pts[0].clone());
            }
            J::Arr(pts)
        })
}

/// Coordinates nested `depth` deep (0: a position).
fn coordinates(depth: usize) -> BoxedStrategy<J> {
    match depth {
        0 => position().boxed(),
        1 => ring().boxed(),
        d => prop::collection::vec(coordinates(d - 1), 0..4)
            .prop_map(J::Arr)
            .boxed(),
    }
}

/// Any `coordinates` member: the right depth for a type, a wrong one, a huge flat array within
/// a bound, or deep nesting around the limit.
fn any_coordinates() -> impl Strategy<Value = J> {
    prop_oneof![
        8 => (0usize..5).prop_flat_map(coordinates),
        1 => (100usize..140).prop_map(J::Deep),
        1 => (1000usize..5000).prop_map(|n| {
            // A large ring: many vertices, all distinct, on a circle.
            let pts = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    J::Arr(vec![
                        J::Raw(format!("{}", 113.1 + 0.01 * a.cos())),
                        J::Raw(format!("{}", 23.0 + 0.01 * a.sin())),
                    ])
                })
                .collect();
            J::Arr(vec![J::Arr(pts)])
        }),
        1 => number(),
        1 => any_json(),
    ]
}

fn geometry_type() -> impl Strategy<Value = J> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
            "GeometryCollection",
        ])
        .prop_map(|t| J::Str(t.into())),
        1 => prop::sample::select(vec!["polygon", "Feature", "", "Circle", "FeatureCollection"])
            .prop_map(|t| J::Str(t.into())),
        1 => number(),
    ]
}

fn geometry() -> impl Strategy<Value = J> {
    let leaf = (
        geometry_type(),
        proptest::option::weighted(0.9, any_coordinates()),
    )
        .prop_map(|(t, c)| obj(vec![("type", Some(t)), ("coordinates", c)]));
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            3 => (geometry_type(), proptest::option::weighted(0.9, any_coordinates()))
                .prop_map(|(t, c)| obj(vec![("type", Some(t)), ("coordinates", c)])),
            1 => prop::collection::vec(inner, 0..4).prop_map(|members| {
                obj(vec![
                    ("type", Some(J::Str("GeometryCollection".into()))),
                    ("geometries", Some(J::Arr(members))),
                ])
            }),
        ]
    })
}

/// Any JSON value, keys drawn from the names the reader looks for.
fn any_json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        number(),
        ".{0,12}".prop_map(J::Str),
        Just(J::Raw("null".into())),
        Just(J::Raw("false".into())),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            prop::collection::vec((key(), inner), 0..5).prop_map(J::Obj),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "type", "id", "code", "name", "level", "admin_level", "parent", "owner", "kind",
            "building", "properties", "geometry", "coordinates", "features", "geometries",
        ])
        .prop_map(String::from),
        1 => ".{0,6}",
    ]
}

fn properties() -> impl Strategy<Value = J> {
    let value = prop_oneof![
        4 => ".{0,10}".prop_map(J::Str),
        2 => prop::sample::select(vec!["6", "8", "9", "10", "street", "grid", "district", "x"])
            .prop_map(|v| J::Str(v.into())),
        2 => number(),
        1 => any_json(),
    ];
    prop_oneof![
        8 => prop::collection::vec((key(), value), 0..6).prop_map(J::Obj),
        1 => any_json(),
        1 => (100usize..140).prop_map(J::Deep),
    ]
}

fn feature() -> impl Strategy<Value = J> {
    (
        prop_oneof![
            8 => Just(Some(J::Str("Feature".into()))),
            1 => Just(None),
            1 => proptest::option::of(any_json()),
        ],
        prop_oneof![
            8 => geometry().prop_map(Some),
            1 => Just(Some(J::Raw("null".into()))),
            1 => Just(None),
            1 => any_json().prop_map(Some),
        ],
        proptest::option::weighted(0.8, properties()),
        proptest::option::weighted(0.3, any_json()),
    )
        .prop_map(|(kind, geometry, props, id)| {
            obj(vec![
                ("type", kind),
                ("id", id),
                ("properties", props),
                ("geometry", geometry),
            ])
        })
}

/// A whole document in one of the shapes the reader tells apart, or something else.
fn document() -> impl Strategy<Value = String> {
    let features = prop::collection::vec(
        prop_oneof![8 => feature(), 1 => geometry(), 1 => any_json()],
        0..6,
    );
    (features, 0u8..7).prop_map(|(features, shape)| match shape {
        0 => obj(vec![
            ("type", Some(J::Str("FeatureCollection".into()))),
            ("features", Some(J::Arr(features))),
        ])
        .text(),
        1 => J::Arr(features).text(),
        2 => features.iter().map(J::text).collect::<Vec<_>>().join("\n"),
        3 => features
            .iter()
            .map(|f| format!("\u{1e}{}\n", f.text()))
            .collect(),
        // Several values, the first spanning lines: a sequence that is not one per line.
        4 => features
            .iter()
            .map(|f| format!("{}\n", f.text().replacen(',', ",\n", 1)))
            .collect(),
        5 => features.first().map(J::text).unwrap_or_default(),
        _ => obj(vec![("features", Some(J::Arr(features)))]).text(),
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            jsonish_bytes(256),
        ],
        target in target(),
        crs in any::<u8>(),
        auto in any::<bool>(),
    ) {
        check(&bytes, &options(target, crs, auto));
    }

    #[test]
    fn generated_documents_import_or_are_refused_cleanly(
        doc in document(),
        target in target(),
        crs in any::<u8>(),
    ) {
        check(doc.as_bytes(), &options(target, crs, true));
    }

    #[test]
    fn arbitrary_json_values_import_or_are_refused_cleanly(
        doc in any_json(),
        target in target(),
    ) {
        check(doc.text().as_bytes(), &options(target, 0, true));
    }
}

// ---------------------------------------------------------------------------------------------
// Mutated fixtures
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(FIXTURES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The features of a large fixture, parsed once, to take small samples from.
fn features_of(name: &'static str) -> &'static [Value] {
    static BUILDINGS: OnceLock<Vec<Value>> = OnceLock::new();
    static ROADS: OnceLock<Vec<Value>> = OnceLock::new();
    static BOUNDARIES: OnceLock<Vec<Value>> = OnceLock::new();
    let cell = match name {
        "buildings.geojson" => &BUILDINGS,
        "roads.geojson" => &ROADS,
        _ => &BOUNDARIES,
    };
    cell.get_or_init(|| {
        let doc: Value = serde_json::from_slice(&fixture(name)).expect("fixture is JSON");
        match doc {
            Value::Array(features) => features,
            Value::Object(mut o) => match o.remove("features") {
                Some(Value::Array(features)) => features,
                _ => panic!("{name}: no features"),
            },
            _ => panic!("{name}: not a collection"),
        }
    })
}

/// A few real features of `name`.
fn sample(name: &'static str, picks: &[prop::sample::Index]) -> Vec<Value> {
    let all = features_of(name);
    picks
        .iter()
        .map(|i| all[i.index(all.len())].clone())
        .collect()
}

/// Features written as a collection, an array or one per line.
fn write(features: &[Value], shape: u8) -> Vec<u8> {
    let texts: Vec<String> = features.iter().map(raw_text).collect();
    let out = match shape % 3 {
        0 => format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            texts.join(",")
        ),
        1 => format!("[{}]", texts.join(",\n")),
        _ => texts.iter().map(|t| format!("{t}\n")).collect(),
    };
    out.into_bytes()
}

/// A string standing for a token JSON cannot hold (without quotes), written in place of the
/// string.
const RAW: &str = "\u{0}raw:";

/// Serialises `v`, writing strings made by [`raw`] as the bare tokens they hold.
fn raw_text(v: &Value) -> String {
    let mut text = serde_json::to_string(v).unwrap_or_default();
    while let Some(start) = text.find(r#""\u0000raw:"#) {
        let token_start = start + r#""\u0000raw:"#.len();
        let Some(len) = text[token_start..].find('"') else {
            break;
        };
        let token = text[token_start..token_start + len].to_string();
        text.replace_range(start..token_start + len + 1, &token);
    }
    text
}

fn raw(token: &str) -> Value {
    Value::String(format!("{RAW}{token}"))
}

/// An edit of a JSON document's structure: the value at a node (by preorder position)
/// replaced, removed from its parent, or repeated in its array.
#[derive(Debug, Clone)]
enum Edit {
    Replace(prop::sample::Index, Value),
    Remove(prop::sample::Index),
    Repeat(prop::sample::Index, usize),
}

/// Values a hostile or broken exporter puts where a coordinate, a type or a property should be.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "NaN", "-Infinity", "1e999", "-1e999", "1e-999", "180.0000001", "-90.5", "-0",
            "123456789012345678901234567890", "18446744073709551616", "null", "true", "[]",
            "{}", "[[]]", "[null,null]", "[1]", "[1,2,3,4]",
        ])
        .prop_map(raw),
        1 => prop::sample::select(vec!["Polygon", "Feature", "GeometryCollection", "", "Point"])
            .prop_map(Value::from),
        2 => (-1000.0f64..1000.0).prop_map(Value::from),
        1 => ".{0,8}".prop_map(Value::String),
        1 => (100usize..140).prop_map(|n| raw(&format!("{}{}", "[".repeat(n), "]".repeat(n)))),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<prop::sample::Index>(), replacement()).prop_map(|(i, v)| Edit::Replace(i, v)),
        2 => any::<prop::sample::Index>().prop_map(Edit::Remove),
        1 => (any::<prop::sample::Index>(), 1usize..4).prop_map(|(i, n)| Edit::Repeat(i, n)),
    ];
    prop::collection::vec(edit, 1..6)
}

/// JSON pointers of every node below the root, in preorder.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    let children: Vec<(String, &Value)> = match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        Value::Object(m) => m.iter().map(|(k, c)| (escape(k), c)).collect(),
        _ => return,
    };
    for (k, c) in children {
        let p = format!("{at}/{k}");
        out.push(p.clone());
        pointers(c, &p, out);
    }
}

fn apply(doc: &mut Value, edits: &[Edit]) {
    for edit in edits {
        let mut all = Vec::new();
        pointers(doc, "", &mut all);
        let (Edit::Replace(i, _) | Edit::Remove(i) | Edit::Repeat(i, _)) = edit;
        if all.is_empty() {
            return;
        }
        let at = &all[i.index(all.len())];
        let (parent, last) = at.rsplit_once('/').unwrap_or(("", at));
        match edit {
            Edit::Replace(_, v) => {
                if let Some(node) = doc.pointer_mut(at) {
                    *node = v.clone();
                }
            }
            Edit::Remove(_) | Edit::Repeat(..) => match doc.pointer_mut(parent) {
                Some(Value::Array(items)) => {
                    let Ok(k) = last.parse::<usize>() else {
                        continue;
                    };
                    if let Edit::Repeat(_, n) = edit {
                        let copy = items[k].clone();
                        for _ in 0..*n {
                            items.insert(k, copy.clone());
                        }
                    } else {
                        items.remove(k);
                    }
                }
                Some(Value::Object(m)) => {
                    let key = last.replace("~1", "/").replace("~0", "~");
                    m.remove(&key);
                }
                _ => {}
            },
        }
    }
}

/// A document's bytes edited either as bytes or as JSON.
#[derive(Debug, Clone)]
enum Change {
    Bytes(Vec<super::Mutation>),
    Json(Vec<Edit>),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        1 => mutations(4).prop_map(Change::Bytes),
        2 => edits().prop_map(Change::Json),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn mutated_pipelines_fixture_never_panics(change in change(), target in target()) {
        static PIPELINES: OnceLock<(Vec<u8>, Value)> = OnceLock::new();
        let (bytes, doc) = PIPELINES.get_or_init(|| {
            let bytes = fixture("pipelines.geojson");
            let doc = serde_json::from_slice(&bytes).expect("fixture is JSON");
            (bytes, doc)
        });
        let edited = match &change {
            Change::Bytes(m) => mutate(bytes, m),
            Change::Json(e) => {
                let mut doc = doc.clone();
                apply(&mut doc, e);
                raw_text(&doc).into_bytes()
            }
        };
        check(&edited, &options(target, 0, true));
    }

    #[test]
    fn mutated_samples_of_the_large_fixtures_never_panic(
        name in prop::sample::select(vec!["buildings.geojson", "roads.geojson", "boundaries.geojson"]),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        shape in any::<u8>(),
        change in change(),
        target in target(),
    ) {
        let mut features = sample(name, &picks);
        let edited = match &change {
            Change::Bytes(m) => mutate(&write(&features, shape), m),
            Change::Json(e) => {
                let mut doc = Value::Array(features);
                apply(&mut doc, e);
                features = match doc {
                    Value::Array(f) => f,
                    other => vec![other],
                };
                write(&features, shape)
            }
        };
        check(&edited, &options(target, 0, true));
    }
}

/// The untouched fixtures import without a rejected feature, so the mutations above start from
/// files that exercise the whole reader.
#[test]
fn the_fixtures_mutated_above_import_cleanly() {
    for (name, target) in [
        ("pipelines.geojson", Target::Layer(AssetLayer::Pipelines)),
        ("boundaries.geojson", Target::Levels(AdminLevels::default())),
    ] {
        let got = read_bytes(
            name,
            &fixture(name),
            &ReadOptions::new(target),
            &mut |_, _| {},
        )
        .expect("fixture imports");
        assert!(got.rejected().next().is_none(), "{name}: {:?}", got.issues);
        assert!(!got.assets.is_empty() || !got.jurisdictions.is_empty());
        assert_valid(&got);
    }
}

// ---------------------------------------------------------------------------------------------
// The geometry cleaner on its own
// ---------------------------------------------------------------------------------------------

/// A coordinate near one point (so rings cross and touch), on it exactly, or anything at all.
fn raw_coord() -> impl Strategy<Value = Coord> {
    prop_oneof![
        8 => (0i32..8, 0i32..8).prop_map(|(x, y)| Coord {
            x: 9.5 + f64::from(x) * 1e-4,
            y: 47.1 + f64::from(y) * 1e-4,
        }),
        4 => (-1e-3f64..1e-3, -1e-3f64..1e-3).prop_map(|(x, y)| Coord { x: 9.5 + x, y: 47.1 + y }),
        1 => (any::<f64>(), any::<f64>()).prop_map(|(x, y)| Coord { x, y }),
        1 => prop::sample::select(vec![180.0, -180.0, 90.0, -90.0, 180.000001, f64::NAN, 0.0])
            .prop_map(|v| Coord { x: v, y: v / 2.0 }),
    ]
}

fn raw_ring() -> impl Strategy<Value = Vec<Coord>> {
    (prop::collection::vec(raw_coord(), 0..16), any::<bool>()).prop_map(|(mut r, close)| {
        if close && !r.is_empty() {
            r.push(r[0]);
        }
        r
    })
}

fn raw_polygon() -> impl Strategy<Value = Vec<Vec<Coord>>> {
    prop::collection::vec(raw_ring(), 0..4)
}

fn raw_geometry() -> impl Strategy<Value = RawGeom> {
    let leaf = prop_oneof![
        1 => raw_coord().prop_map(RawGeom::Point),
        1 => prop::collection::vec(raw_coord(), 0..6).prop_map(RawGeom::MultiPoint),
        1 => raw_ring().prop_map(RawGeom::LineString),
        1 => prop::collection::vec(raw_ring(), 0..4).prop_map(RawGeom::MultiLineString),
        4 => raw_polygon().prop_map(RawGeom::Polygon),
        2 => prop::collection::vec(raw_polygon(), 0..4).prop_map(RawGeom::MultiPolygon),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(RawGeom::Collection)
    })
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn cleaned_geometries_are_in_range(raw in raw_geometry(), gcj in any::<bool>()) {
        let tf = move |x: f64, y: f64| {
            if gcj {
                crate::ingest::crs::to_wgs84(Crs::Gcj02, x, y)
            } else {
                (x, y)
            }
        };
        if let Ok(cleaned) = clean::clean(raw, &tf) {
            let got = crate::ingest::Imported {
                assets: vec![crate::district::Asset {
                    layer: AssetLayer::Pois,
                    id: "x".into(),
                    name: String::new(),
                    kind: String::new(),
                    owner: String::new(),
                    props: serde_json::Map::new().into(),
                    geometry: cleaned.geometry,
                }],
                ..Default::default()
            };
            assert_valid(&got);
        }
    }
}

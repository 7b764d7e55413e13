//! Tests on the fixtures of `tests/fixtures/shapefiles/` (written by pyshp and pyproj, see its
//! `make_fixtures.py`) and on broken copies of them.

use std::path::{Path, PathBuf};

use geo::Geometry;
use serde_json::Value;

use super::*;
use crate::district::{AssetLayer, Level};
use crate::ingest::{detect_format, read_bytes, read_file, Format, Target};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/shapefiles");

fn fixture(stem: &str) -> PathBuf {
    Path::new(DIR).join(format!("{stem}.shp"))
}

fn grid_fields() -> FieldMap {
    FieldMap::parse("code=WGBM,name=WGMC,parent=SQDM").unwrap()
}

fn options(target: Target, fields: FieldMap, crs: Option<CrsChoice>) -> ReadOptions {
    ReadOptions {
        crs,
        fields,
        ..ReadOptions::new(target)
    }
}

fn grids(path: &Path, crs: Option<CrsChoice>) -> Result<Imported, IngestError> {
    read_file(
        path,
        &options(Target::Level(Level::Grid), grid_fields(), crs),
        &mut |_, _| {},
    )
}

/// Copies the files of fixture `stem` into a fresh temp dir; returns the dir and the `.shp`.
fn copy(stem: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let p = entry.unwrap().path();
        if p.file_stem().unwrap().to_str() == Some(stem) {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let shp = dir.path().join(format!("{stem}.shp"));
    (dir, shp)
}

fn sibling(shp: &Path, ext: &str) -> PathBuf {
    shp.with_extension(ext)
}

const NAMES: [&str; 3] = [
    "南浦社区第一网格",
    "南浦社区第二网格",
    "石湾镇街道第一网格（东）",
];

fn check_grids(got: &Imported) {
    assert!(got.issues.is_empty(), "{:?}", got.issues);
    assert_eq!(got.features_read, 3);
    let names: Vec<&str> = got.jurisdictions.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, NAMES);
    let j = &got.jurisdictions[1];
    assert_eq!(j.code, "440604001002");
    assert_eq!(j.parent.as_deref(), Some("440604001"));
    assert_eq!(j.level, Level::Grid);
    assert_eq!(j.geometry.0.len(), 1);
    assert_eq!(j.geometry.0[0].interiors().len(), 1, "the hole is kept");
}

#[test]
fn gbk_with_and_without_cpg_and_utf8_decode_alike() {
    for stem in ["grids_gbk", "grids_gbk_nocpg", "grids_utf8"] {
        let got = grids(&fixture(stem), None).unwrap();
        check_grids(&got);
    }
    assert_eq!(choose_encoding(Some("GBK"), 0, true), encoding_rs::GB18030);
    assert_eq!(
        choose_encoding(Some("cp936"), 0, true),
        encoding_rs::GB18030
    );
    assert_eq!(choose_encoding(Some("65001"), 0, false), encoding_rs::UTF_8);
    assert_eq!(choose_encoding(None, 0x4D, true), encoding_rs::GB18030);
    assert_eq!(choose_encoding(None, 0, true), encoding_rs::UTF_8);
    assert_eq!(choose_encoding(None, 0, false), encoding_rs::GB18030);
}

#[test]
fn default_field_names_find_grid_codes_and_names() {
    let got = read_file(
        &fixture("grids_gbk"),
        &ReadOptions::new(Target::Level(Level::Grid)),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(got.jurisdictions[0].code, "440604001001");
    assert_eq!(got.jurisdictions[0].name, NAMES[0]);
    assert_eq!(got.jurisdictions[0].parent, None);
}

/// Metres between two lon/lat points (local flat approximation, fine at this scale).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 111_320.0;
    let dx = (a.0 - b.0) * k * a.1.to_radians().cos();
    let dy = (a.1 - b.1) * k;
    dx.hypot(dy)
}

fn vertices(g: &geo::MultiPolygon<f64>) -> Vec<(f64, f64)> {
    g.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.coords().map(|c| (c.x, c.y)))
        .collect()
}

#[test]
fn projected_fixtures_land_within_a_centimetre_of_pyproj() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(DIR).join("expected_lonlat.json")).unwrap(),
    )
    .unwrap();
    for stem in ["grids_gk114", "grids_gk38", "grids_webmerc"] {
        let got = grids(&fixture(stem), None).unwrap();
        check_grids(&got);
        let records = expected[stem]["records"].as_array().unwrap();
        for (j, rings) in got.jurisdictions.iter().zip(records) {
            let have = vertices(&j.geometry);
            for v in rings
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap())
            {
                let want = (
                    v["lonlat"][0].as_f64().unwrap(),
                    v["lonlat"][1].as_f64().unwrap(),
                );
                let best = have
                    .iter()
                    .map(|h| metres(*h, want))
                    .fold(f64::INFINITY, f64::min);
                assert!(best < 0.01, "{stem} {}: {want:?} is {best} m off", j.code);
                // The inverse on its own, from pyproj's x/y: sub-millimetre.
                let xy = (v["xy"][0].as_f64().unwrap(), v["xy"][1].as_f64().unwrap());
                let code = expected[stem]["epsg"].as_u64().unwrap() as u32;
                let Some(EpsgCrs::Projected(p)) = projection::epsg(code) else {
                    panic!("{code}")
                };
                assert!(metres(p.inverse(xy.0, xy.1), want) < 0.001, "{stem} {xy:?}");
            }
        }
    }
}

#[test]
fn crs_flag_replaces_or_completes_the_prj() {
    // No .prj: refused, the message says to pass --crs; with --crs it reads.
    let (_dir, shp) = copy("grids_gk114");
    std::fs::remove_file(sibling(&shp, "prj")).unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(matches!(err, IngestError::MissingPrj { .. }), "{err}");
    assert!(err.to_string().contains("--crs"), "{err}");
    check_grids(&grids(&shp, Some(CrsChoice::Epsg(4547))).unwrap());
    // An unknown datum is named, and --crs wgs84 accepts it (keeping the projection).
    let (_dir, shp) = copy("grids_gk114");
    std::fs::write(sibling(&shp, "prj"), prj::tests::BEIJING54_GK).unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(matches!(err, IngestError::UnsupportedPrj { .. }), "{err}");
    assert!(err.to_string().contains("D_Beijing_1954"), "{err}");
    let got = grids(&shp, Some(CrsChoice::Datum(Crs::Wgs84))).unwrap();
    assert_eq!(got.jurisdictions.len(), 3);
    check_grids(&grids(&shp, Some(CrsChoice::Epsg(4547))).unwrap());
    // An unknown projection is named.
    std::fs::write(
        sibling(&shp, "prj"),
        prj::tests::BEIJING54_GK.replace("Gauss_Kruger", "Lambert_Conformal_Conic"),
    )
    .unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(err.to_string().contains("Lambert_Conformal_Conic"), "{err}");
    // GCJ-02 is removed after the projection's inverse.
    let (_dir, shp) = copy("grids_gbk");
    let wgs = grids(&shp, None).unwrap();
    let gcj = grids(&shp, Some(CrsChoice::Datum(Crs::Gcj02))).unwrap();
    let (a, b) = (
        vertices(&wgs.jurisdictions[0].geometry)[0],
        vertices(&gcj.jurisdictions[0].geometry)[0],
    );
    assert!(metres(a, b) > 100.0, "{a:?} {b:?}");
}

#[test]
fn roads_and_pois_become_assets() {
    let fields = FieldMap::parse("id=ID,kind=KIND").unwrap();
    let roads = read_file(
        &fixture("roads"),
        &options(Target::Layer(AssetLayer::Roads), fields.clone(), None),
        &mut |_, _| {},
    )
    .unwrap();
    assert!(roads.issues.is_empty(), "{:?}", roads.issues);
    assert_eq!(roads.assets.len(), 2);
    assert_eq!(roads.assets[0].name, "季华路");
    assert_eq!(roads.assets[0].kind, "primary");
    assert!(matches!(roads.assets[0].geometry, Geometry::LineString(_)));
    assert!(matches!(
        roads.assets[1].geometry,
        Geometry::MultiLineString(_)
    ));
    let mut last = (0, 0);
    let pois = read_file(
        &fixture("pois"),
        &options(Target::Layer(AssetLayer::Pois), fields, None),
        &mut |done, total| last = (done, total),
    )
    .unwrap();
    assert_eq!(last, (3, 3));
    let ids: Vec<&str> = pois.assets.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["POI-1", "POI-2", "POI-3"]);
    assert_eq!(pois.assets[2].name, "南浦社区服务中心");
    // Points are not roads: each rejected by #index and id.
    let wrong = read_file(
        &fixture("pois"),
        &options(
            Target::Layer(AssetLayer::Roads),
            FieldMap::parse("id=ID").unwrap(),
            None,
        ),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(wrong.rejected().count(), 3);
    assert_eq!(wrong.issues[0].feature, "#0 (id POI-1)");
}

#[test]
fn missing_parts_are_named() {
    for (ext, what) in [("shx", "index (.shx)"), ("dbf", "attribute table (.dbf)")] {
        let (_dir, shp) = copy("grids_gbk");
        std::fs::remove_file(sibling(&shp, ext)).unwrap();
        let err = grids(&shp, None).unwrap_err();
        assert!(
            matches!(err, IngestError::ShapefilePartMissing { .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(what) && text.contains(&format!("grids_gbk.{ext}")),
            "{text}"
        );
    }
    // Extensions in another case are found.
    let (_dir, shp) = copy("grids_gbk");
    std::fs::rename(sibling(&shp, "dbf"), sibling(&shp, "DBF")).unwrap();
    check_grids(&grids(&shp, None).unwrap());
}

#[test]
fn truncated_and_disagreeing_files_are_refused() {
    let (_dir, shp) = copy("grids_gbk");
    let bytes = std::fs::read(&shp).unwrap();
    std::fs::write(&shp, &bytes[..bytes.len() - 30]).unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(
        matches!(err, IngestError::TruncatedShp { record: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("record 2"), "{err}");

    let (_dir, shp) = copy("grids_gbk");
    let shx = sibling(&shp, "shx");
    let mut bytes = std::fs::read(&shx).unwrap();
    bytes[111] ^= 4; // record 1's offset
    std::fs::write(&shx, &bytes).unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(
        matches!(err, IngestError::ShxMismatch { record: 1, .. }),
        "{err}"
    );

    let (_dir, shp) = copy("grids_gbk");
    let dbf = sibling(&shp, "dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    bytes[4] = 2; // two records said, three shapes
    std::fs::write(&dbf, &bytes).unwrap();
    let err = grids(&shp, None).unwrap_err();
    assert!(
        matches!(err, IngestError::DbfCountMismatch { dbf: 2, shp: 3, .. }),
        "{err}"
    );
}

#[test]
fn deleted_records_are_skipped() {
    let (_dir, shp) = copy("grids_gbk");
    let dbf = sibling(&shp, "dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let record_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    bytes[header_len + record_len] = b'*';
    std::fs::write(&dbf, &bytes).unwrap();
    let got = grids(&shp, None).unwrap();
    let codes: Vec<&str> = got.jurisdictions.iter().map(|j| j.code.as_str()).collect();
    assert_eq!(codes, ["440604001001", "440604002001"]);
    assert_eq!(got.features_read, 2);
}

#[test]
fn a_mapped_field_the_table_lacks_fails_the_file() {
    let err = read_file(
        &fixture("grids_gbk"),
        &options(
            Target::Level(Level::Grid),
            FieldMap::parse("code=XZQDM,name=wgmc").unwrap(),
            None,
        ),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, IngestError::MissingField { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("code=XZQDM") && text.contains("WGBM, WGMC, SQDM, MJ, YXBZ"),
        "{text}"
    );
    // Case-insensitive match: `wgmc` finds WGMC.
    let got = read_file(
        &fixture("grids_gbk"),
        &options(
            Target::Level(Level::Grid),
            FieldMap::parse("name=wgmc").unwrap(),
            None,
        ),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(got.jurisdictions[0].name, NAMES[0]);
}

#[test]
fn shapefiles_need_a_path_and_are_detected() {
    let bytes = std::fs::read(fixture("grids_gbk")).unwrap();
    assert_eq!(detect_format(&bytes), Some(Format::Shapefile));
    let err = read_bytes(
        "grids.shp",
        &bytes,
        &ReadOptions::new(Target::Level(Level::Grid)),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::ShapefileNeedsPath { .. }),
        "{err}"
    );
    // Detected by content under another extension.
    let (dir, shp) = copy("grids_gbk");
    let renamed = dir.path().join("grids_gbk.bin");
    std::fs::rename(&shp, &renamed).unwrap();
    let err = grids(&renamed, None).unwrap_err();
    assert!(
        matches!(err, IngestError::ShapefilePartMissing { .. }),
        "{err}"
    );
    std::fs::rename(&renamed, &shp).unwrap();
    let opts = ReadOptions {
        format: Format::Shapefile,
        ..options(Target::Level(Level::Grid), grid_fields(), None)
    };
    check_grids(&read_file(&shp.with_extension(""), &opts, &mut |_, _| {}).unwrap());
}

#[test]
fn hostile_bytes_never_panic() {
    let (_dir, shp) = copy("grids_gbk");
    let good = std::fs::read(&shp).unwrap();
    let good_dbf = std::fs::read(sibling(&shp, "dbf")).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..300 {
        let mut shp_bytes = good.clone();
        let mut dbf_bytes = good_dbf.clone();
        for _ in 0..(1 + next() % 8) {
            let target = if round % 2 == 0 {
                &mut shp_bytes
            } else {
                &mut dbf_bytes
            };
            let i = (next() as usize) % target.len();
            target[i] = next() as u8;
        }
        if round % 7 == 0 {
            let cut = (next() as usize) % shp_bytes.len();
            shp_bytes.truncate(cut);
        }
        std::fs::write(&shp, &shp_bytes).unwrap();
        std::fs::write(sibling(&shp, "dbf"), &dbf_bytes).unwrap();
        let _ = grids(&shp, None);
    }
}

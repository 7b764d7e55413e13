//! Shapefiles on hostile input: arbitrary bytes for each of the `.shp`, `.shx`, `.dbf`, `.prj`
//! and `.cpg`, mutations of the fixture shapefiles in `tests/fixtures/shapefiles/`, and
//! generated shapefiles whose record headers, part indices and point counts say anything, read
//! through [`read_file`] from a temp dir as `onegrid import` reads them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::{assert_valid, config, mutate, mutations, Mutation};
use crate::district::{AssetLayer, Level};
use crate::ingest::{read_file, Crs, CrsChoice, FieldMap, ReadOptions, Target};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/shapefiles");

const EXTENSIONS: [&str; 5] = ["shp", "shx", "dbf", "prj", "cpg"];

/// The bytes of a shapefile's files, in the order of [`EXTENSIONS`] (`None`: no such file).
type Files = [Option<Vec<u8>>; 5];

/// The fixtures' stems and their files.
fn fixtures() -> &'static [(String, Files)] {
    static ALL: OnceLock<Vec<(String, Files)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut stems: Vec<String> = std::fs::read_dir(FIXTURES)
            .expect("fixture dir")
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "shp").then(|| p.file_stem()?.to_str().map(String::from))?
            })
            .collect();
        stems.sort();
        stems
            .into_iter()
            .map(|stem| {
                let parts = EXTENSIONS.map(|ext| {
                    std::fs::read(Path::new(FIXTURES).join(format!("{stem}.{ext}"))).ok()
                });
                (stem, parts)
            })
            .collect()
    })
}

/// What a case puts in one of the five files.
#[derive(Debug, Clone)]
enum Part {
    /// The fixture's file as it is (absent if the fixture has none).
    Original,
    /// The fixture's file, edited.
    Mutated(Vec<Mutation>),
    /// Anything at all.
    Bytes(Vec<u8>),
    /// No such file.
    Missing,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        6 => Just(Part::Original),
        3 => mutations(6).prop_map(Part::Mutated),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Part::Bytes),
        1 => Just(Part::Missing),
    ]
}

fn target_and_fields() -> impl Strategy<Value = (Target, FieldMap)> {
    prop_oneof![
        Just((
            Target::Level(Level::Grid),
            FieldMap::parse("code=WGBM,name=WGMC,parent=SQDM").unwrap_or_default()
        )),
        Just((Target::Level(Level::Community), FieldMap::default())),
        prop::sample::select(AssetLayer::ALL.to_vec())
            .prop_map(|l| (Target::Layer(l), FieldMap::default())),
        Just((
            Target::Layer(AssetLayer::Pois),
            FieldMap::parse("id=ID,kind=KIND").unwrap_or_default()
        )),
    ]
}

fn crs() -> impl Strategy<Value = Option<CrsChoice>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(CrsChoice::Datum(Crs::Wgs84))),
        1 => Just(Some(CrsChoice::Datum(Crs::Gcj02))),
        1 => prop::sample::select(vec![4326u32, 4490, 3857, 4547, 4526, 32649, 32760, 1])
            .prop_map(|c| Some(CrsChoice::Epsg(c))),
    ]
}

/// A temp dir per test thread, reused by its cases.
struct Scratch {
    _dir: tempfile::TempDir,
    shp: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        let shp = dir.path().join("case.shp");
        Scratch { _dir: dir, shp }
    }

    /// Writes the five files (`None`: removed) and imports them.
    fn import(&self, files: &Files, options: &ReadOptions) {
        for (ext, content) in EXTENSIONS.iter().zip(files) {
            let path = self.shp.with_extension(ext);
            match content {
                Some(bytes) => std::fs::write(&path, bytes).expect("write"),
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("{}: {e}", path.display()),
                },
            }
        }
        match read_file(&self.shp, options, &mut |_, _| {}) {
            Ok(got) => assert_valid(&got),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

fn options((target, fields): (Target, FieldMap), crs: Option<CrsChoice>) -> ReadOptions {
    ReadOptions {
        crs,
        fields,
        ..ReadOptions::new(target)
    }
}

// ---------------------------------------------------------------------------------------------
// Generated shapefiles
// ---------------------------------------------------------------------------------------------

/// One record's content; its counts and part indices may disagree with what follows.
#[derive(Debug, Clone)]
struct Shape {
    shape_type: i32,
    parts: Vec<i32>,
    points: Vec<(f64, f64)>,
    /// Added to the point count written (a lie when non-zero).
    count_lie: i32,
    /// Bytes after the points (Z or M values, or junk).
    tail: Vec<u8>,
}

fn le_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn le_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

impl Shape {
    fn content(&self) -> Vec<u8> {
        let mut c = Vec::new();
        le_i32(&mut c, self.shape_type);
        let plain = match self.shape_type {
            11 | 21 => 1,
            13 | 23 => 3,
            15 | 25 => 5,
            18 | 28 => 8,
            t => t,
        };
        let count = (self.points.len() as i32).wrapping_add(self.count_lie);
        match plain {
            0 => {}
            1 => {
                let (x, y) = self.points.first().copied().unwrap_or((0.0, 0.0));
                le_f64(&mut c, x);
                le_f64(&mut c, y);
            }
            8 => {
                c.extend_from_slice(&[0; 32]);
                le_i32(&mut c, count);
                for &(x, y) in &self.points {
                    le_f64(&mut c, x);
                    le_f64(&mut c, y);
                }
            }
            _ => {
                c.extend_from_slice(&[0; 32]);
                le_i32(&mut c, self.parts.len() as i32);
                le_i32(&mut c, count);
                for &p in &self.parts {
                    le_i32(&mut c, p);
                }
                for &(x, y) in &self.points {
                    le_f64(&mut c, x);
                    le_f64(&mut c, y);
                }
            }
        }
        c.extend_from_slice(&self.tail);
        c
    }
}

/// A coordinate in the file's CRS: WGS84 near Foshan, Gauss–Krüger metres (CM 114°E), or
/// anything.
fn shp_coord(projected: bool) -> impl Strategy<Value = (f64, f64)> {
    let (cx, cy, d) = if projected {
        (411_000.0, 2_545_000.0, 500.0)
    } else {
        (113.1, 23.0, 0.005)
    };
    prop_oneof![
        8 => (0i32..8, 0i32..8).prop_map(move |(i, j)| (cx + f64::from(i) * d, cy + f64::from(j) * d)),
        1 => (any::<f64>(), any::<f64>()),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, -1e300, 1e-300, 0.0])
            .prop_map(|v| (v, v)),
    ]
}

fn shape(file_type: i32, projected: bool) -> impl Strategy<Value = Shape> {
    (
        prop_oneof![
            8 => Just(file_type),
            1 => prop::sample::select(vec![0, 1, 3, 5, 8, 11, 13, 15, 18, 21, 25, 28, 31, 2, -1]),
        ],
        prop::collection::vec(shp_coord(projected), 0..12),
        prop_oneof![
            6 => Just(None),
            2 => prop::collection::vec(0i32..12, 1..4).prop_map(Some),
            1 => prop::collection::vec(any::<i32>(), 0..4).prop_map(Some),
        ],
        prop_oneof![8 => Just(0i32), 1 => -3i32..3, 1 => any::<i32>()],
        prop_oneof![8 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 0..40)],
    )
        .prop_map(|(shape_type, points, parts, count_lie, tail)| {
            let parts = parts.unwrap_or_else(|| {
                // Well-formed parts: the points split into one to three runs.
                let n = points.len() as i32;
                let mut p = vec![0];
                if n > 8 {
                    p.push(n / 2);
                }
                p
            });
            Shape {
                shape_type,
                parts,
                points,
                count_lie,
                tail,
            }
        })
}

fn be_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// The 100-byte header of a `.shp` or `.shx` of `len` bytes.
fn header(out: &mut Vec<u8>, shape_type: i32, len: usize) {
    be_i32(out, 9994);
    out.extend_from_slice(&[0; 20]);
    be_i32(out, (len / 2) as i32);
    le_i32(out, 1000);
    le_i32(out, shape_type);
    out.extend_from_slice(&[0; 64]);
}

/// `.shp`, `.shx` and a one-field `.dbf` (`NAME`) for the shapes; the record headers'
/// lengths are off by `shift` words for the records `shift` names.
fn write_shapefile(
    file_type: i32,
    shapes: &[Shape],
    shift: Option<(prop::sample::Index, i32)>,
) -> [Vec<u8>; 3] {
    let contents: Vec<Vec<u8>> = shapes.iter().map(Shape::content).collect();
    let mut records = Vec::new();
    let mut index = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let offset = 100 + records.len();
        let mut words = (c.len() / 2) as i32;
        if let Some((which, by)) = shift {
            if which.index(contents.len()) == i {
                words = words.wrapping_add(by);
            }
        }
        be_i32(&mut records, i as i32 + 1);
        be_i32(&mut records, words);
        records.extend_from_slice(c);
        be_i32(&mut index, (offset / 2) as i32);
        be_i32(&mut index, words);
    }
    let mut shp = Vec::new();
    header(&mut shp, file_type, 100 + records.len());
    shp.extend(records);
    let mut shx = Vec::new();
    header(&mut shx, file_type, 100 + index.len());
    shx.extend(index);

    let mut dbf = vec![0u8; 32];
    dbf[0] = 3;
    dbf[4..8].copy_from_slice(&(shapes.len() as u32).to_le_bytes());
    dbf[8..10].copy_from_slice(&65u16.to_le_bytes());
    dbf[10..12].copy_from_slice(&11u16.to_le_bytes());
    let mut field = [0u8; 32];
    field[..4].copy_from_slice(b"NAME");
    field[11] = b'C';
    field[16] = 10;
    dbf.extend_from_slice(&field);
    dbf.push(0x0D);
    for i in 0..shapes.len() {
        dbf.push(b' ');
        dbf.extend_from_slice(format!("{:<10}", format!("s{i}")).as_bytes());
    }
    dbf.push(0x1A);
    [shp, shx, dbf]
}

fn prj(projected: bool) -> Vec<u8> {
    let stem = if projected { "grids_gk114" } else { "pois" };
    std::fs::read(Path::new(FIXTURES).join(format!("{stem}.prj"))).expect("fixture .prj")
}

fn generated() -> impl Strategy<Value = ([Vec<u8>; 3], bool)> {
    (
        prop::sample::select(vec![1, 3, 5, 8, 15, 23]),
        any::<bool>(),
        proptest::option::weighted(0.2, (any::<prop::sample::Index>(), -4i32..4)),
    )
        .prop_flat_map(|(file_type, projected, shift)| {
            prop::collection::vec(shape(file_type, projected), 0..6)
                .prop_map(move |shapes| (write_shapefile(file_type, &shapes, shift), projected))
        })
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn mutated_and_arbitrary_fixture_files_never_panic(
        fixture in any::<prop::sample::Index>(),
        parts in prop::array::uniform5(part()),
        target in target_and_fields(),
        crs in crs(),
    ) {
        thread_local!(static SCRATCH: Scratch = Scratch::new());
        let all = fixtures();
        let (_, originals) = &all[fixture.index(all.len())];
        let mut files: Files = Default::default();
        for (i, p) in parts.iter().enumerate() {
            files[i] = match p {
                Part::Original => originals[i].clone(),
                Part::Mutated(edits) => originals[i].as_ref().map(|b| mutate(b, edits)),
                Part::Bytes(b) => Some(b.clone()),
                Part::Missing => None,
            };
        }
        SCRATCH.with(|s| s.import(&files, &options(target, crs)));
    }

    #[test]
    fn generated_shapefiles_never_panic(
        (files, projected) in generated(),
        target in target_and_fields(),
        crs in crs(),
    ) {
        thread_local!(static SCRATCH: Scratch = Scratch::new());
        let [shp, shx, dbf] = files;
        let cpg = b"UTF-8".to_vec();
        let files = [Some(shp), Some(shx), Some(dbf), Some(prj(projected)), Some(cpg)];
        SCRATCH.with(|s| s.import(&files, &options(target, crs)));
    }
}

#[test]
fn a_generated_shapefile_reads_as_written() {
    let square = |x0: f64| Shape {
        shape_type: 5,
        parts: vec![0],
        // Clockwise: an outer ring.
        points: vec![
            (x0, 23.0),
            (x0, 23.001),
            (x0 + 0.001, 23.001),
            (x0 + 0.001, 23.0),
            (x0, 23.0),
        ],
        count_lie: 0,
        tail: vec![],
    };
    let [shp, shx, dbf] = write_shapefile(5, &[square(113.1), square(113.2)], None);
    let scratch = Scratch::new();
    let files = [Some(shp), Some(shx), Some(dbf), Some(prj(false)), None];
    scratch.import(
        &files,
        &ReadOptions::new(Target::Layer(AssetLayer::Buildings)),
    );
    let got = read_file(
        &scratch.shp,
        &ReadOptions::new(Target::Layer(AssetLayer::Buildings)),
        &mut |_, _| {},
    )
    .expect("reads");
    assert_eq!(got.assets.len(), 2, "{:?}", got.issues);
    assert_eq!(got.assets[1].name, "s1");
}

//! Property tests of the importers on hostile input: arbitrary bytes, structurally generated
//! documents and mutated copies of real files go through the same entry points `onegrid import`
//! uses ([`read_bytes`](super::read_bytes), [`read_file`](super::read_file)). Whatever comes in,
//! a reader returns `Ok` with its issue list or a clean [`IngestError`](super::IngestError),
//! never panics, and every feature it accepts has finite WGS84 coordinates within ±180/±90.
//!
//! The number of cases per property is chosen so that all of them together run in well under a
//! minute in a debug build; `PROPTEST_CASES` raises it for a longer run.

mod geojson_input;
mod osm_input;
mod pbf_writer;
mod shapefile_input;

use std::cell::RefCell;
use std::sync::Once;

use geo::CoordsIter;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::Imported;

/// A proptest configuration with `cases` cases (or `PROPTEST_CASES`), no failure files written
/// into the source tree and a bounded shrink.
pub(crate) fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Asserts every accepted asset and jurisdiction has finite, in-range lon/lat coordinates and
/// at least one of them.
pub(crate) fn assert_valid(got: &Imported) {
    let check = |what: &str, coords: &mut dyn Iterator<Item = geo::Coord>| {
        let mut any = false;
        for c in coords {
            any = true;
            assert!(
                c.x.is_finite() && c.y.is_finite(),
                "{what}: non-finite coordinate {c:?}"
            );
            assert!(
                (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y),
                "{what}: coordinate {c:?} out of range"
            );
        }
        assert!(any, "{what}: accepted without any coordinate");
    };
    for a in &got.assets {
        check(&format!("asset {}", a.id), &mut a.geometry.coords_iter());
    }
    for j in &got.jurisdictions {
        check(
            &format!("jurisdiction {}", j.code),
            &mut j.geometry.coords_iter(),
        );
    }
}

thread_local! {
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Where `f` panicked on this thread (`file:line`), including panics it caught itself. The
/// recording hook is installed once and passes every panic on to the hook before it.
pub(crate) fn panics_in<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let place = info.location().map_or_else(
                || "unknown".to_string(),
                |l| format!("{}:{}", l.file(), l.line()),
            );
            PANICS.with(|p| p.borrow_mut().push(place));
            previous(info);
        }));
    });
    let before = PANICS.with(|p| p.borrow().len());
    let out = f();
    let raised = PANICS.with(|p| p.borrow_mut().split_off(before));
    (out, raised)
}

/// A position in a buffer of any length, as a fraction of it (`usize::MAX` is the end).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Index(pub usize);

impl Index {
    /// The position in a buffer of `size` bytes: `0..size` (0 when `size` is 0).
    pub fn index(self, size: usize) -> usize {
        ((size as u128 * self.0 as u128) >> usize::BITS) as usize
    }
}

impl Arbitrary for Index {
    type Parameters = ();
    type Strategy = prop::strategy::Map<std::ops::RangeInclusive<usize>, fn(usize) -> Index>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        (0..=usize::MAX).prop_map(Index)
    }
}

/// One edit of a byte buffer. Positions are [`Index`]es, so a mutation applies to any length.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Overwrite one byte.
    Set(Index, u8),
    /// Cut the buffer at a position.
    Truncate(Index),
    /// Remove up to `len` bytes at a position.
    Delete(Index, usize),
    /// Insert bytes at a position.
    Insert(Index, Vec<u8>),
    /// Copy up to `len` bytes from one position to another (inserted, not overwritten).
    Splice { from: Index, len: usize, to: Index },
    /// Overwrite four bytes with a big- or little-endian `u32`, as a corrupted length field.
    Length {
        at: Index,
        value: u32,
        big_endian: bool,
    },
}

/// Lengths a corrupted length field is likely to hold: boundaries and random values.
pub(crate) fn length_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(u32::MAX),
        Just(0xffff),
        Just(0x1_0000),
        0u32..4096,
        any::<u32>(),
    ]
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..256, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
        2 => (any::<Index>(), length_value(), any::<bool>()).prop_map(|(at, value, big_endian)| {
            Mutation::Length {
                at,
                value,
                big_endian,
            }
        }),
    ]
}

pub(crate) fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..=max)
}

/// Applies `edits` in order to a copy of `bytes`.
pub(crate) fn mutate(bytes: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for edit in edits {
        // Positions within the buffer (`at`) or at its end too (`cut`).
        let at = |i: &Index, b: &[u8]| i.index(b.len());
        let cut = |i: &Index, b: &[u8]| i.index(b.len() + 1);
        match edit {
            Mutation::Flip(i, mask) if !b.is_empty() => {
                let p = at(i, &b);
                b[p] ^= mask;
            }
            Mutation::Set(i, v) if !b.is_empty() => {
                let p = at(i, &b);
                b[p] = *v;
            }
            Mutation::Truncate(i) => {
                let p = cut(i, &b);
                b.truncate(p);
            }
            Mutation::Delete(i, n) => {
                let p = cut(i, &b);
                let end = (p + n).min(b.len());
                b.drain(p..end);
            }
            Mutation::Insert(i, bytes) => {
                let p = cut(i, &b);
                b.splice(p..p, bytes.iter().copied());
            }
            Mutation::Splice { from, len, to } if !b.is_empty() => {
                let f = at(from, &b);
                let piece: Vec<u8> = b[f..(f + len).min(b.len())].to_vec();
                let t = cut(to, &b);
                b.splice(t..t, piece);
            }
            Mutation::Length {
                at: i,
                value,
                big_endian,
            } if b.len() >= 4 => {
                let p = i.index(b.len() - 3);
                let v = if *big_endian {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                b[p..p + 4].copy_from_slice(&v);
            }
            _ => {}
        }
    }
    b
}

/// Bytes that are mostly JSON punctuation, digits and keywords, so arbitrary input reaches past
/// the first character of the parser more often than uniform bytes do.
pub(crate) fn jsonish_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(&b"{}[],:\"0123456789.-+eE \n"[..]).prop_map(|b| vec![b]),
        2 => prop::sample::select(vec![
            "\"type\"", "\"Feature\"", "\"FeatureCollection\"", "\"features\"", "\"geometry\"",
            "\"coordinates\"", "\"properties\"", "\"Polygon\"", "\"Point\"", "\"LineString\"",
            "\"MultiPolygon\"", "\"GeometryCollection\"", "\"geometries\"", "\"id\"", "null",
            "true", "NaN", "-Infinity", "Infinity", "1e999", "\\u0000", "\u{1e}", "\u{feff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|pieces| pieces.concat())
}

#[test]
fn mutations_stay_within_the_buffer() {
    let edits = [
        Mutation::Truncate(Index(0)),
        Mutation::Flip(Index(3), 1),
        Mutation::Splice {
            from: Index(0),
            len: 10,
            to: Index(0),
        },
        Mutation::Length {
            at: Index(0),
            value: 7,
            big_endian: true,
        },
    ];
    assert!(mutate(b"abcdef", &edits).is_empty());
    let got = mutate(
        b"abcdef",
        &[Mutation::Length {
            at: Index(usize::MAX),
            value: 0x0102_0304,
            big_endian: true,
        }],
    );
    assert_eq!(got, b"ab\x01\x02\x03\x04");
}

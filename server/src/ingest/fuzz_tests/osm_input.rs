//! OSM PBF on hostile input: arbitrary bytes, generated files (any ids, coordinates, tags,
//! member types and string indices, see [`pbf_writer`]) and mutations — byte flips, truncations,
//! corrupted length fields, blobs spliced — of a generated district and of the first blobs of
//! the Liechtenstein extract, through [`read_bytes`]. The reader must return an import or a
//! clean error; no panic may happen on the way except inside the PBF decoder, which the reader
//! contains and reports as a corrupt file. A length read from the file must not drive an
//! allocation beyond what the file holds: every case finishes quickly.

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::pbf_writer::{self, Block, Member, Node, Relation, Way};
use super::{assert_valid, config, length_value, mutate, mutations, panics_in};
use crate::district::AssetLayer;
use crate::ingest::{read_bytes, AdminLevels, Format, IngestError, ReadOptions, Target};

/// The extract the other OSM tests read; only its first blobs are used here.
const LIECHTENSTEIN: &str = crate::ingest::osm::tests::LIECHTENSTEIN;

/// Longer than any case should take: an allocation or a loop sized by a corrupted length would.
const CASE_LIMIT: Duration = Duration::from_secs(10);

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        2 => Just(Target::All(AdminLevels::default())),
        1 => Just(Target::Levels(AdminLevels::default())),
        2 => prop::sample::select(AssetLayer::ALL.to_vec()).prop_map(Target::Layer),
    ]
}

/// Reads `bytes` as OSM; asserts no panic happened (even one the reader caught), the case was
/// quick, and whatever was accepted is valid.
fn check(bytes: &[u8], target: Target) -> Result<crate::ingest::Imported, IngestError> {
    let options = ReadOptions {
        format: Format::OsmPbf,
        ..ReadOptions::new(target)
    };
    let start = Instant::now();
    let (got, panics) = panics_in(|| read_bytes("fuzz.osm.pbf", bytes, &options, &mut |_, _| {}));
    // The PBF decoder (osmpbf, and protobuf under it) panics on some malformed blocks: a relation
    // member type it does not know, and in debug builds coordinates or deltas that overflow an
    // i64. The reader contains those and calls the file corrupt. A panic anywhere else, in the
    // reader's own code included, is a defect.
    for place in &panics {
        assert!(
            place.contains("/osmpbf-") || place.contains("/protobuf-"),
            "the reader panicked at {place} ({got:?})"
        );
        assert!(
            matches!(&got, Err(IngestError::CorruptPbf { reason, .. }) if reason.contains("decoder failed")),
            "a decoder panic at {place} was not reported as a corrupt file: {got:?}"
        );
    }
    assert!(start.elapsed() < CASE_LIMIT, "took {:?}", start.elapsed());
    match &got {
        Ok(imported) => assert_valid(imported),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    got
}

// ---------------------------------------------------------------------------------------------
// Generated files
// ---------------------------------------------------------------------------------------------

fn osm_tags() -> impl Strategy<Value = Vec<(String, String)>> {
    let pair = prop_oneof![
        prop::sample::select(vec![
            ("building", "yes"),
            ("building", "no"),
            ("highway", "residential"),
            ("highway", "bus_stop"),
            ("power", "line"),
            ("man_made", "pipeline"),
            ("substance", "gas"),
            ("waterway", "drain"),
            ("amenity", "school"),
            ("emergency", "yes"),
            ("emergency", "fire_hydrant"),
            ("public_transport", "platform"),
            ("type", "multipolygon"),
            ("type", "boundary"),
            ("boundary", "administrative"),
            ("admin_level", "6"),
            ("admin_level", "8"),
            ("admin_level", "10"),
            ("admin_level", "300"),
            ("name", "Vaduz"),
            ("name", ""),
            ("name:zh", "瓦杜兹"),
        ])
        .prop_map(|(k, v)| (k.to_string(), v.to_string())),
        (".{0,4}", ".{0,4}"),
    ];
    prop::collection::vec(pair, 0..5)
}

/// Coordinates in granularity units: mostly near Vaduz, sometimes anywhere an `i64` goes.
fn coordinate(center: i64) -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => (-20_000i64..20_000).prop_map(move |d| center + d * 100),
        1 => -1_800_000_000i64..1_800_000_000,
        1 => any::<i64>(),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
    ]
}

fn node_id() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 1i64..40, 1 => any::<i64>()]
}

fn node() -> impl Strategy<Value = Node> {
    (
        node_id(),
        coordinate(471_000_000),
        coordinate(95_000_000),
        osm_tags(),
    )
        .prop_map(|(id, lat, lon, tags)| Node { id, lat, lon, tags })
}

fn way() -> impl Strategy<Value = Way> {
    (
        prop_oneof![8 => 100i64..120, 1 => any::<i64>()],
        prop::collection::vec(node_id(), 0..10),
        any::<bool>(),
        osm_tags(),
    )
        .prop_map(|(id, mut refs, close, tags)| {
            if close && !refs.is_empty() {
                refs.push(refs[0]);
            }
            Way { id, refs, tags }
        })
}

fn relation() -> impl Strategy<Value = Relation> {
    let member = (
        prop_oneof![8 => Just(1u32), 1 => Just(0), 1 => Just(2), 1 => 3u32..1000],
        prop_oneof![8 => 100i64..120, 1 => any::<i64>()],
        prop::sample::select(vec!["outer", "inner", "", "exclave", "enclave", "subarea"]),
    )
        .prop_map(|(kind, id, role)| Member {
            kind,
            id,
            role: role.into(),
        });
    (
        prop_oneof![8 => 1000i64..1010, 1 => any::<i64>()],
        prop::collection::vec(member, 0..8),
        osm_tags(),
    )
        .prop_map(|(id, members, tags)| Relation { id, members, tags })
}

fn block() -> impl Strategy<Value = Block> {
    (
        proptest::option::weighted(0.2, any::<i32>()),
        proptest::option::weighted(0.2, any::<i64>()),
        proptest::option::weighted(0.2, any::<i64>()),
        any::<bool>(),
        prop::collection::vec(node(), 0..24),
        prop::collection::vec(way(), 0..8),
        prop::collection::vec(relation(), 0..4),
        proptest::option::weighted(0.1, any::<u32>()),
    )
        .prop_map(
            |(granularity, lat_offset, lon_offset, dense, nodes, ways, relations, stray)| Block {
                granularity,
                lat_offset,
                lon_offset,
                dense,
                nodes,
                ways,
                relations,
                stray_string_index: stray,
            },
        )
}

/// The generated district with its valid content plus random extras.
fn district_block() -> impl Strategy<Value = Block> {
    (
        prop::collection::vec(node(), 0..6),
        prop::collection::vec(way(), 0..3),
        prop::collection::vec(relation(), 0..2),
        any::<bool>(),
    )
        .prop_map(|(nodes, ways, relations, dense)| {
            let mut b = pbf_writer::small_district();
            b.nodes.extend(nodes);
            b.ways.extend(ways);
            b.relations.extend(relations);
            b.dense = dense;
            b
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            // A plausible first blob header followed by anything.
            prop::collection::vec(any::<u8>(), 0..512).prop_map(|tail| {
                let mut b = vec![0, 0, 0, 13, 0x0a, 9];
                b.extend_from_slice(b"OSMHeader");
                b.extend(tail);
                b
            }),
        ],
        target in target(),
    ) {
        let _ = check(&bytes, target);
    }

    #[test]
    fn generated_files_never_panic(
        blocks in prop::collection::vec(block(), 1..4),
        target in target(),
    ) {
        let (bytes, _) = pbf_writer::file(&blocks);
        let _ = check(&bytes, target);
    }

    #[test]
    fn generated_districts_keep_their_valid_features(
        block in district_block(),
        target in target(),
    ) {
        let (bytes, _) = pbf_writer::file(&[block]);
        let _ = check(&bytes, target);
    }

    #[test]
    fn mutated_generated_files_never_panic(
        edits in mutations(6),
        corrupt_length in proptest::option::of((any::<prop::sample::Index>(), length_value())),
        target in target(),
    ) {
        static FILE: OnceLock<(Vec<u8>, Vec<usize>)> = OnceLock::new();
        let (original, starts) =
            FILE.get_or_init(|| pbf_writer::file(&[pbf_writer::small_district()]));
        let mut bytes = mutate(original, &edits);
        // A blob's header length field, corrupted where it is (if the edits left it there).
        if let Some((which, value)) = corrupt_length {
            let at = starts[which.index(starts.len())];
            if bytes.len() >= at + 4 {
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        let _ = check(&bytes, target);
    }
}

#[test]
fn the_generated_district_imports_completely() {
    let (bytes, _) = pbf_writer::file(&[pbf_writer::small_district()]);
    let got = check(&bytes, Target::All(AdminLevels::default())).expect("imports");
    assert!(got.issues.is_empty(), "{:?}", got.issues);
    let mut ids: Vec<&str> = got.assets.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["N20", "N21", "W102", "W103", "W104"]);
    assert_eq!(got.jurisdictions.len(), 1);
    assert_eq!(got.jurisdictions[0].code, "R1000");
}

/// Every blob's header length set to sizes a corrupted file may claim: each is refused at once,
/// never taken as a size to allocate.
#[test]
fn corrupted_blob_lengths_are_refused_quickly() {
    let (original, starts) = pbf_writer::file(&[pbf_writer::small_district()]);
    for &at in &starts {
        for value in [
            0,
            1,
            2,
            0xffff,
            0x1_0000,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX,
        ] {
            let mut bytes = original.clone();
            bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            let got = check(&bytes, Target::All(AdminLevels::default()));
            assert!(got.is_err(), "blob at {at} claiming {value} bytes: {got:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real extract
// ---------------------------------------------------------------------------------------------

/// Where each blob of the extract starts; `None` (with the reason printed) when it is missing.
fn extract() -> Option<&'static (Vec<u8>, Vec<usize>)> {
    static EXTRACT: OnceLock<Option<(Vec<u8>, Vec<usize>)>> = OnceLock::new();
    EXTRACT
        .get_or_init(|| {
            let bytes = match std::fs::read(LIECHTENSTEIN) {
                Ok(b) => b,
                Err(e) => {
                    println!("skipping the extract's mutations: {LIECHTENSTEIN}: {e}");
                    return None;
                }
            };
            let mut starts = Vec::new();
            let mut reader =
                osmpbf::BlobReader::new_seekable(Cursor::new(&bytes[..])).expect("seekable");
            while let Some(Ok((_, offset))) = reader.next_header_skip_blob() {
                starts.push(offset.map_or(0, |o| o.0 as usize));
            }
            Some((bytes, starts))
        })
        .as_ref()
}

/// The extract's header blob followed by `blobs` of its data blobs (by position), whole.
fn spliced(bytes: &[u8], starts: &[usize], blobs: &[prop::sample::Index]) -> Vec<u8> {
    let end_of = |i: usize| starts.get(i + 1).copied().unwrap_or(bytes.len());
    let mut out = bytes[..end_of(0)].to_vec();
    for b in blobs {
        let i = 1 + b.index(starts.len() - 1);
        out.extend_from_slice(&bytes[starts[i]..end_of(i)]);
    }
    out
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn mutated_blobs_of_the_extract_never_panic(
        blobs in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
        edits in mutations(4),
        target in target(),
    ) {
        let Some((bytes, starts)) = extract() else {
            return Ok(());
        };
        let file = spliced(bytes, starts, &blobs);
        let _ = check(&mutate(&file, &edits), target);
    }
}

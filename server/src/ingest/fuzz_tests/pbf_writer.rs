//! A small OSM PBF writer for the tests: nodes (plain or dense), ways and relations in
//! uncompressed blobs, with every field the reader looks at under the caller's control, so that
//! generated files can hold what a corrupted or hostile file would (overflowing coordinates,
//! unknown member types, out-of-range string indices).
//!
//! It writes the protobuf encoding by hand: varints, zigzag for `sint64`, length-delimited
//! messages and packed repeated fields.

/// A node: coordinates in units of the block's granularity (100 nanodegrees by default).
#[derive(Debug, Clone)]
pub struct Node {
    pub id: i64,
    pub lat: i64,
    pub lon: i64,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Way {
    pub id: i64,
    pub refs: Vec<i64>,
    pub tags: Vec<(String, String)>,
}

/// A relation member: its type as written (0 node, 1 way, 2 relation; anything else is
/// invalid), id and role.
#[derive(Debug, Clone)]
pub struct Member {
    pub kind: u32,
    pub id: i64,
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub id: i64,
    pub members: Vec<Member>,
    pub tags: Vec<(String, String)>,
}

/// One data blob.
#[derive(Debug, Clone, Default)]
pub struct Block {
    pub granularity: Option<i32>,
    pub lat_offset: Option<i64>,
    pub lon_offset: Option<i64>,
    /// Nodes as a `DenseNodes` group rather than plain `Node` messages.
    pub dense: bool,
    pub nodes: Vec<Node>,
    pub ways: Vec<Way>,
    pub relations: Vec<Relation>,
    /// String indices added to every tag list, pointing past the string table when large.
    pub stray_string_index: Option<u32>,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(out, field, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn packed(out: &mut Vec<u8>, field: u32, values: impl IntoIterator<Item = u64>) {
    let mut buf = Vec::new();
    for v in values {
        varint(&mut buf, v);
    }
    bytes(out, field, &buf);
}

/// Delta-coded `sint64`s.
fn packed_delta(out: &mut Vec<u8>, field: u32, values: impl IntoIterator<Item = i64>) {
    let mut last = 0i64;
    packed(
        out,
        field,
        values.into_iter().map(|v| {
            let d = v.wrapping_sub(last);
            last = v;
            zigzag(d)
        }),
    );
}

/// The string table being built; index 0 is the empty string, as writers do.
struct Strings(Vec<String>);

impl Strings {
    fn id(&mut self, s: &str) -> u64 {
        match self.0.iter().position(|t| t == s) {
            Some(i) => i as u64,
            None => {
                self.0.push(s.to_string());
                self.0.len() as u64 - 1
            }
        }
    }
}

fn tag_ids(strings: &mut Strings, tags: &[(String, String)], stray: Option<u32>) -> Vec<u64> {
    let mut ids: Vec<u64> = tags
        .iter()
        .flat_map(|(k, v)| [strings.id(k), strings.id(v)])
        .collect();
    if let Some(s) = stray {
        ids.extend([u64::from(s), u64::from(s)]);
    }
    ids
}

fn keys_vals(out: &mut Vec<u8>, ids: &[u64]) {
    packed(out, 2, ids.iter().step_by(2).copied());
    packed(out, 3, ids.iter().skip(1).step_by(2).copied());
}

fn primitive_block(block: &Block) -> Vec<u8> {
    let mut strings = Strings(vec![String::new()]);
    let stray = block.stray_string_index;
    let mut group = Vec::new();
    if block.dense && !block.nodes.is_empty() {
        let mut dense = Vec::new();
        packed_delta(&mut dense, 1, block.nodes.iter().map(|n| n.id));
        packed_delta(&mut dense, 8, block.nodes.iter().map(|n| n.lat));
        packed_delta(&mut dense, 9, block.nodes.iter().map(|n| n.lon));
        let mut kv = Vec::new();
        for n in &block.nodes {
            kv.extend(tag_ids(&mut strings, &n.tags, stray));
            kv.push(0);
        }
        packed(&mut dense, 10, kv);
        bytes(&mut group, 2, &dense);
    } else {
        for n in &block.nodes {
            let mut m = Vec::new();
            uint(&mut m, 1, zigzag(n.id));
            keys_vals(&mut m, &tag_ids(&mut strings, &n.tags, stray));
            uint(&mut m, 8, zigzag(n.lat));
            uint(&mut m, 9, zigzag(n.lon));
            bytes(&mut group, 1, &m);
        }
    }
    for w in &block.ways {
        let mut m = Vec::new();
        uint(&mut m, 1, w.id as u64);
        keys_vals(&mut m, &tag_ids(&mut strings, &w.tags, stray));
        packed_delta(&mut m, 8, w.refs.iter().copied());
        bytes(&mut group, 3, &m);
    }
    for r in &block.relations {
        let mut m = Vec::new();
        uint(&mut m, 1, r.id as u64);
        keys_vals(&mut m, &tag_ids(&mut strings, &r.tags, stray));
        let roles: Vec<u64> = r.members.iter().map(|x| strings.id(&x.role)).collect();
        packed(&mut m, 8, roles);
        packed_delta(&mut m, 9, r.members.iter().map(|x| x.id));
        packed(&mut m, 10, r.members.iter().map(|x| u64::from(x.kind)));
        bytes(&mut group, 4, &m);
    }
    let mut table = Vec::new();
    for s in &strings.0 {
        bytes(&mut table, 1, s.as_bytes());
    }
    let mut out = Vec::new();
    bytes(&mut out, 1, &table);
    bytes(&mut out, 2, &group);
    if let Some(g) = block.granularity {
        uint(&mut out, 17, i64::from(g) as u64);
    }
    if let Some(o) = block.lat_offset {
        uint(&mut out, 19, o as u64);
    }
    if let Some(o) = block.lon_offset {
        uint(&mut out, 20, o as u64);
    }
    out
}

fn header_block() -> Vec<u8> {
    let mut out = Vec::new();
    bytes(&mut out, 4, b"OsmSchema-V0.6");
    bytes(&mut out, 4, b"DenseNodes");
    bytes(&mut out, 16, b"onegrid tests");
    out
}

/// Appends one blob (length, `BlobHeader`, raw `Blob`) of type `kind`; returns where it starts.
fn blob(out: &mut Vec<u8>, kind: &str, message: &[u8]) -> usize {
    let start = out.len();
    let mut blob = Vec::new();
    bytes(&mut blob, 1, message);
    uint(&mut blob, 2, message.len() as u64);
    let mut header = Vec::new();
    bytes(&mut header, 1, kind.as_bytes());
    uint(&mut header, 3, blob.len() as u64);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&blob);
    start
}

/// A file: the OSM header blob, then one data blob per block. Also returns where each blob
/// starts (its 4-byte header length), for tests that corrupt length fields.
pub fn file(blocks: &[Block]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut starts = vec![blob(&mut out, "OSMHeader", &header_block())];
    for b in blocks {
        starts.push(blob(&mut out, "OSMData", &primitive_block(b)));
    }
    (out, starts)
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A small, valid district: a square boundary relation of two ways, a building inside it, a
/// road, a power line and two POIs, in one block of dense nodes. Coordinates near Vaduz.
pub fn small_district() -> Block {
    // (id, lat, lon) in 1e-7 degrees.
    let corners = [
        (1, 471_000_000, 95_000_000),
        (2, 471_000_000, 95_200_000),
        (3, 471_200_000, 95_200_000),
        (4, 471_200_000, 95_000_000),
    ];
    let mut nodes: Vec<Node> = corners
        .iter()
        .map(|&(id, lat, lon)| Node {
            id,
            lat,
            lon,
            tags: vec![],
        })
        .collect();
    for (i, (lat, lon)) in [
        (471_050_000, 95_050_000),
        (471_050_000, 95_060_000),
        (471_060_000, 95_060_000),
        (471_060_000, 95_050_000),
        (471_080_000, 95_010_000),
        (471_090_000, 95_190_000),
    ]
    .into_iter()
    .enumerate()
    {
        nodes.push(Node {
            id: 10 + i as i64,
            lat,
            lon,
            tags: vec![],
        });
    }
    nodes.push(Node {
        id: 20,
        lat: 471_100_000,
        lon: 95_100_000,
        tags: tags(&[("amenity", "school"), ("name", "Schule")]),
    });
    nodes.push(Node {
        id: 21,
        lat: 471_110_000,
        lon: 95_110_000,
        tags: tags(&[("emergency", "fire_hydrant")]),
    });
    let ways = vec![
        Way {
            id: 100,
            refs: vec![1, 2, 3],
            tags: vec![],
        },
        Way {
            id: 101,
            refs: vec![3, 4, 1],
            tags: vec![],
        },
        Way {
            id: 102,
            refs: vec![10, 11, 12, 13, 10],
            tags: tags(&[("building", "yes"), ("name", "Haus")]),
        },
        Way {
            id: 103,
            refs: vec![14, 15],
            tags: tags(&[("highway", "residential"), ("name", "Strasse")]),
        },
        Way {
            id: 104,
            refs: vec![14, 12, 15],
            tags: tags(&[("power", "line")]),
        },
    ];
    let relations = vec![Relation {
        id: 1000,
        members: vec![
            Member {
                kind: 1,
                id: 100,
                role: "outer".into(),
            },
            Member {
                kind: 1,
                id: 101,
                role: "outer".into(),
            },
        ],
        tags: tags(&[
            ("type", "boundary"),
            ("boundary", "administrative"),
            ("admin_level", "8"),
            ("name", "Vaduz"),
        ]),
    }];
    Block {
        dense: true,
        nodes,
        ways,
        relations,
        ..Block::default()
    }
}

//! A small Mapbox Vector Tile 2.1 encoder: protobuf written by hand (varints, zigzag, packed
//! fields), one [`LayerBuilder`] per layer with deduplicated key and value tables, geometry as
//! MoveTo / LineTo / ClosePath commands relative to a cursor that starts at (0, 0) per feature.
//!
//! The encoder trusts its input: rings must already be open (no repeated closing vertex), wound
//! per the spec (exterior positive area in tile coordinates, y down; interior negative) and free
//! of repeated consecutive vertices. `clip` produces exactly that.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Tile coordinates per tile side.
pub const EXTENT: u32 = 4096;

/// The layer format version written (spec 2.x).
const VERSION: u64 = 2;

// Field numbers of vector_tile.proto (2.1).
const TILE_LAYERS: u32 = 3;
const LAYER_NAME: u32 = 1;
const LAYER_FEATURES: u32 = 2;
const LAYER_KEYS: u32 = 3;
const LAYER_VALUES: u32 = 4;
const LAYER_EXTENT: u32 = 5;
const LAYER_VERSION: u32 = 15;
const FEATURE_ID: u32 = 1;
const FEATURE_TAGS: u32 = 2;
const FEATURE_TYPE: u32 = 3;
const FEATURE_GEOMETRY: u32 = 4;
const VALUE_STRING: u32 = 1;
const VALUE_DOUBLE: u32 = 3;
const VALUE_UINT: u32 = 5;
const VALUE_SINT: u32 = 6;
const VALUE_BOOL: u32 = 7;

// Geometry types and commands.
const TYPE_POINT: u64 = 1;
const TYPE_LINESTRING: u64 = 2;
const TYPE_POLYGON: u64 = 3;
const CMD_MOVE_TO: u32 = 1;
const CMD_LINE_TO: u32 = 2;
const CMD_CLOSE_PATH: u32 = 7;

const WIRE_VARINT: u32 = 0;
const WIRE_64: u32 = 1;
const WIRE_LEN: u32 = 2;

/// A point in tile coordinates (x right, y down; 0..EXTENT inside the tile, the buffer outside).
pub type TilePoint = [i32; 2];

/// The geometry of one feature, in tile coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    Points(Vec<TilePoint>),
    /// Each line has at least two distinct vertices.
    Lines(Vec<Vec<TilePoint>>),
    /// Open rings, each exterior (positive area) followed by its interiors (negative area).
    Polygons(Vec<Vec<TilePoint>>),
}

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Double(f64),
    Int(i64),
    Bool(bool),
}

impl Value {
    /// A JSON scalar as a property value; `None` for null, arrays and objects.
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        match v {
            serde_json::Value::String(s) => Some(Value::String(s.clone())),
            serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .or_else(|| n.as_f64().map(Value::Double)),
            _ => None,
        }
    }
}

/// A property value as a feature refers to it: borrowed, so that looking a repeated value up in
/// the layer's table allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a str),
    Double(f64),
    Int(i64),
    Bool(bool),
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> ValueRef<'a> {
        match v {
            Value::String(s) => ValueRef::Str(s),
            Value::Double(d) => ValueRef::Double(*d),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Bool(b) => ValueRef::Bool(*b),
        }
    }
}

/// Non-string values as table keys: (kind, bits).
type ScalarKey = (u8, u64);

/// The table maps hash every property of every feature; SipHash's DoS resistance buys nothing
/// here (the strings are our own data) and costs a tenth of the encoding time, so FxHash-style.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Builds one layer: features are encoded as they are added; keys and values are deduplicated.
pub struct LayerBuilder {
    name: String,
    features: Vec<u8>,
    count: usize,
    keys: Vec<String>,
    key_index: FastMap<String, u32>,
    /// The value table, encoded as the layer's `values` fields, in table order.
    values: Vec<u8>,
    value_count: u32,
    string_index: FastMap<String, u32>,
    scalar_index: FastMap<ScalarKey, u32>,
    // Scratch buffers reused across features.
    tags: Vec<u32>,
    commands: Vec<u32>,
    feature: Vec<u8>,
    value: Vec<u8>,
}

impl LayerBuilder {
    pub fn new(name: &str) -> LayerBuilder {
        LayerBuilder::with_capacity(name, 0)
    }

    /// A layer sized for about `features` features, each with a couple of distinct values.
    pub fn with_capacity(name: &str, features: usize) -> LayerBuilder {
        LayerBuilder {
            name: name.to_string(),
            features: Vec::with_capacity(features * 48),
            count: 0,
            keys: Vec::new(),
            key_index: FastMap::default(),
            values: Vec::with_capacity(features * 24),
            value_count: 0,
            string_index: FastMap::with_capacity_and_hasher(2 * features, Default::default()),
            scalar_index: FastMap::default(),
            tags: Vec::new(),
            commands: Vec::new(),
            feature: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Features added so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a feature. Returns false (and adds nothing) when the geometry has no vertices.
    pub fn add(
        &mut self,
        id: Option<u64>,
        geometry: &TileGeometry,
        properties: &[(&str, ValueRef<'_>)],
    ) -> bool {
        let kind = encode_geometry(geometry, &mut self.commands);
        if self.commands.is_empty() {
            return false;
        }
        self.tags.clear();
        for &(key, value) in properties {
            let k = self.key(key);
            let v = self.value(value);
            self.tags.push(k);
            self.tags.push(v);
        }
        let f = &mut self.feature;
        f.clear();
        if let Some(id) = id {
            put_varint_field(f, FEATURE_ID, id);
        }
        put_packed(f, FEATURE_TAGS, &self.tags);
        put_varint_field(f, FEATURE_TYPE, kind);
        put_packed(f, FEATURE_GEOMETRY, &self.commands);
        put_len_field(&mut self.features, LAYER_FEATURES, f);
        self.count += 1;
        true
    }

    fn key(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.key_index.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key.to_string());
        self.key_index.insert(key.to_string(), i);
        i
    }

    fn value(&mut self, value: ValueRef<'_>) -> u32 {
        let next = self.value_count;
        let scalar = match value {
            ValueRef::Str(s) => {
                if let Some(&i) = self.string_index.get(s) {
                    return i;
                }
                self.string_index.insert(s.to_string(), next);
                None
            }
            ValueRef::Double(d) => Some((0, d.to_bits())),
            ValueRef::Int(n) => Some((1, n as u64)),
            ValueRef::Bool(b) => Some((2, u64::from(b))),
        };
        if let Some(scalar) = scalar {
            if let Some(&i) = self.scalar_index.get(&scalar) {
                return i;
            }
            self.scalar_index.insert(scalar, next);
        }
        // Each entry is a `Value` message: its one field, length-prefixed.
        let field = &mut self.value;
        field.clear();
        match value {
            ValueRef::Str(s) => put_len_field(field, VALUE_STRING, s.as_bytes()),
            ValueRef::Double(d) => {
                put_key(field, VALUE_DOUBLE, WIRE_64);
                field.extend_from_slice(&d.to_le_bytes());
            }
            ValueRef::Int(n) if n >= 0 => put_varint_field(field, VALUE_UINT, n as u64),
            ValueRef::Int(n) => put_varint_field(field, VALUE_SINT, zigzag64(n)),
            ValueRef::Bool(b) => put_varint_field(field, VALUE_BOOL, u64::from(b)),
        }
        put_len_field(&mut self.values, LAYER_VALUES, field);
        self.value_count += 1;
        next
    }

    /// Appends the layer to a tile (as field `layers`). An empty layer is written too; callers
    /// that want empty tiles to stay empty check [`LayerBuilder::is_empty`] first.
    pub fn write_to(&self, tile: &mut Vec<u8>) {
        let mut layer = Vec::with_capacity(self.features.len() + self.values.len() + 256);
        put_len_field(&mut layer, LAYER_NAME, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for k in &self.keys {
            put_len_field(&mut layer, LAYER_KEYS, k.as_bytes());
        }
        layer.extend_from_slice(&self.values);
        put_varint_field(&mut layer, LAYER_EXTENT, u64::from(EXTENT));
        put_varint_field(&mut layer, LAYER_VERSION, VERSION);
        put_len_field(tile, TILE_LAYERS, &layer);
    }
}

/// Encodes a geometry as commands into `out` (cleared first) and returns its geometry type.
fn encode_geometry(geometry: &TileGeometry, out: &mut Vec<u32>) -> u64 {
    out.clear();
    let mut cursor = [0i32, 0i32];
    let mut delta = |out: &mut Vec<u32>, p: TilePoint| {
        out.push(zigzag32(p[0].wrapping_sub(cursor[0])));
        out.push(zigzag32(p[1].wrapping_sub(cursor[1])));
        cursor = p;
    };
    match geometry {
        TileGeometry::Points(points) => {
            if !points.is_empty() {
                out.push(command(CMD_MOVE_TO, points.len()));
                for &p in points {
                    delta(out, p);
                }
            }
            TYPE_POINT
        }
        TileGeometry::Lines(lines) => {
            for line in lines.iter().filter(|l| l.len() >= 2) {
                out.push(command(CMD_MOVE_TO, 1));
                delta(out, line[0]);
                out.push(command(CMD_LINE_TO, line.len() - 1));
                for &p in &line[1..] {
                    delta(out, p);
                }
            }
            TYPE_LINESTRING
        }
        TileGeometry::Polygons(rings) => {
            for ring in rings.iter().filter(|r| r.len() >= 3) {
                out.push(command(CMD_MOVE_TO, 1));
                delta(out, ring[0]);
                out.push(command(CMD_LINE_TO, ring.len() - 1));
                for &p in &ring[1..] {
                    delta(out, p);
                }
                out.push(command(CMD_CLOSE_PATH, 1));
            }
            TYPE_POLYGON
        }
    }
}

fn command(id: u32, count: usize) -> u32 {
    (id & 0x7) | ((count as u32) << 3)
}

fn zigzag32(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from((field << 3) | wire));
}

fn put_varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, WIRE_VARINT);
    put_varint(buf, v);
}

fn put_len_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, WIRE_LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_packed(buf: &mut Vec<u8>, field: u32, values: &[u32]) {
    if values.is_empty() {
        return;
    }
    let len: usize = values.iter().map(|&v| varint_len(u64::from(v))).sum();
    put_key(buf, field, WIRE_LEN);
    put_varint(buf, len as u64);
    for &v in values {
        put_varint(buf, u64::from(v));
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_match_protobuf() {
        let enc = |v: u64| {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
            b
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MAX), u32::MAX - 1);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
        assert_eq!(zigzag64(-3), 5);
    }

    #[test]
    fn commands_follow_the_spec_examples() {
        // Spec 4.3.5: a point at (25, 17) is [9, 50, 34].
        let mut out = Vec::new();
        let t = encode_geometry(&TileGeometry::Points(vec![[25, 17]]), &mut out);
        assert_eq!((t, out.as_slice()), (TYPE_POINT, &[9, 50, 34][..]));
        // A line (2,2) (2,10) (10,10): [9, 4, 4, 18, 0, 16, 16, 0].
        let line = TileGeometry::Lines(vec![vec![[2, 2], [2, 10], [10, 10]]]);
        encode_geometry(&line, &mut out);
        assert_eq!(out, [9, 4, 4, 18, 0, 16, 16, 0]);
        // A polygon (3,6) (8,12) (20,34): [9, 6, 12, 18, 10, 12, 24, 44, 15].
        let poly = TileGeometry::Polygons(vec![vec![[3, 6], [8, 12], [20, 34]]]);
        encode_geometry(&poly, &mut out);
        assert_eq!(out, [9, 6, 12, 18, 10, 12, 24, 44, 15]);
    }

    #[test]
    fn keys_and_values_are_deduplicated() {
        let mut layer = LayerBuilder::new("t");
        let g = TileGeometry::Points(vec![[1, 1]]);
        for i in 0..3 {
            layer.add(
                None,
                &g,
                &[
                    ("kind", ValueRef::Str("park")),
                    ("n", ValueRef::Int(i % 2)),
                    ("d", ValueRef::Double(1.5)),
                ],
            );
        }
        assert_eq!(layer.len(), 3);
        assert_eq!(layer.keys, ["kind", "n", "d"]);
        // "park", 0, 1.5, 1
        assert_eq!(layer.value_count, 4);
        assert!(!layer.add(None, &TileGeometry::Lines(vec![]), &[]));
        assert_eq!(layer.len(), 3);
    }
}

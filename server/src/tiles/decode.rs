//! A tiny MVT decoder for the tests: protobuf read by hand, independent of the encoder's code.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum DValue {
    Str(String),
    Float(f32),
    Double(f64),
    Int(i64),
    Uint(u64),
    Sint(i64),
    Bool(bool),
}

#[derive(Debug, Default)]
pub struct Feature {
    pub id: Option<u64>,
    pub tags: Vec<u32>,
    pub kind: u64,
    pub geometry: Vec<u32>,
}

#[derive(Debug, Default)]
pub struct Layer {
    pub name: String,
    pub version: u64,
    pub extent: Option<u64>,
    pub keys: Vec<String>,
    pub values: Vec<DValue>,
    pub features: Vec<Feature>,
}

/// One path of a decoded geometry: its vertices and whether ClosePath ended it.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub points: Vec<[i32; 2]>,
    pub closed: bool,
}

impl Layer {
    pub fn props(&self, f: &Feature) -> BTreeMap<String, DValue> {
        assert!(f.tags.len().is_multiple_of(2), "odd tags");
        f.tags
            .chunks(2)
            .map(|kv| {
                (
                    self.keys[kv[0] as usize].clone(),
                    self.values[kv[1] as usize].clone(),
                )
            })
            .collect()
    }

    pub fn prop(&self, f: &Feature, key: &str) -> Option<DValue> {
        self.props(f).remove(key)
    }

    pub fn string(&self, f: &Feature, key: &str) -> Option<String> {
        match self.prop(f, key) {
            Some(DValue::Str(s)) => Some(s),
            _ => None,
        }
    }
}

pub fn decode(buf: &[u8]) -> Vec<Layer> {
    let mut r = Reader { buf, pos: 0 };
    let mut layers = Vec::new();
    while let Some((field, wire)) = r.key() {
        match (field, wire) {
            (3, 2) => layers.push(layer(r.bytes())),
            _ => r.skip(wire),
        }
    }
    layers
}

fn layer(buf: &[u8]) -> Layer {
    let mut r = Reader { buf, pos: 0 };
    let mut l = Layer::default();
    while let Some((field, wire)) = r.key() {
        match (field, wire) {
            (1, 2) => l.name = String::from_utf8(r.bytes().to_vec()).expect("utf8 name"),
            (2, 2) => l.features.push(feature(r.bytes())),
            (3, 2) => l
                .keys
                .push(String::from_utf8(r.bytes().to_vec()).expect("utf8 key")),
            (4, 2) => l.values.push(value(r.bytes())),
            (5, 0) => l.extent = Some(r.varint()),
            (15, 0) => l.version = r.varint(),
            _ => r.skip(wire),
        }
    }
    l
}

fn feature(buf: &[u8]) -> Feature {
    let mut r = Reader { buf, pos: 0 };
    let mut f = Feature::default();
    while let Some((field, wire)) = r.key() {
        match (field, wire) {
            (1, 0) => f.id = Some(r.varint()),
            (2, 2) => f.tags = packed(r.bytes()),
            (3, 0) => f.kind = r.varint(),
            (4, 2) => f.geometry = packed(r.bytes()),
            _ => r.skip(wire),
        }
    }
    f
}

fn value(buf: &[u8]) -> DValue {
    let mut r = Reader { buf, pos: 0 };
    let mut v = None;
    while let Some((field, wire)) = r.key() {
        v = Some(match (field, wire) {
            (1, 2) => DValue::Str(String::from_utf8(r.bytes().to_vec()).expect("utf8")),
            (2, 5) => DValue::Float(f32::from_le_bytes(r.fixed())),
            (3, 1) => DValue::Double(f64::from_le_bytes(r.fixed())),
            (4, 0) => DValue::Int(r.varint() as i64),
            (5, 0) => DValue::Uint(r.varint()),
            (6, 0) => {
                let n = r.varint();
                DValue::Sint((n >> 1) as i64 ^ -((n & 1) as i64))
            }
            (7, 0) => DValue::Bool(r.varint() != 0),
            _ => panic!("unexpected value field {field}/{wire}"),
        });
    }
    v.expect("a value must hold exactly one field")
}

fn packed(buf: &[u8]) -> Vec<u32> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while r.pos < buf.len() {
        out.push(u32::try_from(r.varint()).expect("u32"));
    }
    out
}

/// Decodes geometry commands to absolute tile coordinates.
pub fn paths(commands: &[u32]) -> Vec<Path> {
    let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
    let (mut x, mut y) = (0i32, 0i32);
    let mut out: Vec<Path> = Vec::new();
    let mut i = 0;
    while i < commands.len() {
        let (id, count) = (commands[i] & 7, commands[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += unzig(commands[i]);
                    y += unzig(commands[i + 1]);
                    i += 2;
                    if id == 1 {
                        out.push(Path {
                            points: vec![],
                            closed: false,
                        });
                    }
                    out.last_mut()
                        .expect("LineTo after a MoveTo")
                        .points
                        .push([x, y]);
                }
            }
            7 => {
                assert_eq!(count, 1, "ClosePath count");
                out.last_mut().expect("ClosePath after a MoveTo").closed = true;
            }
            _ => panic!("unknown command {id}"),
        }
    }
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.buf[self.pos];
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    fn key(&mut self) -> Option<(u32, u32)> {
        (self.pos < self.buf.len()).then(|| {
            let k = self.varint();
            ((k >> 3) as u32, (k & 7) as u32)
        })
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        b
    }

    fn fixed<const N: usize>(&mut self) -> [u8; N] {
        let b: [u8; N] = self.buf[self.pos..self.pos + N].try_into().expect("fixed");
        self.pos += N;
        b
    }

    fn skip(&mut self, wire: u32) {
        match wire {
            0 => {
                self.varint();
            }
            1 => self.pos += 8,
            2 => {
                self.bytes();
            }
            5 => self.pos += 4,
            _ => panic!("unknown wire type {wire}"),
        }
    }
}

//! GeoJSON input in three shapes, told apart by content: a `FeatureCollection` object, a bare
//! JSON array of features, or a sequence of features (one per line, RFC 8142 record separators
//! allowed). A bare geometry object counts as one feature without properties.
//!
//! Parsing streams into compact structures (no `serde_json::Value` for coordinates), counts
//! vertices as it goes and stops storing a ring or line past [`MAX_RING_VERTICES`], so a hostile
//! file costs bounded memory. serde_json's recursion limit (128) stays on: anything nested deeper
//! fails the file with [`IngestError::TooDeep`]. `NaN`, `Infinity` and numbers too large for an
//! f64 (which some exporters write and serde_json refuses) are read as `null`, so only the feature
//! holding them is rejected.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use geo::Coord;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::clean::{self, RawGeom, MAX_GEOMETRY_VERTICES, MAX_RING_VERTICES};
use super::feature::{self, label, scalar_text, Feature, FieldMap};
use super::{crs, Collector, Crs, Imported, IngestError, Progress, Target};

/// serde_json's default nesting limit, which this module relies on and never disables.
const JSON_DEPTH_LIMIT: usize = 128;

/// Reads GeoJSON `bytes` (from `file`, for the report) into assets or jurisdictions.
pub fn read(
    file: &str,
    bytes: &[u8],
    target: &Target,
    crs: Crs,
    fields: &FieldMap,
    default_owner: &str,
    progress: Progress<'_>,
) -> Result<Imported, IngestError> {
    let text = sanitize(bytes);
    let features = parse_features(file, &text)?;
    let total = features.len() as u64;
    progress(0, total);
    let tf = move |x: f64, y: f64| crs::to_wgs84(crs, x, y);
    let mut out = Collector::new(file);
    for (done, item) in features.into_iter().enumerate() {
        if out.is_full() {
            break;
        }
        out.read_one();
        convert_feature(&mut out, item, target, &tf, fields, default_owner);
        progress(done as u64 + 1, total);
    }
    out.finish()
}

/// One feature as found: its position in the file and its content, or why its line could not
/// be parsed (newline-delimited input only).
struct Item {
    index: usize,
    line: Option<usize>,
    object: Result<RawObject, String>,
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn json_error(file: &str, e: &serde_json::Error) -> IngestError {
    let mut message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return IngestError::TooDeep {
            file: file.into(),
            line: e.line(),
            column: e.column(),
            limit: JSON_DEPTH_LIMIT,
        };
    }
    // serde_json appends " at line L column C", which the error prints separately.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    if e.classify() == serde_json::error::Category::Eof {
        message.push_str(" (is the file truncated?)");
    }
    IngestError::Json {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Splits the document into features, deciding its shape from the content.
fn parse_features(file: &str, text: &[u8]) -> Result<Vec<Item>, IngestError> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<Top>();
    let first = match stream.next() {
        None => {
            return Err(IngestError::NotGeoJson {
                file: file.into(),
                reason: "the file holds no JSON value".into(),
            })
        }
        Some(Err(e)) => return Err(json_error(file, &e)),
        Some(Ok(top)) => top,
    };
    let first_end = stream.byte_offset();
    if is_blank(&text[first_end..]) {
        // One document: a FeatureCollection, an array of features, a feature or a geometry.
        let objects = match first {
            Top::Array(items) => items,
            Top::Object(obj) if obj.is_collection() => obj.features.unwrap_or_default(),
            Top::Object(obj) => vec![obj],
            Top::Other(what) => {
                return Err(IngestError::NotGeoJson {
                    file: file.into(),
                    reason: format!(
                        "the top-level value is {what}, not a FeatureCollection, a feature or an \
                         array of features"
                    ),
                })
            }
        };
        return Ok(numbered(objects));
    }
    // Several top-level values: a feature sequence. One per line when the first one fits on its
    // line, which lets a broken line be rejected alone.
    let first_start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if !text[first_start..first_end].contains(&b'\n') {
        return parse_lines(file, text);
    }
    let mut objects = flatten_top(file, first)?;
    for top in stream {
        objects.extend(flatten_top(file, top.map_err(|e| json_error(file, &e))?)?);
    }
    Ok(numbered(objects))
}

fn numbered(objects: Vec<RawObject>) -> Vec<Item> {
    objects
        .into_iter()
        .enumerate()
        .map(|(index, o)| Item {
            index,
            line: None,
            object: Ok(o),
        })
        .collect()
}

fn flatten_top(file: &str, top: Top) -> Result<Vec<RawObject>, IngestError> {
    match top {
        Top::Array(items) => Ok(items),
        Top::Object(obj) if obj.is_collection() => Ok(obj.features.unwrap_or_default()),
        Top::Object(obj) => Ok(vec![obj]),
        Top::Other(what) => Err(IngestError::NotGeoJson {
            file: file.into(),
            reason: format!("a sequence of features holds {what}"),
        }),
    }
}

/// Newline-delimited features: each non-blank line parsed on its own.
fn parse_lines(file: &str, text: &[u8]) -> Result<Vec<Item>, IngestError> {
    let mut items = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if is_blank(line) {
            continue;
        }
        let line_no = n + 1;
        let parsed = match serde_json::from_slice::<Top>(line) {
            Ok(top) => match top {
                Top::Array(objs) => Ok(objs),
                Top::Object(obj) if obj.is_collection() => Ok(obj.features.unwrap_or_default()),
                Top::Object(obj) => Ok(vec![obj]),
                Top::Other(what) => Err(format!("line {line_no} holds {what}, not a feature")),
            },
            Err(e) => {
                if let IngestError::TooDeep { column, limit, .. } = json_error(file, &e) {
                    return Err(IngestError::TooDeep {
                        file: file.into(),
                        line: line_no,
                        column,
                        limit,
                    });
                }
                Err(format!("line {line_no} is not valid JSON: {e}"))
            }
        };
        match parsed {
            Ok(objs) => {
                for o in objs {
                    items.push(Item {
                        index: items.len(),
                        line: Some(line_no),
                        object: Ok(o),
                    });
                }
            }
            Err(why) => items.push(Item {
                index: items.len(),
                line: Some(line_no),
                object: Err(why),
            }),
        }
    }
    Ok(items)
}

/// Rewrites what serde_json refuses but exporters write: `NaN`, `Infinity`, `-Infinity` and
/// numbers beyond the f64 range become `null`; a leading byte-order mark and RFC 8142 record
/// separators become spaces. Strings are left alone. Borrows when there is nothing to change.
fn sanitize(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut replace = |out: &mut Option<Vec<u8>>, from: usize, to: usize, with: &[u8]| {
        let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        buf.extend_from_slice(&bytes[copied..from]);
        buf.extend_from_slice(with);
        copied = to;
    };
    let mut i = 0;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        replace(&mut out, 0, 3, b"   ");
        i = 3;
    }
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            0x1e => {
                replace(&mut out, i, i + 1, b" ");
                i += 1;
            }
            b'N' | b'I' | b'-' | b'+' => {
                let sign = usize::from(matches!(bytes[i], b'-' | b'+'));
                let rest = &bytes[i + sign..];
                let word = if rest.starts_with(b"NaN") {
                    3
                } else if rest.starts_with(b"Infinity") {
                    8
                } else {
                    0
                };
                if word > 0 {
                    replace(&mut out, i, i + sign + word, b"null");
                    i += sign + word;
                } else if sign == 1 {
                    i = scan_number(bytes, i, &mut |from, to| {
                        replace(&mut out, from, to, b"null")
                    });
                } else {
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                i = scan_number(bytes, i, &mut |from, to| {
                    replace(&mut out, from, to, b"null")
                });
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(bytes),
        Some(mut buf) => {
            buf.extend_from_slice(&bytes[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// Scans the number token at `start`; calls `overflow(start, end)` when it does not fit an f64.
/// Returns the index after the token.
fn scan_number(bytes: &[u8], start: usize, overflow: &mut dyn FnMut(usize, usize)) -> usize {
    let mut end = start + 1;
    let mut exponent = false;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' | b'.' | b'+' | b'-' => end += 1,
            b'e' | b'E' => {
                exponent = true;
                end += 1;
            }
            _ => break,
        }
    }
    if exponent || end - start > 300 {
        let token = std::str::from_utf8(&bytes[start..end]).unwrap_or("");
        if token.parse::<f64>().is_ok_and(f64::is_infinite) {
            overflow(start, end);
        }
    }
    end
}

// ---------------------------------------------------------------------------------------------
// Streaming structures
// ---------------------------------------------------------------------------------------------

/// A top-level JSON value.
enum Top {
    Object(RawObject),
    Array(Vec<RawObject>),
    /// Anything else, described ("a string", …).
    Other(&'static str),
}

/// A GeoJSON object of any type, with the members we read; the others are skipped.
#[derive(Default)]
struct RawObject {
    /// Set when the value was not an object at all.
    not_object: Option<&'static str>,
    kind: Option<String>,
    id: Option<Value>,
    properties: Option<Value>,
    /// `Some(None)` for `"geometry": null`.
    geometry: Option<Option<Box<RawObject>>>,
    coordinates: Option<CoordTree>,
    geometries: Option<Vec<RawObject>>,
    features: Option<Vec<RawObject>>,
}

impl RawObject {
    fn is_collection(&self) -> bool {
        self.kind.as_deref() == Some("FeatureCollection")
            || (self.kind.is_none() && self.features.is_some())
    }
}

/// Nested coordinate arrays, compact: a position is stored as a [`Coord`], not as an array.
#[derive(Debug)]
enum CoordTree {
    /// A bare number (or `null`, as NaN), only seen inside a position being assembled.
    Num(f64),
    Pos(Coord),
    List(Vec<CoordTree>),
    /// Something that is not a coordinate: "a string", "a position with one number", …
    Bad(&'static str),
    /// An array with more than [`MAX_RING_VERTICES`] elements, or a geometry past
    /// [`MAX_GEOMETRY_VERTICES`] positions: the count seen, not the content.
    TooMany {
        count: u64,
        geometry_limit: bool,
    },
}

/// Skips any JSON value through `deserialize_any`, so serde_json's recursion limit applies
/// (its `IgnoredAny` path is iterative and would accept any depth).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Top, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON object or an array of features")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other("a string"))
    }
    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        let mut items = Vec::new();
        while let Some(o) = seq.next_element::<RawObject>()? {
            items.push(o);
        }
        Ok(Top::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top, A::Error> {
        read_object(map).map(Top::Object)
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawObject, D::Error> {
        d.deserialize_any(ObjectVisitor)
    }
}

struct ObjectVisitor;

fn not_object(what: &'static str) -> RawObject {
    RawObject {
        not_object: Some(what),
        ..RawObject::default()
    }
}

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = RawObject;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON object")
    }
    fn visit_bool<E>(self, _: bool) -> Result<RawObject, E> {
        Ok(not_object("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<RawObject, E> {
        Ok(not_object("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<RawObject, E> {
        Ok(not_object("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<RawObject, E> {
        Ok(not_object("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<RawObject, E> {
        Ok(not_object("a string"))
    }
    fn visit_unit<E>(self) -> Result<RawObject, E> {
        Ok(not_object("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawObject, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(not_object("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawObject, A::Error> {
        read_object(map)
    }
}

/// The members of a GeoJSON object we read.
enum Key {
    Type,
    Id,
    Properties,
    Geometry,
    Coordinates,
    Geometries,
    Features,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "type" => Key::Type,
                    "id" => Key::Id,
                    "properties" => Key::Properties,
                    "geometry" => Key::Geometry,
                    "coordinates" => Key::Coordinates,
                    "geometries" => Key::Geometries,
                    "features" => Key::Features,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

fn read_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<RawObject, A::Error> {
    let mut obj = RawObject::default();
    let positions = Cell::new(0u64);
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::Type => {
                if let Value::String(s) = map.next_value::<Value>()? {
                    obj.kind = Some(s);
                }
            }
            Key::Id => obj.id = Some(map.next_value()?),
            Key::Properties => obj.properties = Some(map.next_value()?),
            Key::Geometry => obj.geometry = Some(map.next_value::<Option<Box<RawObject>>>()?),
            Key::Coordinates => {
                obj.coordinates = Some(map.next_value_seed(CoordSeed {
                    positions: &positions,
                })?)
            }
            Key::Geometries => obj.geometries = Some(map.next_value()?),
            Key::Features => obj.features = Some(map.next_value()?),
            Key::Other => {
                map.next_value::<Skip>()?;
            }
        }
    }
    Ok(obj)
}

/// Reads a `coordinates` member, counting positions against the geometry limit.
#[derive(Clone, Copy)]
struct CoordSeed<'a> {
    positions: &'a Cell<u64>,
}

impl<'de> DeserializeSeed<'de> for CoordSeed<'_> {
    type Value = CoordTree;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<CoordTree, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CoordSeed<'_> {
    type Value = CoordTree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("GeoJSON coordinates")
    }
    fn visit_bool<E>(self, _: bool) -> Result<CoordTree, E> {
        Ok(CoordTree::Bad("a boolean"))
    }
    fn visit_i64<E>(self, v: i64) -> Result<CoordTree, E> {
        Ok(CoordTree::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<CoordTree, E> {
        Ok(CoordTree::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<CoordTree, E> {
        Ok(CoordTree::Num(v))
    }
    fn visit_str<E>(self, _: &str) -> Result<CoordTree, E> {
        Ok(CoordTree::Bad("a string"))
    }
    fn visit_unit<E>(self) -> Result<CoordTree, E> {
        Ok(CoordTree::Num(f64::NAN))
    }
    fn visit_none<E>(self) -> Result<CoordTree, E> {
        Ok(CoordTree::Num(f64::NAN))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CoordTree, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(CoordTree::Bad("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CoordTree, A::Error> {
        let mut nums = [0.0f64; 2];
        let mut num_count = 0usize;
        let mut children: Vec<CoordTree> = Vec::new();
        let mut count = 0u64;
        let mut bad: Option<&'static str> = None;
        // A nested array over a limit: its count and whether the geometry limit was hit.
        let mut child_over: Option<(u64, bool)> = None;
        // This array over a limit: whether it was the geometry limit.
        let mut over: Option<bool> = None;
        loop {
            if child_over.is_some() || over.is_some() || bad.is_some() {
                // Past a limit or already broken: only count (and depth-check) the rest.
                match seq.next_element::<Skip>()? {
                    Some(_) => count += 1,
                    None => break,
                }
                continue;
            }
            let Some(item) = seq.next_element_seed(self)? else {
                break;
            };
            count += 1;
            match item {
                CoordTree::Num(v) => {
                    if !children.is_empty() {
                        bad = Some("an array mixing numbers and arrays");
                    } else {
                        if num_count < 2 {
                            nums[num_count] = v;
                        }
                        num_count += 1;
                    }
                }
                CoordTree::TooMany {
                    count,
                    geometry_limit,
                } => {
                    child_over = Some((count, geometry_limit));
                    children = Vec::new();
                }
                CoordTree::Bad(why) => bad = Some(why),
                other => {
                    if num_count > 0 {
                        bad = Some("an array mixing numbers and arrays");
                    } else if children.len() >= MAX_RING_VERTICES {
                        over = Some(false);
                        children = Vec::new();
                    } else {
                        children.push(other);
                    }
                }
            }
            if self.positions.get() > MAX_GEOMETRY_VERTICES as u64 && over.is_none() {
                over = Some(true);
                children = Vec::new();
            }
        }
        if let Some((count, geometry_limit)) = child_over {
            return Ok(CoordTree::TooMany {
                count,
                geometry_limit,
            });
        }
        if let Some(geometry_limit) = over {
            return Ok(CoordTree::TooMany {
                count,
                geometry_limit,
            });
        }
        if let Some(why) = bad {
            return Ok(CoordTree::Bad(why));
        }
        match num_count {
            0 => Ok(CoordTree::List(children)),
            1 => Ok(CoordTree::Bad("a position with only one number")),
            _ => {
                self.positions.set(self.positions.get() + 1);
                Ok(CoordTree::Pos(Coord {
                    x: nums[0],
                    y: nums[1],
                }))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Features → assets and jurisdictions
// ---------------------------------------------------------------------------------------------

fn too_many_reason(count: u64, geometry_limit: bool) -> String {
    if geometry_limit {
        format!("geometry has more than {MAX_GEOMETRY_VERTICES} vertices; rejected unread")
    } else {
        format!(
            "a ring or line has {count} vertices, more than the limit of {MAX_RING_VERTICES}; \
             rejected unread"
        )
    }
}

fn positions(tree: CoordTree, what: &str) -> Result<Vec<Coord>, String> {
    match tree {
        CoordTree::List(items) => items
            .into_iter()
            .map(|t| match t {
                CoordTree::Pos(c) => Ok(c),
                other => Err(shape_error(other, what)),
            })
            .collect(),
        other => Err(shape_error(other, what)),
    }
}

fn nested<T>(
    tree: CoordTree,
    what: &str,
    inner: impl Fn(CoordTree) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match tree {
        CoordTree::List(items) => items.into_iter().map(inner).collect(),
        other => Err(shape_error(other, what)),
    }
}

fn shape_error(tree: CoordTree, what: &str) -> String {
    match tree {
        CoordTree::TooMany {
            count,
            geometry_limit,
        } => too_many_reason(count, geometry_limit),
        CoordTree::Bad(b) => format!("coordinates hold {b}"),
        CoordTree::Num(_) => format!("coordinates of {what} are nested too shallowly"),
        CoordTree::Pos(_) | CoordTree::List(_) => {
            format!("coordinates of {what} are not nested as the type requires")
        }
    }
}

/// Reads a geometry object into a [`RawGeom`]. Nesting of collections is bounded by the JSON
/// depth limit.
fn raw_geometry(obj: RawObject) -> Result<RawGeom, String> {
    let kind = obj.kind.clone().unwrap_or_default();
    let coords = |obj: RawObject| {
        obj.coordinates
            .ok_or_else(|| format!("{kind} geometry has no coordinates"))
    };
    match kind.as_str() {
        "Point" => match coords(obj)? {
            CoordTree::Pos(c) => Ok(RawGeom::Point(c)),
            other => Err(shape_error(other, "a Point")),
        },
        "MultiPoint" => Ok(RawGeom::MultiPoint(positions(
            coords(obj)?,
            "a MultiPoint",
        )?)),
        "LineString" => Ok(RawGeom::LineString(positions(
            coords(obj)?,
            "a LineString",
        )?)),
        "MultiLineString" => Ok(RawGeom::MultiLineString(nested(
            coords(obj)?,
            "a MultiLineString",
            |t| positions(t, "a MultiLineString"),
        )?)),
        "Polygon" => Ok(RawGeom::Polygon(nested(coords(obj)?, "a Polygon", |t| {
            positions(t, "a Polygon")
        })?)),
        "MultiPolygon" => Ok(RawGeom::MultiPolygon(nested(
            coords(obj)?,
            "a MultiPolygon",
            |t| nested(t, "a MultiPolygon", |r| positions(r, "a MultiPolygon")),
        )?)),
        "GeometryCollection" => {
            let members = obj
                .geometries
                .ok_or("GeometryCollection has no geometries")?;
            let mut out = Vec::with_capacity(members.len());
            for m in members {
                if let Some(what) = m.not_object {
                    return Err(format!("a GeometryCollection member is {what}"));
                }
                out.push(raw_geometry(m)?);
            }
            Ok(RawGeom::Collection(out))
        }
        "" => Err("geometry has no \"type\"".into()),
        other => Err(format!("unknown geometry type {other:?}")),
    }
}

const GEOMETRY_TYPES: [&str; 7] = [
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
];

/// Turns one GeoJSON item into a [`Feature`] and hands it to the shared mapping.
fn convert_feature(
    out: &mut Collector,
    item: Item,
    target: &Target,
    tf: clean::Transform<'_>,
    fields: &FieldMap,
    default_owner: &str,
) {
    let Item {
        index,
        line,
        object,
    } = item;
    let label_of = |id: Option<&str>| label(index, line, id);
    let obj = match object {
        Ok(obj) => obj,
        Err(why) => return out.reject(&label_of(None), why),
    };
    if let Some(what) = obj.not_object {
        out.reject(
            &label_of(None),
            format!("not a GeoJSON feature: it is {what}"),
        );
        return;
    }
    let kind = obj.kind.clone().unwrap_or_default();
    let props = match &obj.properties {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let member_id = obj.id.as_ref().and_then(scalar_text);
    let geometry_obj: Option<RawObject> = if kind == "Feature"
        || (kind.is_empty() && (obj.geometry.is_some() || obj.properties.is_some()))
    {
        obj.geometry.and_then(|g| g.map(|b| *b))
    } else if GEOMETRY_TYPES.contains(&kind.as_str()) {
        Some(obj)
    } else {
        let label = label_of(member_id.as_deref());
        let reason = if kind.is_empty() {
            "not a GeoJSON feature: it has no \"type\"".to_string()
        } else {
            format!("not a GeoJSON feature: its type is {kind:?}")
        };
        out.reject(&label, reason);
        return;
    };
    let feature = Feature {
        index,
        line,
        member_id,
        props,
        geometry: geometry(geometry_obj),
    };
    feature::convert(out, feature, target, tf, fields, default_owner);
}

fn geometry(obj: Option<RawObject>) -> Result<RawGeom, String> {
    let obj = obj.ok_or("feature has no geometry (null)")?;
    if let Some(what) = obj.not_object {
        return Err(format!("geometry is {what}, not an object"));
    }
    raw_geometry(obj)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::district::{AssetLayer, Level};
    use crate::ingest::{read_bytes, AdminLevels, CrsChoice, Format, IssueAction, ReadOptions};
    use geo::{Geometry, Validation};
    use std::time::{Duration, Instant};

    fn import(text: &str, target: &Target, crs: Crs) -> Result<Imported, IngestError> {
        read_bytes(
            "test.geojson",
            text.as_bytes(),
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(crs)),
                owner: "urban_mgmt".into(),
                ..ReadOptions::new((*target).clone())
            },
            &mut |_, _| {},
        )
    }

    fn layer(text: &str, l: AssetLayer) -> Imported {
        import(text, &Target::Layer(l), Crs::Wgs84).unwrap()
    }

    const F1: &str = r#"{"type":"Feature","id":"B-1","properties":{"name":"一号楼","building":"residential","department":"housing","floors":6},"geometry":{"type":"Polygon","coordinates":[[[113.1,23.0],[113.101,23.0],[113.101,23.001],[113.1,23.001],[113.1,23.0]]]}}"#;
    const F2: &str = r#"{"type":"Feature","properties":{"osm_id":42,"名称":"二号楼","type":"commercial"},"geometry":{"type":"Polygon","coordinates":[[[113.2,23.0],[113.201,23.0],[113.201,23.001],[113.2,23.001],[113.2,23.0]]]}}"#;
    const F3: &str = r#"{"type":"Feature","properties":{"note":"no id"},"geometry":{"type":"MultiPolygon","coordinates":[[[[113.3,23.0],[113.301,23.0],[113.301,23.001],[113.3,23.0]]]]}}"#;

    #[test]
    fn three_shapes_give_the_same_assets() {
        let collection =
            format!(r#"{{"type":"FeatureCollection","name":"x","features":[{F1},{F2},{F3}]}}"#);
        let array = format!("[{F1},\n{F2},\n{F3}]");
        let lines = format!("{F1}\n{F2}\r\n\n{F3}\n");
        let rs = format!("\x1e{F1}\n\x1e{F2}\n\x1e{F3}\n");
        let a = layer(&collection, AssetLayer::Buildings);
        assert_eq!(a.assets.len(), 3);
        assert_eq!(a.features_read, 3);
        assert!(a.rejected().next().is_none(), "{:?}", a.issues);
        for other in [array, lines, rs] {
            let b = layer(&other, AssetLayer::Buildings);
            assert_eq!(a.assets, b.assets, "{other}");
        }
    }

    #[test]
    fn properties_are_mapped() {
        let text = format!("[{F1},{F2},{F3}]");
        let got = layer(&text, AssetLayer::Buildings);
        let [b1, b2, b3] = &got.assets[..] else {
            panic!("{got:?}")
        };
        assert_eq!(
            (b1.id.as_str(), b1.name.as_str(), b1.kind.as_str()),
            ("B-1", "一号楼", "residential")
        );
        assert_eq!(b1.owner, "housing");
        assert_eq!(b1.props.get("floors"), Some(Value::from(6)));
        assert!(!b1.props.contains_key("name") && !b1.props.contains_key("department"));
        assert_eq!(
            (b2.id.as_str(), b2.name.as_str(), b2.kind.as_str()),
            ("42", "二号楼", "commercial")
        );
        assert_eq!(b2.owner, "urban_mgmt");
        assert_eq!((b3.id.as_str(), b3.kind.as_str()), ("B-2", "unknown"));
        assert_eq!(b3.props.get("note"), Some(Value::from("no id")));
        assert!(matches!(b3.geometry, Geometry::Polygon(_)));

        // Jurisdictions: code, name, parent; level from the target or a property.
        let j = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"code":"440604001","name":"祖庙街道","parent":"440604","level":"street"},
             "geometry":{"type":"Polygon","coordinates":[[[113.1,23.0],[113.2,23.0],[113.2,23.1],[113.1,23.0]]]}},
            {"type":"Feature","properties":{"code":"440604","name":"禅城区","admin_level":6},
             "geometry":{"type":"Polygon","coordinates":[[[113.0,22.9],[113.3,22.9],[113.3,23.2],[113.0,22.9]]]}},
            {"type":"Feature","properties":{"code":"x","name":"no level"},
             "geometry":{"type":"Polygon","coordinates":[[[113.0,22.9],[113.3,22.9],[113.3,23.2],[113.0,22.9]]]}}]}"#;
        let got = import(j, &Target::Levels(AdminLevels::default()), Crs::Wgs84).unwrap();
        assert_eq!(got.jurisdictions.len(), 2);
        let street = &got.jurisdictions[0];
        assert_eq!(street.level, Level::Street);
        assert_eq!(
            (
                street.code.as_str(),
                street.name.as_str(),
                street.parent.as_deref()
            ),
            ("440604001", "祖庙街道", Some("440604"))
        );
        assert_eq!(got.jurisdictions[1].level, Level::District);
        assert_eq!(got.jurisdictions[1].parent, None);
        let issue = got.rejected().next().unwrap();
        assert!(
            issue.feature.contains("#2") && issue.reason.contains("level"),
            "{issue:?}"
        );

        let got = import(j, &Target::Level(Level::Community), Crs::Wgs84).unwrap();
        assert_eq!(got.jurisdictions.len(), 3);
        assert!(got
            .jurisdictions
            .iter()
            .all(|j| j.level == Level::Community));
    }

    #[test]
    fn unclosed_ring_is_repaired_and_reported() {
        let text = r#"{"type":"Feature","id":7,"properties":{},"geometry":{"type":"Polygon","coordinates":[[[113.1,23.0],[113.101,23.0],[113.101,23.001],[113.1,23.001]]]}}"#;
        let got = layer(text, AssetLayer::Buildings);
        assert_eq!(got.assets.len(), 1);
        let Geometry::Polygon(p) = &got.assets[0].geometry else {
            panic!()
        };
        assert_eq!(p.exterior().0.len(), 5);
        assert_eq!(got.issues.len(), 1);
        let issue = &got.issues[0];
        assert_eq!(issue.action, IssueAction::Repaired);
        assert_eq!(issue.file, "test.geojson");
        assert_eq!(issue.feature, "#0 (id 7)");
        assert!(issue.reason.contains("closed the exterior ring"), "{issue}");
    }

    #[test]
    fn bad_coordinates_reject_only_their_feature() {
        // NaN as Python's json module writes it, a longitude of 200, a number beyond f64 and a
        // string coordinate; the fifth feature is fine.
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"name":"nan"},"geometry":{"type":"Point","coordinates":[NaN,23.0]}},
            {"type":"Feature","properties":{"name":"lon 200"},"geometry":{"type":"LineString","coordinates":[[113.0,23.0],[200.0,23.0]]}},
            {"type":"Feature","properties":{"name":"huge"},"geometry":{"type":"Point","coordinates":[1e999,23.0]}},
            {"type":"Feature","properties":{"name":"text"},"geometry":{"type":"Point","coordinates":["113",23.0]}},
            {"type":"Feature","properties":{"name":"ok","note":"NaN stays text","v":-Infinity},"geometry":{"type":"Point","coordinates":[113.0,23.0]}}
        ]}"#;
        let got = layer(text, AssetLayer::Pois);
        assert_eq!(got.features_read, 5);
        assert_eq!(got.assets.len(), 1);
        assert_eq!(got.assets[0].name, "ok");
        assert_eq!(
            got.assets[0].props.get("note"),
            Some(Value::from("NaN stays text"))
        );
        assert_eq!(got.assets[0].props.get("v"), Some(Value::Null));
        let rejected: Vec<_> = got.rejected().collect();
        assert_eq!(rejected.len(), 4, "{rejected:?}");
        assert!(rejected.iter().all(|i| i.file == "test.geojson"));
        assert_eq!(rejected[0].feature, "#0 (id POI-0)");
        assert!(
            rejected[0].reason.contains("not a finite number"),
            "{}",
            rejected[0]
        );
        assert_eq!(rejected[1].feature, "#1 (id POI-1)");
        assert!(
            rejected[1].reason.contains("out of range"),
            "{}",
            rejected[1]
        );
        assert!(
            rejected[2].reason.contains("not a finite number"),
            "{}",
            rejected[2]
        );
        assert!(rejected[3].reason.contains("a string"), "{}", rejected[3]);
    }

    #[test]
    fn bow_tie_is_repaired_with_a_reason() {
        let text = r#"{"type":"Feature","properties":{"name":"bow tie"},"geometry":{"type":"Polygon","coordinates":[[[113.1,23.0],[113.101,23.001],[113.101,23.0],[113.1,23.001],[113.1,23.0]]]}}"#;
        let got = layer(text, AssetLayer::Buildings);
        assert_eq!(got.assets.len(), 1, "{:?}", got.issues);
        let Geometry::MultiPolygon(mp) = &got.assets[0].geometry else {
            panic!("{:?}", got.assets[0].geometry)
        };
        assert_eq!(mp.0.len(), 2);
        assert!(mp.is_valid());
        let issue = got.repaired().next().unwrap();
        assert!(issue.reason.contains("crosses itself"), "{issue}");
    }

    #[test]
    fn million_vertex_ring_is_rejected_quickly() {
        let n = MAX_RING_VERTICES + 1;
        let mut text = String::with_capacity(n * 26 + 200);
        text.push_str(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[["#,
        );
        for i in 0..n {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "[{:.7},{:.7}]",
                113.1 + 0.01 * a.cos(),
                23.0 + 0.01 * a.sin()
            ));
        }
        text.push_str(r#"]]}},"#);
        text.push_str(F1);
        text.push_str("]}");
        let started = Instant::now();
        let got = layer(&text, AssetLayer::Buildings);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(20), "took {took:?}");
        assert_eq!(got.assets.len(), 1);
        let issue = got.rejected().next().unwrap();
        assert_eq!(issue.feature, "#0 (id B-0)");
        assert!(
            issue.reason.contains("1000001 vertices") && issue.reason.contains("limit"),
            "{issue}"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 100_000;
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let err = import(&text, &Target::Layer(AssetLayer::Pois), Crs::Wgs84).unwrap_err();
            assert!(matches!(err, IngestError::TooDeep { .. }), "{err}");
            assert!(err.to_string().contains("nested more than 128"), "{err}");
        }
        // Deep inside a feature's properties or coordinates, and on one line of a sequence.
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        for text in [
            format!(r#"[{{"type":"Feature","properties":{{"x":{deep}}},"geometry":null}}]"#),
            format!(r#"[{{"type":"Feature","geometry":{{"type":"Point","coordinates":{deep}}}}}]"#),
            format!("{F1}\n{{\"type\":\"Feature\",\"bbox\":{deep}}}\n"),
        ] {
            let err = import(&text, &Target::Layer(AssetLayer::Pois), Crs::Wgs84).unwrap_err();
            assert!(matches!(err, IngestError::TooDeep { .. }), "{err}");
        }
    }

    #[test]
    fn gcj02_input_lands_within_a_metre_of_its_wgs84_original() {
        let (lon, lat) = (113.121_43, 23.027_81); // 祖庙, Foshan
        let (g_lon, g_lat) = crs::wgs84_to_gcj02(lon, lat);
        // The offset is a few hundred metres, so importing as WGS84 would be far off.
        assert!((g_lon - lon).abs() + (g_lat - lat).abs() > 0.003);
        let text = format!(
            r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"Point","coordinates":[{g_lon},{g_lat}]}}}}"#
        );
        let got = import(&text, &Target::Layer(AssetLayer::Pois), Crs::Gcj02).unwrap();
        let Geometry::Point(p) = got.assets[0].geometry else {
            panic!()
        };
        let dx = (p.x() - lon).to_radians() * lat.to_radians().cos() * 6_371_000.0;
        let dy = (p.y() - lat).to_radians() * 6_371_000.0;
        assert!(dx.hypot(dy) < 1.0, "{dx} {dy}");

        let (b_lon, b_lat) = crs::gcj02_to_bd09(g_lon, g_lat);
        let text = format!(r#"[{{"type":"Point","coordinates":[{b_lon},{b_lat}]}}]"#);
        let got = import(&text, &Target::Layer(AssetLayer::Pois), Crs::Bd09).unwrap();
        let Geometry::Point(p) = got.assets[0].geometry else {
            panic!()
        };
        assert!((p.x() - lon).abs() < 1e-7 && (p.y() - lat).abs() < 1e-7);
    }

    #[test]
    fn broken_lines_and_odd_features_are_rejected_alone() {
        let text = format!(
            "{F1}\n{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Point\"\n{F2}\n\"just a string\"\n{{\"type\":\"Feature\",\"properties\":{{}},\"geometry\":null}}\n{{\"type\":\"Topology\"}}\n{F1}\n"
        );
        let got = layer(&text, AssetLayer::Buildings);
        assert_eq!(got.assets.len(), 2);
        let rejected: Vec<_> = got.rejected().collect();
        assert_eq!(rejected.len(), 5, "{rejected:#?}");
        assert!(
            rejected[0].feature.contains("line 2") && rejected[0].reason.contains("not valid JSON")
        );
        assert!(
            rejected[1].reason.contains("holds a string"),
            "{}",
            rejected[1]
        );
        assert!(
            rejected[2].reason.contains("no geometry"),
            "{}",
            rejected[2]
        );
        assert!(rejected[3].reason.contains("Topology"), "{}", rejected[3]);
        assert!(
            rejected[4].reason.contains("duplicate id \"B-1\""),
            "{}",
            rejected[4]
        );

        // Wrong geometry kind for the layer.
        let got = layer(F1, AssetLayer::Roads);
        assert!(got
            .rejected()
            .next()
            .unwrap()
            .reason
            .contains("must be a line"));
    }

    #[test]
    fn whole_file_errors() {
        let t = Target::Layer(AssetLayer::Pois);
        let err = import(
            r#"{"type":"FeatureCollection","features":[{"type":"#,
            &t,
            Crs::Wgs84,
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Json { line: 1, .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = import("[1, 2", &t, Crs::Wgs84).unwrap_err();
        assert!(matches!(err, IngestError::Json { .. }), "{err}");
        let err = read_bytes(
            "t",
            b"\"text\"",
            &ReadOptions {
                format: Format::GeoJson,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "d".into(),
                ..ReadOptions::new((t).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::NotGeoJson { .. }), "{err}");
    }

    #[test]
    fn sanitize_only_touches_tokens_outside_strings() {
        let s = sanitize(br#"{"a":"NaN \" Infinity","b":[NaN,-Infinity,1e400,-2.5e3,1e5]}"#);
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            r#"{"a":"NaN \" Infinity","b":[null,null,null,-2.5e3,1e5]}"#
        );
        assert!(matches!(sanitize(b"[1,2]"), Cow::Borrowed(_)));
    }
}

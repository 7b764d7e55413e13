//! One feature → an [`Asset`] or a [`Jurisdiction`]: the mapping every reader of attribute
//! tables shares (GeoJSON properties, shapefile DBF records). It picks the id, name, kind, owner,
//! code, parent and level out of a property map, by the names a [`FieldMap`] gives or else by the
//! conventional names below, cleans the geometry ([`clean::clean`]) and hands the result, or the
//! reason it was rejected, to the [`Collector`].
//!
//! Default property names, in order of preference (the one used is removed from an asset's
//! `props`):
//! - id: `id`, `osm_id`, `code`
//! - name: `name`, `名称`, `NAME`, `Name`, `XZQMC` (行政区名称), `WGMC` (网格名称)
//! - code (jurisdictions): `code`, then the GeoJSON member `id`, then `id`, `XZQDM` (行政区代码),
//!   `WGBM`, `WGDM` (网格编码/代码)
//! - parent: `parent`, `parent_code`
//! - kind: `kind`, `type`, `class`, `highway`, `building`, `amenity`, `substance`, `类型`,
//!   `种类`, `fclass`
//! - owner: `owner`, `department`, `dept`, `权属单位`, `管理单位`
//! - level: `level` (a level name), else `admin_level` (through the admin-level mapping)

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::clean::{self, Dim, RawGeom};
use super::{AdminLevels, Collector, Target};
use crate::district::{Asset, AssetLayer, Jurisdiction, Level};

const ID_KEYS: [&str; 3] = ["id", "osm_id", "code"];
const NAME_KEYS: [&str; 6] = ["name", "名称", "NAME", "Name", "XZQMC", "WGMC"];
const KIND_KEYS: [&str; 10] = [
    "kind",
    "type",
    "class",
    "highway",
    "building",
    "amenity",
    "substance",
    "类型",
    "种类",
    "fclass",
];
const OWNER_KEYS: [&str; 5] = ["owner", "department", "dept", "权属单位", "管理单位"];
/// Tried before the GeoJSON member id.
const CODE_KEYS_FIRST: [&str; 1] = ["code"];
/// Tried after it.
const CODE_KEYS_THEN: [&str; 4] = ["id", "XZQDM", "WGBM", "WGDM"];
const PARENT_KEYS: [&str; 2] = ["parent", "parent_code"];

/// A field of our model that `--field` can point at an attribute of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// An asset's id.
    Id,
    /// A jurisdiction's code.
    Code,
    Name,
    /// A jurisdiction's parent code.
    Parent,
    /// A jurisdiction's level (a level name or an admin_level number).
    Level,
    /// An asset's kind.
    Kind,
    /// An asset's owning department.
    Owner,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Id,
        Field::Code,
        Field::Name,
        Field::Parent,
        Field::Level,
        Field::Kind,
        Field::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Code => "code",
            Field::Name => "name",
            Field::Parent => "parent",
            Field::Level => "level",
            Field::Kind => "kind",
            Field::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Which attribute of the file holds which [`Field`], from `--field code=XZQDM,name=XZQMC`.
/// Fields not mapped are looked up by the default names (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap(BTreeMap<Field, String>);

impl FieldMap {
    /// Parses `FIELD=ATTRIBUTE` pairs separated by commas (also `:` instead of `=`); FIELD is one
    /// of id, code, name, parent, level, kind, owner. An empty string maps nothing.
    pub fn parse(s: &str) -> Result<FieldMap, String> {
        let mut map = BTreeMap::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, attr) = item
                .split_once(['=', ':'])
                .ok_or_else(|| format!("{item:?}: expected FIELD=ATTRIBUTE, e.g. code=XZQDM"))?;
            let field = Field::parse(key).ok_or_else(|| {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
                format!(
                    "{:?} is not a field; use one of {}",
                    key.trim(),
                    known.join(", ")
                )
            })?;
            let attr = attr.trim();
            if attr.is_empty() {
                return Err(format!("{item:?}: no attribute name after '='"));
            }
            if map.insert(field, attr.to_string()).is_some() {
                return Err(format!("{} is mapped twice", field.as_str()));
            }
        }
        Ok(FieldMap(map))
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        self.0.get(&field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same mapping with each attribute spelled as in `names` (matched ignoring ASCII
    /// case); the first field whose attribute is not there, and that attribute, if any.
    pub(crate) fn resolve(&self, names: &[String]) -> Result<FieldMap, (Field, String)> {
        let mut out = BTreeMap::new();
        for (field, attr) in self.iter() {
            let name = names
                .iter()
                .find(|n| n.as_str() == attr)
                .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(attr)))
                .ok_or_else(|| (field, attr.to_string()))?;
            out.insert(field, name.clone());
        }
        Ok(FieldMap(out))
    }

    /// The mapped fields and the attribute each names.
    pub fn iter(&self) -> impl Iterator<Item = (Field, &str)> {
        self.0.iter().map(|(f, a)| (*f, a.as_str()))
    }
}

impl fmt::Display for FieldMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("{}={v}", k.as_str()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// One feature as a reader found it.
pub(crate) struct Feature {
    /// 0-based position in the file.
    pub index: usize,
    /// The line it was on (newline-delimited GeoJSON only).
    pub line: Option<usize>,
    /// An id outside the properties (GeoJSON's `id` member).
    pub member_id: Option<String>,
    pub props: Map<String, Value>,
    /// The geometry, or why there is no usable one.
    pub geometry: Result<RawGeom, String>,
}

/// How a feature is named in the report: `#index`, plus its line and id when known.
pub(crate) fn label(index: usize, line: Option<usize>, id: Option<&str>) -> String {
    match (line, id) {
        (Some(line), Some(id)) => format!("#{index} (line {line}, id {id})"),
        (Some(line), None) => format!("#{index} (line {line})"),
        (None, Some(id)) => format!("#{index} (id {id})"),
        (None, None) => format!("#{index}"),
    }
}

/// A JSON scalar as text: strings as is, numbers and booleans printed; `None` for null, empty
/// strings, arrays and objects.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Removes and returns the first usable value among `keys`.
fn take_first(props: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    for key in keys {
        if let Some(text) = props.get(*key).and_then(scalar_text) {
            props.remove(*key);
            return Some(text);
        }
    }
    None
}

/// Takes the mapped attribute of `field` if there is a mapping, else the first of `defaults`.
fn take(
    props: &mut Map<String, Value>,
    fields: &FieldMap,
    field: Field,
    defaults: &[&str],
) -> Option<String> {
    match fields.get(field) {
        Some(attr) => take_first(props, &[attr]),
        None => take_first(props, defaults),
    }
}

fn id_prefix(layer: AssetLayer) -> &'static str {
    match layer {
        AssetLayer::Buildings => "B",
        AssetLayer::Roads => "R",
        AssetLayer::Pipelines => "P",
        AssetLayer::Pois => "POI",
    }
}

/// What dimension a layer's geometry must have (`None`: any).
fn layer_dim(layer: AssetLayer) -> Option<Dim> {
    match layer {
        AssetLayer::Buildings => Some(Dim::Area),
        AssetLayer::Roads | AssetLayer::Pipelines => Some(Dim::Line),
        AssetLayer::Pois => None,
    }
}

/// Maps one feature onto `target`, converting coordinates with `tf`; the asset or jurisdiction,
/// or the reason it was rejected, goes to `out`.
pub(crate) fn convert(
    out: &mut Collector,
    feature: Feature,
    target: &Target,
    tf: clean::Transform<'_>,
    fields: &FieldMap,
    default_owner: &str,
) {
    let Feature {
        index,
        line,
        member_id,
        mut props,
        geometry,
    } = feature;
    let label_of = |id: Option<&str>| label(index, line, id);
    match target {
        Target::Layer(layer) => {
            let id = match fields.get(Field::Id) {
                Some(attr) => take_first(&mut props, &[attr]).or(member_id),
                None => member_id.or_else(|| take_first(&mut props, &ID_KEYS)),
            }
            .unwrap_or_else(|| format!("{}-{index}", id_prefix(*layer)));
            let label = label_of(Some(&id));
            let cleaned = match geometry.and_then(|g| clean::clean(g, tf)) {
                Ok(c) => c,
                Err(why) => return out.reject(&label, why),
            };
            let dim = Dim::of(&cleaned.geometry);
            if let Some(want) = layer_dim(*layer) {
                if dim != want {
                    let reason = format!(
                        "a {} asset must be {}, but this geometry is {}",
                        layer.as_str(),
                        want.describe(),
                        dim.describe()
                    );
                    return out.reject(&label, reason);
                }
            }
            let asset = Asset {
                layer: *layer,
                id,
                name: take(&mut props, fields, Field::Name, &NAME_KEYS).unwrap_or_default(),
                kind: take(&mut props, fields, Field::Kind, &KIND_KEYS)
                    .unwrap_or_else(|| "unknown".into()),
                owner: take(&mut props, fields, Field::Owner, &OWNER_KEYS)
                    .unwrap_or_else(|| default_owner.to_string()),
                props: props.into(),
                geometry: cleaned.geometry,
            };
            out.asset(&label, asset, cleaned.repairs);
        }
        Target::Level(_) | Target::Levels(_) | Target::All(_) => {
            let code = match fields.get(Field::Code) {
                Some(attr) => take_first(&mut props, &[attr]).or(member_id),
                None => take_first(&mut props, &CODE_KEYS_FIRST)
                    .or(member_id)
                    .or_else(|| take_first(&mut props, &CODE_KEYS_THEN)),
            };
            let label = label_of(code.as_deref());
            let level = match target {
                Target::Level(l) => *l,
                Target::Levels(map) | Target::All(map) => match level_of(&props, fields, map) {
                    Ok(l) => l,
                    Err(why) => return out.reject(&label, why),
                },
                Target::Layer(_) => return,
            };
            let code = code.unwrap_or_else(|| format!("{}-{index}", level.as_str()));
            let cleaned = match geometry.and_then(|g| clean::clean(g, tf)) {
                Ok(c) => c,
                Err(why) => return out.reject(&label, why),
            };
            let geometry = match cleaned.geometry {
                geo::Geometry::Polygon(p) => geo::MultiPolygon::new(vec![p]),
                geo::Geometry::MultiPolygon(mp) => mp,
                other => {
                    let reason = format!(
                        "a jurisdiction must be a polygon, but this geometry is {}",
                        Dim::of(&other).describe()
                    );
                    return out.reject(&label, reason);
                }
            };
            let j = Jurisdiction {
                generated: false,
                level,
                code,
                name: take(&mut props, fields, Field::Name, &NAME_KEYS).unwrap_or_default(),
                parent: take(&mut props, fields, Field::Parent, &PARENT_KEYS),
                geometry,
            };
            out.jurisdiction(&label, j, cleaned.repairs);
        }
    }
}

/// A feature's level from its `level` (`street`, …) or `admin_level` property, or from the
/// attribute mapped to [`Field::Level`] (either a level name or an admin_level number).
fn level_of(
    props: &Map<String, Value>,
    fields: &FieldMap,
    map: &AdminLevels,
) -> Result<Level, String> {
    if let Some(attr) = fields.get(Field::Level) {
        let Some(text) = props.get(attr).and_then(scalar_text) else {
            return Err(format!("its {attr:?} attribute (the level) is empty"));
        };
        if let Some(l) = Level::parse(&text.to_ascii_lowercase()) {
            return Ok(l);
        }
        return match text.parse::<u8>().ok().and_then(|n| map.get(n)) {
            Some(l) => Ok(l),
            None => Err(format!(
                "its {attr:?} attribute is {text:?}, neither a level name nor a mapped admin_level"
            )),
        };
    }
    if let Some(text) = props.get("level").and_then(scalar_text) {
        if let Some(l) = Level::parse(&text.to_ascii_lowercase()) {
            return Ok(l);
        }
    }
    if let Some(text) = props.get("admin_level").and_then(scalar_text) {
        return match text.parse::<u8>().ok().and_then(|n| map.get(n)) {
            Some(l) => Ok(l),
            None => Err(format!("admin_level {text} is not mapped to a level")),
        };
    }
    Err("no \"level\" or \"admin_level\" property says which level this jurisdiction is".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn field_maps_parse_and_refuse_unknown_keys() {
        let m = FieldMap::parse("code=XZQDM, name:XZQMC,parent=FJDM").unwrap();
        assert_eq!(m.get(Field::Code), Some("XZQDM"));
        assert_eq!(m.get(Field::Name), Some("XZQMC"));
        assert_eq!(m.get(Field::Parent), Some("FJDM"));
        assert_eq!(m.get(Field::Owner), None);
        assert_eq!(m.to_string(), "code=XZQDM,name=XZQMC,parent=FJDM");
        let err = FieldMap::parse("code=XZQDM,title=MC").unwrap_err();
        assert!(err.contains("\"title\" is not a field"), "{err}");
        assert!(
            err.contains("id, code, name, parent, level, kind, owner"),
            "{err}"
        );
        assert!(FieldMap::parse("code")
            .unwrap_err()
            .contains("FIELD=ATTRIBUTE"));
        assert!(FieldMap::parse("code=").is_err());
        assert!(FieldMap::parse("code=A,code=B")
            .unwrap_err()
            .contains("twice"));
        assert!(FieldMap::parse("").unwrap().is_empty());
    }
}

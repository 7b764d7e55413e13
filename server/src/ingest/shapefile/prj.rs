//! The `.prj`: a CRS as WKT 1, in its ESRI or OGC flavour. Parsed into a tree of
//! `KEYWORD[args]` nodes, then read for what [`Projection`] needs: the `PROJECTION` name, its
//! `PARAMETER`s, the linear `UNIT`, the `SPHEROID` and whether the `GEOGCS` datum is WGS84 or
//! CGCS2000 (names or EPSG authority codes). Anything else is refused with what the file says.

use crate::ingest::projection::{Projection, TransverseMercator};

/// Deeper nesting than this is not WKT a shapefile writer produces.
const MAX_DEPTH: usize = 32;
/// A `.prj` longer than this is refused unread.
pub const MAX_PRJ_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Text(String),
    Num(f64),
    Node(Node),
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    keyword: String,
    args: Vec<Arg>,
}

impl Node {
    fn name(&self) -> &str {
        match self.args.first() {
            Some(Arg::Text(s)) => s,
            _ => "",
        }
    }

    fn children<'a, 'k: 'a>(&'a self, keyword: &'k str) -> impl Iterator<Item = &'a Node> + 'a {
        self.args.iter().filter_map(move |a| match a {
            Arg::Node(n) if n.keyword.eq_ignore_ascii_case(keyword) => Some(n),
            _ => None,
        })
    }

    fn child(&self, keyword: &str) -> Option<&Node> {
        self.args.iter().find_map(|a| match a {
            Arg::Node(n) if n.keyword.eq_ignore_ascii_case(keyword) => Some(n),
            _ => None,
        })
    }

    fn num(&self, i: usize) -> Option<f64> {
        match self.args.get(i) {
            Some(Arg::Num(v)) => Some(*v),
            _ => None,
        }
    }

    /// The `AUTHORITY["EPSG", "code"]` of this node.
    fn epsg(&self) -> Option<u32> {
        let auth = self.child("AUTHORITY")?;
        if !auth.name().eq_ignore_ascii_case("EPSG") {
            return None;
        }
        match auth.args.get(1) {
            Some(Arg::Text(s)) => s.trim().parse().ok(),
            Some(Arg::Num(v)) => Some(*v as u32),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(format!("WKT nested more than {MAX_DEPTH} levels deep"));
        }
        self.skip_ws();
        let start = self.at;
        while self.at < self.s.len()
            && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_')
        {
            self.at += 1;
        }
        let keyword = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
        if keyword.is_empty() {
            return Err(format!("expected a WKT keyword at byte {start}"));
        }
        self.skip_ws();
        let close = match self.s.get(self.at) {
            Some(b'[') => b']',
            Some(b'(') => b')',
            // A bare word argument such as EAST in AXIS["x",EAST].
            _ => {
                return Ok(Node {
                    keyword,
                    args: Vec::new(),
                })
            }
        };
        self.at += 1;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.at) {
                None => return Err(format!("{keyword}[ is never closed")),
                Some(&c) if c == close => {
                    self.at += 1;
                    return Ok(Node { keyword, args });
                }
                Some(b',') => self.at += 1,
                Some(b'"') => {
                    self.at += 1;
                    let start = self.at;
                    while self.at < self.s.len() && self.s[self.at] != b'"' {
                        self.at += 1;
                    }
                    if self.at >= self.s.len() {
                        return Err("a quoted string is never closed".into());
                    }
                    args.push(Arg::Text(
                        String::from_utf8_lossy(&self.s[start..self.at]).into_owned(),
                    ));
                    self.at += 1;
                }
                Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.') => {
                    let start = self.at;
                    while self.at < self.s.len()
                        && matches!(
                            self.s[self.at],
                            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                        )
                    {
                        self.at += 1;
                    }
                    let text = String::from_utf8_lossy(&self.s[start..self.at]);
                    let v = text
                        .parse::<f64>()
                        .map_err(|_| format!("{text:?} is not a number"))?;
                    args.push(Arg::Num(v));
                }
                Some(_) => args.push(Arg::Node(self.node(depth + 1)?)),
            }
        }
    }
}

fn parse_wkt(text: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    p.node(0)
}

/// Lowercase letters and digits only: `WGS_1984` and `WGS 84` compare as `wgs1984`, `wgs84`.
fn norm(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What a `.prj` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Prj {
    /// `None`: lon/lat degrees.
    pub projection: Option<Projection>,
    /// `Err(name)`: a datum other than WGS84 and CGCS2000, named as the file names it.
    pub datum: Result<(), String>,
    /// The CRS's own name, for messages.
    pub name: String,
}

/// Reads a `.prj`'s WKT. Errors say what the file names that cannot be converted.
pub fn parse(text: &str) -> Result<Prj, String> {
    let root = parse_wkt(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("the .prj is not WKT a shapefile uses: {e}"))?;
    let kw = root.keyword.to_ascii_uppercase();
    match kw.as_str() {
        "GEOGCS" => Ok(Prj {
            projection: None,
            datum: datum(&root),
            name: root.name().to_string(),
        }),
        "PROJCS" => {
            let geog = root
                .child("GEOGCS")
                .ok_or_else(|| format!("the .prj's PROJCS {:?} has no GEOGCS", root.name()))?;
            Ok(Prj {
                projection: Some(projection(&root, geog)?),
                datum: datum(geog),
                name: root.name().to_string(),
            })
        }
        _ => Err(format!(
            "the .prj holds a {kw} CRS ({:?}); only GEOGCS and PROJCS (WKT 1) are read",
            root.name()
        )),
    }
}

/// Ok for WGS84 and CGCS2000 (treated as WGS84), else the datum's name.
fn datum(geog: &Node) -> Result<(), String> {
    let datum = geog.child("DATUM");
    let codes = [geog.epsg(), datum.and_then(Node::epsg)];
    if codes
        .iter()
        .flatten()
        .any(|c| matches!(c, 4326 | 4490 | 6326 | 6490))
    {
        return Ok(());
    }
    let names = [norm(geog.name()), norm(datum.map_or("", Node::name))];
    let known = [
        "wgs1984",
        "wgs84",
        "worldgeodeticsystem1984",
        "china2000",
        "cgcs2000",
        "chinageodeticcoordinatesystem2000",
    ];
    if names.iter().any(|n| {
        known
            .iter()
            .any(|k| n == k || n == &format!("d{k}") || n == &format!("gcs{k}"))
    }) {
        return Ok(());
    }
    Err(datum.map_or(geog.name(), Node::name).to_string())
}

fn projection(root: &Node, geog: &Node) -> Result<Projection, String> {
    let method = root.child("PROJECTION").map(Node::name).unwrap_or_default();
    let param = |names: &[&str]| -> Option<f64> {
        root.children("PARAMETER")
            .find(|p| names.iter().any(|n| norm(p.name()) == *n))
            .and_then(|p| p.num(1))
    };
    // Metres per projected unit (the UNIT directly under PROJCS).
    let unit = root.child("UNIT").and_then(|u| u.num(1)).unwrap_or(1.0);
    if !(unit.is_finite() && unit > 0.0) {
        return Err(format!("the .prj gives a linear unit of {unit} metres"));
    }
    let fe = param(&["falseeasting"]).unwrap_or(0.0) * unit;
    let fnorth = param(&["falsenorthing"]).unwrap_or(0.0) * unit;
    let cm = param(&["centralmeridian", "longitudeofcenter", "longitudeoforigin"]).unwrap_or(0.0);
    let m = norm(method);
    let web = matches!(root.epsg(), Some(3857 | 900913 | 102100 | 102113))
        || ["webmercator", "pseudomercator", "auxiliarysphere"]
            .iter()
            .any(|k| norm(root.name()).contains(k));
    if m == "mercatorauxiliarysphere"
        || m == "popularvisualisationpseudomercator"
        || (web && m.starts_with("mercator"))
    {
        return Ok(Projection::WebMercator {
            central_meridian_deg: cm,
            false_easting_m: fe,
            false_northing_m: fnorth,
        });
    }
    if matches!(m.as_str(), "transversemercator" | "gausskruger") {
        let spheroid = geog
            .child("DATUM")
            .and_then(|d| d.child("SPHEROID"))
            .ok_or_else(|| format!("the .prj's {:?} gives no SPHEROID", root.name()))?;
        let (a, inv_f) = (spheroid.num(1), spheroid.num(2));
        let (Some(a), Some(inv_f)) = (a, inv_f) else {
            return Err(format!(
                "the .prj's SPHEROID {:?} has no axis and flattening",
                spheroid.name()
            ));
        };
        if !(a > 6_000_000.0 && a < 7_000_000.0 && inv_f > 100.0 && inv_f.is_finite()) {
            return Err(format!(
                "the .prj's SPHEROID {:?} ({a}, {inv_f}) is not an Earth ellipsoid",
                spheroid.name()
            ));
        }
        return Ok(Projection::TransverseMercator(TransverseMercator {
            semi_major_m: a,
            inverse_flattening: inv_f,
            central_meridian_deg: cm,
            latitude_of_origin_deg: param(&["latitudeoforigin"]).unwrap_or(0.0),
            scale_factor: param(&["scalefactor"]).unwrap_or(1.0),
            false_easting_m: fe,
            false_northing_m: fnorth,
        }));
    }
    Err(format!(
        "the .prj names the projection {method:?} (in {:?}), which onegrid cannot convert \
         (it reads transverse Mercator / Gauss–Krüger / UTM and Web Mercator)",
        root.name()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    const ESRI_GK_114: &str = r#"PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    const OGC_UTM49: &str = r#"PROJCS["WGS 84 / UTM zone 49N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",111],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","32649"]]"#;
    const ESRI_WEB: &str = r#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]"#;
    pub const BEIJING54_GK: &str = r#"PROJCS["Beijing_1954_3_Degree_GK_CM_114E",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    const LAMBERT: &str = r#"PROJCS["Asia_Lambert_Conformal_Conic",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["Central_Meridian",105.0],UNIT["Meter",1.0]]"#;

    #[test]
    fn reads_esri_and_ogc_wkt() {
        let p = parse(ESRI_GK_114).unwrap();
        assert_eq!(p.datum, Ok(()));
        let Some(Projection::TransverseMercator(tm)) = p.projection else {
            panic!("{p:?}")
        };
        assert_eq!(
            (tm.central_meridian_deg, tm.false_easting_m),
            (114.0, 500_000.0)
        );
        assert_eq!(tm.inverse_flattening, 298.257222101);
        let p = parse(OGC_UTM49).unwrap();
        let Some(Projection::TransverseMercator(tm)) = p.projection else {
            panic!("{p:?}")
        };
        assert_eq!((tm.central_meridian_deg, tm.scale_factor), (111.0, 0.9996));
        assert_eq!(
            parse(ESRI_WEB).unwrap().projection,
            Some(Projection::WEB_MERCATOR)
        );
        let geo = parse(r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#).unwrap();
        assert_eq!((geo.projection, geo.datum), (None, Ok(())));
    }

    #[test]
    fn unknown_datums_and_projections_are_named() {
        let p = parse(BEIJING54_GK).unwrap();
        assert_eq!(p.datum, Err("D_Beijing_1954".to_string()));
        assert!(p.projection.is_some());
        let err = parse(LAMBERT).unwrap_err();
        assert!(err.contains("Lambert_Conformal_Conic"), "{err}");
        assert!(parse("PROJCS[\"x\"").is_err());
        assert!(parse(&"A[".repeat(1000)).unwrap_err().contains("deep"));
        assert!(parse("").is_err());
    }
}

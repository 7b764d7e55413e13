//! Well-Known Binary for `geo` geometries: how geometry goes to and comes back from PostGIS
//! (`ST_GeomFromWKB($n, 4326)` and `ST_AsBinary(geometry)`). Coordinates are the f64 bits
//! themselves, so a round trip is exact.
//!
//! 2D only. Writes little-endian; reads either byte order (each nested geometry names its
//! own), and skips an EWKB SRID if one is there. Anything else — Z or M coordinates, an
//! unknown type, a count that does not fit the buffer, a truncated buffer, trailing bytes — is
//! [`StoreError::Corrupt`], never a panic.

use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};

use crate::store::{Result, StoreError};

const POINT: u32 = 1;
const LINE_STRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTI_POINT: u32 = 4;
const MULTI_LINE_STRING: u32 = 5;
const MULTI_POLYGON: u32 = 6;
const GEOMETRY_COLLECTION: u32 = 7;

/// EWKB flags (PostGIS's extended WKB): Z, M, and an SRID after the type.
const EWKB_Z: u32 = 0x8000_0000;
const EWKB_M: u32 = 0x4000_0000;
const EWKB_SRID: u32 = 0x2000_0000;

/// How deep geometry collections may nest before the input is taken for garbage.
const MAX_DEPTH: usize = 64;

/// The geometry as little-endian WKB. `Line`, `Rect` and `Triangle` become a LineString and
/// Polygons, as they do in GeoJSON (and so in the SQLite store).
pub fn encode(g: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    write_geometry(&mut out, g);
    out
}

/// A multipolygon as little-endian WKB (a jurisdiction's geometry), without cloning it into a
/// [`Geometry`] first.
pub fn encode_multi_polygon(m: &MultiPolygon<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    write_multi_polygon(&mut out, m);
    out
}

/// The geometry in `bytes`, which must hold exactly one WKB geometry.
pub fn decode(bytes: &[u8]) -> Result<Geometry<f64>> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let g = r.geometry(0)?;
    if r.pos != bytes.len() {
        return Err(corrupt(format!(
            "{} bytes left over after the geometry",
            bytes.len() - r.pos
        )));
    }
    Ok(g)
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(format!("WKB geometry: {what}"))
}

fn write_header(out: &mut Vec<u8>, kind: u32) {
    out.push(1);
    out.extend_from_slice(&kind.to_le_bytes());
}

fn write_count(out: &mut Vec<u8>, n: usize) {
    // A geometry of more than 4 billion parts cannot be built in memory anyway; saturate rather
    // than wrap (the reader then fails on the short buffer instead of misreading it).
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

fn write_coord(out: &mut Vec<u8>, c: Coord<f64>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn write_coords(out: &mut Vec<u8>, line: &LineString<f64>) {
    write_count(out, line.0.len());
    for c in &line.0 {
        write_coord(out, *c);
    }
}

fn write_polygon(out: &mut Vec<u8>, p: &Polygon<f64>) {
    write_header(out, POLYGON);
    // An empty exterior with no holes is the empty polygon: no rings at all.
    if p.exterior().0.is_empty() && p.interiors().is_empty() {
        write_count(out, 0);
        return;
    }
    write_count(out, 1 + p.interiors().len());
    write_coords(out, p.exterior());
    for ring in p.interiors() {
        write_coords(out, ring);
    }
}

fn write_line_string(out: &mut Vec<u8>, l: &LineString<f64>) {
    write_header(out, LINE_STRING);
    write_coords(out, l);
}

fn write_point(out: &mut Vec<u8>, p: &Point<f64>) {
    write_header(out, POINT);
    write_coord(out, p.0);
}

fn write_multi_polygon(out: &mut Vec<u8>, m: &MultiPolygon<f64>) {
    write_header(out, MULTI_POLYGON);
    write_count(out, m.0.len());
    for p in &m.0 {
        write_polygon(out, p);
    }
}

fn write_geometry(out: &mut Vec<u8>, g: &Geometry<f64>) {
    match g {
        Geometry::Point(p) => write_point(out, p),
        Geometry::Line(l) => write_line_string(out, &LineString(vec![l.start, l.end])),
        Geometry::LineString(l) => write_line_string(out, l),
        Geometry::Polygon(p) => write_polygon(out, p),
        Geometry::MultiPoint(m) => {
            write_header(out, MULTI_POINT);
            write_count(out, m.0.len());
            for p in &m.0 {
                write_point(out, p);
            }
        }
        Geometry::MultiLineString(m) => {
            write_header(out, MULTI_LINE_STRING);
            write_count(out, m.0.len());
            for l in &m.0 {
                write_line_string(out, l);
            }
        }
        Geometry::MultiPolygon(m) => write_multi_polygon(out, m),
        Geometry::GeometryCollection(c) => {
            write_header(out, GEOMETRY_COLLECTION);
            write_count(out, c.0.len());
            for g in &c.0 {
                write_geometry(out, g);
            }
        }
        Geometry::Rect(r) => write_polygon(out, &r.to_polygon()),
        Geometry::Triangle(t) => write_polygon(out, &t.to_polygon()),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self
            .pos
            .checked_add(N)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| {
                corrupt(format!(
                    "truncated: {N} more bytes wanted at offset {} of {}",
                    self.pos,
                    self.buf.len()
                ))
            })?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        self.pos += N;
        Ok(out)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u32(&mut self, little: bool) -> Result<u32> {
        let b = self.take::<4>()?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64> {
        let b = self.take::<8>()?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count of items of at least `min_size` bytes each, checked against what is left (so a
    /// corrupt count never makes a huge allocation).
    fn count(&mut self, little: bool, min_size: usize) -> Result<usize> {
        let n = self.u32(little)?;
        let n = usize::try_from(n).map_err(|_| corrupt(format!("count {n} too large")))?;
        if n.saturating_mul(min_size) > self.remaining() {
            return Err(corrupt(format!(
                "truncated: {n} items announced at offset {}, {} bytes left",
                self.pos,
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn coord(&mut self, little: bool) -> Result<Coord<f64>> {
        Ok(Coord {
            x: self.f64(little)?,
            y: self.f64(little)?,
        })
    }

    fn coords(&mut self, little: bool) -> Result<LineString<f64>> {
        let n = self.count(little, 16)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.coord(little)?);
        }
        Ok(LineString(out))
    }

    /// A byte-order mark and a type; returns (little-endian, 2D type code).
    fn header(&mut self) -> Result<(bool, u32)> {
        let order = self.take::<1>()?[0];
        let little = match order {
            0 => false,
            1 => true,
            other => {
                return Err(corrupt(format!(
                    "byte order {other} at offset {}",
                    self.pos
                )))
            }
        };
        let raw = self.u32(little)?;
        let kind = raw & !EWKB_SRID;
        // ISO WKB numbers Z, M and ZM types from 1000 up; EWKB sets a flag.
        if (raw & (EWKB_Z | EWKB_M)) != 0 || kind >= 1000 {
            return Err(corrupt(format!(
                "type {raw:#x} has Z or M coordinates; only 2D is stored"
            )));
        }
        if raw & EWKB_SRID != 0 {
            // PostGIS's EWKB puts the SRID here; the column already fixes it.
            self.u32(little)?;
        }
        Ok((little, kind))
    }

    fn geometry(&mut self, depth: usize) -> Result<Geometry<f64>> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!(
                "collections nested more than {MAX_DEPTH} deep"
            )));
        }
        let at = self.pos;
        let (little, kind) = self.header()?;
        Ok(match kind {
            POINT => Geometry::Point(Point(self.coord(little)?)),
            LINE_STRING => Geometry::LineString(self.coords(little)?),
            POLYGON => Geometry::Polygon(self.polygon_body(little)?),
            MULTI_POINT => {
                let n = self.count(little, 21)?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry(depth + 1)? {
                        Geometry::Point(p) => out.push(p),
                        other => return Err(wrong_part("MultiPoint", &other)),
                    }
                }
                Geometry::MultiPoint(MultiPoint(out))
            }
            MULTI_LINE_STRING => {
                let n = self.count(little, 9)?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry(depth + 1)? {
                        Geometry::LineString(l) => out.push(l),
                        other => return Err(wrong_part("MultiLineString", &other)),
                    }
                }
                Geometry::MultiLineString(MultiLineString(out))
            }
            MULTI_POLYGON => {
                let n = self.count(little, 9)?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry(depth + 1)? {
                        Geometry::Polygon(p) => out.push(p),
                        other => return Err(wrong_part("MultiPolygon", &other)),
                    }
                }
                Geometry::MultiPolygon(MultiPolygon(out))
            }
            GEOMETRY_COLLECTION => {
                let n = self.count(little, 9)?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.geometry(depth + 1)?);
                }
                Geometry::GeometryCollection(GeometryCollection(out))
            }
            other => {
                return Err(corrupt(format!(
                    "unknown geometry type {other} at offset {at}"
                )))
            }
        })
    }

    fn polygon_body(&mut self, little: bool) -> Result<Polygon<f64>> {
        let n = self.count(little, 4)?;
        let mut rings = Vec::with_capacity(n);
        for _ in 0..n {
            rings.push(self.coords(little)?);
        }
        let mut rings = rings.into_iter();
        let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
        Ok(Polygon::new(exterior, rings.collect()))
    }
}

fn wrong_part(multi: &str, part: &Geometry<f64>) -> StoreError {
    let kind = match part {
        Geometry::Point(_) => "Point",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        _ => "another geometry",
    };
    corrupt(format!("a {multi} holds a {kind}"))
}

#[cfg(test)]
mod tests {
    use geo::{line_string, point, polygon};

    use super::*;

    /// Equal down to the bits of every coordinate (so -0.0 and NaN are checked too).
    fn bits(g: &Geometry<f64>) -> Vec<u64> {
        use geo::CoordsIter;
        g.coords_iter()
            .flat_map(|c| [c.x.to_bits(), c.y.to_bits()])
            .collect()
    }

    fn round_trip(g: Geometry<f64>) {
        let bytes = encode(&g);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back, g);
        assert_eq!(bits(&back), bits(&g));
        assert_eq!(encode(&back), bytes, "encoding is stable");
    }

    fn square(x: f64, y: f64) -> Polygon<f64> {
        polygon![
            (x: x, y: y),
            (x: x + 0.1, y: y),
            (x: x + 0.1, y: y + 0.1),
            (x: x, y: y + 0.1),
            (x: x, y: y),
        ]
    }

    fn samples() -> Vec<Geometry<f64>> {
        let awkward = [
            113.012_345_678_901_23,
            -0.0,
            f64::MIN_POSITIVE,
            1e-300,
            f64::MAX,
            0.1 + 0.2,
        ];
        let holed = Polygon::new(
            square(0.0, 0.0).exterior().clone(),
            vec![line_string![
                (x: 0.02, y: 0.02),
                (x: 0.03, y: 0.02),
                (x: 0.03, y: 0.03),
                (x: 0.02, y: 0.02),
            ]],
        );
        vec![
            Geometry::Point(point!(x: awkward[0], y: 23.001)),
            Geometry::Point(point!(x: awkward[1], y: awkward[2])),
            Geometry::LineString(line_string![
                (x: awkward[3], y: awkward[4]),
                (x: awkward[5], y: 23.07),
                (x: 113.1, y: -23.0),
            ]),
            Geometry::LineString(LineString(vec![])),
            Geometry::Polygon(square(113.0, 23.0)),
            Geometry::Polygon(holed.clone()),
            Geometry::Polygon(Polygon::new(LineString(vec![]), vec![])),
            Geometry::MultiPoint(MultiPoint(vec![
                point!(x: 1.0, y: 2.0),
                point!(x: 3.5, y: -4.25),
            ])),
            Geometry::MultiPoint(MultiPoint(vec![])),
            Geometry::MultiLineString(MultiLineString(vec![
                line_string![(x: 113.0, y: 23.0), (x: 113.01, y: 23.0)],
                line_string![(x: 113.02, y: 23.0), (x: 113.03, y: 23.01)],
            ])),
            Geometry::MultiPolygon(MultiPolygon(vec![square(1.0, 1.0), holed])),
            Geometry::MultiPolygon(MultiPolygon(vec![])),
            Geometry::GeometryCollection(GeometryCollection(vec![
                Geometry::Point(point!(x: 1.0, y: 2.0)),
                Geometry::Polygon(square(5.0, 5.0)),
                Geometry::GeometryCollection(GeometryCollection(vec![Geometry::LineString(
                    line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)],
                )])),
            ])),
            Geometry::GeometryCollection(GeometryCollection(vec![])),
        ]
    }

    #[test]
    fn every_type_round_trips_bit_exactly() {
        for g in samples() {
            round_trip(g);
        }
    }

    #[test]
    fn nan_coordinates_keep_their_bits() {
        let g = Geometry::Point(point!(x: f64::NAN, y: f64::NAN));
        let back = decode(&encode(&g)).expect("decodes");
        assert_eq!(bits(&back), bits(&g));
    }

    #[test]
    fn shapes_without_a_wkb_type_are_written_as_geojson_writes_them() {
        let line = geo::Line::new((1.0, 2.0), (3.0, 4.0));
        assert_eq!(
            decode(&encode(&Geometry::Line(line))).expect("line"),
            Geometry::LineString(line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)])
        );
        let rect = geo::Rect::new((0.0, 0.0), (1.0, 2.0));
        assert_eq!(
            decode(&encode(&Geometry::Rect(rect))).expect("rect"),
            Geometry::Polygon(rect.to_polygon())
        );
        let tri = geo::Triangle::new((0.0, 0.0).into(), (1.0, 0.0).into(), (0.0, 1.0).into());
        assert_eq!(
            decode(&encode(&Geometry::Triangle(tri))).expect("triangle"),
            Geometry::Polygon(tri.to_polygon())
        );
    }

    #[test]
    fn big_endian_and_ewkb_with_an_srid_are_read() {
        // POINT(1 2), big-endian.
        let mut be = vec![0u8];
        be.extend_from_slice(&POINT.to_be_bytes());
        be.extend_from_slice(&1.0f64.to_be_bytes());
        be.extend_from_slice(&2.0f64.to_be_bytes());
        assert_eq!(
            decode(&be).expect("be"),
            Geometry::Point(point!(x: 1.0, y: 2.0))
        );
        // A little-endian multipoint holding a big-endian point.
        let mut mixed = vec![1u8];
        mixed.extend_from_slice(&MULTI_POINT.to_le_bytes());
        mixed.extend_from_slice(&1u32.to_le_bytes());
        mixed.extend_from_slice(&be);
        assert_eq!(
            decode(&mixed).expect("mixed"),
            Geometry::MultiPoint(MultiPoint(vec![point!(x: 1.0, y: 2.0)]))
        );
        // EWKB with SRID 4326.
        let mut ewkb = vec![1u8];
        ewkb.extend_from_slice(&(POINT | EWKB_SRID).to_le_bytes());
        ewkb.extend_from_slice(&4326u32.to_le_bytes());
        ewkb.extend_from_slice(&1.0f64.to_le_bytes());
        ewkb.extend_from_slice(&2.0f64.to_le_bytes());
        assert_eq!(
            decode(&ewkb).expect("ewkb"),
            Geometry::Point(point!(x: 1.0, y: 2.0))
        );
    }

    #[test]
    fn a_truncated_buffer_is_an_error_at_every_length() {
        for g in samples() {
            let bytes = encode(&g);
            for n in 0..bytes.len() {
                assert!(
                    matches!(decode(&bytes[..n]), Err(StoreError::Corrupt(_))),
                    "{g:?} cut to {n} bytes"
                );
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut trailing = encode(&Geometry::Point(point!(x: 1.0, y: 2.0)));
        trailing.push(0);
        let mut huge = vec![1u8];
        huge.extend_from_slice(&LINE_STRING.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut z = vec![1u8];
        z.extend_from_slice(&1001u32.to_le_bytes());
        z.extend_from_slice(&[0u8; 24]);
        let mut wrong = vec![1u8];
        wrong.extend_from_slice(&MULTI_POINT.to_le_bytes());
        wrong.extend_from_slice(&1u32.to_le_bytes());
        wrong.extend_from_slice(&encode(&Geometry::LineString(line_string![
            (x: 0.0, y: 0.0),
            (x: 1.0, y: 1.0),
        ])));
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.push(1u8);
            deep.extend_from_slice(&GEOMETRY_COLLECTION.to_le_bytes());
            deep.extend_from_slice(&1u32.to_le_bytes());
        }
        for bad in [
            trailing,
            huge,
            z,
            wrong,
            deep,
            vec![2, 1, 0, 0, 0],
            vec![1, 99, 0, 0, 0],
        ] {
            assert!(
                matches!(decode(&bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}

//! The `.shp` geometry file and its `.shx` index (ESRI Shapefile Technical Description, 1998).
//!
//! Both open with the same 100-byte header: big-endian file code 9994 and file length (in 16-bit
//! words), then little-endian version, shape type and bounding box. `.shp` records are a
//! big-endian (number, content length) header and little-endian content; `.shx` records are
//! big-endian (offset, content length) pairs, both in words. Every length read from the file is
//! checked against the bytes actually there before anything is allocated, so hostile input costs
//! at most its own size. Z and M values are skipped.

use geo::Coord;

use crate::ingest::clean::RawGeom;
use crate::ingest::IngestError;

/// The file code every `.shp` and `.shx` starts with.
pub const FILE_CODE: i32 = 9994;
const HEADER_LEN: usize = 100;
/// (hole, outer ring) bounding-box comparisons allowed per record when assigning holes.
const HOLE_ASSIGN_BUDGET: u64 = 20_000_000;

/// Shape types (the Z and M variants read like their plain one).
fn shape_name(t: i32) -> &'static str {
    match t {
        0 => "null",
        1 => "point",
        3 => "polyline",
        5 => "polygon",
        8 => "multipoint",
        11 => "pointZ",
        13 => "polylineZ",
        15 => "polygonZ",
        18 => "multipointZ",
        21 => "pointM",
        23 => "polylineM",
        25 => "polygonM",
        28 => "multipointM",
        31 => "multipatch",
        _ => "unknown",
    }
}

/// The plain type (1, 3, 5, 8) of a supported shape type, 0 for null.
fn base_type(t: i32) -> Option<i32> {
    match t {
        0 => Some(0),
        1 | 11 | 21 => Some(1),
        3 | 13 | 23 => Some(3),
        5 | 15 | 25 => Some(5),
        8 | 18 | 28 => Some(8),
        _ => None,
    }
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(w)
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    i32::from_le_bytes(w)
}

fn le_f64(b: &[u8], at: usize) -> f64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(w)
}

/// Whether `bytes` start with the shapefile file code.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && be_i32(bytes, 0) == FILE_CODE
}

/// A `.shp` checked header: its shape type (plain: 0, 1, 3, 5 or 8).
pub struct Header {
    pub base_type: i32,
}

/// Checks the 100-byte header shared by `.shp` and `.shx`; `what` names the file in messages.
pub fn header(file: &str, bytes: &[u8], what: &str) -> Result<Header, IngestError> {
    let corrupt = |reason: String| IngestError::CorruptShapefile {
        file: file.into(),
        reason,
    };
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(format!(
            "the {what} is {} bytes, shorter than its 100-byte header",
            bytes.len()
        )));
    }
    let code = be_i32(bytes, 0);
    if code != FILE_CODE {
        return Err(corrupt(format!(
            "the {what} starts with file code {code}, not {FILE_CODE}"
        )));
    }
    let shape_type = le_i32(bytes, 32);
    let base = base_type(shape_type).ok_or_else(|| IngestError::UnsupportedShapeType {
        file: file.into(),
        shape_type,
        name: shape_name(shape_type),
    })?;
    Ok(Header { base_type: base })
}

/// Where each `.shx` entry says its record is: byte offset and content length in bytes.
pub fn index(file: &str, shx: &[u8]) -> Result<Vec<(u64, u64)>, IngestError> {
    header(file, shx, ".shx")?;
    let body = &shx[HEADER_LEN..];
    if !body.len().is_multiple_of(8) {
        return Err(IngestError::CorruptShapefile {
            file: file.into(),
            reason: format!(
                "the .shx holds {} bytes after its header, not a whole number of 8-byte entries \
                 (is it truncated?)",
                body.len()
            ),
        });
    }
    Ok(body
        .chunks_exact(8)
        .map(|e| {
            (
                u64::from(be_i32(e, 0) as u32) * 2,
                u64::from(be_i32(e, 4) as u32) * 2,
            )
        })
        .collect())
}

/// One `.shp` record: where it is and its content.
pub struct Record<'a> {
    pub offset: u64,
    pub content: &'a [u8],
}

/// Splits the `.shp` into its records, checking each against the `.shx` entry of the same
/// number. Fails on the first truncated record or disagreement.
pub fn records<'a>(
    file: &str,
    shp: &'a [u8],
    index: &[(u64, u64)],
) -> Result<Vec<Record<'a>>, IngestError> {
    let mut out = Vec::with_capacity(index.len().min(shp.len() / 12));
    let mut at = HEADER_LEN;
    let truncated = |record: usize, offset: usize, reason: String| IngestError::TruncatedShp {
        file: file.into(),
        record,
        offset: offset as u64,
        reason,
    };
    while at < shp.len() {
        let n = out.len();
        if shp.len() - at < 8 {
            return Err(truncated(
                n,
                at,
                format!("only {} bytes of the 8-byte record header", shp.len() - at),
            ));
        }
        let len = u64::from(be_i32(shp, at + 4) as u32) * 2;
        let available = (shp.len() - at - 8) as u64;
        if len > available {
            return Err(truncated(
                n,
                at,
                format!("the record declares {len} bytes of content but {available} remain"),
            ));
        }
        match index.get(n) {
            None => {
                return Err(IngestError::ShxMismatch {
                    file: file.into(),
                    record: n,
                    reason: format!(
                        "the .shx lists {} records but the .shp has more",
                        index.len()
                    ),
                })
            }
            Some(&(offset, shx_len)) if offset != at as u64 || shx_len != len => {
                return Err(IngestError::ShxMismatch {
                    file: file.into(),
                    record: n,
                    reason: format!(
                        "the .shx says byte {offset}, {shx_len} bytes; the .shp has it at byte \
                         {at}, {len} bytes"
                    ),
                })
            }
            Some(_) => {}
        }
        let start = at + 8;
        let end = start + len as usize;
        out.push(Record {
            offset: at as u64,
            content: &shp[start..end],
        });
        at = end;
    }
    if out.len() != index.len() {
        return Err(IngestError::ShxMismatch {
            file: file.into(),
            record: out.len(),
            reason: format!(
                "the .shx lists {} records but the .shp ends after {} (is the .shp truncated?)",
                index.len(),
                out.len()
            ),
        });
    }
    Ok(out)
}

/// Reads a record's content into a raw geometry, or why it has none. `file_type` is the plain
/// type of the file's header.
pub fn geometry(content: &[u8], file_type: i32) -> Result<RawGeom, String> {
    if content.len() < 4 {
        return Err(format!(
            "the record holds {} bytes, too few for a shape type",
            content.len()
        ));
    }
    let t = le_i32(content, 0);
    let Some(base) = base_type(t) else {
        return Err(format!(
            "shape type {t} ({}) is not supported",
            shape_name(t)
        ));
    };
    if base == 0 {
        return Err("the record holds a null shape (no geometry)".into());
    }
    if base != file_type {
        return Err(format!(
            "the record is a {} but the file holds {}s",
            shape_name(t),
            shape_name(file_type)
        ));
    }
    let short = |need: usize| {
        format!(
            "the {} record needs {need} bytes but holds {}",
            shape_name(t),
            content.len()
        )
    };
    match base {
        1 => {
            if content.len() < 20 {
                return Err(short(20));
            }
            Ok(RawGeom::Point(coord(content, 4)))
        }
        8 => {
            if content.len() < 40 {
                return Err(short(40));
            }
            let n = count(content, 36)?;
            let need = 40 + 16 * n;
            if content.len() < need {
                return Err(short(need));
            }
            Ok(RawGeom::MultiPoint(
                (0..n).map(|i| coord(content, 40 + 16 * i)).collect(),
            ))
        }
        _ => {
            if content.len() < 44 {
                return Err(short(44));
            }
            let parts = count(content, 36)?;
            let points = count(content, 40)?;
            let need = 44 + 4 * parts + 16 * points;
            if content.len() < need {
                return Err(short(need));
            }
            let mut starts = Vec::with_capacity(parts);
            for i in 0..parts {
                let s = le_i32(content, 44 + 4 * i);
                let prev = starts.last().copied().unwrap_or(0);
                if s < 0 || (s as usize) < prev || s as usize > points || (i == 0 && s != 0) {
                    return Err(format!(
                        "part {i} starts at point {s}, outside 0..{points} or out of order"
                    ));
                }
                starts.push(s as usize);
            }
            if parts == 0 || points == 0 {
                return Err(format!("the {} has no points", shape_name(t)));
            }
            let base_at = 44 + 4 * parts;
            let rings: Vec<Vec<Coord>> = (0..parts)
                .map(|i| {
                    let end = starts.get(i + 1).copied().unwrap_or(points);
                    (starts[i]..end)
                        .map(|p| coord(content, base_at + 16 * p))
                        .collect()
                })
                .filter(|r: &Vec<Coord>| !r.is_empty())
                .collect();
            if base == 3 {
                return Ok(if rings.len() == 1 {
                    RawGeom::LineString(rings.into_iter().flatten().collect())
                } else {
                    RawGeom::MultiLineString(rings)
                });
            }
            polygons(rings)
        }
    }
}

fn coord(b: &[u8], at: usize) -> Coord {
    Coord {
        x: le_f64(b, at),
        y: le_f64(b, at + 8),
    }
}

fn count(b: &[u8], at: usize) -> Result<usize, String> {
    let n = le_i32(b, at);
    usize::try_from(n).map_err(|_| format!("a negative count ({n})"))
}

/// Twice the signed area (shoelace): negative for a clockwise ring.
fn signed_area2(ring: &[Coord]) -> f64 {
    let Some(first) = ring.first() else {
        return 0.0;
    };
    // Relative to the first point, which keeps large projected coordinates precise.
    ring.windows(2)
        .map(|w| {
            let (a, b) = (w[0] - *first, w[1] - *first);
            a.x * b.y - b.x * a.y
        })
        .sum()
}

fn bbox(ring: &[Coord]) -> (Coord, Coord) {
    let mut lo = Coord {
        x: f64::INFINITY,
        y: f64::INFINITY,
    };
    let mut hi = Coord {
        x: f64::NEG_INFINITY,
        y: f64::NEG_INFINITY,
    };
    for c in ring {
        lo.x = lo.x.min(c.x);
        lo.y = lo.y.min(c.y);
        hi.x = hi.x.max(c.x);
        hi.y = hi.y.max(c.y);
    }
    (lo, hi)
}

/// Even-odd point in ring.
fn inside(p: Coord, ring: &[Coord]) -> bool {
    let mut odd = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            odd = !odd;
        }
    }
    odd
}

/// Groups polygon rings: clockwise rings are outers, counter-clockwise ones holes, each hole
/// going to the smallest outer that contains it. A hole no outer contains becomes an outer of
/// its own (writers that ignore orientation do this).
fn polygons(rings: Vec<Vec<Coord>>) -> Result<RawGeom, String> {
    let (mut outers, mut holes) = (Vec::new(), Vec::new());
    for r in rings {
        if signed_area2(&r) < 0.0 {
            outers.push(vec![r]);
        } else {
            holes.push(r);
        }
    }
    let boxes: Vec<(Coord, Coord, f64)> = outers
        .iter()
        .map(|o| {
            let (lo, hi) = bbox(&o[0]);
            (lo, hi, signed_area2(&o[0]).abs())
        })
        .collect();
    let mut budget = HOLE_ASSIGN_BUDGET;
    let mut orphans = Vec::new();
    for hole in holes {
        budget = budget.saturating_sub(boxes.len() as u64 + 1);
        if budget == 0 {
            return Err("too many rings to sort holes into their outer rings".into());
        }
        let (hlo, hhi) = bbox(&hole);
        let probe = hole[0];
        let mut best: Option<(usize, f64)> = None;
        for (i, (lo, hi, area)) in boxes.iter().enumerate() {
            let fits = lo.x <= hlo.x && lo.y <= hlo.y && hi.x >= hhi.x && hi.y >= hhi.y;
            if !fits || best.is_some_and(|(_, a)| a <= *area) {
                continue;
            }
            budget = budget.saturating_sub(outers[i][0].len() as u64);
            let probe = hole
                .iter()
                .copied()
                .find(|c| !outers[i][0].contains(c))
                .unwrap_or(probe);
            if inside(probe, &outers[i][0]) {
                best = Some((i, *area));
            }
        }
        match best {
            Some((i, _)) => outers[i].push(hole),
            None => orphans.push(vec![hole]),
        }
    }
    outers.extend(orphans);
    Ok(if outers.len() == 1 {
        RawGeom::Polygon(outers.into_iter().flatten().collect())
    } else {
        RawGeom::MultiPolygon(outers)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ring(pts: &[(f64, f64)]) -> Vec<Coord> {
        pts.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    /// Clockwise square (an outer ring in shapefile terms).
    fn cw(x0: f64, y0: f64, s: f64) -> Vec<Coord> {
        ring(&[
            (x0, y0),
            (x0, y0 + s),
            (x0 + s, y0 + s),
            (x0 + s, y0),
            (x0, y0),
        ])
    }

    fn ccw(x0: f64, y0: f64, s: f64) -> Vec<Coord> {
        let mut r = cw(x0, y0, s);
        r.reverse();
        r
    }

    #[test]
    fn holes_go_to_the_outer_ring_that_contains_them() {
        // Two outers; the hole of the second listed first, a nested island inside a hole.
        let rings = vec![
            ccw(12.0, 2.0, 2.0),
            cw(0.0, 0.0, 10.0),
            cw(10.0, 0.0, 10.0),
            ccw(2.0, 2.0, 3.0),
        ];
        let RawGeom::MultiPolygon(polys) = polygons(rings).unwrap() else {
            panic!("not a multipolygon")
        };
        assert_eq!(polys.len(), 2);
        assert_eq!(polys[0].len(), 2, "first outer and its hole");
        assert_eq!(polys[0][1], ccw(2.0, 2.0, 3.0));
        assert_eq!(polys[1][1], ccw(12.0, 2.0, 2.0));
        // A hole outside every outer becomes an outer.
        let RawGeom::MultiPolygon(polys) =
            polygons(vec![cw(0.0, 0.0, 1.0), ccw(5.0, 5.0, 1.0)]).unwrap()
        else {
            panic!()
        };
        assert_eq!(polys.len(), 2);
        let RawGeom::Polygon(p) = polygons(vec![cw(0.0, 0.0, 4.0), ccw(1.0, 1.0, 1.0)]).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn hostile_records_are_reasons_not_panics() {
        let mut rec = vec![0u8; 44];
        rec[0..4].copy_from_slice(&5i32.to_le_bytes());
        rec[36..40].copy_from_slice(&1i32.to_le_bytes());
        rec[40..44].copy_from_slice(&i32::MAX.to_le_bytes());
        let err = geometry(&rec, 5).unwrap_err();
        assert!(err.contains("needs"), "{err}");
        rec[40..44].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(geometry(&rec, 5).unwrap_err().contains("negative"));
        assert!(geometry(&[1, 0], 5).is_err());
        assert!(geometry(&31i32.to_le_bytes(), 5)
            .unwrap_err()
            .contains("multipatch"));
        assert!(geometry(&1i32.to_le_bytes(), 5).is_err());
        // A record header declaring more than the file holds.
        let mut shp = vec![0u8; 100];
        shp[0..4].copy_from_slice(&FILE_CODE.to_be_bytes());
        shp.extend_from_slice(&1i32.to_be_bytes());
        shp.extend_from_slice(&i32::MAX.to_be_bytes());
        let err = records("x.shp", &shp, &[(100, 10)]).err().unwrap();
        assert!(
            matches!(
                err,
                IngestError::TruncatedShp {
                    record: 0,
                    offset: 100,
                    ..
                }
            ),
            "{err}"
        );
    }
}

//! ESRI Shapefile input: the `.shp` geometry ([`shp`]), its `.shx` index (required; every record
//! offset is checked against it), the `.dbf` attribute table ([`dbf`], required, one record per
//! shape), and the optional `.prj` ([`prj`], the CRS as WKT) and `.cpg` (the attribute encoding).
//! The sibling files share the `.shp`'s stem; their extensions may be in any case.
//!
//! Attribute text encoding: a `.cpg` naming UTF-8 (or 65001) means UTF-8; GBK, CP936, 936,
//! GB2312 or GB18030 mean GB18030 (a superset of GBK); another label `encoding_rs` knows is used
//! as named. Without a usable `.cpg`, a DBF language driver id of 0x4D or 0x7A (code page 936)
//! means GBK; otherwise the table is read as UTF-8 if it all is valid UTF-8, else as GBK (the
//! common case of undeclared Chinese files).
//!
//! Coordinates: the `.prj` must name WGS84 or CGCS2000 (treated as WGS84) lon/lat, Web Mercator,
//! or a transverse Mercator projection (Gauss–Krüger, UTM) on those datums; anything else, and
//! a missing `.prj`, is refused unless `--crs` says what the coordinates are ([`CrsChoice`]).
//! Each record then goes through the same mapping and cleaning as a GeoJSON feature
//! ([`feature::convert`]), named `#index` (its record number, 0-based) in the report; records
//! marked deleted in the `.dbf` are skipped.

mod dbf;
mod prj;
mod shp;

use std::path::{Path, PathBuf};

use encoding_rs::Encoding;

use super::feature::{self, Feature, FieldMap};
use super::projection::{self, EpsgCrs, Projection};
use super::{crs, Collector, Crs, CrsChoice, Imported, IngestError, Progress, ReadOptions};

pub use shp::has_magic;

/// Reads the shapefile whose `.shp` is `path` (or whose stem it shares) with its siblings.
pub fn read(
    path: &Path,
    options: &ReadOptions,
    progress: Progress<'_>,
) -> Result<Imported, IngestError> {
    let file = path.display().to_string();
    let parts = Parts::find(path)?;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| IngestError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let shp_path = parts
        .shp
        .clone()
        .ok_or_else(|| parts.missing(&file, "shp"))?;
    let shx_path = parts
        .shx
        .clone()
        .ok_or_else(|| parts.missing(&file, "shx"))?;
    let dbf_path = parts
        .dbf
        .clone()
        .ok_or_else(|| parts.missing(&file, "dbf"))?;
    let shp_bytes = read(&shp_path)?;
    let shx_bytes = read(&shx_path)?;
    let dbf_bytes = read(&dbf_path)?;
    let prj_text = match &parts.prj {
        Some(p) => Some(read_text(&file, p, &read)?),
        None => None,
    };
    let cpg_text = match &parts.cpg {
        Some(p) => Some(read_text(&file, p, &read)?),
        None => None,
    };

    let header = shp::header(&file, &shp_bytes, ".shp")?;
    let index = shp::index(&file, &shx_bytes)?;
    let records = shp::records(&file, &shp_bytes, &index)?;
    let corrupt_dbf = |reason: String| IngestError::CorruptDbf {
        file: file.clone(),
        reason,
    };
    let mut table = dbf::open(&dbf_bytes).map_err(corrupt_dbf)?;
    if table.count != records.len() {
        return Err(IngestError::DbfCountMismatch {
            file,
            dbf: table.count,
            shp: records.len(),
        });
    }
    let encoding = choose_encoding(
        cpg_text.as_deref(),
        table.language_driver,
        table.is_utf8(&dbf_bytes),
    );
    table.decode_names(&dbf_bytes, encoding);
    let names: Vec<String> = table.fields.iter().map(|f| f.name.clone()).collect();
    let fields = resolve_fields(&file, &options.fields, &names)?;
    let (projection, datum) = resolve_crs(&file, prj_text.as_deref(), options.crs)?;
    let tf = move |x: f64, y: f64| {
        let (lon, lat) = match projection {
            Some(p) => p.inverse(x, y),
            None => (x, y),
        };
        crs::to_wgs84(datum, lon, lat)
    };

    let total = records.len() as u64;
    progress(0, total);
    let mut out = Collector::new(&file);
    for (index, record) in records.iter().enumerate() {
        if out.is_full() {
            break;
        }
        if let Some(props) = table.record(index, encoding) {
            out.read_one();
            let geometry = shp::geometry(record.content, header.base_type)
                .map_err(|why| format!("{why} (at byte {} of the .shp)", record.offset));
            let feature = Feature {
                index,
                line: None,
                member_id: None,
                props,
                geometry,
            };
            feature::convert(
                &mut out,
                feature,
                &options.target,
                &tf,
                &fields,
                &options.owner,
            );
        }
        progress(index as u64 + 1, total);
    }
    out.finish()
}

/// A small text sibling (`.prj`, `.cpg`), refused when implausibly large.
fn read_text(
    file: &str,
    path: &Path,
    read: &dyn Fn(&Path) -> Result<Vec<u8>, IngestError>,
) -> Result<String, IngestError> {
    let bytes = read(path)?;
    if bytes.len() > prj::MAX_PRJ_BYTES {
        return Err(IngestError::CorruptShapefile {
            file: file.into(),
            reason: format!(
                "{} is {} bytes, too large for a CRS or encoding name",
                path.display(),
                bytes.len()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// The files of one shapefile: the same stem, in the same folder, extensions in any case.
struct Parts {
    dir: PathBuf,
    stem: String,
    shp: Option<PathBuf>,
    shx: Option<PathBuf>,
    dbf: Option<PathBuf>,
    prj: Option<PathBuf>,
    cpg: Option<PathBuf>,
}

impl Parts {
    fn find(path: &Path) -> Result<Parts, IngestError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parts = Parts {
            dir: dir.clone(),
            stem: stem.clone(),
            shp: None,
            shx: None,
            dbf: None,
            prj: None,
            cpg: None,
        };
        let entries = std::fs::read_dir(&dir).map_err(|source| IngestError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.file_stem().map(|s| s.to_string_lossy()) != Some(stem.as_str().into()) {
                continue;
            }
            let Some(ext) = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
            else {
                continue;
            };
            let slot = match ext.as_str() {
                "shp" => &mut parts.shp,
                "shx" => &mut parts.shx,
                "dbf" => &mut parts.dbf,
                "prj" => &mut parts.prj,
                "cpg" => &mut parts.cpg,
                _ => continue,
            };
            // The exact-case match (the path given, or lower case) wins over other spellings.
            let exact = p == path || p.extension().is_some_and(|e| e == ext.as_str());
            if slot.is_none() || exact {
                *slot = Some(p);
            }
        }
        if parts.shp.is_none() && !path.is_file() {
            // Report the file named, as for any other format.
            std::fs::metadata(path).map_err(|source| IngestError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(parts)
    }

    fn missing(&self, file: &str, ext: &str) -> IngestError {
        let part = match ext {
            "shp" => "geometry (.shp)",
            "shx" => "index (.shx)",
            _ => "attribute table (.dbf)",
        };
        IngestError::ShapefilePartMissing {
            file: file.into(),
            part,
            looked_for: self.dir.join(format!("{}.{ext}", self.stem)),
        }
    }
}

/// The attribute encoding (see the module docs).
fn choose_encoding(cpg: Option<&str>, language_driver: u8, utf8: bool) -> &'static Encoding {
    if let Some(label) = cpg {
        let norm: String = label
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        match norm.as_str() {
            "UTF8" | "65001" => return encoding_rs::UTF_8,
            "GBK" | "CP936" | "936" | "GB2312" | "GB18030" | "ANSI936" | "MS936" | "WINDOWS936" => {
                return encoding_rs::GB18030
            }
            _ => {
                if let Some(e) = Encoding::for_label(label.trim().as_bytes()) {
                    return e;
                }
            }
        }
    }
    if matches!(language_driver, 0x4D | 0x7A) || !utf8 {
        encoding_rs::GB18030
    } else {
        encoding_rs::UTF_8
    }
}

/// Checks every mapped attribute exists in the table (case-insensitively) and spells it as the
/// table does.
fn resolve_fields(file: &str, map: &FieldMap, names: &[String]) -> Result<FieldMap, IngestError> {
    map.resolve(names).map_err(|(field, attribute)| {
        let available = if names.is_empty() {
            "no fields at all".to_string()
        } else {
            names.join(", ")
        };
        IngestError::MissingField {
            file: file.into(),
            field: field.as_str(),
            attribute,
            available,
        }
    })
}

/// The projection to invert (if any) and the datum offset to remove afterwards.
fn resolve_crs(
    file: &str,
    prj_text: Option<&str>,
    choice: Option<CrsChoice>,
) -> Result<(Option<Projection>, Crs), IngestError> {
    let unsupported = |reason: String| IngestError::UnsupportedPrj {
        file: file.into(),
        reason,
    };
    match (choice, prj_text) {
        (Some(CrsChoice::Epsg(code)), _) => match projection::epsg(code) {
            Some(EpsgCrs::Geographic) => Ok((None, Crs::Wgs84)),
            Some(EpsgCrs::Projected(p)) => Ok((Some(p), Crs::Wgs84)),
            None => Err(unsupported(format!(
                "epsg:{code} is not a CRS onegrid knows"
            ))),
        },
        (Some(CrsChoice::Datum(datum)), None) => Ok((None, datum)),
        (Some(CrsChoice::Datum(datum)), Some(text)) => {
            let prj = prj::parse(text).map_err(unsupported)?;
            Ok((prj.projection, datum))
        }
        (None, None) => Err(IngestError::MissingPrj { file: file.into() }),
        (None, Some(text)) => {
            let prj = prj::parse(text).map_err(unsupported)?;
            if let Err(datum) = prj.datum {
                return Err(unsupported(format!(
                    "the .prj's CRS {:?} is on the datum {datum:?}, not WGS84 or CGCS2000",
                    prj.name
                )));
            }
            Ok((prj.projection, Crs::Wgs84))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

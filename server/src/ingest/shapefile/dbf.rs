//! The `.dbf` attribute table (dBASE III): a 32-byte header (record count, header and record
//! lengths, language driver id), 32-byte field descriptors ended by 0x0D, then fixed-length
//! records, each a deletion flag (`*` deleted, space live) and the fields' padded text.
//!
//! Character fields are decoded with the encoding the caller chose ([`super::encoding`]); `N`
//! and `F` become JSON numbers (integers when they have no fraction), `L` booleans, `D` dates
//! as `YYYY-MM-DD`; blank values become `null`. The header's lengths are checked against the
//! file's size before anything is allocated.

use encoding_rs::Encoding;
use serde_json::{Map, Number, Value};

const HEADER_LEN: usize = 32;
const DESCRIPTOR_LEN: usize = 32;

/// One field descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: String,
    pub kind: u8,
    pub len: usize,
    /// Offset within a record (after the deletion flag).
    offset: usize,
}

/// A parsed `.dbf`: its fields and where its records are.
pub struct Table<'a> {
    pub fields: Vec<FieldDef>,
    pub language_driver: u8,
    records: &'a [u8],
    record_len: usize,
    pub count: usize,
}

/// Parses the header and field descriptors; field names are decoded with `encoding` once it is
/// known, so [`Table::fields`] are raw until [`Table::decode_names`].
pub fn open(bytes: &[u8]) -> Result<Table<'_>, String> {
    if bytes.len() < HEADER_LEN + 1 {
        return Err(format!(
            "{} bytes, shorter than a dBASE header",
            bytes.len()
        ));
    }
    let count = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let record_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    let language_driver = bytes[29];
    if header_len < HEADER_LEN + 1 || header_len > bytes.len() {
        return Err(format!(
            "the header says it is {header_len} bytes long; the file holds {}",
            bytes.len()
        ));
    }
    if record_len == 0 {
        return Err("the header gives a record length of 0".into());
    }
    let mut fields = Vec::new();
    let mut at = HEADER_LEN;
    let mut offset = 0usize;
    loop {
        match bytes.get(at) {
            Some(0x0D) => break,
            None => return Err("the field descriptors have no 0x0D terminator".into()),
            Some(_) if at + DESCRIPTOR_LEN > header_len => {
                return Err("the field descriptors run past the header".into())
            }
            Some(_) => {}
        }
        let d = &bytes[at..at + DESCRIPTOR_LEN];
        let name_len = d[..11].iter().position(|&b| b == 0).unwrap_or(11);
        let len = usize::from(d[16]);
        fields.push(FieldDef {
            name: String::from_utf8_lossy(&d[..name_len]).trim().to_string(),
            kind: d[11].to_ascii_uppercase(),
            len,
            offset,
        });
        offset += len;
        at += DESCRIPTOR_LEN;
    }
    if offset + 1 != record_len {
        return Err(format!(
            "the fields add up to {} bytes a record but the header says {record_len}",
            offset + 1
        ));
    }
    let body = &bytes[header_len..];
    let need = count as u64 * record_len as u64;
    if need > body.len() as u64 {
        return Err(format!(
            "the header promises {count} records of {record_len} bytes ({need} bytes) but only \
             {} follow the header (is the .dbf truncated?)",
            body.len()
        ));
    }
    Ok(Table {
        fields,
        language_driver,
        records: &body[..need as usize],
        record_len,
        count,
    })
}

impl Table<'_> {
    /// Whether every record and field name (`bytes`: the whole file) is valid UTF-8.
    pub fn is_utf8(&self, bytes: &[u8]) -> bool {
        std::str::from_utf8(self.records).is_ok()
            && (0..self.fields.len()).all(|i| std::str::from_utf8(raw_name(bytes, i)).is_ok())
    }

    /// Re-decodes the field names from the header bytes with `encoding`.
    pub fn decode_names(&mut self, bytes: &[u8], encoding: &'static Encoding) {
        for (i, f) in self.fields.iter_mut().enumerate() {
            f.name = decode(raw_name(bytes, i), encoding);
        }
    }

    /// Record `i`: `None` when it is marked deleted.
    pub fn record(&self, i: usize, encoding: &'static Encoding) -> Option<Map<String, Value>> {
        let rec = self
            .records
            .get(i * self.record_len..(i + 1) * self.record_len)?;
        if rec[0] == b'*' {
            return None;
        }
        let mut map = Map::new();
        for f in &self.fields {
            let raw = rec.get(1 + f.offset..1 + f.offset + f.len).unwrap_or(&[]);
            map.insert(f.name.clone(), value(f.kind, raw, encoding));
        }
        Some(map)
    }
}

/// The name bytes of field `i` (the table was opened from `bytes`, so they are there).
fn raw_name(bytes: &[u8], i: usize) -> &[u8] {
    let at = HEADER_LEN + i * DESCRIPTOR_LEN;
    let d = bytes.get(at..at + 11).unwrap_or(&[]);
    &d[..d.iter().position(|&b| b == 0).unwrap_or(d.len())]
}

fn decode(raw: &[u8], encoding: &'static Encoding) -> String {
    let (text, _) = encoding.decode_without_bom_handling(raw);
    text.trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}

fn value(kind: u8, raw: &[u8], encoding: &'static Encoding) -> Value {
    let text = decode(raw, encoding);
    if text.is_empty() {
        return Value::Null;
    }
    match kind {
        b'N' | b'F' => number(&text).unwrap_or(Value::String(text)),
        b'L' => match text.as_bytes()[0] {
            b'T' | b't' | b'Y' | b'y' => Value::Bool(true),
            b'F' | b'f' | b'N' | b'n' => Value::Bool(false),
            _ => Value::Null,
        },
        b'D' if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Value::String(format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..]))
        }
        _ => Value::String(text),
    }
}

/// A numeric field's value; `*` fill (overflow) and unparsable text give `None`.
fn number(text: &str) -> Option<Value> {
    if text.bytes().all(|b| b == b'*') {
        return Some(Value::Null);
    }
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A dBASE III table with fields (name, type, length) and records of raw values.
    pub fn table(fields: &[(&str, u8, u8)], records: &[(bool, Vec<&[u8]>)], ldid: u8) -> Vec<u8> {
        let record_len: usize = 1 + fields.iter().map(|f| usize::from(f.2)).sum::<usize>();
        let header_len = HEADER_LEN + DESCRIPTOR_LEN * fields.len() + 1;
        let mut b = vec![0u8; HEADER_LEN];
        b[0] = 3;
        b[4..8].copy_from_slice(&(records.len() as u32).to_le_bytes());
        b[8..10].copy_from_slice(&(header_len as u16).to_le_bytes());
        b[10..12].copy_from_slice(&(record_len as u16).to_le_bytes());
        b[29] = ldid;
        for (name, kind, len) in fields {
            let mut d = [0u8; DESCRIPTOR_LEN];
            d[..name.len()].copy_from_slice(name.as_bytes());
            d[11] = *kind;
            d[16] = *len;
            b.extend_from_slice(&d);
        }
        b.push(0x0D);
        for (deleted, values) in records {
            b.push(if *deleted { b'*' } else { b' ' });
            for (v, f) in values.iter().zip(fields) {
                let mut cell = v.to_vec();
                cell.resize(usize::from(f.2), b' ');
                b.extend_from_slice(&cell);
            }
        }
        b.push(0x1A);
        b
    }

    #[test]
    fn deleted_records_are_skipped_and_types_parsed() {
        let bytes = table(
            &[
                ("NAME", b'C', 10),
                ("N", b'N', 8),
                ("OK", b'L', 1),
                ("D", b'D', 8),
            ],
            &[
                (false, vec![b"  a  ", b"   42", b"T", b"20240131"]),
                (true, vec![b"gone", b"1", b"F", b""]),
                (false, vec![b"b", b" 1.50", b"?", b""]),
            ],
            0,
        );
        let t = open(&bytes).unwrap();
        assert_eq!(t.count, 3);
        let utf8 = encoding_rs::UTF_8;
        let r0 = t.record(0, utf8).unwrap();
        assert_eq!(r0["NAME"], "a");
        assert_eq!(r0["N"], 42);
        assert_eq!(r0["OK"], true);
        assert_eq!(r0["D"], "2024-01-31");
        assert!(t.record(1, utf8).is_none());
        let r2 = t.record(2, utf8).unwrap();
        assert_eq!(r2["N"], 1.5);
        assert_eq!(r2["OK"], Value::Null);
        assert_eq!(r2["D"], Value::Null);
    }

    #[test]
    fn hostile_headers_are_refused() {
        let mut bytes = table(&[("A", b'C', 4)], &[(false, vec![b"x"])], 0);
        // A record count far beyond the file.
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(open(&bytes).err().unwrap().contains("truncated"));
        let mut bytes = table(&[("A", b'C', 4)], &[], 0);
        bytes[10] = 99;
        assert!(open(&bytes).err().unwrap().contains("add up"));
        assert!(open(&[0u8; 10]).is_err());
        let mut bytes = table(&[("A", b'C', 4)], &[], 0);
        let end = bytes.len() - 2;
        bytes[end] = b'A'; // the terminator gone
        assert!(open(&bytes[..end + 1]).is_err());
    }
}

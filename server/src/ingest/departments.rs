//! The district's departments from a file: CSV (a header row; UTF-8, or GBK as spreadsheets in
//! China save it) or JSON (an array of objects, or `{"departments": [...]}`). Columns: code,
//! Chinese name, English name, contact, parent department; Chinese headers are understood too
//! (`编码`, `名称`, `英文名称`, `联系方式`, `上级部门`, …).
//!
//! Every row that is dropped or changed is listed in the report with its row number and why. A
//! department's code is what rules, assets' owners and dispatches name, so it must be short and
//! plain (letters, digits, `_`, `-`, `.`). Plain values only: no SQL, no IO beyond the one file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::{IngestError, Issue, IssueAction};
use crate::district::Department;

/// Longest department code accepted, in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// Longest name or contact accepted, in characters.
const MAX_TEXT_CHARS: usize = 200;

const CODE_KEYS: &[&str] = &[
    "code",
    "department",
    "dept",
    "id",
    "编码",
    "代码",
    "部门编码",
    "部门代码",
];
const NAME_ZH_KEYS: &[&str] = &["name_zh", "name", "中文名称", "名称", "部门名称", "部门"];
const NAME_EN_KEYS: &[&str] = &["name_en", "english", "english_name", "英文名称", "英文名"];
const CONTACT_KEYS: &[&str] = &["contact", "phone", "tel", "联系方式", "联系电话", "电话"];
const PARENT_KEYS: &[&str] = &["parent", "parent_code", "上级部门", "上级部门编码", "上级"];

/// What a departments file yielded.
#[derive(Debug, Clone, Default)]
pub struct DepartmentsRead {
    pub departments: Vec<Department>,
    /// Every row rejected or repaired, in file order.
    pub issues: Vec<Issue>,
    /// Data rows looked at.
    pub rows_read: usize,
}

/// Reads a departments file; the format is told from the content (JSON starts with `[` or `{`).
pub fn read_file(path: &Path) -> Result<DepartmentsRead, IngestError> {
    let bytes = std::fs::read(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(&path.display().to_string(), &bytes)
}

/// Reads departments from bytes already in memory; `file` names them in errors and the report.
pub fn read_bytes(file: &str, bytes: &[u8]) -> Result<DepartmentsRead, IngestError> {
    let text = decode(bytes);
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(IngestError::Empty { file: file.into() });
    }
    let rows = if text.trim_start().starts_with(['[', '{']) {
        json_rows(file, text)?
    } else {
        csv_rows(file, text)?
    };
    Ok(check(file, rows))
}

/// UTF-8 when it is valid UTF-8, else GB18030 (a superset of GBK), as Excel writes CSV in China.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

/// One row as found: its label for the report and its fields by (lower-cased) name.
struct Row {
    label: String,
    fields: HashMap<String, String>,
}

fn json_rows(file: &str, text: &str) -> Result<Vec<Row>, IngestError> {
    let value: Value = serde_json::from_str(text).map_err(|e| IngestError::Json {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("departments") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(IngestError::Departments {
                    file: file.into(),
                    reason: "expected an array of departments, or {\"departments\": [...]}".into(),
                })
            }
        },
        _ => {
            return Err(IngestError::Departments {
                file: file.into(),
                reason: "expected an array of departments".into(),
            })
        }
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| Row {
            label: format!("#{i}"),
            fields: match item {
                Value::Object(o) => object_fields(o),
                _ => HashMap::new(),
            },
        })
        .collect())
}

fn object_fields(o: Map<String, Value>) -> HashMap<String, String> {
    o.into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((k.trim().to_lowercase(), text))
        })
        .collect()
}

fn csv_rows(file: &str, text: &str) -> Result<Vec<Row>, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(file, &e))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if !headers.iter().any(|h| CODE_KEYS.contains(&h.as_str())) {
        return Err(IngestError::Departments {
            file: file.into(),
            reason: format!(
                "the header row ({}) has no code column; name it code (or 编码)",
                headers.join(", ")
            ),
        });
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(file, &e))?;
        // The line in the file (the header is line 1; blank lines are skipped).
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        let label = format!("row {line}");
        if record.iter().all(str::is_empty) {
            continue;
        }
        let fields = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        rows.push(Row { label, fields });
    }
    Ok(rows)
}

fn csv_error(file: &str, e: &csv::Error) -> IngestError {
    IngestError::Departments {
        file: file.into(),
        reason: format!("not readable as CSV: {e}"),
    }
}

fn take(fields: &HashMap<String, String>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| fields.get(*k))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn plain_code(code: &str) -> bool {
    !code.is_empty()
        && code.chars().count() <= MAX_CODE_CHARS
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Validates rows into departments: codes present, plain and unique, a name, parents that exist
/// and form no cycle.
fn check(file: &str, rows: Vec<Row>) -> DepartmentsRead {
    let mut out = DepartmentsRead {
        rows_read: rows.len(),
        ..DepartmentsRead::default()
    };
    let issue = |label: &str, action, reason: String| Issue {
        file: file.into(),
        feature: label.into(),
        action,
        reason,
    };
    let mut labels = Vec::new();
    let mut first_row: HashMap<String, String> = HashMap::new();
    for row in rows {
        let reject = |reason: String| issue(&row.label, IssueAction::Rejected, reason);
        let Some(code) = take(&row.fields, CODE_KEYS) else {
            out.issues.push(reject("no department code".into()));
            continue;
        };
        if !plain_code(&code) {
            out.issues.push(reject(format!(
                "code {code:?} is not 1–{MAX_CODE_CHARS} letters, digits, '_', '-' or '.'"
            )));
            continue;
        }
        if let Some(first) = first_row.get(&code) {
            out.issues.push(reject(format!(
                "duplicate code {code:?} (already used by {first})"
            )));
            continue;
        }
        let name_zh = take(&row.fields, NAME_ZH_KEYS);
        let name_en = take(&row.fields, NAME_EN_KEYS);
        let (name_zh, name_en) = match (name_zh, name_en) {
            (None, None) => {
                out.issues
                    .push(reject(format!("department {code:?} has no name")));
                continue;
            }
            (Some(zh), en) => (zh.clone(), en.unwrap_or(zh)),
            (None, Some(en)) => (en.clone(), en),
        };
        let contact = take(&row.fields, CONTACT_KEYS).unwrap_or_default();
        let too_long = [&name_zh, &name_en, &contact]
            .into_iter()
            .find(|t| t.chars().count() > MAX_TEXT_CHARS);
        if let Some(t) = too_long {
            out.issues.push(reject(format!(
                "a name or contact of {} characters (at most {MAX_TEXT_CHARS})",
                t.chars().count()
            )));
            continue;
        }
        first_row.insert(code.clone(), row.label.clone());
        labels.push(row.label);
        out.departments.push(Department {
            code,
            name_zh,
            name_en,
            contact,
            parent: take(&row.fields, PARENT_KEYS),
        });
    }
    // Parents: one that is not in the file, or that would close a cycle, is dropped.
    let codes: HashSet<String> = out.departments.iter().map(|d| d.code.clone()).collect();
    for (i, label) in labels.iter().enumerate() {
        let Some(parent) = out.departments[i].parent.clone() else {
            continue;
        };
        let reason = if !codes.contains(&parent) {
            Some(format!(
                "parent {parent:?} is not in the file; left without a parent"
            ))
        } else if closes_cycle(&out.departments, i) {
            Some(format!(
                "parent {parent:?} would make a cycle; left without a parent"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            out.departments[i].parent = None;
            out.issues.push(issue(label, IssueAction::Repaired, reason));
        }
    }
    out
}

/// True when following parents from department `i` comes back to it.
fn closes_cycle(departments: &[Department], i: usize) -> bool {
    let by_code: HashMap<&str, &Department> =
        departments.iter().map(|d| (d.code.as_str(), d)).collect();
    let start = departments[i].code.as_str();
    let mut at = departments[i].parent.as_deref();
    for _ in 0..departments.len() {
        match at {
            None => return false,
            Some(code) if code == start => return true,
            Some(code) => at = by_code.get(code).and_then(|d| d.parent.as_deref()),
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn codes(read: &DepartmentsRead) -> Vec<&str> {
        read.departments.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn a_csv_with_chinese_headers_in_gbk_is_read_and_each_bad_row_is_reported() {
        let text = "编码,名称,英文名称,联系方式,上级部门\n\
                    jt,区交通运输局,District Transport Bureau,0757-83000001,\n\
                    jt-road,道路养护科,Road Maintenance Section,0757-83000002,jt\n\
                    ,无编码部门,,,\n\
                    jt,重复,,,\n\
                    bad code,空格,,,\n\
                    sw,区水务局,,12345,moon\n\
                    \n\
                    nm,,Nameless Office,,\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let read = read_bytes("depts.csv", &gbk).unwrap();
        assert_eq!(read.rows_read, 7, "the blank line is no row");
        assert_eq!(codes(&read), ["jt", "jt-road", "sw", "nm"]);
        assert_eq!(read.departments[0].name_zh, "区交通运输局");
        assert_eq!(read.departments[1].parent.as_deref(), Some("jt"));
        assert_eq!(
            read.departments[2].name_en, "区水务局",
            "no English name: the Chinese one"
        );
        assert_eq!(read.departments[2].parent, None);
        assert_eq!(read.departments[3].name_zh, "Nameless Office");
        let report: Vec<String> = read.issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(report.len(), 4, "{report:#?}");
        assert!(report[0].contains("row 4") && report[0].contains("no department code"));
        assert!(
            report[1].contains("row 5")
                && report[1].contains("duplicate code \"jt\" (already used by row 2)")
        );
        assert!(report[2].contains("row 6") && report[2].contains("not 1–64 letters"));
        assert!(
            report[3].contains("row 7")
                && report[3].contains("repaired")
                && report[3].contains("\"moon\"")
        );
    }

    #[test]
    fn json_arrays_and_objects_are_read_and_cycles_are_broken() {
        let json = r#"{"departments": [
            {"code": "a", "name_zh": "甲", "name_en": "A", "contact": 12345, "parent": "b"},
            {"code": "b", "name": "乙", "parent": "a"},
            {"code": "c", "name_zh": "丙"},
            "not an object"
        ]}"#;
        let read = read_bytes("d.json", json.as_bytes()).unwrap();
        assert_eq!(codes(&read), ["a", "b", "c"]);
        assert_eq!(read.departments[0].contact, "12345");
        // a → b → a: the first one found to close the cycle loses its parent.
        let parents: Vec<Option<&str>> = read
            .departments
            .iter()
            .map(|d| d.parent.as_deref())
            .collect();
        assert_eq!(parents, [None, Some("a"), None]);
        assert!(read.issues.iter().any(|i| i.reason.contains("cycle")));
        assert!(read
            .issues
            .iter()
            .any(|i| i.feature == "#3" && i.action == IssueAction::Rejected));
    }

    #[test]
    fn files_that_are_not_departments_are_errors() {
        assert!(matches!(
            read_bytes("e.csv", b"  \n"),
            Err(IngestError::Empty { .. })
        ));
        let err = read_bytes("x.csv", "name,phone\n甲,1\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("no code column"), "{err}");
        let err = read_bytes("x.json", b"[{\"code\": ").unwrap_err();
        assert!(matches!(err, IngestError::Json { .. }), "{err}");
        let err = read_bytes("x.json", b"{\"a\": 1}").unwrap_err();
        assert!(err.to_string().contains("array of departments"), "{err}");
    }
}

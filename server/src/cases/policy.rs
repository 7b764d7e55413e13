//! The case settings of a district, as data: `<data dir>/cases.toml` (written with the defaults
//! on the first start; edit it there and restart). Per category, the time to dispatch and the
//! time to resolve, counted from the report; after how many days a resolved case closes by
//! itself; how near and how recent an open report of the same category must be to be offered as
//! the duplicate of a new one. Unknown keys and unknown categories are refused.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use onegrid_app::wire::Category;
use serde::Deserialize;

/// Minutes to dispatch and to resolve, from the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub dispatch_minutes: u32,
    pub resolve_minutes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_auto_close_days")]
    auto_close_days: u32,
    #[serde(default = "default_duplicate_m")]
    duplicate_distance_m: f64,
    #[serde(default = "default_duplicate_hours")]
    duplicate_hours: u32,
    default: Limits,
    #[serde(default)]
    categories: BTreeMap<String, Limits>,
}

fn default_auto_close_days() -> u32 {
    7
}
fn default_duplicate_m() -> f64 {
    50.0
}
fn default_duplicate_hours() -> u32 {
    24
}

/// What the first start writes: the examples of the field (a fallen tree across a road:
/// dispatched within 30 minutes, cleared within 2 hours; a damaged manhole cover: 1 and 4 hours).
pub const DEFAULT_FILE: &str = r#"# onegrid case settings (案件时限). Times are minutes from the report.
# Edit and restart onegrid. Unknown keys or categories are refused at start.

# A resolved case closes by itself after this many days unless an officer closes or reopens it
# first (0: never).
auto_close_days = 7

# A new report this near (metres) and this recent (hours) to an open incident of the same
# category is offered to the officer as its duplicate.
duplicate_distance_m = 50
duplicate_hours = 24

# Every category not listed below.
[default]
dispatch_minutes = 60
resolve_minutes = 480

[categories.fallen_tree]          # 倒伏树木: blocking a road
dispatch_minutes = 30
resolve_minutes = 120

[categories.damaged_manhole_cover] # 井盖破损
dispatch_minutes = 60
resolve_minutes = 240

[categories.waterlogging]         # 积水内涝
dispatch_minutes = 30
resolve_minutes = 180

[categories.fire_hazard]          # 消防隐患
dispatch_minutes = 30
resolve_minutes = 240

[categories.damaged_road]         # 路面破损
dispatch_minutes = 60
resolve_minutes = 1440

[categories.garbage]              # 垃圾堆放
dispatch_minutes = 120
resolve_minutes = 480

[categories.outdoor_business]     # 出店经营
dispatch_minutes = 120
resolve_minutes = 480
"#;

/// The settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePolicy {
    default: Limits,
    categories: HashMap<Category, Limits>,
    pub auto_close_days: u32,
    pub duplicate_distance_m: f64,
    pub duplicate_hours: u32,
    /// Where they were read from (for messages).
    pub file: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read or write the case settings {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the case settings {path} are not valid: {message}")]
    Invalid { path: String, message: String },
}

impl Default for CasePolicy {
    fn default() -> CasePolicy {
        CasePolicy::parse("(defaults)", DEFAULT_FILE).expect("the default case settings parse")
    }
}

impl CasePolicy {
    /// Reads `path`, writing the defaults there first when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<CasePolicy, PolicyError> {
        let shown = path.display().to_string();
        let io = |source| PolicyError::Io {
            path: shown.clone(),
            source,
        };
        if !path.exists() {
            std::fs::write(path, DEFAULT_FILE).map_err(io)?;
            tracing::info!(file = %shown, "wrote the default case settings (deadlines per category); edit them there");
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        CasePolicy::parse(&shown, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<CasePolicy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            path: path.to_string(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        let mut categories = HashMap::new();
        for (code, limits) in file.categories {
            let category = Category::parse(&code).ok_or_else(|| {
                invalid(format!(
                    "unknown category {code:?} under [categories]; the codes are {}",
                    Category::ALL.map(|c| c.code()).join(", ")
                ))
            })?;
            check(&limits, &format!("[categories.{code}]")).map_err(invalid)?;
            categories.insert(category, limits);
        }
        check(&file.default, "[default]").map_err(invalid)?;
        if !(file.duplicate_distance_m.is_finite()
            && (0.0..=1000.0).contains(&file.duplicate_distance_m))
        {
            return Err(invalid(format!(
                "duplicate_distance_m is {}; use 0 to 1000 metres",
                file.duplicate_distance_m
            )));
        }
        Ok(CasePolicy {
            default: file.default,
            categories,
            auto_close_days: file.auto_close_days,
            duplicate_distance_m: file.duplicate_distance_m,
            duplicate_hours: file.duplicate_hours,
            file: path.to_string(),
        })
    }

    pub fn limits(&self, category: Category) -> Limits {
        self.categories
            .get(&category)
            .copied()
            .unwrap_or(self.default)
    }

    /// When an incident of `category` reported at `reported_at` must be dispatched, and
    /// resolved.
    pub fn due(
        &self,
        category: Category,
        reported_at: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let l = self.limits(category);
        (
            reported_at + Duration::minutes(i64::from(l.dispatch_minutes)),
            reported_at + Duration::minutes(i64::from(l.resolve_minutes)),
        )
    }
}

fn check(l: &Limits, at: &str) -> Result<(), String> {
    if l.dispatch_minutes == 0 || l.resolve_minutes == 0 {
        return Err(format!("{at}: the minutes must be above 0"));
    }
    if l.resolve_minutes < l.dispatch_minutes {
        return Err(format!(
            "{at}: resolve_minutes ({}) is less than dispatch_minutes ({})",
            l.resolve_minutes, l.dispatch_minutes
        ));
    }
    Ok(())
}

/// The escalation level an open incident has reached at `now` in a phase that started at
/// `from` and is due at `due`: 0 before the deadline, 1 from it (the street's officers are
/// told), 2 from 150 % of the time allowed (the district's duty officers are told).
pub fn escalation_level(from: DateTime<Utc>, due: DateTime<Utc>, now: DateTime<Utc>) -> u8 {
    if now < due {
        return 0;
    }
    let allowed = due - from;
    if now >= from + allowed + allowed / 2 {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_the_examples_and_unknown_keys_are_refused() {
        let p = CasePolicy::default();
        assert_eq!(
            p.limits(Category::FallenTree),
            Limits {
                dispatch_minutes: 30,
                resolve_minutes: 120
            }
        );
        assert_eq!(p.limits(Category::DamagedManholeCover).resolve_minutes, 240);
        assert_eq!(p.limits(Category::Other).dispatch_minutes, 60);
        assert_eq!((p.auto_close_days, p.duplicate_hours), (7, 24));
        let t0 = Utc::now();
        let (d, r) = p.due(Category::FallenTree, t0);
        assert_eq!(
            (d - t0, r - t0),
            (Duration::minutes(30), Duration::minutes(120))
        );

        for (bad, says) in [
            ("[default]\ndispatch_minutes = 1\nresolve_minutes = 2\nspeed = 3\n", "speed"),
            ("colour = 1\n[default]\ndispatch_minutes = 1\nresolve_minutes = 2\n", "colour"),
            ("[default]\ndispatch_minutes = 1\nresolve_minutes = 2\n[categories.alien]\ndispatch_minutes = 1\nresolve_minutes = 2\n", "alien"),
            ("[default]\ndispatch_minutes = 10\nresolve_minutes = 2\n", "less than"),
            ("[default]\ndispatch_minutes = 0\nresolve_minutes = 2\n", "above 0"),
            ("auto_close_days = 1\n", "default"),
        ] {
            let e = CasePolicy::parse("cases.toml", bad).expect_err(bad).to_string();
            assert!(e.contains(says) && e.contains("cases.toml"), "{bad}: {e}");
        }
    }

    #[test]
    fn escalation_at_the_deadline_and_at_150_percent() {
        let t0 = Utc::now();
        let due = t0 + Duration::minutes(30);
        assert_eq!(escalation_level(t0, due, t0 + Duration::minutes(29)), 0);
        assert_eq!(escalation_level(t0, due, due), 1);
        assert_eq!(escalation_level(t0, due, t0 + Duration::minutes(44)), 1);
        assert_eq!(escalation_level(t0, due, t0 + Duration::minutes(45)), 2);
    }
}

//! Who is responsible, and why: rules as data (TOML), first match wins, over the incident's
//! category, the assets near it and its jurisdiction chain. Every decision carries an
//! explanation in Chinese and English naming the facts it rests on.
//!
//! A rules file never stops the server: a rule that cannot be used (it names a department or a
//! layer the district does not have, a key or category that does not exist) is skipped with its
//! reason, and a file that cannot be parsed at all gives no rules. Both are reported
//! ([`Rules::report`]) so a person can fix them; an incident no rule covers is still accepted,
//! with no department proposed.

use std::collections::{HashMap, HashSet};

use onegrid_app::wire::{AssetLayer, Category, Level, RulesProblem, RulesReport, SkippedRule};

use super::NearbyAsset;
use crate::district::{Department, Jurisdiction};

pub use onegrid_app::wire::ResponsibilityRule as Rule;

/// The rules onegrid starts with (written into the data dir on first start).
pub const DEFAULT_RULES: &str = include_str!("default_rules.toml");

/// Distance within which a rule's asset must lie when the rule does not say, in metres.
const DEFAULT_WITHIN_M: f64 = 30.0;

/// What a district has that rules may name: its departments, and the asset layers that hold
/// assets (with the owners found in each).
#[derive(Debug, Clone, Default)]
pub struct RuleContext {
    pub departments: Vec<Department>,
    pub owners_by_layer: HashMap<AssetLayer, HashSet<String>>,
}

impl RuleContext {
    fn has_department(&self, code: &str) -> bool {
        self.departments.iter().any(|d| d.code == code)
    }

    fn has_layer(&self, layer: AssetLayer) -> bool {
        self.owners_by_layer
            .get(&layer)
            .is_some_and(|o| !o.is_empty())
    }

    /// Why a parsed rule cannot be used here, if it cannot.
    fn unusable(&self, rule: &Rule) -> Option<Why> {
        if rule.id.trim().is_empty() {
            return Some(Why::new(
                "the rule has an empty id",
                "规则的 id 为空".into(),
            ));
        }
        if let Some(w) = rule.within_m {
            if !w.is_finite() || w < 0.0 {
                return Some(Why::new(
                    format!("within_m = {w} is not a distance in metres"),
                    format!("within_m = {w} 不是以米计的距离"),
                ));
            }
        }
        if let Some(layer) = rule.layer {
            if !self.has_layer(layer) {
                return Some(Why::new(
                    format!(
                        "it needs the {} layer, which holds no assets in this district",
                        layer.as_str()
                    ),
                    format!("它需要 {} 图层，而本辖区该图层没有部件", layer.as_str()),
                ));
            }
        }
        if rule.department == "$owner" {
            let Some(layer) = rule.layer else {
                return Some(Why::new(
                    "department \"$owner\" needs a layer whose asset's owner it names",
                    "department = \"$owner\" 须配合 layer，指明取哪类部件的权属单位".into(),
                ));
            };
            let owners = &self.owners_by_layer[&layer];
            if !owners.iter().any(|o| self.has_department(o)) {
                let mut some: Vec<&str> = owners.iter().map(String::as_str).collect();
                some.sort_unstable();
                some.truncate(5);
                let some = some.join(", ");
                return Some(Why::new(
                    format!(
                        "the owners of the {} layer ({some}) are none of the district's departments",
                        layer.as_str()
                    ),
                    format!(
                        "{} 图层部件的权属单位（{some}）都不是本辖区的部门",
                        layer.as_str()
                    ),
                ));
            }
        } else if !self.has_department(&rule.department) {
            return Some(Why::new(
                format!(
                    "it names department {:?}, which the district does not have",
                    rule.department
                ),
                format!(
                    "它指定的部门 {:?} 在本辖区部门名录中不存在",
                    rule.department
                ),
            ));
        }
        None
    }
}

/// A reason in English and Chinese.
struct Why {
    en: String,
    zh: String,
}

impl Why {
    fn new(en: impl Into<String>, zh: String) -> Why {
        Why { en: en.into(), zh }
    }

    fn problem(self) -> RulesProblem {
        RulesProblem {
            message: self.en,
            message_zh: self.zh,
        }
    }
}

/// A checked rule set with the departments it can name, and what was left out of it.
#[derive(Debug, Clone)]
pub struct Rules {
    departments: HashMap<String, Department>,
    /// The rules in force (`report.rules`, in order), those skipped and why.
    report: RulesReport,
}

/// The outcome for one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'a> {
    pub rule: &'a Rule,
    pub department: &'a Department,
    pub asset: Option<&'a NearbyAsset<'a>>,
    pub explanation_zh: String,
    pub explanation_en: String,
}

impl Rules {
    /// Reads a rule file (named `file` in the report) against what the district has. Never
    /// fails: rules that cannot be used are skipped, and a file that cannot be parsed gives an
    /// empty rule set; [`Rules::report`] says which and why.
    pub fn parse(file: &str, text: &str, context: &RuleContext) -> Rules {
        let mut report = RulesReport {
            file: file.to_string(),
            ..RulesReport::default()
        };
        let mut rules = Vec::new();
        match toml::from_str::<toml::Table>(text) {
            Err(e) => report.problems.push(
                Why::new(
                    format!(
                        "{file} cannot be read as TOML, so no rule is in force: {}",
                        e.message()
                    ),
                    format!("{file} 不是有效的 TOML，没有规则生效：{}", e.message()),
                )
                .problem(),
            ),
            Ok(mut table) => {
                let entries = match table.remove("rule") {
                    Some(toml::Value::Array(entries)) => entries,
                    Some(_) => {
                        report.problems.push(
                            Why::new(
                                format!("{file}: `rule` must be an array of tables ([[rule]])"),
                                format!("{file}：rule 须写成 [[rule]] 表数组"),
                            )
                            .problem(),
                        );
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                for key in table.keys() {
                    report.problems.push(
                        Why::new(
                            format!("{file}: unknown top-level key {key:?} ignored"),
                            format!("{file}：未知的顶层键 {key:?}，已忽略"),
                        )
                        .problem(),
                    );
                }
                let mut ids = HashSet::new();
                for (i, entry) in entries.into_iter().enumerate() {
                    let id = entry
                        .get("id")
                        .and_then(toml::Value::as_str)
                        .map(str::to_string);
                    let skip = |why: Why| SkippedRule {
                        index: i + 1,
                        id: id.clone(),
                        reason: why.en,
                        reason_zh: why.zh,
                    };
                    let rule: Rule = match entry.try_into() {
                        Ok(rule) => rule,
                        Err(e) => {
                            let message = e.message().trim().to_string();
                            let zh = format!("规则写法有误：{message}");
                            report.skipped.push(skip(Why::new(message, zh)));
                            continue;
                        }
                    };
                    if let Some(reason) = context.unusable(&rule) {
                        report.skipped.push(skip(reason));
                    } else if !ids.insert(rule.id.clone()) {
                        report.skipped.push(skip(Why::new(
                            format!("id {:?} is used by an earlier rule", rule.id),
                            format!("id {:?} 与前面的规则重复", rule.id),
                        )));
                    } else {
                        rules.push(rule);
                    }
                }
            }
        }
        if !rules.iter().any(is_unconditional) {
            report.problems.push(
                Why::new(
                    "no rule in force applies to every incident: end with a rule without \
                     conditions naming a department; until then an incident no rule covers is \
                     accepted with no department proposed, for review",
                    "没有一条生效的规则适用于所有事件：请在最后加一条不带条件、指定部门的兜底规则；\
                     在此之前，没有规则覆盖的事件照常受理，不提出责任部门，标记为需复核"
                        .into(),
                )
                .problem(),
            );
        }
        report.rules = rules;
        Rules {
            departments: context
                .departments
                .iter()
                .map(|d| (d.code.clone(), d.clone()))
                .collect(),
            report,
        }
    }

    /// The rules in force, those skipped and why, and problems with the file.
    pub fn report(&self) -> &RulesReport {
        &self.report
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.get(code)
    }

    /// The first rule that matches, with its department and explanation.
    pub fn decide<'a>(
        &'a self,
        category: Category,
        chain: &[&Jurisdiction],
        nearby: &'a [NearbyAsset<'a>],
    ) -> Option<Decision<'a>> {
        let street = chain.iter().find(|j| j.level == Level::Street);
        for rule in &self.report.rules {
            if !rule.categories.is_empty() && !rule.categories.contains(&category) {
                continue;
            }
            if !rule.streets.is_empty()
                && !street
                    .is_some_and(|s| rule.streets.iter().any(|p| s.code.starts_with(p.as_str())))
            {
                continue;
            }
            let asset = match rule.layer {
                None => None,
                Some(layer) => {
                    let within = rule.within_m.unwrap_or(DEFAULT_WITHIN_M);
                    let found = nearby.iter().find(|n| {
                        n.asset.layer == layer
                            && n.distance_m <= within
                            && (rule.kinds.is_empty() || rule.kinds.contains(&n.asset.kind))
                            && (rule.owners.is_empty() || rule.owners.contains(&n.asset.owner))
                    });
                    match found {
                        Some(n) => Some(n),
                        None => continue,
                    }
                }
            };
            let code = match (rule.department.as_str(), asset) {
                ("$owner", Some(n)) => n.asset.owner.as_str(),
                ("$owner", None) => continue,
                (code, _) => code,
            };
            let Some(department) = self.departments.get(code) else {
                continue;
            };
            let (explanation_zh, explanation_en) =
                explain(category, rule, department, asset, chain, &self.departments);
            return Some(Decision {
                rule,
                department,
                asset,
                explanation_zh,
                explanation_en,
            });
        }
        None
    }
}

/// A rule without conditions that names a department: it applies to every incident.
fn is_unconditional(r: &Rule) -> bool {
    r.categories.is_empty() && r.streets.is_empty() && r.layer.is_none() && r.department != "$owner"
}

/// The rules file written on the first start: the default rules that name only departments and
/// layers the district has (so the demo district gets them all, an imported district the
/// `$owner` rules its assets' owners make usable), ending with a fallback to `fallback` when
/// that is one of its departments. Returns the text and one line per rule left out, for the log.
pub fn default_rules_for(context: &RuleContext, fallback: Option<&str>) -> (String, Vec<String>) {
    let mut blocks = DEFAULT_RULES.split("[[rule]]");
    let mut text = blocks.next().unwrap_or_default().to_string();
    let mut left_out = Vec::new();
    let mut has_fallback = false;
    for block in blocks {
        let Ok(rule) = toml::from_str::<Rule>(block) else {
            continue;
        };
        let fallback_here = is_unconditional(&rule);
        match context.unusable(&rule) {
            None if fallback_here && fallback.is_some_and(|f| f != rule.department) => {
                left_out.push(format!(
                    "rule {}: the fallback department is {} instead",
                    rule.id,
                    fallback.unwrap_or_default()
                ));
            }
            None => {
                has_fallback |= fallback_here;
                text.push_str("[[rule]]");
                text.push_str(block);
            }
            Some(why) => left_out.push(format!("rule {}: {}", rule.id, why.en)),
        }
    }
    if !has_fallback {
        match fallback.filter(|f| context.has_department(f)) {
            Some(code) => {
                if !text.ends_with("\n\n") {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "[[rule]]\nid = \"fallback\"\ndepartment = \"{code}\"\n"
                ));
            }
            None => left_out.push(match fallback {
                Some(code) => format!(
                    "no fallback rule: the fallback department {code:?} is not one of the district's departments"
                ),
                None => "no fallback rule: set fallback_department (config, ONEGRID_FALLBACK_DEPARTMENT or --fallback-department) to a department code".into(),
            }),
        }
    }
    (text, left_out)
}

/// The explanation given when no rule in force covers an incident.
pub fn undecided_explanation(category: Category, chain: &[&Jurisdiction]) -> (String, String) {
    let mut zh = format!(
        "{}：没有适用的责任规则，未提出责任部门，需值班人员分派",
        category.label_zh()
    );
    let mut en = format!(
        "{}: no responsibility rule in force covers it, so no department is proposed; a duty officer routes it",
        category.label_en()
    );
    push_place(&mut zh, &mut en, chain);
    (zh, en)
}

fn layer_words(layer: AssetLayer) -> (&'static str, &'static str, &'static str, &'static str) {
    // (noun zh, verb zh, noun en, verb en)
    match layer {
        AssetLayer::Roads => ("道路", "养护", "road segment", "maintained by"),
        AssetLayer::Pipelines => ("管线", "权属", "pipeline segment", "owned by"),
        AssetLayer::Buildings => ("建筑", "管理", "building", "managed by"),
        AssetLayer::Pois => ("设施", "管理", "facility", "run by"),
    }
}

fn explain(
    category: Category,
    rule: &Rule,
    department: &Department,
    asset: Option<&NearbyAsset<'_>>,
    chain: &[&Jurisdiction],
    departments: &HashMap<String, Department>,
) -> (String, String) {
    let mut zh = format!("{}：", category.label_zh());
    let mut en = format!("{}: ", category.label_en());
    match asset {
        Some(n) => {
            let a = n.asset;
            let (noun_zh, verb_zh, noun_en, verb_en) = layer_words(a.layer);
            let owner = departments.get(&a.owner);
            let owner_zh = owner.map_or(a.owner.as_str(), |d| d.name_zh.as_str());
            let owner_en = owner.map_or(a.owner.as_str(), |d| d.name_en.as_str());
            zh.push_str(&format!(
                "距{noun_zh}{}（{}）{:.1} 米，该{noun_zh}由{owner_zh}{verb_zh}",
                a.name, a.id, n.distance_m
            ));
            en.push_str(&format!(
                "{:.1} m from {} {noun_en} {} {verb_en} {owner_en}",
                n.distance_m, a.name, a.id
            ));
            if owner.map(|d| d.code.as_str()) != Some(department.code.as_str()) {
                zh.push_str(&format!(
                    "，按规则 {} 由{}负责",
                    rule.id, department.name_zh
                ));
                en.push_str(&format!(
                    "; rule {} assigns {}",
                    rule.id, department.name_en
                ));
            }
        }
        None => {
            zh.push_str(&format!("按规则 {} 由{}负责", rule.id, department.name_zh));
            en.push_str(&format!("rule {} assigns {}", rule.id, department.name_en));
        }
    }
    push_place(&mut zh, &mut en, chain);
    (zh, en)
}

/// Appends where the incident lies: its grid and street/town.
fn push_place(zh: &mut String, en: &mut String, chain: &[&Jurisdiction]) {
    let grid = chain.iter().find(|j| j.level == Level::Grid);
    let street = chain.iter().find(|j| j.level == Level::Street);
    match (grid, street) {
        (Some(g), Some(s)) => {
            zh.push_str(&format!("；位于{}网格 {}（{}）", s.name, g.code, g.name));
            en.push_str(&format!("; inside grid {} of {}", g.code, s.name));
        }
        (None, Some(s)) => {
            zh.push_str(&format!("；位于{}", s.name));
            en.push_str(&format!("; inside {}", s.name));
        }
        (Some(g), None) => {
            zh.push_str(&format!("；位于网格 {}（{}）", g.code, g.name));
            en.push_str(&format!("; inside grid {} ({})", g.code, g.name));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::district::Asset;
    use geo::{point, Coord, MultiPolygon};

    fn dept(code: &str, zh: &str, en: &str) -> Department {
        Department {
            parent: None,
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            contact: "0757-80000000".into(),
        }
    }

    fn departments() -> Vec<Department> {
        vec![
            dept("transport", "区交通运输局", "District Transport Bureau"),
            dept("water", "区水务局", "District Water Authority"),
            dept("water_supply", "禅城供水公司", "Chancheng Water Supply Co."),
            dept(
                "urban_mgmt",
                "区城市管理和综合执法局",
                "District Urban Management Bureau",
            ),
            dept(
                "landscaping",
                "区园林绿化中心",
                "District Landscaping Centre",
            ),
            dept("fire", "区消防救援大队", "District Fire and Rescue Brigade"),
        ]
    }

    fn asset(layer: AssetLayer, id: &str, name: &str, kind: &str, owner: &str) -> Asset {
        Asset {
            layer,
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            owner: owner.into(),
            props: Default::default(),
            geometry: point!(x: 113.1, y: 23.0).into(),
        }
    }

    fn jurisdiction(level: Level, code: &str, name: &str) -> Jurisdiction {
        Jurisdiction {
            generated: false,
            level,
            code: code.into(),
            name: name.into(),
            parent: None,
            geometry: MultiPolygon(vec![]),
        }
    }

    #[test]
    fn the_default_rules_load_and_explain_with_the_nearest_asset() {
        let rules = Rules::parse("default", DEFAULT_RULES, &context());
        assert!(!rules.report().has_problems(), "{:?}", rules.report());
        let road = asset(
            AssetLayer::Roads,
            "R-001234",
            "季华路",
            "primary",
            "transport",
        );
        let pipe = asset(
            AssetLayer::Pipelines,
            "P-000042",
            "季华路给水管",
            "water_supply",
            "water_supply",
        );
        let at = Coord { x: 113.1, y: 23.0 };
        let nearby = vec![
            NearbyAsset {
                asset: &pipe,
                distance_m: 3.2,
                nearest: at,
            },
            NearbyAsset {
                asset: &road,
                distance_m: 3.24,
                nearest: at,
            },
        ];
        let street = jurisdiction(Level::Street, "440604012", "祖庙街道");
        let grid = jurisdiction(Level::Grid, "440604012003007", "文华社区第7网格");
        let chain = [&street, &grid];

        let d = rules
            .decide(Category::DamagedRoad, &chain, &nearby)
            .expect("decided");
        assert_eq!(d.rule.id, "road-maintainer");
        assert_eq!(d.department.code, "transport");
        assert_eq!(
            d.explanation_en,
            "Damaged road: 3.2 m from 季华路 road segment R-001234 maintained by District Transport Bureau; inside grid 440604012003007 of 祖庙街道"
        );
        assert!(d
            .explanation_zh
            .starts_with("路面破损：距道路季华路（R-001234）3.2 米，该道路由区交通运输局养护"));

        let d = rules
            .decide(Category::DamagedManholeCover, &chain, &nearby)
            .expect("decided");
        assert_eq!(
            (d.rule.id.as_str(), d.department.code.as_str()),
            ("manhole-over-pipeline", "water_supply")
        );

        // Nothing near: the category's default, then the fallback.
        let d = rules
            .decide(Category::DamagedRoad, &chain, &[])
            .expect("decided");
        assert_eq!(
            (d.rule.id.as_str(), d.department.code.as_str()),
            ("road-default", "transport")
        );
        assert!(d
            .explanation_zh
            .contains("按规则 road-default 由区交通运输局负责"));
        let d = rules
            .decide(Category::FireHazard, &chain, &[])
            .expect("decided");
        assert_eq!(d.department.code, "fire");
    }

    /// The test departments, with roads and pipelines owned by some of them.
    fn context() -> RuleContext {
        let owners = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect();
        RuleContext {
            departments: departments(),
            owners_by_layer: HashMap::from([
                (AssetLayer::Roads, owners(&["transport"])),
                (AssetLayer::Pipelines, owners(&["water_supply", "water"])),
            ]),
        }
    }

    fn skipped(rules: &Rules) -> Vec<(usize, Option<&str>, &str)> {
        rules
            .report()
            .skipped
            .iter()
            .map(|s| (s.index, s.id.as_deref(), s.reason.as_str()))
            .collect()
    }

    #[test]
    fn unusable_rules_are_skipped_with_their_reason_and_the_rest_stay_in_force() {
        let text = r#"
[[rule]]
id = "moon"
department = "moon_office"

[[rule]]
id = "typo"
departmnt = "urban_mgmt"

[[rule]]
id = "ufo"
categories = ["ufo"]
department = "urban_mgmt"

[[rule]]
id = "by-building"
layer = "buildings"
department = "$owner"

[[rule]]
id = "owner-without-layer"
department = "$owner"

[[rule]]
id = "roads"
categories = ["damaged_road"]
layer = "roads"
department = "$owner"

[[rule]]
id = "roads"
department = "transport"

[[rule]]
id = "fallback"
department = "urban_mgmt"
"#;
        let rules = Rules::parse("rules.toml", text, &context());
        let got = skipped(&rules);
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(got[0].0, 1);
        assert!(got[0].2.contains("\"moon_office\""), "{got:?}");
        assert!(got[1].2.contains("departmnt"), "{got:?}");
        assert!(got[2].2.contains("ufo"), "{got:?}");
        assert!(got[3].2.contains("buildings layer"), "{got:?}");
        assert!(got[4].2.contains("needs a layer"), "{got:?}");
        assert_eq!(got[5].1, Some("roads"));
        assert!(got[5].2.contains("earlier rule"), "{got:?}");
        let in_force: Vec<&str> = rules.report().rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(in_force, ["roads", "fallback"]);
        assert!(rules.report().problems.is_empty(), "{:?}", rules.report());
        assert_eq!(rules.report().file, "rules.toml");

        // Without a fallback, an incident nothing covers gets no decision, and it is said.
        let only_roads =
            "[[rule]]\nid = \"x\"\ncategories = [\"garbage\"]\ndepartment = \"urban_mgmt\"\n";
        let rules = Rules::parse("r.toml", only_roads, &context());
        assert!(rules.decide(Category::FireHazard, &[], &[]).is_none());
        assert!(rules.report().problems[0]
            .message
            .contains("no rule in force applies to every incident"));
        assert!(rules.report().problems[0].message_zh.contains("兜底规则"));

        // A file that is not TOML at all: no rules, and why.
        let rules = Rules::parse("r.toml", "[[rule]\nid = ", &context());
        assert!(rules.report().rules.is_empty());
        assert!(
            rules.report().problems[0]
                .message
                .contains("cannot be read as TOML"),
            "{:?}",
            rules.report()
        );
        assert!(rules.decide(Category::Garbage, &[], &[]).is_none());
    }

    #[test]
    fn the_first_rules_file_names_only_what_the_district_has() {
        // The demo's departments and layers: the defaults, whole.
        let demo = RuleContext {
            departments: departments(),
            owners_by_layer: context().owners_by_layer,
        };
        let (text, left_out) = default_rules_for(&demo, None);
        assert_eq!(text, DEFAULT_RULES);
        assert!(left_out.is_empty(), "{left_out:?}");

        // An imported district: its own departments, roads owned by one of them, no pipelines.
        let own = RuleContext {
            departments: vec![
                dept("bauamt", "建设局", "Building Office"),
                dept("gemeinde", "市政厅", "Town Hall"),
            ],
            owners_by_layer: HashMap::from([(AssetLayer::Roads, ["bauamt".to_string()].into())]),
        };
        let (text, left_out) = default_rules_for(&own, Some("gemeinde"));
        let rules = Rules::parse("r.toml", &text, &own);
        assert!(
            !rules.report().has_problems(),
            "{:?}\n{text}",
            rules.report()
        );
        let ids: Vec<&str> = rules.report().rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["manhole-in-road", "road-maintainer", "fallback"]);
        assert!(
            left_out.iter().any(|l| l.contains("pipelines layer")),
            "{left_out:?}"
        );
        assert!(
            left_out.iter().any(|l| l.contains("\"water\"")),
            "{left_out:?}"
        );
        let d = rules.decide(Category::Garbage, &[], &[]).expect("fallback");
        assert_eq!(d.department.code, "gemeinde");

        // No fallback department configured: the file has none, and the log says how to set one.
        let (text, left_out) = default_rules_for(&own, None);
        let rules = Rules::parse("r.toml", &text, &own);
        assert!(rules.decide(Category::Garbage, &[], &[]).is_none());
        assert!(
            left_out.iter().any(|l| l.contains("fallback_department")),
            "{left_out:?}"
        );
    }
}

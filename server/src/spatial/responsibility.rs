//! Who is responsible, and why: rules as data (TOML), first match wins, over the incident's
//! category, the assets near it and its jurisdiction chain. Every decision carries an
//! explanation in Chinese and English naming the facts it rests on.

use std::collections::HashMap;

use onegrid_app::wire::{AssetLayer, Category, Level};
use serde::Deserialize;

use super::NearbyAsset;
use crate::district::{Department, Jurisdiction};

/// The rules onegrid starts with (written into the data dir on first start).
pub const DEFAULT_RULES: &str = include_str!("default_rules.toml");

/// Distance within which a rule's asset must lie when the rule does not say, in metres.
const DEFAULT_WITHIN_M: f64 = 30.0;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub streets: Vec<String>,
    pub layer: Option<AssetLayer>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    pub within_m: Option<f64>,
    /// A department code, or `$owner`: the owner of the asset the rule found.
    pub department: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(rename = "rule")]
    rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("responsibility rules: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("responsibility rule {rule:?} names unknown department {department:?}")]
    UnknownDepartment { rule: String, department: String },
    #[error("responsibility rules: no rule applies to every incident; end with a rule without conditions")]
    NoFallback,
}

/// A checked rule set with the departments it can name.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    departments: HashMap<String, Department>,
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
    /// Parses and checks a rule file against the known departments.
    pub fn parse(text: &str, departments: &[Department]) -> Result<Rules, RulesError> {
        let file: RuleFile = toml::from_str(text)?;
        let departments: HashMap<String, Department> = departments
            .iter()
            .map(|d| (d.code.clone(), d.clone()))
            .collect();
        for r in &file.rules {
            if r.department != "$owner" && !departments.contains_key(&r.department) {
                return Err(RulesError::UnknownDepartment {
                    rule: r.id.clone(),
                    department: r.department.clone(),
                });
            }
        }
        let unconditional = |r: &Rule| {
            r.categories.is_empty()
                && r.streets.is_empty()
                && r.layer.is_none()
                && r.department != "$owner"
        };
        if !file.rules.iter().any(unconditional) {
            return Err(RulesError::NoFallback);
        }
        Ok(Rules {
            rules: file.rules,
            departments,
        })
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
        for rule in &self.rules {
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
        _ => {}
    }
    (zh, en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::district::Asset;
    use geo::{point, Coord, MultiPolygon};

    fn dept(code: &str, zh: &str, en: &str) -> Department {
        Department {
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
            level,
            code: code.into(),
            name: name.into(),
            parent: None,
            geometry: MultiPolygon(vec![]),
        }
    }

    #[test]
    fn the_default_rules_load_and_explain_with_the_nearest_asset() {
        let rules = Rules::parse(DEFAULT_RULES, &departments()).expect("default rules");
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

    #[test]
    fn bad_rule_files_are_refused_with_a_reason() {
        let unknown = "[[rule]]\nid = \"x\"\ndepartment = \"moon_office\"\n";
        assert!(matches!(
            Rules::parse(unknown, &departments()),
            Err(RulesError::UnknownDepartment { .. })
        ));
        let no_fallback =
            "[[rule]]\nid = \"x\"\ncategories = [\"garbage\"]\ndepartment = \"urban_mgmt\"\n";
        assert!(matches!(
            Rules::parse(no_fallback, &departments()),
            Err(RulesError::NoFallback)
        ));
        let typo = "[[rule]]\nid = \"x\"\ndepartmnt = \"urban_mgmt\"\n";
        assert!(matches!(
            Rules::parse(typo, &departments()),
            Err(RulesError::Parse(_))
        ));
        let bad_category =
            "[[rule]]\nid = \"x\"\ncategories = [\"ufo\"]\ndepartment = \"urban_mgmt\"\n";
        assert!(matches!(
            Rules::parse(bad_category, &departments()),
            Err(RulesError::Parse(_))
        ));
    }
}

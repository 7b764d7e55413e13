//! Roads and pipelines: the road network over the block edges (named routes, arterials along
//! chosen lattice lines), the road classes and pipe kinds, and [`make_roads_and_pipelines`],
//! one road asset per block edge with its pipelines a few metres into the blocks beside it.

use std::collections::{BTreeSet, HashSet};

use geo::{Geometry, LineString};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::district::{Asset, AssetLayer};

use super::{cn_num, lerp, props, round1, Plan, CX, CY, FX, FY, NO_ROUTE, S};

/// First parts of local road names.
const ROAD_WORDS: &[&str] = &[
    "兴业",
    "裕和",
    "文沙",
    "南浦",
    "丝织",
    "锦澜",
    "轻工",
    "陶瓷",
    "环市",
    "城门头",
    "塘景",
    "惠景",
    "市东",
    "乐安",
    "汾水",
    "保安",
    "存院",
    "城南",
    "明远",
    "锦江",
    "创业",
    "怡景",
    "聚锦",
    "南海",
    "兆丰",
    "平远",
    "永安",
    "福华",
    "惠民",
    "协和",
    "新安",
    "桂花",
    "康宁",
    "长庆",
    "石门",
    "宝塔",
    "朝东",
    "金鱼塘",
    "快子",
    "清风",
    "玫瑰",
    "紫荆",
    "海棠",
    "百花",
    "荷花",
    "榕荫",
    "松风",
    "竹园",
    "石路",
    "凤凰",
    "红棉",
    "鲤鱼",
    "龙船",
    "旭景",
    "泰安",
    "庆丰",
    "迎宾",
    "建设",
    "工业",
    "兴旺",
    "民乐",
    "盈富",
    "佛平",
    "聚贤",
    "华康",
    "景湖",
    "湖景",
    "碧水",
    "映月",
    "观澜",
    "岭秀",
    "锦园",
    "翠华",
    "汇金",
    "绿茵",
    "富安",
    "润景",
    "和顺",
    "宏达",
    "祥泰",
    "安和",
    "宁远",
    "新市",
    "东胜",
];
const ROAD_SUFFIX_EW: &[&str] = &["路", "东路", "西路", "大街", "一路", "二路"];
const ROAD_SUFFIX_NS: &[&str] = &["路", "南路", "北路", "大街", "三路", "四路"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RoadClass {
    Trunk,
    Primary,
    Secondary,
    Tertiary,
    Residential,
}

impl RoadClass {
    fn kind(self) -> &'static str {
        match self {
            RoadClass::Trunk => "trunk",
            RoadClass::Primary => "primary",
            RoadClass::Secondary => "secondary",
            RoadClass::Tertiary => "tertiary",
            RoadClass::Residential => "residential",
        }
    }

    fn owner(self) -> &'static str {
        match self {
            RoadClass::Residential => "urban_mgmt",
            _ => "transport",
        }
    }

    fn is_arterial(self) -> bool {
        matches!(
            self,
            RoadClass::Trunk | RoadClass::Primary | RoadClass::Secondary
        )
    }

    /// Wider roads push their pipelines further from the centreline.
    fn width_factor(self) -> f64 {
        match self {
            RoadClass::Trunk => 1.6,
            RoadClass::Primary => 1.4,
            RoadClass::Secondary => 1.2,
            RoadClass::Tertiary | RoadClass::Residential => 1.0,
        }
    }
}

struct ArterialDef {
    name: &'static str,
    /// East–west (along a lattice row) or north–south.
    east_west: bool,
    /// Position across the extent (0 = south/west edge, 1 = north/east edge).
    pos: f64,
    /// Span along the extent, fractions.
    from: f64,
    to: f64,
    class: RoadClass,
}

const ARTERIALS: &[ArterialDef] = &[
    ArterialDef {
        name: "季华路",
        east_west: true,
        pos: 0.44,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Trunk,
    },
    ArterialDef {
        name: "佛山大道",
        east_west: false,
        pos: 0.54,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Trunk,
    },
    ArterialDef {
        name: "岭南大道",
        east_west: false,
        pos: 0.36,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Trunk,
    },
    ArterialDef {
        name: "汾江路",
        east_west: false,
        pos: 0.78,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "绿景路",
        east_west: true,
        pos: 0.60,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "魁奇路",
        east_west: true,
        pos: 0.32,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "文华路",
        east_west: false,
        pos: 0.64,
        from: 0.15,
        to: 0.9,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "江湾路",
        east_west: false,
        pos: 0.92,
        from: 0.0,
        to: 0.6,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "南庄大道",
        east_west: true,
        pos: 0.22,
        from: 0.0,
        to: 0.5,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "张槎路",
        east_west: true,
        pos: 0.82,
        from: 0.12,
        to: 0.62,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "禅西大道",
        east_west: false,
        pos: 0.20,
        from: 0.0,
        to: 1.0,
        class: RoadClass::Primary,
    },
    ArterialDef {
        name: "建新路",
        east_west: true,
        pos: 0.70,
        from: 0.55,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "人民路",
        east_west: true,
        pos: 0.78,
        from: 0.62,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "祖庙路",
        east_west: false,
        pos: 0.84,
        from: 0.55,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "普澜路",
        east_west: false,
        pos: 0.87,
        from: 0.05,
        to: 0.5,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "华远东路",
        east_west: false,
        pos: 0.71,
        from: 0.5,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "同济路",
        east_west: true,
        pos: 0.52,
        from: 0.55,
        to: 1.0,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "卫国路",
        east_west: false,
        pos: 0.46,
        from: 0.45,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "石湾公园路",
        east_west: true,
        pos: 0.18,
        from: 0.55,
        to: 0.95,
        class: RoadClass::Secondary,
    },
    ArterialDef {
        name: "紫洞路",
        east_west: false,
        pos: 0.10,
        from: 0.1,
        to: 0.7,
        class: RoadClass::Secondary,
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PipeKind {
    WaterSupply,
    Drainage,
    Gas,
    Power,
    Telecom,
}

impl PipeKind {
    const ALL: [PipeKind; 5] = [
        PipeKind::WaterSupply,
        PipeKind::Drainage,
        PipeKind::Gas,
        PipeKind::Power,
        PipeKind::Telecom,
    ];

    fn code(self) -> &'static str {
        match self {
            PipeKind::WaterSupply => "water_supply",
            PipeKind::Drainage => "drainage",
            PipeKind::Gas => "gas",
            PipeKind::Power => "power",
            PipeKind::Telecom => "telecom",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            PipeKind::WaterSupply => "给水",
            PipeKind::Drainage => "排水",
            PipeKind::Gas => "燃气",
            PipeKind::Power => "电力",
            PipeKind::Telecom => "通信",
        }
    }

    fn owner(self) -> &'static str {
        match self {
            PipeKind::WaterSupply => "water_supply",
            PipeKind::Drainage => "water",
            PipeKind::Gas => "gas",
            PipeKind::Power => "power",
            PipeKind::Telecom => "telecom",
        }
    }

    /// Which side of the road (true = left of the segment's direction) and how far in, as a
    /// fraction of the adjacent block's depth (a block is ~110 m deep).
    fn placement(self) -> (bool, f64) {
        match self {
            PipeKind::WaterSupply => (true, 0.035),
            PipeKind::Drainage => (false, 0.025),
            PipeKind::Gas => (false, 0.05),
            PipeKind::Power => (true, 0.055),
            PipeKind::Telecom => (true, 0.075),
        }
    }

    fn depth_range(self) -> (f64, f64) {
        match self {
            PipeKind::WaterSupply => (1.0, 1.8),
            PipeKind::Drainage => (1.8, 3.5),
            PipeKind::Gas => (0.8, 1.5),
            PipeKind::Power => (0.8, 1.5),
            PipeKind::Telecom => (0.8, 1.2),
        }
    }

    fn diameters(self, arterial: bool) -> &'static [i64] {
        match (self, arterial) {
            (PipeKind::WaterSupply, true) => &[400, 600, 800, 1000],
            (PipeKind::WaterSupply, false) => &[100, 150, 200, 300],
            (PipeKind::Drainage, true) => &[1000, 1200, 1500, 1800],
            (PipeKind::Drainage, false) => &[300, 400, 500, 600],
            (PipeKind::Gas, true) => &[200, 250, 315, 400],
            (PipeKind::Gas, false) => &[63, 90, 110, 160],
            (PipeKind::Power, true) => &[200, 250],
            (PipeKind::Power, false) => &[150, 200],
            (PipeKind::Telecom, true) => &[110, 150],
            (PipeKind::Telecom, false) => &[100, 110],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Road network
// ---------------------------------------------------------------------------------------------

pub(super) struct Route {
    pub(super) name: String,
    class: RoadClass,
    lanes: i64,
    /// Pipelines under the road, with (base depth m, diameter mm).
    pipes: Vec<(PipeKind, f64, i64)>,
}

/// Every block edge of the district, labelled with the named road it belongs to.
pub(super) struct RoadNetwork {
    pub(super) routes: Vec<Route>,
    /// East–west edges (fi, fj)→(fi+1, fj), index fj*(FX-1)+fi.
    pub(super) ew: Vec<u32>,
    /// North–south edges (fi, fj)→(fi, fj+1), index fj*FX+fi.
    ns: Vec<u32>,
}

impl RoadNetwork {
    pub(super) fn new(plan: &Plan, rng: &mut ChaCha8Rng) -> RoadNetwork {
        let mut net = RoadNetwork {
            routes: Vec::new(),
            ew: vec![NO_ROUTE; (FX - 1) * FY],
            ns: vec![NO_ROUTE; FX * (FY - 1)],
        };
        let mut names: HashSet<String> = HashSet::new();
        let ew_kept = |fi: usize, fj: usize| {
            plan.block_kept(fi as i64, fj as i64) || plan.block_kept(fi as i64, fj as i64 - 1)
        };
        let ns_kept = |fi: usize, fj: usize| {
            plan.block_kept(fi as i64, fj as i64) || plan.block_kept(fi as i64 - 1, fj as i64)
        };

        // Arterials along coarse lattice lines.
        let mut taken: Vec<(bool, usize, usize, usize)> = Vec::new();
        for def in ARTERIALS {
            let (lines, along) = if def.east_west { (CY, CX) } else { (CX, CY) };
            let from = (def.from * along as f64).floor() as usize;
            let to = ((def.to * along as f64).ceil() as usize).min(along);
            let nominal = (def.pos * lines as f64).round() as i64 + rng.gen_range(-1..=1);
            let line = [0i64, 1, -1, 2, -2, 3, -3]
                .iter()
                .map(|o| nominal + o)
                .find(|&l| {
                    l >= 2
                        && l <= lines as i64 - 2
                        && !taken.iter().any(|&(ew, tl, tf, tt)| {
                            ew == def.east_west
                                && (tl as i64 - l).abs() <= 1
                                && tf < to
                                && from < tt
                        })
                });
            let Some(line) = line else { continue };
            let line = line as usize;
            taken.push((def.east_west, line, from, to));
            let route = net.add_route(def.name.to_string(), def.class, rng);
            names.insert(def.name.to_string());
            for k in from * S..to * S {
                if def.east_west {
                    if ew_kept(k, line * S) {
                        net.ew[line * S * (FX - 1) + k] = route;
                    }
                } else if ns_kept(line * S, k) {
                    net.ns[k * FX + line * S] = route;
                }
            }
        }

        // Tertiary roads on the other cell edges, named in runs of 2–5 cells.
        for east_west in [true, false] {
            let (lines, along) = if east_west {
                (CY + 1, CX)
            } else {
                (CX + 1, CY)
            };
            for line in 0..lines {
                let mut current = NO_ROUTE;
                let mut left = 0usize;
                for k in 0..along {
                    let (fi, fj) = if east_west {
                        (k * S, line * S)
                    } else {
                        (line * S, k * S)
                    };
                    let kept = if east_west {
                        ew_kept(fi, fj)
                    } else {
                        ns_kept(fi, fj)
                    };
                    let free = kept
                        && if east_west {
                            net.ew[fj * (FX - 1) + fi] == NO_ROUTE
                        } else {
                            net.ns[fj * FX + fi] == NO_ROUTE
                        };
                    if !free {
                        current = NO_ROUTE;
                        continue;
                    }
                    if current == NO_ROUTE || left == 0 {
                        let suffixes = if east_west {
                            ROAD_SUFFIX_EW
                        } else {
                            ROAD_SUFFIX_NS
                        };
                        let name = unique_name(rng, &mut names, ROAD_WORDS, suffixes);
                        current = net.add_route(name, RoadClass::Tertiary, rng);
                        left = rng.gen_range(2..=5);
                    }
                    left -= 1;
                    for m in 0..S {
                        if east_west {
                            net.ew[fj * (FX - 1) + fi + m] = current;
                        } else {
                            net.ns[(fj + m) * FX + fi] = current;
                        }
                    }
                }
            }
        }

        // Residential streets inside each cell, named after the community: 街 east–west, 巷
        // north–south.
        for comm in &plan.communities {
            let mut rows: BTreeSet<usize> = BTreeSet::new();
            let mut cols: BTreeSet<usize> = BTreeSet::new();
            for &cell in &comm.cells {
                let (ci, cj) = (cell % CX, cell / CX);
                rows.extend((1..S).map(|b| cj * S + b));
                cols.extend((1..S).map(|a| ci * S + a));
            }
            for (n, &fj) in rows.iter().enumerate() {
                let route = net.add_route(
                    format!("{}{}街", comm.prefix, cn_num(n + 1)),
                    RoadClass::Residential,
                    rng,
                );
                for &cell in &comm.cells {
                    let (ci, cj) = (cell % CX, cell / CX);
                    if fj / S == cj {
                        for fi in ci * S..(ci + 1) * S {
                            net.ew[fj * (FX - 1) + fi] = route;
                        }
                    }
                }
            }
            for (n, &fi) in cols.iter().enumerate() {
                let route = net.add_route(
                    format!("{}{}巷", comm.prefix, cn_num(n + 1)),
                    RoadClass::Residential,
                    rng,
                );
                for &cell in &comm.cells {
                    let (ci, cj) = (cell % CX, cell / CX);
                    if fi / S == ci {
                        for fj in cj * S..(cj + 1) * S {
                            net.ns[fj * FX + fi] = route;
                        }
                    }
                }
            }
        }
        net
    }

    fn add_route(&mut self, name: String, class: RoadClass, rng: &mut ChaCha8Rng) -> u32 {
        let lanes = match class {
            RoadClass::Trunk => 8,
            RoadClass::Primary => 6,
            RoadClass::Secondary => 4,
            RoadClass::Tertiary => *[2, 4].choose(rng).unwrap_or(&2),
            RoadClass::Residential => 2,
        };
        let kinds: Vec<PipeKind> = match class {
            c if c.is_arterial() => PipeKind::ALL.to_vec(),
            RoadClass::Tertiary => {
                let extra = *[PipeKind::Gas, PipeKind::Power, PipeKind::Telecom]
                    .choose(rng)
                    .unwrap_or(&PipeKind::Gas);
                vec![PipeKind::WaterSupply, PipeKind::Drainage, extra]
            }
            _ => {
                if rng.gen_bool(0.5) {
                    vec![PipeKind::WaterSupply, PipeKind::Drainage, PipeKind::Gas]
                } else {
                    vec![PipeKind::WaterSupply, PipeKind::Drainage]
                }
            }
        };
        let pipes = kinds
            .into_iter()
            .map(|k| {
                let (lo, hi) = k.depth_range();
                let d = k.diameters(class.is_arterial());
                (k, rng.gen_range(lo..hi), d[rng.gen_range(0..d.len())])
            })
            .collect();
        self.routes.push(Route {
            name,
            class,
            lanes,
            pipes,
        });
        (self.routes.len() - 1) as u32
    }

    pub(super) fn ew_route(&self, fi: usize, fj: usize) -> Option<&Route> {
        self.routes.get(self.ew[fj * (FX - 1) + fi] as usize)
    }
}

fn unique_name(
    rng: &mut ChaCha8Rng,
    names: &mut HashSet<String>,
    words: &[&str],
    suffixes: &[&str],
) -> String {
    for _ in 0..40 {
        let name = format!(
            "{}{}",
            words[rng.gen_range(0..words.len())],
            suffixes[rng.gen_range(0..suffixes.len())]
        );
        if names.insert(name.clone()) {
            return name;
        }
    }
    let word = words[rng.gen_range(0..words.len())];
    let mut n = 1;
    loop {
        let name = format!("{word}{}路", cn_num(n));
        if names.insert(name.clone()) {
            return name;
        }
        n += 1;
    }
}

/// One road asset per block edge, its pipelines a few metres into the blocks beside it.
pub(super) fn make_roads_and_pipelines(
    plan: &Plan,
    net: &RoadNetwork,
    rng: &mut ChaCha8Rng,
) -> (Vec<Asset>, Vec<Asset>) {
    let lat = &plan.lattice;
    let mut roads = Vec::new();
    let mut pipes = Vec::new();
    // Each side: (block on that side, across-vertex at a, across-vertex at b, block before,
    // block after), blocks as signed (fi, fj).
    type Side = (
        (i64, i64),
        (usize, usize),
        (usize, usize),
        (i64, i64),
        (i64, i64),
    );
    let mut emit = |route: &Route,
                    a: (usize, usize),
                    b: (usize, usize),
                    left: Option<Side>,
                    right: Option<Side>,
                    rng: &mut ChaCha8Rng| {
        let pa = lat.p(a.0, a.1);
        let pb = lat.p(b.0, b.1);
        roads.push(Asset {
            layer: AssetLayer::Roads,
            id: format!("R-{:06}", roads.len() + 1),
            name: route.name.clone(),
            kind: route.class.kind().to_string(),
            owner: route.class.owner().to_string(),
            props: props(&[("lanes", json!(route.lanes))]),
            geometry: Geometry::LineString(LineString::new(vec![pa, pb])),
        });
        let keep = |s: &Option<Side>| s.filter(|s| plan.block_kept(s.0 .0, s.0 .1));
        let (left, right) = (keep(&left), keep(&right));
        for &(kind, depth, diameter) in &route.pipes {
            let (want_left, delta) = kind.placement();
            let side = if want_left {
                left.or(right)
            } else {
                right.or(left)
            };
            let Some((_, across_a, across_b, before, after)) = side else {
                continue;
            };
            let delta = delta * route.class.width_factor();
            let qa = lerp(pa, lat.p(across_a.0, across_a.1), delta);
            let qb = lerp(pb, lat.p(across_b.0, across_b.1), delta);
            // Pull an end in where the road meets the district boundary, so the pipe stays
            // strictly inside.
            let tau = 0.06;
            let start = if plan.block_kept(before.0, before.1) {
                qa
            } else {
                lerp(qa, qb, tau)
            };
            let end = if plan.block_kept(after.0, after.1) {
                qb
            } else {
                lerp(qb, qa, tau)
            };
            let (lo, hi) = kind.depth_range();
            let depth = round1((depth + rng.gen_range(-0.15..0.15)).clamp(lo, hi));
            pipes.push(Asset {
                layer: AssetLayer::Pipelines,
                id: format!("P-{:06}", pipes.len() + 1),
                name: format!("{}{}管", route.name, kind.zh()),
                kind: kind.code().to_string(),
                owner: kind.owner().to_string(),
                props: props(&[("depth_m", json!(depth)), ("diameter_mm", json!(diameter))]),
                geometry: Geometry::LineString(LineString::new(vec![start, end])),
            });
        }
    };
    for fj in 0..FY {
        for fi in 0..FX - 1 {
            let Some(route) = net.routes.get(net.ew[fj * (FX - 1) + fi] as usize) else {
                continue;
            };
            let (i, j) = (fi as i64, fj as i64);
            let left = (fj + 1 < FY).then_some((
                (i, j),
                (fi, fj + 1),
                (fi + 1, fj + 1),
                (i - 1, j),
                (i + 1, j),
            ));
            let right = (fj > 0).then(|| {
                (
                    (i, j - 1),
                    (fi, fj - 1),
                    (fi + 1, fj - 1),
                    (i - 1, j - 1),
                    (i + 1, j - 1),
                )
            });
            emit(route, (fi, fj), (fi + 1, fj), left, right, rng);
        }
    }
    for fi in 0..FX {
        for fj in 0..FY - 1 {
            let Some(route) = net.routes.get(net.ns[fj * FX + fi] as usize) else {
                continue;
            };
            let (i, j) = (fi as i64, fj as i64);
            let left = (fi > 0).then(|| {
                (
                    (i - 1, j),
                    (fi - 1, fj),
                    (fi - 1, fj + 1),
                    (i - 1, j - 1),
                    (i - 1, j + 1),
                )
            });
            let right = (fi + 1 < FX).then_some((
                (i, j),
                (fi + 1, fj),
                (fi + 1, fj + 1),
                (i, j - 1),
                (i, j + 1),
            ));
            emit(route, (fi, fj), (fi, fj + 1), left, right, rng);
        }
    }
    (roads, pipes)
}

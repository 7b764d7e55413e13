//! Deterministic generator of a Chancheng-like demo district (禅城区, Foshan).
//!
//! [`generate`] turns a seed into a complete [`District`]: the jurisdiction hierarchy (district ›
//! 4 streets/towns › ~100 communities › ~600 grids), the departments, and ~250,000 assets (roads,
//! pipelines, buildings, points of interest). Same seed, same district, bit for bit (ChaCha8 RNG,
//! no hash-map iteration order anywhere).
//!
//! Construction:
//! - a jittered lattice of convex quads (36×29 vertices over the extent, interior vertices moved
//!   by up to 28 % of a cell) is cut to an irregular blob of ~600 cells: the grids;
//! - each cell is subdivided by bilinear interpolation into 5×5 blocks; all coordinates come from
//!   one shared array of "fine" vertices, so neighbours share bit-identical vertices;
//! - streets are a power diagram of the cells over four seeds (weights tuned to target shares,
//!   disconnected pieces handed to a neighbour), communities are grown region by region inside
//!   each street (~6 cells each, always connected);
//! - every jurisdiction polygon is traced from its cells' boundary edges over the lattice, so
//!   the levels tile their parents exactly;
//! - roads run along every block edge (arterials along chosen lattice lines), pipelines run
//!   a few metres inside the blocks next to them, buildings sit inside the blocks with a margin,
//!   so nothing crosses a road or a grid boundary.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::f64::consts::TAU;

use geo::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

use crate::district::{Asset, AssetLayer, Department, District, Jurisdiction, Level, Props};

// ---------------------------------------------------------------------------------------------
// Extent and lattice
// ---------------------------------------------------------------------------------------------

const LON_MIN: f64 = 113.00;
const LON_MAX: f64 = 113.17;
const LAT_MIN: f64 = 22.96;
const LAT_MAX: f64 = 23.08;
/// Centre of the blob the district is cut from (lon, lat).
const CENTER: (f64, f64) = (113.085, 23.02);
/// Half extents of the blob's ellipse, degrees.
const BLOB_A: f64 = 0.085;
const BLOB_B: f64 = 0.06;
/// Kilometres per degree at the district's latitude.
const KM_PER_LON: f64 = 102.47;
const KM_PER_LAT: f64 = 110.75;

/// Coarse lattice vertices west–east and south–north (~490 m × 475 m cells; the district keeps
/// ~60 % of them, so its outline stays irregular).
const NX: usize = 36;
const NY: usize = 29;
/// Coarse cells (candidate grids).
const CX: usize = NX - 1;
const CY: usize = NY - 1;
/// Blocks per cell side: each cell holds S−1 local streets each way.
const S: usize = 5;
/// Fine (block-corner) vertices.
const FX: usize = CX * S + 1;
const FY: usize = CY * S + 1;
/// Interior lattice vertices move by up to this fraction of a cell (in a disc, so cells stay
/// convex).
const JITTER: f64 = 0.28;

const NONE: usize = usize::MAX;
const NO_ROUTE: u32 = u32::MAX;

/// (lon, lat) of the district's centre, for flying the map there.
pub fn district_center() -> (f64, f64) {
    CENTER
}

// ---------------------------------------------------------------------------------------------
// Static data
// ---------------------------------------------------------------------------------------------

const DISTRICT_CODE: &str = "440604";
const DISTRICT_NAME: &str = "禅城区";

struct StreetDef {
    code: &'static str,
    name: &'static str,
    /// Where the street's seed sits (lon, lat).
    site: (f64, f64),
    /// Target share of the district's cells.
    share: f64,
    /// Probability that a community is a village (村) rather than a 社区.
    village_share: f64,
    /// Block-use weights: residential, commercial, industrial, public, school, mixed.
    mix: [u32; 6],
    /// Community names that belong here, tried first.
    pool: &'static [&'static str],
}

const STREETS: [StreetDef; 4] = [
    StreetDef {
        code: "440604010",
        name: "石湾镇街道",
        site: (113.122, 22.992),
        share: 0.25,
        village_share: 0.15,
        mix: [45, 15, 18, 5, 3, 14],
        pool: &[
            "澜石", "石湾", "榴苗", "湾华", "东风", "奇槎", "河宕", "深村", "鄱阳", "跃进", "太平",
            "公正", "忠信", "新石", "丰宁", "江湾", "南风", "陶都", "金澜", "海口", "东平", "华远",
            "沙岗", "石头", "山紫", "高庙", "三友", "小塘",
        ],
    },
    StreetDef {
        code: "440604011",
        name: "张槎街道",
        site: (113.058, 23.052),
        share: 0.24,
        village_share: 0.45,
        mix: [38, 10, 36, 4, 3, 9],
        pool: &[
            "大富", "上朗", "下朗", "弼唐", "东鄱", "莲塘", "大江", "大沙", "村尾", "度头", "张槎",
            "简村", "沙口", "白坭", "古灶", "塘头", "上沙", "下沙", "绿景", "鸿业", "华宝", "江滨",
            "朗沙", "宝业", "岗头",
        ],
    },
    StreetDef {
        code: "440604012",
        name: "祖庙街道",
        site: (113.112, 23.040),
        share: 0.18,
        village_share: 0.05,
        mix: [50, 25, 2, 7, 4, 12],
        pool: &[
            "东华里",
            "升平",
            "莲峰",
            "普君",
            "朝安",
            "祖庙",
            "福贤",
            "兆祥",
            "岭南",
            "同济",
            "卫国",
            "汾江",
            "建新",
            "人民",
            "兴华",
            "新风",
            "福宁",
            "敦厚",
            "文华",
            "铁军",
            "季华",
            "鹤园",
            "万福",
            "通济",
            "亲仁",
            "永新",
            "锦华",
            "明照",
            "垂虹",
            "新桥",
        ],
    },
    StreetDef {
        code: "440604100",
        name: "南庄镇",
        site: (113.025, 22.998),
        share: 0.33,
        village_share: 0.75,
        mix: [36, 8, 38, 4, 3, 8],
        pool: &[
            "紫洞", "上元", "吉利", "罗南", "罗格", "杏头", "溶洲", "梧村", "南庄", "龙津", "绿岛",
            "堤田", "隆庆", "高基", "醒群", "河滘", "贤僚", "大涌", "沙涌", "南村", "鹤岗", "程村",
            "东村", "西村", "杏联", "吉岸", "湖涌", "里水", "南港", "龙涌",
        ],
    },
];

/// Community names shared by every street once its own list is used up.
const GENERIC_COMMUNITY_NAMES: &[&str] = &[
    "兴隆", "瑞祥", "锦绣", "聚龙", "龙腾", "丰收", "荷村", "桂园", "榕树", "凤鸣", "文昌", "明德",
    "仁寿", "新涌", "滘口", "石涌", "基头", "桥头", "涌边", "东升", "西华", "南华", "太和", "朝阳",
    "翠园", "安宁", "永丰", "富民", "祥和", "星港", "金沙", "银河", "宝华", "富华", "怡翠", "新华",
    "和平", "光明", "红星", "团结", "东方", "振兴", "繁荣", "长兴", "同德", "田心", "水口", "谢边",
    "塘边", "蚬岗", "雷岗", "沙边", "龙潭", "奇龙", "宏图", "锦龙", "华阳", "丰泰", "裕丰", "泰和",
];

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

const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("transport", "区交通运输局", "District Transport Bureau"),
    ("water", "区水务局", "District Water Authority"),
    (
        "urban_mgmt",
        "区城市管理和综合执法局",
        "District Urban Management and Law Enforcement Bureau",
    ),
    (
        "housing",
        "区住房城乡建设局",
        "District Housing and Construction Bureau",
    ),
    (
        "water_supply",
        "佛山水业集团禅城供水公司",
        "Chancheng Water Supply Co.",
    ),
    ("gas", "佛山燃气集团", "Foshan Gas Group"),
    ("power", "禅城供电局", "Chancheng Power Supply Bureau"),
    (
        "telecom",
        "中国电信禅城分公司",
        "China Telecom Chancheng Branch",
    ),
    (
        "landscaping",
        "区园林绿化中心",
        "District Landscaping Centre",
    ),
    ("fire", "区消防救援大队", "District Fire and Rescue Brigade"),
    (
        "culture",
        "区文化广电旅游体育局",
        "District Culture and Tourism Bureau",
    ),
    ("education", "区教育局", "District Education Bureau"),
    (
        "market",
        "区市场监督管理局",
        "District Market Supervision Bureau",
    ),
    ("health", "区卫生健康局", "District Health Bureau"),
];

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

const BUILDING_KINDS: [&str; 6] = [
    "residential",
    "commercial",
    "industrial",
    "public",
    "school",
    "mixed",
];

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Generates the demo district for `seed`. The same seed always gives the same district.
pub fn generate(seed: u64) -> District {
    generate_dense(seed, 1)
}

/// Like [`generate`], with every building plot split into `density` × `density` smaller
/// buildings (a denser city for benchmarks: density 3 gives ~1.3 million assets). Density 1 is
/// [`generate`]; the jurisdictions and the road and pipeline network do not depend on it (their
/// attributes and the POIs, drawn from the seed after the buildings, may).
pub fn generate_dense(seed: u64, density: usize) -> District {
    let density = density.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let departments = make_departments(&mut rng);
    let lattice = Lattice::new(&mut rng);
    let kept = select_cells(&lattice, &mut rng);
    let street_of = assign_streets(&lattice, &kept, &mut rng);
    let (communities, comm_of) = grow_communities(&lattice, &street_of, &mut rng);
    let jurisdictions = make_jurisdictions(&lattice, &kept, &street_of, &communities, &comm_of);
    let plan = Plan {
        lattice,
        kept,
        street_of,
        communities,
    };
    let network = RoadNetwork::new(&plan, &mut rng);

    let mut assets = make_buildings(&plan, &network, density, &mut rng);
    let (roads, pipelines) = make_roads_and_pipelines(&plan, &network, &mut rng);
    assets.extend(roads);
    assets.extend(pipelines);
    assets.extend(make_pois(&plan, &network, &mut rng));

    District {
        departments,
        jurisdictions,
        assets,
    }
}

/// The demo district of seed 1, generated once per test process and shared by the unit tests
/// (generating it takes seconds).
#[cfg(test)]
pub(crate) fn seed1() -> &'static District {
    static D: std::sync::OnceLock<District> = std::sync::OnceLock::new();
    D.get_or_init(|| generate(1))
}

fn make_departments(rng: &mut ChaCha8Rng) -> Vec<Department> {
    DEPARTMENTS
        .iter()
        .map(|&(code, zh, en)| Department {
            parent: None,
            code: code.to_string(),
            name_zh: zh.to_string(),
            name_en: en.to_string(),
            contact: format!(
                "0757-8{}{:06}",
                rng.gen_range(2..=8),
                rng.gen_range(0..1_000_000)
            ),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers
// ---------------------------------------------------------------------------------------------

fn c(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

fn lerp(a: Coord<f64>, b: Coord<f64>, t: f64) -> Coord<f64> {
    c(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)
}

/// Bilinear interpolation over a quad given as (p00, p10, p11, p01), counter-clockwise.
fn bilinear(q: &[Coord<f64>; 4], u: f64, v: f64) -> Coord<f64> {
    let (w00, w10, w11, w01) = ((1.0 - u) * (1.0 - v), u * (1.0 - v), u * v, (1.0 - u) * v);
    c(
        q[0].x * w00 + q[1].x * w10 + q[2].x * w11 + q[3].x * w01,
        q[0].y * w00 + q[1].y * w10 + q[2].y * w11 + q[3].y * w01,
    )
}

/// Twice the signed area of a closed ring (positive when counter-clockwise).
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

fn in_ring(p: Coord<f64>, ring: &[Coord<f64>]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if p.x < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Whether `p` lies in the convex counter-clockwise quad `q` (boundary included).
fn in_convex_quad(p: Coord<f64>, q: &[Coord<f64>; 4]) -> bool {
    (0..4).all(|k| {
        let (a, b) = (q[k], q[(k + 1) % 4]);
        (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) >= 0.0
    })
}

fn to_km(p: Coord<f64>) -> (f64, f64) {
    ((p.x - CENTER.0) * KM_PER_LON, (p.y - CENTER.1) * KM_PER_LAT)
}

fn cn_num(n: usize) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n].to_string(),
        10 => "十".to_string(),
        11..=19 => format!("十{}", D[n - 10]),
        20..=99 if n.is_multiple_of(10) => format!("{}十", D[n / 10]),
        20..=99 => format!("{}十{}", D[n / 10], D[n % 10]),
        _ => n.to_string(),
    }
}

fn weighted_pick(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (k, &w) in weights.iter().enumerate() {
        if x < w {
            return k;
        }
        x -= w;
    }
    weights.len() - 1
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

// ---------------------------------------------------------------------------------------------
// Lattice
// ---------------------------------------------------------------------------------------------

/// All block corners of the extent; coarse cell corners are the fine vertices at multiples of S.
struct Lattice {
    fine: Vec<Coord<f64>>,
}

impl Lattice {
    fn new(rng: &mut ChaCha8Rng) -> Lattice {
        let dx = (LON_MAX - LON_MIN) / CX as f64;
        let dy = (LAT_MAX - LAT_MIN) / CY as f64;
        let mut coarse = Vec::with_capacity(NX * NY);
        for j in 0..NY {
            for i in 0..NX {
                let angle = rng.gen_range(0.0..TAU);
                let r = JITTER * rng.gen::<f64>().sqrt();
                let mut x = LON_MIN + i as f64 * dx;
                let mut y = LAT_MIN + j as f64 * dy;
                // Border vertices only slide along the border; corners stay put.
                if i != 0 && i != NX - 1 {
                    x += r * angle.cos() * dx;
                }
                if j != 0 && j != NY - 1 {
                    y += r * angle.sin() * dy;
                }
                coarse.push(c(x, y));
            }
        }
        let mut fine = Vec::with_capacity(FX * FY);
        for fj in 0..FY {
            let cj = (fj / S).min(CY - 1);
            let v = (fj - cj * S) as f64 / S as f64;
            for fi in 0..FX {
                let ci = (fi / S).min(CX - 1);
                let u = (fi - ci * S) as f64 / S as f64;
                let q = [
                    coarse[cj * NX + ci],
                    coarse[cj * NX + ci + 1],
                    coarse[(cj + 1) * NX + ci + 1],
                    coarse[(cj + 1) * NX + ci],
                ];
                fine.push(bilinear(&q, u, v));
            }
        }
        Lattice { fine }
    }

    fn p(&self, fi: usize, fj: usize) -> Coord<f64> {
        self.fine[fj * FX + fi]
    }

    /// Corners of block (fi, fj), counter-clockwise from the south-west.
    fn block(&self, fi: usize, fj: usize) -> [Coord<f64>; 4] {
        [
            self.p(fi, fj),
            self.p(fi + 1, fj),
            self.p(fi + 1, fj + 1),
            self.p(fi, fj + 1),
        ]
    }

    /// Corners of coarse cell `cell`, counter-clockwise from the south-west.
    fn cell(&self, cell: usize) -> [Coord<f64>; 4] {
        let (i, j) = (cell % CX, cell / CX);
        [
            self.p(i * S, j * S),
            self.p((i + 1) * S, j * S),
            self.p((i + 1) * S, (j + 1) * S),
            self.p(i * S, (j + 1) * S),
        ]
    }

    fn cell_centre(&self, cell: usize) -> Coord<f64> {
        let q = self.cell(cell);
        c(
            (q[0].x + q[1].x + q[2].x + q[3].x) / 4.0,
            (q[0].y + q[1].y + q[2].y + q[3].y) / 4.0,
        )
    }

    /// The block containing `p`, if any.
    fn locate_block(&self, p: Coord<f64>) -> Option<(usize, usize)> {
        let gi = ((p.x - LON_MIN) / (LON_MAX - LON_MIN) * CX as f64).floor() as i64;
        let gj = ((p.y - LAT_MIN) / (LAT_MAX - LAT_MIN) * CY as f64).floor() as i64;
        for cj in (gj - 1)..=(gj + 1) {
            for ci in (gi - 1)..=(gi + 1) {
                if ci < 0 || cj < 0 || ci >= CX as i64 || cj >= CY as i64 {
                    continue;
                }
                let cell = cj as usize * CX + ci as usize;
                if !in_convex_quad(p, &self.cell(cell)) {
                    continue;
                }
                for b in 0..S {
                    for a in 0..S {
                        let (fi, fj) = (ci as usize * S + a, cj as usize * S + b);
                        if in_convex_quad(p, &self.block(fi, fj)) {
                            return Some((fi, fj));
                        }
                    }
                }
            }
        }
        None
    }
}

/// The 4-neighbours of a coarse cell (east, north, west, south), where they exist.
fn neighbours(cell: usize) -> impl Iterator<Item = usize> {
    let (i, j) = (cell % CX, cell / CX);
    [
        (i + 1 < CX).then(|| cell + 1),
        (j + 1 < CY).then(|| cell + CX),
        (i > 0).then(|| cell - 1),
        (j > 0).then(|| cell - CX),
    ]
    .into_iter()
    .flatten()
}

/// 4-connected components of the `cells` satisfying `member` (components in
/// discovery order).
fn components(cells: &[usize], member: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
    let mut seen = vec![false; CX * CY];
    let mut out = Vec::new();
    for &start in cells {
        if seen[start] || !member(start) {
            continue;
        }
        seen[start] = true;
        let mut comp = vec![start];
        let mut k = 0;
        while k < comp.len() {
            let cur = comp[k];
            k += 1;
            for n in neighbours(cur) {
                if !seen[n] && member(n) {
                    seen[n] = true;
                    comp.push(n);
                }
            }
        }
        out.push(comp);
    }
    out
}

/// Picks the ~600 cells of the district: an irregular blob, 4-connected, without holes.
fn select_cells(lattice: &Lattice, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let harmonics: Vec<(f64, f64, f64)> = (2..=9)
        .map(|k| {
            let amp = if k <= 5 {
                rng.gen_range(0.04..0.09)
            } else {
                rng.gen_range(0.01..0.03)
            };
            (k as f64, amp, rng.gen_range(0.0..TAU))
        })
        .collect();
    let target = rng.gen_range(588..=612);
    let mut order: Vec<(f64, usize)> = (0..CX * CY)
        .map(|cell| {
            let p = lattice.cell_centre(cell);
            let (dx, dy) = ((p.x - CENTER.0) / BLOB_A, (p.y - CENTER.1) / BLOB_B);
            let theta = dy.atan2(dx);
            let r = 1.0
                + harmonics
                    .iter()
                    .map(|&(k, a, ph)| a * (k * theta + ph).cos())
                    .sum::<f64>();
            (dx.hypot(dy) / r, cell)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut kept = vec![false; CX * CY];
    for &(_, cell) in order.iter().take(target) {
        kept[cell] = true;
    }

    // Keep the largest 4-connected piece.
    let all: Vec<usize> = (0..CX * CY).collect();
    let comps = components(&all, |x| kept[x]);
    if let Some(largest) = comps.iter().max_by_key(|comp| comp.len()) {
        let mut only = vec![false; CX * CY];
        for &cell in largest {
            only[cell] = true;
        }
        kept = only;
    }

    // Fill holes: outside cells not reachable from the lattice border join the district.
    let border: Vec<usize> = (0..CX * CY)
        .filter(|&cell| {
            let (i, j) = (cell % CX, cell / CX);
            i == 0 || j == 0 || i == CX - 1 || j == CY - 1
        })
        .collect();
    let mut outside = vec![false; CX * CY];
    let mut queue: Vec<usize> = border.into_iter().filter(|&x| !kept[x]).collect();
    for &x in &queue {
        outside[x] = true;
    }
    while let Some(cur) = queue.pop() {
        for n in neighbours(cur) {
            if !kept[n] && !outside[n] {
                outside[n] = true;
                queue.push(n);
            }
        }
    }
    for cell in 0..CX * CY {
        if !outside[cell] {
            kept[cell] = true;
        }
    }
    kept
}

/// Splits the district's cells among the four streets: a power diagram over the street sites
/// with a little low-frequency noise, weights tuned to the target shares, then every street
/// made 4-connected.
fn assign_streets(lattice: &Lattice, kept: &[bool], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let cells: Vec<usize> = (0..CX * CY).filter(|&x| kept[x]).collect();
    let centres: Vec<(f64, f64)> = cells
        .iter()
        .map(|&x| to_km(lattice.cell_centre(x)))
        .collect();
    let sites: Vec<(f64, f64)> = STREETS
        .iter()
        .map(|s| {
            to_km(c(
                s.site.0 + rng.gen_range(-0.004..0.004),
                s.site.1 + rng.gen_range(-0.004..0.004),
            ))
        })
        .collect();
    // Per street: three plane waves (amplitude km², wave vector, phase).
    let waves: Vec<Vec<(f64, f64, f64, f64)>> = (0..STREETS.len())
        .map(|_| {
            (0..3)
                .map(|_| {
                    let dir = rng.gen_range(0.0..TAU);
                    let k = TAU / rng.gen_range(3.0..7.0);
                    (
                        rng.gen_range(5.0..10.0),
                        k * dir.cos(),
                        k * dir.sin(),
                        rng.gen_range(0.0..TAU),
                    )
                })
                .collect()
        })
        .collect();
    let base: Vec<[f64; 4]> = centres
        .iter()
        .map(|&(x, y)| {
            let mut s = [0.0; 4];
            for (k, v) in s.iter_mut().enumerate() {
                let (sx, sy) = sites[k];
                let noise: f64 = waves[k]
                    .iter()
                    .map(|&(a, kx, ky, ph)| a * (kx * x + ky * y + ph).sin())
                    .sum();
                *v = (x - sx).powi(2) + (y - sy).powi(2) + noise;
            }
            s
        })
        .collect();
    let assign = |w: &[f64; 4]| -> Vec<usize> {
        base.iter()
            .map(|s| {
                let mut best = 0;
                for k in 1..4 {
                    if s[k] - w[k] < s[best] - w[best] {
                        best = k;
                    }
                }
                best
            })
            .collect()
    };
    let mut w = [0.0f64; 4];
    for round in 0..200 {
        let a = assign(&w);
        let step = 120.0 * (1.0 - round as f64 / 250.0);
        for (k, street) in STREETS.iter().enumerate() {
            let share = a.iter().filter(|&&x| x == k).count() as f64 / cells.len() as f64;
            w[k] += step * (street.share - share);
        }
    }
    let a = assign(&w);
    let mut street_of = vec![NONE; CX * CY];
    for (k, &cell) in cells.iter().enumerate() {
        street_of[cell] = a[k];
    }

    // Make sure each street got something: its site's nearest cell at least.
    for (k, &(sx, sy)) in sites.iter().enumerate() {
        if !street_of.contains(&k) {
            let nearest = (0..cells.len())
                .min_by(|&p, &q| {
                    let dp = (centres[p].0 - sx).powi(2) + (centres[p].1 - sy).powi(2);
                    let dq = (centres[q].0 - sx).powi(2) + (centres[q].1 - sy).powi(2);
                    dp.total_cmp(&dq)
                })
                .unwrap_or(0);
            street_of[cells[nearest]] = k;
        }
    }

    make_connected(&cells, &mut street_of);
    street_of
}

/// Hands every piece of a region other than its largest to the neighbouring region that
/// shares the most edges with it, until every region is 4-connected.
fn make_connected(cells: &[usize], label: &mut [usize]) {
    loop {
        let mut changed = false;
        let mut labels: Vec<usize> = cells.iter().map(|&x| label[x]).collect();
        labels.sort_unstable();
        labels.dedup();
        for l in labels {
            let own: Vec<usize> = cells.iter().copied().filter(|&x| label[x] == l).collect();
            let mut comps = components(&own, |x| label[x] == l);
            if comps.len() < 2 {
                continue;
            }
            // Largest first; ties by discovery order (stable sort).
            comps.sort_by_key(|comp| std::cmp::Reverse(comp.len()));
            for comp in &comps[1..] {
                let mut counts: Vec<(usize, usize)> = Vec::new();
                for &x in comp {
                    for n in neighbours(x) {
                        let nl = label[n];
                        if nl != NONE && nl != l {
                            match counts.iter_mut().find(|(lab, _)| *lab == nl) {
                                Some(e) => e.1 += 1,
                                None => counts.push((nl, 1)),
                            }
                        }
                    }
                }
                if let Some(&(to, _)) = counts
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                {
                    for &x in comp {
                        label[x] = to;
                    }
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

struct Community {
    street: usize,
    cells: Vec<usize>,
    prefix: String,
    name: String,
    code: String,
}

/// Grows ~6-cell communities inside each street and names them. Returns the communities (sorted
/// by code) and the community index of every cell.
fn grow_communities(
    lattice: &Lattice,
    street_of: &[usize],
    rng: &mut ChaCha8Rng,
) -> (Vec<Community>, Vec<usize>) {
    let pos = |x: usize| ((x % CX) as f64, (x / CX) as f64);
    let d2 = |a: usize, b: usize| {
        let (p, q) = (pos(a), pos(b));
        (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)
    };
    let mut used_names: HashSet<&'static str> = HashSet::new();
    let mut generic: Vec<&'static str> = GENERIC_COMMUNITY_NAMES.to_vec();
    generic.shuffle(rng);
    let mut generic = generic.into_iter();
    let mut out: Vec<Community> = Vec::new();

    for (s, street) in STREETS.iter().enumerate() {
        let cells: Vec<usize> = (0..CX * CY).filter(|&x| street_of[x] == s).collect();
        if cells.is_empty() {
            continue;
        }
        let k = ((cells.len() as f64 / 6.0).round() as usize).clamp(1, cells.len());
        // Farthest-point seeds.
        let mut seeds = vec![cells[rng.gen_range(0..cells.len())]];
        let mut mind: Vec<f64> = cells.iter().map(|&x| d2(x, seeds[0])).collect();
        while seeds.len() < k {
            let mut best = 0;
            for (idx, &m) in mind.iter().enumerate() {
                if m > mind[best] {
                    best = idx;
                }
            }
            let seed = cells[best];
            seeds.push(seed);
            for (idx, &x) in cells.iter().enumerate() {
                mind[idx] = mind[idx].min(d2(x, seed));
            }
        }
        // Balanced growth: the smallest region with room takes its most compact free neighbour.
        let mut label = vec![NONE; CX * CY];
        let mut regions: Vec<Vec<usize>> = seeds.iter().map(|&x| vec![x]).collect();
        for (r, &x) in seeds.iter().enumerate() {
            label[x] = r;
        }
        loop {
            let mut order: Vec<usize> = (0..regions.len()).collect();
            order.sort_by_key(|&r| (regions[r].len(), r));
            let mut grew = false;
            for r in order {
                let mut best: Option<(f64, usize)> = None;
                for &x in &regions[r] {
                    for n in neighbours(x) {
                        if street_of[n] == s && label[n] == NONE {
                            let score = d2(n, seeds[r]) + rng.gen::<f64>() * 1.5;
                            if best.is_none_or(|(b, _)| score < b) {
                                best = Some((score, n));
                            }
                        }
                    }
                }
                if let Some((_, n)) = best {
                    label[n] = r;
                    regions[r].push(n);
                    grew = true;
                    break;
                }
            }
            if !grew {
                break;
            }
        }
        // Fold tiny regions (< 3 cells) into their smallest neighbour.
        loop {
            let tiny = (0..regions.len()).find(|&r| {
                !regions[r].is_empty()
                    && regions[r].len() < 3
                    && regions[r].iter().any(|&x| {
                        neighbours(x)
                            .any(|n| label[n] != NONE && label[n] != r && street_of[n] == s)
                    })
            });
            let Some(r) = tiny else { break };
            let mut target: Option<usize> = None;
            for &x in &regions[r] {
                for n in neighbours(x) {
                    let t = label[n];
                    if t != NONE && t != r && street_of[n] == s {
                        let better = match target {
                            None => true,
                            Some(cur) => (regions[t].len(), t) < (regions[cur].len(), cur),
                        };
                        if better {
                            target = Some(t);
                        }
                    }
                }
            }
            if let Some(t) = target {
                let moved = std::mem::take(&mut regions[r]);
                for &x in &moved {
                    label[x] = t;
                }
                regions[t].extend(moved);
            }
        }
        let mut regions: Vec<Vec<usize>> = regions.into_iter().filter(|r| !r.is_empty()).collect();
        for r in regions.iter_mut() {
            r.sort_unstable_by_key(|&x| (std::cmp::Reverse(x / CX), x % CX));
        }
        // Number north to south, then west to east, by centroid.
        let centroid = |r: &Vec<usize>| {
            let n = r.len() as f64;
            let (sx, sy) = r.iter().fold((0.0, 0.0), |acc, &x| {
                let p = lattice.cell_centre(x);
                (acc.0 + p.x, acc.1 + p.y)
            });
            (sx / n, sy / n)
        };
        regions.sort_by(|a, b| {
            let (pa, pb) = (centroid(a), centroid(b));
            // Bands ~1 km tall, then west to east.
            let (ba, bb) = ((pa.1 / 0.009).floor(), (pb.1 / 0.009).floor());
            bb.total_cmp(&ba).then(pa.0.total_cmp(&pb.0))
        });
        let mut pool: Vec<&'static str> = street.pool.to_vec();
        pool.shuffle(rng);
        let mut pool = pool.into_iter();
        for (n, cells) in regions.into_iter().enumerate() {
            let prefix = pool
                .by_ref()
                .find(|p| !used_names.contains(p))
                .or_else(|| generic.by_ref().find(|p| !used_names.contains(p)));
            let prefix = match prefix {
                Some(p) => {
                    used_names.insert(p);
                    p.to_string()
                }
                None => format!(
                    "{}第{}",
                    street.name.chars().take(2).collect::<String>(),
                    cn_num(n + 1)
                ),
            };
            let suffix = if rng.gen_bool(street.village_share) {
                "村"
            } else {
                "社区"
            };
            out.push(Community {
                street: s,
                cells,
                name: format!("{prefix}{suffix}"),
                prefix,
                code: format!("{}{:03}", street.code, n + 1),
            });
        }
    }
    let mut comm_of = vec![NONE; CX * CY];
    for (k, comm) in out.iter().enumerate() {
        for &x in &comm.cells {
            comm_of[x] = k;
        }
    }
    (out, comm_of)
}

// ---------------------------------------------------------------------------------------------
// Jurisdictions: boundary tracing
// ---------------------------------------------------------------------------------------------

/// Lattice directions, counter-clockwise: east, north, west, south.
const DIRS: [(i64, i64); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];

/// The union of `cells` (all satisfying `inside`, 4-connected) as a multipolygon: boundary
/// edges chained into rings over the fine vertices, outer rings counter-clockwise, holes
/// clockwise. At a vertex where the region touches itself diagonally the walk turns right, which
/// separates a hole from the shell instead of crossing it.
fn trace(lattice: &Lattice, cells: &[usize], inside: impl Fn(usize) -> bool) -> MultiPolygon<f64> {
    let mut out: HashMap<usize, u8> = HashMap::new();
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for &cell in cells {
        let (i, j) = (cell % CX, cell / CX);
        let sides = [
            ((j > 0).then(|| cell - CX), (i, j), 0usize),
            ((i + 1 < CX).then(|| cell + 1), (i + 1, j), 1),
            ((j + 1 < CY).then(|| cell + CX), (i + 1, j + 1), 2),
            ((i > 0).then(|| cell - 1), (i, j + 1), 3),
        ];
        for (nb, (vi, vj), d) in sides {
            let other_inside = nb.is_some_and(&inside);
            if !other_inside {
                let v = vj * NX + vi;
                *out.entry(v).or_default() |= 1 << d;
                starts.push((v, d));
            }
        }
    }
    let mut rings: Vec<(Vec<Coord<f64>>, f64)> = Vec::new();
    for &(v0, d0) in &starts {
        match out.get_mut(&v0) {
            Some(m) if *m & (1 << d0) != 0 => *m &= !(1 << d0),
            _ => continue,
        }
        let mut coords = Vec::new();
        let (mut v, mut d) = (v0, d0);
        loop {
            let (vi, vj) = ((v % NX) as i64, (v / NX) as i64);
            let (di, dj) = DIRS[d];
            for k in 0..S as i64 {
                coords.push(lattice.p(
                    (vi * S as i64 + k * di) as usize,
                    (vj * S as i64 + k * dj) as usize,
                ));
            }
            let w = ((vj + dj) as usize) * NX + (vi + di) as usize;
            let mut next = None;
            for nd in [(d + 3) % 4, d, (d + 1) % 4] {
                if w == v0 && nd == d0 {
                    break;
                }
                if let Some(m) = out.get_mut(&w) {
                    if *m & (1 << nd) != 0 {
                        *m &= !(1 << nd);
                        next = Some(nd);
                        break;
                    }
                }
            }
            match next {
                Some(nd) => {
                    v = w;
                    d = nd;
                }
                None => break,
            }
        }
        coords.push(coords[0]);
        let area = signed_area2(&coords);
        rings.push((coords, area));
    }
    let outers: Vec<usize> = (0..rings.len()).filter(|&k| rings[k].1 > 0.0).collect();
    let mut holes: Vec<Vec<LineString<f64>>> = vec![Vec::new(); outers.len()];
    for (ring, area) in &rings {
        if *area > 0.0 {
            continue;
        }
        let probe = lerp(ring[0], ring[1], 0.5);
        let owner = outers
            .iter()
            .enumerate()
            .filter(|(_, &o)| in_ring(probe, &rings[o].0))
            .min_by(|a, b| rings[*a.1].1.total_cmp(&rings[*b.1].1))
            .map(|(k, _)| k);
        if let Some(k) = owner {
            holes[k].push(LineString::from(ring.clone()));
        }
    }
    MultiPolygon::new(
        outers
            .iter()
            .zip(holes)
            .map(|(&o, h)| Polygon::new(LineString::from(rings[o].0.clone()), h))
            .collect(),
    )
}

fn make_jurisdictions(
    lattice: &Lattice,
    kept: &[bool],
    street_of: &[usize],
    communities: &[Community],
    comm_of: &[usize],
) -> Vec<Jurisdiction> {
    let mut out = Vec::new();
    let all: Vec<usize> = (0..CX * CY).filter(|&x| kept[x]).collect();
    out.push(Jurisdiction {
        generated: false,
        level: Level::District,
        code: DISTRICT_CODE.to_string(),
        name: DISTRICT_NAME.to_string(),
        parent: None,
        geometry: trace(lattice, &all, |x| kept[x]),
    });
    for (s, street) in STREETS.iter().enumerate() {
        let cells: Vec<usize> = all.iter().copied().filter(|&x| street_of[x] == s).collect();
        out.push(Jurisdiction {
            generated: false,
            level: Level::Street,
            code: street.code.to_string(),
            name: street.name.to_string(),
            parent: Some(DISTRICT_CODE.to_string()),
            geometry: trace(lattice, &cells, |x| street_of[x] == s),
        });
    }
    for (k, comm) in communities.iter().enumerate() {
        out.push(Jurisdiction {
            generated: false,
            level: Level::Community,
            code: comm.code.clone(),
            name: comm.name.clone(),
            parent: Some(STREETS[comm.street].code.to_string()),
            geometry: trace(lattice, &comm.cells, |x| comm_of[x] == k),
        });
    }
    for comm in communities {
        for (n, &cell) in comm.cells.iter().enumerate() {
            out.push(Jurisdiction {
                generated: false,
                level: Level::Grid,
                code: format!("{}{:03}", comm.code, n + 1),
                name: format!("{}第{}网格", comm.name, n + 1),
                parent: Some(comm.code.clone()),
                geometry: trace(lattice, &[cell], |x| x == cell),
            });
        }
    }
    out.sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.code.cmp(&b.code)));
    out
}

// ---------------------------------------------------------------------------------------------
// Road network
// ---------------------------------------------------------------------------------------------

struct Plan {
    lattice: Lattice,
    kept: Vec<bool>,
    street_of: Vec<usize>,
    communities: Vec<Community>,
}

impl Plan {
    fn cell_of_block(fi: usize, fj: usize) -> usize {
        (fj / S) * CX + fi / S
    }

    /// Whether block (fi, fj) exists and lies in the district (signed, so callers can ask past
    /// the edges).
    fn block_kept(&self, fi: i64, fj: i64) -> bool {
        fi >= 0
            && fj >= 0
            && (fi as usize) < FX - 1
            && (fj as usize) < FY - 1
            && self.kept[Plan::cell_of_block(fi as usize, fj as usize)]
    }

    fn street_name_of_block(&self, fi: usize, fj: usize) -> &'static str {
        STREETS[self.street_of[Plan::cell_of_block(fi, fj)]].name
    }
}

struct Route {
    name: String,
    class: RoadClass,
    lanes: i64,
    /// Pipelines under the road, with (base depth m, diameter mm).
    pipes: Vec<(PipeKind, f64, i64)>,
}

/// Every block edge of the district, labelled with the named road it belongs to.
struct RoadNetwork {
    routes: Vec<Route>,
    /// East–west edges (fi, fj)→(fi+1, fj), index fj*(FX-1)+fi.
    ew: Vec<u32>,
    /// North–south edges (fi, fj)→(fi, fj+1), index fj*FX+fi.
    ns: Vec<u32>,
}

impl RoadNetwork {
    fn new(plan: &Plan, rng: &mut ChaCha8Rng) -> RoadNetwork {
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

    fn ew_route(&self, fi: usize, fj: usize) -> Option<&Route> {
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

fn props(pairs: &[(&str, Value)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect::<Map<String, Value>>()
        .into()
}

/// One road asset per block edge, its pipelines a few metres into the blocks beside it.
fn make_roads_and_pipelines(
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

// ---------------------------------------------------------------------------------------------
// Buildings
// ---------------------------------------------------------------------------------------------

/// Quads inside every block, aligned with it, with a margin from the block's roads.
fn make_buildings(
    plan: &Plan,
    net: &RoadNetwork,
    density: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Asset> {
    const MARGIN: f64 = 0.15;
    let mut out = Vec::new();
    let mut house_no = vec![0u32; net.routes.len()];
    for fj in 0..FY - 1 {
        for fi in 0..FX - 1 {
            let cell = Plan::cell_of_block(fi, fj);
            if !plan.kept[cell] {
                continue;
            }
            let street = &STREETS[plan.street_of[cell]];
            let block_kind = weighted_pick(rng, &street.mix);
            let (nx, ny, keep, size) = match block_kind {
                0 => match rng.gen_range(0..20) {
                    0..=2 => (4, 4, 0.95, (0.6, 0.85)), // urban village
                    3..=8 => (3, 4, 0.92, (0.55, 0.85)),
                    9..=13 => (4, 3, 0.92, (0.55, 0.85)),
                    _ => (3, 3, 0.95, (0.55, 0.85)),
                },
                1 | 5 => (3, 3, 0.93, (0.6, 0.9)),
                2 => *[
                    (3, 2, 0.95, (0.65, 0.9)),
                    (3, 3, 0.9, (0.65, 0.9)),
                    (2, 3, 0.95, (0.65, 0.9)),
                ]
                .choose(rng)
                .unwrap_or(&(3, 2, 0.95, (0.65, 0.9))),
                3 => (3, 2, 0.9, (0.55, 0.85)),
                _ => (2, 3, 0.9, (0.55, 0.8)),
            };
            let urban_village = block_kind == 0 && nx == 4 && ny == 4;
            let (nx, ny) = (nx * density, ny * density);
            let q = plan.lattice.block(fi, fj);
            let road_idx = net.ew[fj * (FX - 1) + fi];
            let road = net.ew_route(fi, fj).map_or("", |r| r.name.as_str());
            let (sw, sh) = (
                (1.0 - 2.0 * MARGIN) / nx as f64,
                (1.0 - 2.0 * MARGIN) / ny as f64,
            );
            for sy in 0..ny {
                for sx in 0..nx {
                    if !rng.gen_bool(keep) {
                        continue;
                    }
                    let (fw, fh) = (rng.gen_range(size.0..size.1), rng.gen_range(size.0..size.1));
                    let cu = MARGIN
                        + (sx as f64 + 0.5) * sw
                        + rng.gen_range(-0.4..0.4) * (1.0 - fw) * sw;
                    let cv = MARGIN
                        + (sy as f64 + 0.5) * sh
                        + rng.gen_range(-0.4..0.4) * (1.0 - fh) * sh;
                    let (hu, hv) = (fw * sw / 2.0, fh * sh / 2.0);
                    let ring = vec![
                        bilinear(&q, cu - hu, cv - hv),
                        bilinear(&q, cu + hu, cv - hv),
                        bilinear(&q, cu + hu, cv + hv),
                        bilinear(&q, cu - hu, cv + hv),
                        bilinear(&q, cu - hu, cv - hv),
                    ];
                    let kind = if rng.gen_bool(0.85) {
                        BUILDING_KINDS[block_kind]
                    } else {
                        *["residential", "commercial", "mixed"]
                            .choose(rng)
                            .unwrap_or(&"residential")
                    };
                    let floors: i64 = match kind {
                        "residential" if urban_village => rng.gen_range(3..=8),
                        "residential" => {
                            rng.gen_range(if street.village_share < 0.3 { 7 } else { 4 }..=33)
                        }
                        "commercial" => rng.gen_range(2..=36),
                        "industrial" => rng.gen_range(1..=6),
                        "public" => rng.gen_range(2..=10),
                        "school" => rng.gen_range(3..=6),
                        _ => rng.gen_range(6..=28),
                    };
                    let no = match house_no.get_mut(road_idx as usize) {
                        Some(n) => {
                            *n += 1;
                            *n
                        }
                        None => 0,
                    };
                    let address = format!("{}{}{}号", street.name, road, no);
                    out.push(Asset {
                        layer: AssetLayer::Buildings,
                        id: format!("B-{:06}", out.len() + 1),
                        name: address.clone(),
                        kind: kind.to_string(),
                        owner: "housing".to_string(),
                        props: props(&[("address", json!(address)), ("floors", json!(floors))]),
                        geometry: Geometry::Polygon(Polygon::new(LineString::new(ring), vec![])),
                    });
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Points of interest
// ---------------------------------------------------------------------------------------------

struct Landmark {
    name: &'static str,
    kind: &'static str,
    owner: &'static str,
    at: (f64, f64),
    /// Index into STREETS the landmark belongs to, if it matters.
    street: Option<usize>,
}

const LANDMARKS: &[Landmark] = &[
    Landmark {
        name: "祖庙",
        kind: "scenic",
        owner: "culture",
        at: (113.1077, 23.0341),
        street: Some(2),
    },
    Landmark {
        name: "岭南天地",
        kind: "scenic",
        owner: "culture",
        at: (113.1108, 23.0352),
        street: Some(2),
    },
    Landmark {
        name: "梁园",
        kind: "scenic",
        owner: "culture",
        at: (113.1017, 23.0382),
        street: Some(2),
    },
    Landmark {
        name: "中山公园",
        kind: "park",
        owner: "landscaping",
        at: (113.1135, 23.0438),
        street: Some(2),
    },
    Landmark {
        name: "佛山站",
        kind: "transport_hub",
        owner: "transport",
        at: (113.1137, 23.0468),
        street: Some(2),
    },
    Landmark {
        name: "佛山市第一人民医院",
        kind: "hospital",
        owner: "health",
        at: (113.1155, 23.0300),
        street: Some(2),
    },
    Landmark {
        name: "季华园",
        kind: "park",
        owner: "landscaping",
        at: (113.1085, 23.0150),
        street: None,
    },
    Landmark {
        name: "南风古灶",
        kind: "scenic",
        owner: "culture",
        at: (113.0905, 23.0025),
        street: Some(0),
    },
    Landmark {
        name: "石湾公园",
        kind: "park",
        owner: "landscaping",
        at: (113.1035, 23.0070),
        street: Some(0),
    },
    Landmark {
        name: "佛山科学技术学院",
        kind: "school",
        owner: "education",
        at: (113.1190, 23.0010),
        street: Some(0),
    },
    Landmark {
        name: "王借岗森林公园",
        kind: "park",
        owner: "landscaping",
        at: (113.0580, 23.0400),
        street: Some(1),
    },
    Landmark {
        name: "绿岛湖",
        kind: "park",
        owner: "landscaping",
        at: (113.0330, 23.0280),
        street: Some(3),
    },
    Landmark {
        name: "华夏陶瓷博览城",
        kind: "market",
        owner: "market",
        at: (113.0250, 22.9850),
        street: Some(3),
    },
    Landmark {
        name: "禅城区人民医院",
        kind: "hospital",
        owner: "health",
        at: (113.0980, 23.0220),
        street: None,
    },
];

fn make_pois(plan: &Plan, net: &RoadNetwork, rng: &mut ChaCha8Rng) -> Vec<Asset> {
    let lat = &plan.lattice;
    let mut out: Vec<Asset> = Vec::new();
    let address = |fi: usize, fj: usize| {
        format!(
            "{}{}",
            plan.street_name_of_block(fi, fj),
            net.ew_route(fi, fj).map_or("", |r| r.name.as_str())
        )
    };
    let push = |out: &mut Vec<Asset>,
                name: String,
                kind: &str,
                owner: &str,
                p: Coord<f64>,
                addr: String| {
        out.push(Asset {
            layer: AssetLayer::Pois,
            id: format!("POI-{:04}", out.len() + 1),
            name,
            kind: kind.to_string(),
            owner: owner.to_string(),
            props: props(&[("address", json!(addr))]),
            geometry: Geometry::Point(Point(p)),
        });
    };

    for lm in LANDMARKS {
        let p = c(lm.at.0, lm.at.1);
        let street_ok = |fi: usize, fj: usize| {
            lm.street
                .is_none_or(|s| plan.street_of[Plan::cell_of_block(fi, fj)] == s)
        };
        let exact = lat
            .locate_block(p)
            .filter(|&(fi, fj)| plan.block_kept(fi as i64, fj as i64) && street_ok(fi, fj));
        let (pos, block) = match exact {
            Some(b) => (p, b),
            None => {
                // Nearest block centre of the right street.
                let mut best: Option<(f64, (usize, usize), Coord<f64>)> = None;
                for fj in 0..FY - 1 {
                    for fi in 0..FX - 1 {
                        if !plan.block_kept(fi as i64, fj as i64) || !street_ok(fi, fj) {
                            continue;
                        }
                        let centre = bilinear(&lat.block(fi, fj), 0.5, 0.5);
                        let d = (centre.x - p.x).powi(2) + (centre.y - p.y).powi(2);
                        if best.is_none_or(|(bd, _, _)| d < bd) {
                            best = Some((d, (fi, fj), centre));
                        }
                    }
                }
                let Some((_, b, centre)) = best else { continue };
                (centre, b)
            }
        };
        push(
            &mut out,
            lm.name.to_string(),
            lm.kind,
            lm.owner,
            pos,
            address(block.0, block.1),
        );
    }

    // A random spot in a random block of the given cells.
    let spot = |cells: &[usize], rng: &mut ChaCha8Rng| {
        let cell = cells[rng.gen_range(0..cells.len())];
        let (fi, fj) = (
            (cell % CX) * S + rng.gen_range(0..S),
            (cell / CX) * S + rng.gen_range(0..S),
        );
        let p = bilinear(
            &lat.block(fi, fj),
            rng.gen_range(0.25..0.75),
            rng.gen_range(0.25..0.75),
        );
        (p, address(fi, fj))
    };

    // Per street: a health centre, a middle school, a fire station.
    for (s, street) in STREETS.iter().enumerate() {
        let cells: Vec<usize> = (0..CX * CY).filter(|&x| plan.street_of[x] == s).collect();
        if cells.is_empty() {
            continue;
        }
        let short = street.name.trim_end_matches("街道").trim_end_matches('镇');
        let (p, a) = spot(&cells, rng);
        push(
            &mut out,
            format!("{}社区卫生服务中心", street.name),
            "hospital",
            "health",
            p,
            a,
        );
        let (p, a) = spot(&cells, rng);
        push(
            &mut out,
            format!("{short}中学"),
            "school",
            "education",
            p,
            a,
        );
        let (p, a) = spot(&cells, rng);
        push(
            &mut out,
            format!("{short}消防救援站"),
            "fire_station",
            "fire",
            p,
            a,
        );
        let (p, a) = spot(&cells, rng);
        push(
            &mut out,
            format!("{short}人民医院"),
            "hospital",
            "health",
            p,
            a,
        );
    }

    // Per community: markets, schools, kindergartens, parks, clinics.
    for comm in &plan.communities {
        let extras: [(f64, &str, &str, &str); 5] = [
            (0.6, "市场", "market", "market"),
            (0.85, "小学", "school", "education"),
            (0.5, "幼儿园", "school", "education"),
            (0.4, "公园", "park", "landscaping"),
            (0.25, "卫生站", "hospital", "health"),
        ];
        for (prob, suffix, kind, owner) in extras {
            if rng.gen_bool(prob) {
                let (p, a) = spot(&comm.cells, rng);
                push(
                    &mut out,
                    format!("{}{}", comm.prefix, suffix),
                    kind,
                    owner,
                    p,
                    a,
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo::coordinate_position::CoordPos;
    use geo::{
        Area, BooleanOps, BoundingRect, CoordinatePosition, CoordsIter, InteriorPoint,
        PreparedGeometry, Relate, Validation,
    };
    use std::collections::BTreeMap;
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::time::Instant;

    fn fingerprint(d: &District) -> u64 {
        let mut h = DefaultHasher::new();
        for dep in &d.departments {
            (&dep.code, &dep.name_zh, &dep.contact).hash(&mut h);
        }
        for j in &d.jurisdictions {
            (&j.code, &j.name, &j.parent, j.level).hash(&mut h);
            for p in j.geometry.coords_iter() {
                (p.x.to_bits(), p.y.to_bits()).hash(&mut h);
            }
        }
        for a in &d.assets {
            (&a.id, &a.name, &a.kind, &a.owner, a.layer).hash(&mut h);
            a.props.as_json().to_string().hash(&mut h);
            for p in a.geometry.coords_iter() {
                (p.x.to_bits(), p.y.to_bits()).hash(&mut h);
            }
        }
        h.finish()
    }

    #[test]
    fn density_splits_only_the_buildings() {
        let base = seed1();
        let dense = generate_dense(1, 2);
        assert!(dense.jurisdictions == base.jurisdictions);
        let count =
            |d: &District, layer: AssetLayer| d.assets.iter().filter(|a| a.layer == layer).count();
        // The same network (attributes drawn later from the seed may differ).
        for layer in [AssetLayer::Roads, AssetLayer::Pipelines] {
            assert_eq!(count(&dense, layer), count(base, layer), "{layer:?}");
        }
        assert!(count(&dense, AssetLayer::Pois) > 250);
        let (b1, b2) = (
            count(base, AssetLayer::Buildings),
            count(&dense, AssetLayer::Buildings),
        );
        // Four plots for one, each kept with the same probability.
        let ratio = b2 as f64 / b1 as f64;
        assert!((3.8..4.2).contains(&ratio), "{b1} → {b2}");
        // Dense buildings still sit inside the district.
        let outline = &base
            .jurisdictions_at(Level::District)
            .next()
            .unwrap()
            .geometry;
        let buildings = dense
            .assets
            .iter()
            .filter(|a| a.layer == AssetLayer::Buildings);
        for a in buildings.step_by(997) {
            assert!(
                outline.relate(&a.geometry).is_contains(),
                "{} outside",
                a.id
            );
        }
    }

    #[test]
    fn same_seed_same_district_other_seed_differs() {
        let a = generate(7);
        let b = generate(7);
        assert_eq!(a.departments, b.departments);
        assert_eq!(a.jurisdictions.len(), b.jurisdictions.len());
        assert!(a.jurisdictions == b.jurisdictions, "jurisdictions differ");
        assert_eq!(a.assets.len(), b.assets.len());
        assert!(a.assets == b.assets, "assets differ");
        assert_eq!(fingerprint(&a), fingerprint(&b));

        let c = generate(8);
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert!(a.jurisdictions != c.jurisdictions);
        let geoms = |d: &District| {
            d.jurisdictions
                .iter()
                .map(|j| j.geometry.clone())
                .collect::<Vec<_>>()
        };
        assert_ne!(geoms(&a), geoms(&c));
    }

    #[test]
    fn codes_names_and_hierarchy_are_well_formed() {
        let d = seed1();
        let by_code: HashMap<&str, &Jurisdiction> = d
            .jurisdictions
            .iter()
            .map(|j| (j.code.as_str(), j))
            .collect();
        assert_eq!(by_code.len(), d.jurisdictions.len(), "codes are unique");
        let names: HashSet<&str> = d.jurisdictions.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names.len(), d.jurisdictions.len(), "names are unique");

        for j in &d.jurisdictions {
            let len = match j.level {
                Level::District => 6,
                Level::Street => 9,
                Level::Community => 12,
                Level::Grid => 15,
            };
            assert_eq!(j.code.len(), len, "{} has the wrong length", j.code);
            assert!(j.code.bytes().all(|b| b.is_ascii_digit()), "{}", j.code);
            assert!(j.code.starts_with(DISTRICT_CODE));
            match (&j.parent, j.level) {
                (None, Level::District) => {}
                (Some(p), level) if level != Level::District => {
                    let parent = by_code
                        .get(p.as_str())
                        .unwrap_or_else(|| panic!("{} has no parent {p}", j.code));
                    assert!(j.code.starts_with(p.as_str()));
                    assert_eq!(parent.code.len() + 3, j.code.len());
                    let expected_parent_level =
                        Level::ALL[Level::ALL.iter().position(|&l| l == level).unwrap() - 1];
                    assert_eq!(parent.level, expected_parent_level);
                }
                _ => panic!("{} has a bad parent", j.code),
            }
            match j.level {
                Level::Community => assert!(
                    j.name.ends_with("社区") || j.name.ends_with('村'),
                    "{}",
                    j.name
                ),
                Level::Grid => {
                    let parent = &by_code[j.parent.as_deref().unwrap()];
                    assert!(
                        j.name.starts_with(&parent.name) && j.name.ends_with("网格"),
                        "{}",
                        j.name
                    );
                }
                _ => {}
            }
        }

        let district: Vec<_> = d.jurisdictions_at(Level::District).collect();
        assert_eq!(district.len(), 1);
        assert_eq!(district[0].name, "禅城区");
        assert_eq!(district[0].code, "440604");
        let streets: Vec<(&str, &str)> = d
            .jurisdictions_at(Level::Street)
            .map(|j| (j.code.as_str(), j.name.as_str()))
            .collect();
        assert_eq!(
            streets,
            vec![
                ("440604010", "石湾镇街道"),
                ("440604011", "张槎街道"),
                ("440604012", "祖庙街道"),
                ("440604100", "南庄镇"),
            ]
        );
        let communities = d.jurisdictions_at(Level::Community).count();
        let grids = d.jurisdictions_at(Level::Grid).count();
        assert!(
            (80..=120).contains(&communities),
            "{communities} communities"
        );
        assert!((540..=660).contains(&grids), "{grids} grids");

        // Sorted: district, streets, communities, grids, each by code.
        let keys: Vec<(Level, &str)> = d
            .jurisdictions
            .iter()
            .map(|j| (j.level, j.code.as_str()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);

        // Every street has several communities and every community has grids.
        for j in &d.jurisdictions {
            if j.level != Level::Grid {
                assert!(
                    d.jurisdictions
                        .iter()
                        .any(|c| c.parent.as_deref() == Some(j.code.as_str())),
                    "{} has no children",
                    j.code
                );
            }
        }

        assert!(d.departments.len() >= 10);
        for dep in &d.departments {
            assert!(
                dep.contact.starts_with("0757-8") && dep.contact.len() == 13,
                "{}",
                dep.contact
            );
        }
    }

    #[test]
    fn levels_tile_their_parents() {
        let d = seed1();
        let by_code: HashMap<&str, &Jurisdiction> = d
            .jurisdictions
            .iter()
            .map(|j| (j.code.as_str(), j))
            .collect();
        for j in &d.jurisdictions {
            assert!(
                j.geometry.is_valid(),
                "{} is not a valid multipolygon",
                j.code
            );
            assert!(j.geometry.unsigned_area() > 0.0);
        }
        for level in [Level::Street, Level::Community, Level::Grid] {
            let mut groups: BTreeMap<&str, Vec<&Jurisdiction>> = BTreeMap::new();
            for j in d.jurisdictions_at(level) {
                groups
                    .entry(j.parent.as_deref().unwrap())
                    .or_default()
                    .push(j);
            }
            for (parent_code, children) in &groups {
                let parent = &by_code[parent_code];
                let parent_area = parent.geometry.unsigned_area();
                let sum: f64 = children.iter().map(|c| c.geometry.unsigned_area()).sum();
                assert!(
                    ((sum - parent_area) / parent_area).abs() < 1e-9,
                    "{parent_code}: children cover {sum}, parent {parent_area}"
                );
                for child in children {
                    for p in child.geometry.coords_iter() {
                        assert_ne!(
                            parent.geometry.coordinate_position(&p),
                            CoordPos::Outside,
                            "{} pokes out of {parent_code}",
                            child.code
                        );
                    }
                    let inner = child.geometry.interior_point().unwrap();
                    assert_eq!(
                        parent.geometry.coordinate_position(&inner.0),
                        CoordPos::Inside
                    );
                }
                for (k, a) in children.iter().enumerate() {
                    let ra = a.geometry.bounding_rect().unwrap();
                    for b in &children[k + 1..] {
                        let rb = b.geometry.bounding_rect().unwrap();
                        if ra.max().x < rb.min().x
                            || rb.max().x < ra.min().x
                            || ra.max().y < rb.min().y
                            || rb.max().y < ra.min().y
                        {
                            continue;
                        }
                        let overlap = a.geometry.intersection(&b.geometry).unsigned_area();
                        assert!(
                            overlap < 1e-9 * a.geometry.unsigned_area(),
                            "{} overlaps {} by {overlap}",
                            a.code,
                            b.code
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_sampled_point_is_in_exactly_one_jurisdiction_per_level() {
        let d = seed1();
        let boxes: Vec<(&Jurisdiction, geo::Rect<f64>)> = d
            .jurisdictions
            .iter()
            .map(|j| (j, j.geometry.bounding_rect().unwrap()))
            .collect();
        for b in d.assets_in(AssetLayer::Buildings).step_by(97) {
            let p = b.geometry.interior_point().unwrap().0;
            let mut hits: BTreeMap<Level, Vec<&str>> = BTreeMap::new();
            for (j, r) in &boxes {
                if p.x < r.min().x || p.x > r.max().x || p.y < r.min().y || p.y > r.max().y {
                    continue;
                }
                if j.geometry.coordinate_position(&p) == CoordPos::Inside {
                    hits.entry(j.level).or_default().push(&j.code);
                }
            }
            for level in Level::ALL {
                let codes = hits.get(&level).cloned().unwrap_or_default();
                assert_eq!(codes.len(), 1, "{} at {level:?}: {codes:?}", b.id);
            }
            // And the chain is consistent: grid ⊂ community ⊂ street.
            let grid = hits[&Level::Grid][0];
            assert!(grid.starts_with(hits[&Level::Community][0]));
            assert!(hits[&Level::Community][0].starts_with(hits[&Level::Street][0]));
        }
    }

    #[test]
    fn assets_are_plentiful_unique_owned_and_inside() {
        let d = seed1();
        let count = |l| d.assets_in(l).count();
        assert!(
            count(AssetLayer::Buildings) >= 100_000,
            "{} buildings",
            count(AssetLayer::Buildings)
        );
        assert!(
            count(AssetLayer::Roads) >= 20_000,
            "{} roads",
            count(AssetLayer::Roads)
        );
        assert!(
            count(AssetLayer::Pipelines) >= 40_000,
            "{} pipelines",
            count(AssetLayer::Pipelines)
        );
        assert!(
            (100..=1000).contains(&count(AssetLayer::Pois)),
            "{} pois",
            count(AssetLayer::Pois)
        );

        let owners: HashSet<&str> = d.departments.iter().map(|x| x.code.as_str()).collect();
        for layer in AssetLayer::ALL {
            let ids: HashSet<&str> = d.assets_in(layer).map(|a| a.id.as_str()).collect();
            assert_eq!(ids.len(), count(layer), "{layer:?} ids are unique");
        }
        for a in &d.assets {
            assert!(
                owners.contains(a.owner.as_str()),
                "{} owned by unknown {}",
                a.id,
                a.owner
            );
            assert!(!a.name.is_empty() && !a.kind.is_empty());
            match a.layer {
                AssetLayer::Buildings => {
                    assert!(a.id.starts_with("B-") && matches!(a.geometry, Geometry::Polygon(_)));
                    assert!(BUILDING_KINDS.contains(&a.kind.as_str()));
                    assert!(a.props.get("floors").unwrap().as_i64().unwrap() >= 1);
                    assert!(a
                        .props
                        .get("address")
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .ends_with('号'));
                }
                AssetLayer::Roads => {
                    assert!(
                        a.id.starts_with("R-") && matches!(a.geometry, Geometry::LineString(_))
                    );
                    assert!(["trunk", "primary", "secondary", "tertiary", "residential"]
                        .contains(&a.kind.as_str()));
                    assert!(a.props.get("lanes").unwrap().as_i64().unwrap() >= 1);
                }
                AssetLayer::Pipelines => {
                    assert!(
                        a.id.starts_with("P-") && matches!(a.geometry, Geometry::LineString(_))
                    );
                    assert!(["water_supply", "drainage", "gas", "power", "telecom"]
                        .contains(&a.kind.as_str()));
                    let depth = a.props.get("depth_m").unwrap().as_f64().unwrap();
                    assert!((0.5..=4.0).contains(&depth));
                    assert!(a.props.get("diameter_mm").unwrap().as_i64().unwrap() > 0);
                }
                AssetLayer::Pois => {
                    assert!(a.id.starts_with("POI-") && matches!(a.geometry, Geometry::Point(_)));
                }
            }
        }
        let pois: Vec<&str> = d
            .assets_in(AssetLayer::Pois)
            .map(|a| a.name.as_str())
            .collect();
        for landmark in ["祖庙", "岭南天地", "南风古灶", "石湾公园", "中山公园"] {
            assert!(pois.contains(&landmark), "{landmark} is missing");
        }
        // 祖庙 is inside the district, so it sits where it really is.
        let zumiao = d
            .assets_in(AssetLayer::Pois)
            .find(|a| a.name == "祖庙")
            .unwrap();
        if let Geometry::Point(p) = &zumiao.geometry {
            assert!((p.x() - 113.1077).abs() < 0.01 && (p.y() - 23.0341).abs() < 0.01);
        }

        let district = &d.jurisdictions_at(Level::District).next().unwrap().geometry;
        let prepared = PreparedGeometry::from(district);
        // Every 50th asset of each layer, plus every POI.
        for layer in AssetLayer::ALL {
            let step = if layer == AssetLayer::Pois { 1 } else { 50 };
            for a in d.assets_in(layer).step_by(step) {
                assert!(
                    prepared.relate(&a.geometry).is_covers(),
                    "{} is outside the district",
                    a.id
                );
            }
        }
        // Buildings are strictly inside their grid (never on a boundary).
        let grids: Vec<(&Jurisdiction, geo::Rect<f64>)> = d
            .jurisdictions_at(Level::Grid)
            .map(|j| (j, j.geometry.bounding_rect().unwrap()))
            .collect();
        for b in d.assets_in(AssetLayer::Buildings).step_by(211) {
            let p = b.geometry.interior_point().unwrap().0;
            let (g, _) = grids
                .iter()
                .find(|(g, r)| {
                    p.x >= r.min().x
                        && p.x <= r.max().x
                        && p.y >= r.min().y
                        && p.y <= r.max().y
                        && g.geometry.coordinate_position(&p) == CoordPos::Inside
                })
                .unwrap();
            assert!(
                PreparedGeometry::from(&g.geometry)
                    .relate(&b.geometry)
                    .is_contains(),
                "{} crosses {}",
                b.id,
                g.code
            );
        }
    }

    #[test]
    fn tracing_handles_holes_and_diagonal_pinches() {
        let lattice = Lattice::new(&mut ChaCha8Rng::seed_from_u64(3));
        let at = |i: usize, j: usize| j * CX + i;
        let cell_area = |cells: &[usize]| -> f64 {
            cells
                .iter()
                .map(|&x| {
                    let q = lattice.cell(x);
                    signed_area2(&[q[0], q[1], q[2], q[3], q[0]]) / 2.0
                })
                .sum()
        };
        // A ring of 8 cells around an empty one: one shell, one hole.
        let ring: Vec<usize> = (4..7)
            .flat_map(|j| (4..7).map(move |i| (i, j)))
            .filter(|&(i, j)| (i, j) != (5, 5))
            .map(|(i, j)| at(i, j))
            .collect();
        let mp = trace(&lattice, &ring, |x| ring.contains(&x));
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert!(mp.is_valid());
        assert!((mp.unsigned_area() / cell_area(&ring) - 1.0).abs() < 1e-9);

        // Cells (5,5) and (6,6) touch diagonally at vertex (6,6) and are joined round the west
        // and north, enclosing (5,6): the hole touches the shell at the pinch vertex only.
        let pinch: Vec<usize> = [(5, 5), (4, 5), (4, 6), (4, 7), (5, 7), (6, 7), (6, 6)]
            .iter()
            .map(|&(i, j)| at(i, j))
            .collect();
        let mp = trace(&lattice, &pinch, |x| pinch.contains(&x));
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[0].interiors()[0].0.len(), 4 * S + 1);
        assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        assert!((mp.unsigned_area() / cell_area(&pinch) - 1.0).abs() < 1e-9);
        assert!(
            signed_area2(&mp.0[0].exterior().0) > 0.0,
            "shell is counter-clockwise"
        );
        assert!(
            signed_area2(&mp.0[0].interiors()[0].0) < 0.0,
            "hole is clockwise"
        );
    }

    #[test]
    fn center_is_inside_the_district() {
        let (lon, lat) = district_center();
        assert!((113.0..113.17).contains(&lon) && (22.96..23.08).contains(&lat));
        let district = &seed1()
            .jurisdictions_at(Level::District)
            .next()
            .unwrap()
            .geometry;
        assert_eq!(district.coordinate_position(&c(lon, lat)), CoordPos::Inside);
    }

    #[test]
    fn report_seed_1() {
        let started = Instant::now();
        let d = generate(1);
        let elapsed = started.elapsed();
        let levels: Vec<usize> = Level::ALL
            .iter()
            .map(|&l| d.jurisdictions_at(l).count())
            .collect();
        let layers: Vec<usize> = AssetLayer::ALL
            .iter()
            .map(|&l| d.assets_in(l).count())
            .collect();
        eprintln!(
            "generate(1): {elapsed:?}; jurisdictions {levels:?} (district, street, community, grid); \
             assets {layers:?} (buildings, roads, pipelines, pois); departments {}",
            d.departments.len()
        );
        assert_eq!(levels[0], 1);
        assert!(elapsed.as_secs() < 120, "generation took {elapsed:?}");
    }
}

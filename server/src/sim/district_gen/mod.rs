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
//!
//! This file owns the entry points, the extent and lattice constants, the static data every
//! stage reads (streets, departments), the small geometry helpers and the `Plan` the later stages
//! are laid out on. `lattice` cuts the lattice and traces the jurisdictions, `roads` lays the road
//! and pipeline network, `buildings` and `pois` fill the blocks; `tests` checks them all.

mod buildings;
mod lattice;
mod pois;
mod roads;
#[cfg(test)]
mod tests;

use geo::Coord;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::district::{Department, District, Props};

use buildings::make_buildings;
use lattice::{
    assign_streets, grow_communities, make_jurisdictions, select_cells, Community, Lattice,
};
use pois::make_pois;
use roads::{make_roads_and_pipelines, RoadNetwork};

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

fn props(pairs: &[(&str, Value)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect::<Map<String, Value>>()
        .into()
}

/// The cut lattice with its streets and communities: what the roads, buildings and POIs are
/// laid out on.
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

//! Points of interest: the fixed landmarks of the district and [`make_pois`], which places them
//! and the generated POIs (schools, clinics, shops, …) along the road network.

use geo::{Coord, Geometry, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::district::{Asset, AssetLayer};

use super::roads::RoadNetwork;
use super::{bilinear, c, props, Plan, CX, CY, FX, FY, S, STREETS};

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

pub(super) fn make_pois(plan: &Plan, net: &RoadNetwork, rng: &mut ChaCha8Rng) -> Vec<Asset> {
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

//! Buildings: [`make_buildings`] puts quads inside every block, aligned with it and kept a
//! margin from the block's roads, their use drawn from the street's mix; `density` splits
//! each plot into smaller buildings.

use geo::{Geometry, LineString, Polygon};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::district::{Asset, AssetLayer};

use super::roads::RoadNetwork;
use super::{bilinear, props, weighted_pick, Plan, FX, FY, STREETS};

pub(super) const BUILDING_KINDS: [&str; 6] = [
    "residential",
    "commercial",
    "industrial",
    "public",
    "school",
    "mixed",
];

/// Quads inside every block, aligned with it, with a margin from the block's roads.
pub(super) fn make_buildings(
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

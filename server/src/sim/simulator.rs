//! The live simulator: reports an incident in a random grid every so often (exponentially
//! distributed gaps around the configured mean), and moves reported incidents on to dispatched
//! and then resolved, so the screen is alive.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use geo::{BoundingRect, Contains, InteriorPoint};
use onegrid_app::wire::{Category, IncidentStatus, NewIncident};
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::accounts::Actor;
use crate::district::{Jurisdiction, Level};
use crate::district_state::DistrictState;
use crate::incidents::Incidents;
use crate::store::{IncidentQuery, Store};

#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Mean time between reports.
    pub interval: Duration,
    pub seed: u64,
}

/// Category, weight, and some things a grid worker writes about it.
const CATEGORIES: [(Category, u32, &[&str]); 8] = [
    (
        Category::FallenTree,
        10,
        &[
            "行道树倒伏，压住半幅车道",
            "绿化带大树倾斜，有倒塌风险",
            "树枝折断挂在电线上",
        ],
    ),
    (
        Category::DamagedRoad,
        15,
        &[
            "路面出现坑洞约一米见方，影响车辆通行",
            "人行道砖块松动破损",
            "沥青路面开裂隆起",
        ],
    ),
    (
        Category::DamagedManholeCover,
        10,
        &[
            "井盖破损下沉，存在安全隐患",
            "雨水井盖缺失，已设置临时警示",
            "井盖松动，车辆经过异响",
        ],
    ),
    (
        Category::Waterlogging,
        10,
        &[
            "暴雨后路段积水约30厘米，车辆涉水",
            "地下通道积水，行人无法通行",
            "小区门口积水排不出",
        ],
    ),
    (
        Category::OutdoorBusiness,
        15,
        &[
            "商铺占道经营，堵塞人行道",
            "夜市摊档越门经营",
            "汽修店在人行道上修车",
        ],
    ),
    (
        Category::Garbage,
        20,
        &[
            "路边垃圾堆放未及时清运，有异味",
            "建筑垃圾乱倒在绿化带",
            "垃圾桶满溢",
        ],
    ),
    (
        Category::FireHazard,
        10,
        &[
            "楼道堆放杂物堵塞消防通道",
            "电动车在楼道内充电",
            "消防栓被遮挡",
        ],
    ),
    (
        Category::Other,
        10,
        &["路灯不亮", "违规张贴小广告", "交通标志牌倾斜"],
    ),
];

const SURNAMES: [&str; 12] = [
    "陈", "李", "黄", "梁", "何", "冯", "罗", "区", "潘", "麦", "谭", "霍",
];
const GIVEN: [&str; 12] = [
    "伟", "敏", "志强", "丽华", "家豪", "嘉欣", "永康", "美玲", "国华", "少芬", "俊杰", "秀英",
];

/// Starts the simulator; it runs until the returned handle is aborted. It reports in the grids
/// of the district as loaded at each report, so it follows imports.
pub fn spawn_simulator(
    incidents: Incidents,
    store: Store,
    district: DistrictState,
    options: SimOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut warned_no_grids = false;
        let actor = Actor::simulator();
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let weights = WeightedIndex::new(CATEGORIES.iter().map(|c| c.1)).expect("positive weights");
        let mean = options.interval.as_secs_f64();
        let mut due: BinaryHeap<Reverse<(Instant, i64, u8)>> = BinaryHeap::new();

        // Pick up incidents left open by an earlier run, so open ones keep moving.
        for status in [IncidentStatus::Reported, IncidentStatus::Dispatched] {
            let open = store
                .list_incidents(&IncidentQuery {
                    limit: 1000,
                    status: Some(status),
                    visible_to: None,
                })
                .await
                .unwrap_or_default();
            for i in open {
                let after = rng.gen_range(2.0..30.0) * mean;
                due.push(Reverse((
                    Instant::now() + Duration::from_secs_f64(after),
                    i.id,
                    next_code(status),
                )));
            }
        }

        let mut next_report = Instant::now() + Duration::from_secs_f64(mean * 0.5);
        loop {
            let wake = due
                .peek()
                .map_or(next_report, |Reverse((t, _, _))| (*t).min(next_report));
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            while let Some(Reverse((t, id, code))) = due.peek().copied() {
                if t > now {
                    break;
                }
                due.pop();
                let status = if code == 1 {
                    IncidentStatus::Dispatched
                } else {
                    IncidentStatus::Resolved
                };
                match incidents.change_status(&actor, id, status).await {
                    Ok(Some(_)) if status == IncidentStatus::Dispatched => {
                        let after = rng.gen_range(15.0..60.0) * mean;
                        due.push(Reverse((now + Duration::from_secs_f64(after), id, 2)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "simulator: status change failed"),
                }
            }
            if now >= next_report {
                let (category, _, texts) = CATEGORIES[weights.sample(&mut rng)];
                let point = {
                    let district = district.current();
                    let grids: Vec<&Jurisdiction> = district
                        .spatial
                        .jurisdictions
                        .all()
                        .iter()
                        .filter(|j| j.level == Level::Grid)
                        .collect();
                    if grids.is_empty() {
                        None
                    } else {
                        random_point_in(grids[rng.gen_range(0..grids.len())], &mut rng)
                    }
                };
                let Some((lon, lat)) = point else {
                    if !warned_no_grids {
                        tracing::warn!("simulator: the district has no grids to report in");
                        warned_no_grids = true;
                    }
                    next_report = now + Duration::from_secs_f64(mean);
                    continue;
                };
                let report = NewIncident {
                    category: category.code().to_string(),
                    lat,
                    lon,
                    description: texts[rng.gen_range(0..texts.len())].to_string(),
                    reporter: Some(format!(
                        "网格员 {}{}",
                        SURNAMES[rng.gen_range(0..SURNAMES.len())],
                        GIVEN[rng.gen_range(0..GIVEN.len())]
                    )),
                };
                match incidents.report(&actor, report).await {
                    Ok(incident) => {
                        let after = rng.gen_range(4.0..20.0) * mean;
                        due.push(Reverse((
                            now + Duration::from_secs_f64(after),
                            incident.id,
                            1,
                        )));
                    }
                    Err(e) => tracing::warn!(error = %e, "simulator: report failed"),
                }
                // Exponential gaps: a Poisson stream of reports around the mean.
                let gap = -mean * (1.0 - rng.gen::<f64>()).ln();
                next_report = now + Duration::from_secs_f64(gap.clamp(mean * 0.05, mean * 6.0));
            }
        }
    })
}

/// 1 = dispatch next, 2 = resolve next.
fn next_code(status: IncidentStatus) -> u8 {
    if status == IncidentStatus::Reported {
        1
    } else {
        2
    }
}

/// A uniformly random point inside the jurisdiction (rejection sampling in its bounding box).
fn random_point_in(j: &Jurisdiction, rng: &mut impl Rng) -> Option<(f64, f64)> {
    debug_assert_eq!(j.level, Level::Grid);
    let r = j.geometry.bounding_rect()?;
    for _ in 0..64 {
        let p = geo::Point::new(
            rng.gen_range(r.min().x..r.max().x),
            rng.gen_range(r.min().y..r.max().y),
        );
        if j.geometry.contains(&p) {
            return Some((p.x(), p.y()));
        }
    }
    j.geometry.interior_point().map(|p| (p.x(), p.y()))
}

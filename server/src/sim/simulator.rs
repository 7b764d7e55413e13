//! The live simulator: reports an incident in a random grid every so often (exponentially
//! distributed gaps around the configured mean), and takes each through its lifecycle at a
//! lifelike pace — triaged, dispatched to the proposed department (with a recorded decision at
//! a seam), accepted, resolved with a note, closed; now and then one is rejected, one is
//! reported twice (and the second merged into the first, or the suggestion dismissed), and one
//! in ten is left waiting long enough to go overdue and be escalated — so the screen is alive
//! and the desk has cases in every state.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use geo::{BoundingRect, Contains, InteriorPoint};
use onegrid_app::wire::{
    ActionRequest, CaseAction, Category, Incident, IncidentStatus, NewIncident,
};
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::accounts::Actor;
use crate::cases::{ActError, Cases};
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
    cases: Cases,
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
        let mut due: BinaryHeap<Reverse<(Instant, i64)>> = BinaryHeap::new();

        // Pick up incidents left open by an earlier run, so open ones keep moving.
        for status in [
            IncidentStatus::Reported,
            IncidentStatus::Triaged,
            IncidentStatus::Dispatched,
            IncidentStatus::InProgress,
            IncidentStatus::Resolved,
        ] {
            let open = store
                .list_incidents(&IncidentQuery {
                    limit: 1000,
                    status: Some(status),
                    ..Default::default()
                })
                .await
                .unwrap_or_default();
            for i in open {
                let after = rng.gen_range(2.0..30.0) * mean;
                due.push(Reverse((
                    Instant::now() + Duration::from_secs_f64(after),
                    i.id,
                )));
            }
        }

        let mut next_report = Instant::now() + Duration::from_secs_f64(mean * 0.5);
        // Where the last reports were, to report one of them again.
        let mut recent: Vec<(Category, f64, f64)> = Vec::new();
        loop {
            let wake = due
                .peek()
                .map_or(next_report, |Reverse((t, _))| (*t).min(next_report));
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            while let Some(Reverse((t, id))) = due.peek().copied() {
                if t > now {
                    break;
                }
                due.pop();
                let Ok(Some(incident)) = store.incident(id, None).await else {
                    continue;
                };
                let Some(req) = next_step(&incident, &mut rng) else {
                    continue;
                };
                match cases.act(&actor, id, &req).await {
                    Ok(moved) => {
                        if let Some(after) = pace(moved.status, &mut rng) {
                            due.push(Reverse((now + Duration::from_secs_f64(after * mean), id)));
                        }
                    }
                    // Someone at the desk moved it first: look again later.
                    Err(ActError::Conflict { .. }) => {
                        let after = rng.gen_range(2.0..10.0) * mean;
                        due.push(Reverse((now + Duration::from_secs_f64(after), id)));
                    }
                    Err(e) => tracing::warn!(error = %e, id, "simulator: case action failed"),
                }
            }
            if now >= next_report {
                let (mut category, _, texts) = CATEGORIES[weights.sample(&mut rng)];
                // Now and then a second person reports what was just reported, a few metres
                // from it: the desk is offered it as a duplicate.
                let again = recent.last().copied().filter(|_| rng.gen_bool(0.08));
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
                let point = match again {
                    Some((c, lon, lat)) => {
                        category = c;
                        Some((
                            lon + rng.gen_range(-8e-5..8e-5),
                            lat + rng.gen_range(-8e-5..8e-5),
                        ))
                    }
                    None => point,
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
                        // One in ten is left waiting a long while (an hour at the default
                        // pace), so the wall has overdue and escalated cases too.
                        let after = if rng.gen_bool(0.1) {
                            rng.gen_range(450.0..900.0)
                        } else {
                            rng.gen_range(2.0..10.0)
                        } * mean;
                        due.push(Reverse((now + Duration::from_secs_f64(after), incident.id)));
                        recent.push((category, lon, lat));
                        if recent.len() > 20 {
                            recent.remove(0);
                        }
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

/// The action the simulated officers and departments take next on `incident`; `None` when
/// it is in an end state, or waits for a person (triaged with no department proposed).
fn next_step(incident: &Incident, rng: &mut impl Rng) -> Option<ActionRequest> {
    let proposed = incident.analysis.responsibility.as_ref().and_then(|r| {
        r.department
            .as_ref()
            .map(|d| (d.code.clone(), r.review_required))
    });
    let mut req = ActionRequest {
        seq: incident.seq,
        ..Default::default()
    };
    let action = match incident.status {
        // A suggested duplicate is merged into the first report, now and then dismissed.
        IncidentStatus::Reported if incident.duplicate_of.is_some() => {
            if rng.gen_bool(0.85) {
                CaseAction::Merge
            } else {
                req.note = Some("经核实为不同位置的问题".into());
                CaseAction::Dismiss
            }
        }
        IncidentStatus::Reported if rng.gen_bool(0.03) => {
            req.reason = Some("经核实，现场已恢复正常，不予受理".into());
            CaseAction::Reject
        }
        IncidentStatus::Reported => CaseAction::Triage,
        IncidentStatus::Triaged => {
            let (code, seam) = proposed?;
            if seam {
                req.department = Some(code);
                req.reason =
                    Some("插花地带：经联席研判，按权属及管线位置由提议部门牵头处置".into());
            }
            CaseAction::Dispatch
        }
        IncidentStatus::Dispatched => CaseAction::Accept,
        IncidentStatus::InProgress => {
            req.note = Some(
                [
                    "已到场处置完毕，现场恢复正常",
                    "已清理完毕并拍照留档",
                    "已修复，设置警示至养护期结束",
                ][rng.gen_range(0..3)]
                .into(),
            );
            CaseAction::Resolve
        }
        IncidentStatus::Resolved => CaseAction::Close,
        IncidentStatus::Closed | IncidentStatus::Rejected | IncidentStatus::Merged => return None,
    };
    req.action = action.as_str().to_string();
    Some(req)
}

/// How long (in mean report intervals) until the next step from `status`; `None` at the end.
fn pace(status: IncidentStatus, rng: &mut impl Rng) -> Option<f64> {
    Some(match status {
        IncidentStatus::Triaged => rng.gen_range(1.0..6.0),
        IncidentStatus::Dispatched => rng.gen_range(2.0..10.0),
        IncidentStatus::InProgress => rng.gen_range(10.0..40.0),
        IncidentStatus::Resolved => rng.gen_range(5.0..20.0),
        _ => return None,
    })
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

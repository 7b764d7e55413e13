//! UI text in Simplified Chinese (the default) and English.

use crate::wire::Lang;

pub struct Texts {
    pub title: &'static str,
    pub today: &'static str,
    pub open: &'static str,
    pub resolved_today: &'static str,
    pub live: &'static str,
    pub connecting: &'static str,
    pub offline: &'static str,
    pub incidents: &'static str,
    pub loading: &'static str,
    pub empty: &'static str,
    pub load_failed: &'static str,
    pub retry: &'static str,
    pub switch_lang: &'static str,
    pub close: &'static str,
    pub reported_at: &'static str,
    pub reporter: &'static str,
    pub street: &'static str,
    pub grid: &'static str,
    pub location: &'static str,
    pub status: &'static str,
    pub dispatch: &'static str,
    pub resolve: &'static str,
    pub action_failed: &'static str,
    pub map_failed: &'static str,
    pub unknown_reporter: &'static str,
    pub chain: &'static str,
    pub responsible: &'static str,
    pub contact: &'static str,
    pub seam: &'static str,
    pub seam_note: &'static str,
    pub nearby: &'static str,
    pub none_nearby: &'static str,
    pub metres: &'static str,
    pub legend: &'static str,
    pub legend_buildings: &'static str,
    pub legend_roads: &'static str,
    pub legend_pois: &'static str,
    pub legend_community: &'static str,
    pub legend_grid: &'static str,
    pub legend_pipelines: &'static str,
}

pub const ZH: Texts = Texts {
    title: "禅城区城市运行指挥中心",
    today: "今日上报",
    open: "待办结",
    resolved_today: "今日办结",
    live: "实时",
    connecting: "连接中…",
    offline: "实时连接中断，正在重连…",
    incidents: "事件",
    loading: "正在加载事件…",
    empty: "暂无事件。网格员上报后会实时显示在这里。",
    load_failed: "事件加载失败",
    retry: "重试",
    switch_lang: "EN",
    close: "关闭",
    reported_at: "上报时间",
    reporter: "上报人",
    street: "镇街",
    grid: "网格",
    location: "位置",
    status: "状态",
    dispatch: "派遣",
    resolve: "办结",
    action_failed: "操作失败",
    map_failed: "地图无法加载（浏览器不支持 WebGL）",
    unknown_reporter: "未署名",
    chain: "管辖",
    responsible: "建议责任部门",
    contact: "联系电话",
    seam: "边界待复核",
    seam_note: "事件位于辖区交界处，以下均可能负责，请复核后派遣：",
    nearby: "周边部件（50 米内）",
    none_nearby: "50 米内没有登记的部件",
    metres: "米",
    legend: "图例",
    legend_buildings: "建筑",
    legend_roads: "道路",
    legend_pois: "设施",
    legend_community: "村居界",
    legend_grid: "网格界",
    legend_pipelines: "地下管线（15 级起）",
};

pub const EN: Texts = Texts {
    title: "Chancheng City Operations Center",
    today: "Reported today",
    open: "Open",
    resolved_today: "Resolved today",
    live: "Live",
    connecting: "Connecting…",
    offline: "Live feed down, reconnecting…",
    incidents: "Incidents",
    loading: "Loading incidents…",
    empty: "No incidents yet. Reports from grid workers appear here live.",
    load_failed: "Could not load incidents",
    retry: "Retry",
    switch_lang: "中文",
    close: "Close",
    reported_at: "Reported",
    reporter: "Reporter",
    street: "Street/town",
    grid: "Grid",
    location: "Location",
    status: "Status",
    dispatch: "Dispatch",
    resolve: "Resolve",
    action_failed: "Action failed",
    map_failed: "The map cannot start (this browser has no WebGL)",
    unknown_reporter: "Anonymous",
    chain: "Jurisdiction",
    responsible: "Proposed department",
    contact: "Contact",
    seam: "Boundary: review",
    seam_note: "This incident lies where jurisdictions meet; any of these may be responsible. Review before dispatching:",
    nearby: "Nearby assets (within 50 m)",
    none_nearby: "No registered assets within 50 m",
    metres: "m",
    legend: "Legend",
    legend_buildings: "Buildings",
    legend_roads: "Roads",
    legend_pois: "Facilities",
    legend_community: "Community",
    legend_grid: "Grid",
    legend_pipelines: "Pipelines (zoom 15+)",
};

/// Label of an asset's layer and kind, e.g. 管线·给水 / pipeline · water supply.
pub fn asset_label(layer: crate::wire::AssetLayer, kind: &str, lang: crate::wire::Lang) -> String {
    use crate::wire::{AssetLayer, Lang};
    let (layer_zh, layer_en) = match layer {
        AssetLayer::Buildings => ("建筑", "building"),
        AssetLayer::Roads => ("道路", "road"),
        AssetLayer::Pipelines => ("管线", "pipeline"),
        AssetLayer::Pois => ("设施", "facility"),
    };
    let (kind_zh, kind_en) = kind_names(kind).unwrap_or((kind, kind));
    match lang {
        Lang::Zh => format!("{layer_zh}·{kind_zh}"),
        Lang::En => format!("{layer_en} · {kind_en}"),
    }
}

/// Name of an asset kind, e.g. 给水 / water supply; the code itself for kinds without one.
pub fn kind_label(kind: &str, lang: Lang) -> &str {
    match (kind_names(kind), lang) {
        (Some((zh, _)), Lang::Zh) => zh,
        (Some((_, en)), Lang::En) => en,
        (None, _) => kind,
    }
}

/// Chinese and English names of the asset kinds onegrid knows.
fn kind_names(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "water_supply" => ("给水", "water supply"),
        "drainage" => ("排水", "drainage"),
        "gas" => ("燃气", "gas"),
        "power" => ("电力", "power"),
        "telecom" => ("通信", "telecom"),
        "trunk" => ("快速路", "expressway"),
        "primary" => ("主干路", "arterial"),
        "secondary" => ("次干路", "secondary"),
        "tertiary" => ("支路", "branch road"),
        "residential" => ("街巷", "lane"),
        "commercial" => ("商业", "commercial"),
        "industrial" => ("工业", "industrial"),
        "public" => ("公共", "public"),
        "school" => ("学校", "school"),
        "mixed" => ("综合", "mixed use"),
        "scenic" => ("景点", "scenic spot"),
        "market" => ("市场", "market"),
        "hospital" => ("医院", "hospital"),
        "park" => ("公园", "park"),
        _ => return None,
    })
}

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

//! UI text in Simplified Chinese (the default) and English: the dashboard's (`Texts`) and the
//! login page's (`LoginTexts`). In the browser, also the reader's choice of language, kept
//! between visits and shared by every page (`keep_language`).

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
    pub action_failed: &'static str,
    pub seam_decision: &'static str,
    pub overdue: &'static str,
    pub deadline: &'static str,
    pub due_in: &'static str,
    pub overdue_by: &'static str,
    pub minutes: &'static str,
    pub escalated_street: &'static str,
    pub escalated_district: &'static str,
    pub assigned_to: &'static str,
    pub duplicate_of: &'static str,
    pub merged_into: &'static str,
    pub dispatch_to: &'static str,
    pub proposed_department: &'static str,
    pub note_placeholder: &'static str,
    pub map_failed: &'static str,
    pub unknown_reporter: &'static str,
    pub chain: &'static str,
    pub responsible: &'static str,
    pub no_department: &'static str,
    pub rules_warning: &'static str,
    pub rules_file: &'static str,
    pub rules_in_force: &'static str,
    pub rules_skipped: &'static str,
    pub rules_note: &'static str,
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
    pub logout: &'static str,
    pub logout_failed: &'static str,
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
    action_failed: "操作失败",
    seam_decision: "插花地带，须指定责任部门并说明理由：",
    overdue: "超时",
    deadline: "时限",
    due_in: "剩余",
    overdue_by: "已超时",
    minutes: "分钟",
    escalated_street: "（已提醒镇街）",
    escalated_district: "（已上报区值班）",
    assigned_to: "承办部门",
    duplicate_of: "疑似重复",
    merged_into: "已并入",
    dispatch_to: "派往部门：",
    proposed_department: "引擎提议的部门",
    note_placeholder: "理由或处置说明（不予受理、重新打开、办结及插花地带派遣时必填）",
    map_failed: "地图无法加载（浏览器不支持 WebGL）",
    unknown_reporter: "未署名",
    chain: "管辖",
    responsible: "建议责任部门",
    no_department: "未提出责任部门，需值班人员分派",
    rules_warning: "责任规则需要处理",
    rules_file: "规则文件",
    rules_in_force: "条规则生效",
    rules_skipped: "未生效规则",
    rules_note: "未生效的规则已跳过；没有规则覆盖的事件照常受理，标记为需复核，由值班人员分派。修改规则文件后重启服务。",
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
    logout: "退出",
    logout_failed: "退出失败，请重试",
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
    action_failed: "Action failed",
    seam_decision: "At a seam: name the responsible department and say why:",
    overdue: "Overdue",
    deadline: "Deadline",
    due_in: "due in",
    overdue_by: "overdue by",
    minutes: "min",
    escalated_street: "(street officers told)",
    escalated_district: "(duty officers told)",
    assigned_to: "Dispatched to",
    duplicate_of: "Possible duplicate of",
    merged_into: "Merged into",
    dispatch_to: "Dispatch to:",
    proposed_department: "The proposed department",
    note_placeholder: "Reason or note (required to reject, reopen, resolve, and to dispatch at a seam)",
    map_failed: "The map cannot start (this browser has no WebGL)",
    unknown_reporter: "Anonymous",
    chain: "Jurisdiction",
    responsible: "Proposed department",
    no_department: "No department proposed: a duty officer routes it",
    rules_warning: "Responsibility rules need attention",
    rules_file: "Rules file",
    rules_in_force: "rules in force",
    rules_skipped: "Skipped rule",
    rules_note: "Skipped rules are not applied; incidents no rule covers are still accepted, marked for review, and routed by a duty officer. Edit the rules file and restart to change them.",
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
    logout: "Sign out",
    logout_failed: "Sign-out failed, try again",
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

/// Text of the login page (`/login`), which is shown before anyone, or any district, is known.
pub struct LoginTexts {
    pub page_title: &'static str,
    pub product: &'static str,
    pub tagline: &'static str,
    pub heading: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub submit: &'static str,
    pub signing_in: &'static str,
    pub missing: &'static str,
    pub bad_credentials: &'static str,
    pub too_many_later: &'static str,
    pub network: &'static str,
    pub failed: &'static str,
    pub change_heading: &'static str,
    pub change_note: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub new_password_again: &'static str,
    pub change_submit: &'static str,
    pub changing: &'static str,
    pub too_short: &'static str,
    pub mismatch: &'static str,
    pub same_as_username: &'static str,
    pub weak: &'static str,
    pub wrong_current: &'static str,
    pub change_failed: &'static str,
    pub session_expired: &'static str,
    pub account: &'static str,
    pub footer: &'static str,
}

pub const LOGIN_ZH: LoginTexts = LoginTexts {
    page_title: "登录 · onegrid · 城市运行一网统管",
    product: "城市运行一网统管",
    tagline: "城市运行指挥中心",
    heading: "账号登录",
    username: "用户名",
    password: "密码",
    submit: "登录",
    signing_in: "正在登录…",
    missing: "请输入用户名和密码",
    bad_credentials: "用户名或密码错误",
    too_many_later: "尝试次数过多，请稍后再试",
    network: "无法连接服务器，请检查网络后重试",
    failed: "登录失败",
    change_heading: "设置新密码",
    change_note: "首次登录须先设置新密码。新密码至少 10 个字符，且不能与用户名相同。",
    current_password: "当前密码",
    new_password: "新密码",
    new_password_again: "再次输入新密码",
    change_submit: "设置新密码",
    changing: "正在保存…",
    too_short: "新密码至少需要 10 个字符",
    mismatch: "两次输入的新密码不一致",
    same_as_username: "新密码不能与用户名相同",
    weak: "新密码不符合要求：至少 10 个字符，且不能与用户名相同",
    wrong_current: "当前密码错误",
    change_failed: "设置新密码失败",
    session_expired: "登录已失效，请重新登录",
    account: "账号：",
    footer: "仅限授权人员使用，所有操作均留痕记录。",
};

pub const LOGIN_EN: LoginTexts = LoginTexts {
    page_title: "Sign in · onegrid · City operations",
    product: "City operations, one grid",
    tagline: "City operations center",
    heading: "Sign in",
    username: "Username",
    password: "Password",
    submit: "Sign in",
    signing_in: "Signing in…",
    missing: "Enter your username and password",
    bad_credentials: "Wrong username or password",
    too_many_later: "Too many attempts. Try again later",
    network: "Cannot reach the server. Check the network and try again",
    failed: "Sign-in failed",
    change_heading: "Set a new password",
    change_note: "Set a new password before the first use. It needs at least 10 characters and must differ from the username.",
    current_password: "Current password",
    new_password: "New password",
    new_password_again: "New password again",
    change_submit: "Set new password",
    changing: "Saving…",
    too_short: "The new password needs at least 10 characters",
    mismatch: "The two new passwords differ",
    same_as_username: "The new password must differ from the username",
    weak: "The new password is too weak: at least 10 characters, not the username",
    wrong_current: "The current password is wrong",
    change_failed: "Could not set the new password",
    session_expired: "The session has ended. Sign in again",
    account: "Account: ",
    footer: "Authorised staff only. Every action is recorded.",
};

pub fn login_texts(lang: Lang) -> &'static LoginTexts {
    match lang {
        Lang::Zh => &LOGIN_ZH,
        Lang::En => &LOGIN_EN,
    }
}

/// "尝试次数过多，请在 N 分钟后再试", or "… 请稍后再试" when the wait is not known.
pub fn too_many_attempts(minutes: Option<u64>, lang: Lang) -> String {
    match (minutes, lang) {
        (Some(n), Lang::Zh) => format!("尝试次数过多，请在 {n} 分钟后再试"),
        (Some(1), Lang::En) => "Too many attempts. Try again in 1 minute".to_string(),
        (Some(n), Lang::En) => format!("Too many attempts. Try again in {n} minutes"),
        (None, lang) => login_texts(lang).too_many_later.to_string(),
    }
}

/// Where the reader's choice of language is kept between visits (the same for every page).
#[cfg(feature = "hydrate")]
const LANG_KEY: &str = "onegrid.lang";

/// Restores the language chosen on an earlier visit into `lang`, then keeps the choice and the
/// document's `lang` attribute in step with it.
#[cfg(feature = "hydrate")]
pub fn keep_language(lang: leptos::prelude::RwSignal<Lang>) {
    use leptos::prelude::*;

    let storage = || window().local_storage().ok().flatten();
    if storage()
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten())
        .as_deref()
        == Some("en")
    {
        lang.set(Lang::En);
    }
    Effect::new(move |_| {
        let lang = lang.get();
        let code = if lang == Lang::En { "en" } else { "zh" };
        if let Some(s) = storage() {
            let _ = s.set_item(LANG_KEY, code);
        }
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", if lang == Lang::En { "en" } else { "zh-CN" });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_after_too_many_attempts_reads_in_minutes() {
        assert_eq!(
            too_many_attempts(Some(5), Lang::Zh),
            "尝试次数过多，请在 5 分钟后再试"
        );
        assert_eq!(
            too_many_attempts(Some(1), Lang::En),
            "Too many attempts. Try again in 1 minute"
        );
        assert_eq!(
            too_many_attempts(None, Lang::Zh),
            "尝试次数过多，请稍后再试"
        );
    }
}

//! The JSON shapes that cross the wire, shared by the server and the browser so both compile
//! against the same types. HTTP lives under `/api/v1/`; the WebSocket protocol names its version
//! in its first message ([`WS_PROTOCOL`]). A breaking change gets a new version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod accounts;
mod cases;
pub use accounts::*;
pub use cases::*;

/// Version of the live protocol, sent in the `hello` message.
pub const WS_PROTOCOL: &str = "onegrid.live.v1";

/// Levels of the jurisdiction hierarchy, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    District,
    Street,
    Community,
    Grid,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::District,
        Level::Street,
        Level::Community,
        Level::Grid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Level::District, Lang::Zh) => "区",
            (Level::Street, Lang::Zh) => "镇街",
            (Level::Community, Lang::Zh) => "村居",
            (Level::Grid, Lang::Zh) => "网格",
            (Level::District, Lang::En) => "District",
            (Level::Street, Lang::En) => "Street/town",
            (Level::Community, Lang::En) => "Community",
            (Level::Grid, Lang::En) => "Grid",
        }
    }
}

/// Asset layers (部件).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssetLayer {
    Buildings,
    Roads,
    Pipelines,
    Pois,
}

impl AssetLayer {
    pub const ALL: [AssetLayer; 4] = [
        AssetLayer::Buildings,
        AssetLayer::Roads,
        AssetLayer::Pipelines,
        AssetLayer::Pois,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssetLayer::Buildings => "buildings",
            AssetLayer::Roads => "roads",
            AssetLayer::Pipelines => "pipelines",
            AssetLayer::Pois => "pois",
        }
    }

    pub fn parse(s: &str) -> Option<AssetLayer> {
        AssetLayer::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// UI language. Simplified Chinese is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// Incident categories, by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    FallenTree,
    DamagedRoad,
    DamagedManholeCover,
    Waterlogging,
    OutdoorBusiness,
    Garbage,
    FireHazard,
    Other,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::FallenTree,
        Category::DamagedRoad,
        Category::DamagedManholeCover,
        Category::Waterlogging,
        Category::OutdoorBusiness,
        Category::Garbage,
        Category::FireHazard,
        Category::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::FallenTree => "fallen_tree",
            Category::DamagedRoad => "damaged_road",
            Category::DamagedManholeCover => "damaged_manhole_cover",
            Category::Waterlogging => "waterlogging",
            Category::OutdoorBusiness => "outdoor_business",
            Category::Garbage => "garbage",
            Category::FireHazard => "fire_hazard",
            Category::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Category::FallenTree => "倒伏树木",
            Category::DamagedRoad => "路面破损",
            Category::DamagedManholeCover => "井盖破损",
            Category::Waterlogging => "积水内涝",
            Category::OutdoorBusiness => "出店经营",
            Category::Garbage => "垃圾堆放",
            Category::FireHazard => "消防隐患",
            Category::Other => "其他",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Category::FallenTree => "Fallen tree",
            Category::DamagedRoad => "Damaged road",
            Category::DamagedManholeCover => "Damaged manhole cover",
            Category::Waterlogging => "Waterlogging",
            Category::OutdoorBusiness => "Outdoor business",
            Category::Garbage => "Garbage dumping",
            Category::FireHazard => "Fire hazard",
            Category::Other => "Other",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.label_zh(),
            Lang::En => self.label_en(),
        }
    }
}

/// `GET /api/v1/categories` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CategoryInfo {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
}

impl From<Category> for CategoryInfo {
    fn from(c: Category) -> Self {
        CategoryInfo {
            code: c.code().to_string(),
            label_zh: c.label_zh().to_string(),
            label_en: c.label_en().to_string(),
        }
    }
}

/// Where an incident is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Just in: nobody has looked at it yet.
    Reported,
    /// Confirmed by an officer (its category corrected if needed).
    Triaged,
    /// Sent to a department.
    Dispatched,
    /// The department has accepted it and is dealing with it.
    InProgress,
    /// The department says it is dealt with.
    Resolved,
    /// An officer confirmed the resolution (or it closed itself after the configured days).
    Closed,
    /// Not a case (with a reason).
    Rejected,
    /// A duplicate, joined to another incident (`merged_into`).
    Merged,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 8] = [
        IncidentStatus::Reported,
        IncidentStatus::Triaged,
        IncidentStatus::Dispatched,
        IncidentStatus::InProgress,
        IncidentStatus::Resolved,
        IncidentStatus::Closed,
        IncidentStatus::Rejected,
        IncidentStatus::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Reported => "reported",
            IncidentStatus::Triaged => "triaged",
            IncidentStatus::Dispatched => "dispatched",
            IncidentStatus::InProgress => "in_progress",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Closed => "closed",
            IncidentStatus::Rejected => "rejected",
            IncidentStatus::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still to be dealt with: not resolved, closed, rejected or merged.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentStatus::Reported
                | IncidentStatus::Triaged
                | IncidentStatus::Dispatched
                | IncidentStatus::InProgress
        )
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (IncidentStatus::Reported, Lang::Zh) => "已上报",
            (IncidentStatus::Triaged, Lang::Zh) => "已确认",
            (IncidentStatus::Dispatched, Lang::Zh) => "已派遣",
            (IncidentStatus::InProgress, Lang::Zh) => "处置中",
            (IncidentStatus::Resolved, Lang::Zh) => "已办结",
            (IncidentStatus::Closed, Lang::Zh) => "已结案",
            (IncidentStatus::Rejected, Lang::Zh) => "不予受理",
            (IncidentStatus::Merged, Lang::Zh) => "已合并",
            (IncidentStatus::Reported, Lang::En) => "Reported",
            (IncidentStatus::Triaged, Lang::En) => "Triaged",
            (IncidentStatus::Dispatched, Lang::En) => "Dispatched",
            (IncidentStatus::InProgress, Lang::En) => "In progress",
            (IncidentStatus::Resolved, Lang::En) => "Resolved",
            (IncidentStatus::Closed, Lang::En) => "Closed",
            (IncidentStatus::Rejected, Lang::En) => "Rejected",
            (IncidentStatus::Merged, Lang::En) => "Merged",
        }
    }

    /// Marker colour on the map and in the list (CSS colour).
    pub fn color(self) -> &'static str {
        match self {
            IncidentStatus::Reported => "#ff4d4f",
            IncidentStatus::Triaged => "#ff7a45",
            IncidentStatus::Dispatched => "#faad14",
            IncidentStatus::InProgress => "#1890ff",
            IncidentStatus::Resolved => "#52c41a",
            IncidentStatus::Closed => "#8c8c8c",
            IncidentStatus::Rejected => "#595959",
            IncidentStatus::Merged => "#722ed1",
        }
    }
}

/// `POST /api/v1/incidents` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewIncident {
    /// A category code (`GET /api/v1/categories`).
    #[cfg_attr(feature = "ssr", schema(value_type = Category))]
    pub category: String,
    /// WGS84 latitude, degrees.
    #[cfg_attr(feature = "ssr", schema(minimum = -90, maximum = 90, example = 23.02))]
    pub lat: f64,
    /// WGS84 longitude, degrees.
    #[cfg_attr(feature = "ssr", schema(minimum = -180, maximum = 180, example = 113.085))]
    pub lon: f64,
    /// What is wrong, as the reporter says it (at most 4000 characters).
    #[cfg_attr(feature = "ssr", schema(max_length = 4000))]
    pub description: String,
    /// Who reported it (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 100))]
    pub reporter: Option<String>,
}

/// An incident as the API and the live feed carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Incident {
    pub id: i64,
    /// `seq` of the event that produced this state; a client keeps the newest it has seen.
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: IncidentStatus,
    pub category: Category,
    pub lat: f64,
    pub lon: f64,
    pub description: String,
    #[serde(default)]
    pub reporter: Option<String>,
    /// 9-digit code of the street/town the point lies in.
    pub street_code: String,
    pub street_name: String,
    /// 15-digit CJ/T 213 code of the grid the point lies in.
    pub grid_code: String,
    pub grid_name: String,
    /// The department it is dispatched to (set by `dispatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// When merged: the incident this duplicate joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    /// An open incident of the same category near it, reported shortly before: offered to the
    /// officer as the one this duplicates (merge into it, or dismiss the suggestion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
    /// When it must be dispatched, and resolved (from the case settings, counted from the
    /// report); `None` for incidents from before deadlines existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_due_at: Option<DateTime<Utc>>,
    /// Escalation reached in the current phase (waiting for dispatch, or for resolution): 0
    /// none, 1 past the deadline (the street's officers were told), 2 past 150 % of the time
    /// allowed (the district's duty officers were told).
    #[serde(default)]
    pub escalation: u8,
    /// Jurisdiction chain, seam, nearby assets and proposed department.
    #[serde(flatten)]
    pub analysis: Analysis,
}

impl Incident {
    /// The deadline it is waiting on now: to be dispatched (reported, triaged) or to be resolved
    /// (dispatched, in progress); `None` once resolved, closed, rejected or merged.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            IncidentStatus::Reported | IncidentStatus::Triaged => self.dispatch_due_at,
            IncidentStatus::Dispatched | IncidentStatus::InProgress => self.resolve_due_at,
            _ => None,
        }
    }

    /// Past the deadline it is waiting on.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.due_at().is_some_and(|due| now >= due)
    }
}

/// `GET /api/v1/stats`: the header's counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Stats {
    /// Incidents reported since local midnight.
    pub today: i64,
    /// Incidents not yet resolved.
    pub open: i64,
    /// Incidents resolved since local midnight.
    pub resolved_today: i64,
    /// Highest committed event `seq`.
    pub seq: i64,
}

/// Messages the server sends on `/ws`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message: protocol version and the newest committed `seq`.
    Hello { protocol: String, seq: i64 },
    /// An incident was reported or changed status; `seq` is its event in the log.
    Incident { seq: i64, incident: Box<Incident> },
    /// The client fell behind; it must reload its state over HTTP.
    Resync,
    /// Sent when nothing else was for a while, so a client can tell a quiet feed from a dead one.
    Heartbeat { seq: i64 },
    /// The server now answers from newly imported layers (jurisdictions or assets):
    /// `generation` is the `seq` of the event that changed them. Tiles and map layers fetched
    /// before may be stale. Not an incident event: it is not replayed to resuming clients.
    DistrictChanged { generation: u64 },
}

/// `{"error":{"code","message"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable: e.g. `bad_query`, `not_found`, `invalid_body`, `internal`.
    pub code: String,
    /// For people; a 500 says only that something failed.
    pub message: String,
}

/// `GET /api/v1/map/info`: what the page needs to frame the district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MapInfo {
    /// Name of the district, e.g. 禅城区.
    pub name: String,
    /// [lon, lat]
    pub center: [f64; 2],
    /// [[west, south], [east, north]]
    pub bounds: [[f64; 2]; 2],
    /// Local time zone of the district, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Deepest zoom `/tiles/{layer}/{z}/{x}/{y}.mvt` serves; the map overzooms beyond it.
    pub tile_max_zoom: u8,
}

/// One level of a jurisdiction chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JurisdictionRef {
    pub level: Level,
    pub code: String,
    pub name: String,
}

/// A jurisdiction a point near a boundary could belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeamCandidate {
    pub level: Level,
    pub code: String,
    pub name: String,
    /// Metres from the point to the jurisdiction (0 inside it or on its boundary).
    pub distance_m: f64,
}

/// The point lies near a boundary between jurisdictions: every candidate, for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Seam {
    pub candidates: Vec<SeamCandidate>,
}

/// `GET /api/v1/spatial/locate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LocateAnswer {
    /// Outermost first; empty outside every jurisdiction.
    pub chain: Vec<JurisdictionRef>,
    /// Inside the district: the candidates at each level where the point is within the seam
    /// distance of a boundary between jurisdictions. Outside it: the jurisdictions within the
    /// seam distance (the point is just outside the district's boundary), if any.
    pub seam: Option<Seam>,
}

/// An asset near a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NearbyFeature {
    pub layer: AssetLayer,
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Code of the owning or maintaining department.
    pub owner: String,
    /// Metres from the point to the asset's geometry.
    pub distance_m: f64,
    /// The point of the asset nearest to the query, [lon, lat].
    pub nearest: [f64; 2],
}

/// `GET /api/v1/spatial/nearby`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NearbyAnswer {
    pub features: Vec<NearbyFeature>,
}

/// A department, as answers name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DepartmentRef {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub contact: String,
}

/// The department proposed as responsible, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Responsibility {
    /// `None` when no rule in force covers the incident: it is accepted and a person routes it
    /// (`review_required` is then true, and the explanation says why).
    pub department: Option<DepartmentRef>,
    /// Id of the rule that decided; `None` with the department.
    pub rule: Option<String>,
    pub explanation_zh: String,
    pub explanation_en: String,
    /// True when the incident sits at a seam: proposed, never silently assigned.
    pub review_required: bool,
}

/// What onegrid worked out about an incident's place when it was reported.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Analysis {
    #[serde(default)]
    pub jurisdiction: Vec<JurisdictionRef>,
    #[serde(default)]
    pub seam: Option<Seam>,
    /// The nearest assets (a summary: the closest few of each layer).
    #[serde(default)]
    pub nearby: Vec<NearbyFeature>,
    #[serde(default)]
    pub responsibility: Option<Responsibility>,
    /// Metres outside the district's outer boundary, for a point accepted at the edge (within
    /// the seam distance outside it): its chain is the nearest grid's, for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_m: Option<f64>,
}

/// A department of the district (`GET /api/v1/departments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DepartmentInfo {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub contact: String,
    /// Code of the department this one belongs to.
    pub parent: Option<String>,
}

/// One responsibility rule, as the rules file (TOML) writes it and `GET /api/v1/rules` shows it.
/// A rule matches when the incident's category is in `categories` (empty: any), its street/town
/// code starts with one of `streets` (empty: any) and, if `layer` is given, an asset of that
/// layer (of one of `kinds` and `owners`, when given) lies within `within_m` metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponsibilityRule {
    pub id: String,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub streets: Vec<String>,
    #[serde(default)]
    pub layer: Option<AssetLayer>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub within_m: Option<f64>,
    /// A department code, or `$owner`: the owner of the asset the rule found.
    pub department: String,
}

/// A rule of the file that is not in force, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SkippedRule {
    /// Position in the file, from 1.
    pub index: usize,
    /// The rule's id, when it has one.
    pub id: Option<String>,
    pub reason: String,
    pub reason_zh: String,
}

/// A problem with a rules file as a whole, in English and Chinese.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RulesProblem {
    pub message: String,
    pub message_zh: String,
}

/// The responsibility rules as loaded (`GET /api/v1/rules`): those in force, in order (the
/// first that matches decides), those skipped and why, and problems with the file as a whole.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RulesReport {
    /// The rules file read.
    pub file: String,
    pub rules: Vec<ResponsibilityRule>,
    pub skipped: Vec<SkippedRule>,
    /// E.g. the file could not be parsed, or no rule applies to every incident.
    pub problems: Vec<RulesProblem>,
}

impl RulesReport {
    /// True when the duty officer should be told: rules were skipped or the file has problems.
    pub fn has_problems(&self) -> bool {
        !self.skipped.is_empty() || !self.problems.is_empty()
    }
}

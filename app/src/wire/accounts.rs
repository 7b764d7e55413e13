//! Who is asking: roles, scopes, the session, and the audit trail as they cross the wire
//! (`/api/v1/session`, `/api/v1/audit`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Lang, Level};

/// What a caller may do. The names are the same on the wire and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including accounts and the audit trail.
    Admin,
    /// The whole district: watches, triages and moves every incident.
    DutyOfficer,
    /// One street/town (镇街).
    StreetOfficer,
    /// One community (村居).
    CommunityWorker,
    /// One grid (网格): reports from the field.
    GridWorker,
    /// Incidents whose proposed or assigned department is theirs.
    DepartmentOperator,
    /// A wall display: sees what a duty officer sees, changes nothing.
    Screen,
    /// A machine client with an API key (intake).
    ApiClient,
}

impl Role {
    /// Roles a person's account can have (screens and API clients are tokens, not accounts).
    pub const USERS: [Role; 6] = [
        Role::Admin,
        Role::DutyOfficer,
        Role::StreetOfficer,
        Role::CommunityWorker,
        Role::GridWorker,
        Role::DepartmentOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DutyOfficer => "duty_officer",
            Role::StreetOfficer => "street_officer",
            Role::CommunityWorker => "community_worker",
            Role::GridWorker => "grid_worker",
            Role::DepartmentOperator => "department_operator",
            Role::Screen => "screen",
            Role::ApiClient => "api_client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::DutyOfficer,
            Role::StreetOfficer,
            Role::CommunityWorker,
            Role::GridWorker,
            Role::DepartmentOperator,
            Role::Screen,
            Role::ApiClient,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Role::Admin, Lang::Zh) => "系统管理员",
            (Role::DutyOfficer, Lang::Zh) => "值班员",
            (Role::StreetOfficer, Lang::Zh) => "镇街工作人员",
            (Role::CommunityWorker, Lang::Zh) => "村居工作人员",
            (Role::GridWorker, Lang::Zh) => "网格员",
            (Role::DepartmentOperator, Lang::Zh) => "部门处置员",
            (Role::Screen, Lang::Zh) => "大屏",
            (Role::ApiClient, Lang::Zh) => "接口客户端",
            (Role::Admin, Lang::En) => "Administrator",
            (Role::DutyOfficer, Lang::En) => "Duty officer",
            (Role::StreetOfficer, Lang::En) => "Street officer",
            (Role::CommunityWorker, Lang::En) => "Community worker",
            (Role::GridWorker, Lang::En) => "Grid worker",
            (Role::DepartmentOperator, Lang::En) => "Department operator",
            (Role::Screen, Lang::En) => "Wall screen",
            (Role::ApiClient, Lang::En) => "API client",
        }
    }

    /// The jurisdiction level a scoped account of this role is bound to, if any.
    pub fn scope_level(self) -> Option<Level> {
        match self {
            Role::StreetOfficer => Some(Level::Street),
            Role::CommunityWorker => Some(Level::Community),
            Role::GridWorker => Some(Level::Grid),
            _ => None,
        }
    }

    /// May report incidents (inside its scope).
    pub fn can_report(self) -> bool {
        !matches!(self, Role::Screen | Role::DepartmentOperator)
    }

    /// May move incidents it can see (dispatch, resolve).
    pub fn can_change_incidents(self) -> bool {
        matches!(
            self,
            Role::Admin
                | Role::DutyOfficer
                | Role::StreetOfficer
                | Role::CommunityWorker
                | Role::DepartmentOperator
        )
    }
}

/// What part of the district a caller sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScopeInfo {
    /// Every incident of the district.
    District,
    /// Incidents that lie in, or at a seam touching, this jurisdiction (a street, community or
    /// grid) or any jurisdiction inside it.
    Jurisdiction {
        code: String,
        #[serde(default)]
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<Level>,
    },
    /// Incidents whose proposed or assigned department is this one.
    Department {
        code: String,
        #[serde(default)]
        name: String,
    },
}

impl ScopeInfo {
    /// "全区", the jurisdiction's or department's name.
    pub fn label(&self, lang: Lang) -> String {
        match self {
            ScopeInfo::District => match lang {
                Lang::Zh => "全区".to_string(),
                Lang::En => "whole district".to_string(),
            },
            ScopeInfo::Jurisdiction { code, name, .. } | ScopeInfo::Department { code, name } => {
                if name.is_empty() {
                    code.clone()
                } else {
                    name.clone()
                }
            }
        }
    }
}

/// Kind of credential a caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    User,
    Screen,
    ApiClient,
}

/// `GET /api/v1/session` (and the answer to a login): who is logged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub kind: CallerKind,
    /// The username, the screen's or the API client's name.
    pub name: String,
    pub role: Role,
    pub scope: ScopeInfo,
    /// True after the first login with a one-time password: nothing but
    /// `POST /api/v1/session/password` is allowed until a new one is set.
    #[serde(default)]
    pub must_change_password: bool,
    /// When the session ends at the latest (absolute expiry); `None` for tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/session` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/session/password` body: the logged-in user sets a new password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// One row of the audit trail (`GET /api/v1/audit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who: `user:NAME`, `screen:NAME`, `api_client:NAME`, `cli:OSUSER`, `system`, or the
    /// username tried for a failed login.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The client's address, or `local` for the command line.
    pub address: String,
    /// What, e.g. `login`, `login_failed`, `incident.reported`, `user.added`.
    pub action: String,
    /// What it was done to (an incident id, a username, a file), if anything.
    #[serde(default)]
    pub target: String,
    /// Free-form detail (JSON text).
    #[serde(default)]
    pub detail: String,
    /// `seq` of the event the write produced, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

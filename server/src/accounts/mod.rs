//! Who is asking, and what they may see and do: users, sessions, wall-screen and API tokens,
//! roles and scopes. Every request is resolved once, at the HTTP edge, into an [`Actor`];
//! everything below takes the actor and never reads cookies or headers. The store filters
//! incident data by [`Scope`] in its queries; the hub filters live frames by the same keys.
//!
//! This module knows nothing of HTTP or SQL: it holds the rules (who may log in, when a session
//! ends, what a role may do) and calls the store's domain operations.

mod password;
mod service;
mod token;

use onegrid_app::wire::{CallerKind, Role};

pub use password::{check_new_password, generate_password, PasswordError, MAX_PASSWORD_BYTES};
pub use service::{
    Accounts, AccountsError, CreatedUser, LoginError, SessionPolicy, MAX_USERNAME_CHARS,
};
pub use token::{hash_token, new_token};

/// Where in the district a caller sees incidents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything (admin, duty officer, screen, an unscoped API client).
    District,
    /// A street, community or grid and every jurisdiction inside it, plus the seams that touch
    /// any of them.
    Jurisdiction(String),
    /// Incidents whose proposed or assigned department is this one.
    Department(String),
}

impl Scope {
    /// The key this scope matches among an incident's or event's keys; `None` for the whole
    /// district, which matches everything.
    pub fn key(&self) -> Option<String> {
        match self {
            Scope::District => None,
            Scope::Jurisdiction(code) => Some(jurisdiction_key(code)),
            Scope::Department(code) => Some(department_key(code)),
        }
    }

    /// True when an item carrying `keys` is visible in this scope.
    pub fn allows(&self, keys: &[String]) -> bool {
        match self.key() {
            None => true,
            Some(key) => keys.contains(&key),
        }
    }

    /// The scope of a role with its stored scope code.
    pub fn of(role: Role, code: Option<&str>) -> Scope {
        match (role, code.filter(|c| !c.is_empty())) {
            (Role::DepartmentOperator, Some(code)) => Scope::Department(code.to_string()),
            (Role::StreetOfficer | Role::CommunityWorker | Role::GridWorker, Some(code)) => {
                Scope::Jurisdiction(code.to_string())
            }
            (Role::ApiClient, Some(code)) => Scope::Jurisdiction(code.to_string()),
            // A scoped role without its code sees nothing rather than everything.
            (
                Role::DepartmentOperator
                | Role::StreetOfficer
                | Role::CommunityWorker
                | Role::GridWorker,
                None,
            ) => Scope::Jurisdiction(String::new()),
            _ => Scope::District,
        }
    }

    /// The stored code (`None` for the district).
    pub fn code(&self) -> Option<&str> {
        match self {
            Scope::District => None,
            Scope::Jurisdiction(c) | Scope::Department(c) => Some(c),
        }
    }
}

/// Scope key of a jurisdiction code.
pub fn jurisdiction_key(code: &str) -> String {
    format!("j:{code}")
}

/// Scope key of a department code.
pub fn department_key(code: &str) -> String {
    format!("d:{code}")
}

/// The caller of a request, resolved once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// Username, screen or API client name, or the OS user for the command line.
    pub name: String,
    pub role: Role,
    pub scope: Scope,
    /// The client's address (`local` for the command line).
    pub address: String,
    /// A one-time password is still in use: only setting a new one is allowed.
    pub must_change_password: bool,
    /// Absolute end of the session, for users.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User {
        id: i64,
    },
    Screen {
        id: i64,
    },
    ApiClient {
        id: i64,
    },
    /// The command line on the server machine (`onegrid user …`): an administrator.
    CommandLine,
    /// onegrid itself (the simulator, the first start).
    System,
}

impl Actor {
    /// The command line, run by the OS user `os_user`.
    pub fn command_line(os_user: &str) -> Actor {
        Actor {
            kind: ActorKind::CommandLine,
            name: os_user.to_string(),
            role: Role::Admin,
            scope: Scope::District,
            address: "local".to_string(),
            must_change_password: false,
            expires_at: None,
        }
    }

    /// onegrid itself.
    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            name: "onegrid".to_string(),
            role: Role::Admin,
            scope: Scope::District,
            address: "local".to_string(),
            must_change_password: false,
            expires_at: None,
        }
    }

    /// The live simulator of the demo district.
    pub fn simulator() -> Actor {
        Actor {
            name: "simulator".to_string(),
            ..Actor::system()
        }
    }

    /// How the log and the audit trail name this actor: `user:NAME`, `screen:NAME`,
    /// `api_client:NAME`, `cli:NAME` or `system:NAME`.
    pub fn label(&self) -> String {
        match self.kind {
            ActorKind::User { .. } => format!("user:{}", self.name),
            ActorKind::Screen { .. } => format!("screen:{}", self.name),
            ActorKind::ApiClient { .. } => format!("api_client:{}", self.name),
            ActorKind::CommandLine => format!("cli:{}", self.name),
            ActorKind::System => format!("system:{}", self.name),
        }
    }

    pub fn caller_kind(&self) -> CallerKind {
        match self.kind {
            ActorKind::Screen { .. } => CallerKind::Screen,
            ActorKind::ApiClient { .. } => CallerKind::ApiClient,
            _ => CallerKind::User,
        }
    }

    /// What the store records beside a write.
    pub fn who(&self) -> crate::store::Who {
        crate::store::Who {
            actor: self.label(),
            role: Some(self.role),
            address: self.address.clone(),
        }
    }

    /// True when an incident carrying `keys` is visible to this actor.
    pub fn sees(&self, keys: &[String]) -> bool {
        self.scope.allows(keys)
    }

    /// May report incidents (where it sees them).
    pub fn can_report(&self) -> bool {
        self.role.can_report()
    }

    /// May move incidents it sees.
    pub fn can_change_incidents(&self) -> bool {
        self.role.can_change_incidents()
    }

    /// Sees the whole district's configuration (rules, the wall's overview).
    pub fn is_district_wide(&self) -> bool {
        matches!(self.scope, Scope::District)
            && matches!(self.role, Role::Admin | Role::DutyOfficer | Role::Screen)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_sees_only_items_carrying_its_key() {
        let keys = vec![
            jurisdiction_key("440604"),
            jurisdiction_key("440604001"),
            jurisdiction_key("440604001001001"),
            department_key("water"),
        ];
        assert!(Scope::District.allows(&keys));
        assert!(Scope::Jurisdiction("440604001".into()).allows(&keys));
        assert!(!Scope::Jurisdiction("440604002".into()).allows(&keys));
        assert!(Scope::Department("water".into()).allows(&keys));
        assert!(!Scope::Department("440604001".into()).allows(&keys));
        assert!(!Scope::Jurisdiction("water".into()).allows(&keys));
        assert!(!Scope::District.allows(&[]) || Scope::District.key().is_none());
    }

    #[test]
    fn a_scoped_role_without_its_code_sees_nothing() {
        let s = Scope::of(Role::StreetOfficer, None);
        assert!(!s.allows(&[jurisdiction_key("440604001")]));
        assert_eq!(Scope::of(Role::DutyOfficer, Some("x")), Scope::District);
        assert_eq!(
            Scope::of(Role::DepartmentOperator, Some("water")),
            Scope::Department("water".into())
        );
    }
}

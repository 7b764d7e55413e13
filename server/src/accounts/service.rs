//! The accounts service: logins and sessions, tokens, and the administration the command line
//! does. Validates → commits (with the audit row, in one transaction) → answers.

use chrono::Duration;
use onegrid_app::wire::{Level, Role};

use super::password::{
    check_new_password, dummy_hash, generate_password, hash_password, verify_password,
    PasswordError, MAX_PASSWORD_BYTES,
};
use super::token::{hash_token, new_token};
use super::{Actor, ActorKind, Scope};
use crate::clock::Clock;
use crate::store::{
    AuditRecord, NewUser, Store, StoreError, TokenKind, TokenRow, UserChange, UserRow, Who,
};

/// Longest username (and screen or API client name), in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// When sessions end and when logins are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Unused this long, a session ends.
    pub idle: Duration,
    /// This long after the login, a session ends whatever happens.
    pub absolute: Duration,
    /// Failed logins for one username or from one address within `failure_window` after
    /// which further attempts are refused for a while.
    pub max_failures: i64,
    pub failure_window: Duration,
    /// A session's last use is written at most this often (each write costs a commit).
    pub touch_every: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::hours(8),
            absolute: Duration::days(7),
            max_failures: 5,
            failure_window: Duration::minutes(15),
            touch_every: Duration::minutes(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong username or password (用户名或密码错误)")]
    BadCredentials,
    #[error("too many failed logins; try again in {retry_after_s} s (尝试次数过多，请稍后再试)")]
    Throttled { retry_after_s: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("{0}")]
    Scope(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no live {kind} named {name:?}")]
    NoSuchToken { kind: &'static str, name: String },
    #[error("{0}")]
    Conflict(String),
    #[error("the current password is wrong (当前密码错误)")]
    BadCredentials,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountsError {
    fn from(e: StoreError) -> AccountsError {
        match e {
            StoreError::Conflict(m) => AccountsError::Conflict(m),
            other => AccountsError::Store(other),
        }
    }
}

/// An account made by [`Accounts::first_start`], with the password to hand out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub username: String,
    pub role: Role,
    pub scope: Option<String>,
    pub password: String,
    pub one_time: bool,
}

#[derive(Clone, Debug)]
pub struct Accounts {
    store: Store,
    clock: Clock,
    policy: SessionPolicy,
}

impl Accounts {
    pub fn new(store: Store, clock: Clock, policy: SessionPolicy) -> Accounts {
        Accounts {
            store,
            clock,
            policy,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Checks a username and password (every attempt is audited) and starts a session: the
    /// actor and the token for its cookie.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<(Actor, String), LoginError> {
        let username = username.trim();
        if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
            return Err(LoginError::Invalid(format!(
                "username must have 1 to {MAX_USERNAME_CHARS} characters"
            )));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(LoginError::Invalid(format!(
                "password must be at most {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        let now = self.clock.now();
        let attempt = Who {
            actor: format!("user:{username}"),
            role: None,
            address: address.to_string(),
        };
        let since = now - self.policy.failure_window;
        let failed = self.store.failed_logins(username, address, since).await?;
        let blocked_until = [
            (failed.by_user, failed.by_user_oldest),
            (failed.by_address, failed.by_address_oldest),
        ]
        .into_iter()
        .filter(|(n, _)| *n >= self.policy.max_failures)
        .filter_map(|(_, oldest)| oldest.map(|t| t + self.policy.failure_window))
        .max();
        if let Some(until) = blocked_until {
            let retry_after_s = (until - now).num_seconds().max(1) as u64;
            self.audit(&attempt, "login_throttled", username, "")
                .await?;
            return Err(LoginError::Throttled { retry_after_s });
        }

        let user = self.store.user_by_name(username).await?;
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let given = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify_password(&stored, &given))
            .await
            .unwrap_or(false);
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            other => {
                let why = match other {
                    None => "no such user",
                    Some(u) if u.disabled => "user disabled",
                    Some(_) => "wrong password",
                };
                let detail = serde_json::json!({ "reason": why }).to_string();
                self.audit(&attempt, "login_failed", username, &detail)
                    .await?;
                return Err(LoginError::BadCredentials);
            }
        };
        let (token, hash) = new_token();
        let expires_at = now + self.policy.absolute;
        let actor = user_actor(&user, address, expires_at);
        self.store
            .create_session(&hash, user.id, expires_at, &actor.who(), now)
            .await?;
        Ok((actor, token))
    }

    /// The user behind a session token, if the session is still valid; ends it (and says
    /// nothing) if it expired or the user was disabled.
    pub async fn session_actor(
        &self,
        token: &str,
        address: &str,
    ) -> Result<Option<Actor>, StoreError> {
        let hash = hash_token(token);
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let idle_end = session.last_seen_at + self.policy.idle;
        if session.user.disabled || now >= session.expires_at || now >= idle_end {
            let who = Who {
                actor: format!("user:{}", session.user.username),
                role: Some(session.user.role),
                address: address.to_string(),
            };
            self.store
                .end_session(&hash, "session.expired", Some(&who), now)
                .await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= self.policy.touch_every {
            self.store.touch_session(&hash, now).await?;
        }
        Ok(Some(user_actor(&session.user, address, session.expires_at)))
    }

    /// The screen or API client behind a token, if it is live.
    pub async fn token_actor(
        &self,
        kind: TokenKind,
        token: &str,
        address: &str,
    ) -> Result<Option<Actor>, StoreError> {
        let Some(row) = self.store.token(kind, &hash_token(token)).await? else {
            return Ok(None);
        };
        Ok(Some(token_actor(&row, address)))
    }

    /// Ends the session of `token` (a logout).
    pub async fn logout(&self, actor: &Actor, token: &str) -> Result<(), StoreError> {
        self.store
            .end_session(
                &hash_token(token),
                "logout",
                Some(&actor.who()),
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// The logged-in user sets a new password: every session of the user ends, and a fresh
    /// one is started for the caller (its token is returned).
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> Result<String, AccountsError> {
        let ActorKind::User { id } = actor.kind else {
            return Err(AccountsError::Invalid(
                "only a user's own login can change its password".into(),
            ));
        };
        let user = self
            .store
            .user_by_name(&actor.name)
            .await?
            .filter(|u| u.id == id)
            .ok_or_else(|| AccountsError::NoSuchUser(actor.name.clone()))?;
        let stored = user.password_hash.clone();
        let given = current.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&stored, &given))
            .await
            .unwrap_or(false);
        if !ok {
            self.audit(&actor.who(), "password_change_failed", &actor.name, "")
                .await?;
            return Err(AccountsError::BadCredentials);
        }
        check_new_password(&user.username, new)?;
        if new == current {
            return Err(AccountsError::Invalid(
                "the new password must differ from the current one (新密码不能与当前密码相同)"
                    .into(),
            ));
        }
        let hash = hash_blocking(new).await?;
        let now = self.clock.now();
        let change = UserChange {
            password_hash: Some(hash),
            must_change: Some(false),
            revoke_sessions: true,
            ..UserChange::default()
        };
        self.store
            .update_user(
                &user.username,
                &change,
                "password.changed",
                &actor.who(),
                now,
            )
            .await?;
        let (token, token_hash) = new_token();
        self.store
            .create_session(
                &token_hash,
                user.id,
                now + self.policy.absolute,
                &actor.who(),
                now,
            )
            .await?;
        Ok(token)
    }

    /// Adds an account. `scope` must name a jurisdiction of the role's level (street, community,
    /// grid) or, for a department operator, a department; district-wide roles take none.
    pub async fn add_user(
        &self,
        by: &Actor,
        username: &str,
        role: Role,
        scope: Option<&str>,
        password: &str,
        must_change: bool,
    ) -> Result<UserRow, AccountsError> {
        let username = check_name(username)?;
        if matches!(role, Role::Screen | Role::ApiClient) {
            return Err(AccountsError::Invalid(format!(
                "{} is not an account role: use `onegrid screen add` or `onegrid apikey add`",
                role.as_str()
            )));
        }
        check_new_password(&username, password)?;
        let scope = self.check_scope(role, scope).await?;
        let password_hash = hash_blocking(password).await?;
        let user = NewUser {
            username,
            role,
            scope,
            password_hash,
            must_change,
        };
        Ok(self
            .store
            .add_user(&user, &by.who(), self.clock.now())
            .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>, AccountsError> {
        Ok(self.store.list_users().await?)
    }

    /// Disables (ending every session at once) or enables an account.
    pub async fn set_disabled(
        &self,
        by: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<UserRow, AccountsError> {
        let change = UserChange {
            disabled: Some(disabled),
            revoke_sessions: disabled,
            ..UserChange::default()
        };
        let action = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        self.store
            .update_user(username, &change, action, &by.who(), self.clock.now())
            .await?
            .ok_or_else(|| AccountsError::NoSuchUser(username.to_string()))
    }

    /// Sets a password an administrator hands over; every session of the user ends, and the
    /// user must choose a new password at the next login.
    pub async fn reset_password(
        &self,
        by: &Actor,
        username: &str,
        password: &str,
    ) -> Result<UserRow, AccountsError> {
        check_new_password(username, password)?;
        let change = UserChange {
            password_hash: Some(hash_blocking(password).await?),
            must_change: Some(true),
            revoke_sessions: true,
            ..UserChange::default()
        };
        self.store
            .update_user(
                username,
                &change,
                "user.password_reset",
                &by.who(),
                self.clock.now(),
            )
            .await?
            .ok_or_else(|| AccountsError::NoSuchUser(username.to_string()))
    }

    /// Gives an account another role and scope; its sessions end, so the next request is
    /// answered under the new ones from a fresh login.
    pub async fn grant(
        &self,
        by: &Actor,
        username: &str,
        role: Role,
        scope: Option<&str>,
    ) -> Result<UserRow, AccountsError> {
        if matches!(role, Role::Screen | Role::ApiClient) {
            return Err(AccountsError::Invalid(format!(
                "{} is not an account role",
                role.as_str()
            )));
        }
        let scope = self.check_scope(role, scope).await?;
        let change = UserChange {
            role: Some(role),
            scope: Some(scope),
            revoke_sessions: true,
            ..UserChange::default()
        };
        self.store
            .update_user(
                username,
                &change,
                "user.granted",
                &by.who(),
                self.clock.now(),
            )
            .await?
            .ok_or_else(|| AccountsError::NoSuchUser(username.to_string()))
    }

    /// A new wall screen or API key: the stored row and the token (shown once, never stored).
    pub async fn add_token(
        &self,
        by: &Actor,
        kind: TokenKind,
        name: &str,
        scope: Option<&str>,
    ) -> Result<(TokenRow, String), AccountsError> {
        let name = check_name(name)?;
        let scope = match (kind, scope) {
            (TokenKind::Screen, Some(_)) => {
                return Err(AccountsError::Scope(
                    "a screen shows the whole district; it takes no scope".into(),
                ))
            }
            (TokenKind::ApiClient, Some(code)) => Some(self.check_any_jurisdiction(code).await?),
            (_, None) => None,
        };
        let (token, hash) = new_token();
        let row = self
            .store
            .add_token(
                kind,
                &name,
                scope.as_deref(),
                &hash,
                &by.who(),
                self.clock.now(),
            )
            .await?;
        Ok((row, token))
    }

    pub async fn list_tokens(&self, kind: TokenKind) -> Result<Vec<TokenRow>, AccountsError> {
        Ok(self.store.list_tokens(kind).await?)
    }

    pub async fn revoke_token(
        &self,
        by: &Actor,
        kind: TokenKind,
        name: &str,
    ) -> Result<(), AccountsError> {
        if self
            .store
            .revoke_token(kind, name, &by.who(), self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AccountsError::NoSuchToken {
                kind: kind.as_str(),
                name: name.to_string(),
            })
        }
    }

    /// On a data dir without accounts: creates `admin` with a random one-time password and,
    /// when `demo` is set, one demo account per role (scoped to the first street, community,
    /// grid and department of the district). Returns them with their passwords, to be shown
    /// once; nothing is created (and nothing returned) when accounts exist.
    pub async fn first_start(&self, demo: bool) -> Result<Vec<CreatedUser>, AccountsError> {
        if self.store.user_count().await? > 0 {
            return Ok(Vec::new());
        }
        let system = Actor::system();
        let mut created = Vec::new();
        let password = generate_password();
        self.add_user(&system, "admin", Role::Admin, None, &password, true)
            .await?;
        created.push(CreatedUser {
            username: "admin".into(),
            role: Role::Admin,
            scope: None,
            password,
            one_time: true,
        });
        if !demo {
            return Ok(created);
        }
        let jurisdictions = self.store.load_jurisdictions().await?;
        let first_at = |level: Level, parent: Option<&str>| {
            let mut js: Vec<_> = jurisdictions
                .iter()
                .filter(|j| j.level == level)
                .filter(|j| parent.is_none_or(|p| j.parent.as_deref() == Some(p)))
                .collect();
            js.sort_by(|a, b| a.code.cmp(&b.code));
            js.first().map(|j| j.code.clone())
        };
        let street = first_at(Level::Street, None);
        let community = first_at(Level::Community, street.as_deref());
        let grid = first_at(Level::Grid, community.as_deref());
        let department = self
            .store
            .load_departments()
            .await?
            .into_iter()
            .map(|d| d.code)
            .next();
        let demo_users = [
            (Role::DutyOfficer, None),
            (Role::StreetOfficer, street),
            (Role::CommunityWorker, community),
            (Role::GridWorker, grid),
            (Role::DepartmentOperator, department),
        ];
        for (role, scope) in demo_users {
            if (role.scope_level().is_some() || role == Role::DepartmentOperator) && scope.is_none()
            {
                // The district has no jurisdiction (or department) of that kind.
                continue;
            }
            let password = generate_password();
            self.add_user(
                &system,
                role.as_str(),
                role,
                scope.as_deref(),
                &password,
                false,
            )
            .await?;
            created.push(CreatedUser {
                username: role.as_str().to_string(),
                role,
                scope,
                password,
                one_time: false,
            });
        }
        Ok(created)
    }

    async fn check_scope(
        &self,
        role: Role,
        scope: Option<&str>,
    ) -> Result<Option<String>, AccountsError> {
        let scope = scope.map(str::trim).filter(|s| !s.is_empty());
        match (role, scope) {
            (Role::Admin | Role::DutyOfficer, None) => Ok(None),
            (Role::Admin | Role::DutyOfficer, Some(_)) => Err(AccountsError::Scope(format!(
                "{} sees the whole district; it takes no --scope",
                role.as_str()
            ))),
            (Role::DepartmentOperator, Some(code)) => {
                if self.store.department_exists(code).await? {
                    Ok(Some(code.to_string()))
                } else {
                    Err(AccountsError::Scope(format!(
                        "no department {code:?}; GET /api/v1/departments lists them"
                    )))
                }
            }
            (_, Some(code)) => {
                let want = role.scope_level();
                match self.store.jurisdiction_level(code).await? {
                    Some(level) if Some(level) == want => Ok(Some(code.to_string())),
                    Some(level) => Err(AccountsError::Scope(format!(
                        "{code} is a {} but a {} is bound to a {}",
                        level.as_str(),
                        role.as_str(),
                        want.map_or("department", |l| l.as_str())
                    ))),
                    None => Err(AccountsError::Scope(format!(
                        "no jurisdiction {code:?} in this district"
                    ))),
                }
            }
            (_, None) => Err(AccountsError::Scope(format!(
                "a {} needs --scope: the code of its {}",
                role.as_str(),
                role.scope_level().map_or("department", |l| l.as_str())
            ))),
        }
    }

    async fn check_any_jurisdiction(&self, code: &str) -> Result<String, AccountsError> {
        let code = code.trim();
        match self.store.jurisdiction_level(code).await? {
            Some(_) => Ok(code.to_string()),
            None => Err(AccountsError::Scope(format!(
                "no jurisdiction {code:?} in this district"
            ))),
        }
    }

    async fn audit(
        &self,
        who: &Who,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.store
            .record_audit(&AuditRecord {
                at: self.clock.now(),
                who: who.clone(),
                action: action.to_string(),
                target: target.to_string(),
                detail: detail.to_string(),
                seq: None,
            })
            .await
    }
}

fn user_actor(user: &UserRow, address: &str, expires_at: chrono::DateTime<chrono::Utc>) -> Actor {
    Actor {
        kind: ActorKind::User { id: user.id },
        name: user.username.clone(),
        role: user.role,
        scope: Scope::of(user.role, user.scope.as_deref()),
        address: address.to_string(),
        must_change_password: user.must_change,
        expires_at: Some(expires_at),
    }
}

fn token_actor(row: &TokenRow, address: &str) -> Actor {
    let (kind, role) = match row.kind {
        TokenKind::Screen => (ActorKind::Screen { id: row.id }, Role::Screen),
        TokenKind::ApiClient => (ActorKind::ApiClient { id: row.id }, Role::ApiClient),
    };
    Actor {
        kind,
        name: row.name.clone(),
        role,
        scope: Scope::of(role, row.scope.as_deref()),
        address: address.to_string(),
        must_change_password: false,
        expires_at: None,
    }
}

/// A name for a user, screen or API client: 1–64 characters, no spaces or control characters.
fn check_name(name: &str) -> Result<String, AccountsError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_USERNAME_CHARS {
        return Err(AccountsError::Invalid(format!(
            "a name must have 1 to {MAX_USERNAME_CHARS} characters"
        )));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ':')
    {
        return Err(AccountsError::Invalid(format!(
            "{name:?}: a name may not contain spaces, control characters or ':'"
        )));
    }
    Ok(name.to_string())
}

async fn hash_blocking(password: &str) -> Result<String, AccountsError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountsError::Invalid(e.to_string()))?
        .map_err(AccountsError::Invalid)
}

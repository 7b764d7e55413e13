//! The store's operations for accounts, sessions, tokens and the audit trail. Every write that
//! changes an account records its audit row in the same transaction.

use chrono::{DateTime, Utc};
use onegrid_app::wire::{AuditEntry, Level, Role};

use super::{Result, Store};

/// Who a write is recorded for: the actor's label, role and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub actor: String,
    pub role: Option<Role>,
    pub address: String,
}

impl Who {
    pub fn system() -> Who {
        Who {
            actor: "system:onegrid".to_string(),
            role: None,
            address: "local".to_string(),
        }
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Option<String>,
    pub password_hash: String,
    pub must_change: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub scope: Option<String>,
    pub password_hash: String,
    pub must_change: bool,
}

/// What [`Store::update_user`] changes (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    /// `Some(None)` clears the scope.
    pub scope: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub must_change: Option<bool>,
    pub disabled: Option<bool>,
    /// End every session of the user in the same transaction.
    pub revoke_sessions: bool,
}

/// A stored login session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: UserRow,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Screen,
    ApiClient,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Screen => "screen",
            TokenKind::ApiClient => "api_client",
        }
    }
}

/// A wall screen's or API client's token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub kind: TokenKind,
    pub name: String,
    pub scope: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An audit row to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub who: Who,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub seq: Option<i64>,
}

/// Filter for [`Store::audit_entries`]; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Exact actor label (`user:zhang`).
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`incident.`).
    pub action: Option<String>,
    pub limit: u32,
    /// Only rows with an id below this (the next page).
    pub before_id: Option<i64>,
}

/// Failed logins in a window, by username and by address: how many, and the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailedLogins {
    pub by_user: i64,
    pub by_user_oldest: Option<DateTime<Utc>>,
    pub by_address: i64,
    pub by_address_oldest: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        backend!(self, s => s.user_count().await)
    }

    /// Adds an account with its audit row; `Err(Conflict)` if the username is taken.
    pub async fn add_user(&self, user: &NewUser, who: &Who, now: DateTime<Utc>) -> Result<UserRow> {
        backend!(self, s => s.add_user(user, who, now).await)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        backend!(self, s => s.user_by_name(username).await)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        backend!(self, s => s.list_users().await)
    }

    /// Changes an account and records `action` in the audit trail, in one transaction;
    /// `None` if there is no such user.
    pub async fn update_user(
        &self,
        username: &str,
        change: &UserChange,
        action: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRow>> {
        backend!(self, s => s.update_user(username, change, action, who, now).await)
    }

    /// Starts a session and records the login, in one transaction.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<()> {
        backend!(self, s => s.create_session(token_hash, user_id, expires_at, who, now).await)
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        backend!(self, s => s.session(token_hash).await)
    }

    pub async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        backend!(self, s => s.touch_session(token_hash, now).await)
    }

    /// Ends a session, recording `action` (`logout`, `session.expired`) unless `who` is `None`.
    pub async fn end_session(
        &self,
        token_hash: &str,
        action: &str,
        who: Option<&Who>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        backend!(self, s => s.end_session(token_hash, action, who, now).await)
    }

    /// Adds a screen or API token with its audit row; `Err(Conflict)` if the name is taken.
    pub async fn add_token(
        &self,
        kind: TokenKind,
        name: &str,
        scope: Option<&str>,
        token_hash: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<TokenRow> {
        backend!(self, s => s.add_token(kind, name, scope, token_hash, who, now).await)
    }

    /// The live (not revoked) token of `kind` with this hash.
    pub async fn token(&self, kind: TokenKind, token_hash: &str) -> Result<Option<TokenRow>> {
        backend!(self, s => s.token(kind, token_hash).await)
    }

    pub async fn list_tokens(&self, kind: TokenKind) -> Result<Vec<TokenRow>> {
        backend!(self, s => s.list_tokens(kind).await)
    }

    /// Revokes the named token with its audit row; false if there is no live one.
    pub async fn revoke_token(
        &self,
        kind: TokenKind,
        name: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        backend!(self, s => s.revoke_token(kind, name, who, now).await)
    }

    /// Appends one audit row on its own.
    pub async fn record_audit(&self, record: &AuditRecord) -> Result<()> {
        backend!(self, s => s.record_audit(record).await)
    }

    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        backend!(self, s => s.audit_entries(query).await)
    }

    pub async fn failed_logins(
        &self,
        username: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<FailedLogins> {
        backend!(self, s => s.failed_logins(username, address, since).await)
    }

    /// The level of the jurisdiction with this code, if there is one.
    pub async fn jurisdiction_level(&self, code: &str) -> Result<Option<Level>> {
        backend!(self, s => s.jurisdiction_level(code).await)
    }

    pub async fn department_exists(&self, code: &str) -> Result<bool> {
        backend!(self, s => s.department_exists(code).await)
    }
}

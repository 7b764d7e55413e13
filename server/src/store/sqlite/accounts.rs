//! SQLite: users, sessions, screen and API tokens, and the audit trail.

use chrono::{DateTime, Utc};
use onegrid_app::wire::{AuditEntry, Level, Role};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::SqliteStore;
use crate::store::accounts::{
    AuditQuery, AuditRecord, FailedLogins, NewUser, SessionRow, TokenKind, TokenRow, UserChange,
    UserRow, Who,
};
use crate::store::codec::{time_from_text, time_to_text};
use crate::store::{Result, StoreError};

const USER_COLUMNS: &str =
    "u.id, u.username, u.role, u.scope, u.password_hash, u.must_change, u.disabled, u.created_at, u.updated_at";

impl SqliteStore {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.reader)
            .await?)
    }

    pub async fn add_user(&self, user: &NewUser, who: &Who, now: DateTime<Utc>) -> Result<UserRow> {
        let mut tx = self.write().await?;
        let at = time_to_text(now);
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
            .bind(&user.username)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a user named {:?} exists already",
                user.username
            )));
        }
        sqlx::query(
            "INSERT INTO users (username, role, scope, password_hash, must_change, disabled,
                created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(&user.username)
        .bind(user.role.as_str())
        .bind(&user.scope)
        .bind(&user.password_hash)
        .bind(user.must_change)
        .bind(&at)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "role": user.role.as_str(),
            "scope": user.scope,
            "one_time_password": user.must_change,
        });
        audit_in(
            &mut tx,
            now,
            who,
            "user.added",
            &user.username,
            &detail.to_string(),
            None,
        )
        .await?;
        let row = user_in(&mut tx, &user.username)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the new user vanished".into()))?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn update_user(
        &self,
        username: &str,
        change: &UserChange,
        action: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRow>> {
        let mut tx = self.write().await?;
        let Some(user) = user_in(&mut tx, username).await? else {
            return Ok(None);
        };
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE users SET updated_at = ");
        q.push_bind(time_to_text(now));
        if let Some(role) = change.role {
            q.push(", role = ").push_bind(role.as_str());
        }
        if let Some(scope) = &change.scope {
            q.push(", scope = ").push_bind(scope.clone());
        }
        if let Some(hash) = &change.password_hash {
            q.push(", password_hash = ").push_bind(hash.clone());
        }
        if let Some(must) = change.must_change {
            q.push(", must_change = ").push_bind(must);
        }
        if let Some(disabled) = change.disabled {
            q.push(", disabled = ").push_bind(disabled);
        }
        q.push(" WHERE id = ").push_bind(user.id);
        q.build().execute(&mut *tx).await?;
        let mut ended = 0;
        if change.revoke_sessions {
            ended = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(user.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        let detail = serde_json::json!({
            "role": change.role.map(|r| r.as_str()),
            "scope": change.scope,
            "password_changed": change.password_hash.is_some(),
            "disabled": change.disabled,
            "sessions_ended": ended,
        });
        audit_in(
            &mut tx,
            now,
            who,
            action,
            username,
            &detail.to_string(),
            None,
        )
        .await?;
        let row = user_in(&mut tx, username).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let at = time_to_text(now);
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, address)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(&at)
        .bind(&at)
        .bind(time_to_text(expires_at))
        .bind(&who.address)
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, now, who, "login", &who.actor, "", None).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.created_at AS s_created, s.last_seen_at, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user: user_from_row(&r)?,
                created_at: time_from_text(r.try_get("s_created")?)?,
                last_seen_at: time_from_text(r.try_get("last_seen_at")?)?,
                expires_at: time_from_text(r.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?")
            .bind(time_to_text(now))
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn end_session(
        &self,
        token_hash: &str,
        action: &str,
        who: Option<&Who>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if let Some(who) = who {
            audit_in(&mut tx, now, who, action, &who.actor, "", None).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    pub async fn add_token(
        &self,
        kind: TokenKind,
        name: &str,
        scope: Option<&str>,
        token_hash: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<TokenRow> {
        let mut tx = self.write().await?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM tokens WHERE kind = ? AND name = ?")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a {} named {name:?} exists already (names are never reused, even revoked ones)",
                kind.as_str()
            )));
        }
        sqlx::query(
            "INSERT INTO tokens (kind, name, scope, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(kind.as_str())
        .bind(name)
        .bind(scope)
        .bind(token_hash)
        .bind(time_to_text(now))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "scope": scope });
        let action = format!("{}.added", kind.as_str());
        audit_in(&mut tx, now, who, &action, name, &detail.to_string(), None).await?;
        let row = sqlx::query(
            "SELECT id, kind, name, scope, created_at, revoked_at FROM tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_one(&mut *tx)
        .await?;
        let token = token_from_row(&row)?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn token(&self, kind: TokenKind, token_hash: &str) -> Result<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT id, kind, name, scope, created_at, revoked_at FROM tokens
             WHERE token_hash = ? AND kind = ? AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub async fn list_tokens(&self, kind: TokenKind) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, name, scope, created_at, revoked_at FROM tokens
             WHERE kind = ? ORDER BY name",
        )
        .bind(kind.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    pub async fn revoke_token(
        &self,
        kind: TokenKind,
        name: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let revoked = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE kind = ? AND name = ? AND revoked_at IS NULL",
        )
        .bind(time_to_text(now))
        .bind(kind.as_str())
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if revoked {
            let action = format!("{}.revoked", kind.as_str());
            audit_in(&mut tx, now, who, &action, name, "", None).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    pub async fn record_audit(&self, r: &AuditRecord) -> Result<()> {
        let mut tx = self.write().await?;
        audit_in(
            &mut tx, r.at, &r.who, &r.action, &r.target, &r.detail, r.seq,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, at, actor, role, address, action, target, detail, seq FROM audit WHERE 1 = 1",
        );
        if let Some(from) = query.from {
            q.push(" AND at >= ").push_bind(time_to_text(from));
        }
        if let Some(to) = query.to {
            q.push(" AND at < ").push_bind(time_to_text(to));
        }
        if let Some(actor) = &query.actor {
            q.push(" AND actor = ").push_bind(actor.clone());
        }
        match query.action.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                q.push(" AND substr(action, 1, ")
                    .push_bind(prefix.chars().count() as i64)
                    .push(") = ")
                    .push_bind(prefix.to_string());
            }
            Some(action) => {
                q.push(" AND action = ").push_bind(action.to_string());
            }
            None => {}
        }
        if let Some(before) = query.before_id {
            q.push(" AND id < ").push_bind(before);
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows = q.build().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| {
                let role: Option<String> = r.try_get("role")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: time_from_text(r.try_get("at")?)?,
                    actor: r.try_get("actor")?,
                    role: role.as_deref().and_then(Role::parse),
                    address: r.try_get("address")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                    seq: r.try_get("seq")?,
                })
            })
            .collect()
    }

    pub async fn failed_logins(
        &self,
        username: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<FailedLogins> {
        let row = sqlx::query(
            "SELECT
                (SELECT count(*) FROM audit WHERE action = 'login_failed' AND at >= ?1 AND target = ?2) AS u,
                (SELECT min(at) FROM audit WHERE action = 'login_failed' AND at >= ?1 AND target = ?2) AS u_oldest,
                (SELECT count(*) FROM audit WHERE action = 'login_failed' AND at >= ?1 AND address = ?3) AS a,
                (SELECT min(at) FROM audit WHERE action = 'login_failed' AND at >= ?1 AND address = ?3) AS a_oldest",
        )
        .bind(time_to_text(since))
        .bind(username)
        .bind(address)
        .fetch_one(&self.reader)
        .await?;
        let time = |name: &str| -> Result<Option<DateTime<Utc>>> {
            let t: Option<String> = row.try_get(name)?;
            t.as_deref().map(time_from_text).transpose()
        };
        Ok(FailedLogins {
            by_user: row.try_get("u")?,
            by_user_oldest: time("u_oldest")?,
            by_address: row.try_get("a")?,
            by_address_oldest: time("a_oldest")?,
        })
    }

    pub async fn jurisdiction_level(&self, code: &str) -> Result<Option<Level>> {
        let level: Option<String> =
            sqlx::query_scalar("SELECT level FROM jurisdictions WHERE code = ?")
                .bind(code)
                .fetch_optional(&self.reader)
                .await?;
        Ok(level.as_deref().and_then(Level::parse))
    }

    pub async fn department_exists(&self, code: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM departments WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.reader)
            .await?;
        Ok(found.is_some())
    }
}

/// Appends an audit row inside `tx`.
pub(super) async fn audit_in(
    tx: &mut Transaction<'_, Sqlite>,
    at: DateTime<Utc>,
    who: &Who,
    action: &str,
    target: &str,
    detail: &str,
    seq: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor, role, address, action, target, detail, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(time_to_text(at))
    .bind(&who.actor)
    .bind(who.role.map(|r| r.as_str()))
    .bind(&who.address)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn user_in(tx: &mut Transaction<'_, Sqlite>, username: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?"
    ))
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) fn user_from_row(r: &SqliteRow) -> Result<UserRow> {
    let role: String = r.try_get("role")?;
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        scope: r.try_get("scope")?,
        password_hash: r.try_get("password_hash")?,
        must_change: r.try_get("must_change")?,
        disabled: r.try_get("disabled")?,
        created_at: time_from_text(r.try_get("created_at")?)?,
        updated_at: time_from_text(r.try_get("updated_at")?)?,
    })
}

pub(super) fn token_from_row(r: &SqliteRow) -> Result<TokenRow> {
    let kind: String = r.try_get("kind")?;
    let revoked: Option<String> = r.try_get("revoked_at")?;
    Ok(TokenRow {
        id: r.try_get("id")?,
        kind: match kind.as_str() {
            "screen" => TokenKind::Screen,
            "api_client" => TokenKind::ApiClient,
            other => return Err(StoreError::Corrupt(format!("token kind {other:?}"))),
        },
        name: r.try_get("name")?,
        scope: r.try_get("scope")?,
        created_at: time_from_text(r.try_get("created_at")?)?,
        revoked_at: revoked.as_deref().map(time_from_text).transpose()?,
    })
}

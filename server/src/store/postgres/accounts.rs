//! PostgreSQL: users, sessions, screen and API tokens, and the audit trail.

use chrono::{DateTime, Utc};
use onegrid_app::wire::{AuditEntry, Level, Role};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use super::{conflict_on, PgStore};
use crate::store::accounts::{
    AuditQuery, AuditRecord, FailedLogins, NewUser, SessionRow, TokenKind, TokenRow, UserChange,
    UserRow, Who,
};
use crate::store::{Result, StoreError};

const USER_COLUMNS: &str =
    "u.id, u.username, u.role, u.scope, u.password_hash, u.must_change, u.disabled, u.created_at, u.updated_at";

const TOKEN_COLUMNS: &str = "id, kind, name, scope, created_at, revoked_at";

impl PgStore {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn add_user(&self, user: &NewUser, who: &Who, now: DateTime<Utc>) -> Result<UserRow> {
        let taken_message = || format!("a user named {:?} exists already", user.username);
        let mut tx = self.write().await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&user.username)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(taken_message()));
        }
        // Another writer may take the name between the check and the insert: its commit makes
        // this insert fail on the unique index, which is the same conflict.
        sqlx::query(
            "INSERT INTO users (username, role, scope, password_hash, must_change, disabled,
                created_at, updated_at) VALUES ($1, $2, $3, $4, $5, false, $6, $6)",
        )
        .bind(&user.username)
        .bind(user.role.as_str())
        .bind(&user.scope)
        .bind(&user.password_hash)
        .bind(user.must_change)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on(e, "users_username_key", taken_message()))?;
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
        let mut conn = self.pool.acquire().await?;
        user_in(&mut conn, username).await
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"
        ))
        .fetch_all(&self.pool)
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
        let mut q = QueryBuilder::<Postgres>::new("UPDATE users SET updated_at = ");
        q.push_bind(now);
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
            ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
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
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, address)
             VALUES ($1, $2, $3, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
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
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user: user_from_row(&r)?,
                created_at: r.try_get("s_created")?,
                last_seen_at: r.try_get("last_seen_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&self.pool)
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
        let ended = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
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
        let taken_message = || {
            format!(
                "a {} named {name:?} exists already (names are never reused, even revoked ones)",
                kind.as_str()
            )
        };
        let mut tx = self.write().await?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM tokens WHERE kind = $1 AND name = $2")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(taken_message()));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO tokens (kind, name, scope, token_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(kind.as_str())
        .bind(name)
        .bind(scope)
        .bind(token_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_on(e, "tokens_kind_name_key", taken_message()))?;
        let token = token_from_row(&row)?;
        let detail = serde_json::json!({ "scope": scope });
        let action = format!("{}.added", kind.as_str());
        audit_in(&mut tx, now, who, &action, name, &detail.to_string(), None).await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn token(&self, kind: TokenKind, token_hash: &str) -> Result<Option<TokenRow>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens
             WHERE token_hash = $1 AND kind = $2 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub async fn list_tokens(&self, kind: TokenKind) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE kind = $1 ORDER BY name"
        ))
        .bind(kind.as_str())
        .fetch_all(&self.pool)
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
            "UPDATE tokens SET revoked_at = $1
             WHERE kind = $2 AND name = $3 AND revoked_at IS NULL",
        )
        .bind(now)
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
        let mut conn = self.pool.acquire().await?;
        // One statement: its own transaction.
        audit_in(
            &mut conn, r.at, &r.who, &r.action, &r.target, &r.detail, r.seq,
        )
        .await
    }

    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, at, actor, role, address, action, target, detail, seq FROM audit WHERE 1 = 1",
        );
        if let Some(from) = query.from {
            q.push(" AND at >= ").push_bind(from);
        }
        if let Some(to) = query.to {
            q.push(" AND at < ").push_bind(to);
        }
        if let Some(actor) = &query.actor {
            q.push(" AND actor = ").push_bind(actor.clone());
        }
        match query.action.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                q.push(" AND starts_with(action, ")
                    .push_bind(prefix.to_string())
                    .push(")");
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
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
    }

    pub async fn failed_logins(
        &self,
        username: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<FailedLogins> {
        let row = sqlx::query(
            "SELECT
                (SELECT count(*) FROM audit WHERE action = 'login_failed' AND at >= $1 AND target = $2) AS u,
                (SELECT min(at) FROM audit WHERE action = 'login_failed' AND at >= $1 AND target = $2) AS u_oldest,
                (SELECT count(*) FROM audit WHERE action = 'login_failed' AND at >= $1 AND address = $3) AS a,
                (SELECT min(at) FROM audit WHERE action = 'login_failed' AND at >= $1 AND address = $3) AS a_oldest",
        )
        .bind(since)
        .bind(username)
        .bind(address)
        .fetch_one(&self.pool)
        .await?;
        Ok(FailedLogins {
            by_user: row.try_get("u")?,
            by_user_oldest: row.try_get("u_oldest")?,
            by_address: row.try_get("a")?,
            by_address_oldest: row.try_get("a_oldest")?,
        })
    }

    pub async fn jurisdiction_level(&self, code: &str) -> Result<Option<Level>> {
        let level: Option<String> =
            sqlx::query_scalar("SELECT level FROM jurisdictions WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?;
        Ok(level.as_deref().and_then(Level::parse))
    }

    pub async fn department_exists(&self, code: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM departments WHERE code = $1)")
                .bind(code)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// Appends an audit row on `conn` (inside the caller's transaction, when it is one).
pub(super) async fn audit_in(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    who: &Who,
    action: &str,
    target: &str,
    detail: &str,
    seq: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor, role, address, action, target, detail, seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(&who.actor)
    .bind(who.role.map(|r| r.as_str()))
    .bind(&who.address)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn user_in(conn: &mut PgConnection, username: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"
    ))
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) fn user_from_row(r: &PgRow) -> Result<UserRow> {
    let role: String = r.try_get("role")?;
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        scope: r.try_get("scope")?,
        password_hash: r.try_get("password_hash")?,
        must_change: r.try_get("must_change")?,
        disabled: r.try_get("disabled")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(super) fn token_from_row(r: &PgRow) -> Result<TokenRow> {
    let kind: String = r.try_get("kind")?;
    Ok(TokenRow {
        id: r.try_get("id")?,
        kind: match kind.as_str() {
            "screen" => TokenKind::Screen,
            "api_client" => TokenKind::ApiClient,
            other => return Err(StoreError::Corrupt(format!("token kind {other:?}"))),
        },
        name: r.try_get("name")?,
        scope: r.try_get("scope")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub(super) fn audit_from_row(r: &PgRow) -> Result<AuditEntry> {
    let role: Option<String> = r.try_get("role")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        role: role.as_deref().and_then(Role::parse),
        address: r.try_get("address")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
        seq: r.try_get("seq")?,
    })
}

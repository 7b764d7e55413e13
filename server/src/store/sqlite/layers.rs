//! The district's layers in SQLite: departments, jurisdictions (GeoJSON text) and assets; saving a
//! whole district, replacing what an import brings, and loading them back.

use chrono::Utc;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::super::codec::{geometry_from_text, geometry_to_text};
use super::super::{Result, StoreError};
use super::accounts::audit_in;
use super::{append_event, SqliteStore};
use crate::district::{Asset, AssetLayer, Department, District, Jurisdiction, Level, Props};
use crate::store::accounts::Who;

/// Rows per multi-row INSERT when saving layers (7 columns × 1000 stays far below SQLite's
/// limit on bound variables).
const BATCH: usize = 1000;

impl SqliteStore {
    pub async fn has_district(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jurisdictions")
            .fetch_one(&self.reader)
            .await?;
        Ok(n > 0)
    }

    pub async fn district_origin(&self) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'district_origin'")
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    pub async fn save_district(
        &self,
        district: &District,
        origin: &str,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        let total =
            district.departments.len() + district.jurisdictions.len() + district.assets.len();
        let mut done = 0;
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM assets").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM jurisdictions")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM departments")
            .execute(&mut *tx)
            .await?;
        let mut step = |n: usize| {
            done += n;
            progress(done, total);
        };

        insert_departments(&mut tx, &district.departments, &mut step).await?;
        insert_jurisdictions(&mut tx, &district.jurisdictions, &mut step).await?;
        insert_assets(&mut tx, &district.assets, &mut step).await?;

        let payload = serde_json::json!({
            "origin": origin,
            "departments": district.departments.len(),
            "jurisdictions": district.jurisdictions.len(),
            "assets": district.assets.len(),
        });
        let now = Utc::now();
        let seq = append_event(
            &mut tx,
            "district.loaded",
            None,
            &payload.to_string(),
            &who.actor,
            now,
        )
        .await?;
        audit_in(
            &mut tx,
            now,
            who,
            "district.loaded",
            origin,
            &payload.to_string(),
            Some(seq),
        )
        .await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('district_origin', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(origin)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn import(
        &self,
        layers: &[AssetLayer],
        assets: &[Asset],
        jurisdictions: Option<&[Jurisdiction]>,
        origin: &str,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        let payload = serde_json::json!({
            "origin": origin,
            "layers": layers.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            "assets": assets.len(),
            "jurisdictions": jurisdictions.map(<[Jurisdiction]>::len),
        });
        self.replace_layers(
            "layers.imported",
            &payload,
            layers,
            assets,
            jurisdictions,
            who,
            progress,
        )
        .await
    }

    pub async fn save_generated_grids(
        &self,
        jurisdictions: &[Jurisdiction],
        payload: &serde_json::Value,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        self.replace_layers(
            "grids.generated",
            payload,
            &[],
            &[],
            Some(jurisdictions),
            who,
            progress,
        )
        .await
    }

    /// Replaces `layers` with `assets` and, if given, every jurisdiction, with one event of
    /// `kind` and its audit row, in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn replace_layers(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        layers: &[AssetLayer],
        assets: &[Asset],
        jurisdictions: Option<&[Jurisdiction]>,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        let total = assets.len() + jurisdictions.map_or(0, <[Jurisdiction]>::len);
        let mut done = 0;
        let mut step = |n: usize| {
            done += n;
            progress(done, total);
        };
        let mut tx = self.write().await?;
        for layer in layers {
            sqlx::query("DELETE FROM assets WHERE layer = ?")
                .bind(layer.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(js) = jurisdictions {
            sqlx::query("DELETE FROM jurisdictions")
                .execute(&mut *tx)
                .await?;
            insert_jurisdictions(&mut tx, js, &mut step).await?;
        }
        insert_assets(&mut tx, assets, &mut step).await?;
        let now = Utc::now();
        let text = payload.to_string();
        let seq = append_event(&mut tx, kind, None, &text, &who.actor, now).await?;
        let origin = payload["origin"].as_str().unwrap_or_default();
        audit_in(&mut tx, now, who, kind, origin, &text, Some(seq)).await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn replace_departments(
        &self,
        departments: &[Department],
        origin: &str,
        who: &Who,
    ) -> Result<i64> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM departments")
            .execute(&mut *tx)
            .await?;
        insert_departments(&mut tx, departments, &mut |_| {}).await?;
        let payload = serde_json::json!({
            "origin": origin,
            "departments": departments.len(),
        });
        let now = Utc::now();
        let seq = append_event(
            &mut tx,
            "departments.imported",
            None,
            &payload.to_string(),
            &who.actor,
            now,
        )
        .await?;
        audit_in(
            &mut tx,
            now,
            who,
            "departments.imported",
            origin,
            &payload.to_string(),
            Some(seq),
        )
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn load_departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query(
            "SELECT code, name_zh, name_en, contact, parent FROM departments ORDER BY code",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    code: r.try_get("code")?,
                    name_zh: r.try_get("name_zh")?,
                    name_en: r.try_get("name_en")?,
                    contact: r.try_get("contact")?,
                    parent: r.try_get("parent")?,
                })
            })
            .collect()
    }

    pub async fn load_jurisdictions(&self) -> Result<Vec<Jurisdiction>> {
        let rows = sqlx::query(
            "SELECT code, level, name, parent, geometry, generated FROM jurisdictions ORDER BY code",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let level: String = r.try_get("level")?;
                let level = Level::parse(&level)
                    .ok_or_else(|| StoreError::Corrupt(format!("jurisdiction level {level:?}")))?;
                let geometry = match geometry_from_text(r.try_get("geometry")?)? {
                    geo::Geometry::MultiPolygon(m) => m,
                    geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "jurisdiction geometry is not polygonal: {other:?}"
                        )))
                    }
                };
                Ok(Jurisdiction {
                    generated: r.try_get("generated")?,
                    level,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    parent: r.try_get("parent")?,
                    geometry,
                })
            })
            .collect()
    }

    pub async fn load_assets(&self, layer: AssetLayer) -> Result<Vec<Asset>> {
        use futures_util::TryStreamExt;
        // Row by row: a million rows held at once would double the memory of loading.
        let mut rows = sqlx::query(
            "SELECT id, name, kind, owner, props, geometry FROM assets WHERE layer = ? ORDER BY id",
        )
        .bind(layer.as_str())
        .fetch(&self.reader);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let props: &str = r.try_get("props")?;
            out.push(Asset {
                layer,
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                owner: r.try_get("owner")?,
                props: Props::from_json(props).map_err(StoreError::Corrupt)?,
                geometry: geometry_from_text(r.try_get("geometry")?)?,
            });
        }
        out.shrink_to_fit();
        Ok(out)
    }
}

/// Inserts jurisdictions, parents before children so the foreign key holds row by row.
pub(super) async fn insert_jurisdictions(
    tx: &mut Transaction<'_, Sqlite>,
    jurisdictions: &[Jurisdiction],
    step: &mut impl FnMut(usize),
) -> Result<()> {
    let mut sorted: Vec<&Jurisdiction> = jurisdictions.iter().collect();
    sorted.sort_by_key(|j| j.level);
    for chunk in sorted.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO jurisdictions (code, level, name, parent, geometry, generated) ",
        );
        q.push_values(chunk, |mut b, j| {
            b.push_bind(&j.code)
                .push_bind(j.level.as_str())
                .push_bind(&j.name)
                .push_bind(&j.parent)
                .push_bind(geometry_to_text(&geo::Geometry::MultiPolygon(
                    j.geometry.clone(),
                )))
                .push_bind(j.generated);
        });
        q.build().execute(&mut **tx).await?;
        step(chunk.len());
    }
    Ok(())
}

/// Inserts assets; a later asset with the same layer and id replaces an earlier one.
pub(super) async fn insert_assets(
    tx: &mut Transaction<'_, Sqlite>,
    assets: &[Asset],
    step: &mut impl FnMut(usize),
) -> Result<()> {
    for chunk in assets.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR REPLACE INTO assets (layer, id, name, kind, owner, props, geometry) ",
        );
        q.push_values(chunk, |mut b, a| {
            b.push_bind(a.layer.as_str())
                .push_bind(&a.id)
                .push_bind(&a.name)
                .push_bind(&a.kind)
                .push_bind(&a.owner)
                .push_bind(a.props.as_json())
                .push_bind(geometry_to_text(&a.geometry));
        });
        q.build().execute(&mut **tx).await?;
        step(chunk.len());
    }
    Ok(())
}

/// Inserts departments.
pub(super) async fn insert_departments(
    tx: &mut Transaction<'_, Sqlite>,
    departments: &[Department],
    step: &mut impl FnMut(usize),
) -> Result<()> {
    for chunk in departments.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO departments (code, name_zh, name_en, contact, parent) ",
        );
        q.push_values(chunk, |mut b, d| {
            b.push_bind(&d.code)
                .push_bind(&d.name_zh)
                .push_bind(&d.name_en)
                .push_bind(&d.contact)
                .push_bind(&d.parent);
        });
        q.build().execute(&mut **tx).await?;
        step(chunk.len());
    }
    Ok(())
}

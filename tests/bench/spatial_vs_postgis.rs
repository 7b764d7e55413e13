//! `spatial-vs-postgis`: onegrid's spatial engine side by side with PostGIS, same data, one run.
//!
//! 1. Generates a district of `--features` assets (default 1,000,000) with the demo generator
//!    at building density 3, keeping an evenly spread subset of the buildings to hit the count.
//! 2. Engine: bulk-loads the R-trees (`AssetIndex::new`, `JurisdictionIndex::new`) `--runs`
//!    times and reports the fastest and the median.
//! 3. PostGIS: loads the same features (COPY as EWKT), a projected copy of every geometry for
//!    distances (UTM 49N, EPSG:32649: planar metres, the fastest correct `ST_DWithin`) and one in
//!    Web Mercator for tiles, each with a GiST index, then `ANALYZE`.
//! 4. `nearby` (`--radius-m`, default 250) at `--queries` random points inside the district:
//!    engine `AssetIndex::nearby` (exact distance, nearest point, sorted) against
//!    `ST_DWithin` + `ST_Distance` ordered by distance; both answers are compared.
//! 5. `locate`: engine `JurisdictionIndex::locate` (the whole chain) against `ST_Contains` on
//!    the jurisdictions; chains compared.
//! 6. Every z14 tile of the district (all four asset layers): engine `tiles::tile` against
//!    `ST_AsMVT`/`ST_AsMVTGeom` on the same tile; feature counts compared.
//! 7. Resident memory: saves the district into a SQLite data dir and starts the real server
//!    (`--server-bin`) on it; reports its RSS once it answers `/healthz`.
//!
//! PostGIS times are taken at the client: a prepared statement over the local Unix socket, as
//! a server would call it, with `jit = off` (JIT only slows queries this short). The round trip
//! of an empty query is reported beside them, to show what the connection alone costs. Run it with
//! `cargo xtask bench-spatial`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use geo::{Coord, Geometry, LineString, Polygon};
use onegrid_server::district::{Asset, AssetLayer, District, Level};
use onegrid_server::spatial::{AssetIndex, JurisdictionIndex, LonLat, Radius};
use onegrid_server::store::Store;
use onegrid_server::tiles;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Row};

const SCHEMA: &str = "onegrid_bench";
/// UTM zone 49N: the district (113.0–113.2° E) lies in zone 49 (108–114° E).
const UTM: i32 = 32649;
const DENSITY: usize = 3;
const TILE_Z: u8 = 14;

#[derive(Parser, Debug)]
#[command(about = "The spatial engine against PostGIS on the same 1M-feature district")]
struct Args {
    /// Assets in the generated district (buildings are thinned evenly to reach it).
    #[arg(long, default_value_t = 1_000_000)]
    features: usize,
    /// Seed of the demo generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// PostgreSQL with PostGIS available (the bench creates the extension and its own schema).
    #[arg(
        long,
        default_value = "postgres://postgres@localhost/test?host=/var/run/postgresql"
    )]
    database_url: String,
    /// Query points for nearby and locate.
    #[arg(long, default_value_t = 2000)]
    queries: usize,
    /// Radius of the nearby query, metres.
    #[arg(long, default_value_t = 250.0)]
    radius_m: f64,
    /// Bulk-load repetitions of the engine.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Reuse the PostGIS tables of an earlier run with the same seed and size.
    #[arg(long)]
    reuse: bool,
    /// The `onegrid` server binary, started on the district to read its resident memory.
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut report = Report::default();

    // 1. The district.
    let started = Instant::now();
    let district = district(args.seed, args.features);
    report.line(format!(
        "district: {} assets ({}), {} jurisdictions, generated in {:.1} s",
        district.assets.len(),
        layer_counts(&district.assets),
        district.jurisdictions.len(),
        started.elapsed().as_secs_f64()
    ));

    // 2. Engine bulk load.
    let mut loads = Vec::new();
    for run in 0..args.runs.max(1) {
        let assets = district.assets.clone();
        let jurisdictions = district.jurisdictions.clone();
        let t = Instant::now();
        let index = AssetIndex::new(assets);
        let j = JurisdictionIndex::new(jurisdictions);
        let took = t.elapsed();
        std::hint::black_box((&index, &j));
        eprintln!(
            "  engine bulk load run {}: {:.3} s",
            run + 1,
            took.as_secs_f64()
        );
        loads.push(took);
        drop((index, j));
    }
    loads.sort();
    let engine_load = loads[0];
    let engine_load_median = loads[loads.len() / 2];

    // 3. PostGIS load.
    let pg = connect(&args.database_url).await?;
    let pg_load = load_postgis(&pg, &district, args.seed, args.reuse).await?;

    let index = AssetIndex::new(district.assets.clone());
    let jurisdictions = JurisdictionIndex::new(district.jurisdictions.clone());

    report.section("bulk load (1M features)");
    report.line(format!(
        "engine R-trees: fastest {} , median {} of {} runs",
        secs(engine_load),
        secs(engine_load_median),
        loads.len()
    ));
    match pg_load {
        Some(t) => report.line(format!(
            "PostGIS COPY + projected columns + GiST indexes + ANALYZE: {}",
            secs(t)
        )),
        None => report.line("PostGIS: reused the tables of an earlier run (--reuse)".into()),
    }

    // What the connection alone costs: the round trip of an empty query.
    let mut trips = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        sqlx::query("SELECT 1").execute(&pg).await?;
        trips.push(t.elapsed());
    }
    let (t50, t99) = percentiles(&trips);
    report.section("PostgreSQL connection");
    report.line(format!(
        "round trip of `SELECT 1` over the Unix socket: p50 {}, p99 {}",
        fmt_d(t50),
        fmt_d(t99)
    ));

    // Query points: uniform in the district's box, kept when inside the district.
    let points = query_points(&jurisdictions, args.queries, args.seed);

    // 4. nearby.
    let radius = Radius::parse(args.radius_m).context("radius")?;
    let nearby = bench_nearby(&pg, &index, &points, radius).await?;
    report.section(&format!(
        "nearby {} m ({} points)",
        args.radius_m,
        points.len()
    ));
    report.compare(&nearby);

    // 5. locate.
    let locate = bench_locate(&pg, &jurisdictions, &points).await?;
    report.section(&format!("locate ({} points)", points.len()));
    report.compare(&locate);

    // 6. z14 tiles.
    let tiles = bench_tiles(&pg, &index, &jurisdictions).await?;
    report.section(&format!(
        "z{TILE_Z} tile, all asset layers ({} tiles)",
        tiles.samples
    ));
    report.compare(&tiles);
    pg.close().await;

    // 7. Resident memory of the real server.
    drop(index);
    drop(jurisdictions);
    report.section("resident memory");
    match &args.server_bin {
        Some(bin) => {
            let (rss, hwm, startup) = server_memory(bin, &district).await?;
            report.line(format!(
                "onegrid serve with {} assets: RSS {:.0} MiB (peak {:.0} MiB) once serving; \
                 loaded and indexed in {}",
                district.assets.len(),
                mib(rss),
                mib(hwm),
                secs(startup)
            ));
        }
        None => report.line("skipped: pass --server-bin target/release/onegrid".into()),
    }

    println!("{}", report.text);
    Ok(())
}

/// The demo district at density 3, with buildings thinned evenly so there are `features`
/// assets in all (fewer if the generator makes fewer).
fn district(seed: u64, features: usize) -> District {
    let mut d = onegrid_server::sim::district_gen::generate_dense(seed, DENSITY);
    let buildings = d
        .assets
        .iter()
        .filter(|a| a.layer == AssetLayer::Buildings)
        .count();
    let others = d.assets.len() - buildings;
    let keep = features.saturating_sub(others).min(buildings);
    if keep < buildings {
        let mut seen = 0usize;
        let mut kept = 0usize;
        d.assets.retain(|a| {
            if a.layer != AssetLayer::Buildings {
                return true;
            }
            // Keep building number `seen` when the running quota passes an integer.
            seen += 1;
            let quota = seen * keep / buildings;
            if quota > kept {
                kept = quota;
                true
            } else {
                false
            }
        });
    }
    d
}

fn layer_counts(assets: &[Asset]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in assets {
        *counts.entry(a.layer.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn query_points(j: &JurisdictionIndex, n: usize, seed: u64) -> Vec<LonLat> {
    use geo::BoundingRect;
    let district = j
        .all()
        .iter()
        .find(|j| j.level == Level::District)
        .expect("a district");
    let r = district.geometry.bounding_rect().expect("a box");
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let lon = rng.gen_range(r.min().x..r.max().x);
        let lat = rng.gen_range(r.min().y..r.max().y);
        let at = LonLat::parse(lon, lat).expect("in range");
        if j.locate(at).is_some() {
            out.push(at);
        }
    }
    out
}

async fn connect(url: &str) -> Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("--database-url")?;
    let options = options.disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(1)
        // JIT compilation only slows queries this short; PostGIS is measured at its best.
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET jit = off").execute(conn).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url}"))
}

/// Loads the district into PostGIS; `None` when the tables of an earlier run are reused.
async fn load_postgis(
    pg: &PgPool,
    d: &District,
    seed: u64,
    reuse: bool,
) -> Result<Option<Duration>> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
        .execute(pg)
        .await
        .context("CREATE EXTENSION postgis (install postgresql-15-postgis-3)")?;
    let version: String = sqlx::query_scalar("SELECT postgis_full_version()")
        .fetch_one(pg)
        .await?;
    eprintln!("PostGIS: {version}");
    let tag = format!("seed {seed}, {} assets", d.assets.len());
    if reuse {
        let existing: Option<String> =
            sqlx::query_scalar(&format!("SELECT tag FROM {SCHEMA}.loaded WHERE tag = $1"))
                .bind(&tag)
                .fetch_optional(pg)
                .await
                .unwrap_or(None);
        if existing.is_some() {
            return Ok(None);
        }
        eprintln!("no PostGIS tables of an earlier run with {tag}: loading");
    }

    let mut conn = pg.acquire().await?;
    for sql in [
        format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"),
        format!("CREATE SCHEMA {SCHEMA}"),
        format!(
            "CREATE TABLE {SCHEMA}.assets (layer text NOT NULL, id text NOT NULL, \
             name text NOT NULL, kind text NOT NULL, owner text NOT NULL, depth_m double precision, \
             geom geometry(Geometry, 4326) NOT NULL)"
        ),
        format!(
            "CREATE TABLE {SCHEMA}.jurisdictions (level text NOT NULL, code text NOT NULL, \
             name text NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL)"
        ),
        format!("CREATE TABLE {SCHEMA}.loaded (tag text NOT NULL)"),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }

    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {SCHEMA}.assets (layer, id, name, kind, owner, depth_m, geom) FROM STDIN"
        ))
        .await?;
    let mut buf = String::with_capacity(1 << 20);
    for (i, a) in d.assets.iter().enumerate() {
        let depth = a
            .props
            .get("depth_m")
            .and_then(|v| v.as_f64())
            .map_or("\\N".to_string(), |v| v.to_string());
        let _ = writeln!(
            buf,
            "{}\t{}\t{}\t{}\t{}\t{}\tSRID=4326;{}",
            a.layer.as_str(),
            copy_text(&a.id),
            copy_text(&a.name),
            copy_text(&a.kind),
            copy_text(&a.owner),
            depth,
            wkt(&a.geometry)
        );
        if buf.len() > 1 << 20 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
        if i % 100_000 == 0 {
            eprintln!("  PostGIS COPY: {i} / {}", d.assets.len());
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await?;
    for j in &d.jurisdictions {
        sqlx::query(&format!(
            "INSERT INTO {SCHEMA}.jurisdictions (level, code, name, geom) \
             VALUES ($1, $2, $3, ST_Multi(ST_GeomFromText($4, 4326)))"
        ))
        .bind(j.level.as_str())
        .bind(&j.code)
        .bind(&j.name)
        .bind(wkt(&Geometry::MultiPolygon(j.geometry.clone())))
        .execute(&mut *conn)
        .await?;
    }
    eprintln!("  PostGIS: projecting and indexing");
    for sql in [
        format!(
            "ALTER TABLE {SCHEMA}.assets \
             ADD COLUMN geom_utm geometry(Geometry, {UTM}) \
               GENERATED ALWAYS AS (ST_Transform(geom, {UTM})) STORED, \
             ADD COLUMN geom_3857 geometry(Geometry, 3857) \
               GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED"
        ),
        format!("CREATE INDEX ON {SCHEMA}.assets USING gist (geom_utm)"),
        // One partial index per layer, as the engine keeps one tree per layer.
        format!("CREATE INDEX ON {SCHEMA}.assets USING gist (geom_3857) WHERE layer = 'buildings'"),
        format!("CREATE INDEX ON {SCHEMA}.assets USING gist (geom_3857) WHERE layer = 'roads'"),
        format!("CREATE INDEX ON {SCHEMA}.assets USING gist (geom_3857) WHERE layer = 'pipelines'"),
        format!("CREATE INDEX ON {SCHEMA}.assets USING gist (geom_3857) WHERE layer = 'pois'"),
        format!("CREATE INDEX ON {SCHEMA}.jurisdictions USING gist (geom)"),
        format!("ANALYZE {SCHEMA}.assets"),
        format!("ANALYZE {SCHEMA}.jurisdictions"),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }
    let took = started.elapsed();
    sqlx::query(&format!("INSERT INTO {SCHEMA}.loaded (tag) VALUES ($1)"))
        .bind(&tag)
        .execute(&mut *conn)
        .await?;
    Ok(Some(took))
}

/// Text for COPY's text format: backslash, tab and newlines escaped.
fn copy_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn wkt(g: &Geometry<f64>) -> String {
    /// `(a,b,…)` with each item written by `item`.
    fn list<T>(out: &mut String, items: &[T], item: impl Fn(&mut String, &T)) {
        out.push('(');
        for (i, t) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item(out, t);
        }
        out.push(')');
    }
    fn coord(out: &mut String, c: &Coord<f64>) {
        let _ = write!(out, "{} {}", c.x, c.y);
    }
    fn line(out: &mut String, l: &LineString<f64>) {
        list(out, &l.0, coord);
    }
    fn polygon(out: &mut String, p: &Polygon<f64>) {
        let rings: Vec<&LineString<f64>> =
            std::iter::once(p.exterior()).chain(p.interiors()).collect();
        list(out, &rings, |out, l| line(out, l));
    }
    let mut out = String::new();
    match g {
        Geometry::Point(p) => {
            let _ = write!(out, "POINT({} {})", p.x(), p.y());
        }
        Geometry::LineString(l) => {
            out.push_str("LINESTRING");
            line(&mut out, l);
        }
        Geometry::MultiLineString(ml) => {
            out.push_str("MULTILINESTRING");
            list(&mut out, &ml.0, line);
        }
        Geometry::Polygon(p) => {
            out.push_str("POLYGON");
            polygon(&mut out, p);
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("MULTIPOLYGON");
            list(&mut out, &mp.0, polygon);
        }
        other => panic!("the generator makes no {other:?}"),
    }
    out
}

/// Timings of one operation on both sides, and how far the answers agree.
#[derive(Default)]
struct Comparison {
    samples: usize,
    engine: Vec<Duration>,
    postgis: Vec<Duration>,
    agreement: String,
}

async fn bench_nearby(
    pg: &PgPool,
    index: &AssetIndex,
    points: &[LonLat],
    radius: Radius,
) -> Result<Comparison> {
    let layers = AssetLayer::ALL;
    let sql = format!(
        "WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), {UTM}) AS g) \
         SELECT a.layer, a.id, ST_Distance(a.geom_utm, p.g) AS d \
         FROM {SCHEMA}.assets a, p WHERE ST_DWithin(a.geom_utm, p.g, $3) ORDER BY d"
    );
    // Warm both sides (PostgreSQL's buffers, the engine's caches) on a few points.
    for at in points.iter().take(50) {
        std::hint::black_box(index.nearby(*at, radius, &layers));
        sqlx::query(&sql)
            .bind(at.lon())
            .bind(at.lat())
            .bind(radius.metres())
            .fetch_all(pg)
            .await?;
    }
    let mut c = Comparison {
        samples: points.len(),
        ..Default::default()
    };
    let (mut same, mut edge_only, mut differ, mut found) = (0, 0, 0, 0usize);
    for at in points {
        let t = Instant::now();
        let ours = index.nearby(*at, radius, &layers);
        c.engine.push(t.elapsed());
        let t = Instant::now();
        let rows = sqlx::query(&sql)
            .bind(at.lon())
            .bind(at.lat())
            .bind(radius.metres())
            .fetch_all(pg)
            .await?;
        c.postgis.push(t.elapsed());
        found += ours.len();

        let a: BTreeMap<(String, String), f64> = ours
            .iter()
            .map(|n| {
                (
                    (n.asset.layer.as_str().to_string(), n.asset.id.clone()),
                    n.distance_m,
                )
            })
            .collect();
        let b: BTreeMap<(String, String), f64> = rows
            .iter()
            .map(|r| ((r.get::<String, _>(0), r.get::<String, _>(1)), r.get(2)))
            .collect();
        if a.keys().eq(b.keys()) {
            same += 1;
        } else {
            // Features only one side found must lie at the edge of the radius (the two
            // distance models differ by centimetres over 250 m).
            let near_edge = a
                .iter()
                .filter(|(k, _)| !b.contains_key(*k))
                .chain(b.iter().filter(|(k, _)| !a.contains_key(*k)))
                .all(|(_, d)| (d - radius.metres()).abs() < 0.5);
            if near_edge {
                edge_only += 1;
            } else {
                differ += 1;
            }
        }
    }
    c.agreement = format!(
        "{:.1} features per answer; same features at {same} points, differing only within \
         0.5 m of the radius at {edge_only}, otherwise at {differ}",
        found as f64 / points.len() as f64
    );
    if differ > 0 {
        bail!("nearby answers differ beyond the radius edge at {differ} points");
    }
    Ok(c)
}

async fn bench_locate(pg: &PgPool, j: &JurisdictionIndex, points: &[LonLat]) -> Result<Comparison> {
    let sql = format!(
        "SELECT level, code FROM {SCHEMA}.jurisdictions \
         WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))"
    );
    for at in points.iter().take(50) {
        std::hint::black_box(j.locate(*at));
        sqlx::query(&sql)
            .bind(at.lon())
            .bind(at.lat())
            .fetch_all(pg)
            .await?;
    }
    let mut c = Comparison {
        samples: points.len(),
        ..Default::default()
    };
    let (mut same, mut differ) = (0, 0);
    for at in points {
        let t = Instant::now();
        let ours = j.locate(*at);
        c.engine.push(t.elapsed());
        let t = Instant::now();
        let rows = sqlx::query(&sql)
            .bind(at.lon())
            .bind(at.lat())
            .fetch_all(pg)
            .await?;
        c.postgis.push(t.elapsed());
        let a: BTreeSet<String> = ours
            .map(|l| l.chain.iter().map(|j| j.code.clone()).collect())
            .unwrap_or_default();
        let b: BTreeSet<String> = rows.iter().map(|r| r.get::<String, _>(1)).collect();
        if a == b && a.len() == 4 {
            same += 1;
        } else {
            differ += 1;
        }
    }
    c.agreement = format!("same 4-level chain at {same} points, different at {differ}");
    if differ > 0 {
        bail!("locate answers differ at {differ} points");
    }
    Ok(c)
}

async fn bench_tiles(pg: &PgPool, index: &AssetIndex, j: &JurisdictionIndex) -> Result<Comparison> {
    use geo::BoundingRect;
    let district = j
        .all()
        .iter()
        .find(|j| j.level == Level::District)
        .expect("a district");
    let r = district.geometry.bounding_rect().expect("a box");
    let (x0, y0) = tiles::tile_at(r.min().x, r.max().y, TILE_Z);
    let (x1, y1) = tiles::tile_at(r.max().x, r.min().y, TILE_Z);
    let layer_sql = |layer: &str, depth: bool| {
        format!(
            "(SELECT COALESCE(ST_AsMVT(t, '{layer}', 4096, 'geom'), ''::bytea) FROM \
             (SELECT id, name, kind, owner{} , \
               ST_AsMVTGeom(geom_3857, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom \
              FROM {SCHEMA}.assets WHERE layer = '{layer}' \
                AND geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)) t \
             WHERE t.geom IS NOT NULL)",
            if depth { ", depth_m" } else { "" }
        )
    };
    let sql = format!(
        "SELECT {} || {} || {} || {}",
        layer_sql("buildings", false),
        layer_sql("roads", false),
        layer_sql("pipelines", true),
        layer_sql("pois", false)
    );
    let mut tiles_xy = Vec::new();
    for x in x0..=x1 {
        for y in y0..=y1 {
            tiles_xy.push((x, y));
        }
    }
    let render = |x: u32, y: u32| -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for layer in AssetLayer::ALL {
            out.extend(tiles::tile(index, layer, TILE_Z, x, y)?);
        }
        Ok(out)
    };
    for &(x, y) in tiles_xy.iter().take(5) {
        render(x, y)?;
        sqlx::query(&sql)
            .bind(TILE_Z as i32)
            .bind(x as i32)
            .bind(y as i32)
            .fetch_one(pg)
            .await?;
    }
    let mut c = Comparison {
        samples: tiles_xy.len(),
        ..Default::default()
    };
    let (mut ours_features, mut theirs_features, mut ours_bytes, mut theirs_bytes) =
        (0usize, 0usize, 0usize, 0usize);
    let mut worst = 0f64;
    for &(x, y) in &tiles_xy {
        let t = Instant::now();
        let ours = render(x, y)?;
        c.engine.push(t.elapsed());
        let t = Instant::now();
        let theirs: Vec<u8> = sqlx::query_scalar(&sql)
            .bind(TILE_Z as i32)
            .bind(x as i32)
            .bind(y as i32)
            .fetch_one(pg)
            .await?;
        c.postgis.push(t.elapsed());
        let (a, b) = (feature_count(&ours), feature_count(&theirs));
        ours_features += a;
        theirs_features += b;
        ours_bytes += ours.len();
        theirs_bytes += theirs.len();
        if a.max(b) > 0 {
            worst = worst.max((a as f64 - b as f64).abs() / a.max(b) as f64);
        }
    }
    c.agreement = format!(
        "features: engine {ours_features}, PostGIS {theirs_features} (largest difference in one \
         tile {:.1} %); bytes: engine {:.1} MB, PostGIS {:.1} MB",
        worst * 100.0,
        ours_bytes as f64 / 1e6,
        theirs_bytes as f64 / 1e6
    );
    Ok(c)
}

/// Features in an MVT tile (the layers' feature fields, without decoding geometry).
fn feature_count(tile: &[u8]) -> usize {
    let mut n = 0;
    for_each_field(tile, |field, bytes| {
        if field == 3 {
            // A layer: count its features (field 2).
            for_each_field(bytes, |f, _| {
                if f == 2 {
                    n += 1;
                }
            });
        }
    });
    n
}

/// Calls `f(field, payload)` for every length-delimited field of a protobuf message.
fn for_each_field(mut buf: &[u8], mut f: impl FnMut(u32, &[u8])) {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first()?;
            *buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    while let Some(key) = varint(&mut buf) {
        let (field, wire) = ((key >> 3) as u32, key & 7);
        match wire {
            0 => {
                if varint(&mut buf).is_none() {
                    return;
                }
            }
            1 => buf = buf.get(8..).unwrap_or_default(),
            5 => buf = buf.get(4..).unwrap_or_default(),
            2 => {
                let Some(len) = varint(&mut buf) else { return };
                let len = len as usize;
                if len > buf.len() {
                    return;
                }
                f(field, &buf[..len]);
                buf = &buf[len..];
            }
            _ => return,
        }
    }
}

/// Saves the district into a fresh SQLite data dir, starts the server on it and reads its
/// resident memory once it serves: (VmRSS, VmHWM, time to serving).
async fn server_memory(bin: &std::path::Path, d: &District) -> Result<(u64, u64, Duration)> {
    let dir = tempfile::tempdir()?;
    eprintln!("saving the district into a SQLite data dir for the server");
    let store = Store::open_sqlite(dir.path()).await?;
    store
        .save_district(
            d,
            "spatial bench",
            &onegrid_server::store::Who::system(),
            &mut |_, _| {},
        )
        .await?;
    store.close().await;

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--no-sim", "--no-demo", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let ready = loop {
        if let Ok(r) = client.get(&url).send().await {
            if r.status().is_success() {
                break started.elapsed();
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("the server exited before serving: {status}");
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            bail!("the server did not answer /healthz within 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Let start-up garbage settle, then read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in /proc/PID/status"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?;
        Ok(kb * 1024)
    };
    let (rss, hwm) = (field("VmRSS:")?, field("VmHWM:")?);
    let _ = child.kill();
    let _ = child.wait();
    Ok((rss, hwm, ready))
}

#[derive(Default)]
struct Report {
    text: String,
}

impl Report {
    fn line(&mut self, s: String) {
        eprintln!("{s}");
        self.text.push_str(&s);
        self.text.push('\n');
    }

    fn section(&mut self, title: &str) {
        self.line(format!("\n## {title}"));
    }

    fn compare(&mut self, c: &Comparison) {
        let (e50, e99) = percentiles(&c.engine);
        let (p50, p99) = percentiles(&c.postgis);
        self.line(format!(
            "engine   p50 {:>10}  p99 {:>10}",
            fmt_d(e50),
            fmt_d(e99)
        ));
        self.line(format!(
            "PostGIS  p50 {:>10}  p99 {:>10}   (client, prepared statement)",
            fmt_d(p50),
            fmt_d(p99)
        ));
        self.line(format!(
            "engine faster: p50 {:.1}×, p99 {:.1}×",
            ratio(p50, e50),
            ratio(p99, e99)
        ));
        self.line(format!("answers: {}", c.agreement));
    }
}

fn percentiles(v: &[Duration]) -> (Duration, Duration) {
    let mut v = v.to_vec();
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99))
}

fn ratio(theirs: Duration, ours: Duration) -> f64 {
    theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9)
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, point, polygon, MultiLineString, MultiPolygon};

    #[test]
    fn wkt_is_what_postgis_reads() {
        let square = polygon![
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 1.0, y: 2.0), (x: 1.0, y: 1.0)]],
        ];
        assert_eq!(
            wkt(&square.clone().into()),
            "POLYGON((0 0,4 0,4 4,0 0),(1 1,2 1,1 2,1 1))"
        );
        assert_eq!(
            wkt(&MultiPolygon::new(vec![square.clone(), square]).into()),
            "MULTIPOLYGON(((0 0,4 0,4 4,0 0),(1 1,2 1,1 2,1 1)),((0 0,4 0,4 4,0 0),(1 1,2 1,1 2,1 1)))"
        );
        let l = line_string![(x: 113.5, y: 23.25), (x: 113.75, y: 23.0)];
        assert_eq!(wkt(&l.clone().into()), "LINESTRING(113.5 23.25,113.75 23)");
        assert_eq!(
            wkt(&MultiLineString::new(vec![l.clone(), l]).into()),
            "MULTILINESTRING((113.5 23.25,113.75 23),(113.5 23.25,113.75 23))"
        );
        assert_eq!(wkt(&point!(x: 1.5, y: -2.0).into()), "POINT(1.5 -2)");
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        assert_eq!(copy_text("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
    }

    #[test]
    fn features_are_counted_in_every_layer_of_a_tile() {
        use onegrid_server::district::Asset;
        let road = |id: &str| Asset {
            layer: AssetLayer::Roads,
            id: id.into(),
            name: id.into(),
            kind: "primary".into(),
            owner: "transport".into(),
            props: Default::default(),
            geometry: line_string![(x: 113.101, y: 23.011), (x: 113.109, y: 23.019)].into(),
        };
        let index = AssetIndex::new(vec![road("R-1"), road("R-2")]);
        let (x, y) = tiles::tile_at(113.105, 23.015, TILE_Z);
        let one = tiles::tile(&index, AssetLayer::Roads, TILE_Z, x, y).expect("tile");
        assert_eq!(feature_count(&one), 2);
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert_eq!(feature_count(&two), 4);
        assert_eq!(feature_count(&[]), 0);
    }
}

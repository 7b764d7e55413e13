//! `onegrid`: parses the command line and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use onegrid_server::Config;

mod cli;

#[derive(Parser)]
#[command(
    name = "onegrid",
    version,
    about = "onegrid: real-time city operations (城市运行一网统管)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: map, API, live feed (and, by default, the demo district and simulator).
    Serve(ServeArgs),
    /// Import a layer from GeoJSON, an ESRI Shapefile or OpenStreetMap PBF into the data dir
    /// (one transaction).
    Import(ImportArgs),
    /// Unit grids (单元网格) where the imported jurisdictions stop above grid level.
    #[command(subcommand)]
    Grid(GridCommand),
    /// Accounts of people: add, list, disable, enable, reset-password, grant.
    #[command(subcommand)]
    User(cli::UserCommand),
    /// Wall screens (a URL that shows the district without a login): add, list, revoke.
    #[command(subcommand)]
    Screen(cli::ScreenCommand),
    /// API keys for machine intake: add (prints the key), list, revoke.
    #[command(subcommand)]
    Apikey(cli::ApiKeyCommand),
    /// Print the audit trail, newest first.
    Audit(cli::AuditArgs),
    /// Copy this installation (layers, incidents, the whole event log with its seq values,
    /// accounts, audit) into an empty PostgreSQL database and check every table's count.
    MigrateStore(cli::MigrateArgs),
}

#[derive(Subcommand)]
enum GridCommand {
    /// Divide each finest imported jurisdiction that has no imported grids into unit grids of
    /// a target area, clipped to it, following main roads (one transaction, with its event).
    Generate(GridArgs),
}

#[derive(Args)]
struct GridArgs {
    #[command(flatten)]
    store: cli::StoreArgs,
    /// Target area of one grid, in square metres (grids grow where a jurisdiction would need
    /// more than 999).
    #[arg(long, default_value_t = onegrid_server::grids::DEFAULT_CELL_AREA_M2)]
    cell_area_m2: f64,
    /// Do not pull grid corners onto main roads.
    #[arg(long)]
    no_roads: bool,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    store: cli::StoreArgs,
    /// What the file holds: buildings, roads, pipelines, pois; district, street, community or
    /// grid (jurisdictions); boundaries (levels from each feature or OSM admin_level); all
    /// (an OSM file: every layer and the boundaries); departments (CSV or JSON). Required for
    /// GeoJSON and shapefiles.
    #[arg(long)]
    layer: Option<String>,
    /// Coordinate system: wgs84, gcj02 (Chinese map providers) or bd09 [GeoJSON default: wgs84];
    /// for a shapefile also epsg:4326, epsg:4490, epsg:3857, epsg:4491–4554 (CGCS2000
    /// Gauss–Krüger), epsg:32601–32660 (UTM north), replacing its .prj.
    #[arg(long)]
    crs: Option<String>,
    /// Which attributes hold which fields, e.g. "code=XZQDM,name=XZQMC,parent=FJDM" (also
    /// level=, id=, kind=, owner=).
    #[arg(long)]
    field: Option<String>,
    /// auto, geojson, shapefile or osm.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Department code given to assets whose file names no owner.
    #[arg(long, default_value = "urban_mgmt")]
    owner: String,
    /// OSM admin_level mapping, e.g. "6=district,8=street,10=community".
    #[arg(long)]
    admin_levels: Option<String>,
    /// The GeoJSON (FeatureCollection, array of features, or one feature per line), the .shp
    /// (with its .shx, .dbf, .prj beside it) or the .osm.pbf file.
    file: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// TOML file with settings (overridden by environment variables and flags).
    #[arg(long, env = "ONEGRID_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "ONEGRID_ADDR")]
    addr: Option<SocketAddr>,
    /// Folder for the database [default: ./data].
    #[arg(long, env = "ONEGRID_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL database shared by several replicas, instead of the SQLite file in the data
    /// dir (postgres://user@host/db).
    #[arg(long, env = "ONEGRID_DATABASE_URL")]
    database_url: Option<String>,
    /// NATS server whose JetStream carries events between replicas (nats://host:4222).
    #[arg(long, env = "ONEGRID_BUS")]
    bus: Option<String>,
    /// JetStream stream shared by the replicas of one installation [default: ONEGRID].
    #[arg(long, env = "ONEGRID_BUS_STREAM")]
    bus_stream: Option<String>,
    /// Folder with the built site (pkg/, assets/) [default: ./target/site].
    #[arg(long, env = "ONEGRID_SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// Seed of the demo district generated on an empty data dir [default: 1].
    #[arg(long, env = "ONEGRID_SEED")]
    seed: Option<u64>,
    /// Mean time between simulated incidents, in milliseconds [default: 4000].
    #[arg(long, env = "ONEGRID_SIM_INTERVAL_MS")]
    sim_interval_ms: Option<u64>,
    /// How often to check the store for imported layers and reload them, in milliseconds
    /// [default: 2000].
    #[arg(long, env = "ONEGRID_RELOAD_INTERVAL_MS")]
    reload_interval_ms: Option<u64>,
    /// Start without the live incident simulator.
    #[arg(long)]
    no_sim: bool,
    /// Do not generate the demo district on an empty data dir.
    #[arg(long)]
    no_demo: bool,
    /// Department that the rules file written on the first start sends every incident to
    /// that no other rule covers.
    #[arg(long, env = "ONEGRID_FALLBACK_DEPARTMENT")]
    fallback_department: Option<String>,
    /// Origins besides the server's own whose pages may change data and open the live feed,
    /// comma-separated, e.g. "https://ops.example.cn,https://wall.example.cn".
    #[arg(long, env = "ONEGRID_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = self.addr {
            c.addr = v;
        }
        if let Some(v) = self.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = self.database_url {
            c.database_url = Some(v);
        }
        if let Some(v) = self.bus {
            c.bus = Some(v);
        }
        if let Some(v) = self.bus_stream {
            c.bus_stream = v;
        }
        if let Some(v) = self.site_dir {
            c.site_dir = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.sim_interval_ms {
            c.sim_interval_ms = v;
        }
        if let Some(v) = self.reload_interval_ms {
            c.reload_interval_ms = v;
        }
        if self.no_sim {
            c.sim = false;
        }
        if self.no_demo {
            c.demo = false;
        }
        if let Some(v) = self.fallback_department {
            c.fallback_department = Some(v);
        }
        if let Some(v) = self.allowed_origins {
            c.allowed_origins = v
                .into_iter()
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        Ok(c)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => {
            let config = args.into_config()?;
            let listener = tokio::net::TcpListener::bind(config.addr)
                .await
                .with_context(|| format!("cannot listen on {}", config.addr))?;
            println!("onegrid: http://{}", listener.local_addr()?);
            onegrid_server::run(listener, config, shutdown_signal()).await?;
        }
        Command::Import(args) if args.layer.as_deref() == Some("departments") => {
            import_departments(args).await?
        }
        Command::Import(args) => import(args).await?,
        Command::Grid(GridCommand::Generate(args)) => generate_grids(args).await?,
        Command::User(c) => cli::user(c).await?,
        Command::Screen(c) => cli::screen(c).await?,
        Command::Apikey(c) => cli::apikey(c).await?,
        Command::Audit(a) => cli::audit(a).await?,
        Command::MigrateStore(a) => cli::migrate_store(a).await?,
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    use onegrid_server::district::{AssetLayer, Level};
    use onegrid_server::import::{self, ImportError, ImportRequest};
    use onegrid_server::ingest::{AdminLevels, CrsChoice, FieldMap, Format, IssueAction, Target};

    let crs = match &args.crs {
        Some(name) => Some(CrsChoice::parse(name).with_context(|| {
            format!(
                "unknown --crs {name:?}; use wgs84, gcj02, bd09 or (shapefiles) epsg:4326, \
                 epsg:4490, epsg:3857, epsg:4491–4554, epsg:32601–32660"
            )
        })?),
        None => None,
    };
    let fields = match &args.field {
        Some(spec) => FieldMap::parse(spec).map_err(|e| {
            anyhow::anyhow!("bad --field {spec:?}: {e}; e.g. code=XZQDM,name=XZQMC")
        })?,
        None => FieldMap::default(),
    };
    let format = Format::parse(&args.format).with_context(|| {
        format!(
            "unknown --format {:?}; use auto, geojson, shapefile or osm",
            args.format
        )
    })?;
    let levels = match &args.admin_levels {
        Some(spec) => AdminLevels::parse(spec).map_err(|e| {
            anyhow::anyhow!("bad --admin-levels {spec:?}: {e}; e.g. 6=district,8=street")
        })?,
        None => AdminLevels::default(),
    };
    let target = match args.layer.as_deref() {
        None | Some("all") => Target::All(levels),
        Some("boundaries") => Target::Levels(levels),
        Some(name) => match (AssetLayer::parse(name), Level::parse(name)) {
            (Some(layer), _) => Target::Layer(layer),
            (_, Some(level)) => Target::Level(level),
            _ => anyhow::bail!(
                "unknown --layer {name:?}; use buildings, roads, pipelines, pois, district, street, community, grid, boundaries or all"
            ),
        },
    };
    let request = ImportRequest {
        file: args.file.clone(),
        format,
        target,
        crs,
        fields,
        owner: args.owner.clone(),
    };

    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:10} [{bar:40}] {percent:>3}% {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("reading");
    let read_bar = bar.clone();
    let imported = import::read(&request, move |done, total| {
        read_bar.set_length(total);
        read_bar.set_position(done);
    })
    .await?;

    let store = args.store.open().await?;
    bar.set_message("saving");
    bar.set_position(0);
    let who = cli_who();
    let saved = import::save(&store, &args.file, &imported, &who, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await;
    store.close().await;
    bar.finish_and_clear();

    let repaired = imported
        .issues
        .iter()
        .filter(|i| i.action == IssueAction::Repaired)
        .count();
    let rejected = imported.issues.len() - repaired;
    for issue in imported.issues.iter().take(50) {
        eprintln!(
            "{:8} {} {}: {}",
            match issue.action {
                IssueAction::Repaired => "repaired",
                IssueAction::Rejected => "rejected",
            },
            issue.file,
            issue.feature,
            issue.reason
        );
    }
    if imported.issues.len() > 50 {
        eprintln!("… and {} more", imported.issues.len() - 50);
    }
    let saved = match saved {
        Ok(saved) => saved,
        Err(e @ ImportError::Nothing(_)) => {
            anyhow::bail!("{e} ({rejected} features rejected); the data dir is unchanged")
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "imported {} into {}",
        args.file.display(),
        args.store.describe()
    );
    println!("  features read   {}", imported.features_read);
    for layer in &saved.layers {
        let n = imported.assets.iter().filter(|a| a.layer == *layer).count();
        println!("  {:15} {n} (layer replaced)", layer.as_str());
    }
    if let Some(n) = saved.jurisdictions {
        println!("  jurisdictions   {n} (levels replaced)");
    }
    println!("  repaired        {repaired}");
    println!("  rejected        {rejected}");
    println!("  event seq       {}", saved.seq);
    Ok(())
}

async fn import_departments(args: ImportArgs) -> anyhow::Result<()> {
    use onegrid_server::import;
    use onegrid_server::ingest::IssueAction;

    let read = import::read_departments(&args.file).await?;
    for issue in read.issues.iter().take(50) {
        eprintln!(
            "{:8} {} {}: {}",
            issue.action, issue.file, issue.feature, issue.reason
        );
    }
    if read.issues.len() > 50 {
        eprintln!("… and {} more", read.issues.len() - 50);
    }
    let rejected = read
        .issues
        .iter()
        .filter(|i| i.action == IssueAction::Rejected)
        .count();
    let store = args.store.open().await?;
    let saved = import::save_departments(&store, &args.file, &read, &cli_who()).await;
    store.close().await;
    let seq = match saved {
        Ok(seq) => seq,
        Err(e @ import::ImportError::Nothing(_)) => {
            anyhow::bail!("{e} ({rejected} rows rejected); the data dir is unchanged")
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "imported {} into {}",
        args.file.display(),
        args.store.describe()
    );
    println!("  rows read       {}", read.rows_read);
    println!(
        "  departments     {} (all replaced)",
        read.departments.len()
    );
    println!("  repaired        {}", read.issues.len() - rejected);
    println!("  rejected        {rejected}");
    println!("  event seq       {seq}");
    Ok(())
}

async fn generate_grids(args: GridArgs) -> anyhow::Result<()> {
    use onegrid_server::grids::{GridOptions, Outcome};

    let store = args.store.open().await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("dividing  [{bar:40}] {pos}/{len} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let options = GridOptions {
        cell_area_m2: args.cell_area_m2,
        follow_roads: !args.no_roads,
    };
    let who = cli_who();
    let result =
        onegrid_server::import::generate_grids(&store, options, &who, move |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        })
        .await;
    store.close().await;
    bar.finish_and_clear();
    let (generated, seq) = result?;
    for p in &generated.parents {
        let what = match &p.outcome {
            Outcome::Generated {
                cells,
                cell_area_m2,
                road_corners,
            } => format!(
                "{cells} grids of ~{cell_area_m2:.0} m²{}{}",
                if *cell_area_m2 > args.cell_area_m2 * 1.05 {
                    " (larger than asked: at most 999 grids fit one code)"
                } else {
                    ""
                },
                if *road_corners > 0 {
                    format!(", {road_corners} corners on main roads")
                } else {
                    String::new()
                }
            ),
            Outcome::HasImportedGrids(n) => {
                format!("kept: it holds {n} imported grids, which take precedence")
            }
            Outcome::Skipped(why) => format!("skipped: {why}"),
        };
        println!("  {} {} ({}): {what}", p.level.as_str(), p.name, p.code);
    }
    match seq {
        Some(seq) => {
            println!(
                "generated {} grids in {} jurisdictions into {} (replacing {} generated before)",
                generated.generated,
                generated
                    .parents
                    .iter()
                    .filter(|p| matches!(p.outcome, Outcome::Generated { .. }))
                    .count(),
                args.store.describe(),
                generated.replaced
            );
            println!("  event seq       {seq}");
        }
        None => println!("nothing to generate: every finest jurisdiction holds imported grids"),
    }
    Ok(())
}

/// The command line as the audit trail records it.
fn cli_who() -> onegrid_server::store::Who {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    onegrid_server::accounts::Actor::command_line(&user).who()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

//! Build orchestration: `cargo xtask <command>`.
//!
//! - `build [--release]`  wasm (hydrate) + wasm-bindgen into target/site/pkg, CSS, assets, server
//! - `serve [--release] [ARGS…]`  build, then run `onegrid serve` with ARGS
//! - `test`  lint (fmt, clippy for ssr and hydrate), build the site, run every test
//! - `lint`  fmt check and clippy with -D warnings for both feature sets
//! - `bench-live [ARGS…]`  POST → WebSocket latency with many clients (release); `--replicas`
//!   adds two replicas on PostgreSQL + NATS
//! - `bench-writes [ARGS…]`  sustained incident writes per second on SQLite and PostgreSQL
//! - `bench-spatial [ARGS…]`  the spatial engine against PostGIS on a 1M-feature district
//!   (release; needs PostgreSQL with PostGIS)
//! - `import [ARGS…]`  `onegrid import ARGS` (release): GeoJSON or OSM PBF into the data dir
//!
//! On a fresh machine it adds the wasm32 target and installs wasm-bindgen-cli at exactly the
//! version in Cargo.lock when they are missing. The wasm and the server build in parallel in
//! separate target dirs, so neither waits on the other's lock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};

use anyhow::{bail, Context, Result};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const OUTPUT_NAME: &str = "onegrid";

/// A bench's own arguments: `cargo xtask bench-live -- --clients 500` and `cargo xtask
/// bench-live --clients 500` both mean `--clients 500`.
fn bench_args(rest: &[String]) -> &[String] {
    match rest.first().map(String::as_str) {
        Some("--") => &rest[1..],
        _ => rest,
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let ws = Workspace::locate()?;
    match command.as_str() {
        "build" => ws.build(profile(&rest, "--release")),
        "serve" => ws.serve(&rest),
        "test" => ws.test(&rest),
        "lint" => ws.lint(),
        "bench-live" => ws.bench_live(bench_args(&rest)),
        "bench-writes" => ws.bench_writes(bench_args(&rest)),
        "bench-spatial" => ws.bench_spatial(bench_args(&rest)),
        "import" => ws.import(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <build [--release] | serve [--release] [ARGS…] | test | lint | bench-live [ARGS…] | bench-writes [ARGS…] | bench-spatial [ARGS…] | import [ARGS…]>"
            );
            std::process::exit(2);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    Dev,
    Release,
}

fn profile(args: &[String], release_flag: &str) -> Profile {
    if args.iter().any(|a| a == release_flag) {
        Profile::Release
    } else {
        Profile::Dev
    }
}

struct Workspace {
    root: PathBuf,
    target: PathBuf,
}

impl Workspace {
    fn locate() -> Result<Workspace> {
        // At run time `cargo run` names this checkout's xtask; the compile-time path can belong to
        // another checkout sharing the target dir.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest
            .parent()
            .context("xtask lives in the workspace")?
            .to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        Ok(Workspace { root, target })
    }

    fn site(&self) -> PathBuf {
        self.root.join("target").join("site")
    }

    fn wasm_target_dir(&self) -> PathBuf {
        self.target.join("wasm")
    }

    fn cargo(&self) -> Command {
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.current_dir(&self.root);
        c
    }

    fn build(&self, profile: Profile) -> Result<()> {
        ensure_wasm_target()?;
        self.ensure_wasm_bindgen()?;
        step("building the browser app (wasm) and the server in parallel");
        let mut wasm = self.cargo();
        wasm.args([
            "build",
            "-p",
            "onegrid-app",
            "--lib",
            "--target",
            WASM_TARGET,
        ])
        .args(["--no-default-features", "--features", "hydrate"])
        .env("CARGO_TARGET_DIR", self.wasm_target_dir());
        if profile == Profile::Release {
            wasm.args(["--profile", "wasm-release"]);
        }
        let mut server = self.cargo();
        server.args(["build", "-p", "onegrid-server", "--bin", "onegrid"]);
        if profile == Profile::Release {
            server.arg("--release");
        }
        let wasm_child = wasm.spawn().context("starting the wasm build")?;
        let server_child = server.spawn().context("starting the server build")?;
        let wasm_status = wait(wasm_child)?;
        let server_status = wait(server_child)?;
        if !wasm_status.success() {
            bail!("the wasm build failed");
        }
        if !server_status.success() {
            bail!("the server build failed");
        }
        self.assemble_site(profile)
    }

    /// target/site/pkg: wasm-bindgen output and CSS; target/site/assets: a copy of assets/.
    fn assemble_site(&self, profile: Profile) -> Result<()> {
        step("assembling the site in target/site");
        let dir = if profile == Profile::Release {
            "wasm-release"
        } else {
            "debug"
        };
        let wasm = self
            .wasm_target_dir()
            .join(WASM_TARGET)
            .join(dir)
            .join("onegrid_app.wasm");
        let site = self.site();
        let pkg = site.join("pkg");
        if pkg.exists() {
            std::fs::remove_dir_all(&pkg).context("clearing target/site/pkg")?;
        }
        std::fs::create_dir_all(&pkg)?;
        run(Command::new("wasm-bindgen")
            .arg(&wasm)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                OUTPUT_NAME,
            ])
            .arg("--out-dir")
            .arg(&pkg))?;
        std::fs::copy(
            self.root.join("style/main.css"),
            pkg.join(format!("{OUTPUT_NAME}.css")),
        )
        .context("copying style/main.css")?;
        let assets = site.join("assets");
        if assets.exists() {
            std::fs::remove_dir_all(&assets).context("clearing target/site/assets")?;
        }
        copy_dir(&self.root.join("assets"), &assets)?;
        Ok(())
    }

    fn server_binary(&self, profile: Profile) -> PathBuf {
        let dir = if profile == Profile::Release {
            "release"
        } else {
            "debug"
        };
        self.target.join(dir).join("onegrid")
    }

    fn serve(&self, args: &[String]) -> Result<()> {
        // The dev profile (dependencies optimised) builds in a fraction of the time; --release for
        // a deployment.
        let profile = profile(args, "--release");
        self.build(profile)?;
        let passthrough: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
        step("starting onegrid (Ctrl-C stops it)");
        let status = Command::new(self.server_binary(profile))
            .current_dir(&self.root)
            .arg("serve")
            .arg("--site-dir")
            .arg(self.site())
            .args(passthrough)
            .status()
            .context("starting the server")?;
        if !status.success() {
            bail!("onegrid exited with {status}");
        }
        Ok(())
    }

    fn lint(&self) -> Result<()> {
        ensure_wasm_target()?;
        step("cargo fmt --check");
        run(self.cargo().args(["fmt", "--all", "--", "--check"]))?;
        step("clippy (ssr: server, tests, xtask)");
        run(self.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        step("clippy (hydrate: the browser app)");
        run(self
            .cargo()
            .args([
                "clippy",
                "-p",
                "onegrid-app",
                "--lib",
                "--target",
                WASM_TARGET,
            ])
            .args([
                "--no-default-features",
                "--features",
                "hydrate",
                "--",
                "-D",
                "warnings",
            ])
            .env("CARGO_TARGET_DIR", self.wasm_target_dir()))?;
        Ok(())
    }

    fn test(&self, args: &[String]) -> Result<()> {
        self.lint()?;
        self.build(Profile::Dev)?;
        step("cargo test --workspace (store: SQLite)");
        run(self
            .cargo()
            .args(["test", "--workspace"])
            .args(args)
            .env_remove("ONEGRID_TEST_DATABASE_URL")
            .env("ONEGRID_SITE_DIR", self.site()))?;
        // The same store and system tests again on PostgreSQL + PostGIS, each test in a
        // database of its own on this server.
        let postgres = std::env::var("ONEGRID_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        step(&format!(
            "store and system tests again (store: PostgreSQL at {postgres})"
        ));
        run(self
            .cargo()
            .args(["test", "-p", "onegrid-server", "--lib"])
            .args(args)
            .args(["--", "store::", "live::"])
            .env("ONEGRID_TEST_DATABASE_URL", &postgres)
            .env("ONEGRID_SITE_DIR", self.site()))?;
        run(self
            .cargo()
            .args(["test", "-p", "onegrid-tests", "--test", "it"])
            .args(args)
            .env("ONEGRID_TEST_DATABASE_URL", &postgres)
            .env("ONEGRID_SITE_DIR", self.site()))?;
        Ok(())
    }

    /// Builds the release binaries `bins` (package, binary) and returns the first one's path.
    fn build_release(&self, what: &str, bins: &[(&str, &str)]) -> Result<PathBuf> {
        step(&format!("building {what} (release)"));
        let mut cargo = self.cargo();
        cargo.args(["build", "--release"]);
        for (package, bin) in bins {
            cargo.args(["-p", package, "--bin", bin]);
        }
        run(&mut cargo)?;
        Ok(self.target.join("release").join(bins[0].1))
    }

    fn bench_live(&self, args: &[String]) -> Result<()> {
        let bench =
            self.build_release("the latency harness", &[("onegrid-tests", "live-latency")])?;
        run(Command::new(bench).current_dir(&self.root).args(args))
    }

    fn bench_writes(&self, args: &[String]) -> Result<()> {
        let bench = self.build_release(
            "the write-throughput bench",
            &[("onegrid-tests", "write-throughput")],
        )?;
        run(Command::new(bench).current_dir(&self.root).args(args))
    }

    fn bench_spatial(&self, args: &[String]) -> Result<()> {
        let bench = self.build_release(
            "the spatial bench and onegrid",
            &[
                ("onegrid-tests", "spatial-vs-postgis"),
                ("onegrid-server", "onegrid"),
            ],
        )?;
        run(Command::new(bench)
            .current_dir(&self.root)
            .arg("--server-bin")
            .arg(self.server_binary(Profile::Release))
            .args(args))
    }

    fn import(&self, args: &[String]) -> Result<()> {
        let onegrid = self.build_release("onegrid", &[("onegrid-server", "onegrid")])?;
        run(Command::new(onegrid)
            .current_dir(&self.root)
            .arg("import")
            .args(args))
    }

    fn ensure_wasm_bindgen(&self) -> Result<()> {
        let lock =
            std::fs::read_to_string(self.root.join("Cargo.lock")).context("reading Cargo.lock")?;
        let want =
            locked_version(&lock, "wasm-bindgen").context("Cargo.lock has no wasm-bindgen")?;
        let have = Command::new("wasm-bindgen")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.split_whitespace().nth(1).map(str::to_string));
        if have.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        step(&format!(
            "installing wasm-bindgen-cli {want} (found {}); this takes a few minutes once",
            have.as_deref().unwrap_or("none")
        ));
        // `--locked` fails for this crate on the current toolchain; resolve afresh.
        run(self
            .cargo()
            .args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))
    }
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    step("adding the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// The version of `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            let v = lines.next()?.trim();
            return v
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
        }
    }
    None
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn step(what: &str) {
    eprintln!("\x1b[1;34m==>\x1b[0m {what}");
}

fn wait(mut child: Child) -> Result<ExitStatus> {
    Ok(child.wait()?)
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed with {status}", cmd.get_program());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\n[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(lock, "serde"), None);
    }
}

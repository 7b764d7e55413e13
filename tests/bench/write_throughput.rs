//! `write-throughput`: sustained incident reports per second on each backend, with 1, 2, 4, …
//! concurrent posters, and where latency turns.
//!
//! For SQLite (the embedded file) and PostgreSQL (`ONEGRID_TEST_DATABASE_URL`, default the
//! local server), starts a server on a copy of the demo district and, for each number of
//! posters, lets every poster POST `/api/v1/incidents` in a loop for `--seconds`; it prints the
//! acknowledged writes per second and the POST round trip's p50 and p99. Run it with
//! `cargo xtask bench-writes`.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;
use onegrid_tests::{point_in_grid, Data, Options, TestServer};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Sustained incident writes per second on SQLite and PostgreSQL")]
struct Args {
    /// Seconds each level runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent posters, comma-separated.
    #[arg(long, default_value = "1,2,4,8,16,32,64", value_delimiter = ',')]
    posters: Vec<usize>,
}

struct Level {
    posters: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut results = Vec::new();
    for backend in ["sqlite", "postgres"] {
        eprintln!("{backend}: preparing a copy of the demo district");
        let data = match backend {
            "sqlite" => Data::demo_sqlite().await?,
            _ => Data::demo_postgres().await?,
        };
        let server = TestServer::start_in(data, Options::default()).await?;
        let mut levels = Vec::new();
        for &n in &args.posters {
            let level = run_level(&server, n, Duration::from_secs(args.seconds)).await?;
            eprintln!(
                "{backend}: {n:>3} posters {:>8.1} writes/s  p50 {:.2} ms  p99 {:.2} ms",
                level.per_second,
                level.p50.as_secs_f64() * 1e3,
                level.p99.as_secs_f64() * 1e3
            );
            levels.push(level);
        }
        server.stop().await;
        results.push((backend, levels));
    }
    println!("sustained incident writes (POST /api/v1/incidents, each acknowledged after a durable commit)");
    println!(
        "  {:<10}{:>8}{:>12}{:>10}{:>10}",
        "backend", "posters", "writes/s", "p50 ms", "p99 ms"
    );
    for (backend, levels) in &results {
        for l in levels {
            println!(
                "  {backend:<10}{:>8}{:>12.1}{:>10.2}{:>10.2}",
                l.posters,
                l.per_second,
                l.p50.as_secs_f64() * 1e3,
                l.p99.as_secs_f64() * 1e3
            );
        }
        // Where latency turns: the first level whose throughput rose less than 10 % over the
        // level before while its p99 grew.
        let knee = levels
            .windows(2)
            .find(|w| w[1].per_second < w[0].per_second * 1.1 && w[1].p99 > w[0].p99);
        match knee {
            Some(w) => println!(
                "  {backend}: throughput flattens at {} posters ({:.0} writes/s); beyond it only latency grows",
                w[0].posters, w[0].per_second
            ),
            None => println!("  {backend}: still rising at the last level"),
        }
    }
    println!(
        "reproduce: cargo xtask bench-writes -- --seconds {} --posters {}",
        args.seconds,
        args.posters
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(())
}

async fn run_level(server: &TestServer, posters: usize, length: Duration) -> Result<Level> {
    let (lon, lat, _) = point_in_grid(server, 1).await?;
    let end = Instant::now() + length;
    let mut tasks = Vec::new();
    for p in 0..posters {
        let client = server.client().clone();
        let url = server.url("/api/v1/incidents");
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut i = 0;
            while Instant::now() < end {
                let body = json!({"category": "garbage", "lat": lat, "lon": lon, "description": format!("w{p}-{i}")});
                let t0 = Instant::now();
                let r = client.post(&url).json(&body).send().await?;
                let status = r.status();
                if !status.is_success() {
                    bail!("POST: {status}: {}", r.text().await.unwrap_or_default());
                }
                times.push(t0.elapsed());
                i += 1;
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().max(length);
    all.sort();
    let pct = |p: f64| {
        let rank = (p * all.len() as f64).ceil() as usize;
        all.get(rank.max(1) - 1).copied().unwrap_or_default()
    };
    Ok(Level {
        posters,
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
    })
}

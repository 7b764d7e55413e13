//! `live-latency`: how long an incident takes from `POST /api/v1/incidents` to its `incident`
//! message on every connected WebSocket client.
//!
//! Starts an in-process server (simulator off) with its own copy of the demo district, connects
//! `--clients` WebSocket clients (one task each), posts `--warmup` + `--events` incidents
//! `--interval-ms` apart and, per client and event, subtracts the instant taken just before the
//! POST was sent from the instant the client read the message. Run it with
//! `cargo xtask bench-live -- --clients 100 --events 500`.
//!
//! With `--replicas`, the same run then measures two replicas over one PostgreSQL database
//! (`ONEGRID_TEST_DATABASE_URL`, default the local server) and one NATS JetStream (`--bus`):
//! incidents are posted on replica A, the clients are connected to replica B.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::StreamExt;
use onegrid_tests::{point_in_grid, Data, Options, Session, TestServer};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

/// How long to wait after the last POST for every client to have every event.
const DRAIN: Duration = Duration::from_secs(30);
/// How long a client may take to connect and read its `hello`.
const CONNECT: Duration = Duration::from_secs(30);
const DEFAULT_WARMUP: usize = 20;

#[derive(Parser, Debug)]
#[command(about = "POST → WebSocket receipt latency of the live feed, with many clients")]
struct Args {
    /// Connected WebSocket clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Events measured (after the warmup).
    #[arg(long, default_value_t = 500)]
    events: usize,
    /// Pause after each POST, in milliseconds.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Events posted first and not counted.
    #[arg(long, default_value_t = DEFAULT_WARMUP)]
    warmup: usize,
    /// Also measure two replicas on PostgreSQL + NATS (post on A, clients on B).
    #[arg(long)]
    replicas: bool,
    /// NATS server for `--replicas`.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    bus: String,
}

/// One measurement's figures.
struct Figures {
    latencies: Vec<Duration>,
    round_trips: Vec<Duration>,
    lost: usize,
}

/// What one client saw: receipt instant per event number, and anything unexpected.
struct Received {
    at: Vec<Option<Instant>>,
    resyncs: usize,
    ended: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.clients > 0 && args.events > 0,
        "need clients and events"
    );
    let total = args.warmup + args.events;
    let options = Options {
        sim: false,
        ws_queue: 1024 + total,
        ..Default::default()
    };

    eprintln!("single server on SQLite: generating the demo district and starting (a few seconds)");
    let server = TestServer::start_in(Data::demo_sqlite().await?, options.clone()).await?;
    let single = measure(&args, &server, &server).await?;
    server.stop().await;
    report(
        "one server, SQLite (POST and clients on the same server)",
        &args,
        &single,
    );
    let mut lost = single.lost;

    if args.replicas {
        eprintln!("two replicas on PostgreSQL + NATS: preparing the database (tens of seconds)");
        let data = Data::empty_postgres(std::path::Path::new("")).await?;
        let stream = format!("BENCH{:08x}", rand::random::<u32>());
        let replica = Options {
            bus: Some((args.bus.clone(), stream)),
            ..options.clone()
        };
        // The first replica generates the demo district into the empty database.
        let a = TestServer::start_in(
            data,
            Options {
                demo: true,
                ..replica.clone()
            },
        )
        .await?;
        let b = TestServer::replica_of(&a, replica).await?;
        let pair = measure(&args, &a, &b).await?;
        b.stop().await;
        a.stop().await;
        report(
            "two replicas, PostgreSQL + NATS JetStream (POST on A, clients on B)",
            &args,
            &pair,
        );
        lost += pair.lost;
    }
    let warmup = if args.warmup == DEFAULT_WARMUP {
        String::new()
    } else {
        format!(" --warmup {}", args.warmup)
    };
    println!(
        "reproduce: cargo xtask bench-live -- --clients {} --events {} --interval-ms {}{warmup}{}",
        args.clients,
        args.events,
        args.interval_ms,
        if args.replicas { " --replicas" } else { "" }
    );
    if lost > 0 {
        bail!("{lost} deliveries lost");
    }
    Ok(())
}

/// Connects the clients to `watch`, posts on `post`, and collects the figures.
async fn measure(args: &Args, post: &TestServer, watch: &TestServer) -> Result<Figures> {
    let total = args.warmup + args.events;
    let (lon, lat, _) = point_in_grid(post, 0).await?;
    eprintln!("connecting {} clients", args.clients);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(client(
            watch.duty().clone(),
            watch.ws_url(""),
            total,
            ready_tx,
            stop_rx.clone(),
        ));
        clients.push((ready_rx, task));
    }
    let mut tasks = Vec::with_capacity(args.clients);
    for (n, (ready_rx, task)) in clients.into_iter().enumerate() {
        match tokio::time::timeout(CONNECT, ready_rx).await {
            Ok(Ok(())) => tasks.push(task),
            // The task dropped its sender: it failed before `hello`, and says why.
            Ok(Err(_)) => {
                task.await?.with_context(|| format!("client {n}"))?;
                bail!("client {n} ended before its hello");
            }
            Err(_) => bail!("client {n} had no hello within {CONNECT:?}"),
        }
    }
    eprintln!("{} clients connected; posting {total} events", args.clients);

    let http = post.client().clone();
    let url = post.url("/api/v1/incidents");
    let interval = Duration::from_millis(args.interval_ms);
    let mut sent = Vec::with_capacity(total);
    let mut round_trips = Vec::with_capacity(args.events);
    for i in 0..total {
        let body = json!({"category": "garbage", "lat": lat, "lon": lon, "description": format!("bench-{i}")});
        let t0 = Instant::now();
        sent.push(t0);
        let response = http.post(&url).json(&body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        let rtt = t0.elapsed();
        if !status.is_success() {
            bail!("POST {i}: {status}: {text}");
        }
        if i >= args.warmup {
            round_trips.push(rtt);
        }
        if (i + 1) % 100 == 0 {
            eprintln!("posted {}/{total}", i + 1);
        }
        tokio::time::sleep(interval).await;
    }

    let deadline = tokio::time::Instant::now() + DRAIN;
    let mut received = Vec::with_capacity(tasks.len());
    for mut task in tasks {
        let result = match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(result) => result,
            Err(_) => {
                // Tell the stragglers to hand over what they have.
                let _ = stop_tx.send(true);
                task.await
            }
        };
        received.push(result??);
    }

    let mut latencies = Vec::with_capacity(args.clients * args.events);
    let mut lost = 0;
    for (n, r) in received.iter().enumerate() {
        let missing = r.at.iter().filter(|t| t.is_none()).count();
        lost += missing;
        if missing > 0 || r.resyncs > 0 || r.ended.is_some() {
            let why = r.ended.as_deref().unwrap_or("-");
            eprintln!(
                "client {n}: {missing} missing, {} resync, ended: {why}",
                r.resyncs
            );
        }
        let measured = r.at.iter().zip(&sent).skip(args.warmup);
        latencies.extend(measured.filter_map(|(at, t0)| Some(at.as_ref()?.duration_since(*t0))));
    }
    latencies.sort();
    round_trips.sort();
    Ok(Figures {
        latencies,
        round_trips,
        lost,
    })
}

fn report(title: &str, args: &Args, f: &Figures) {
    let (l, r) = (&f.latencies, &f.round_trips);
    println!("live feed latency: POST /api/v1/incidents -> WebSocket `incident` receipt");
    println!("  {title}");
    println!("  {:<22}{:>9}", "clients", args.clients);
    println!(
        "  {:<22}{:>9}  (+{} warmup, {} ms pause after each POST)",
        "events measured", args.events, args.warmup, args.interval_ms
    );
    println!("  {:<22}{:>9}", "samples", l.len());
    println!(
        "  {:<22}{:>9}  (all events, warmup included)",
        "lost", f.lost
    );
    row("", ["median", "p90", "p99", "max"].map(String::from));
    let receipt = [pct(l, 0.5), pct(l, 0.9), pct(l, 0.99), l.last().copied()];
    row("POST->receipt (ms)", receipt.map(ms));
    row(
        "POST round trip (ms)",
        [pct(r, 0.5), None, pct(r, 0.99), None].map(ms),
    );
}

/// One table row: a label and four right-aligned cells.
fn row(label: &str, cells: [String; 4]) {
    let [a, b, c, d] = cells;
    println!("  {label:<22}{a:>9}{b:>9}{c:>9}{d:>9}");
}

/// Milliseconds with two decimals.
fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

/// One WebSocket client: reads `hello`, signals `ready`, then records when each `bench-<i>`
/// incident arrives until it has all `total` of them or is told to stop.
async fn client(
    session: Session,
    url: String,
    total: usize,
    ready: oneshot::Sender<()>,
    mut stop: watch::Receiver<bool>,
) -> Result<Received> {
    let mut ws = session.try_ws(&url).await?;
    loop {
        let msg = ws.next().await.context("closed before hello")??;
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == "hello" {
                break;
            }
            bail!("expected hello first, got {text}");
        }
    }
    let _ = ready.send(());

    let mut got = Received {
        at: vec![None; total],
        resyncs: 0,
        ended: None,
    };
    let mut remaining = total;
    while remaining > 0 {
        let msg = tokio::select! {
            msg = ws.next() => msg,
            _ = stop.changed() => break,
        };
        let at = Instant::now();
        let text = match msg {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                got.ended = Some(e.to_string());
                break;
            }
            None => {
                got.ended = Some("closed by the server".into());
                break;
            }
        };
        let v: Value = serde_json::from_str(&text)?;
        match v["type"].as_str() {
            Some("incident") => {
                let event = v["incident"]["description"]
                    .as_str()
                    .and_then(|d| d.strip_prefix("bench-"))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(slot) = event.and_then(|i| got.at.get_mut(i)) {
                    if slot.is_none() {
                        *slot = Some(at);
                        remaining -= 1;
                    }
                }
            }
            Some("resync") => got.resyncs += 1,
            _ => {}
        }
    }
    Ok(got)
}

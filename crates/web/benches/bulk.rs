//! How fast a 一括処理 run captures: N authorized GMO orders captured by one run through the
//! bundled GMO sandbox over loopback HTTP, on SQLite and (with `JUCHU_TEST_DATABASE_URL`) on
//! PostgreSQL. Prints orders/s, per-item p50 / p99 (the operation's journal row to its
//! settlement), the raw commit rate of the equivalent transactions without a gateway (two
//! commits per item: journal, settlement) at the same concurrency, the peak RSS, and checks
//! that the sandbox's ledger holds exactly one capture per order.
//!
//! `cargo bench -p juchu-web --bench bulk` (release), `BULK_ORDERS=10000` to change N
//! (default 2,000), `BULK_CONCURRENCY` the per-gateway concurrency (default 8).

use std::time::{Duration, Instant};

use juchu_app::payments::{self, AuthorizeInput, BulkInput};
use juchu_app::{Actor, App};
use juchu_domain::payment::Action;
use juchu_store::Store;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run(label: &str, url: &str, orders: usize, concurrency: usize) {
    let store = Store::connect(url).await.expect("store");
    store.migrate().await.expect("migrate");
    let sandbox = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = App::new(store.clone())
        .with_bulk(concurrency, Duration::from_secs(60))
        .with_endpoints(juchu_app::connectors::Endpoints::sandbox(
            &format!("http://{addr}"),
            Duration::from_secs(30),
        ))
        .expect("connectors");
    let router = sandbox.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (shop, _) = juchu_app::shops::ensure(&app, "bench", "ベンチ")
        .await
        .expect("shop");
    let actor = Actor {
        name: "bench".into(),
        ..Actor::system(shop.id)
    };
    let input: juchu_domain::order::OrderInput = serde_json::from_value(serde_json::json!({
        "customer": {"family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ",
            "given_kana": "ハナコ", "postal_code": "100-0001", "prefecture": "東京都",
            "address1": "千代田区千代田1-1", "tel": "03-1234-5678"},
        "email": "hanako@example.jp",
        "items": [{"product_code": "TS-M", "product_name": "Tシャツ", "unit_price": 2990, "quantity": 2}],
        "shipping_fee": 600,
        "payment_method": "gmo_card"
    }))
    .expect("order input");
    let prepared = Instant::now();
    let mut numbers = Vec::with_capacity(orders);
    for _ in 0..orders {
        let o = juchu_app::orders::create(
            &app,
            &actor,
            input.clone(),
            juchu_app::orders::Intake::Import,
        )
        .await
        .expect("order");
        numbers.push(o.number);
    }
    // Authorized 16 at a time.
    futures_util::StreamExt::for_each_concurrent(
        futures_util::stream::iter(numbers.clone()),
        16,
        |n| {
            let (app, actor) = (&app, &actor);
            async move {
                let r = payments::authorize(
                    app,
                    actor,
                    n,
                    AuthorizeInput {
                        test_card_number: Some("4111111111111111".into()),
                        test_card_expire: Some("3012".into()),
                        ..Default::default()
                    },
                    None,
                )
                .await
                .expect("authorize");
                assert_eq!(r.status, juchu_domain::payment::OpStatus::Succeeded);
            }
        },
    )
    .await;
    eprintln!(
        "{label}: {orders} orders authorized in {:.1?}",
        prepared.elapsed()
    );
    // A shop's tables grow over months and the database keeps its statistics current
    // (PostgreSQL's autovacuum); these grew from nothing in seconds. Without this PostgreSQL
    // plans for the six orders it last counted.
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");

    let started = Instant::now();
    let run = payments::start_bulk(
        &app,
        &actor,
        BulkInput {
            action: Action::Capture,
            numbers: numbers.clone(),
            search: None,
        },
        Some(format!("bench-{label}")),
    )
    .await
    .expect("start");
    let view = loop {
        let v = payments::bulk_run(&app, &actor, run.id).await.expect("run");
        if v.state == "done" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let took = started.elapsed();
    assert_eq!(view.succeeded as usize, orders, "{view:?}");

    // Per item: the capture's journal row to its settlement.
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT created_at, finished_at FROM payment_operations WHERE action = 'capture'",
    )
    .fetch_all(store.pool())
    .await
    .expect("operations");
    let mut lat: Vec<f64> = rows
        .iter()
        .filter_map(|(a, b)| {
            let a: jiff::Timestamp = a.parse().ok()?;
            let b: jiff::Timestamp = b.as_deref()?.parse().ok()?;
            Some(b.duration_since(a).as_secs_f64() * 1000.0)
        })
        .collect();
    let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));

    // The sandbox took exactly one capture per order.
    let ledger: serde_json::Value = reqwest::get(format!("http://{addr}/_sandbox/ledger"))
        .await
        .expect("ledger")
        .json()
        .await
        .expect("ledger json");
    let sales = ledger["gmo"]
        .as_array()
        .expect("gmo ledger")
        .iter()
        .flat_map(|t| t["history"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["api"] == "AlterTran" && e["job_cd"] == "SALES" && e["result"] == "OK")
        .count();
    assert_eq!(sales, orders, "one capture per order at the gateway");

    // The same transactions without a gateway: per item, a journal insert committed, then
    // its settlement committed, `concurrency` items at a time.
    sqlx::query(
        "CREATE TABLE bench_ops (id BIGINT PRIMARY KEY, status TEXT NOT NULL, at TEXT NOT NULL)",
    )
    .execute(store.pool())
    .await
    .expect("bench table");
    let raw = Instant::now();
    futures_util::StreamExt::for_each_concurrent(
        futures_util::stream::iter(0..orders as i64),
        concurrency,
        |i| {
            let store = &store;
            async move {
                let mut tx = store.begin().await.expect("begin");
                sqlx::query("INSERT INTO bench_ops (id, status, at) VALUES ($1, 'pending', $2)")
                    .bind(i)
                    .bind("2024-08-19T01:00:00Z")
                    .execute(tx.conn())
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
                let mut tx = store.begin().await.expect("begin");
                sqlx::query("UPDATE bench_ops SET status = 'succeeded' WHERE id = $1")
                    .bind(i)
                    .execute(tx.conn())
                    .await
                    .expect("update");
                tx.commit().await.expect("commit");
            }
        },
    )
    .await;
    let raw_rate = orders as f64 / raw.elapsed().as_secs_f64();
    let rate = orders as f64 / took.as_secs_f64();
    println!(
        "{label}: {orders} captures in {:.2?} = {rate:.0} orders/s; per item p50 {p50:.1} ms, p99 {p99:.1} ms; \
         raw commits (2 per item, no gateway) {raw_rate:.0} items/s → {:.0}% of raw; peak RSS {:.0} MB; ledger: {sales} captures",
        took,
        rate / raw_rate * 100.0,
        peak_rss_mb()
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let orders = env_usize("BULK_ORDERS", 2000);
    let concurrency = env_usize("BULK_CONCURRENCY", 8);
    let dir = std::env::temp_dir().join(format!("juchu-bulk-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    run(
        "SQLite",
        &format!("sqlite://{}/bench.db", dir.display()),
        orders,
        concurrency,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(admin) = std::env::var("JUCHU_TEST_DATABASE_URL") {
        use sqlx::Connection;
        let name = format!("juchu_bench_{}", std::process::id());
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut c)
            .await
            .expect("create database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => admin.clone(),
        };
        run("PostgreSQL", &url, orders, concurrency).await;
        let _ = sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}

//! How fast the 受注管理 search screen answers: the whole request (session, search, count,
//! page of results, template) over HTTP on 127.0.0.1, on a SQLite database filled with the
//! demo shop (`serve`'s 500 orders) and then with 20,000 orders.
//!
//! `cargo bench -p juchu-web --bench search` (release) or, reusing the test build,
//! `cargo bench -p juchu-web --bench search --profile dev` (slower: an upper bound).
//! Prints the median, 95th percentile and slowest of 30 requests per search.

use std::time::{Duration, Instant};

use juchu_app::{App, demo};
use juchu_store::Store;

const SEARCHES: [(&str, &str); 12] = [
    ("受注一覧（初期表示）", ""),
    ("顧客名", "name=%E5%B1%B1"),
    ("顧客名(カナ)", "kana=%E3%83%A4%E3%83%9E"),
    ("TEL", "tel=090"),
    ("メールアドレス", "email=example"),
    ("対応状況 複数", "status=new&status=paid&status=shipped"),
    (
        "支払方法 複数",
        "payment_method=gmo_card&payment_method=paygent_card&payment_method=paidy",
    ),
    (
        "受注日 範囲",
        "ordered_from=2024/01/01&ordered_to=2030-12-31",
    ),
    ("購入金額 範囲", "amount_min=3000&amount_max=20000"),
    ("備考あり + 性別", "has_remarks=1&sex=female"),
    ("外部決済注文番号", "gateway_ref=nothing-matches"),
    (
        "購入金額順 100件/ページ 2ページ目",
        "sort=amount_desc&per_page=100&page=2",
    ),
];

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.95), v[v.len() - 1])
}

/// More orders like the demo's: copies of them as guest orders, taken in as imports (no
/// stock or points moved), so every search has many more rows to look through.
async fn grow(app: &App, orders: usize) {
    let session = juchu_app::access::login(app, demo::ADMIN_LOGIN, demo::DEMO_PASSWORD, "bench")
        .await
        .expect("login");
    let (actor, _) = juchu_app::access::session(app, &session.token)
        .await
        .expect("session");
    let mut models = Vec::new();
    for n in 1..=500 {
        if let Ok(o) = juchu_app::orders::get(app, &actor, n).await {
            let mut i = o.draft.to_input();
            i.customer_id = None;
            i.points_used = 0;
            i.points_earned = 0;
            i.gateway_ref = String::new();
            if i.status.as_deref() == Some("pending_payment") {
                i.status = Some("new".to_owned());
            }
            models.push(i);
        }
    }
    for k in 0..orders.saturating_sub(500) {
        let i = models[k % models.len()].clone();
        juchu_app::orders::create(app, &actor, i, juchu_app::orders::Intake::Import)
            .await
            .expect("import");
    }
}

async fn run(orders: usize) {
    let dir = std::env::temp_dir().join(format!("juchu-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.display());
    let store = Store::connect(&url).await.expect("store");
    store.migrate().await.expect("migrate");
    let app = App::new(store);
    let seeded = Instant::now();
    demo::seed(&app, 500.min(orders)).await.expect("seed");
    if orders > 500 {
        grow(&app, orders).await;
    }
    eprintln!("seeded {orders} orders in {:.1?}", seeded.elapsed());
    let session = juchu_app::access::login(&app, demo::ADMIN_LOGIN, demo::DEMO_PASSWORD, "bench")
        .await
        .expect("login");
    let router = juchu_web::router(
        app,
        juchu_web::WebConfig {
            secure_cookies: false,
            recovery_grace: Duration::from_secs(120),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let client = reqwest::Client::new();
    let cookie = format!("juchu_session={}", session.token);
    println!("\n{orders} orders (SQLite)");
    println!(
        "{:>8} {:>9} {:>9} {:>9}  search",
        "results", "median", "p95", "max"
    );
    for (label, q) in SEARCHES {
        let url = format!("http://{addr}/admin/orders?{q}");
        let mut times = Vec::with_capacity(30);
        let mut total = String::new();
        for i in 0..31 {
            let t = Instant::now();
            let r = client
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request");
            assert!(r.status().is_success(), "{label}: {}", r.status());
            let body = r.text().await.expect("body");
            // The first request warms the connection and caches; it is not counted.
            if i > 0 {
                times.push(t.elapsed());
            }
            total = body
                .split("<span id=\"total\">")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap_or("?")
                .to_owned();
        }
        let (med, p95, max) = stats(times);
        println!("{total:>8} {med:>9.1?} {p95:>9.1?} {max:>9.1?}  {label}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: run only
    // when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    run(500).await;
    run(20_000).await;
}

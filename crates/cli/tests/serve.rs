//! The binary as a fresh machine runs it: `juchu serve` with no options in an empty
//! directory creates ./data/juchu.db with the demo shop, answers /healthz, shows the login
//! page, and an authenticated search returns demo orders.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of its own for each test (tests run in parallel in one process).
fn temp_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let p = std::env::temp_dir().join(format!("juchu-cli-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Send and read the JSON answer (the tests' servers answer JSON or the test fails).
trait JsonOf {
    async fn json_of(self) -> serde_json::Value;
}

impl JsonOf for reqwest::RequestBuilder {
    async fn json_of(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

fn juchu(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_juchu"));
    c.current_dir(dir)
        .env_remove("JUCHU_DATABASE_URL")
        .env_remove("JUCHU_LISTEN");
    c
}

fn start(dir: &std::path::Path, args: &[&str]) -> Server {
    let mut child = juchu(dir)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start juchu serve");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches("/admin")
                    .to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("juchu printed its URL");
    Server { child, base }
}

#[tokio::test]
async fn fresh_directory_serves_demo_shop() {
    let dir = temp_dir();
    let s = start(&dir, &["--listen", "127.0.0.1:0"]);
    assert!(
        dir.join("data/juchu.db").exists(),
        "default database under ./data"
    );
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = c
        .get(format!("{}/admin/orders", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "pages need a login");
    let r = c
        .get(format!("{}/admin/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("ログインID"));
    let tok: serde_json::Value = c
        .post(format!("{}/api/v1/auth/token", s.base))
        .json(&serde_json::json!({"login": "admin", "password": "juchu-demo", "name": "cli test"}))
        .json_of()
        .await;
    let token = tok["token"].as_str().expect("demo login works");
    let v: serde_json::Value = c
        .get(format!("{}/api/v1/orders?list=all&per_page=1000", s.base))
        .bearer_auth(token)
        .json_of()
        .await;
    assert_eq!(v["total"], 500, "~500 demo orders");
    let orders = v["orders"].as_array().unwrap();
    let methods: std::collections::BTreeSet<&str> = orders
        .iter()
        .map(|o| o["payment_method"].as_str().unwrap())
        .collect();
    let statuses: std::collections::BTreeSet<&str> = orders
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    let lists: std::collections::BTreeSet<&str> =
        orders.iter().map(|o| o["list"].as_str().unwrap()).collect();
    assert!(methods.len() >= 10, "{methods:?}");
    assert!(statuses.len() >= 5, "{statuses:?}");
    assert_eq!(lists.len(), 3, "{lists:?}");
    // The bundled gateway sandbox answers on the same port; its control API (which can
    // mark an order paid) only with --sandbox-control.
    let r = c
        .get(format!("{}/_sandbox/clock", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .post(format!("{}/gmo/payment/SearchTrade.idPass", s.base))
        .body("OrderID=none&ShopID=tshop00000001&ShopPass=sandbox1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ErrCode=E01&ErrInfo=E01110002");
    // Demo card and Paidy orders get payments at the bundled sandboxes once serving starts.
    let v: serde_json::Value = c
        .get(format!(
            "{}/api/v1/orders?payment_method=paidy&status=new&per_page=1",
            s.base
        ))
        .bearer_auth(token)
        .json_of()
        .await;
    let n = v["orders"][0]["number"]
        .as_i64()
        .expect("a new Paidy order");
    let mut p = serde_json::Value::Null;
    for _ in 0..100 {
        let r = c
            .get(format!("{}/api/v1/orders/{n}/payment", s.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            p = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p["state"], "authorized", "demo payment: {p}");
    // Demo orders waiting for a konbini / ATM / net-bank / Pay-easy payment have one too.
    let mut checked = 0;
    for method in ["paygent_konbini", "gmo_konbini", "paygent_atm"] {
        let v: serde_json::Value = c
            .get(format!(
                "{}/api/v1/orders?payment_method={method}&status=awaiting_payment&per_page=1",
                s.base
            ))
            .bearer_auth(token)
            .json_of()
            .await;
        let Some(n) = v["orders"][0]["number"].as_i64() else {
            continue;
        };
        let mut p = serde_json::Value::Null;
        for _ in 0..100 {
            p = c
                .get(format!("{}/api/v1/orders/{n}/payment", s.base))
                .bearer_auth(token)
                .json_of()
                .await;
            if p["state"] == "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            p["state"], "pending",
            "{method} demo order {n}: a slip to pay: {p}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "demo orders awaiting a konbini / ATM payment");
    drop(s);
    // A restart keeps the data and does not seed twice.
    let s = start(&dir, &["--listen", "127.0.0.1:0"]);
    let v: serde_json::Value = c
        .get(format!("{}/api/v1/orders?list=all&per_page=1", s.base))
        .bearer_auth(token)
        .json_of()
        .await;
    assert_eq!(v["total"], 500);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_add_reads_the_password_from_stdin() {
    let dir = temp_dir();
    let run = |args: &[&str], stdin: &str| {
        let mut child = juchu(&dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "user", "add", "--login", "suzuki", "--name", "鈴木", "--role", "admin",
        ],
        "long-password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["user", "add", "--login", "suzuki", "--name", "鈴木"],
        "long-password\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("すでに使われています"));
    let out = run(
        &["user", "add", "--login", "tanaka", "--name", "田中"],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("8文字以上"));
    let out = run(
        &["token", "create", "--login", "suzuki", "--name", "batch"],
        "",
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("juchu_"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An empty PostgreSQL database `name` beside the admin URL's; the admin connection (to drop
/// it afterwards) and its URL.
async fn fresh_database(admin: &str, name: &str) -> (sqlx::PgConnection, String) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    (c, url)
}

#[tokio::test]
async fn migrate_on_postgres() {
    use sqlx::Connection;
    let Ok(admin) = std::env::var("JUCHU_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set JUCHU_TEST_DATABASE_URL"
        );
        return;
    };
    let name = format!("juchu_cli_{}", std::process::id());
    let (mut c, url) = fresh_database(&admin, &name).await;
    let dir = temp_dir();
    // Twice: migrations are idempotent, and several processes may start against one database.
    for _ in 0..2 {
        let out = juchu(&dir)
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    }
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    db.close().await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut c)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The process really dies between the gateway call and the commit: GMO has captured, juchu
/// never recorded it. The next process's recovery job asks GMO (SearchTrade) and records the
/// capture; nothing is sent to GMO again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_capture_is_settled_by_recovery_after_restart() {
    use serde_json::{Value, json};
    // The gateway sandbox lives in this test process, so it outlives juchu.
    let sb_url = sandbox().await;
    let dir = temp_dir();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--no-sandbox",
        "--gateway-sandbox-url",
        &sb_url,
        "--recovery-grace-secs",
        "0",
    ];
    let s = start(&dir, &args);
    let c = reqwest::Client::new();
    let token = admin_token(&c, &s.base).await;
    let order: Value = c
        .post(format!("{}/api/v1/orders?import=true", s.base))
        .bearer_auth(&token)
        .json(&json!({
            "customer": {"family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1", "tel": "03-1234-5678"},
            "email": "hanako@example.jp",
            "items": [{"product_code": "X-1", "product_name": "試験品", "unit_price": 3000, "tax_rate": 10, "quantity": 1}],
            "payment_method": "gmo_card"
        }))
        .json_of()
        .await;
    let n = order["number"].as_i64().expect("order created");
    let auth: Value = c
        .post(format!("{}/api/v1/orders/{n}/payment", s.base))
        .bearer_auth(&token)
        .json(&json!({"test_card_number": "4111111111111111", "test_card_expire": "3012"}))
        .json_of()
        .await;
    assert_eq!(auth["status"], "succeeded", "{auth}");
    let order_id = auth["payment_id"].as_str().unwrap().to_owned();
    // GMO commits the capture, then holds its answer: juchu is waiting when it dies.
    c.post(format!("{sb_url}/_sandbox/faults"))
        .json(&json!({"gateway": "gmo", "operation": "AlterTran", "kind": "hold_after", "delay_ms": 60000, "times": 1}))
        .send()
        .await
        .unwrap();
    let capture = {
        let (c, base, token) = (c.clone(), s.base.clone(), token.clone());
        tokio::spawn(async move {
            c.post(format!("{base}/api/v1/orders/{n}/payment/capture"))
                .bearer_auth(token)
                .send()
                .await
        })
    };
    let status_at_gmo = || async {
        let l: Value = c.get(format!("{sb_url}/_sandbox/ledger")).json_of().await;
        let t = l["gmo"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["order_id"] == order_id.as_str())
            .unwrap()
            .clone();
        (
            t["status"].as_str().unwrap().to_owned(),
            t["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["api"] == "AlterTran")
                .count(),
        )
    };
    for _ in 0..100 {
        if status_at_gmo().await.0 == "SALES" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_at_gmo().await, ("SALES".to_owned(), 1));
    // SIGKILL: no shutdown, no commit.
    drop(s);
    assert!(
        capture.await.unwrap().is_err(),
        "the caller lost its answer"
    );
    // A new process: the recovery job runs at start-up and asks GMO.
    let s = start(&dir, &args);
    let mut p = Value::Null;
    for _ in 0..100 {
        p = c
            .get(format!("{}/api/v1/orders/{n}/payment", s.base))
            .bearer_auth(&token)
            .json_of()
            .await;
        if p["open_operation"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p["state"], "captured", "{p}");
    assert_eq!(p["operations"][0]["action"], "capture");
    assert_eq!(p["operations"][0]["status"], "succeeded");
    assert!(
        p["operations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("照会の結果"),
        "{p}"
    );
    assert_eq!(
        status_at_gmo().await,
        ("SALES".to_owned(), 1),
        "nothing sent again"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An API token of the demo admin.
async fn admin_token(c: &reqwest::Client, base: &str) -> String {
    let tok: serde_json::Value = c
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"login": "admin", "password": "juchu-demo", "name": "cli test"}))
        .json_of()
        .await;
    tok["token"].as_str().expect("demo login works").to_owned()
}

/// `count` imported GMO card orders, each authorized; their numbers.
async fn authorized_gmo_orders(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    count: usize,
) -> Vec<i64> {
    use serde_json::{Value, json};
    let mut numbers = Vec::new();
    for _ in 0..count {
        let order: Value = c
            .post(format!("{base}/api/v1/orders?import=true"))
            .bearer_auth(token)
            .json(&json!({
                "customer": {"family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                    "postal_code": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1", "tel": "03-1234-5678"},
                "email": "hanako@example.jp",
                "items": [{"product_code": "X-1", "product_name": "試験品", "unit_price": 3000, "tax_rate": 10, "quantity": 1}],
                "payment_method": "gmo_card"
            }))
            .json_of()
            .await;
        let n = order["number"].as_i64().expect("order created");
        let auth: Value = c
            .post(format!("{base}/api/v1/orders/{n}/payment"))
            .bearer_auth(token)
            .json(&json!({"test_card_number": "4111111111111111", "test_card_expire": "3012"}))
            .json_of()
            .await;
        assert_eq!(auth["status"], "succeeded", "{auth}");
        numbers.push(n);
    }
    numbers
}

/// GMO captures the sandbox took (AlterTran SALES).
async fn gmo_captures(c: &reqwest::Client, sb_url: &str) -> usize {
    let l: serde_json::Value = c.get(format!("{sb_url}/_sandbox/ledger")).json_of().await;
    l["gmo"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["history"].as_array().unwrap().clone())
        .filter(|e| e["api"] == "AlterTran" && e["job_cd"] == "SALES")
        .count()
}

/// A sandbox in this test process (it outlives the juchu processes); its URL.
async fn sandbox() -> String {
    let sb = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = sb.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// 一括処理 survives its process: `juchu serve` is killed (SIGKILL) in the middle of a bulk
/// capture; the next process resumes the run (the dead one's items after their lease) and the
/// gateway's ledger shows each order captured exactly once. Then `juchu bulk` runs a 状態確認
/// from the command line against the same database and prints the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_killed_mid_way_resumes_after_restart() {
    use serde_json::{Value, json};
    let sb_url = sandbox().await;
    let dir = temp_dir();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--no-sandbox",
        "--gateway-sandbox-url",
        &sb_url,
        "--recovery-grace-secs",
        "0",
        "--recovery-interval-secs",
        "1",
        "--bulk-concurrency",
        "2",
        "--bulk-lease-secs",
        "2",
    ];
    let s = start(&dir, &args);
    let c = reqwest::Client::new();
    let token = admin_token(&c, &s.base).await;
    let numbers = authorized_gmo_orders(&c, &s.base, &token, 30).await;
    // Each capture takes a while, so the run is in the middle when the process dies.
    c.post(format!("{sb_url}/_sandbox/faults"))
        .json(
            &json!({"gateway": "gmo", "operation": "AlterTran", "kind": "delay", "delay_ms": 150}),
        )
        .send()
        .await
        .unwrap();
    let run: Value = c
        .post(format!("{}/api/v1/payments/bulk", s.base))
        .bearer_auth(&token)
        .header("Idempotency-Key", "kill-test")
        .json(&json!({"action": "capture", "numbers": numbers}))
        .json_of()
        .await;
    let id = run["id"].as_i64().expect("run started");
    let captures = || gmo_captures(&c, &sb_url);
    for _ in 0..200 {
        if captures().await >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL mid-run.
    drop(s);
    let at_kill = captures().await;
    assert!((5..30).contains(&at_kill), "killed mid-run: {at_kill}");
    c.delete(format!("{sb_url}/_sandbox/faults"))
        .send()
        .await
        .unwrap();
    // The next process resumes the run.
    let s = start(&dir, &args);
    let v = run_when_done(&c, &s.base, &token, id).await;
    assert_eq!(v["succeeded"], 30, "{v}");
    assert_eq!(captures().await, 30, "each order captured once at GMO");
    // The command line: 状態確認 of two orders, worked by the command itself.
    let out = juchu(&dir)
        .args([
            "bulk",
            "refresh",
            "--number",
            &numbers[0].to_string(),
            "--number",
            &numbers[1].to_string(),
            "--gateway-sandbox-url",
            &sb_url,
        ])
        .output()
        .expect("juchu bulk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("成功 2件"), "{text}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bulk run `id` as `base` shows it once it is done (30 s at the most).
async fn run_when_done(c: &reqwest::Client, base: &str, token: &str, id: i64) -> serde_json::Value {
    let mut v = serde_json::Value::Null;
    for _ in 0..300 {
        v = c
            .get(format!("{base}/api/v1/payments/bulk/{id}"))
            .bearer_auth(token)
            .json_of()
            .await;
        if v["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(v["state"], "done", "{v}");
    v
}

/// Two `juchu serve` processes on one PostgreSQL share a run: the second joins the run the
/// first started, each order is taken by one of them, and GMO captures each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgresql_share_a_bulk_run() {
    use serde_json::{Value, json};
    let Ok(admin) = std::env::var("JUCHU_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set JUCHU_TEST_DATABASE_URL"
        );
        return;
    };
    let name = format!("juchu_cli_bulk_{}", std::process::id());
    let (mut pg, url) = fresh_database(&admin, &name).await;
    let sb_url = sandbox().await;
    let dir = temp_dir();
    let args = [
        "--database-url",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--no-sandbox",
        "--gateway-sandbox-url",
        &sb_url,
        "--bulk-concurrency",
        "1",
    ];
    let a = start(&dir, &args);
    let b = start(&dir, &args);
    let c = reqwest::Client::new();
    let token = admin_token(&c, &a.base).await;
    let numbers = authorized_gmo_orders(&c, &a.base, &token, 24).await;
    // Slow captures: the second process's job (every 5 s) joins while the first still works.
    c.post(format!("{sb_url}/_sandbox/faults"))
        .json(
            &json!({"gateway": "gmo", "operation": "AlterTran", "kind": "delay", "delay_ms": 400}),
        )
        .send()
        .await
        .unwrap();
    let before = gmo_captures(&c, &sb_url).await;
    let run: Value = c
        .post(format!("{}/api/v1/payments/bulk", a.base))
        .bearer_auth(&token)
        .json(&json!({"action": "capture", "numbers": numbers}))
        .json_of()
        .await;
    let id = run["id"].as_i64().expect("run started");
    let v = run_when_done(&c, &b.base, &token, id).await;
    assert_eq!(v["succeeded"], 24, "{v}");
    assert_eq!(
        gmo_captures(&c, &sb_url).await - before,
        24,
        "each order captured once"
    );
    let items: Value = c
        .get(format!("{}/api/v1/payments/bulk/{id}/items", a.base))
        .bearer_auth(&token)
        .json_of()
        .await;
    let workers: std::collections::BTreeSet<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["worker"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        workers.len(),
        2,
        "both processes worked the run: {workers:?}"
    );
    drop((a, b));
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut pg)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

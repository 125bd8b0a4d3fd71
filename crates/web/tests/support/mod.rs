//! Test harness: a real juchu server on 127.0.0.1:0 with its own database (a temporary
//! SQLite file, or a uniquely named PostgreSQL database that is dropped afterwards), a
//! pinned clock, a shop with an admin and an operator, and a small catalog.

#![allow(dead_code)]

use jiff::Timestamp;
use juchu_app::access::NewUser;
use juchu_app::{Actor, App};
use juchu_store::Store;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generate one test per backend from `async fn name(t: TestApp)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::support::TestApp::start($crate::support::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { if let Some(t) = $crate::support::TestApp::start_pg().await { super::$name(t).await } } )* }
    };
}

pub const ADMIN: &str = "admin";
pub const OPERATOR: &str = "operator";
pub const PASSWORD: &str = "test-password";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
    pub operator_token: String,
    pub app: App,
    pub shop_id: i64,
    /// The gateway sandboxes, on the same port; their clock is juchu's.
    pub sandbox: juchu_sandbox::Sandbox,
    /// Where the app writes mails (.eml).
    pub mail_dir: TempDir,
    _db: DbGuard,
}

struct DbGuard {
    pg: Option<(String, String)>,
    _dir: Option<TempDir>,
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("juchu-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the SQL.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut c = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut c)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

fn replace_db(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(a, b)| (a, Some(b)))
        .unwrap_or((url, None));
    let cut = base.rfind('/').expect("database url has a path");
    let mut out = format!("{}/{}", &base[..cut], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestApp {
    /// The PostgreSQL variant: runs when JUCHU_TEST_DATABASE_URL is set. CI sets it and
    /// fails rather than skip when it is missing.
    pub async fn start_pg() -> Option<TestApp> {
        if std::env::var("JUCHU_TEST_DATABASE_URL").is_err() {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set JUCHU_TEST_DATABASE_URL"
            );
            eprintln!("JUCHU_TEST_DATABASE_URL not set: PostgreSQL variant not run");
            return None;
        }
        Some(TestApp::start(Backend::Postgres).await)
    }

    pub async fn start(backend: Backend) -> TestApp {
        let (url, guard) = match backend {
            Backend::Sqlite => {
                let dir = TempDir::new();
                let url = format!("sqlite://{}/juchu.db", dir.0.display());
                (
                    url,
                    DbGuard {
                        pg: None,
                        _dir: Some(dir),
                    },
                )
            }
            Backend::Postgres => {
                let admin =
                    std::env::var("JUCHU_TEST_DATABASE_URL").expect("JUCHU_TEST_DATABASE_URL");
                let name = format!("juchu_test_{}", uuid::Uuid::new_v4().simple());
                {
                    use sqlx::Connection;
                    let mut c = sqlx::PgConnection::connect(&admin)
                        .await
                        .expect("connect to PostgreSQL");
                    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                        .execute(&mut c)
                        .await
                        .expect("create test database");
                }
                (
                    replace_db(&admin, &name),
                    DbGuard {
                        pg: Some((admin, name)),
                        _dir: None,
                    },
                )
            }
        };
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        // One clock for juchu and the gateway sandboxes it talks to, frozen until a test
        // moves it.
        let sandbox = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default());
        let start: Timestamp = "2024-08-19T01:00:00Z".parse().expect("ts");
        sandbox.clock.set(start, true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sb_clock = sandbox.clock.clone();
        // Mails are written as .eml files here.
        let mail_dir = TempDir::new();
        let app = App::with_clock(store, move || sb_clock.now())
            .with_mailer(juchu_app::mail::Mailer::Files(mail_dir.0.clone()))
            .with_endpoints(
                // A short timeout, so a held answer is a lost one within a test.
                juchu_app::connectors::Endpoints::sandbox(
                    &format!("http://{addr}"),
                    std::time::Duration::from_secs(2),
                ),
            )
            .expect("connectors");
        let (shop, _) = juchu_app::shops::ensure(&app, "test", "テストショップ")
            .await
            .expect("shop");
        for (login, name, role) in [
            (ADMIN, "管理 太郎", "admin"),
            (OPERATOR, "受注 花子", "operator"),
        ] {
            juchu_app::access::add_user_to_shop(
                &app,
                shop.id,
                &NewUser {
                    login: login.into(),
                    name: name.into(),
                    password: PASSWORD.into(),
                    role: role.into(),
                },
            )
            .await
            .expect("user");
        }
        for g in ["paygent", "gmo", "paidy"] {
            sandbox.notify_to(g, Some(format!("http://{addr}/notify/test/{g}")));
        }
        let router = juchu_web::router(
            app.clone(),
            juchu_web::WebConfig {
                secure_cookies: false,
                recovery_grace: std::time::Duration::from_secs(120),
            },
        )
        .merge(sandbox.router());
        tokio::spawn(async move {
            let _ = juchu_web::serve(listener, router, std::future::pending()).await;
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut t = TestApp {
            base: format!("http://{addr}"),
            client,
            token: String::new(),
            operator_token: String::new(),
            app,
            shop_id: shop.id,
            sandbox,
            mail_dir,
            _db: guard,
        };
        t.token = t.login_token(ADMIN).await;
        t.operator_token = t.login_token(OPERATOR).await;
        t.seed_catalog().await;
        t
    }

    async fn login_token(&self, login: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&json!({"login": login, "password": PASSWORD, "name": "tests"}))
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Set juchu's and the sandboxes' clock (frozen there).
    pub fn set_now(&self, t: &str) {
        let ts: Timestamp = t.parse().expect("timestamp");
        self.sandbox.clock.set(ts, true);
    }

    pub fn actor(&self) -> Actor {
        Actor {
            name: "テスト".into(),
            ..Actor::system(self.shop_id)
        }
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        self.client
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.req(Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.req(Method::PATCH, path).json(&body)).await
    }

    /// Create an order by import (stock untouched); returns its JSON.
    pub async fn import(&self, body: Value) -> Value {
        let (st, v) = self.post("/api/v1/orders?import=true", body).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v
    }

    /// An order of 7,660円 (`order_json`) paid by `method` (`gmo_card`, `paygent_konbini` …).
    pub async fn order_paid_by(&self, method: &str) -> i64 {
        let mut o = order_json();
        o["payment_method"] = json!(method);
        self.import(o).await["number"]
            .as_i64()
            .expect("order number")
    }

    /// An order paid by `method` (a card method or `paidy`), authorized (仮売上).
    pub async fn authorized_order(&self, method: &str) -> i64 {
        let n = self.order_paid_by(method).await;
        let body = if method == "paidy" {
            json!({"token": "tok_test", "capture": false})
        } else {
            json!({"test_card_number": "4111111111111111", "test_card_expire": "3012", "capture": false})
        };
        let (st, v) = self
            .post(&format!("/api/v1/orders/{n}/payment"), body)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "succeeded", "{v}");
        n
    }

    /// Change the order's 送料 (and so its total), which must be accepted.
    pub async fn set_shipping_fee(&self, n: i64, fee: i64) {
        let v = self.get(&format!("/api/v1/orders/{n}")).await.1["version"]
            .as_i64()
            .expect("version");
        let (st, b) = self
            .patch(
                &format!("/api/v1/orders/{n}"),
                json!({"version": v, "shipping_fee": fee}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }

    /// A bulk run of `action` over the orders `numbers` (all paid through `gateway`, 7,660円
    /// each), stored but not taken by any worker — as when every worker is busy elsewhere.
    pub async fn stored_bulk_run(
        &self,
        action: &str,
        numbers: &[i64],
        gateway: juchu_domain::payment_method::Gateway,
    ) -> i64 {
        let mut tx = self.app.store.begin().await.expect("begin");
        let items: Vec<_> = juchu_store::orders::ids_of_numbers(tx.conn(), self.shop_id, numbers)
            .await
            .expect("orders")
            .into_iter()
            .map(|(id, n)| juchu_store::bulk::NewItem {
                order_id: id,
                order_number: n,
                gateway: Some(gateway),
                amount: 7660,
            })
            .collect();
        let id = juchu_store::bulk::create(
            &mut tx,
            &juchu_store::bulk::NewRun {
                shop_id: self.shop_id,
                action,
                request_key: "stored",
                request: "{}",
                created_by: "admin",
            },
            &items,
            self.app.now(),
        )
        .await
        .expect("bulk run");
        tx.commit().await.expect("commit");
        id
    }

    /// POST to the sandboxes' control API (`/_sandbox{path}`), which must accept it.
    pub async fn sandbox_control(&self, path: &str, body: Value) {
        let r = self
            .client
            .post(format!("{}/_sandbox{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("sandbox control");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// The sandboxes' ledgers.
    pub async fn ledger(&self) -> Value {
        send(self.client.get(format!("{}/_sandbox/ledger", self.base)))
            .await
            .1
    }

    async fn seed_catalog(&self) {
        for p in [
            json!({"name": "緑茶", "variants": [{"code": "TEA-1", "class1": "20袋", "price": 1080, "tax_rate": 8, "stock": 10}]}),
            json!({"name": "Tシャツ", "variants": [
                {"code": "TS-M", "class1": "白", "class2": "M", "price": 2990, "stock": 5},
                {"code": "TS-L", "class1": "白", "class2": "L", "price": 2990}
            ]}),
        ] {
            let (st, v) = self.post("/api/v1/products", p).await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
        }
    }

    /// juchu's capture deadline for order `n`'s payment, moved far out: as if juchu counted
    /// the period longer than the gateway does, so only the gateway's refusal can tell it
    /// lapsed.
    pub async fn stretch_capture_deadline(&self, n: i64) {
        let far = juchu_domain::time::to_db("2030-01-01T00:00:00Z".parse().expect("ts"));
        sqlx::query(
            "UPDATE payments SET auth_expires_at = $1 WHERE order_id = \
             (SELECT id FROM orders WHERE shop_id = $2 AND number = $3)",
        )
        .bind(far)
        .bind(self.shop_id)
        .bind(n)
        .execute(self.app.store.pool())
        .await
        .expect("stretch the deadline");
    }

    /// Rows in the tables a failed request must not touch.
    pub async fn counts(&self) -> Vec<i64> {
        let mut out = vec![];
        for t in [
            "orders",
            "order_items",
            "order_history",
            "cancelled_stock",
            "point_ledger",
            "customers",
            "products",
            "product_variants",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(self.app.store.pool())
                .await
                .expect("count");
            out.push(n);
        }
        out
    }
}

pub async fn send(r: RequestBuilder) -> (StatusCode, Value) {
    let res: Response = r.send().await.expect("request");
    let st = res.status();
    let text = res.text().await.expect("body");
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (st, v)
}

/// A valid order: 2 × TS-M (2,990, 10%) + 1 × TEA-1 (1,080, 8%), shipping 600.
pub fn order_json() -> Value {
    json!({
        "customer": {
            "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
            "postal_code": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1", "tel": "03-1234-5678"
        },
        "email": "hanako@example.jp",
        "items": [{"product_code": "TS-M", "quantity": 2}, {"product_code": "TEA-1", "quantity": 1}],
        "shipping_fee": 600,
        "payment_method": "gmo_card"
    })
}

fn person(family: &str, given: &str, fk: &str, gk: &str, tel: &str) -> Value {
    json!({"family_name": family, "given_name": given, "family_kana": fk, "given_kana": gk,
           "postal_code": "1500001", "prefecture": "東京都", "address1": "渋谷区神宮前1-1", "tel": tel})
}

/// Five orders that differ in every searchable field.
///  #1 山田 花子  female 1980-05-01  gmo_card     2024-08-01  remarks   ref GMO-1   1,080 + 600
///  #2 佐藤 一郎  male   1992-11-30  paygent_card 2024-08-05            ref 900134… 2,990 + 600
///  #3 髙橋 ゆき  female 2001-01-15  paidy        2024-08-10  remarks   ref pay_abc 2 × 2,990
///  #4 山本 健    male   (none)      bank_transfer 2024-08-15                       1,080
///  #5 鈴木 葵    (none) (none)      paygent_konbini 2024-08-18                     5 × 2,990 + 600
pub async fn search_dataset(t: &TestApp) {
    let orders = vec![
        json!({"customer": person("山田", "花子", "ヤマダ", "ハナコ", "03-1111-2222"), "email": "Hanako.Yamada@Example.jp",
               "birth_date": "1980/05/01", "sex": "female", "items": [{"product_code": "TEA-1", "quantity": 1}], "shipping_fee": 600,
               "payment_method": "gmo_card", "ordered_at": "2024/08/01 10:00", "remarks": "ギフト包装希望", "gateway_ref": "GMO-1"}),
        json!({"customer": person("佐藤", "一郎", "サトウ", "イチロウ", "090-3333-4444"), "email": "ichiro@example.com",
               "birth_date": "1992-11-30", "sex": "male", "items": [{"product_code": "TS-M", "quantity": 1}], "shipping_fee": 600,
               "payment_method": "paygent_card", "ordered_at": "2024-08-05T03:00:00Z", "gateway_ref": "90013408050000000001"}),
        json!({"customer": person("髙橋", "ゆき", "タカハシ", "ユキ", "045-555-6666"), "email": "yuki@example.net",
               "birth_date": "2001-01-15", "sex": "female", "items": [{"product_code": "TS-L", "quantity": 2}],
               "payment_method": "paidy", "ordered_at": "2024/08/10 23:30", "remarks": "午前中希望", "gateway_ref": "pay_abc"}),
        json!({"customer": person("山本", "健", "ヤマモト", "ケン", "06-7777-8888"), "email": "ken@example.org", "sex": "male",
               "items": [{"product_code": "TEA-1", "quantity": 1}], "payment_method": "bank_transfer", "ordered_at": "2024/08/15 09:00"}),
        json!({"customer": person("鈴木", "葵", "スズキ", "アオイ", "011-999-0000"), "email": "aoi@example.jp",
               "items": [{"product_code": "TS-L", "quantity": 5}], "shipping_fee": 600, "payment_method": "paygent_konbini", "ordered_at": "2024/08/18 12:00"}),
    ];
    for (i, o) in orders.into_iter().enumerate() {
        // Each order is created (and so updated) on its own day.
        t.set_now(&format!("2024-08-{:02}T01:00:00Z", 1 + 4 * i));
        t.import(o).await;
    }
    // #2 ships on 2024-08-20 (Japan date), #3 on 2024-08-21; #3's update is the latest.
    t.set_now("2024-08-20T02:00:00Z");
    t.post("/api/v1/orders/2/status", json!({"status": "shipped"}))
        .await;
    t.set_now("2024-08-21T02:00:00Z");
    t.post("/api/v1/orders/3/status", json!({"status": "shipped"}))
        .await;
}

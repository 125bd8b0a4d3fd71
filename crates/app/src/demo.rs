//! The demo shop `serve` creates on a new database: products, members and ~500 orders spread
//! over the manuals' payment methods, statuses and lists, with their histories. Seeded, so
//! every fresh database looks the same.

use jiff::{SignedDuration, Timestamp};
use juchu_domain::catalog::{ProductInput, VariantInput};
use juchu_domain::customer::{CustomerInput, PREFECTURES, PersonInput};
use juchu_domain::order::{ItemInput, OrderInput};
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::status::{OrderList, OrderStatus};

use crate::access::NewUser;
use crate::orders::Intake;
use crate::{Actor, App, AppError};

pub const SHOP_CODE: &str = "demo";
pub const ADMIN_LOGIN: &str = "admin";
pub const OPERATOR_LOGIN: &str = "operator";
pub const DEMO_PASSWORD: &str = "juchu-demo";

const FAMILY: [(&str, &str); 16] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("髙橋", "タカハシ"),
];
const GIVEN: [(&str, &str, &str); 16] = [
    ("太郎", "タロウ", "male"),
    ("花子", "ハナコ", "female"),
    ("翔太", "ショウタ", "male"),
    ("陽菜", "ヒナ", "female"),
    ("大輔", "ダイスケ", "male"),
    ("美咲", "ミサキ", "female"),
    ("健一", "ケンイチ", "male"),
    ("結衣", "ユイ", "female"),
    ("蓮", "レン", "male"),
    ("さくら", "サクラ", "female"),
    ("悠人", "ユウト", "male"),
    ("葵", "アオイ", "female"),
    ("誠", "マコト", "male"),
    ("真由美", "マユミ", "female"),
    ("拓也", "タクヤ", "male"),
    ("恵子", "ケイコ", "female"),
];
const STREETS: [&str; 6] = [
    "中央1-2-3",
    "本町4-5-6",
    "緑が丘2-10-1",
    "栄町3-7",
    "桜台5-1-12",
    "港南1-8-20",
];
const REMARKS: [&str; 5] = [
    "ギフト包装をお願いします",
    "午前中に届くと助かります",
    "領収書を同梱してください",
    "のし紙（御中元）をお願いします",
    "不在時は宅配ボックスへ",
];

fn products() -> Vec<ProductInput> {
    let v =
        |code: &str, c1: &str, c2: &str, price: i64, rate: i64, stock: Option<i64>| VariantInput {
            code: code.into(),
            class1: c1.into(),
            class2: c2.into(),
            price,
            tax_rate: rate,
            stock,
        };
    vec![
        ProductInput {
            name: "オーガニック緑茶ティーバッグ".into(),
            variants: vec![
                v("TEA-001", "20袋入", "", 1080, 8, Some(200)),
                v("TEA-002", "50袋入", "", 2376, 8, Some(120)),
            ],
        },
        ProductInput {
            name: "国産はちみつ".into(),
            variants: vec![
                v("HNY-250", "250g", "", 1944, 8, Some(80)),
                v("HNY-500", "500g", "", 3564, 8, Some(40)),
            ],
        },
        ProductInput {
            name: "手焼きせんべい詰め合わせ".into(),
            variants: vec![v("SNB-012", "12枚入", "", 1620, 8, Some(150))],
        },
        ProductInput {
            name: "コットンTシャツ".into(),
            variants: vec![
                v("TS-WH-S", "ホワイト", "S", 2990, 10, Some(30)),
                v("TS-WH-M", "ホワイト", "M", 2990, 10, Some(40)),
                v("TS-BK-M", "ブラック", "M", 2990, 10, Some(35)),
                v("TS-BK-L", "ブラック", "L", 2990, 10, Some(25)),
            ],
        },
        ProductInput {
            name: "リネンエプロン".into(),
            variants: vec![
                v("APR-NV", "ネイビー", "", 4400, 10, Some(20)),
                v("APR-BE", "ベージュ", "", 4400, 10, Some(20)),
            ],
        },
        ProductInput {
            name: "有田焼 マグカップ".into(),
            variants: vec![v("MUG-AR", "藍", "", 3300, 10, Some(15))],
        },
        ProductInput {
            name: "ハンドクリーム（無香料）".into(),
            variants: vec![v("HC-050", "50g", "", 1320, 10, None)],
        },
        ProductInput {
            name: "ドリップコーヒー 詰め合わせ".into(),
            variants: vec![
                v("CF-010", "10袋", "", 1296, 8, Some(300)),
                v("CF-030", "30袋", "", 3240, 8, Some(100)),
            ],
        },
    ]
}

/// (method, weight): card payments dominate, as in the manuals' shops.
const METHODS: [(PaymentMethod, u32); 11] = [
    (PaymentMethod::PaygentCard, 22),
    (PaymentMethod::GmoCard, 22),
    (PaymentMethod::Paidy, 10),
    (PaymentMethod::PaygentKonbini, 8),
    (PaymentMethod::GmoKonbini, 6),
    (PaymentMethod::PaygentAtm, 4),
    (PaymentMethod::GmoPayeasy, 4),
    (PaymentMethod::PaygentNetbank, 4),
    (PaymentMethod::BankTransfer, 8),
    (PaymentMethod::PostalTransfer, 3),
    (PaymentMethod::CashOnDelivery, 9),
];

fn pick_method(rng: &mut fastrand::Rng) -> PaymentMethod {
    let total: u32 = METHODS.iter().map(|m| m.1).sum();
    let mut x = rng.u32(0..total);
    for (m, w) in METHODS {
        if x < w {
            return m;
        }
        x -= w;
    }
    PaymentMethod::GmoCard
}

fn gateway_ref(rng: &mut fastrand::Rng, m: PaymentMethod, number: i64, at: Timestamp) -> String {
    use juchu_domain::payment_method::Gateway;
    match m.gateway() {
        // Paygent trading ids are 20 digits and unrelated to the order number.
        Some(Gateway::Paygent) => format!(
            "9001340{}{:07}",
            at.strftime("%y%m%d"),
            rng.u32(0..10_000_000)
        ),
        Some(Gateway::Gmo) => format!("demo-{number:06}-{}", at.strftime("%y%m%d")),
        Some(Gateway::Paidy) => {
            let s: String = (0..20)
                .map(|_| rng.alphanumeric().to_ascii_lowercase())
                .collect();
            format!("pay_{s}")
        }
        None => String::new(),
    }
}

fn person(rng: &mut fastrand::Rng) -> (PersonInput, &'static str) {
    let (f, fk) = FAMILY[rng.usize(..FAMILY.len())];
    let (g, gk, sex) = GIVEN[rng.usize(..GIVEN.len())];
    let pref = PREFECTURES[rng.usize(..PREFECTURES.len())];
    (
        PersonInput {
            family_name: f.into(),
            given_name: g.into(),
            family_kana: fk.into(),
            given_kana: gk.into(),
            company: String::new(),
            postal_code: format!("{:03}-{:04}", rng.u32(100..999), rng.u32(0..10_000)),
            prefecture: pref.into(),
            address1: format!(
                "{}市{}",
                ["みどり", "さくら", "あおば", "ひかり"][rng.usize(..4)],
                STREETS[rng.usize(..STREETS.len())]
            ),
            address2: if rng.bool() {
                format!(
                    "{}マンション{}号室",
                    ["サン", "グリーン", "パーク"][rng.usize(..3)],
                    rng.u32(101..1200)
                )
            } else {
                String::new()
            },
            tel: format!(
                "0{}-{:04}-{:04}",
                rng.u32(10..99),
                rng.u32(0..10_000),
                rng.u32(0..10_000)
            ),
        },
        sex,
    )
}

/// Create the demo shop with its users and data if the database has no shop yet. Returns
/// whether it was created. When several processes start on one new database, the one that
/// creates the shop seeds it.
pub async fn seed_if_empty(app: &App) -> Result<bool, AppError> {
    if juchu_store::shops::count(&mut *app.store.read().await?).await? > 0 {
        return Ok(false);
    }
    seed(app, 500).await
}

/// Seed the demo shop with `orders` orders; false (nothing done) if it already exists.
// Long: a script of the demo shop — products, members, orders, payments — read top to bottom.
pub async fn seed(app: &App, orders: usize) -> Result<bool, AppError> {
    let (shop, created) = crate::shops::ensure(app, SHOP_CODE, "juchu デモショップ").await?;
    // 宅配便 / 代金引換 / 大型家具便 (idempotent: a demo shop from before them gets them too).
    crate::methods::seed_defaults(app, shop.id).await?;
    if !created {
        return Ok(false);
    }
    for (login, name, role) in [
        (ADMIN_LOGIN, "管理者 太郎", "admin"),
        (OPERATOR_LOGIN, "受注担当 花子", "operator"),
    ] {
        crate::access::add_user_to_shop(
            app,
            shop.id,
            &NewUser {
                login: login.into(),
                name: name.into(),
                password: DEMO_PASSWORD.into(),
                role: role.into(),
            },
        )
        .await?;
    }
    let actor = Actor {
        name: "デモデータ".into(),
        ..Actor::system(shop.id)
    };
    // The slips' issuer (帳票出力), so the demo's 請求書 and 領収書 look like real ones.
    let profile = crate::documents::ProfileInput {
        company_name: "株式会社ジュチュウ商店".into(),
        postal_code: "150-0001".into(),
        address: "東京都渋谷区神宮前1-2-3 ジュチュウビル5F".into(),
        tel: "03-1234-5678".into(),
        invoice_number: "T1234567890123".into(),
    };
    crate::documents::set_profile(app, &actor, &profile).await?;
    let mut rng = fastrand::Rng::with_seed(20241123);

    let mut variants: Vec<(String, i64)> = Vec::new();
    for p in products() {
        let created = crate::catalog::create(app, &actor, &p).await?;
        variants.extend(
            created
                .variants
                .iter()
                .map(|v| (v.draft.code.clone(), v.draft.price.get())),
        );
    }

    let mut members = Vec::new();
    for i in 0..60 {
        let (p, sex) = person(&mut rng);
        let c = crate::customers::create(
            app,
            &actor,
            &CustomerInput {
                person: p,
                email: format!("member{i:03}@example.jp"),
                birth_date: Some(format!(
                    "{}-{:02}-{:02}",
                    rng.i32(1950..2005),
                    rng.u8(1..13),
                    rng.u8(1..29)
                )),
                sex: Some(sex.into()),
            },
        )
        .await?;
        crate::customers::adjust_points(
            app,
            &actor,
            c.id,
            &crate::customers::PointAdjustment {
                delta: 500,
                reason: "会員登録ポイント".into(),
            },
        )
        .await?;
        if i < 3 {
            // The storefront's demo members log in with member000@example.jp … / juchu-demo.
            let hash = crate::access::hash_password("juchu-demo")?;
            let mut tx = app.store.begin().await?;
            juchu_store::customers::set_password_hash(&mut tx, actor.shop_id, c.id, &hash).await?;
            tx.commit().await?;
        }
        members.push(c);
    }

    let now = app.now();
    for i in 0..orders {
        // Spread over the last 120 days, oldest first, so numbers follow dates.
        let age = SignedDuration::from_mins(
            ((orders - i) as i64 * 120 * 24 * 60) / orders as i64 + rng.i64(0..30),
        );
        let at = now.checked_sub(age).unwrap_or(now);
        let method = pick_method(&mut rng);
        let member = if rng.u8(0..10) < 6 {
            Some(&members[rng.usize(..members.len())])
        } else {
            None
        };
        let (customer, sex, email, birth, cid) = match member {
            Some(m) => (
                m.draft.person.to_input(),
                m.draft.sex.map(|s| s.code()).unwrap_or("female"),
                m.draft.email.clone(),
                m.draft.birth_date.map(|d| d.to_string()),
                Some(m.id),
            ),
            None => {
                let (p, sex) = person(&mut rng);
                (p, sex, format!("guest{i:04}@example.com"), None, None)
            }
        };
        let items: Vec<ItemInput> = (0..rng.usize(1..4))
            .map(|_| {
                let (code, _) = &variants[rng.usize(..variants.len())];
                ItemInput {
                    product_code: code.clone(),
                    quantity: rng.i64(1..4),
                    ..Default::default()
                }
            })
            .collect();
        let fee = match method {
            PaymentMethod::CashOnDelivery => 330,
            m if m.settles_later() => 220,
            _ => 0,
        };
        let input = OrderInput {
            customer_id: cid,
            customer,
            email,
            birth_date: birth,
            sex: Some(sex.into()),
            items,
            shipping_fee: if rng.u8(0..4) == 0 { 0 } else { 880 },
            fee,
            discount: if rng.u8(0..10) == 0 { 500 } else { 0 },
            points_used: if cid.is_some() && rng.u8(0..5) == 0 {
                100
            } else {
                0
            },
            points_earned: 0,
            payment_method: method.code().into(),
            remarks: if rng.u8(0..6) == 0 {
                REMARKS[rng.usize(..REMARKS.len())].into()
            } else {
                String::new()
            },
            ordered_at: Some(at.to_string()),
            device: Some(["pc", "smartphone", "smartphone", "mobile"][rng.usize(..4)].into()),
            ip: format!("203.0.113.{}", rng.u8(1..255)),
            ..Default::default()
        };
        let mut input = input;
        // Earned points: 1% of the items, for members.
        if cid.is_some() {
            input.points_earned = 10;
        }
        // A fresh shop numbers its orders 1, 2, 3 …
        input.gateway_ref = gateway_ref(&mut rng, method, i as i64 + 1, at);
        let o = crate::orders::create(app, &actor, input, Intake::Import).await?;
        let number = o.number;
        // Older orders have moved further along.
        let days = age.as_hours() / 24;
        let path: &[OrderStatus] = match (rng.u8(0..20), days) {
            (0, _) => &[OrderStatus::Cancelled],
            (1, d) if d > 20 => &[OrderStatus::Backordered],
            (_, d) if d > 14 => &[OrderStatus::Paid, OrderStatus::Shipped],
            (_, d) if d > 5 => &[OrderStatus::Paid],
            _ => &[],
        };
        for s in path {
            // Shops differ on whether card orders pass through 入金済み; both occur.
            if *s == OrderStatus::Paid
                && o.draft.status == OrderStatus::New
                && method.is_card()
                && rng.bool()
            {
                continue;
            }
            crate::orders::change_status(app, &actor, number, *s, None).await?;
        }
        let last = path.last().copied();
        if last == Some(OrderStatus::Shipped) && days > 45 && rng.u8(0..3) > 0 {
            crate::orders::move_to_list(app, &actor, number, OrderList::Completed, None).await?;
        }
        if last == Some(OrderStatus::Cancelled) && rng.bool() {
            crate::orders::move_to_list(app, &actor, number, OrderList::Cancelled, None).await?;
        }
    }
    Ok(true)
}

/// Give some of the demo shop's card and Paidy orders real payments at the gateways the app
/// is connected to (the bundled sandboxes), so the order screen's payment panel shows each
/// gateway in several states: per gateway, 新規受付 orders get 仮売上, the second is then
/// captured and the third cancelled (card), and the sixth is 即時売上; orders waiting for a
/// konbini / ATM / net-bank / Pay-easy payment get their payment number. Returns how many
/// payments were made. Orders that already have a payment are left alone.
pub async fn seed_payments(app: &App) -> Result<usize, AppError> {
    use juchu_domain::payment::Action;

    use crate::payments::{self, AuthorizeInput, OperateInput};
    let Some(shop) = juchu_store::shops::by_code(&mut *app.store.read().await?, SHOP_CODE).await?
    else {
        return Ok(0);
    };
    let actor = Actor {
        name: "デモデータ".into(),
        ..Actor::system(shop.id)
    };
    // The first orders with this status and payment method.
    let first = async |status: &str, method: &str, n: u32| {
        let q = juchu_domain::search::SearchInput {
            status: vec![status.into()],
            payment_method: vec![method.into()],
            per_page: Some(n.to_string()),
            ..Default::default()
        };
        crate::orders::search(app, &actor, &q)
            .await
            .map(|(_, page)| page.orders)
    };
    let mut done = 0;
    for method in ["paygent_card", "gmo_card", "paidy"] {
        for (i, o) in first("new", method, 6).await?.iter().enumerate() {
            if o.payment.is_some() {
                continue;
            }
            let o = &o.order;
            let input = AuthorizeInput {
                token: (method == "paidy").then(|| "tok_demo".to_owned()),
                test_card_number: (method != "paidy").then(|| "4111111111111111".to_owned()),
                test_card_expire: (method != "paidy").then(|| "3012".to_owned()),
                capture: i == 5,
                ..Default::default()
            };
            let r = payments::authorize(app, &actor, o.number, input, None).await?;
            if r.status != juchu_domain::payment::OpStatus::Succeeded {
                tracing::warn!(order = o.number, message = %r.message, "demo payment not authorized");
                continue;
            }
            done += 1;
            let then = match i {
                1 => Some(Action::Capture),
                2 if method != "paidy" => Some(Action::Cancel),
                _ => None,
            };
            if let Some(a) = then {
                payments::operate(app, &actor, o.number, a, OperateInput::default(), None).await?;
            }
        }
    }
    // Orders waiting for a konbini / ATM / net-bank / Pay-easy payment get their payment
    // number at the gateway, so the panel shows the slip the buyer pays with.
    for (method, store) in [
        ("paygent_konbini", Some("00C002")),
        ("gmo_konbini", Some("00001")),
        ("paygent_atm", None),
        ("gmo_payeasy", None),
        ("paygent_netbank", None),
    ] {
        let waiting = first("awaiting_payment", method, 20).await?;
        for o in waiting.iter().filter(|o| o.payment.is_none()) {
            let input = payments::LaterInput {
                store: store.map(str::to_owned),
                due_days: Some(14),
            };
            let r = payments::request_later(app, &actor, o.order.number, input, None).await?;
            if r.status == juchu_domain::payment::OpStatus::Succeeded {
                done += 1;
            } else {
                tracing::warn!(order = o.order.number, message = %r.message, "demo payment number not issued");
            }
        }
    }
    Ok(done)
}

//! 受注管理 search: one test per field, paging, sorting, and the CSV download. Runs on SQLite
//! and PostgreSQL.

use crate::both_backends;
use crate::support;

use reqwest::StatusCode;
use support::{TestApp, search_dataset as dataset};

async fn ids(t: &TestApp, q: &str) -> Vec<i64> {
    let (st, v) = t.get(&format!("/api/v1/orders?{q}")).await;
    assert_eq!(st, StatusCode::OK, "{q}: {v}");
    v["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_i64().unwrap())
        .collect()
}

async fn sorted(t: &TestApp, q: &str) -> Vec<i64> {
    let mut v = ids(t, q).await;
    v.sort();
    v
}

async fn by_number_range(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "number_from=2&number_to=4").await, vec![2, 3, 4]);
    assert_eq!(
        sorted(&t, "number_from=４").await,
        vec![4, 5],
        "full-width digits"
    );
    assert_eq!(sorted(&t, "number_to=1").await, vec![1]);
}

async fn by_status(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "status=shipped").await, vec![2, 3]);
    assert_eq!(sorted(&t, "status=awaiting_payment").await, vec![5]);
    assert_eq!(
        sorted(&t, "status=new&status=awaiting_payment").await,
        vec![1, 4, 5]
    );
}

async fn by_name(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "name=山").await, vec![1, 4]);
    assert_eq!(
        sorted(&t, "name=山田%20花子").await,
        vec![1],
        "spaces ignored"
    );
    assert_eq!(sorted(&t, "name=髙橋").await, vec![3]);
    assert_eq!(
        sorted(&t, "name=%25").await,
        Vec::<i64>::new(),
        "LIKE wildcards are literal"
    );
}

async fn by_kana(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "kana=ヤマ").await, vec![1, 4]);
    assert_eq!(sorted(&t, "kana=サトウイチロウ").await, vec![2]);
}

async fn by_email(t: TestApp) {
    dataset(&t).await;
    assert_eq!(
        sorted(&t, "email=hanako.yamada").await,
        vec![1],
        "case-insensitive"
    );
    assert_eq!(sorted(&t, "email=example.jp").await, vec![1, 5]);
}

async fn by_tel(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "tel=090-3333").await, vec![2]);
    assert_eq!(sorted(&t, "tel=７７７７").await, vec![4]);
}

async fn by_birth_date(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "birth_from=1990/01/01").await, vec![2, 3]);
    assert_eq!(sorted(&t, "birth_to=1992-11-30").await, vec![1, 2]);
    assert_eq!(
        sorted(&t, "birth_from=1981-01-01&birth_to=2000/12/31").await,
        vec![2]
    );
}

async fn by_sex(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "sex=female").await, vec![1, 3]);
    assert_eq!(sorted(&t, "sex=male&sex=female").await, vec![1, 2, 3, 4]);
}

async fn by_remarks(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "has_remarks=1").await, vec![1, 3]);
    assert_eq!(sorted(&t, "has_remarks=0").await, vec![1, 2, 3, 4, 5]);
}

async fn by_payment_methods(t: TestApp) {
    dataset(&t).await;
    assert_eq!(
        sorted(&t, "payment_method=gmo_card&payment_method=paygent_card").await,
        vec![1, 2]
    );
    assert_eq!(sorted(&t, "payment_method=paidy").await, vec![3]);
}

async fn by_order_date(t: TestApp) {
    dataset(&t).await;
    // #3 was placed 2024/08/10 23:30 Japan time: a Japan date, not a UTC one.
    assert_eq!(
        sorted(&t, "ordered_from=2024/08/10&ordered_to=2024/08/10").await,
        vec![3]
    );
    assert_eq!(
        sorted(&t, "ordered_from=2024-08-05&ordered_to=2024-08-15").await,
        vec![2, 3, 4]
    );
}

async fn by_ship_date(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "shipped_from=2024/08/21").await, vec![3]);
    assert_eq!(sorted(&t, "shipped_to=2024/08/20").await, vec![2]);
}

async fn by_update_date(t: TestApp) {
    dataset(&t).await;
    assert_eq!(sorted(&t, "updated_from=2024/08/20").await, vec![2, 3]);
    // Last updates: #1 08-01, #4 08-13, #5 08-17, #2 08-20, #3 08-21.
    assert_eq!(sorted(&t, "updated_to=2024/08/13").await, vec![1, 4]);
    assert_eq!(
        sorted(&t, "updated_from=2024-08-13&updated_to=2024-08-17").await,
        vec![4, 5]
    );
}

async fn by_amount(t: TestApp) {
    dataset(&t).await;
    // payment totals: #1 1,680  #2 3,590  #3 5,980  #4 1,080  #5 15,550
    assert_eq!(
        sorted(&t, "amount_min=3590&amount_max=5980").await,
        vec![2, 3]
    );
    assert_eq!(sorted(&t, "amount_max=1,680円").await, vec![1, 4]);
}

async fn by_gateway_ref(t: TestApp) {
    dataset(&t).await;
    assert_eq!(
        sorted(&t, "gateway_ref=90013408050000000001").await,
        vec![2]
    );
    assert_eq!(sorted(&t, "gateway_ref=pay_abc").await, vec![3]);
    assert_eq!(
        sorted(&t, "gateway_ref=pay_ab").await,
        Vec::<i64>::new(),
        "exact match"
    );
}

async fn sorting_and_paging(t: TestApp) {
    dataset(&t).await;
    assert_eq!(
        ids(&t, "").await,
        vec![3, 2, 5, 4, 1],
        "default: newest update first"
    );
    assert_eq!(ids(&t, "sort=ordered_asc").await, vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(&t, "sort=number_desc").await, vec![5, 4, 3, 2, 1]);
    assert_eq!(ids(&t, "sort=amount_desc").await, vec![5, 3, 2, 1, 4]);
    assert_eq!(
        ids(&t, "sort=amount_asc&per_page=2&page=2").await,
        vec![2, 3]
    );
    let (_, v) = t
        .get("/api/v1/orders?sort=number_asc&per_page=2&page=3")
        .await;
    assert_eq!(v["total"], 5);
    assert_eq!(v["page"], 3);
    assert_eq!(v["orders"].as_array().unwrap().len(), 1);
    let (st, v) = t.get("/api/v1/orders?per_page=5000").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "per_page");
    let (st, _) = t.get("/api/v1/orders?sort=random").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn csv_sjis_roundtrips_and_matches_utf8(t: TestApp) {
    dataset(&t).await;
    let get = |enc: &'static str| {
        let r = t
            .req(
                reqwest::Method::GET,
                &format!("/api/v1/orders/csv?sort=number_asc&encoding={enc}"),
            )
            .send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            (ct, r.bytes().await.unwrap().to_vec())
        }
    };
    let (ct, sjis) = get("sjis").await;
    assert_eq!(ct, "text/csv; charset=Shift_JIS");
    let (decoded, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&sjis);
    assert!(!had_errors);
    let (ct8, utf8) = get("utf8").await;
    assert_eq!(ct8, "text/csv; charset=UTF-8");
    let utf8 = String::from_utf8(utf8).unwrap();
    let utf8 = utf8.strip_prefix('\u{FEFF}').expect("BOM for Excel");
    assert_eq!(decoded, utf8, "Shift_JIS decodes to the same text as UTF-8");
    let mut rdr = csv::Reader::from_reader(decoded.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "注文番号");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "one row per order line");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("顧客名")], "山田 花子");
    assert_eq!(
        &rows[2][col("顧客名")],
        "髙橋 ゆき",
        "IBM extension kanji survives CP932"
    );
    assert_eq!(&rows[2][col("顧客名(カナ)")], "タカハシ ユキ");
    assert_eq!(&rows[4][col("お支払い合計")], "15550");
    assert_eq!(&rows[1][col("発送日")], "2024/08/20");
    assert!(sjis.windows(2).any(|w| w == b"\r\n"), "CRLF lines");
    // A filtered export has only the matches; a bad filter is an error, not a broken file.
    let r = t
        .req(
            reqwest::Method::GET,
            "/api/v1/orders/csv?sex=male&encoding=utf8",
        )
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(body.lines().count(), 3);
    let r = t
        .req(
            reqwest::Method::GET,
            "/api/v1/orders/csv?ordered_from=2024/99/99",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .req(reqwest::Method::GET, "/api/v1/orders/csv?encoding=latin1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

both_backends!(
    by_number_range,
    by_status,
    by_name,
    by_kana,
    by_email,
    by_tel,
    by_birth_date,
    by_sex,
    by_remarks,
    by_payment_methods,
    by_order_date,
    by_ship_date,
    by_update_date,
    by_amount,
    by_gateway_ref,
    sorting_and_paging,
    csv_sjis_roundtrips_and_matches_utf8,
);

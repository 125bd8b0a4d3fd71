//! Mail in headless Chromium: a template edited (a broken one refused with the error beside
//! its field), a 配送通知メール sent from the order screen with a typed 問合せ番号 (a missing
//! one and a stale order refused first), the send in the order's history, the outbox before
//! and after delivery with one mail opened, and an order in 受注完了一覧 that takes no mail.
//! Screenshots: target/screenshots/mail-*.png.

use crate::browser;
use crate::support;

use browser::{assert_no_overflow, browser, fill, full_shot, login, submit, text};
use fantoccini::{Client, Locator};
use serde_json::json;
use support::TestApp;

async fn value(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Put a long text into a textarea at once (typing it key by key is slow).
async fn set_value(c: &Client, id: &str, v: &str) {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1]; return null;",
        vec![json!(id), json!(v)],
    )
    .await
    .unwrap();
}

async fn field_error(c: &Client, field: &str) -> String {
    text(c, &format!(".err[data-field=\"{field}\"]")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_edits_a_template_and_sends_a_shipping_notice() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (st, v) = support::send(
        t.req(reqwest::Method::PUT, "/api/v1/shop/mail")
            .json(&json!({"email": "shop@juchu-test.example"})),
    )
    .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    let n = t.import(support::order_json()).await["number"]
        .as_i64()
        .unwrap();
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;

    // メールテンプレート from the menu: the three kinds, all built-in.
    submit(&c, "nav a[href='/admin/settings/mail-templates']").await;
    assert!(text(&c, "h1").await.contains("メールテンプレート設定"));
    assert!(text(&c, "nav a.on").await.contains("メールテンプレート"));
    assert!(text(&c, "#t-shipping").await.contains("標準"));
    assert_no_overflow(&c, "templates").await;
    full_shot(&c, "mail-01-templates").await;

    // The 配送通知 template: variables listed, a preview of the newest order.
    submit(&c, "#t-shipping a.btn").await;
    assert!(
        text(&c, "h1")
            .await
            .contains("配送通知メールのテンプレート")
    );
    assert!(
        text(&c, "#variables")
            .await
            .contains("{{ tracking_number }}")
    );
    assert!(
        text(&c, "#preview-title")
            .await
            .contains(&format!("注文番号 {n} の内容"))
    );
    assert!(text(&c, "#preview-body").await.contains("山田 花子 様"));
    assert_no_overflow(&c, "template").await;
    full_shot(&c, "mail-02-template").await;

    // A misspelt variable on line 4: refused, the error beside the body, nothing saved.
    let body = value(&c, "#body").await;
    let broken = body.replacen("{{ order_number }}", "{{ order_numbr }}", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("order_numbr"))
        .unwrap()
        + 1;
    set_value(&c, "body", &broken).await;
    submit(&c, "#save-button").await;
    let e = field_error(&c, "body").await;
    assert!(e.starts_with(&format!("{line}行目「order_numbr」")), "{e}");
    assert!(
        text(&c, "#template-errors")
            .await
            .contains("まだ保存されていません")
    );
    assert_eq!(value(&c, "#body").await, broken, "what was typed stays");
    full_shot(&c, "mail-03-template-error").await;
    let saved = juchu_app::mail::template(&t.app, &t.actor(), juchu_app::mail::MailKind::Shipping)
        .await
        .unwrap();
    assert!(!saved.customized);

    // Fixed, with a line of the shop's own: saved.
    let fixed = body.replacen(
        "商品の到着まで、今しばらくお待ちください。",
        "商品の到着まで、今しばらくお待ちください。\n※ 配送業者: ヤマト運輸",
        1,
    );
    set_value(&c, "body", &fixed).await;
    submit(&c, "#save-button").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("配送通知メールのテンプレートを保存しました")
    );
    assert!(text(&c, "h1").await.contains("編集済み"));
    assert!(text(&c, "#preview-body").await.contains("ヤマト運輸"));

    // The order screen: 配送通知メール with its 問合せ番号 box.
    c.goto(&format!("{}/admin/orders/{n}", t.base))
        .await
        .unwrap();
    assert!(text(&c, "#work").await.contains("配送通知メール"));
    full_shot(&c, "mail-04-order-panel").await;
    submit(&c, "#mail-shipping").await;
    assert!(text(&c, "h1").await.contains("メール送信"));
    assert!(text(&c, "#tab-shipping").await.contains("配送通知メール"));
    assert!(text(&c, "#mail-to").await.contains("hanako@example.jp"));

    // No 問合せ番号 yet: refused beside the field.
    submit(&c, "#confirm-button").await;
    let e = field_error(&c, "tracking_number").await;
    assert!(e.contains("問合せ番号を入力してください"), "{e}");
    assert_no_overflow(&c, "mail form").await;
    full_shot(&c, "mail-05-send-error").await;

    // Typed in full-width digits; the body made again with it.
    fill(&c, "#tracking_number", "１２３４-５６７８-９０１２").await;
    submit(&c, "#recompose-tracking").await;
    assert!(
        value(&c, "#body")
            .await
            .contains("お問い合わせ番号: 1234-5678-9012")
    );
    assert!(
        value(&c, "#body").await.contains("ヤマト運輸"),
        "the shop's template"
    );
    full_shot(&c, "mail-06-send-form").await;
    submit(&c, "#confirm-button").await;
    assert!(text(&c, "#confirm-title").await.contains("送信内容の確認"));
    assert!(
        text(&c, "#confirm-tracking")
            .await
            .contains("受注のお問い合わせ番号に登録します")
    );
    assert!(text(&c, "#confirm-body").await.contains("1234-5678-9012"));
    full_shot(&c, "mail-07-confirm").await;

    // Meanwhile someone edits the order: the send is refused, nothing is queued.
    let (st, o) = t
        .patch(
            &format!("/api/v1/orders/{n}"),
            json!({"version": 1, "memo": "電話で確認済み"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{o}");
    submit(&c, "#send-button").await;
    assert!(
        text(&c, "#mail-alert")
            .await
            .contains("ほかの操作で内容が変更されています")
    );
    full_shot(&c, "mail-08-stale").await;
    assert!(
        juchu_app::mail::of_order(&t.app, &t.actor(), n)
            .await
            .unwrap()
            .is_empty()
    );
    submit(&c, "#reload").await;
    fill(&c, "#tracking_number", "1234-5678-9012").await;
    submit(&c, "#recompose-tracking").await;
    submit(&c, "#confirm-button").await;
    submit(&c, "#send-button").await;

    // Back on the order: the message, the number stored, the line in the history.
    assert!(
        text(&c, "#done")
            .await
            .contains("配送通知メールを送信しました（宛先: hanako@example.jp）")
    );
    assert!(text(&c, ".cols .panel").await.contains("1234-5678-9012"));
    let h = text(&c, "#history").await;
    assert!(
        h.contains(
            "配送通知メールを送信しました（件名: 【テストショップ】ご注文の商品を発送しました"
        ),
        "{h}"
    );
    assert!(h.contains("管理 太郎"), "{h}");
    assert!(
        h.contains("お問い合わせ番号「1234-5678-9012」を登録しました"),
        "{h}"
    );
    full_shot(&c, "mail-09-order-after-send").await;

    // A mail the job cannot send (its address is broken), for the outbox to show the failure.
    let m = t.import(support::order_json()).await["number"]
        .as_i64()
        .unwrap();
    {
        let mut tx = t.app.store.begin().await.unwrap();
        let id = juchu_store::orders::get(tx.conn(), t.shop_id, m)
            .await
            .unwrap()
            .unwrap()
            .id;
        let mail = juchu_store::mails::NewMail {
            shop_id: t.shop_id,
            order_id: Some(id),
            kind: "free",
            to: "hanako at example.jp",
            bcc: "",
            subject: "宛先の誤ったメール",
            body: "本文",
            sent_by: "受注 花子",
        };
        juchu_store::mails::enqueue(&mut tx, &mail, t.app.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    // 送信メール一覧: waiting, then sent (or failed) by the job.
    submit(&c, "nav a[href='/admin/mails']").await;
    let rows = text(&c, "#mails tbody").await;
    assert!(
        rows.contains("配送通知") && rows.contains("送信待ち"),
        "{rows}"
    );
    assert!(
        rows.contains(&n.to_string()) && rows.contains("管理 太郎"),
        "{rows}"
    );
    assert_eq!(juchu_app::mail::deliver(&t.app).await.unwrap(), 1);
    c.refresh().await.unwrap();
    let first = text(&c, "#mails tbody tr:nth-child(1)").await;
    assert!(
        first.contains("送信失敗") && first.contains("hanako at example.jp"),
        "{first}"
    );
    assert!(first.contains("（1回目・自動で再送します）"), "{first}");
    let second = text(&c, "#mails tbody tr:nth-child(2)").await;
    assert!(
        second.contains("配送通知") && second.contains("送信済み"),
        "{second}"
    );
    assert_no_overflow(&c, "outbox").await;
    full_shot(&c, "mail-10-outbox").await;
    // Narrowed by kind in the URL; an order number that is not one is refused beside it.
    fill(&c, "#number", "abc").await;
    submit(&c, "#mail-search button").await;
    assert!(field_error(&c, "number").await.contains("数字"));
    full_shot(&c, "mail-10b-outbox-error").await;
    fill(&c, "#number", &n.to_string()).await;
    submit(&c, "#mail-search button").await;
    assert!(
        c.current_url()
            .await
            .unwrap()
            .query()
            .unwrap()
            .contains(&format!("number={n}"))
    );
    assert_eq!(text(&c, ".summary strong").await, "1件");
    submit(&c, "#mails td.subject a").await;
    assert!(text(&c, "#mail-status").await.contains("送信済み"));
    let body = text(&c, "#mail-body").await;
    assert!(
        body.contains("1234-5678-9012") && body.contains("ヤマト運輸"),
        "{body}"
    );
    assert!(
        text(&c, "#mail-head")
            .await
            .contains("shop@juchu-test.example")
    );
    assert_no_overflow(&c, "mail").await;
    full_shot(&c, "mail-11-mail").await;

    // Once in 受注完了一覧 the order takes no mail: the reason instead of the form.
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/move"),
            json!({"list": "completed"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    c.goto(&format!("{}/admin/orders/{n}", t.base))
        .await
        .unwrap();
    assert!(
        text(&c, "#work")
            .await
            .contains("受注完了一覧にある受注ではメール送信はできません")
    );
    c.goto(&format!("{}/admin/orders/{n}/mail?kind=free", t.base))
        .await
        .unwrap();
    assert!(
        text(&c, "#mail-refusal")
            .await
            .contains("受注完了一覧にある受注ではメール送信はできません")
    );
    assert!(c.find(Locator::Id("mail-form")).await.is_err());
    full_shot(&c, "mail-12-refused").await;
}

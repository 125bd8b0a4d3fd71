//! 支払方法設定 in headless Chromium: the list, a card method's form with 3-D Secure (an error
//! case first, shown beside its fields), the gateways' credentials (masked, only what is
//! typed changes) and 配送方法. Screenshots: target/screenshots/methods-*.png.

use crate::browser;
use crate::support;

use browser::{browser, fill, full_shot, login, shot, submit, text};
use fantoccini::{Client, Locator};
use juchu_app::credentials::GatewayCredentials;
use juchu_app::methods;
use juchu_domain::payment::{AttemptControl, CaptureMode};
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use support::TestApp;

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}

async fn checked(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .prop("checked")
        .await
        .unwrap()
        .as_deref()
        == Some("true")
}

async fn value(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn errors(c: &Client) -> Vec<String> {
    let mut out = vec![];
    for e in c.find_all(Locator::Css(".err")).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_up_payment_methods_credentials_and_deliveries() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;

    // 基本設定 links to the screen; so does the menu.
    c.goto(&format!("{}/admin/settings", t.base)).await.unwrap();
    submit(&c, "#to-payment-methods").await;
    assert!(text(&c, "h1").await.contains("支払方法設定"));
    assert!(text(&c, "nav a.on").await.contains("支払方法・配送方法"));
    assert!(
        text(&c, "#m-paygent_card")
            .await
            .contains("クレジットカード決済（ペイジェント）")
    );
    assert!(
        text(&c, "#m-cash_on_delivery")
            .await
            .contains("代金引換（宅配便）")
    );
    full_shot(&c, "methods-01-list").await;

    // The card form: 3DS on without the merchant name, bounds the wrong way round, 一括 off.
    submit(&c, "#m-paygent_card td.name a").await;
    assert!(
        text(&c, "h1")
            .await
            .contains("クレジットカード決済（ペイジェント）")
    );
    full_shot(&c, "methods-02-card-form").await;
    click(&c, "#three_ds-on").await;
    click(&c, "#capture-auth_and_capture").await;
    click(&c, "#inst-1").await;
    click(&c, "#inst-3").await;
    click(&c, "#inst-bonus").await;
    fill(&c, "#min_subtotal", "5000").await;
    fill(&c, "#max_subtotal", "1,000").await;
    fill(&c, "#logo_url", "javascript:alert(1)").await;
    submit(&c, "#save-method").await;
    let errs = errors(&c).await;
    assert!(
        errs.iter().any(|e| e.contains("加盟店名（英字）を入力")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("一括払い")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("ロゴ画像URL")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("円を超える場合")),
        "{errs:?}"
    );
    assert!(text(&c, ".alert").await.contains("まだ保存されていません"));
    // What was typed is still there.
    assert_eq!(value(&c, "#min_subtotal").await, "5000");
    assert!(checked(&c, "#three_ds-on").await);
    assert!(checked(&c, "#capture-auth_and_capture").await);
    assert!(!checked(&c, "#inst-1").await);
    assert!(checked(&c, "#inst-bonus").await);
    full_shot(&c, "methods-03-card-errors").await;
    // Nothing was stored.
    let s = methods::method_settings(&t.app, t.shop_id, PaymentMethod::PaygentCard)
        .await
        .unwrap();
    assert!(s.updated_at.is_none());

    // Corrected: saved, and the message says what changed.
    click(&c, "#inst-1").await;
    fill(&c, "#merchant_name_en", "JUCHU TEST SHOP").await;
    fill(&c, "#max_subtotal", "300000").await;
    fill(&c, "#logo_url", "/img/cards.png").await;
    click(&c, "#attempt-medium").await;
    fill(
        &c,
        "#installments_note",
        "ご利用のカードによっては選択できない回数があります。",
    )
    .await;
    fill(
        &c,
        "#confirm_note",
        "ご注文確定後、カードのオーソリを行います。",
    )
    .await;
    submit(&c, "#save-method").await;
    let done = text(&c, "#done").await;
    assert!(
        done.contains("クレジットカード決済（ペイジェント）の設定を保存しました"),
        "{done}"
    );
    assert!(
        done.contains("3Dセキュア") && done.contains("売上確定方式"),
        "{done}"
    );
    let row = text(&c, "#m-paygent_card").await;
    assert!(
        row.contains("利用する") && row.contains("オーソリ＋売上"),
        "{row}"
    );
    assert!(row.contains("一括・3回・ボーナス一括"), "{row}");
    assert!(row.contains("5,000円以上 300,000円以下"), "{row}");
    full_shot(&c, "methods-04-card-saved").await;
    let s = methods::method_settings(&t.app, t.shop_id, PaymentMethod::PaygentCard)
        .await
        .unwrap();
    assert!(s.three_ds);
    assert_eq!(s.capture, CaptureMode::AuthAndCapture);
    assert_eq!(s.attempt_control, AttemptControl::Medium);
    assert_eq!(s.installments, vec!["1", "3", "bonus"]);
    assert_eq!((s.min_subtotal, s.max_subtotal), (Some(5000), Some(300000)));

    // A konbini method has no card settings on its form, but a due date.
    c.goto(&format!(
        "{}/admin/settings/payment-methods/gmo_konbini",
        t.base
    ))
    .await
    .unwrap();
    assert!(c.find(Locator::Id("three_ds-on")).await.is_err());
    assert!(c.find(Locator::Css("#capture-auth_only")).await.is_err());
    fill(&c, "#due_days", "61").await;
    submit(&c, "#save-method").await;
    assert!(errors(&c).await.iter().any(|e| e.contains("1〜60日")));
    fill(&c, "#due_days", "5").await;
    submit(&c, "#save-method").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("コンビニ決済（GMO）の設定を保存しました（変更した項目: 支払期限）")
    );

    // Credentials: Paygent in full, then one secret changed; GMO with missing fields.
    for (id, v) in [
        ("#paygent-merchant_id", "38921"),
        ("#paygent-connect_id", "conn-38921-live"),
        ("#paygent-connect_password", "Pw-s3cr3t-5678"),
        ("#paygent-token_key", "tok-key-abcdef-0001"),
        ("#paygent-three_ds_hash_key", "tds-hash-qwerty-0003"),
    ] {
        fill(&c, id, v).await;
    }
    submit(&c, "#cred-paygent button[type=submit]").await;
    let done = text(&c, "#done").await;
    assert!(
        done.contains("ペイジェントの接続設定を保存しました"),
        "{done}"
    );
    let panel = text(&c, "#cred-paygent").await;
    assert!(panel.contains("保存済み: ••••••5678"), "{panel}");
    assert!(!panel.contains("s3cr3t"), "{panel}");
    assert_eq!(value(&c, "#paygent-merchant_id").await, "38921");
    assert_eq!(value(&c, "#paygent-connect_password").await, "");
    fill(&c, "#paygent-token_key", "tok-key-new-9999").await;
    submit(&c, "#cred-paygent button[type=submit]").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("ペイジェントの接続設定を保存しました（更新した項目: トークン生成鍵）")
    );
    fill(&c, "#gmo-shop_id", "tshop00012345").await;
    fill(&c, "#gmo-site_pass", "has space").await;
    submit(&c, "#cred-gmo button[type=submit]").await;
    let gmo = text(&c, "#cred-gmo").await;
    assert!(
        gmo.contains("ショップパスワードを入力してください"),
        "{gmo}"
    );
    assert!(gmo.contains("空白は使えません"), "{gmo}");
    assert_eq!(value(&c, "#gmo-shop_id").await, "tshop00012345");
    full_shot(&c, "methods-05-credentials").await;
    let Some(GatewayCredentials::Paygent(pg)) =
        juchu_app::credentials::credentials(&t.app, t.shop_id, Gateway::Paygent)
            .await
            .unwrap()
    else {
        panic!("paygent credentials");
    };
    assert_eq!(pg.connect_password.expose(), "Pw-s3cr3t-5678");
    assert_eq!(pg.token_key.expose(), "tok-key-new-9999");

    // 配送方法: add (an error first), edit, delete.
    c.goto(&format!("{}/admin/settings/payment-methods", t.base))
        .await
        .unwrap();
    fill(&c, "#d-name", "メール便").await;
    fill(&c, "#d-fee", "").await;
    submit(&c, "#delivery-form button[type=submit]").await;
    let errs = errors(&c).await;
    assert!(
        errs.iter().any(|e| e.contains("送料を入力するか")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("1つ以上選んでください")),
        "{errs:?}"
    );
    assert_eq!(value(&c, "#d-name").await, "メール便");
    fill(&c, "#d-fee", "180").await;
    click(&c, "#delivery-form input[value=gmo_card]").await;
    click(&c, "#delivery-form input[value=bank_transfer]").await;
    submit(&c, "#delivery-form button[type=submit]").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("配送方法「メール便」を追加しました")
    );
    let ds = methods::deliveries(&t.app, t.shop_id).await.unwrap();
    let mail = ds.iter().find(|d| d.name == "メール便").unwrap().clone();
    assert_eq!(mail.fee, Some(180));
    assert_eq!(
        mail.payment_methods,
        vec![PaymentMethod::GmoCard, PaymentMethod::BankTransfer]
    );
    submit(&c, &format!("#d-{} a", mail.id)).await;
    assert!(text(&c, "#delivery-form-title").await.contains("編集"));
    fill(&c, "#d-name", "メール便（ポスト投函）").await;
    submit(&c, "#delivery-form button[type=submit]").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("配送方法「メール便（ポスト投函）」を保存しました")
    );
    assert!(
        text(&c, "#m-gmo_card")
            .await
            .contains("メール便（ポスト投函）")
    );
    c.execute(
        "document.getElementById('deliveries').scrollIntoView(); return null;",
        vec![],
    )
    .await
    .unwrap();
    shot(&c, "methods-06-deliveries").await;
    c.execute("window.confirm = () => true; return null;", vec![])
        .await
        .unwrap();
    submit(&c, &format!("#d-{} button", mail.id)).await;
    assert!(
        text(&c, "#done")
            .await
            .contains("配送方法「メール便（ポスト投函）」を削除しました")
    );
    assert_eq!(
        methods::deliveries(&t.app, t.shop_id).await.unwrap().len(),
        3
    );

    // An operator sees the settings but cannot change them, nor see the credentials.
    let (_d2, c2) = browser().await;
    login(&c2, &t, "operator").await;
    c2.goto(&format!("{}/admin/settings/payment-methods", t.base))
        .await
        .unwrap();
    assert!(c2.find(Locator::Id("cred-paygent")).await.is_err());
    assert!(c2.find(Locator::Id("delivery-form")).await.is_err());
    c2.goto(&format!(
        "{}/admin/settings/payment-methods/paygent_card",
        t.base
    ))
    .await
    .unwrap();
    assert!(c2.find(Locator::Id("save-method")).await.is_err());
    assert_eq!(value(&c2, "#merchant_name_en").await, "JUCHU TEST SHOP");
    full_shot(&c2, "methods-07-operator").await;
    c2.close().await.unwrap();
    c.close().await.unwrap();
}

//! The buyer's steps before paying: the cart, お客様情報 (or a member's login), 配送・支払方法.

use super::*;

/// カートに入れる.
pub async fn add(app: &App, b: &Buyer, code: &str, quantity: i64) -> Result<(), AppError> {
    let v = catalog::variant_by_code(&mut *app.store.read().await?, b.shop_id, code.trim())
        .await?
        .ok_or_else(|| invalid("code", "unknown_product", "この商品はありません"))?;
    change(app, b, |l| {
        let have = l
            .cart
            .iter()
            .find(|x| x.code == v.draft.code)
            .map_or(0, |x| x.quantity);
        let want = have + quantity;
        check_quantity(want, v.draft.stock)?;
        match l.cart.iter_mut().find(|x| x.code == v.draft.code) {
            Some(x) => x.quantity = want,
            None => l.cart.push(Line {
                code: v.draft.code.clone(),
                quantity: want,
            }),
        }
        Ok(())
    })
    .await
}

pub(super) fn check_quantity(q: i64, stock: Option<i64>) -> Result<(), AppError> {
    if !(1..=999).contains(&q) {
        return Err(invalid(
            "quantity",
            "out_of_range",
            "数量は1〜999で指定してください",
        ));
    }
    if let Some(s) = stock
        && q > s
    {
        return Err(invalid(
            "quantity",
            "insufficient_stock",
            if s == 0 {
                "在庫がありません".to_owned()
            } else {
                format!("在庫が不足しています（在庫 {s}）")
            },
        ));
    }
    Ok(())
}

/// 数量の変更 (0: 削除).
pub async fn set_quantity(app: &App, b: &Buyer, code: &str, quantity: i64) -> Result<(), AppError> {
    let v = catalog::variant_by_code(&mut *app.store.read().await?, b.shop_id, code.trim())
        .await?
        .ok_or_else(|| invalid("code", "unknown_product", "この商品はありません"))?;
    if quantity != 0 {
        check_quantity(quantity, v.draft.stock)?;
    }
    change(app, b, |l| {
        l.cart.retain(|x| x.code != v.draft.code || quantity != 0);
        if let Some(x) = l.cart.iter_mut().find(|x| x.code == v.draft.code) {
            x.quantity = quantity;
        }
        Ok(())
    })
    .await
}

pub(super) fn person(i: &BuyerInput) -> PersonInput {
    PersonInput {
        family_name: i.family_name.clone(),
        given_name: i.given_name.clone(),
        family_kana: i.family_kana.clone(),
        given_kana: i.given_kana.clone(),
        company: String::new(),
        postal_code: i.postal_code.clone(),
        prefecture: i.prefecture.clone(),
        address1: i.address1.clone(),
        address2: i.address2.clone(),
        tel: i.tel.clone(),
    }
}

/// Check お客様情報 the way an order checks it, reporting every bad field by the form's
/// names.
pub(super) fn check_buyer(i: &BuyerInput) -> Result<(), AppError> {
    let probe = OrderInput {
        customer_id: None,
        customer: person(i),
        email: i.email.clone(),
        birth_date: None,
        sex: None,
        delivery: None,
        delivery_date: None,
        delivery_time: None,
        items: vec![ItemInput {
            product_code: "X".into(),
            product_name: Some("X".into()),
            class1: None,
            class2: None,
            unit_price: Some(1),
            quantity: 1,
            tax_rate: Some(10),
        }],
        discount: 0,
        shipping_fee: 0,
        fee: 0,
        points_used: 0,
        points_earned: 0,
        payment_method: PaymentMethod::BankTransfer.code().into(),
        status: None,
        remarks: String::new(),
        memo: String::new(),
        ordered_at: None,
        shipped_on: None,
        tracking_number: String::new(),
        gateway_ref: String::new(),
        device: None,
        ip: String::new(),
    };
    let mut e = Invalid::default();
    if let Err(inv) = probe.validate() {
        for f in inv.0 {
            let field = f
                .field
                .strip_prefix("customer.")
                .unwrap_or(&f.field)
                .to_owned();
            e.push(FieldError::new(field, f.code, f.message));
        }
    }
    let required = [
        ("family_name", &i.family_name, "お名前（姓）"),
        ("given_name", &i.given_name, "お名前（名）"),
        ("family_kana", &i.family_kana, "フリガナ（セイ）"),
        ("given_kana", &i.given_kana, "フリガナ（メイ）"),
        ("tel", &i.tel, "電話番号"),
        ("postal_code", &i.postal_code, "郵便番号"),
        ("prefecture", &i.prefecture, "都道府県"),
        ("address1", &i.address1, "住所"),
    ];
    for (field, v, label) in required {
        if v.trim().is_empty() && !e.0.iter().any(|f| f.field == field) {
            e.push(FieldError::new(
                field,
                "required",
                format!("{label}を入力してください"),
            ));
        }
    }
    e.into_result(()).map_err(AppError::from)
}

/// お客様情報 as a guest.
pub async fn set_buyer(app: &App, b: &Buyer, input: BuyerInput) -> Result<(), AppError> {
    check_buyer(&input)?;
    change(app, b, |l| {
        l.details.buyer = Some(input);
        l.c.customer_id = None;
        l.details.points = 0;
        Ok(())
    })
    .await
}

/// 会員ログイン: the member's stored details fill お客様情報.
pub async fn login(app: &App, b: &Buyer, email: &str, password: &str) -> Result<(), AppError> {
    let found = customers::login_of(&mut *app.store.read().await?, b.shop_id, email.trim()).await?;
    let ok = match &found {
        Some((_, hash)) if !hash.is_empty() => crate::access::verify_password(password, hash),
        _ => {
            // As long as a wrong password takes.
            let _ = crate::access::verify_password(password, crate::access::DUMMY_HASH);
            false
        }
    };
    let Some((id, _)) = found.filter(|_| ok) else {
        return Err(invalid(
            "password",
            "login_failed",
            "メールアドレスまたはパスワードが正しくありません",
        ));
    };
    let m = customers::get(&mut *app.store.read().await?, b.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    let p = &m.draft.person;
    let input = BuyerInput {
        family_name: p.family_name.clone(),
        given_name: p.given_name.clone(),
        family_kana: p.family_kana.clone(),
        given_kana: p.given_kana.clone(),
        email: m.draft.email.clone(),
        tel: p.tel.clone(),
        postal_code: p.postal_code.clone(),
        prefecture: p.prefecture.clone(),
        address1: p.address1.clone(),
        address2: p.address2.clone(),
    };
    change(app, b, |l| {
        l.details.buyer = Some(input);
        l.c.customer_id = Some(id);
        Ok(())
    })
    .await
}

/// 配送方法・お支払い方法.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChoiceInput {
    pub delivery_id: i64,
    #[serde(default)]
    pub payment_method: String,
    #[serde(default)]
    pub konbini_store: Option<String>,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub remarks: String,
}

pub async fn choose(app: &App, b: &Buyer, input: ChoiceInput) -> Result<(), AppError> {
    let l = load(app, b).await?;
    let delivery = methods::delivery(app, b.shop_id, input.delivery_id)
        .await
        .map_err(|_| invalid("delivery_id", "unknown", "配送方法を選んでください"))?;
    let subtotal = subtotal_of(app, b.shop_id, &l.cart).await?;
    let offered = methods::offered(app, b.shop_id, &delivery, subtotal).await?;
    let mut e = Invalid::default();
    let method = PaymentMethod::ALL
        .into_iter()
        .find(|m| m.code() == input.payment_method.trim());
    match method {
        Some(m) if offered.iter().any(|s| s.method == m) => {}
        _ => e.push(FieldError::new(
            "payment_method",
            "not_offered",
            "お支払い方法を選んでください（この配送方法・金額でご利用いただける方法から）",
        )),
    }
    let store = input
        .konbini_store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if matches!(
        method,
        Some(PaymentMethod::GmoKonbini | PaymentMethod::PaygentKonbini)
    ) && store.is_none()
    {
        e.push(FieldError::new(
            "konbini_store",
            "required",
            "お支払いになるコンビニを選んでください",
        ));
    }
    if input.points < 0 {
        e.push(FieldError::new(
            "points",
            "out_of_range",
            "ご利用ポイントは0以上で指定してください",
        ));
    } else if input.points > 0 {
        match l.c.customer_id {
            None => e.push(FieldError::new(
                "points",
                "members_only",
                "ポイントは会員ログインしてご利用ください",
            )),
            Some(cid) => {
                let m = customers::get(&mut *app.store.read().await?, b.shop_id, cid)
                    .await?
                    .ok_or(AppError::NotFound("会員"))?;
                let most = (subtotal + delivery.fee.unwrap_or(0)).min(m.points);
                if input.points > most {
                    e.push(FieldError::new(
                        "points",
                        "too_many",
                        format!("ご利用いただけるポイントは{most}ptまでです"),
                    ));
                }
            }
        }
    }
    if input.remarks.chars().count() > 3000 {
        e.push(FieldError::new(
            "remarks",
            "too_long",
            "ご要望は3000文字以内で入力してください",
        ));
    }
    e.into_result(())?;
    change(app, b, |l| {
        l.details.delivery_id = Some(delivery.id);
        l.details.payment_method = method;
        l.details.konbini_store = store;
        l.details.points = input.points;
        l.details.remarks = input.remarks;
        Ok(())
    })
    .await
}

pub(super) async fn subtotal_of(app: &App, shop_id: i64, cart: &[Line]) -> Result<i64, AppError> {
    Ok(lines_of(app, shop_id, cart)
        .await?
        .iter()
        .map(|l| l.line_total)
        .sum())
}

/// One cart line as the buyer sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CartLine {
    pub code: String,
    pub product_name: String,
    pub class1: String,
    pub class2: String,
    pub unit_price: i64,
    pub tax_rate: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub stock: Option<i64>,
}

pub(super) async fn lines_of(
    app: &App,
    shop_id: i64,
    cart: &[Line],
) -> Result<Vec<CartLine>, AppError> {
    let mut conn = app.store.read().await?;
    let mut out = Vec::new();
    for l in cart {
        // A product removed from the catalog since drops out of the cart.
        if let Some(v) = catalog::variant_by_code(&mut conn, shop_id, &l.code).await? {
            out.push(CartLine {
                code: v.draft.code.clone(),
                product_name: v.product_name.clone(),
                class1: v.draft.class1.clone(),
                class2: v.draft.class2.clone(),
                unit_price: v.draft.price.get(),
                tax_rate: v.draft.tax_rate.percent(),
                quantity: l.quantity,
                line_total: v.draft.price.get() * l.quantity,
                stock: v.draft.stock,
            });
        }
    }
    Ok(out)
}

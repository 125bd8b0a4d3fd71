//! 配送方法: what each delivery costs and which payment methods it lists.

use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::{FieldError, Invalid};
use juchu_store::methods as store;

use super::NAME_MAX;
use crate::{Actor, App, AppError};

/// 配送方法. `fee` None = 送料別途見積: the total is not fixed, so no payment through a
/// gateway is offered with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryMethod {
    pub id: i64,
    pub name: String,
    /// 送料 (yen); null = 送料別途見積.
    pub fee: Option<i64>,
    /// 対応可能な支払方法.
    pub payment_methods: Vec<PaymentMethod>,
    /// 表示順 (ascending).
    pub position: i64,
}

impl DeliveryMethod {
    fn of(d: store::Delivery) -> DeliveryMethod {
        DeliveryMethod {
            id: d.id,
            name: d.name,
            fee: d.fee,
            payment_methods: d.payment_methods,
            position: d.position,
        }
    }
}

/// A delivery method to create or to replace one with. (What GET returns can be sent back:
/// `id` is ignored.)
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DeliveryInput {
    pub name: String,
    /// 送料 (yen); null or left out = 送料別途見積.
    #[serde(default)]
    pub fee: Option<i64>,
    /// Payment method codes (`paygent_card`, `bank_transfer` …), at least one.
    #[serde(default)]
    pub payment_methods: Vec<String>,
    /// 表示順; left out: after the others (new) or unchanged (update).
    #[serde(default)]
    pub position: Option<i64>,
}

fn validate_delivery(input: &DeliveryInput) -> Result<store::DeliveryFields, Invalid> {
    let mut errors = Invalid::default();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(FieldError::new(
            "name",
            "required",
            "配送方法名を入力してください",
        ));
    } else if name.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            "name",
            "too_long",
            format!("配送方法名は{NAME_MAX}文字以内で入力してください"),
        ));
    }
    if let Some(f) = input.fee {
        errors.take(juchu_domain::Yen::non_negative("fee", f));
    }
    let mut methods = vec![];
    for (i, c) in input.payment_methods.iter().enumerate() {
        if let Some(m) = errors.take(PaymentMethod::parse(
            &format!("payment_methods[{i}]"),
            c.trim(),
        )) && !methods.contains(&m)
        {
            methods.push(m);
        }
    }
    methods.sort();
    if input.payment_methods.is_empty() {
        errors.push(FieldError::new(
            "payment_methods",
            "required",
            "対応可能な支払方法を1つ以上選んでください",
        ));
    }
    if let Some(p) = input.position
        && !(0..=9999).contains(&p)
    {
        errors.push(FieldError::new(
            "position",
            "out_of_range",
            "表示順は0〜9999で入力してください",
        ));
    }
    errors.into_result(store::DeliveryFields {
        name,
        fee: input.fee,
        payment_methods: methods,
        position: input.position.unwrap_or(0),
    })
}

/// Check a delivery method without saving it: every bad field (forms add the ones they
/// could not parse).
pub fn check_delivery(input: &DeliveryInput) -> Result<(), Invalid> {
    validate_delivery(input).map(|_| ())
}

/// The shop's delivery methods in display order.
pub async fn deliveries(app: &App, shop_id: i64) -> Result<Vec<DeliveryMethod>, AppError> {
    Ok(store::deliveries(&mut *app.store.read().await?, shop_id)
        .await?
        .into_iter()
        .map(DeliveryMethod::of)
        .collect())
}

/// One delivery method of the shop.
pub async fn delivery(app: &App, shop_id: i64, id: i64) -> Result<DeliveryMethod, AppError> {
    store::delivery(&mut *app.store.read().await?, shop_id, id)
        .await?
        .map(DeliveryMethod::of)
        .ok_or(AppError::NotFound("配送方法"))
}

/// Create (`id` None) or change a delivery method (admins only).
pub async fn save_delivery(
    app: &App,
    actor: &Actor,
    id: Option<i64>,
    input: DeliveryInput,
) -> Result<DeliveryMethod, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut fields = validate_delivery(&input)?;
    let mut tx = app.store.begin().await?;
    let id = match id {
        None => {
            if input.position.is_none() {
                fields.position = store::next_delivery_position(&mut tx, actor.shop_id).await?;
            }
            store::insert_delivery(&mut tx, actor.shop_id, &fields, app.now()).await?
        }
        Some(id) => {
            if input.position.is_none() {
                fields.position = store::delivery(tx.conn(), actor.shop_id, id)
                    .await?
                    .ok_or(AppError::NotFound("配送方法"))?
                    .position;
            }
            if !store::update_delivery(&mut tx, actor.shop_id, id, &fields).await? {
                return Err(AppError::NotFound("配送方法"));
            }
            id
        }
    };
    tx.commit().await?;
    Ok(DeliveryMethod {
        id,
        name: fields.name,
        fee: fields.fee,
        payment_methods: fields.payment_methods,
        position: fields.position,
    })
}

/// Remove a delivery method (admins only).
pub async fn delete_delivery(app: &App, actor: &Actor, id: i64) -> Result<(), AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    match store::delete_delivery(&mut tx, actor.shop_id, id).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound("配送方法")),
        Err(e) if store::is_in_use(&e) => {
            return Err(AppError::conflict(
                "delivery_in_use",
                "この配送方法は受注・購入手続きで使われているため削除できません",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(())
}

/// Give a shop without delivery methods the usual three: 宅配便 (800円, every method but
/// 代金引換), 代金引換（宅配便） (800円, 代金引換 only) and 大型家具便（送料別途見積）
/// (every method listed; with no fixed 送料 only those without a gateway are offered).
/// Does nothing when the shop has any.
pub async fn seed_defaults(app: &App, shop_id: i64) -> Result<(), AppError> {
    let all: Vec<PaymentMethod> = PaymentMethod::ALL.to_vec();
    let defaults = [
        store::DeliveryFields {
            name: "宅配便".to_owned(),
            fee: Some(800),
            payment_methods: all
                .iter()
                .copied()
                .filter(|m| *m != PaymentMethod::CashOnDelivery)
                .collect(),
            position: 1,
        },
        store::DeliveryFields {
            name: "代金引換（宅配便）".to_owned(),
            fee: Some(800),
            payment_methods: vec![PaymentMethod::CashOnDelivery],
            position: 2,
        },
        store::DeliveryFields {
            name: "大型家具便（送料別途見積）".to_owned(),
            fee: None,
            payment_methods: all,
            position: 3,
        },
    ];
    let mut tx = app.store.begin().await?;
    if store::seed_deliveries(&mut tx, shop_id, &defaults, app.now()).await? {
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_validation() {
        let e = validate_delivery(&DeliveryInput {
            name: "".into(),
            fee: Some(-1),
            payment_methods: vec!["nope".into()],
            position: Some(-1),
        })
        .unwrap_err();
        let f: Vec<_> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(f, vec!["name", "fee", "payment_methods[0]", "position"]);
        let ok = validate_delivery(&DeliveryInput {
            name: " メール便 ".into(),
            fee: Some(180),
            payment_methods: vec![
                "bank_transfer".into(),
                "paygent_card".into(),
                "bank_transfer".into(),
            ],
            position: None,
        })
        .unwrap();
        assert_eq!(ok.name, "メール便");
        assert_eq!(
            ok.payment_methods,
            vec![PaymentMethod::PaygentCard, PaymentMethod::BankTransfer]
        );
        assert!(
            validate_delivery(&DeliveryInput {
                name: "x".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}

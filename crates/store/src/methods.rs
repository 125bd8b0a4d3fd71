//! What the shop offers at checkout (migration 0005): each payment method's settings, each
//! gateway's credentials (sealed by the app; the store keeps only ciphertext and the masked
//! view), and the delivery methods with the payment methods they list.

use jiff::Timestamp;
use juchu_domain::payment::{AttemptControl, CaptureMode};
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::payments::gateway_from;
use crate::{StoreError, Tx};

fn ts(s: &str) -> Result<Timestamp, StoreError> {
    from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}")))
}

/// A comma list as stored (`"1,3,bonus"`); the empty string is the empty list.
fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

// ---- payment method settings ----

/// One method's stored settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRow {
    pub shop_id: i64,
    pub method: PaymentMethod,
    pub enabled: bool,
    pub display_name: String,
    pub capture: CaptureMode,
    pub installments: Vec<String>,
    pub installments_note: String,
    pub three_ds: bool,
    pub merchant_name_en: String,
    pub attempt_control: AttemptControl,
    pub min_subtotal: Option<i64>,
    pub max_subtotal: Option<i64>,
    pub due_days: i64,
    pub payment_note: String,
    pub confirm_note: String,
    pub mail_note: String,
    pub logo_url: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

const METHOD_COLS: &str = "shop_id, method, enabled, display_name, capture_mode, installments, \
    installments_note, three_ds, merchant_name_en, attempt_control, min_subtotal, max_subtotal, due_days, \
    payment_note, confirm_note, mail_note, logo_url, updated_at, updated_by";

#[derive(sqlx::FromRow)]
struct MethodDb {
    shop_id: i64,
    method: String,
    enabled: i64,
    display_name: String,
    capture_mode: String,
    installments: String,
    installments_note: String,
    three_ds: i64,
    merchant_name_en: String,
    attempt_control: String,
    min_subtotal: Option<i64>,
    max_subtotal: Option<i64>,
    due_days: i64,
    payment_note: String,
    confirm_note: String,
    mail_note: String,
    logo_url: String,
    updated_at: String,
    updated_by: String,
}

impl TryFrom<MethodDb> for MethodRow {
    type Error = StoreError;
    fn try_from(r: MethodDb) -> Result<MethodRow, StoreError> {
        Ok(MethodRow {
            shop_id: r.shop_id,
            method: PaymentMethod::from_code(&r.method)
                .ok_or_else(|| corrupt(format!("payment_method_settings.method {}", r.method)))?,
            enabled: r.enabled != 0,
            display_name: r.display_name,
            capture: CaptureMode::from_code(&r.capture_mode)
                .ok_or_else(|| corrupt(format!("capture_mode {}", r.capture_mode)))?,
            installments: split(&r.installments).map(str::to_owned).collect(),
            installments_note: r.installments_note,
            three_ds: r.three_ds != 0,
            merchant_name_en: r.merchant_name_en,
            attempt_control: AttemptControl::from_code(&r.attempt_control)
                .ok_or_else(|| corrupt(format!("attempt_control {}", r.attempt_control)))?,
            min_subtotal: r.min_subtotal,
            max_subtotal: r.max_subtotal,
            due_days: r.due_days,
            payment_note: r.payment_note,
            confirm_note: r.confirm_note,
            mail_note: r.mail_note,
            logo_url: r.logo_url,
            updated_at: ts(&r.updated_at)?,
            updated_by: r.updated_by,
        })
    }
}

/// The stored settings of one method, or None (the app's defaults apply).
pub async fn method(
    conn: &mut AnyConnection,
    shop_id: i64,
    method: PaymentMethod,
) -> Result<Option<MethodRow>, StoreError> {
    let r: Option<MethodDb> = sqlx::query_as(&format!(
        "SELECT {METHOD_COLS} FROM payment_method_settings WHERE shop_id = $1 AND method = $2"
    ))
    .bind(shop_id)
    .bind(method.code())
    .fetch_optional(conn)
    .await?;
    r.map(MethodRow::try_from).transpose()
}

/// The same inside a write transaction, with the shop's row locked first (PostgreSQL
/// `FOR UPDATE`; SQLite's transaction holds the write lock): a change of a method's settings
/// reads and writes without another change slipping in between, row or no row yet.
pub async fn method_for_update(
    tx: &mut Tx,
    shop_id: i64,
    m: PaymentMethod,
) -> Result<Option<MethodRow>, StoreError> {
    let lock = tx.lock_clause();
    let _: Option<i64> = sqlx::query_scalar(&format!("SELECT id FROM shops WHERE id = $1{lock}"))
        .bind(shop_id)
        .fetch_optional(tx.conn())
        .await?;
    method(tx.conn(), shop_id, m).await
}

/// Every stored method of the shop (methods without a row are not listed).
pub async fn methods(conn: &mut AnyConnection, shop_id: i64) -> Result<Vec<MethodRow>, StoreError> {
    let rows: Vec<MethodDb> = sqlx::query_as(&format!(
        "SELECT {METHOD_COLS} FROM payment_method_settings WHERE shop_id = $1 ORDER BY method"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(MethodRow::try_from).collect()
}

/// Write one method's settings (insert or replace).
pub async fn set_method(tx: &mut Tx, r: &MethodRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payment_method_settings (shop_id, method, enabled, display_name, capture_mode, installments, \
         installments_note, three_ds, merchant_name_en, attempt_control, min_subtotal, max_subtotal, due_days, \
         payment_note, confirm_note, mail_note, logo_url, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (shop_id, method) DO UPDATE SET enabled = excluded.enabled, display_name = excluded.display_name, \
         capture_mode = excluded.capture_mode, installments = excluded.installments, \
         installments_note = excluded.installments_note, three_ds = excluded.three_ds, \
         merchant_name_en = excluded.merchant_name_en, attempt_control = excluded.attempt_control, \
         min_subtotal = excluded.min_subtotal, max_subtotal = excluded.max_subtotal, due_days = excluded.due_days, \
         payment_note = excluded.payment_note, confirm_note = excluded.confirm_note, mail_note = excluded.mail_note, \
         logo_url = excluded.logo_url, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(r.shop_id)
    .bind(r.method.code())
    .bind(i64::from(r.enabled))
    .bind(r.display_name.clone())
    .bind(r.capture.code())
    .bind(r.installments.join(","))
    .bind(r.installments_note.clone())
    .bind(i64::from(r.three_ds))
    .bind(r.merchant_name_en.clone())
    .bind(r.attempt_control.code())
    .bind(r.min_subtotal)
    .bind(r.max_subtotal)
    .bind(r.due_days)
    .bind(r.payment_note.clone())
    .bind(r.confirm_note.clone())
    .bind(r.mail_note.clone())
    .bind(r.logo_url.clone())
    .bind(to_db(r.updated_at))
    .bind(r.updated_by.clone())
    .execute(tx.conn())
    .await?;
    Ok(())
}

// ---- gateway credentials ----

/// A gateway's credentials as stored: ciphertext and the masked view (both opaque here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsRow {
    pub shop_id: i64,
    pub gateway: Gateway,
    pub sealed: String,
    pub masked: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

#[derive(sqlx::FromRow)]
struct CredentialsDb {
    shop_id: i64,
    gateway: String,
    sealed: String,
    masked: String,
    updated_at: String,
    updated_by: String,
}

impl TryFrom<CredentialsDb> for CredentialsRow {
    type Error = StoreError;
    fn try_from(r: CredentialsDb) -> Result<CredentialsRow, StoreError> {
        Ok(CredentialsRow {
            shop_id: r.shop_id,
            gateway: gateway_from(&r.gateway)?,
            sealed: r.sealed,
            masked: r.masked,
            updated_at: ts(&r.updated_at)?,
            updated_by: r.updated_by,
        })
    }
}

const CRED_COLS: &str = "shop_id, gateway, sealed, masked, updated_at, updated_by";

pub async fn credentials(
    conn: &mut AnyConnection,
    shop_id: i64,
    gateway: Gateway,
) -> Result<Option<CredentialsRow>, StoreError> {
    let r: Option<CredentialsDb> = sqlx::query_as(&format!(
        "SELECT {CRED_COLS} FROM gateway_credentials WHERE shop_id = $1 AND gateway = $2"
    ))
    .bind(shop_id)
    .bind(gateway.code())
    .fetch_optional(conn)
    .await?;
    r.map(CredentialsRow::try_from).transpose()
}

/// The same, read under the row lock of a write transaction (PostgreSQL `FOR UPDATE`), so two
/// concurrent partial updates do not lose each other's fields.
pub async fn credentials_for_update(
    tx: &mut Tx,
    shop_id: i64,
    gateway: Gateway,
) -> Result<Option<CredentialsRow>, StoreError> {
    let lock = tx.lock_clause();
    let r: Option<CredentialsDb> = sqlx::query_as(&format!(
        "SELECT {CRED_COLS} FROM gateway_credentials WHERE shop_id = $1 AND gateway = $2{lock}"
    ))
    .bind(shop_id)
    .bind(gateway.code())
    .fetch_optional(tx.conn())
    .await?;
    r.map(CredentialsRow::try_from).transpose()
}

/// Every stored credential of every shop (the start-up check that the key opens them).
pub async fn all_credentials(conn: &mut AnyConnection) -> Result<Vec<CredentialsRow>, StoreError> {
    let rows: Vec<CredentialsDb> = sqlx::query_as(&format!(
        "SELECT {CRED_COLS} FROM gateway_credentials ORDER BY shop_id, gateway"
    ))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(CredentialsRow::try_from).collect()
}

pub async fn set_credentials(tx: &mut Tx, r: &CredentialsRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gateway_credentials (shop_id, gateway, sealed, masked, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (shop_id, gateway) DO UPDATE SET sealed = excluded.sealed, \
         masked = excluded.masked, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(r.shop_id)
    .bind(r.gateway.code())
    .bind(r.sealed.clone())
    .bind(r.masked.clone())
    .bind(to_db(r.updated_at))
    .bind(r.updated_by.clone())
    .execute(tx.conn())
    .await?;
    Ok(())
}

// ---- delivery methods ----

/// 配送方法. `fee` None = 送料別途見積.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub shop_id: i64,
    pub name: String,
    pub fee: Option<i64>,
    pub payment_methods: Vec<PaymentMethod>,
    pub position: i64,
    pub created_at: Timestamp,
}

/// What a delivery method is made of (create or update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFields {
    pub name: String,
    pub fee: Option<i64>,
    pub payment_methods: Vec<PaymentMethod>,
    pub position: i64,
}

#[derive(sqlx::FromRow)]
struct DeliveryDb {
    id: i64,
    shop_id: i64,
    name: String,
    fee: Option<i64>,
    payment_methods: String,
    position: i64,
    created_at: String,
}

impl TryFrom<DeliveryDb> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryDb) -> Result<Delivery, StoreError> {
        let payment_methods = split(&r.payment_methods)
            .map(|c| {
                PaymentMethod::from_code(c)
                    .ok_or_else(|| corrupt(format!("delivery_methods.payment_methods {c}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Delivery {
            id: r.id,
            shop_id: r.shop_id,
            name: r.name,
            fee: r.fee,
            payment_methods,
            position: r.position,
            created_at: ts(&r.created_at)?,
        })
    }
}

fn codes(ms: &[PaymentMethod]) -> String {
    ms.iter().map(|m| m.code()).collect::<Vec<_>>().join(",")
}

const DELIVERY_COLS: &str = "id, shop_id, name, fee, payment_methods, position, created_at";

/// The shop's delivery methods in display order.
pub async fn deliveries(
    conn: &mut AnyConnection,
    shop_id: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let rows: Vec<DeliveryDb> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLS} FROM delivery_methods WHERE shop_id = $1 ORDER BY position, id"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Delivery::try_from).collect()
}

pub async fn delivery(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Delivery>, StoreError> {
    let r: Option<DeliveryDb> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLS} FROM delivery_methods WHERE shop_id = $1 AND id = $2"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.map(Delivery::try_from).transpose()
}

/// The position after the shop's last delivery method.
pub async fn next_delivery_position(tx: &mut Tx, shop_id: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(position), 0) + 1 AS BIGINT) FROM delivery_methods WHERE shop_id = $1",
    )
    .bind(shop_id)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn insert_delivery(
    tx: &mut Tx,
    shop_id: i64,
    d: &DeliveryFields,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO delivery_methods (shop_id, name, fee, payment_methods, position, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(shop_id)
    .bind(d.name.clone())
    .bind(d.fee)
    .bind(codes(&d.payment_methods))
    .bind(d.position)
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

/// Change a delivery method of the shop; false when it has none with that id.
pub async fn update_delivery(
    tx: &mut Tx,
    shop_id: i64,
    id: i64,
    d: &DeliveryFields,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE delivery_methods SET (name, fee, payment_methods, position) = ($1, $2, $3, $4) \
         WHERE shop_id = $5 AND id = $6",
    )
    .bind(d.name.clone())
    .bind(d.fee)
    .bind(codes(&d.payment_methods))
    .bind(d.position)
    .bind(shop_id)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Remove a delivery method of the shop; false when it has none with that id.
pub async fn delete_delivery(tx: &mut Tx, shop_id: i64, id: i64) -> Result<bool, StoreError> {
    let n = sqlx::query("DELETE FROM delivery_methods WHERE shop_id = $1 AND id = $2")
        .bind(shop_id)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Insert `defaults` unless the shop already has a delivery method. The shop's row is locked
/// first (PostgreSQL; SQLite's transaction holds the write lock), so two concurrent calls
/// insert them once. True when they were inserted.
pub async fn seed_deliveries(
    tx: &mut Tx,
    shop_id: i64,
    defaults: &[DeliveryFields],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let lock = tx.lock_clause();
    let _: Option<i64> = sqlx::query_scalar(&format!("SELECT id FROM shops WHERE id = $1{lock}"))
        .bind(shop_id)
        .fetch_optional(tx.conn())
        .await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_methods WHERE shop_id = $1")
        .bind(shop_id)
        .fetch_one(tx.conn())
        .await?;
    if n > 0 {
        return Ok(false);
    }
    for d in defaults {
        insert_delivery(tx, shop_id, d, now).await?;
    }
    Ok(true)
}

/// A foreign key refused the write (a row elsewhere still points at it).
pub fn is_in_use(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => {
            matches!(d.kind(), sqlx::error::ErrorKind::ForeignKeyViolation)
        }
        _ => false,
    }
}

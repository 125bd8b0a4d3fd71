use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers every operation can give that its own annotation does not list, added from
/// what it takes (the extractors' refusals, `crate::extract`): a token (401), a body (400
/// malformed, 415 not JSON, 422 wrong shape or fields), query parameters (400, 422), path
/// parameters (400 unparsable, 404 not found). A test checks the document against answers.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let params = op.parameters.as_deref().unwrap_or(&[]);
                let has = |p: ParameterIn| params.iter().any(|x| x.parameter_in == p);
                let mut add: Vec<(&str, &str)> = vec![];
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add.push(("401", "`unauthenticated`: no or unknown API token"));
                }
                if op.request_body.is_some() {
                    add.push(("400", "`malformed_json`: the body is not JSON"));
                    add.push((
                        "415",
                        "`unsupported_media_type`: the body is not `application/json`",
                    ));
                    add.push(("422", "`invalid_json` (a field of the wrong type) or `invalid_input` (the fields, each with its reason)"));
                }
                if has(ParameterIn::Query) {
                    add.push((
                        "400",
                        "`invalid_query`: a query parameter that does not parse",
                    ));
                    add.push(("422", "`invalid_input`: the fields, each with its reason"));
                }
                if has(ParameterIn::Path) {
                    add.push((
                        "400",
                        "`invalid_path`: a path parameter that does not parse",
                    ));
                    add.push(("404", "`not_found`: no such record"));
                }
                for (code, what) in add {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(what).into());
                }
            }
        }
    }
}

/// A schema that others take in with `allOf` (serde's `flatten`: a member's CustomerInput is
/// a PersonInput and more) cannot also forbid other properties, or no object satisfies both:
/// the document leaves that to the server, which still refuses unknown fields.
struct FlattenedInputs;

impl Modify for FlattenedInputs {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let Some(c) = doc.components.as_mut() else {
            return;
        };
        for name in ["PersonInput"] {
            if let Some(RefOr::T(Schema::Object(o))) = c.schemas.get_mut(name) {
                o.additional_properties = None;
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "juchu API", description = "受注・決済管理 API. Amounts are integer yen; instants are UTC (RFC 3339); business dates are Japan dates."),
    modifiers(&Bearer, &CommonErrors, &FlattenedInputs),
    paths(
        api::access::issue_token, api::access::tokens, api::access::revoke_token, api::access::me, api::access::list_users, api::access::add_user,
        api::orders::search, api::orders::create, api::orders::get, api::orders::edit, api::orders::delete,
        api::orders::change_status, api::orders::change_status_many, api::orders::move_to_list,
        api::orders::history, api::orders::csv,
        api::catalog::list, api::catalog::create, api::catalog::get, api::catalog::update_variant,
        api::catalog::cancelled_stock, api::catalog::return_stock, api::catalog::return_order_stock,
        api::customers::search, api::customers::create, api::customers::get, api::customers::ledger,
        api::customers::adjust_points,
        api::payments::get, api::payments::authorize, api::payments::operate, api::payments::recover, api::payments::sweep_pending,
        api::payments::fees, api::payments::settings, api::payments::set_settings,
        api::payments::request_later, api::payments::sync, api::payments::notices, api::payments::operations,
        api::payments::mails, api::payments::deliver_mails, api::payments::shop_mail,
        api::payments::set_shop_mail,
        api::bulk::start, api::bulk::list, api::bulk::get, api::bulk::items, api::bulk::stop,
        api::methods::list, api::methods::get, api::methods::set, api::methods::credentials,
        api::methods::set_credentials, api::methods::deliveries, api::methods::create_delivery,
        api::methods::update_delivery, api::methods::delete_delivery,
        api::mails::template, api::mails::set_template, api::mails::reset_template, api::mails::compose,
        api::mails::send, api::mails::outbox, api::mails::get,
        api::documents::slip, api::documents::bulk, api::documents::profile, api::documents::set_profile,
        api::csv::shipping_csv, api::csv::get_columns, api::csv::set_columns, api::csv::reset_columns,
    ),
    tags((name = "orders", description = "受注管理"), (name = "catalog", description = "商品管理・キャンセル受注在庫管理"),
          (name = "customers", description = "顧客管理"), (name = "access", description = "認証・管理者"),
          (name = "payments", description = "決済操作（売上確定・取消・金額変更・払い戻し）"),
          (name = "settings", description = "支払方法設定・決済サービスの接続設定・配送方法"),
          (name = "mails", description = "メール送信（注文確認・配送通知・フリー）・メールテンプレート・送信メール一覧"),
          (name = "documents", description = "帳票出力（受注伝票・納品書・請求書・領収書）・帳票の発行元"))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

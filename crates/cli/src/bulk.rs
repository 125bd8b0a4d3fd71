//! `juchu bulk`: start a 一括処理 run from the command line and follow it with a progress
//! bar, then print the summary and each failure. With `--gateway-sandbox-url` this process
//! works the run itself; without it, the `juchu serve` processes sharing the database do
//! (the run is stored; this command only follows it).

use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use juchu_app::payments::{self, BULK_ACTIONS, BulkInput};
use juchu_app::{Actor, App};
use juchu_domain::payment::Action;
use juchu_domain::search::SearchInput;

use crate::app_err;

#[derive(Args)]
pub struct BulkArgs {
    /// `capture` (売上確定), `cancel` (取消), `refresh` (状態確認), `paidy_close` (クローズ),
    /// `refund` (払い戻し, all that was captured)
    pub action: String,
    /// Shop code.
    #[arg(long, default_value = "demo")]
    pub shop: String,
    /// 注文番号 (repeatable); without any, the search conditions below choose the orders.
    #[arg(long = "number")]
    pub numbers: Vec<i64>,
    /// 決済状況 (repeatable): authorized, expired, captured, in_doubt, …
    #[arg(long)]
    pub payment_state: Vec<String>,
    /// 支払方法 (repeatable): gmo_card, paygent_card, paidy, …
    #[arg(long)]
    pub payment_method: Vec<String>,
    /// 対応状況 (repeatable): new, paid, shipped, …
    #[arg(long)]
    pub status: Vec<String>,
    /// Which list: open, completed, cancelled or all.
    #[arg(long, default_value = "all")]
    pub list: String,
    /// 受注日 from / to (Japan dates, `2024-08-19`).
    #[arg(long)]
    pub ordered_from: Option<String>,
    #[arg(long)]
    pub ordered_to: Option<String>,
    /// Authorizations that lapse within this many days.
    #[arg(long)]
    pub auth_expires_within: Option<String>,
    /// Print the run's number and return; the serve processes work it.
    #[arg(long)]
    pub no_wait: bool,
    /// Work the run in this process, with connectors to the gateways (or sandbox) at this URL
    /// and the shop's stored credentials; without it the serve processes work it.
    #[arg(long, env = "JUCHU_GATEWAY_SANDBOX_URL")]
    pub gateway_sandbox_url: Option<String>,
    /// With `--gateway-sandbox-url`: orders sent to each gateway at once.
    #[arg(long, default_value_t = 8)]
    pub bulk_concurrency: usize,
}

pub async fn run(app: App, a: BulkArgs) -> anyhow::Result<()> {
    let action = Action::from_code(&a.action)
        .filter(|x| BULK_ACTIONS.contains(x))
        .ok_or_else(|| {
            anyhow!(
                "一括処理できる操作は {} です",
                BULK_ACTIONS.map(|x| x.code()).join(", ")
            )
        })?;
    let shop = juchu_store::shops::by_code(
        &mut *app.store.read().await.map_err(|e| app_err(e.into()))?,
        &a.shop,
    )
    .await
    .map_err(|e| app_err(e.into()))?
    .ok_or_else(|| anyhow!("ショップ「{}」はありません", a.shop))?;
    let app = match &a.gateway_sandbox_url {
        Some(u) => {
            let app = app
                .with_bulk(a.bulk_concurrency, Duration::from_secs(60))
                .with_endpoints(juchu_app::connectors::Endpoints::sandbox(
                    u,
                    juchu_gateway::DEFAULT_TIMEOUT,
                ))
                .map_err(app_err)?;
            juchu_app::connectors::reconnect(&app, shop.id)
                .await
                .map_err(app_err)?;
            app
        }
        None => app,
    };
    let app = &app;
    let actor = Actor {
        shop_id: shop.id,
        user_id: None,
        name: "コマンドライン（juchu bulk）".into(),
        is_admin: true,
    };
    let input = if a.numbers.is_empty() {
        BulkInput {
            action,
            numbers: vec![],
            search: Some(SearchInput {
                payment_state: a.payment_state,
                payment_method: a.payment_method,
                status: a.status,
                list: Some(a.list),
                ordered_from: a.ordered_from,
                ordered_to: a.ordered_to,
                auth_expires_within: a.auth_expires_within,
                ..Default::default()
            }),
        }
    } else {
        BulkInput {
            action,
            numbers: a.numbers,
            search: None,
        }
    };
    let run = payments::start_bulk(app, &actor, input, None)
        .await
        .map_err(app_err)?;
    println!(
        "一括処理 #{} を開始しました: {}（{}件、{}円）",
        run.id,
        run.action_label,
        run.total,
        juchu_domain::money::group(run.amount)
    );
    if a.no_wait {
        println!(
            "処理は juchu serve が行います。進み具合: 管理画面の操作ログ、または GET /api/v1/payments/bulk/{}",
            run.id
        );
        return Ok(());
    }
    follow(app, &actor, run.id, run.total).await
}

/// The run's progress as a bar until it ends, then the summary and each failure.
async fn follow(app: &App, actor: &Actor, id: i64, total: i64) -> anyhow::Result<()> {
    let bar = ProgressBar::new(total.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
            .context("progress bar")?,
    );
    let view = loop {
        let v = payments::bulk_run(app, actor, id).await.map_err(app_err)?;
        bar.set_position((v.total - v.pending).max(0) as u64);
        bar.set_message(format!("成功 {} 失敗 {}", v.succeeded, v.failed));
        if matches!(v.state.as_str(), "done" | "stopped") {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish();
    println!(
        "{}: 成功 {}件（{}円） 失敗 {}件 未実行 {}件 {:.1}秒",
        view.state_label,
        view.succeeded,
        juchu_domain::money::group(view.succeeded_amount),
        view.failed,
        view.skipped,
        view.seconds
    );
    let mut page = 1;
    loop {
        let failed = payments::bulk_items(app, actor, id, Some("failed"), page, 1000)
            .await
            .map_err(app_err)?;
        for i in &failed {
            println!("  注文番号 {}: {}", i.order_number, i.result);
        }
        if failed.len() < 1000 {
            break;
        }
        page += 1;
    }
    Ok(())
}

//! 管理者の編集 on SQLite and PostgreSQL: admins change name, role, 利用停止 and password;
//! a disabled user's API token stops working at once; nobody disables or demotes
//! themselves; operators change nobody.

use crate::both_backends;
use crate::support;

use juchu_app::AppError;
use juchu_app::access::{self, UserChange};
use reqwest::StatusCode;
use support::{OPERATOR, TestApp};

async fn admins_manage_users(t: TestApp) {
    let s = access::login(&t.app, support::ADMIN, support::PASSWORD, "test")
        .await
        .unwrap();
    let (admin, _) = access::session(&t.app, &s.token).await.unwrap();
    assert!(admin.is_admin && admin.user_id.is_some());
    // The operator's token works until the operator is disabled.
    let me_op = t
        .client
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(&t.operator_token);
    assert_eq!(me_op.send().await.unwrap().status(), StatusCode::OK);
    let change = UserChange {
        name: "受注 花子（休職中）".into(),
        role: "operator".into(),
        disabled: true,
        password: String::new(),
    };
    let u = access::update_user(&t.app, &admin, OPERATOR, &change)
        .await
        .unwrap();
    assert!(u.disabled);
    assert_eq!(u.name, "受注 花子（休職中）");
    let r = t
        .client
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(&t.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Every bad field at once; a short password, an unknown role.
    let bad = UserChange {
        name: " ".into(),
        role: "boss".into(),
        disabled: false,
        password: "short".into(),
    };
    let Err(AppError::Invalid(i)) = access::update_user(&t.app, &admin, OPERATOR, &bad).await
    else {
        panic!("bad change accepted");
    };
    let fields: Vec<_> = i.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "role", "password"]);
    // Nobody demotes or disables themselves.
    let me_change = UserChange {
        name: "管理 太郎".into(),
        role: "operator".into(),
        disabled: false,
        password: String::new(),
    };
    let e = access::update_user(&t.app, &admin, "admin", &me_change)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("自分自身"), "{e}");
    // A new password works; an operator may change nobody.
    let back = UserChange {
        name: "受注 花子".into(),
        role: "operator".into(),
        disabled: false,
        password: "new-password-123".into(),
    };
    access::update_user(&t.app, &admin, OPERATOR, &back)
        .await
        .unwrap();
    assert!(
        access::login(&t.app, OPERATOR, "new-password-123", "test")
            .await
            .is_ok()
    );
    let op = juchu_app::Actor {
        is_admin: false,
        ..admin.clone()
    };
    let e = access::update_user(&t.app, &op, OPERATOR, &back)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden));
    let e = access::update_user(&t.app, &admin, "nobody", &back)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)));
}

async fn token_request(
    t: &TestApp,
    login: &str,
    password: &str,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let r = t
        .client
        .post(format!("{}/api/v1/auth/token", t.base))
        .json(&serde_json::json!({"login": login, "password": password, "name": "t"}))
        .send()
        .await
        .unwrap();
    let st = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (st, r.json().await.unwrap_or_default(), retry)
}

/// Wrong passwords are throttled per login (5 in 15 minutes) and per address (20), with the
/// wait said plainly and in `Retry-After`; the lock holds even for the right password, lifts
/// when the failures age out, and every failure is kept.
async fn sign_ins_are_throttled(t: TestApp) {
    for _ in 0..access::FAILURES_PER_LOGIN {
        let (st, _, _) = token_request(&t, OPERATOR, "wrong-password").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v, retry) = token_request(&t, OPERATOR, support::PASSWORD).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_attempts");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("ロック") && m.contains("15分後"), "{m}");
    assert_eq!(retry.as_deref(), Some("900"));
    // Another login from the same place still signs in.
    let (st, _, _) = token_request(&t, support::ADMIN, support::PASSWORD).await;
    assert_eq!(st, StatusCode::CREATED);
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_failures")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(failures, access::FAILURES_PER_LOGIN as i64);
    // 15 minutes on, the failures no longer count.
    t.set_now("2024-08-19T01:16:00Z");
    let (st, _, _) = token_request(&t, OPERATOR, support::PASSWORD).await;
    assert_eq!(st, StatusCode::CREATED);
    // One address trying many logins.
    for i in 0..access::FAILURES_PER_ADDRESS {
        let (st, _, _) = token_request(&t, &format!("guess{i}"), "wrong-password").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v, _) = token_request(&t, support::ADMIN, support::PASSWORD).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("接続元"),
        "{v}"
    );
}

/// A new password ends the user's sessions and API tokens; tokens are listed (never the
/// token itself) and revoked at once; a token may expire.
async fn sessions_and_tokens_end_when_they_should(t: TestApp) {
    let bearer = |token: &str| {
        t.client
            .get(format!("{}/api/v1/me", t.base))
            .bearer_auth(token.to_owned())
            .send()
    };
    let s = access::login(&t.app, OPERATOR, support::PASSWORD, "test")
        .await
        .unwrap();
    assert!(access::session(&t.app, &s.token).await.is_ok());
    assert_eq!(
        bearer(&t.operator_token).await.unwrap().status(),
        StatusCode::OK
    );
    // Tokens: the admin sees every user's, the operator their own.
    let (st, all) = t.get("/api/v1/auth/tokens").await;
    assert_eq!(st, StatusCode::OK);
    assert!(all.as_array().unwrap().len() >= 2, "{all}");
    assert!(
        !all.to_string().contains("juchu_"),
        "never the token itself: {all}"
    );
    let (_, own) = support::send(
        t.client
            .get(format!("{}/api/v1/auth/tokens", t.base))
            .bearer_auth(&t.operator_token),
    )
    .await;
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .all(|x| x["login"] == OPERATOR),
        "{own}"
    );
    // A token with a life of one day.
    let (st, v) = t
        .post(
            "/api/v1/auth/token",
            serde_json::json!({"login": OPERATOR, "password": support::PASSWORD, "name": "1日", "expires_in_days": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let short = v["token"].as_str().unwrap().to_owned();
    let (st, _) = t
        .post(
            "/api/v1/auth/token",
            serde_json::json!({"login": OPERATOR, "password": support::PASSWORD, "name": "x", "expires_in_days": 0}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bearer(&short).await.unwrap().status(), StatusCode::OK);
    // Revoked by an admin: refused at once; twice is 404.
    let (_, all) = t.get("/api/v1/auth/tokens").await;
    let id = all
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "1日")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (st, _) = support::send(t.req(
        reqwest::Method::DELETE,
        &format!("/api/v1/auth/tokens/{id}"),
    ))
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        bearer(&short).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let (st, _) = support::send(t.req(
        reqwest::Method::DELETE,
        &format!("/api/v1/auth/tokens/{id}"),
    ))
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Expired after its day.
    let (_, v) = t
        .post(
            "/api/v1/auth/token",
            serde_json::json!({"login": OPERATOR, "password": support::PASSWORD, "name": "1日b", "expires_in_days": 1}),
        )
        .await;
    let day = v["token"].as_str().unwrap().to_owned();
    t.set_now("2024-08-20T02:00:00Z");
    assert_eq!(
        bearer(&day).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // An admin sets a new password: the operator's session and tokens end.
    let s = access::login(&t.app, OPERATOR, support::PASSWORD, "test")
        .await
        .unwrap();
    let (admin, _) = {
        let a = access::login(&t.app, support::ADMIN, support::PASSWORD, "test")
            .await
            .unwrap();
        access::session(&t.app, &a.token).await.unwrap()
    };
    let change = UserChange {
        name: "受注 花子".into(),
        role: "operator".into(),
        disabled: false,
        password: "another-password-1".into(),
    };
    access::update_user(&t.app, &admin, OPERATOR, &change)
        .await
        .unwrap();
    assert!(matches!(
        access::session(&t.app, &s.token).await,
        Err(AppError::Unauthenticated)
    ));
    assert_eq!(
        bearer(&t.operator_token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        access::login(&t.app, OPERATOR, "another-password-1", "test")
            .await
            .is_ok()
    );
}

/// Eight requests race to take one login, one member email, one shop code: the unique key
/// decides, exactly one wins, the others get the answer a second request gets (a field error
/// or the shop that exists) and never an internal error.
async fn races_for_a_unique_key_have_one_winner(t: TestApp) {
    let s = access::login(&t.app, support::ADMIN, support::PASSWORD, "test")
        .await
        .unwrap();
    let (admin, _) = access::session(&t.app, &s.token).await.unwrap();
    let (mut users, mut members, mut shops) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..8 {
        let (app, actor) = (t.app.clone(), admin.clone());
        users.push(tokio::spawn(async move {
            let u = access::NewUser {
                login: "racer".into(),
                name: "競争 一郎".into(),
                password: "a-long-password".into(),
                role: "operator".into(),
            };
            access::add_user(&app, &actor, &u).await
        }));
        let (app, actor) = (t.app.clone(), admin.clone());
        members.push(tokio::spawn(async move {
            let c: juchu_domain::customer::CustomerInput =
                serde_json::from_value(serde_json::json!({
                "family_name": "競争", "given_name": "花子", "family_kana": "キョウソウ",
                "given_kana": "ハナコ", "email": "race@example.jp"}))
                .unwrap();
            juchu_app::customers::create(&app, &actor, &c).await
        }));
        let app = t.app.clone();
        shops.push(tokio::spawn(async move {
            juchu_app::shops::ensure(&app, "race-shop", "競争ショップ").await
        }));
    }
    let mut won = 0;
    for h in users {
        match h.await.unwrap() {
            Ok(_) => won += 1,
            Err(AppError::Invalid(i)) => assert_eq!(i.0[0].code, "duplicate", "{i:?}"),
            Err(e) => panic!("login race: {e}"),
        }
    }
    assert_eq!(won, 1, "one login");
    won = 0;
    for h in members {
        match h.await.unwrap() {
            Ok(_) => won += 1,
            Err(AppError::Invalid(i)) => assert_eq!(i.0[0].code, "duplicate", "{i:?}"),
            Err(e) => panic!("email race: {e}"),
        }
    }
    assert_eq!(won, 1, "one member");
    let mut ids = Vec::new();
    won = 0;
    for h in shops {
        let (shop, created) = h.await.unwrap().expect("shop race");
        ids.push(shop.id);
        won += usize::from(created);
    }
    ids.dedup();
    assert_eq!((won, ids.len()), (1, 1), "one shop");
}

both_backends!(
    admins_manage_users,
    sign_ins_are_throttled,
    sessions_and_tokens_end_when_they_should,
    races_for_a_unique_key_have_one_winner
);

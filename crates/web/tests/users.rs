//! 管理者の編集 on SQLite and PostgreSQL: admins change name, role, 利用停止 and password;
//! a disabled user's API token stops working at once; nobody disables or demotes
//! themselves; operators change nobody.

mod support;

use juchu_app::AppError;
use juchu_app::access::{self, UserChange};
use reqwest::StatusCode;
use support::{OPERATOR, TestApp};

async fn admins_manage_users(t: TestApp) {
    let s = access::login(&t.app, support::ADMIN, support::PASSWORD)
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
        access::login(&t.app, OPERATOR, "new-password-123")
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

both_backends!(admins_manage_users);

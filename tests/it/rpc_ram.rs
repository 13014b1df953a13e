//! RAM actions through the whole router: shapes, validation tables and
//! business errors.

use axum::http::StatusCode;
use pretty_assertions::assert_eq;
use trustdesk_service::Limits;
use trustdesk_testkit::TestService;

use crate::support::{Harness, assert_error};

#[tokio::test]
async fn create_get_update_delete_user() {
    let h = Harness::new().await;
    let r = h
        .call(
            "CreateUser",
            &[
                ("UserName", "alice"),
                ("DisplayName", "AliceZhang"),
                ("MobilePhone", "86-18600008888"),
                ("Email", "alice@example.com"),
                ("Comments", "a b*c~d/e+f"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.content_type(), "application/json;charset=utf-8");
    let j = r.json();
    let request_id = j["RequestId"].as_str().unwrap();
    assert_eq!(r.headers["x-acs-request-id"], request_id);
    let u = &j["User"];
    let user_id = u["UserId"].as_str().expect("UserId is a string");
    assert_eq!(user_id.len(), 16);
    assert!(user_id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(u["UserName"], "alice");
    assert_eq!(u["DisplayName"], "AliceZhang");
    assert_eq!(u["MobilePhone"], "86-18600008888");
    assert_eq!(u["Email"], "alice@example.com");
    assert_eq!(u["Comments"], "a b*c~d/e+f");
    assert_eq!(u["CreateDate"], "2026-01-02T03:04:05Z");
    assert!(u.get("UpdateDate").is_none() && u.get("LastLoginDate").is_none());

    let g = h.call("GetUser", &[("UserName", "alice")]).await.json();
    assert_eq!(g["User"]["UserId"], user_id);
    assert_eq!(g["User"]["UpdateDate"], "2026-01-02T03:04:05Z");
    assert!(
        g["User"].get("LastLoginDate").is_none(),
        "never logged in: omitted"
    );

    h.ts.clock.advance(time::Duration::minutes(1));
    let up = h
        .call(
            "UpdateUser",
            &[
                ("UserName", "alice"),
                ("NewUserName", "alice2"),
                ("NewDisplayName", "张三"),
                ("NewComments", ""),
            ],
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    let uu = &up.json()["User"];
    assert_eq!(uu["UserName"], "alice2");
    assert_eq!(uu["DisplayName"], "张三");
    assert!(uu.get("Comments").is_none(), "empty NewComments clears");
    assert_eq!(
        uu["MobilePhone"], "86-18600008888",
        "absent New* leaves the value"
    );
    assert_eq!(uu["UpdateDate"], "2026-01-02T03:05:05Z");
    assert_eq!(uu["CreateDate"], "2026-01-02T03:04:05Z");

    assert_error(
        &h.call("GetUser", &[("UserName", "alice")]).await,
        404,
        "EntityNotExist.User",
    );
    let d = h.call("DeleteUser", &[("UserName", "alice2")]).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(
        d.json().as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["RequestId"]
    );
    assert_error(
        &h.call("DeleteUser", &[("UserName", "alice2")]).await,
        404,
        "EntityNotExist.User",
    );
}

/// Parameters of a CreateUser call and the error code it must get (`None`: success).
type Case<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>);

#[tokio::test]
async fn create_user_validation_table() {
    let h = Harness::new().await;
    let long64 = "x".repeat(64);
    let long65 = "x".repeat(65);
    let cjk128 = "张".repeat(128);
    let cjk129 = "张".repeat(129);
    let c128 = "c".repeat(128);
    let c129 = "c".repeat(129);
    let cases: Vec<Case> = vec![
        (vec![("UserName", &long64)], None),
        (vec![("UserName", "a.b@c_d-e")], None),
        (
            vec![("UserName", &long65)],
            Some("InvalidParameter.UserName.Length"),
        ),
        (
            vec![("UserName", "")],
            Some("InvalidParameter.UserName.Length"),
        ),
        (
            vec![("UserName", "with space")],
            Some("InvalidParameter.UserName.InvalidChars"),
        ),
        (
            vec![("UserName", "semi;colon")],
            Some("InvalidParameter.UserName.InvalidChars"),
        ),
        (vec![("UserName", "v1"), ("DisplayName", &cjk128)], None),
        (
            vec![("UserName", "v2"), ("DisplayName", &cjk129)],
            Some("InvalidParameter.DisplayName.Length"),
        ),
        (
            vec![("UserName", "v3"), ("DisplayName", "Alice Zhang")],
            Some("InvalidParameter.DisplayName.InvalidChars"),
        ),
        (
            vec![("UserName", "v4"), ("MobilePhone", "18600008888")],
            Some("InvalidParameter.MobilePhone.Format"),
        ),
        (
            vec![("UserName", "v5"), ("Email", "not-an-email")],
            Some("InvalidParameter.Email.Format"),
        ),
        (vec![("UserName", "v6"), ("Comments", &c128)], None),
        (
            vec![("UserName", "v7"), ("Comments", &c129)],
            Some("InvalidParameter.Comments.Length"),
        ),
        (vec![("UserName", "v8"), ("Comments", "")], None),
        (vec![("DisplayName", "NoName")], Some("MissingParameter")),
    ];
    for (params, want) in cases {
        let r = h.call("CreateUser", &params).await;
        match want {
            None => assert_eq!(r.status, StatusCode::OK, "{params:?}: {}", r.body),
            Some(code) => {
                assert_error(&r, 400, code);
                // Nothing was half-written.
                if let Some((_, name)) = params.iter().find(|(k, _)| *k == "UserName")
                    && !code.starts_with("InvalidParameter.UserName")
                {
                    assert_error(
                        &h.call("GetUser", &[("UserName", name)]).await,
                        404,
                        "EntityNotExist.User",
                    );
                }
            }
        }
    }
    let r = h.call("CreateUser", &[("UserName", "with space")]).await;
    assert_eq!(
        r.json()["Message"],
        "The parameter - \"UserName\" contains invalid chars."
    );
    let r = h.call("CreateUser", &[("UserName", &long65)]).await;
    assert_eq!(
        r.json()["Message"],
        "The parameter - \"UserName\" beyond the length limit."
    );
    let r = h
        .call("CreateUser", &[("UserName", "v9"), ("Email", "x")])
        .await;
    assert_eq!(
        r.json()["Message"],
        "The format of the parameter - \"Email\" is incorrect."
    );
    let r = h.call("CreateUser", &[]).await;
    assert_eq!(
        r.json()["Message"],
        "The input parameter \"UserName\" that is mandatory for processing this request is not supplied."
    );
}

#[tokio::test]
async fn duplicate_names_conflict_case_insensitively() {
    let h = Harness::new().await;
    h.create_user("Alice").await;
    let r = h.call("CreateUser", &[("UserName", "alice")]).await;
    assert_error(&r, 409, "EntityAlreadyExists.User");
    assert_eq!(r.json()["Message"], "The user does already EXIST.");
    h.create_user("bob").await;
    assert_error(
        &h.call(
            "UpdateUser",
            &[("UserName", "bob"), ("NewUserName", "ALICE")],
        )
        .await,
        409,
        "EntityAlreadyExists.User",
    );
    assert_error(
        &h.call("UpdateUser", &[("UserName", "nobody")]).await,
        404,
        "EntityNotExist.User",
    );
    assert_error(
        &h.call("UpdateUser", &[("UserName", "bob"), ("NewUserName", "b b")])
            .await,
        400,
        "InvalidParameter.NewUserName.InvalidChars",
    );
    assert_error(
        &h.call(
            "UpdateUser",
            &[("UserName", "bob"), ("NewMobilePhone", "1")],
        )
        .await,
        400,
        "InvalidParameter.NewMobilePhone.Format",
    );
    assert_error(
        &h.call("UpdateUser", &[("UserName", "bob"), ("NewEmail", "@")])
            .await,
        400,
        "InvalidParameter.NewEmail.Format",
    );
}

#[tokio::test]
async fn user_limit_is_enforced() {
    let ts = TestService::with_limits(Limits {
        max_users_per_account: 3,
        ..Limits::default()
    })
    .await;
    let h = Harness::from(ts);
    for n in ["u1", "u2", "u3"] {
        h.create_user(n).await;
    }
    let r = h.call("CreateUser", &[("UserName", "u4")]).await;
    assert_error(&r, 409, "LimitExceeded.User");
    h.call("DeleteUser", &[("UserName", "u1")]).await;
    h.create_user("u4").await;
}

#[tokio::test]
async fn list_users_pages_with_markers() {
    let h = Harness::new().await;
    let names: Vec<String> = (0..7).map(|i| format!("page-user-{i}")).collect();
    for n in &names {
        h.create_user(n).await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![("MaxItems", "3")];
        if let Some(m) = &marker {
            params.push(("Marker", m.as_str()));
        }
        let j = h.call("ListUsers", &params).await.json();
        for u in j["Users"]["User"].as_array().unwrap() {
            seen.push(u["UserName"].as_str().unwrap().to_owned());
            assert!(u.get("UpdateDate").is_some() && u.get("LastLoginDate").is_none());
        }
        if j["IsTruncated"] == true {
            marker = Some(j["Marker"].as_str().unwrap().to_owned());
        } else {
            assert!(j.get("Marker").is_none());
            break;
        }
    }
    assert_eq!(seen, names, "every user once, in creation order");
    let all = h.call("ListUsers", &[]).await.json();
    assert_eq!(all["Users"]["User"].as_array().unwrap().len(), 7);
    assert_eq!(all["IsTruncated"], false);
    for bad in ["0", "1001", "x", "-1", ""] {
        assert_error(
            &h.call("ListUsers", &[("MaxItems", bad)]).await,
            400,
            "InvalidParameter.MaxItems",
        );
    }
    assert_error(
        &h.call("ListUsers", &[("Marker", "EXAMPLE-MARKER")]).await,
        400,
        "InvalidParameter.Marker",
    );
}

#[tokio::test]
async fn xml_responses() {
    let h = Harness::new().await;
    let r = h
        .call_xml(
            "CreateUser",
            &[("UserName", "xml-user"), ("Comments", "<&>\"'")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "text/xml;charset=utf-8");
    assert!(
        r.body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><CreateUserResponse><RequestId>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<UserName>xml-user</UserName>"));
    assert!(r.body.contains("<Comments>&lt;&amp;&gt;"), "{}", r.body);
    let r = h.call_xml("ListUsers", &[("MaxItems", "1")]).await;
    assert!(r.body.contains("<Users><User><UserId>"), "{}", r.body);
    assert!(
        r.body.contains("<IsTruncated>false</IsTruncated>"),
        "{}",
        r.body
    );
    let r = h.call_xml("GetUser", &[("UserName", "nobody")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.content_type(), "text/xml;charset=utf-8");
    assert!(
        r.body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<Code>EntityNotExist.User</Code>"),
        "{}",
        r.body
    );
    let r = h.call_xml("DeleteUser", &[("UserName", "xml-user")]).await;
    assert!(
        r.body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><DeleteUserResponse><RequestId>"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn access_key_lifecycle() {
    let h = Harness::new().await;
    h.create_user("keyed").await;
    let r = h.call("CreateAccessKey", &[("UserName", "keyed")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let k = r.json()["AccessKey"].clone();
    let id = k["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = k["AccessKeySecret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("LTAI") && id.len() == 24);
    assert_eq!(secret.len(), 30);
    assert_eq!(k["Status"], "Active");
    assert_eq!(k["CreateDate"], "2026-01-02T03:04:05Z");

    let list = h.call("ListAccessKeys", &[("UserName", "keyed")]).await;
    assert!(!list.body.contains(&secret), "secrets are never listed");
    let keys = list.json()["AccessKeys"]["AccessKey"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["AccessKeyId"], id.as_str());
    assert!(keys[0].get("AccessKeySecret").is_none());

    h.create_key("keyed").await;
    assert_error(
        &h.call("CreateAccessKey", &[("UserName", "keyed")]).await,
        409,
        "LimitExceeded.User.AccessKey",
    );
    assert_error(
        &h.call("DeleteUser", &[("UserName", "keyed")]).await,
        409,
        "DeleteConflict.User.AccessKey",
    );

    let never = h
        .call(
            "GetAccessKeyLastUsed",
            &[("UserName", "keyed"), ("UserAccessKeyId", &id)],
        )
        .await;
    assert_eq!(never.status, StatusCode::OK, "{}", never.body);
    assert!(
        never.json()["AccessKeyLastUsed"]
            .get("LastUsedDate")
            .is_none()
    );

    let up = h
        .call(
            "UpdateAccessKey",
            &[
                ("UserName", "keyed"),
                ("UserAccessKeyId", &id),
                ("Status", "Inactive"),
            ],
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    let keys = h
        .call("ListAccessKeys", &[("UserName", "keyed")])
        .await
        .json();
    assert_eq!(keys["AccessKeys"]["AccessKey"][0]["Status"], "Inactive");
    assert_error(
        &h.call(
            "UpdateAccessKey",
            &[
                ("UserName", "keyed"),
                ("UserAccessKeyId", &id),
                ("Status", "inactive"),
            ],
        )
        .await,
        400,
        "InvalidParameter.Status",
    );
    assert_error(
        &h.call(
            "UpdateAccessKey",
            &[
                ("UserName", "keyed"),
                ("UserAccessKeyId", "LTAIunknown"),
                ("Status", "Active"),
            ],
        )
        .await,
        404,
        "EntityNotExist.User.AccessKey",
    );
    assert_error(
        &h.call(
            "UpdateAccessKey",
            &[("UserName", "keyed"), ("UserAccessKeyId", &id)],
        )
        .await,
        400,
        "MissingParameter",
    );
    // Another user's key is not found under this user.
    h.create_user("other").await;
    assert_error(
        &h.call(
            "DeleteAccessKey",
            &[("UserName", "other"), ("UserAccessKeyId", &id)],
        )
        .await,
        404,
        "EntityNotExist.User.AccessKey",
    );
    assert_error(
        &h.call("ListAccessKeys", &[("UserName", "ghost")]).await,
        404,
        "EntityNotExist.User",
    );
    assert_error(
        &h.call("CreateAccessKey", &[("UserName", "ghost")]).await,
        404,
        "EntityNotExist.User",
    );

    for key in h
        .call("ListAccessKeys", &[("UserName", "keyed")])
        .await
        .json()["AccessKeys"]["AccessKey"]
        .as_array()
        .unwrap()
    {
        let kid = key["AccessKeyId"].as_str().unwrap();
        let d = h
            .call(
                "DeleteAccessKey",
                &[("UserName", "keyed"), ("UserAccessKeyId", kid)],
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    }
    assert_eq!(
        h.call("DeleteUser", &[("UserName", "keyed")]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn root_keys_without_user_name_and_last_used() {
    let h = Harness::new().await;
    let list = h.call("ListAccessKeys", &[]).await.json();
    let root_keys = list["AccessKeys"]["AccessKey"].as_array().unwrap().clone();
    assert_eq!(root_keys.len(), 1);
    assert_eq!(root_keys[0]["AccessKeyId"], h.root().id.as_str());
    let r = h.call("CreateAccessKey", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let last = h
        .call("GetAccessKeyLastUsed", &[("UserAccessKeyId", &h.root().id)])
        .await
        .json();
    assert_eq!(
        last["AccessKeyLastUsed"]["LastUsedDate"],
        "2026-01-02T03:04:05Z"
    );
}

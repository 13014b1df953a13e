//! RAM groups, policies and attachments through the whole router, and one
//! evaluator deciding RAM, CAS and CertCentral calls of a user whose
//! rights come and go with attached policies.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Harness, assert_cc_error, assert_error};

const ALLOW_GET_USER: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"*"}]}"#;

#[tokio::test]
async fn group_lifecycle_and_errors() {
    let h = Harness::new().await;
    let r = h
        .call(
            "CreateGroup",
            &[("GroupName", "Dev-Team_1.a"), ("Comments", "devs")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = &r.json()["Group"];
    assert_eq!(g["GroupName"], "Dev-Team_1.a");
    assert_eq!(g["Comments"], "devs");
    assert_eq!(g["GroupId"].as_str().unwrap().len(), 16);
    assert!(g.get("UpdateDate").is_none());

    assert_error(
        &h.call("CreateGroup", &[("GroupName", "dev-team_1.A")])
            .await,
        409,
        "EntityAlreadyExists.Group",
    );
    assert_error(
        &h.call("CreateGroup", &[("GroupName", "bad name")]).await,
        400,
        "InvalidParameter.GroupName.InvalidChars",
    );
    assert_error(
        &h.call("CreateGroup", &[("GroupName", &"g".repeat(65))])
            .await,
        400,
        "InvalidParameter.GroupName.Length",
    );
    assert_error(&h.call("CreateGroup", &[]).await, 400, "MissingParameter");

    let r = h.call("GetGroup", &[("GroupName", "dev-team_1.a")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["Group"]["UpdateDate"].is_string());
    assert_error(
        &h.call("GetGroup", &[("GroupName", "nope")]).await,
        404,
        "EntityNotExist.Group",
    );

    let r = h
        .call(
            "UpdateGroup",
            &[
                ("GroupName", "Dev-Team_1.a"),
                ("NewGroupName", "devs"),
                ("NewComments", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["Group"]["GroupName"], "devs");
    assert!(r.json()["Group"].get("Comments").is_none(), "cleared");
    h.call("CreateGroup", &[("GroupName", "ops")]).await;
    assert_error(
        &h.call(
            "UpdateGroup",
            &[("GroupName", "ops"), ("NewGroupName", "DEVS")],
        )
        .await,
        409,
        "EntityAlreadyExists.Group",
    );

    // Members and attachments block deletion.
    h.create_user("alice").await;
    assert_eq!(
        h.call(
            "AddUserToGroup",
            &[("GroupName", "devs"), ("UserName", "alice")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_error(
        &h.call(
            "AddUserToGroup",
            &[("GroupName", "devs"), ("UserName", "alice")],
        )
        .await,
        409,
        "EntityAlreadyExists.User.Group",
    );
    assert_error(
        &h.call(
            "AddUserToGroup",
            &[("GroupName", "devs"), ("UserName", "ghost")],
        )
        .await,
        404,
        "EntityNotExist.User",
    );
    assert_error(
        &h.call(
            "AddUserToGroup",
            &[("GroupName", "ghosts"), ("UserName", "alice")],
        )
        .await,
        404,
        "EntityNotExist.Group",
    );
    assert_error(
        &h.call("DeleteGroup", &[("GroupName", "devs")]).await,
        409,
        "DeleteConflict.Group.User",
    );
    let r = h.call("ListGroupsForUser", &[("UserName", "alice")]).await;
    assert_eq!(r.json()["Groups"]["Group"][0]["GroupName"], "devs");
    assert!(r.json()["Groups"]["Group"][0]["JoinDate"].is_string());
    let r = h.call("ListUsersForGroup", &[("GroupName", "devs")]).await;
    assert_eq!(r.json()["Users"]["User"][0]["UserName"], "alice");
    assert_eq!(r.json()["IsTruncated"], false);
    assert_eq!(
        h.call(
            "RemoveUserFromGroup",
            &[("GroupName", "devs"), ("UserName", "alice")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_error(
        &h.call(
            "RemoveUserFromGroup",
            &[("GroupName", "devs"), ("UserName", "alice")],
        )
        .await,
        404,
        "EntityNotExist.User.Group",
    );

    h.call(
        "AttachPolicyToGroup",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
            ("GroupName", "devs"),
        ],
    )
    .await;
    assert_error(
        &h.call("DeleteGroup", &[("GroupName", "devs")]).await,
        409,
        "DeleteConflict.Group.Policy",
    );
    h.call(
        "DetachPolicyFromGroup",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
            ("GroupName", "devs"),
        ],
    )
    .await;
    assert_eq!(
        h.call("DeleteGroup", &[("GroupName", "devs")]).await.status,
        StatusCode::OK
    );
    assert_error(
        &h.call("DeleteGroup", &[("GroupName", "devs")]).await,
        404,
        "EntityNotExist.Group",
    );
}

#[tokio::test]
async fn list_groups_pages_and_the_per_user_limit() {
    let h = Harness::new().await;
    h.create_user("joiner").await;
    for i in 0..7 {
        let name = format!("g{i}");
        assert_eq!(
            h.call("CreateGroup", &[("GroupName", &name)]).await.status,
            StatusCode::OK
        );
        let r = h
            .call(
                "AddUserToGroup",
                &[("GroupName", &name), ("UserName", "joiner")],
            )
            .await;
        if i < 5 {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        } else {
            assert_error(&r, 409, "LimitExceeded.User.Group");
        }
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut p = vec![("MaxItems", "3")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let v = h.call("ListGroups", &p).await.json();
        for g in v["Groups"]["Group"].as_array().unwrap() {
            names.push(g["GroupName"].as_str().unwrap().to_owned());
        }
        if v["IsTruncated"] == false {
            break;
        }
        marker = Some(v["Marker"].as_str().unwrap().to_owned());
    }
    assert_eq!(names, ["g0", "g1", "g2", "g3", "g4", "g5", "g6"]);
    assert_error(
        &h.call("ListGroups", &[("MaxItems", "101")]).await,
        400,
        "InvalidParameter.MaxItems",
    );
    assert_error(
        &h.call("ListGroups", &[("Marker", "bogus")]).await,
        400,
        "InvalidParameter.Marker",
    );
}

#[tokio::test]
async fn policy_lifecycle_versions_and_errors() {
    let h = Harness::new().await;
    let r = h
        .call(
            "CreatePolicy",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyDocument", ALLOW_GET_USER),
                ("Description", "read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.json()["Policy"];
    assert_eq!(
        (p["PolicyType"].as_str(), p["DefaultVersion"].as_str()),
        (Some("Custom"), Some("v1"))
    );
    assert_error(
        &h.call(
            "CreatePolicy",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyDocument", ALLOW_GET_USER),
            ],
        )
        .await,
        409,
        "EntityAlreadyExists.Policy",
    );
    assert_error(
        &h.call(
            "CreatePolicy",
            &[
                ("PolicyName", "bad_name"),
                ("PolicyDocument", ALLOW_GET_USER),
            ],
        )
        .await,
        400,
        "InvalidParameter.PolicyName.InvalidChars",
    );
    // Malformed documents name the bad part.
    for (doc, needle) in [
        ("{", "JSON"),
        (r#"{"Version":"2","Statement":[]}"#, "Version"),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
            "Effect",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.300/8"}}}]}"#,
            "10.0.0.300",
        ),
    ] {
        let r = h
            .call(
                "CreatePolicy",
                &[("PolicyName", "Bad"), ("PolicyDocument", doc)],
            )
            .await;
        assert_error(&r, 400, "MalformedPolicyDocument");
        assert!(
            r.json()["Message"].as_str().unwrap().contains(needle),
            "{doc}: {}",
            r.body
        );
    }
    let long = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{}"}}]}}"#,
        "a".repeat(6200)
    );
    assert_error(
        &h.call(
            "CreatePolicy",
            &[("PolicyName", "Long"), ("PolicyDocument", &long)],
        )
        .await,
        400,
        "InvalidParameter.PolicyDocument.Length",
    );

    let r = h
        .call(
            "GetPolicy",
            &[("PolicyName", "Read-Users"), ("PolicyType", "Custom")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["Policy"]["AttachmentCount"], 0);
    assert_eq!(v["DefaultPolicyVersion"]["PolicyDocument"], ALLOW_GET_USER);
    assert_eq!(v["DefaultPolicyVersion"]["IsDefaultVersion"], true);
    assert_error(
        &h.call(
            "GetPolicy",
            &[("PolicyName", "Read-Users"), ("PolicyType", "custom")],
        )
        .await,
        400,
        "InvalidParameter.PolicyType",
    );
    assert_error(
        &h.call(
            "GetPolicy",
            &[("PolicyName", "Nope"), ("PolicyType", "Custom")],
        )
        .await,
        404,
        "EntityNotExist.Policy",
    );
    let r = h
        .call(
            "GetPolicy",
            &[
                ("PolicyName", "AdministratorAccess"),
                ("PolicyType", "System"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["Policy"]["PolicyType"], "System");

    let r = h
        .call(
            "UpdatePolicyDescription",
            &[
                ("PolicyName", "Read-Users"),
                ("NewDescription", "reads users"),
            ],
        )
        .await;
    assert_eq!(r.json()["Policy"]["Description"], "reads users");

    // Versions: v2..v5, then the limit, rotation, defaults.
    for i in 2..=5 {
        let r = h
            .call(
                "CreatePolicyVersion",
                &[
                    ("PolicyName", "Read-Users"),
                    ("PolicyDocument", ALLOW_GET_USER),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["PolicyVersion"]["VersionId"], format!("v{i}"));
        assert_eq!(r.json()["PolicyVersion"]["IsDefaultVersion"], false);
    }
    assert_error(
        &h.call(
            "CreatePolicyVersion",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyDocument", ALLOW_GET_USER),
            ],
        )
        .await,
        409,
        "LimitExceeded.Policy.Version",
    );
    let r = h
        .call(
            "CreatePolicyVersion",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyDocument", ALLOW_GET_USER),
                ("SetAsDefault", "true"),
                (
                    "RotateStrategy",
                    "DeleteOldestNonDefaultVersionWhenLimitExceeded",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["PolicyVersion"]["VersionId"], "v6");
    let versions: Vec<String> = h
        .call(
            "ListPolicyVersions",
            &[("PolicyName", "Read-Users"), ("PolicyType", "Custom")],
        )
        .await
        .json()["PolicyVersions"]["PolicyVersion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions, ["v1", "v3", "v4", "v5", "v6"], "v2 rotated out");
    assert_error(
        &h.call(
            "DeletePolicyVersion",
            &[("PolicyName", "Read-Users"), ("VersionId", "v6")],
        )
        .await,
        409,
        "DeleteConflict.Policy.Version.Default",
    );
    assert_eq!(
        h.call(
            "SetDefaultPolicyVersion",
            &[("PolicyName", "Read-Users"), ("VersionId", "v1")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        h.call(
            "DeletePolicyVersion",
            &[("PolicyName", "Read-Users"), ("VersionId", "v6")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_error(
        &h.call(
            "GetPolicyVersion",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyType", "Custom"),
                ("VersionId", "v6"),
            ],
        )
        .await,
        404,
        "EntityNotExist.Policy.Version",
    );
    let r = h
        .call(
            "GetPolicyVersion",
            &[
                ("PolicyName", "Read-Users"),
                ("PolicyType", "Custom"),
                ("VersionId", "v1"),
            ],
        )
        .await;
    assert_eq!(r.json()["PolicyVersion"]["IsDefaultVersion"], true);

    // Deleting: versions and attachments conflict unless cascading.
    assert_error(
        &h.call("DeletePolicy", &[("PolicyName", "Read-Users")])
            .await,
        409,
        "DeleteConflict.Policy.Version",
    );
    h.create_user("bob").await;
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "Read-Users"),
            ("UserName", "bob"),
        ],
    )
    .await;
    assert_eq!(
        h.call(
            "DeletePolicy",
            &[("PolicyName", "Read-Users"), ("CascadingDelete", "true")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        h.call("ListPoliciesForUser", &[("UserName", "bob")])
            .await
            .json()["Policies"]["Policy"],
        json!([])
    );
}

#[tokio::test]
async fn attachments_listings_and_limits() {
    let h = Harness::new().await;
    h.create_user("carol").await;
    h.call("CreateGroup", &[("GroupName", "readers")]).await;
    h.call(
        "CreatePolicy",
        &[("PolicyName", "P1"), ("PolicyDocument", ALLOW_GET_USER)],
    )
    .await;
    let attach = |t: &'static str, n: &'static str, who: (&'static str, &'static str)| {
        let h = &h;
        async move {
            h.call(
                if who.0 == "UserName" {
                    "AttachPolicyToUser"
                } else {
                    "AttachPolicyToGroup"
                },
                &[("PolicyType", t), ("PolicyName", n), who],
            )
            .await
        }
    };
    assert_eq!(
        attach("Custom", "P1", ("UserName", "carol")).await.status,
        StatusCode::OK
    );
    assert_error(
        &attach("Custom", "P1", ("UserName", "carol")).await,
        409,
        "EntityAlreadyExists.User.Policy",
    );
    assert_error(
        &attach("Custom", "Nope", ("UserName", "carol")).await,
        404,
        "EntityNotExist.Policy",
    );
    assert_error(
        &attach("System", "NoSuchSystemPolicy", ("UserName", "carol")).await,
        404,
        "EntityNotExist.Policy",
    );
    assert_error(
        &attach("Custom", "P1", ("UserName", "ghost")).await,
        404,
        "EntityNotExist.User",
    );
    assert_eq!(
        attach(
            "System",
            "AliyunRAMReadOnlyAccess",
            ("GroupName", "readers")
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_error(
        &attach(
            "System",
            "AliyunRAMReadOnlyAccess",
            ("GroupName", "readers"),
        )
        .await,
        409,
        "EntityAlreadyExists.Group.Policy",
    );
    assert_error(
        &attach("Custom", "P1", ("GroupName", "ghosts")).await,
        404,
        "EntityNotExist.Group",
    );

    let r = h
        .call("ListPoliciesForUser", &[("UserName", "carol")])
        .await
        .json();
    let p = &r["Policies"]["Policy"][0];
    assert_eq!(
        (
            p["PolicyName"].as_str(),
            p["PolicyType"].as_str(),
            p["DefaultVersion"].as_str()
        ),
        (Some("P1"), Some("Custom"), Some("v1"))
    );
    assert!(p["AttachDate"].is_string());
    let r = h
        .call("ListPoliciesForGroup", &[("GroupName", "readers")])
        .await
        .json();
    assert_eq!(
        r["Policies"]["Policy"][0]["PolicyName"],
        "AliyunRAMReadOnlyAccess"
    );
    let r = h
        .call(
            "ListEntitiesForPolicy",
            &[("PolicyType", "Custom"), ("PolicyName", "P1")],
        )
        .await
        .json();
    assert_eq!(r["Users"]["User"][0]["UserName"], "carol");
    assert_eq!(r["Groups"]["Group"], json!([]));
    let r = h
        .call(
            "ListEntitiesForPolicy",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ],
        )
        .await
        .json();
    assert_eq!(r["Groups"]["Group"][0]["GroupName"], "readers");
    let r = h
        .call(
            "GetPolicy",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ],
        )
        .await
        .json();
    assert_eq!(r["Policy"]["AttachmentCount"], 1);

    assert_eq!(
        h.call(
            "DetachPolicyFromUser",
            &[
                ("PolicyType", "Custom"),
                ("PolicyName", "P1"),
                ("UserName", "carol")
            ]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_error(
        &h.call(
            "DetachPolicyFromUser",
            &[
                ("PolicyType", "Custom"),
                ("PolicyName", "P1"),
                ("UserName", "carol"),
            ],
        )
        .await,
        404,
        "EntityNotExist.User.Policy",
    );

    // Ten custom policies per user, then LimitExceeded.
    for i in 0..11 {
        let name = format!("L{i}");
        h.call(
            "CreatePolicy",
            &[("PolicyName", &name), ("PolicyDocument", ALLOW_GET_USER)],
        )
        .await;
        let r = h
            .call(
                "AttachPolicyToUser",
                &[
                    ("PolicyType", "Custom"),
                    ("PolicyName", &name),
                    ("UserName", "carol"),
                ],
            )
            .await;
        if i < 10 {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        } else {
            assert_error(&r, 409, "LimitExceeded.User.Policy");
        }
    }

    // ListPolicies: system first, then custom; paging with markers.
    let all = h.call("ListPolicies", &[("MaxItems", "1000")]).await.json();
    let items = all["Policies"]["Policy"].as_array().unwrap();
    assert_eq!(items[0]["PolicyType"], "System");
    assert_eq!(items.last().unwrap()["PolicyType"], "Custom");
    let system = h
        .call("ListPolicies", &[("PolicyType", "System")])
        .await
        .json();
    assert!(
        system["Policies"]["Policy"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["PolicyType"] == "System")
    );
    for name in [
        "AdministratorAccess",
        "ReadOnlyAccess",
        "AliyunRAMFullAccess",
        "AliyunRAMReadOnlyAccess",
        "AliyunYundunCertFullAccess",
        "AliyunYundunCertReadOnlyAccess",
    ] {
        assert!(
            system["Policies"]["Policy"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["PolicyName"] == name),
            "{name}"
        );
    }
    let mut seen = 0;
    let mut marker: Option<String> = None;
    loop {
        let mut p = vec![("MaxItems", "4")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let v = h.call("ListPolicies", &p).await.json();
        seen += v["Policies"]["Policy"].as_array().unwrap().len();
        if v["IsTruncated"] == false {
            break;
        }
        marker = Some(v["Marker"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, items.len());
}

/// A RAM user's rights follow its attached policies, its groups' policies,
/// deny statements and conditions, on RAM, CAS and CertCentral alike.
#[tokio::test]
async fn a_users_rights_follow_its_policies() {
    let h = Harness::certcentral().await;
    h.create_user("dave").await;
    h.create_user("target").await;
    let dave = h.create_key("dave").await;
    let get = |who: &'static str| {
        let h = &h;
        let dave = dave.clone();
        async move { h.call_as(&dave, "GetUser", &[("UserName", who)]).await }
    };
    assert_error(&get("target").await, 403, "NoPermission");

    h.call(
        "CreatePolicy",
        &[
            ("PolicyName", "GetUsers"),
            ("PolicyDocument", ALLOW_GET_USER),
        ],
    )
    .await;
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "GetUsers"),
            ("UserName", "dave"),
        ],
    )
    .await;
    assert_eq!(
        get("target").await.status,
        StatusCode::OK,
        "attached: allowed at once"
    );
    assert_error(
        &h.call_as(&dave, "DeleteUser", &[("UserName", "target")])
            .await,
        403,
        "NoPermission",
    );

    // A new default version narrows it to one resource.
    let account = h.ts.account.0;
    let narrow = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:Get*","Resource":"acs:ram:*:{account}:user/dave"}}]}}"#
    );
    h.call(
        "CreatePolicyVersion",
        &[
            ("PolicyName", "GetUsers"),
            ("PolicyDocument", &narrow),
            ("SetAsDefault", "true"),
        ],
    )
    .await;
    assert_error(&get("target").await, 403, "NoPermission");
    assert_eq!(get("dave").await.status, StatusCode::OK);

    // Through a group, then an explicit Deny wins.
    h.call("CreateGroup", &[("GroupName", "admins")]).await;
    h.call(
        "AddUserToGroup",
        &[("GroupName", "admins"), ("UserName", "dave")],
    )
    .await;
    h.call(
        "AttachPolicyToGroup",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMFullAccess"),
            ("GroupName", "admins"),
        ],
    )
    .await;
    assert_eq!(get("target").await.status, StatusCode::OK);
    assert_eq!(
        h.call_as(&dave, "CreateUser", &[("UserName", "made.by.dave")])
            .await
            .status,
        StatusCode::OK
    );
    let deny =
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:Delete*","Resource":"*"}]}"#;
    h.call(
        "CreatePolicy",
        &[("PolicyName", "NoDeletes"), ("PolicyDocument", deny)],
    )
    .await;
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "NoDeletes"),
            ("UserName", "dave"),
        ],
    )
    .await;
    assert_error(
        &h.call_as(&dave, "DeleteUser", &[("UserName", "made.by.dave")])
            .await,
        403,
        "NoPermission",
    );

    // CAS is decided by the same evaluator.
    assert_error(
        &h.cas_with(&dave, "POST", "JSON", "DescribeUserCertificateList", &[])
            .await,
        403,
        "NoPermission",
    );
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunYundunCertReadOnlyAccess"),
            ("UserName", "dave"),
        ],
    )
    .await;
    assert_eq!(
        h.cas_with(&dave, "POST", "JSON", "DescribeUserCertificateList", &[])
            .await
            .status,
        StatusCode::OK
    );

    // Leaving the group takes its rights away.
    h.call(
        "RemoveUserFromGroup",
        &[("GroupName", "admins"), ("UserName", "dave")],
    )
    .await;
    assert_error(&get("target").await, 403, "NoPermission");

    // Conditions: a time window that has passed.
    let expired = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2020-01-01T00:00:00Z"}}}]}"#;
    h.call(
        "CreatePolicy",
        &[("PolicyName", "Expired"), ("PolicyDocument", expired)],
    )
    .await;
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "Expired"),
            ("UserName", "dave"),
        ],
    )
    .await;
    assert_error(
        &h.call_as(&dave, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );

    // CertCentral roles are system policies: attaching the Administrator
    // role's policy to a RAM user's... group grants its CertCentral rights
    // to that user's CertCentral keys.
    let r = h.cc("GET", "/user?filters[search]=dave", None).await.json();
    let dave_id = r["users"][0]["id"].as_u64().unwrap();
    let key = h.cc_key_for(dave_id, 0).await;
    assert_cc_error(
        &h.cc_as(Some(&key), "GET", "/user", None).await,
        403,
        "access_denied|missing_permission",
    );
    h.call(
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "CertCentralManager"),
            ("UserName", "dave"),
        ],
    )
    .await;
    assert_eq!(
        h.cc_as(Some(&key), "GET", "/user", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn xml_shapes_of_group_and_policy_lists() {
    let h = Harness::new().await;
    h.call("CreateGroup", &[("GroupName", "x1")]).await;
    let r = h.call_xml("ListGroups", &[]).await;
    assert!(r.body.contains("<Groups><Group><GroupId>"), "{}", r.body);
    let r = h
        .call_xml(
            "ListPolicies",
            &[("PolicyType", "System"), ("MaxItems", "1")],
        )
        .await;
    assert!(
        r.body
            .contains("<Policies><Policy><PolicyName>AdministratorAccess</PolicyName>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<IsTruncated>true</IsTruncated>"),
        "{}",
        r.body
    );
}

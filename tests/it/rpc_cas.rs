//! CAS 2018-07-13 through the whole router: upload, detail, list, delete,
//! the DV-order stubs, every import refusal, the audit trail, and the
//! private key at rest.

use axum::http::StatusCode;
use pretty_assertions::assert_eq;
use serde_json::Value;
use time::Duration;
use trustdesk_domain::{AuditOutcome, Principal};
use trustdesk_testkit::T0;
use trustdesk_testkit::certs::{Alg, Ca, Pair, self_signed};

use crate::support::{Harness, Reply, assert_error};

struct Material {
    root: Ca,
    inter: Ca,
}

fn material() -> Material {
    let root = Ca::root("Example Root CA", Alg::P256, T0);
    let inter = root.intermediate("Example Issuing CA", Alg::P256, T0);
    Material { root, inter }
}

async fn upload(h: &Harness, name: &str, cert: &str, key: &str) -> Reply {
    let params = [("Name", name), ("Cert", cert), ("Key", key)];
    if cert.len() + key.len() > 32 * 1024 {
        h.cas_form("CreateUserCertificate", &params).await
    } else {
        h.cas("CreateUserCertificate", &params).await
    }
}

async fn upload_ok(h: &Harness, name: &str, cert: &str, key: &str) -> u64 {
    let r = upload(h, name, cert, key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["CertId"]
        .as_u64()
        .expect("CertId is a JSON number")
}

async fn total(h: &Harness) -> u64 {
    let r = h.cas("DescribeUserCertificateList", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["TotalCount"].as_u64().unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn sha1_hex(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hex::encode_upper(d.as_ref())
}

fn root_principal(h: &Harness) -> Principal {
    Principal::root(h.ts.account, trustdesk_domain::AccessKeyId(h.root().id))
}

#[tokio::test]
async fn upload_describe_list_delete() {
    let h = Harness::new().await;
    let m = material();
    let leaf = m.inter.leaf(
        &["www.example.com", "api.example.com", "10.1.2.3"],
        Alg::P256,
        T0,
    );
    let bundle = format!("{}{}", leaf.cert_pem, m.inter.cert_pem);
    let id = upload_ok(&h, "prod-www", &bundle, &leaf.key_pem).await;

    let r = h
        .cas(
            "DescribeUserCertificateDetail",
            &[("CertId", &id.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    assert_eq!(
        keys(&d),
        sorted(&[
            "RequestId",
            "Id",
            "Name",
            "Common",
            "Sans",
            "Fingerprint",
            "Issuer",
            "OrgName",
            "Province",
            "City",
            "Country",
            "StartDate",
            "EndDate",
            "Expired",
            "BuyInAliyun",
            "Cert",
            "Key",
        ])
    );
    assert_eq!(d["Id"], id);
    assert_eq!(d["Name"], "prod-www");
    assert_eq!(d["Common"], "www.example.com");
    assert_eq!(d["Sans"], "www.example.com,api.example.com,10.1.2.3");
    assert_eq!(d["Fingerprint"], sha1_hex(&leaf.cert_der));
    assert_eq!(d["Issuer"], "Example Issuing CA");
    assert_eq!(d["OrgName"], "Example Ltd");
    assert_eq!(d["Province"], "Zhejiang");
    assert_eq!(d["City"], "Hangzhou");
    assert_eq!(d["Country"], "CN");
    assert_eq!(d["StartDate"], "2025-12-03");
    assert_eq!(d["EndDate"], "2026-12-03");
    assert_eq!(d["Expired"], false);
    assert_eq!(d["BuyInAliyun"], false);
    assert_eq!(d["Cert"], bundle, "rcgen writes normalised PEM already");
    assert_eq!(d["Key"], leaf.key_pem.trim());

    let l = h
        .cas(
            "DescribeUserCertificateList",
            &[("ShowSize", "10"), ("CurrentPage", "1")],
        )
        .await
        .json();
    assert_eq!(l["TotalCount"], 1);
    assert_eq!(l["CurrentPage"], 1);
    assert_eq!(l["ShowSize"], 10);
    let item = &l["CertificateList"][0];
    assert_eq!(
        keys(item),
        sorted(&[
            "id",
            "name",
            "common",
            "sans",
            "fingerprint",
            "issuer",
            "orgName",
            "province",
            "city",
            "country",
            "startDate",
            "endDate",
            "expired",
            "buyInAliyun",
        ])
    );
    assert_eq!(item["id"], id);
    assert_eq!(item["fingerprint"], d["Fingerprint"]);
    assert_eq!(item["endDate"], "2026-12-03");

    // Time passes: the same certificate reads as expired.
    h.ts.clock.advance(Duration::days(400));
    let d = h
        .cas(
            "DescribeUserCertificateDetail",
            &[("CertId", &id.to_string())],
        )
        .await
        .json();
    assert_eq!(d["Expired"], true);
    h.ts.clock.set(T0);

    let del = h
        .cas("DeleteUserCertificate", &[("CertId", &id.to_string())])
        .await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.body);
    assert_eq!(keys(&del.json()), ["RequestId"]);
    let gone = h
        .cas(
            "DescribeUserCertificateDetail",
            &[("CertId", &id.to_string())],
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    assert_eq!(
        keys(&gone.json()),
        ["RequestId"],
        "unknown id: RequestId only"
    );
    let again = h
        .cas("DeleteUserCertificate", &[("CertId", &id.to_string())])
        .await;
    assert_error(&again, 400, "CertNotExist");
    let l = h.cas("DescribeUserCertificateList", &[]).await.json();
    assert_eq!(l["TotalCount"], 0);
    assert_eq!(l["CertificateList"], Value::Array(vec![]));
    assert_eq!(l["ShowSize"], 50, "default page size");

    // Every upload, key disclosure and deletion is in the audit trail.
    let events =
        h.ts.service
            .audit_events(&root_principal(&h), 0, 100)
            .await
            .unwrap();
    let got: Vec<(&str, AuditOutcome)> = events
        .iter()
        .map(|(_, e)| (e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("yundun-cert:CreateUserCertificate", AuditOutcome::Success),
            (
                "yundun-cert:DescribeUserCertificateDetail",
                AuditOutcome::Success
            ),
            (
                "yundun-cert:DescribeUserCertificateDetail",
                AuditOutcome::Success
            ),
            ("yundun-cert:DeleteUserCertificate", AuditOutcome::Success),
            (
                "yundun-cert:DescribeUserCertificateDetail",
                AuditOutcome::NotFound
            ),
        ]
    );
    let account = h.ts.account;
    assert!(
        events
            .iter()
            .all(|(_, e)| e.account == account && e.actor == "root")
    );
    assert_eq!(
        events[0].1.resource,
        format!("acs:yundun-cert:*:{account}:certificate/{id}")
    );
    assert!(events.iter().all(|(_, e)| e.request_id.len() == 36));
}

#[tokio::test]
async fn xml_shapes() {
    let h = Harness::new().await;
    let m = material();
    let a = m.inter.leaf(&["a.example.com"], Alg::P256, T0);
    let b = m.inter.leaf(&["b.example.com"], Alg::P384, T0);
    let root = h.root();
    let r = h
        .cas_with(
            &root,
            "POST",
            "XML",
            "CreateUserCertificate",
            &[("Name", "a"), ("Cert", &a.cert_pem), ("Key", &a.key_pem)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.content_type(), "text/xml;charset=utf-8");
    assert!(
        r.body.starts_with(
            "<?xml version='1.0' encoding='UTF-8'?><CreateUserCertificateResponse><RequestId>"
        ),
        "{}",
        r.body
    );
    assert!(
        r.body
            .ends_with("</RequestId><CertId>1</CertId></CreateUserCertificateResponse>"),
        "{}",
        r.body
    );
    upload_ok(&h, "b", &b.cert_pem, &b.key_pem).await;

    let l = h
        .cas_with(&root, "POST", "XML", "DescribeUserCertificateList", &[])
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    assert_eq!(l.body.matches("<CertificateList>").count(), 2, "{}", l.body);
    assert!(
        l.body.contains("<TotalCount>2</TotalCount><CurrentPage>1</CurrentPage><ShowSize>50</ShowSize><CertificateList><id>1</id><name>a</name><common>a.example.com</common>"),
        "{}",
        l.body
    );
    assert!(
        l.body
            .contains("<expired>false</expired><buyInAliyun>false</buyInAliyun></CertificateList>")
    );

    let d = h
        .cas_with(
            &root,
            "POST",
            "XML",
            "DescribeUserCertificateDetail",
            &[("CertId", "2")],
        )
        .await;
    assert!(
        d.body
            .contains("<DescribeUserCertificateDetailResponse><RequestId>"),
        "{}",
        d.body
    );
    assert!(
        d.body
            .contains("<Id>2</Id><Name>b</Name><Common>b.example.com</Common>")
    );
    assert!(d.body.contains("<Key>-----BEGIN PRIVATE KEY-----\n"));
}

/// The old SDK sends Cert and Key in a GET query string; the tea SDK sends
/// ACS3 with the parameters in the query and again in a JSON body.
#[tokio::test]
async fn old_sdk_get_and_tea_acs3_uploads() {
    let h = Harness::new().await;
    let root_ca = Ca::root("Example RSA Root", Alg::Rsa2048, T0);
    let inter = root_ca.intermediate("Example RSA Issuing CA", Alg::Rsa2048, T0);
    let leaf = inter.leaf(&["rsa.example.com"], Alg::Rsa2048, T0);
    let bundle = format!("{}{}", leaf.cert_pem, inter.cert_pem);
    let r = h
        .cas_with(
            &h.root(),
            "GET",
            "JSON",
            "CreateUserCertificate",
            &[("Name", "get"), ("Cert", &bundle), ("Key", &leaf.key_pem)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.json()["CertId"].as_u64().unwrap();

    let r = h
        .cas_acs3(
            "CreateUserCertificate",
            &[("Name", "acs3"), ("Cert", &bundle), ("Key", &leaf.key_pem)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = h
        .cas_acs3(
            "DescribeUserCertificateDetail",
            &[("CertId", &id.to_string())],
        )
        .await
        .json();
    assert_eq!(d["Common"], "rsa.example.com");
    assert_eq!(d["Issuer"], "Example RSA Issuing CA");
    let r = h
        .cas_acs3(
            "CreateUserCertificate",
            &[("Name", "acs3"), ("Cert", &bundle), ("Key", &leaf.key_pem)],
        )
        .await;
    assert_error(&r, 400, "NameRepeat");
}

fn encrypted_pkcs8() -> String {
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n".to_owned()
}

fn legacy_encrypted(key_pem: &str) -> String {
    let body: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    format!(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\n{}\n-----END RSA PRIVATE KEY-----\n",
        body.join("\n")
    )
}

/// Every import check answers its own code and leaves nothing behind.
#[tokio::test]
async fn import_refusals() {
    let h = Harness::new().await;
    let m = material();
    let leaf = m.inter.leaf(&["ok.example.com"], Alg::P256, T0);
    let other = m.inter.leaf(&["other.example.com"], Alg::P256, T0);
    let expired = m.inter.leaf_valid(
        &["old.example.com"],
        Alg::P256,
        T0 - Duration::days(400),
        T0 - Duration::days(1),
    );
    let future = m.inter.leaf_valid(
        &["new.example.com"],
        Alg::P256,
        T0 + Duration::days(2),
        T0 + Duration::days(300),
    );
    let lone = self_signed(&["lone.example.com"], Alg::P256, T0);
    let garbage_der = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
    let huge = "A".repeat(65 * 1024);
    let two_leaves = format!("{}{}", leaf.cert_pem, other.cert_pem);
    let skipped = format!("{}{}", leaf.cert_pem, m.root.cert_pem);
    let out_of_order = format!("{}{}{}", leaf.cert_pem, m.root.cert_pem, m.inter.cert_pem);
    let long_name = "n".repeat(129);
    let enc = encrypted_pkcs8();
    let legacy = legacy_encrypted(&leaf.key_pem);

    let cases: Vec<(&str, &str, &str, &str, &str)> = vec![
        // (name, cert, key, code, word the message must contain)
        (
            "n",
            "hello",
            &leaf.key_pem,
            "CertificateFormatException",
            "PEM",
        ),
        (
            "n",
            &leaf.key_pem,
            &leaf.key_pem,
            "CertificateFormatException",
            "key",
        ),
        (
            "n",
            "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
            &leaf.key_pem,
            "CertificateFormatException.NoCertificate",
            "CERTIFICATE",
        ),
        (
            "n",
            garbage_der,
            &leaf.key_pem,
            "ParseCertificateFailed",
            "X.509",
        ),
        (
            "n",
            &two_leaves,
            &leaf.key_pem,
            "CertificateChainNotMatch.MultipleLeaves",
            "leaf",
        ),
        (
            "n",
            &skipped,
            &leaf.key_pem,
            "CertificateChainNotMatch",
            "issue",
        ),
        (
            "n",
            &out_of_order,
            &leaf.key_pem,
            "CertificateChainNotMatch",
            "issue",
        ),
        (
            "n",
            &leaf.cert_pem,
            &other.key_pem,
            "CertificateKeyNotMatch",
            "match",
        ),
        (
            "n",
            &leaf.cert_pem,
            "nope",
            "PrivateKeyFormatException",
            "PEM",
        ),
        (
            "n",
            &leaf.cert_pem,
            &leaf.cert_pem,
            "PrivateKeyFormatException",
            "private key",
        ),
        (
            "n",
            &leaf.cert_pem,
            &enc,
            "PrivateKeyFormatException.Encrypted",
            "unencrypted",
        ),
        (
            "n",
            &leaf.cert_pem,
            &legacy,
            "PrivateKeyFormatException.Encrypted",
            "unencrypted",
        ),
        (
            "n",
            &expired.cert_pem,
            &expired.key_pem,
            "CertificateExpired",
            "expired",
        ),
        (
            "n",
            &future.cert_pem,
            &future.key_pem,
            "CertificateNotYetValid",
            "not valid before",
        ),
        ("n", &huge, &leaf.key_pem, "DataTooLongException", "limit"),
        (
            &long_name,
            &leaf.cert_pem,
            &leaf.key_pem,
            "DataTooLongException",
            "Name",
        ),
        (
            "a\nb",
            &leaf.cert_pem,
            &leaf.key_pem,
            "InvalidParameter.Name.InvalidChars",
            "Name",
        ),
        (
            "",
            &leaf.cert_pem,
            &leaf.key_pem,
            "MissingParameter",
            "Name",
        ),
        ("n", "", &leaf.key_pem, "MissingParameter", "Cert"),
        ("n", &leaf.cert_pem, "", "MissingParameter", "Key"),
    ];
    for (name, cert, key, code, word) in &cases {
        let r = upload(&h, name, cert, key).await;
        assert_error(&r, 400, code);
        let message = r.json()["Message"].as_str().unwrap().to_owned();
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "{code}: message should name the problem ({word}): {message}"
        );
        let key_line = leaf.key_pem.lines().nth(1).unwrap();
        assert!(
            !message.contains(key_line),
            "no key material echoed: {message}"
        );
    }
    let r = h
        .cas(
            "CreateUserCertificate",
            &[("Cert", &leaf.cert_pem), ("Key", &leaf.key_pem)],
        )
        .await;
    assert_error(&r, 400, "MissingParameter");
    assert_eq!(total(&h).await, 0, "no refused upload left anything behind");

    upload_ok(&h, "taken", &lone.cert_pem, &lone.key_pem).await;
    let r = upload(&h, "taken", &leaf.cert_pem, &leaf.key_pem).await;
    assert_error(&r, 400, "NameRepeat");
    upload_ok(&h, "Taken", &leaf.cert_pem, &leaf.key_pem).await;
    assert_eq!(total(&h).await, 2, "names compare exactly");
}

#[tokio::test]
async fn paging_and_parameter_errors() {
    let h = Harness::new().await;
    let m = material();
    let leaf = m.inter.leaf(&["p.example.com"], Alg::Ed25519, T0);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(upload_ok(&h, &format!("p{i}"), &leaf.cert_pem, &leaf.key_pem).await);
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let l = h
            .cas(
                "DescribeUserCertificateList",
                &[("ShowSize", "2"), ("CurrentPage", &page.to_string())],
            )
            .await
            .json();
        assert_eq!(l["TotalCount"], 5);
        assert_eq!(l["CurrentPage"], page);
        seen.extend(
            l["CertificateList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_u64().unwrap()),
        );
    }
    assert_eq!(
        seen, ids,
        "pages cover every certificate once, in upload order"
    );
    let past = h
        .cas("DescribeUserCertificateList", &[("CurrentPage", "9")])
        .await
        .json();
    assert_eq!(past["CertificateList"], Value::Array(vec![]));
    for (name, value) in [
        ("ShowSize", "0"),
        ("ShowSize", "101"),
        ("ShowSize", "x"),
        ("CurrentPage", "0"),
        ("CurrentPage", "-1"),
    ] {
        let r = h.cas("DescribeUserCertificateList", &[(name, value)]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    for id in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let r = h
            .cas("DescribeUserCertificateDetail", &[("CertId", id)])
            .await;
        assert_error(&r, 400, "InvalidParameter");
        let r = h.cas("DeleteUserCertificate", &[("CertId", id)]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    let r = h.cas("DescribeUserCertificateDetail", &[]).await;
    assert_error(&r, 400, "MissingParameter");
}

#[tokio::test]
async fn dv_order_actions_have_no_orders() {
    let h = Harness::new().await;
    let l = h
        .cas("DescribeOrderInstanceList", &[("StartIndex", "0")])
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    let j = l.json();
    assert_eq!(keys(&j), sorted(&["RequestId", "TotalCount", "OrderList"]));
    assert_eq!(j["TotalCount"], 0);
    assert_eq!(j["OrderList"], Value::Array(vec![]));
    for action in ["CreateDVOrderAudit", "DescribeDVOrderResult"] {
        let r = h.cas(action, &[("InstanceId", "cas-dv-123")]).await;
        assert_error(&r, 400, "NotFound");
        let r = h.cas(action, &[]).await;
        assert_error(&r, 400, "MissingParameter");
    }
    // CAS actions exist only in CAS's version, and RAM's only in RAM's.
    let r = h.call("CreateUserCertificate", &[]).await;
    assert_error(&r, 404, "InvalidAction.NotFound");
    let r = h.cas("GetUser", &[("UserName", "x")]).await;
    assert_error(&r, 404, "InvalidAction.NotFound");
}

/// A RAM user holds no policies yet: every CAS call is refused, the refusal
/// of a key disclosure is audited, and nothing leaks.
#[tokio::test]
async fn ram_users_are_refused_and_audited() {
    let h = Harness::new().await;
    let m = material();
    let leaf = m.inter.leaf(&["secret.example.com"], Alg::P256, T0);
    let id = upload_ok(&h, "guarded", &leaf.cert_pem, &leaf.key_pem).await;
    let user = h.create_user("cas-user").await;
    let creds = h.create_key("cas-user").await;
    let id_s = id.to_string();
    let calls: [(&str, Vec<(&str, &str)>); 7] = [
        (
            "CreateUserCertificate",
            vec![
                ("Name", "x"),
                ("Cert", &leaf.cert_pem),
                ("Key", &leaf.key_pem),
            ],
        ),
        ("DescribeUserCertificateDetail", vec![("CertId", &id_s)]),
        ("DescribeUserCertificateList", vec![]),
        ("DeleteUserCertificate", vec![("CertId", &id_s)]),
        ("CreateDVOrderAudit", vec![("InstanceId", "i")]),
        ("DescribeDVOrderResult", vec![("InstanceId", "i")]),
        ("DescribeOrderInstanceList", vec![]),
    ];
    for (action, params) in &calls {
        let r = h.cas_with(&creds, "POST", "JSON", action, params).await;
        assert_error(&r, 403, "NoPermission");
        assert!(!r.body.contains("PRIVATE KEY"));
        assert_eq!(
            r.json()["AccessDeniedDetail"]["AuthAction"],
            format!("yundun-cert:{action}")
        );
    }
    let events =
        h.ts.service
            .audit_events(&root_principal(&h), 0, 100)
            .await
            .unwrap();
    let denied: Vec<&str> = events
        .iter()
        .filter(|(_, e)| e.outcome == AuditOutcome::Denied)
        .map(|(_, e)| e.action.as_str())
        .collect();
    assert_eq!(
        denied,
        [
            "yundun-cert:CreateUserCertificate",
            "yundun-cert:DescribeUserCertificateDetail",
            "yundun-cert:DeleteUserCertificate",
        ],
        "refused uploads, key reads and deletions are audited; reads of lists are not"
    );
    let user_id = user["UserId"].as_str().unwrap();
    assert!(
        events
            .iter()
            .filter(|(_, e)| e.outcome == AuditOutcome::Denied)
            .all(|(_, e)| e.actor == format!("user/{user_id}") && e.access_key.0 == creds.id)
    );
    assert_eq!(total(&h).await, 1, "still there");
}

/// The private key is stored sealed: neither its PEM nor its DER appears in
/// the database files.
#[tokio::test]
async fn private_keys_are_sealed_at_rest() {
    let h = Harness::new().await;
    let leaf: Pair = self_signed(&["sealed.example.com"], Alg::P256, T0);
    upload_ok(&h, "sealed", &leaf.cert_pem, &leaf.key_pem).await;
    let body: String = leaf
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64_decode(&body);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(h.ts.db_path().parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for needle in [body.as_bytes(), &der[..], &der[der.len() - 32..]] {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.clone());
            }
        }
        let line = leaf.key_pem.lines().nth(1).unwrap();
        if bytes.windows(line.len()).any(|w| w == line.as_bytes()) {
            found.push(path.clone());
        }
    }
    assert!(found.is_empty(), "key material found in {found:?}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

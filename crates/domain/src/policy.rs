//! Authorization: who is calling ([`Principal`]), the policy evaluator, and
//! the [`Authorized`] token that use cases demand.
//!
//! Evaluation follows the RAM policy language (reference §e.12): a matching
//! `Deny` statement wins, otherwise a matching `Allow` allows, otherwise the
//! call is implicitly denied. The account's root identity bypasses policies,
//! as on the vendor. A RAM user with no policies is therefore refused every
//! action: that is the default deny of this evaluator, not a special case.
//!
//! Action names match case-insensitively (`ram:getuser` = `ram:GetUser`), as
//! the vendor's evaluator does for action names; resources match
//! case-sensitively. `*` matches any run of characters (including none) and
//! `?` exactly one.
//!
//! A statement applies when its action and resource patterns match and all
//! its conditions hold for the request ([`RequestContext`]); the document
//! language and conditions are in [`crate::policy_doc`]. A principal is
//! judged by its identity policies (carried by its credential, plus those
//! a caller passes to [`authorize_with`]: attached and group policies) and
//! narrowed by its credential's scope.

use std::sync::Arc;

use crate::ids::{AccessKeyId, AccountId, UserId};
use crate::validate::UserName;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: AccountId,
    pub kind: PrincipalKind,
    /// The credential that authenticated the request: an AccessKeyId, or
    /// `ApiKey/<id>` for a CertCentral API key.
    pub access_key: AccessKeyId,
    /// The identity policies in force, as loaded with the credential: a
    /// user's CertCentral access role as a system policy (the RAM policy
    /// work adds attached policies here).
    pub policies: Arc<[PolicyDocument]>,
    /// A narrowing the credential carries (an API key restricted to a
    /// role): a call must be allowed by it as well.
    pub scope: Option<Arc<PolicyDocument>>,
}

impl Principal {
    /// The account's root identity signing with `key`.
    pub fn root(account: AccountId, key: AccessKeyId) -> Self {
        Self {
            account,
            kind: PrincipalKind::Root,
            access_key: key,
            policies: Arc::from([]),
            scope: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root identity.
    Root,
    /// A RAM user of the account.
    User { id: UserId, name: UserName },
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement of a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    /// `<service>:<Action>` patterns.
    pub actions: Vec<String>,
    /// ARN patterns.
    pub resources: Vec<String>,
    /// All must hold for the statement to apply.
    pub conditions: Vec<crate::policy_doc::Condition>,
}

/// A policy document: a list of statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

/// What the evaluator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

pub use crate::policy_doc::{MalformedPolicy, RequestContext};

/// Evaluates `action` on `resource` against identity policies.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    action: &str,
    resource: &str,
    ctx: &RequestContext,
) -> Decision {
    let mut allowed = false;
    for statement in policies.into_iter().flat_map(|p| &p.statements) {
        // An Allow cannot change an answer that is already Allow: skip its
        // pattern work.
        if allowed && statement.effect == Effect::Allow {
            continue;
        }
        let applies = statement
            .actions
            .iter()
            .any(|p| wildcard_match(p, action, true))
            && statement
                .resources
                .iter()
                .any(|p| wildcard_match(p, resource, false))
            && statement.conditions.iter().all(|c| c.holds(ctx));
        if applies {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Glob match with `*` and `?` (iterative, one backtracking point: linear
/// in practice, no recursion). Works on bytes when both sides are ASCII
/// (every action and nearly every resource), on chars otherwise; never
/// allocates for ASCII input.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob(pattern.as_bytes(), text.as_bytes(), |a, b| {
            if ignore_case {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        })
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        glob(&p, &t, |a, b| {
            if ignore_case {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        })
    }
}

trait Glyph: Copy {
    fn is_star(self) -> bool;
    fn is_any(self) -> bool;
}

impl Glyph for u8 {
    fn is_star(self) -> bool {
        self == b'*'
    }
    fn is_any(self) -> bool {
        self == b'?'
    }
}

impl Glyph for char {
    fn is_star(self) -> bool {
        self == '*'
    }
    fn is_any(self) -> bool {
        self == '?'
    }
}

fn glob<T: Glyph>(p: &[T], t: &[T], eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi].is_any() || (!p[pi].is_star() && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi].is_star() {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| c.is_star())
}

/// Proof that the evaluator allowed `permission` for `principal`. Only
/// [`authorize`] builds one; use cases take it by value and check that it
/// names their own permission.
#[derive(Debug)]
pub struct Authorized {
    principal: Principal,
    permission: &'static str,
    _private: (),
}

impl Authorized {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn permission(&self) -> &'static str {
        self.permission
    }

    /// Fails unless this token was issued for `permission`: a use case
    /// cannot be run on the strength of a token for a different action.
    pub fn require(&self, permission: &'static str) -> Result<(), crate::Error> {
        if self.permission == permission {
            Ok(())
        } else {
            Err(crate::Error::Denied {
                permission: permission.to_owned(),
            })
        }
    }
}

/// Decides whether `principal` may perform `permission` on `resource`:
/// its identity policies must allow it (the root identity needs none) and
/// its credential's scope, if any, must too.
pub fn authorize(
    principal: &Principal,
    permission: &'static str,
    resource: &str,
    ctx: &RequestContext,
) -> Result<Authorized, crate::Error> {
    authorize_with(principal, &[], permission, resource, ctx)
}

/// [`authorize`], with `extra` identity policies besides those the
/// principal carries (the ones attached to the user and its groups).
pub fn authorize_with(
    principal: &Principal,
    extra: &[PolicyDocument],
    permission: &'static str,
    resource: &str,
    ctx: &RequestContext,
) -> Result<Authorized, crate::Error> {
    let by_identity = match principal.kind {
        PrincipalKind::Root => Decision::Allow,
        PrincipalKind::User { .. } => evaluate(
            principal.policies.iter().chain(extra),
            permission,
            resource,
            ctx,
        ),
    };
    let decision = match (&principal.scope, by_identity) {
        (Some(scope), Decision::Allow) => evaluate([scope.as_ref()], permission, resource, ctx),
        (_, d) => d,
    };
    match decision {
        Decision::Allow => Ok(Authorized {
            principal: principal.clone(),
            permission,
            _private: (),
        }),
        Decision::ExplicitDeny | Decision::ImplicitDeny => Err(crate::Error::Denied {
            permission: permission.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(effect: Effect, actions: &[&str], resources: &[&str]) -> Statement {
        Statement {
            effect,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            conditions: Vec::new(),
        }
    }

    fn ctx() -> RequestContext {
        RequestContext::at(time::macros::datetime!(2026-01-01 00:00:00 UTC))
    }

    fn user() -> Principal {
        Principal {
            account: AccountId(1234567890123456),
            kind: PrincipalKind::User {
                id: UserId(2234567890123456),
                name: UserName::parse("bob").unwrap(),
            },
            access_key: AccessKeyId("LTAIbob".into()),
            policies: Arc::from([]),
            scope: None,
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("ram:*", "ram:GetUser", false));
        assert!(wildcard_match("ram:Get*", "ram:GetUser", false));
        assert!(wildcard_match("ram:?etUser", "ram:GetUser", false));
        assert!(!wildcard_match("ram:?etUser", "ram:etUser", false));
        assert!(wildcard_match("ram:getuser", "ram:GetUser", true));
        assert!(!wildcard_match("ram:getuser", "ram:GetUser", false));
        assert!(wildcard_match(
            "acs:ram:*:123:user/*",
            "acs:ram:*:123:user/alice",
            false
        ));
        assert!(!wildcard_match(
            "acs:ram:*:123:user/*",
            "acs:ram:*:124:user/alice",
            false
        ));
        assert!(wildcard_match("a*b*c", "axxbyyc", false));
        assert!(!wildcard_match("a*b*c", "axxbyy", false));
        assert!(wildcard_match(&"*".repeat(50), &"a".repeat(1000), false));
    }

    #[test]
    fn no_policies_means_implicit_deny() {
        assert_eq!(
            evaluate([], "ram:GetUser", "acs:ram:*:1:user/a", &ctx()),
            Decision::ImplicitDeny
        );
        assert!(authorize(&user(), "ram:GetUser", "acs:ram:*:1:user/a", &ctx()).is_err());
    }

    #[test]
    fn deny_wins_over_allow() {
        let p = PolicyDocument {
            statements: vec![
                stmt(Effect::Allow, &["ram:*"], &["*"]),
                stmt(Effect::Deny, &["ram:DeleteUser"], &["*"]),
            ],
        };
        assert_eq!(evaluate([&p], "ram:GetUser", "x", &ctx()), Decision::Allow);
        assert_eq!(
            evaluate([&p], "ram:DeleteUser", "x", &ctx()),
            Decision::ExplicitDeny
        );
    }

    fn arb_statement() -> impl proptest::strategy::Strategy<Value = Statement> {
        use proptest::prelude::*;
        let pattern = prop::sample::select(vec![
            "*",
            "ram:*",
            "ram:Get*",
            "ram:?etUser",
            "ram:CreateUser",
            "ram:ListUsers",
            "acs:ram:*:1:user/*",
            "acs:ram:*:1:user/a?",
            "x",
        ]);
        (
            any::<bool>(),
            prop::collection::vec(pattern.clone(), 1..3),
            prop::collection::vec(pattern, 1..3),
        )
            .prop_map(|(allow, a, r)| Statement {
                effect: if allow { Effect::Allow } else { Effect::Deny },
                actions: a.into_iter().map(String::from).collect(),
                resources: r.into_iter().map(String::from).collect(),
                conditions: Vec::new(),
            })
    }

    proptest::proptest! {
        #[test]
        fn adding_a_deny_never_allows_more(stmts in proptest::collection::vec(arb_statement(), 0..6), extra in arb_statement(),
                                          action in proptest::sample::select(vec!["ram:GetUser", "ram:CreateUser", "ram:ListUsers"]),
                                          resource in proptest::sample::select(vec!["acs:ram:*:1:user/ab", "acs:ram:*:1:user/*", "acs:ram:*:2:user/a"])) {
            let before = evaluate([&PolicyDocument { statements: stmts.clone() }], action, resource, &ctx());
            let mut with = stmts.clone();
            with.push(Statement { effect: Effect::Deny, ..extra.clone() });
            let after_deny = evaluate([&PolicyDocument { statements: with }], action, resource, &ctx());
            if before != Decision::Allow { proptest::prop_assert_ne!(after_deny, Decision::Allow); }
            let mut with = stmts;
            with.push(Statement { effect: Effect::Allow, ..extra });
            let after_allow = evaluate([&PolicyDocument { statements: with }], action, resource, &ctx());
            if before == Decision::Allow { proptest::prop_assert_eq!(after_allow, Decision::Allow); }
        }

        #[test]
        fn star_matches_everything_and_literals_match_themselves(text in "[a-zA-Z0-9:/*?._-]{0,40}") {
            proptest::prop_assert!(wildcard_match("*", &text, false));
            let literal: String = text.chars().filter(|c| *c != '*' && *c != '?').collect();
            proptest::prop_assert!(wildcard_match(&literal, &literal, false));
        }
    }

    #[test]
    fn root_bypasses_policies_and_token_names_its_permission() {
        let root = Principal {
            kind: PrincipalKind::Root,
            ..user()
        };
        let token = authorize(&root, "ram:CreateUser", "acs:ram:*:1:user/*", &ctx()).unwrap();
        assert!(token.require("ram:CreateUser").is_ok());
        assert!(token.require("ram:DeleteUser").is_err());
    }

    /// (policy set, request) → decision. A "set" is every document that
    /// applies: the user's own and its groups' (inheritance is the union,
    /// which is what `authorize_with` receives).
    #[test]
    fn decision_table() {
        const A: &str = "1234567890123456";
        let allow =
            |a: &str, r: &str| format!(r#"{{"Effect":"Allow","Action":{a},"Resource":{r}}}"#);
        let deny = |a: &str, r: &str| format!(r#"{{"Effect":"Deny","Action":{a},"Resource":{r}}}"#);
        let doc = |stmts: &[String]| {
            PolicyDocument::parse(&format!(
                r#"{{"Version":"1","Statement":[{}]}}"#,
                stmts.join(",")
            ))
            .unwrap()
        };
        let user_alice = format!("acs:ram:*:{A}:user/alice");
        let user_bob = format!("acs:ram:*:{A}:user/bob");
        let ip_cond = r#"{"Effect":"Allow","Action":"ram:ListUsers","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#.to_owned();
        let cases: Vec<(&str, Vec<PolicyDocument>, &str, &str, Decision)> = vec![
            (
                "nothing attached",
                vec![],
                "ram:GetUser",
                &user_alice,
                Decision::ImplicitDeny,
            ),
            (
                "exact",
                vec![doc(&[allow(r#""ram:GetUser""#, r#""*""#)])],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "action case-insensitive",
                vec![doc(&[allow(r#""RAM:getuser""#, r#""*""#)])],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "service wildcard",
                vec![doc(&[allow(r#""ram:*""#, r#""*""#)])],
                "ram:DeleteUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "prefix wildcard",
                vec![doc(&[allow(r#""ram:Get*""#, r#""*""#)])],
                "ram:ListUsers",
                &user_alice,
                Decision::ImplicitDeny,
            ),
            (
                "? is one char",
                vec![doc(&[allow(r#""ram:?etUser""#, r#""*""#)])],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "resource wildcard",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    &format!(r#""acs:ram:*:{A}:user/a*""#),
                )])],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "resource miss",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    &format!(r#""acs:ram:*:{A}:user/a*""#),
                )])],
                "ram:GetUser",
                &user_bob,
                Decision::ImplicitDeny,
            ),
            (
                "resource case-sensitive",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    &format!(r#""acs:ram:*:{A}:user/ALICE""#),
                )])],
                "ram:GetUser",
                &user_alice,
                Decision::ImplicitDeny,
            ),
            (
                "other account",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    r#""acs:ram:*:9999999999999999:user/*""#,
                )])],
                "ram:GetUser",
                &user_alice,
                Decision::ImplicitDeny,
            ),
            (
                "list of actions",
                vec![doc(&[allow(
                    r#"["ram:ListUsers","ram:GetUser"]"#,
                    r#""*""#,
                )])],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "deny in the same document wins",
                vec![doc(&[
                    allow(r#""*""#, r#""*""#),
                    deny(r#""ram:Delete*""#, r#""*""#),
                ])],
                "ram:DeleteUser",
                &user_alice,
                Decision::ExplicitDeny,
            ),
            (
                "deny from a group wins over the user's allow",
                vec![
                    doc(&[allow(r#""ram:*""#, r#""*""#)]),
                    doc(&[deny(r#""ram:GetUser""#, &format!(r#""{user_bob}""#))]),
                ],
                "ram:GetUser",
                &user_bob,
                Decision::ExplicitDeny,
            ),
            (
                "group deny on another resource",
                vec![
                    doc(&[allow(r#""ram:*""#, r#""*""#)]),
                    doc(&[deny(r#""ram:GetUser""#, &format!(r#""{user_bob}""#))]),
                ],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "allow inherited from a group",
                vec![
                    doc(&[allow(r#""ecs:*""#, r#""*""#)]),
                    doc(&[allow(r#""ram:GetUser""#, r#""*""#)]),
                ],
                "ram:GetUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "condition holds",
                vec![doc(std::slice::from_ref(&ip_cond))],
                "ram:ListUsers",
                "*",
                Decision::Allow,
            ),
        ];
        let inside = RequestContext {
            source_ip: Some("10.9.8.7".parse().unwrap()),
            ..ctx()
        };
        for (name, docs, action, resource, want) in &cases {
            assert_eq!(
                evaluate(docs.iter(), action, resource, &inside),
                *want,
                "{name}"
            );
        }
        let elsewhere = RequestContext {
            source_ip: Some("192.0.2.1".parse().unwrap()),
            ..ctx()
        };
        assert_eq!(
            evaluate([&doc(&[ip_cond])], "ram:ListUsers", "*", &elsewhere),
            Decision::ImplicitDeny,
            "condition fails"
        );
    }

    #[test]
    fn a_scope_narrows_but_never_widens() {
        let allow = |actions: &[&str]| PolicyDocument {
            statements: vec![stmt(Effect::Allow, actions, &["*"])],
        };
        let mut p = user();
        p.policies = Arc::from([allow(&["cc:*"])]);
        assert!(authorize(&p, "cc:AddUser", "*", &ctx()).is_ok());
        p.scope = Some(Arc::new(allow(&["cc:List*"])));
        assert!(
            authorize(&p, "cc:AddUser", "*", &ctx()).is_err(),
            "scope narrows"
        );
        assert!(authorize(&p, "cc:ListUsers", "*", &ctx()).is_ok());
        p.policies = Arc::from([]);
        assert!(
            authorize(&p, "cc:ListUsers", "*", &ctx()).is_err(),
            "scope never widens"
        );
    }
}

/// Resource names (ARNs) as the vendor spells them (reference §e.12).
pub mod resource {
    use crate::ids::AccountId;

    /// `acs:ram:*:<account>:user/<name>`; `name` may be `*`.
    pub fn ram_user(account: AccountId, name: &str) -> String {
        format!("acs:ram:*:{account}:user/{name}")
    }

    /// `acs:yundun-cert:*:<account>:certificate/<CertId>`; `id` may be `*`.
    /// The vendor's certificate service authorizes under the RAM service
    /// code `yundun-cert`; the relative id names the certificate by id,
    /// since names are not part of every CAS call.
    pub fn cas_certificate(account: AccountId, id: &str) -> String {
        format!("acs:yundun-cert:*:{account}:certificate/{id}")
    }
}

//! Authorization: who is calling ([`Principal`]), the policy evaluator, and
//! the [`Authorized`] token that use cases demand.
//!
//! Evaluation follows the RAM policy language (reference §e.12): a matching
//! `Deny` statement wins, otherwise a matching `Allow` allows, otherwise the
//! call is implicitly denied. The account's root identity bypasses policies,
//! as on the vendor. A RAM user with no policies is therefore refused every
//! action: that is the default deny of this evaluator, not a special case.
//!
//! Action names match ignoring ASCII case (`ram:getuser` = `ram:GetUser`),
//! as the vendor's evaluator does for action names; resources match
//! case-sensitively. `*` matches any run of characters (including none) and
//! `?` exactly one character (of any width: `user/?` matches `user/é`).
//! The matcher, [`wildcard_match`], never allocates: it runs over bytes
//! when both sides are ASCII and over `char`s in place otherwise.
//!
//! A statement applies when one of its action patterns matches the action,
//! one of its resource patterns matches the resource, and all its
//! conditions hold for the request ([`RequestContext`]); the document
//! language and the conditions (including what a key absent from the
//! request does: the condition is false) are in [`crate::policy_doc`].
//! The statements of all the documents form one set: their order and the
//! document they sit in never change the decision.
//!
//! A principal is judged by its identity policies (carried by its
//! credential, plus those a caller passes to [`authorize_with`]: attached
//! and group policies) and narrowed by its credential's scope: when there
//! is one, the scope must allow the call as well (an intersection; the
//! scope's own denials refuse). The root identity skips the identity
//! policies but not a scope.
//!
//! Cost (`benches/evaluate.rs`, criterion): one decision over 10
//! statements, most not matching and the allowing one last, well under a
//! microsecond; 100 statements scale linearly.

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

pub use crate::policy_doc::{Condition, ContextValue, MalformedPolicy, RequestContext};

/// Evaluates `action` on `resource` against identity policies for the
/// request `ctx`: [`Decision::ExplicitDeny`] if any applicable statement
/// denies, else [`Decision::Allow`] if any allows, else
/// [`Decision::ImplicitDeny`].
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    action: &str,
    resource: &str,
    ctx: &RequestContext,
) -> Decision {
    let (action_ascii, resource_ascii) = (action.is_ascii(), resource.is_ascii());
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
            .any(|p| glob(p, action, action_ascii, true))
            && statement
                .resources
                .iter()
                .any(|p| glob(p, resource, resource_ascii, false))
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

/// Glob match with `*` (any run of characters, including none) and `?`
/// (exactly one character); `ignore_case` folds ASCII letters only.
///
/// Iterative with one backtracking point (the last `*`): no recursion, no
/// allocation, O(|pattern| · |text|) at worst and linear in practice. Works
/// on bytes when both sides are ASCII (every action and nearly every
/// resource), otherwise on `char`s read in place, so `?` is one character
/// of any width.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    glob(pattern, text, text.is_ascii(), ignore_case)
}

/// [`wildcard_match`] with `text.is_ascii()` worked out by the caller.
fn glob(pattern: &str, text: &str, text_ascii: bool, ignore_case: bool) -> bool {
    if text_ascii && pattern.is_ascii() {
        let (p, t) = (pattern.as_bytes(), text.as_bytes());
        if ignore_case {
            glob_bytes::<true>(p, t)
        } else {
            glob_bytes::<false>(p, t)
        }
    } else if ignore_case {
        glob_chars(pattern, text, |a, b| a.eq_ignore_ascii_case(&b))
    } else {
        glob_chars(pattern, text, |a, b| a == b)
    }
}

/// Over ASCII bytes, folding case when `FOLD`. The literal tail after the
/// last wildcard must be the end of the text, and is compared as a slice
/// first: most patterns are a literal, or end in a literal name or in `*`,
/// and most candidates fail there at once.
fn glob_bytes<const FOLD: bool>(p: &[u8], t: &[u8]) -> bool {
    let same = |a: &[u8], b: &[u8]| {
        if FOLD {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    let Some(last) = p.iter().rposition(|&c| c == b'*' || c == b'?') else {
        return same(p, t);
    };
    // `X<wildcard>L` matches `uL` iff `X<wildcard>` matches `u`: every
    // byte of `L` stands for exactly one byte of the text.
    let tail = &p[last + 1..];
    let Some(rest) = t.len().checked_sub(tail.len()) else {
        return false;
    };
    if !same(tail, &t[rest..]) {
        return false;
    }
    let (p, t) = (&p[..=last], &t[..rest]);
    let eq = |a: u8, b: u8| {
        if FOLD {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    // Just after the last `*` seen, and where in the text its run ends.
    let mut resume: Option<(usize, usize)> = None;
    while let Some(&tc) = t.get(ti) {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                resume = Some((pi, ti));
                continue;
            }
            Some(&pc) if pc == b'?' || eq(pc, tc) => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` take one more character, or fail.
        let Some((sp, st)) = resume else {
            return false;
        };
        pi = sp;
        ti = st + 1;
        resume = Some((sp, ti));
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// [`glob_bytes`] over `char`s; positions are byte offsets, always on
/// character boundaries.
fn glob_chars(p: &str, t: &str, eq: impl Fn(char, char) -> bool) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while let Some(tc) = t[ti..].chars().next() {
        match p[pi..].chars().next() {
            Some('*') => {
                pi += 1;
                resume = Some((pi, ti));
                continue;
            }
            Some(pc) if pc == '?' || eq(pc, tc) => {
                pi += pc.len_utf8();
                ti += tc.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((sp, st)) = resume else {
            return false;
        };
        // `st` ≤ `ti` < the text's length: a character starts at `st`.
        let width = t[st..].chars().next().map_or(1, char::len_utf8);
        pi = sp;
        ti = st + width;
        resume = Some((sp, ti));
    }
    p[pi..].bytes().all(|c| c == b'*')
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
        assert!(wildcard_match("", "", false));
        assert!(!wildcard_match("", "a", false));
        assert!(!wildcard_match("?", "", false));
        assert!(wildcard_match("**", "", false));
        assert!(wildcard_match("ram:*", "ram:GetUser", false));
        assert!(wildcard_match("ram:Get*", "ram:GetUser", false));
        assert!(wildcard_match("ram:?etUser", "ram:GetUser", false));
        assert!(!wildcard_match("ram:?etUser", "ram:etUser", false));
        assert!(wildcard_match("ram:getuser", "ram:GetUser", true));
        assert!(!wildcard_match("ram:getuser", "ram:GetUser", false));
        assert!(wildcard_match("*:get*", "ram:GetUser", true));
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
        assert!(wildcard_match("*a", "aaa", false));
        assert!(!wildcard_match("*a", "aab", false));
        assert!(wildcard_match("a*?*b", "a12b", false));
        assert!(!wildcard_match("a*?*b", "ab", false));
        assert!(wildcard_match(&"*".repeat(50), &"a".repeat(1000), false));
        assert!(!wildcard_match(
            &format!("{}b", "*a".repeat(20)),
            &"a".repeat(1000),
            false
        ));
        // Non-ASCII: `?` is one character of any width; case folding is
        // ASCII only.
        assert!(wildcard_match("user/?", "user/é", false));
        assert!(!wildcard_match("user/??", "user/é", false));
        assert!(wildcard_match("user/*用", "user/ab用", false));
        assert!(wildcard_match("user/?用?", "user/é用x", false));
        assert!(!wildcard_match("user/*用", "user/ab用x", false));
        assert!(wildcard_match("USER/é*", "user/é", true));
        assert!(!wildcard_match("user/É", "user/é", true));
        assert!(!wildcard_match("user/é", "USER/é", false));
    }

    /// The obvious dynamic program over `char`s: `m[i][j]` is whether the
    /// first `i` pattern characters match the first `j` text characters.
    fn reference_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let mut m = vec![vec![false; t.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=t.len() {
                m[i][j] = match p[i - 1] {
                    '*' => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                    '?' => j > 0 && m[i - 1][j - 1],
                    c => {
                        j > 0
                            && m[i - 1][j - 1]
                            && (c == t[j - 1] || (ignore_case && c.eq_ignore_ascii_case(&t[j - 1])))
                    }
                };
            }
        }
        m[p.len()][t.len()]
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

    /// Conditions the property tests attach to statements: true or false
    /// depending on the context, or always false (an absent key).
    fn sample_conditions() -> Vec<Condition> {
        PolicyDocument::parse(
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
                "IpAddress":{"acs:SourceIp":"10.0.0.0/8"},
                "NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
                "DateLessThan":{"acs:CurrentTime":"2026-06-01T00:00:00Z"},
                "Bool":{"acs:SecureTransport":"true"},
                "StringNotEquals":{"acs:UserAgent":"x"}}}}"#,
        )
        .unwrap()
        .statements
        .remove(0)
        .conditions
    }

    fn arb_statement() -> impl proptest::strategy::Strategy<Value = Statement> {
        use proptest::prelude::*;
        let pattern = prop::sample::select(vec![
            "*",
            "ram:*",
            "ram:Get*",
            "ram:?etUser",
            "RAM:getuser",
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
            prop::sample::subsequence(sample_conditions(), 0..=2),
        )
            .prop_map(|(allow, a, r, conditions)| Statement {
                effect: if allow { Effect::Allow } else { Effect::Deny },
                actions: a.into_iter().map(String::from).collect(),
                resources: r.into_iter().map(String::from).collect(),
                conditions,
            })
    }

    fn arb_context() -> impl proptest::strategy::Strategy<Value = RequestContext> {
        use proptest::prelude::*;
        (
            prop::sample::select(vec![
                None,
                Some("10.1.2.3"),
                Some("192.0.2.1"),
                Some("2001:db8::1"),
            ]),
            prop::sample::select(vec![
                time::macros::datetime!(2026-01-01 00:00:00 UTC),
                time::macros::datetime!(2026-06-01 00:00:00 UTC),
            ]),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(ip, t, secure, mfa)| RequestContext {
                current_time: t,
                source_ip: ip.map(|s| s.parse().unwrap()),
                secure_transport: secure,
                mfa_present: mfa,
            })
    }

    proptest::proptest! {
        #[test]
        fn adding_a_deny_never_allows_and_adding_an_allow_never_refuses(
            docs in proptest::collection::vec(proptest::collection::vec(arb_statement(), 0..6), 0..3),
            extra in arb_statement(),
            at in 0usize..3,
            ctx in arb_context(),
            action in proptest::sample::select(vec!["ram:GetUser", "ram:CreateUser", "ram:ListUsers"]),
            resource in proptest::sample::select(vec!["acs:ram:*:1:user/ab", "acs:ram:*:1:user/*", "acs:ram:*:2:user/a"]),
        ) {
            let docs: Vec<PolicyDocument> =
                docs.into_iter().map(|statements| PolicyDocument { statements }).collect();
            let before = evaluate(&docs, action, resource, &ctx);
            // The extra statement goes into one of the documents, or a new one.
            let adding = |effect: Effect| {
                let mut docs = docs.clone();
                let s = Statement { effect, ..extra.clone() };
                match docs.get_mut(at) {
                    Some(d) => d.statements.push(s),
                    None => docs.push(PolicyDocument { statements: vec![s] }),
                }
                evaluate(&docs, action, resource, &ctx)
            };
            let after_deny = adding(Effect::Deny);
            if before != Decision::Allow {
                proptest::prop_assert_ne!(after_deny, Decision::Allow);
            }
            proptest::prop_assert!(before != Decision::ExplicitDeny || after_deny == Decision::ExplicitDeny);
            let after_allow = adding(Effect::Allow);
            if before == Decision::Allow {
                proptest::prop_assert_eq!(after_allow, Decision::Allow);
            }
            proptest::prop_assert!(before != Decision::ExplicitDeny || after_allow == Decision::ExplicitDeny);
        }

        #[test]
        fn star_matches_everything_and_literals_match_themselves(text in "[a-zA-Z0-9:/*?._-]{0,40}") {
            proptest::prop_assert!(wildcard_match("*", &text, false));
            let literal: String = text.chars().filter(|c| *c != '*' && *c != '?').collect();
            proptest::prop_assert!(wildcard_match(&literal, &literal, false));
        }

    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn the_matcher_agrees_with_the_reference_on_ascii(
            pattern in "[abAB*?]{0,12}",
            text in "[abAB]{0,16}",
            ignore_case: bool,
        ) {
            proptest::prop_assert_eq!(
                wildcard_match(&pattern, &text, ignore_case),
                reference_match(&pattern, &text, ignore_case)
            );
        }

        #[test]
        fn the_matcher_agrees_with_the_reference_on_any_text(
            pattern in "[aAéÉ用*?]{0,10}",
            text in "[aAéÉ用]{0,12}",
            ignore_case: bool,
        ) {
            proptest::prop_assert_eq!(
                wildcard_match(&pattern, &text, ignore_case),
                reference_match(&pattern, &text, ignore_case)
            );
        }

        #[test]
        fn the_matcher_never_panics(pattern in "\\PC{0,24}", text in "\\PC{0,48}", ignore_case: bool) {
            proptest::prop_assert_eq!(
                wildcard_match(&pattern, &text, ignore_case),
                reference_match(&pattern, &text, ignore_case)
            );
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
                "? in a resource is one character",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    &format!(r#""acs:ram:*:{A}:user/?o?""#),
                )])],
                "ram:GetUser",
                &user_bob,
                Decision::Allow,
            ),
            (
                "? in a resource is never none",
                vec![doc(&[allow(
                    r#""ram:GetUser""#,
                    &format!(r#""acs:ram:*:{A}:user/bob?""#),
                )])],
                "ram:GetUser",
                &user_bob,
                Decision::ImplicitDeny,
            ),
            (
                "* inside a resource",
                vec![doc(&[allow(r#""ram:GetUser""#, r#""acs:ram:*:*:user/*""#)])],
                "ram:GetUser",
                &user_bob,
                Decision::Allow,
            ),
            (
                "* in the service of an action",
                vec![doc(&[allow(r#""*:Get*""#, r#""*""#)])],
                "ram:GetUser",
                &user_bob,
                Decision::Allow,
            ),
            (
                "? in an action, case-insensitive",
                vec![doc(&[allow(r#""ram:?ETUSER""#, r#""*""#)])],
                "ram:GetUser",
                &user_bob,
                Decision::Allow,
            ),
            (
                "* alone is every action",
                vec![doc(&[allow(r#""*""#, &format!(r#""{user_bob}""#))])],
                "yundun-cert:DeleteUserCertificate",
                &user_bob,
                Decision::Allow,
            ),
            (
                "the action must match as a whole",
                vec![doc(&[allow(r#""ram:GetUse""#, r#""*""#)])],
                "ram:GetUser",
                &user_bob,
                Decision::ImplicitDeny,
            ),
            (
                "another service",
                vec![doc(&[allow(r#""ecs:GetUser""#, r#""*""#)])],
                "ram:GetUser",
                &user_bob,
                Decision::ImplicitDeny,
            ),
            (
                "deny case-insensitive on the action",
                vec![doc(&[
                    allow(r#""*""#, r#""*""#),
                    deny(r#""RAM:DELETEUSER""#, r#""*""#),
                ])],
                "ram:DeleteUser",
                &user_alice,
                Decision::ExplicitDeny,
            ),
            (
                "deny case-sensitive on the resource",
                vec![doc(&[
                    allow(r#""*""#, r#""*""#),
                    deny(r#""*""#, &format!(r#""acs:ram:*:{A}:user/Alice""#)),
                ])],
                "ram:DeleteUser",
                &user_alice,
                Decision::Allow,
            ),
            (
                "deny first, allow later in another document",
                vec![
                    doc(&[deny(r#""ram:*""#, r#""*""#)]),
                    doc(&[allow(r#""*""#, r#""*""#)]),
                ],
                "ram:GetUser",
                &user_alice,
                Decision::ExplicitDeny,
            ),
            (
                "a deny alone is an explicit deny",
                vec![doc(&[deny(r#""ram:GetUser""#, r#""*""#)])],
                "ram:GetUser",
                &user_alice,
                Decision::ExplicitDeny,
            ),
            (
                "a deny elsewhere leaves the implicit deny",
                vec![doc(&[deny(r#""ram:DeleteUser""#, r#""*""#)])],
                "ram:GetUser",
                &user_alice,
                Decision::ImplicitDeny,
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

    #[test]
    fn a_scope_intersects_with_the_identity_policies() {
        let allow = |actions: &[&str], resources: &[&str]| PolicyDocument {
            statements: vec![stmt(Effect::Allow, actions, resources)],
        };
        let mut p = user();
        p.policies = Arc::from([allow(&["ram:Get*", "ram:List*"], &["acs:ram:*:1:user/*"])]);
        p.scope = Some(Arc::new(allow(&["ram:*"], &["acs:ram:*:1:user/a*"])));
        // Both must allow: action from one, resource from the other.
        assert!(authorize(&p, "ram:GetUser", "acs:ram:*:1:user/alice", &ctx()).is_ok());
        assert!(authorize(&p, "ram:GetUser", "acs:ram:*:1:user/bob", &ctx()).is_err());
        assert!(authorize(&p, "ram:DeleteUser", "acs:ram:*:1:user/alice", &ctx()).is_err());
        // An explicit deny in the scope refuses.
        p.scope = Some(Arc::new(PolicyDocument {
            statements: vec![
                stmt(Effect::Allow, &["*"], &["*"]),
                stmt(Effect::Deny, &["ram:List*"], &["*"]),
            ],
        }));
        assert!(authorize(&p, "ram:GetUser", "acs:ram:*:1:user/bob", &ctx()).is_ok());
        assert!(authorize(&p, "ram:ListUsers", "acs:ram:*:1:user/*", &ctx()).is_err());
        // Extra (attached) policies widen the identity side, not the scope.
        let extra = [allow(&["ram:DeleteUser"], &["*"])];
        assert!(
            authorize_with(&p, &extra, "ram:DeleteUser", "acs:ram:*:1:user/bob", &ctx()).is_ok()
        );
        assert!(authorize_with(&p, &extra, "ram:ListUsers", "acs:ram:*:1:user/*", &ctx()).is_err());
        // The root identity needs no policy but is narrowed by a scope too.
        let root = Principal {
            kind: PrincipalKind::Root,
            ..p.clone()
        };
        assert!(authorize(&root, "ecs:RunInstances", "*", &ctx()).is_ok());
        assert!(authorize(&root, "ram:ListUsers", "*", &ctx()).is_err());
        // A scope's conditions hold against the same request.
        p.scope = Some(Arc::new(
            PolicyDocument::parse(
                r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}}"#,
            )
            .unwrap(),
        ));
        let tls = RequestContext {
            secure_transport: true,
            ..ctx()
        };
        assert!(authorize(&p, "ram:GetUser", "acs:ram:*:1:user/bob", &tls).is_ok());
        assert!(authorize(&p, "ram:GetUser", "acs:ram:*:1:user/bob", &ctx()).is_err());
    }

    /// (policy set, request context) → decision for `ram:ListUsers` on
    /// `*`: every condition operator through the evaluator, both ways.
    #[test]
    fn conditions_decide_through_the_evaluator() {
        let doc = |statements: &[(&str, &str)]| {
            let s: Vec<String> = statements
                .iter()
                .map(|(effect, condition)| {
                    let condition = if condition.is_empty() {
                        String::new()
                    } else {
                        format!(r#","Condition":{condition}"#)
                    };
                    format!(
                        r#"{{"Effect":"{effect}","Action":"ram:ListUsers","Resource":"*"{condition}}}"#
                    )
                })
                .collect();
            PolicyDocument::parse(&format!(
                r#"{{"Version":"1","Statement":[{}]}}"#,
                s.join(",")
            ))
            .unwrap()
        };
        let allow_if = |c: &str| vec![doc(&[("Allow", c)])];
        let base = RequestContext {
            current_time: time::macros::datetime!(2026-01-01 00:00:00 UTC),
            source_ip: Some("10.9.8.7".parse().unwrap()),
            secure_transport: true,
            mfa_present: false,
        };
        let from = |ip: Option<&str>| RequestContext {
            source_ip: ip.map(|s| s.parse().unwrap()),
            ..base
        };
        let at = |t: time::OffsetDateTime| RequestContext {
            current_time: t,
            ..base
        };
        let plain = RequestContext {
            secure_transport: false,
            ..base
        };
        let mfa = RequestContext {
            mfa_present: true,
            ..base
        };
        let v6 = from(Some("2001:db8::1"));
        let other = from(Some("192.0.2.1"));
        let unknown = from(None);
        let second = time::Duration::seconds(1);
        let t0 = base.current_time;
        use Decision::{Allow, ExplicitDeny as Deny, ImplicitDeny as None_};
        let ip = |c: &str| format!(r#"{{"IpAddress":{{"acs:SourceIp":{c}}}}}"#);
        let not_ip = |c: &str| format!(r#"{{"NotIpAddress":{{"acs:SourceIp":{c}}}}}"#);
        let date = |op: &str, d: &str| format!(r#"{{"{op}":{{"acs:CurrentTime":"{d}"}}}}"#);
        let table: Vec<(&str, Vec<PolicyDocument>, RequestContext, Decision)> = vec![
            (
                "IpAddress in",
                allow_if(&ip(r#""10.0.0.0/8""#)),
                base,
                Allow,
            ),
            (
                "IpAddress out",
                allow_if(&ip(r#""10.0.0.0/8""#)),
                other,
                None_,
            ),
            (
                "IpAddress, no address",
                allow_if(&ip(r#""10.0.0.0/8""#)),
                unknown,
                None_,
            ),
            (
                "IpAddress /32 in",
                allow_if(&ip(r#""10.9.8.7/32""#)),
                base,
                Allow,
            ),
            (
                "IpAddress /32 out",
                allow_if(&ip(r#""10.9.8.6/32""#)),
                base,
                None_,
            ),
            (
                "IpAddress /31 edge",
                allow_if(&ip(r#""10.9.8.6/31""#)),
                base,
                Allow,
            ),
            (
                "IpAddress v4 /0",
                allow_if(&ip(r#""0.0.0.0/0""#)),
                base,
                Allow,
            ),
            (
                "IpAddress v4 /0, v6 peer",
                allow_if(&ip(r#""0.0.0.0/0""#)),
                v6,
                None_,
            ),
            ("IpAddress v6 /0", allow_if(&ip(r#""::/0""#)), v6, Allow),
            (
                "IpAddress v6 /0, v4 peer",
                allow_if(&ip(r#""::/0""#)),
                base,
                None_,
            ),
            (
                "IpAddress v6 /32",
                allow_if(&ip(r#""2001:db8::/32""#)),
                v6,
                Allow,
            ),
            (
                "IpAddress v6 /32 out",
                allow_if(&ip(r#""2001:db9::/32""#)),
                v6,
                None_,
            ),
            (
                "IpAddress /128 in",
                allow_if(&ip(r#""2001:db8::1/128""#)),
                v6,
                Allow,
            ),
            (
                "IpAddress /128 out",
                allow_if(&ip(r#""2001:db8::2/128""#)),
                v6,
                None_,
            ),
            (
                "IpAddress v4-mapped peer",
                allow_if(&ip(r#""10.0.0.0/8""#)),
                from(Some("::ffff:10.1.1.1")),
                Allow,
            ),
            (
                "values OR-ed",
                allow_if(&ip(r#"["192.0.2.0/24","10.0.0.0/8"]"#)),
                other,
                Allow,
            ),
            (
                "values OR-ed, none",
                allow_if(&ip(r#"["192.0.2.0/24","10.0.0.0/8"]"#)),
                from(Some("172.16.0.1")),
                None_,
            ),
            (
                "NotIpAddress in",
                allow_if(&not_ip(r#""10.0.0.0/8""#)),
                base,
                None_,
            ),
            (
                "NotIpAddress out",
                allow_if(&not_ip(r#""10.0.0.0/8""#)),
                other,
                Allow,
            ),
            (
                "NotIpAddress matches none of",
                allow_if(&not_ip(r#"["192.0.2.0/24","10.0.0.0/8"]"#)),
                other,
                None_,
            ),
            (
                "NotIpAddress, no address",
                allow_if(&not_ip(r#""10.0.0.0/8""#)),
                unknown,
                None_,
            ),
            (
                "NotIpAddress, other family",
                allow_if(&not_ip(r#""10.0.0.0/8""#)),
                v6,
                Allow,
            ),
            (
                "DateLessThan before",
                allow_if(&date("DateLessThan", "2026-01-01T00:00:01Z")),
                base,
                Allow,
            ),
            (
                "DateLessThan at",
                allow_if(&date("DateLessThan", "2026-01-01T00:00:00Z")),
                base,
                None_,
            ),
            (
                "DateLessThanEquals at",
                allow_if(&date("DateLessThanEquals", "2026-01-01T00:00:00Z")),
                base,
                Allow,
            ),
            (
                "DateLessThanEquals after",
                allow_if(&date("DateLessThanEquals", "2026-01-01T00:00:00Z")),
                at(t0 + second),
                None_,
            ),
            (
                "DateGreaterThan after",
                allow_if(&date("DateGreaterThan", "2026-01-01T00:00:00Z")),
                at(t0 + second),
                Allow,
            ),
            (
                "DateGreaterThan at",
                allow_if(&date("DateGreaterThan", "2026-01-01T00:00:00Z")),
                base,
                None_,
            ),
            (
                "DateGreaterThanEquals at",
                allow_if(&date("DateGreaterThanEquals", "2026-01-01T08:00:00+08:00")),
                base,
                Allow,
            ),
            (
                "DateGreaterThanEquals before",
                allow_if(&date("DateGreaterThanEquals", "2026-01-01T00:00:00Z")),
                at(t0 - second),
                None_,
            ),
            (
                "DateEquals at",
                allow_if(&date("DateEquals", "2025-12-31T19:00:00-05:00")),
                base,
                Allow,
            ),
            (
                "DateEquals off by a second",
                allow_if(&date("DateEquals", "2026-01-01T00:00:00Z")),
                at(t0 + second),
                None_,
            ),
            (
                "DateNotEquals at",
                allow_if(&date("DateNotEquals", "2026-01-01T00:00:00Z")),
                base,
                None_,
            ),
            (
                "DateNotEquals elsewhen",
                allow_if(&date("DateNotEquals", "2026-01-01T00:00:00Z")),
                at(t0 - second),
                Allow,
            ),
            (
                "Bool SecureTransport",
                allow_if(r#"{"Bool":{"acs:SecureTransport":"true"}}"#),
                base,
                Allow,
            ),
            (
                "Bool SecureTransport, plain",
                allow_if(r#"{"Bool":{"acs:SecureTransport":true}}"#),
                plain,
                None_,
            ),
            (
                "Bool MFAPresent",
                allow_if(r#"{"Bool":{"acs:MFAPresent":"True"}}"#),
                mfa,
                Allow,
            ),
            (
                "Bool MFAPresent, none",
                allow_if(r#"{"Bool":{"acs:MFAPresent":"true"}}"#),
                base,
                None_,
            ),
            (
                "keys AND-ed, one fails",
                allow_if(r#"{"Bool":{"acs:SecureTransport":"true","acs:MFAPresent":"true"}}"#),
                base,
                None_,
            ),
            (
                "keys AND-ed, both hold",
                allow_if(r#"{"Bool":{"acs:SecureTransport":"true","acs:MFAPresent":"true"}}"#),
                mfa,
                Allow,
            ),
            (
                "operators AND-ed, both hold",
                allow_if(
                    r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"DateLessThan":{"acs:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
                ),
                base,
                Allow,
            ),
            (
                "operators AND-ed, date fails",
                allow_if(
                    r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"DateLessThan":{"acs:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
                ),
                base,
                None_,
            ),
            (
                "operators AND-ed, address fails",
                allow_if(
                    r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"DateLessThan":{"acs:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
                ),
                other,
                None_,
            ),
            (
                "condition key case",
                allow_if(r#"{"IpAddress":{"ACS:SOURCEIP":"10.0.0.0/8"}}"#),
                base,
                Allow,
            ),
            (
                "StringEquals",
                allow_if(r#"{"StringEquals":{"acs:SourceIp":"10.9.8.7"}}"#),
                base,
                Allow,
            ),
            (
                "StringEquals, other",
                allow_if(r#"{"StringEquals":{"acs:SourceIp":"10.9.8.7"}}"#),
                other,
                None_,
            ),
            (
                "StringNotEquals",
                allow_if(r#"{"StringNotEquals":{"acs:SourceIp":"10.9.8.7"}}"#),
                other,
                Allow,
            ),
            (
                "StringNotEquals, same",
                allow_if(r#"{"StringNotEquals":{"acs:SourceIp":"10.9.8.7"}}"#),
                base,
                None_,
            ),
            (
                "StringEqualsIgnoreCase",
                allow_if(r#"{"StringEqualsIgnoreCase":{"acs:SourceIp":"2001:DB8::1"}}"#),
                v6,
                Allow,
            ),
            (
                "StringEqualsIgnoreCase, other",
                allow_if(r#"{"StringEqualsIgnoreCase":{"acs:SourceIp":"2001:DB8::2"}}"#),
                v6,
                None_,
            ),
            (
                "StringNotEqualsIgnoreCase",
                allow_if(r#"{"StringNotEqualsIgnoreCase":{"acs:SourceIp":"2001:DB8::2"}}"#),
                v6,
                Allow,
            ),
            (
                "StringNotEqualsIgnoreCase, same",
                allow_if(r#"{"StringNotEqualsIgnoreCase":{"acs:SourceIp":"2001:DB8::1"}}"#),
                v6,
                None_,
            ),
            (
                "StringLike",
                allow_if(r#"{"StringLike":{"acs:SourceIp":"10.9.*"}}"#),
                base,
                Allow,
            ),
            (
                "StringLike, other",
                allow_if(r#"{"StringLike":{"acs:SourceIp":"10.9.*"}}"#),
                other,
                None_,
            ),
            (
                "StringNotLike",
                allow_if(r#"{"StringNotLike":{"acs:SourceIp":["10.9.*","172.*"]}}"#),
                other,
                Allow,
            ),
            (
                "StringNotLike, like",
                allow_if(r#"{"StringNotLike":{"acs:SourceIp":"10.?.*"}}"#),
                base,
                None_,
            ),
            (
                "Numeric on a non-number key",
                allow_if(r#"{"NumericNotEquals":{"acs:SourceIp":1}}"#),
                base,
                None_,
            ),
            (
                "absent key",
                allow_if(r#"{"StringEquals":{"acs:UserAgent":"x"}}"#),
                base,
                None_,
            ),
            (
                "absent key, negated",
                allow_if(r#"{"StringNotEquals":{"acs:UserAgent":"x"}}"#),
                base,
                None_,
            ),
            (
                "deny under a condition that holds",
                vec![doc(&[("Allow", ""), ("Deny", &not_ip(r#""10.0.0.0/8""#))])],
                other,
                Deny,
            ),
            (
                "deny under a condition that fails",
                vec![doc(&[("Allow", ""), ("Deny", &not_ip(r#""10.0.0.0/8""#))])],
                base,
                Allow,
            ),
            (
                "deny on missing evidence does not apply",
                vec![doc(&[("Allow", ""), ("Deny", &not_ip(r#""10.0.0.0/8""#))])],
                unknown,
                Allow,
            ),
            (
                "deny from another document under a condition",
                vec![
                    doc(&[("Allow", "")]),
                    doc(&[("Deny", r#"{"Bool":{"acs:SecureTransport":"false"}}"#)]),
                ],
                plain,
                Deny,
            ),
            (
                "one of two allows holds",
                vec![
                    doc(&[("Allow", &ip(r#""192.0.2.0/24""#))]),
                    doc(&[("Allow", &ip(r#""10.0.0.0/8""#))]),
                ],
                base,
                Allow,
            ),
        ];
        for (name, docs, ctx, want) in &table {
            assert_eq!(evaluate(docs, "ram:ListUsers", "*", ctx), *want, "{name}");
        }
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

//! The store conformance suite: the same assertions for every backend, so
//! SQLite and PostgreSQL cannot drift apart. A backend passes when
//! [`run_all`] returns on a fresh, empty store.
//!
//! Each case creates its own account and uses its own names and key ids, so
//! cases can share one store; only [`accounts_round_trip`] needs an empty
//! one (it checks that there is no root account yet). The concurrent cases
//! start all their calls at once from one task, which is how a batching
//! backend sees many requests arrive together; [`run_concurrent`] also runs
//! them from many tasks on a multi-threaded runtime.

use std::sync::Arc;

use futures_util::future::join_all;
use time::OffsetDateTime;
use time::macros::datetime;
use trustdesk_domain::{
    AccessKey, AccessKeyId, Account, AccountId, AuditEvent, AuditOutcome, CertificateId,
    CertificateInfo, CertificateName, Comments, DisplayName, Email, Entity, KeyOwner, KeyStatus,
    MobilePhone, NewCertificate, Store, StoreError, StoredAccessKey, User, UserId, UserName,
    UserPatch,
};

const T: OffsetDateTime = datetime!(2026-03-04 05:06:07 UTC);

/// Runs every case; `store` must start empty.
pub async fn run_all(store: &dyn Store) {
    accounts_round_trip(store).await;
    users_round_trip(store).await;
    user_names_are_unique_case_insensitively(store).await;
    user_limit_is_exact(store).await;
    list_pages_cover_every_user_once(store).await;
    delete_user_with_keys_conflicts(store).await;
    access_keys_round_trip(store).await;
    access_key_limit_is_per_owner(store).await;
    record_key_usage_keeps_the_latest(store).await;
    nonces_are_remembered(store).await;
    concurrent_same_name_creates(store).await;
    concurrent_creates_respect_the_user_limit(store).await;
    concurrent_same_nonce(store).await;
    concurrent_key_creates_respect_the_limit(store).await;
    concurrent_key_create_delete(store).await;
    certificates_round_trip(store).await;
    certificate_pages_and_totals(store).await;
    concurrent_same_certificate_name(store).await;
    audit_events_round_trip(store).await;
}

/// Runs the concurrent cases side by side, each on its own task, so that a
/// multi-threaded runtime interleaves them with each other and with the
/// store's own tasks. Works on a store that already holds data.
pub async fn run_concurrent(store: Arc<dyn Store>) {
    let tasks = [
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_same_name_creates(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_creates_respect_the_user_limit(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_same_nonce(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_key_creates_respect_the_limit(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_same_certificate_name(s.as_ref()).await }
        }),
        tokio::spawn(async move { concurrent_key_create_delete(store.as_ref()).await }),
    ];
    // The cases also run beside each other: each uses its own account.
    for result in join_all(tasks).await {
        if let Err(e) = result {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn unique() -> u64 {
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

async fn account(store: &dyn Store) -> AccountId {
    let id = AccountId(
        1_000_000_000_000_000 + unique() * 7919 + u64::from(std::process::id()) * 1_000_003,
    );
    let key = key_for(id, KeyOwner::Root, &format!("LTAIroot{}", id.0));
    store
        .create_account(&Account { id, created_at: T }, &key)
        .await
        .expect("create account");
    id
}

fn key_for(account: AccountId, owner: KeyOwner, id: &str) -> StoredAccessKey {
    StoredAccessKey {
        key: AccessKey {
            id: AccessKeyId(id.into()),
            account,
            owner,
            status: KeyStatus::Active,
            created_at: T,
            last_used_at: None,
        },
        sealed_secret: vec![1, 2, 3, unique() as u8],
    }
}

fn user(account: AccountId, name: &str) -> User {
    User {
        id: UserId(2_000_000_000_000_000 + unique()),
        account,
        name: UserName::parse(name).unwrap(),
        display_name: None,
        mobile_phone: None,
        email: None,
        comments: None,
        created_at: T,
        updated_at: T,
        last_login_at: None,
    }
}

/// Needs an empty store.
pub async fn accounts_round_trip(store: &dyn Store) {
    assert_eq!(
        store.root_account().await.unwrap(),
        None,
        "a fresh store has no root account"
    );
    let first = Account {
        id: AccountId(1_000_000_000_000_000 + 7 * unique()),
        created_at: T,
    };
    let root_key = key_for(first.id, KeyOwner::Root, &format!("LTAIacct{}", unique()));
    store.create_account(&first, &root_key).await.unwrap();
    assert_eq!(store.root_account().await.unwrap(), Some(first.clone()));
    assert_eq!(
        store.access_key(&root_key.key.id).await.unwrap(),
        Some(root_key.clone()),
        "the root key comes with the account"
    );
    assert_eq!(
        store
            .list_access_keys(first.id, KeyOwner::Root)
            .await
            .unwrap(),
        vec![root_key.key.clone()]
    );

    let again = store
        .create_account(
            &first,
            &key_for(first.id, KeyOwner::Root, &format!("LTAIacct{}", unique())),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(Entity::Account))),
        "{again:?}"
    );

    // Account and root key are one write: when the key cannot be stored,
    // the account is not either.
    let second = Account {
        id: AccountId(first.id.0 + 1),
        created_at: T + time::Duration::seconds(1),
    };
    let taken = key_for(second.id, KeyOwner::Root, root_key.key.id.as_str());
    let clash = store.create_account(&second, &taken).await;
    assert!(
        matches!(clash, Err(StoreError::AlreadyExists(Entity::AccessKey))),
        "{clash:?}"
    );
    assert_eq!(
        store.access_key(&root_key.key.id).await.unwrap(),
        Some(root_key.clone()),
        "the existing key is untouched"
    );
    let second_key = key_for(second.id, KeyOwner::Root, &format!("LTAIacct{}", unique()));
    store.create_account(&second, &second_key).await.unwrap();
    assert_eq!(
        store.root_account().await.unwrap(),
        Some(first.clone()),
        "the root account is the first one created"
    );
    assert!(
        store
            .list_users(second.id, None, 100)
            .await
            .unwrap()
            .users
            .is_empty()
    );
}

pub async fn users_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let full = User {
        display_name: Some(DisplayName::parse("张三").unwrap()),
        mobile_phone: Some(MobilePhone::parse("86-18600008888").unwrap()),
        email: Some(Email::parse("a@example.com").unwrap()),
        comments: Some(Comments::parse("a&b<c>'\"😀").unwrap()),
        updated_at: T + time::Duration::seconds(1),
        last_login_at: Some(T + time::Duration::seconds(2)),
        ..user(acct, "Full.User")
    };
    store.create_user(&full, 100).await.unwrap();
    let bare = user(acct, "bare");
    store.create_user(&bare, 100).await.unwrap();
    assert_eq!(
        store
            .user_by_name(acct, &UserName::parse("full.user").unwrap())
            .await
            .unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.user_by_id(acct, full.id).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.user_by_name(acct, &bare.name).await.unwrap(),
        Some(bare.clone())
    );
    let other = account(store).await;
    assert_eq!(
        store.user_by_name(other, &bare.name).await.unwrap(),
        None,
        "accounts are separate"
    );
    assert_eq!(store.user_by_id(other, full.id).await.unwrap(), None);

    let later = T + time::Duration::hours(1);
    let patch = UserPatch {
        name: Some(UserName::parse("renamed").unwrap()),
        comments: Some(None),
        email: Some(Some(Email::parse("b@example.com").unwrap())),
        ..UserPatch::default()
    };
    let updated = store
        .update_user(acct, &full.name, &patch, later)
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "renamed");
    assert_eq!(updated.comments, None);
    assert_eq!(updated.email.as_ref().unwrap().as_str(), "b@example.com");
    assert_eq!(updated.display_name, full.display_name);
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.created_at, T);
    assert_eq!(
        store.user_by_name(acct, &updated.name).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(store.user_by_name(acct, &full.name).await.unwrap(), None);
    let missing = store
        .update_user(acct, &UserName::parse("ghost").unwrap(), &patch, later)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(Entity::User))),
        "{missing:?}"
    );

    store.delete_user(acct, &bare.name).await.unwrap();
    assert_eq!(store.user_by_name(acct, &bare.name).await.unwrap(), None);
    assert!(matches!(
        store.delete_user(acct, &bare.name).await,
        Err(StoreError::NotFound(Entity::User))
    ));
}

pub async fn user_names_are_unique_case_insensitively(store: &dyn Store) {
    let acct = account(store).await;
    store.create_user(&user(acct, "Alice"), 100).await.unwrap();
    let dup = store.create_user(&user(acct, "alice"), 100).await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists(Entity::User))),
        "{dup:?}"
    );
    store.create_user(&user(acct, "bob"), 100).await.unwrap();
    let rename = UserPatch {
        name: Some(UserName::parse("ALICE").unwrap()),
        ..UserPatch::default()
    };
    let clash = store
        .update_user(acct, &UserName::parse("bob").unwrap(), &rename, T)
        .await;
    assert!(
        matches!(clash, Err(StoreError::AlreadyExists(Entity::User))),
        "{clash:?}"
    );
    // Renaming to a different case of one's own name is fine.
    let recase = UserPatch {
        name: Some(UserName::parse("BOB").unwrap()),
        ..UserPatch::default()
    };
    assert_eq!(
        store
            .update_user(acct, &UserName::parse("bob").unwrap(), &recase, T)
            .await
            .unwrap()
            .name
            .as_str(),
        "BOB"
    );
    // The same name in another account is another user.
    let other = account(store).await;
    store.create_user(&user(other, "alice"), 100).await.unwrap();
}

pub async fn user_limit_is_exact(store: &dyn Store) {
    let acct = account(store).await;
    for i in 0..3 {
        store
            .create_user(&user(acct, &format!("lim{i}")), 3)
            .await
            .unwrap();
    }
    let over = store.create_user(&user(acct, "lim3"), 3).await;
    assert!(
        matches!(over, Err(StoreError::LimitExceeded(Entity::User))),
        "{over:?}"
    );
    store
        .delete_user(acct, &UserName::parse("lim0").unwrap())
        .await
        .unwrap();
    store.create_user(&user(acct, "lim3"), 3).await.unwrap();
}

pub async fn list_pages_cover_every_user_once(store: &dyn Store) {
    let acct = account(store).await;
    let names: Vec<String> = (0..250).map(|i| format!("p{i:03}")).collect();
    for n in &names {
        store.create_user(&user(acct, n), 1000).await.unwrap();
    }
    let other = account(store).await;
    store
        .create_user(&user(other, "elsewhere"), 1000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store.list_users(acct, after, 100).await.unwrap();
        pages += 1;
        assert!(page.users.len() <= 100);
        seen.extend(page.users.iter().map(|u| u.name.to_string()));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names, "every user once, in creation order");
    let exact = store.list_users(acct, None, 250).await.unwrap();
    assert_eq!(exact.users.len(), 250);
    assert_eq!(
        exact.next, None,
        "no next page when the page ends exactly at the last user"
    );
}

pub async fn delete_user_with_keys_conflicts(store: &dyn Store) {
    let acct = account(store).await;
    let u = user(acct, "keyholder");
    store.create_user(&u, 100).await.unwrap();
    let k = key_for(acct, KeyOwner::User(u.id), &format!("LTAIkh{}", unique()));
    store.create_access_key(&k, 2).await.unwrap();
    let r = store.delete_user(acct, &u.name).await;
    assert!(
        matches!(
            r,
            Err(StoreError::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::AccessKey
            })
        ),
        "{r:?}"
    );
    assert!(
        store.user_by_name(acct, &u.name).await.unwrap().is_some(),
        "nothing half-deleted"
    );
    store
        .delete_access_key(acct, KeyOwner::User(u.id), &k.key.id)
        .await
        .unwrap();
    store.delete_user(acct, &u.name).await.unwrap();
}

pub async fn access_keys_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let a = user(acct, "ka");
    let b = user(acct, "kb");
    store.create_user(&a, 100).await.unwrap();
    store.create_user(&b, 100).await.unwrap();
    let k1 = key_for(acct, KeyOwner::User(a.id), &format!("LTAIa1{}", unique()));
    let k2 = key_for(acct, KeyOwner::User(a.id), &format!("LTAIa2{}", unique()));
    store.create_access_key(&k1, 2).await.unwrap();
    store.create_access_key(&k2, 2).await.unwrap();
    let k3 = key_for(acct, KeyOwner::User(a.id), &format!("LTAIa3{}", unique()));
    assert!(matches!(
        store.create_access_key(&k3, 2).await,
        Err(StoreError::LimitExceeded(Entity::AccessKey))
    ));
    let ghost = key_for(
        acct,
        KeyOwner::User(UserId(3_999_999_999_999_999)),
        &format!("LTAIg{}", unique()),
    );
    assert!(matches!(
        store.create_access_key(&ghost, 2).await,
        Err(StoreError::NotFound(Entity::User))
    ));

    assert_eq!(
        store.access_key(&k1.key.id).await.unwrap(),
        Some(k1.clone())
    );
    assert_eq!(
        store
            .access_key(&AccessKeyId("LTAInone".into()))
            .await
            .unwrap(),
        None
    );
    let listed = store
        .list_access_keys(acct, KeyOwner::User(a.id))
        .await
        .unwrap();
    assert_eq!(listed, vec![k1.key.clone(), k2.key.clone()]);
    assert!(
        store
            .list_access_keys(acct, KeyOwner::User(b.id))
            .await
            .unwrap()
            .is_empty()
    );
    let root = store.list_access_keys(acct, KeyOwner::Root).await.unwrap();
    assert_eq!(root.len(), 1, "the bootstrap key");

    store
        .set_access_key_status(acct, KeyOwner::User(a.id), &k1.key.id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        store
            .access_key(&k1.key.id)
            .await
            .unwrap()
            .unwrap()
            .key
            .status,
        KeyStatus::Inactive
    );
    let wrong_owner = store
        .set_access_key_status(acct, KeyOwner::User(b.id), &k1.key.id, KeyStatus::Active)
        .await;
    assert!(matches!(
        wrong_owner,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));
    let wrong_owner = store
        .delete_access_key(acct, KeyOwner::Root, &k1.key.id)
        .await;
    assert!(matches!(
        wrong_owner,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));
    assert!(store.access_key(&k1.key.id).await.unwrap().is_some());

    let later = T + time::Duration::minutes(5);
    store
        .record_key_usage(&[(k2.key.id.clone(), later)])
        .await
        .unwrap();
    store
        .record_key_usage(&[(k2.key.id.clone(), T)])
        .await
        .unwrap();
    assert_eq!(
        store
            .access_key(&k2.key.id)
            .await
            .unwrap()
            .unwrap()
            .key
            .last_used_at,
        Some(later),
        "never goes back"
    );

    store
        .delete_access_key(acct, KeyOwner::User(a.id), &k1.key.id)
        .await
        .unwrap();
    assert_eq!(store.access_key(&k1.key.id).await.unwrap(), None);
    assert!(matches!(
        store
            .delete_access_key(acct, KeyOwner::User(a.id), &k1.key.id)
            .await,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));
    store.create_access_key(&k3, 2).await.unwrap();
}

pub async fn access_key_limit_is_per_owner(store: &dyn Store) {
    let acct = account(store).await;
    let a = user(acct, "la");
    let b = user(acct, "lb");
    store.create_user(&a, 100).await.unwrap();
    store.create_user(&b, 100).await.unwrap();
    let new = |owner| key_for(acct, owner, &format!("LTAIlim{}", unique()));
    for owner in [KeyOwner::User(a.id), KeyOwner::User(b.id)] {
        store.create_access_key(&new(owner), 2).await.unwrap();
        let second = new(owner);
        store.create_access_key(&second, 2).await.unwrap();
        // Inactive keys count too.
        store
            .set_access_key_status(acct, owner, &second.key.id, KeyStatus::Inactive)
            .await
            .unwrap();
        let third = store.create_access_key(&new(owner), 2).await;
        assert!(
            matches!(third, Err(StoreError::LimitExceeded(Entity::AccessKey))),
            "{third:?}"
        );
    }
    // The root identity has its own quota (it already holds one key).
    store
        .create_access_key(&new(KeyOwner::Root), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.create_access_key(&new(KeyOwner::Root), 2).await,
        Err(StoreError::LimitExceeded(Entity::AccessKey))
    ));
    // A user of another account is not an owner here.
    let other = account(store).await;
    let stranger = key_for(other, KeyOwner::User(a.id), &format!("LTAIx{}", unique()));
    let r = store.create_access_key(&stranger, 2).await;
    assert!(
        matches!(r, Err(StoreError::NotFound(Entity::User))),
        "{r:?}"
    );
    // A duplicate key id is refused.
    let mine = store
        .list_access_keys(acct, KeyOwner::User(a.id))
        .await
        .unwrap();
    let dup = key_for(other, KeyOwner::Root, mine[0].id.as_str());
    let r = store.create_access_key(&dup, 5).await;
    assert!(
        matches!(r, Err(StoreError::AlreadyExists(Entity::AccessKey))),
        "{r:?}"
    );
}

pub async fn record_key_usage_keeps_the_latest(store: &dyn Store) {
    let acct = account(store).await;
    let k1 = key_for(acct, KeyOwner::Root, &format!("LTAIuse{}", unique()));
    let k2 = key_for(acct, KeyOwner::Root, &format!("LTAIuse{}", unique()));
    store.create_access_key(&k1, 10).await.unwrap();
    store.create_access_key(&k2, 10).await.unwrap();
    let t1 = T + time::Duration::minutes(1);
    let t2 = T + time::Duration::minutes(2);
    let last_used = |id: AccessKeyId| async move {
        store
            .access_key(&id)
            .await
            .unwrap()
            .unwrap()
            .key
            .last_used_at
    };
    store.record_key_usage(&[]).await.unwrap();
    assert_eq!(last_used(k1.key.id.clone()).await, None);
    // Several keys at once, one of them twice and out of order, plus a key
    // that does not exist (deleted meanwhile): no error, latest wins.
    store
        .record_key_usage(&[
            (k1.key.id.clone(), t2),
            (k2.key.id.clone(), t1),
            (k1.key.id.clone(), t1),
            (AccessKeyId(format!("LTAIgone{}", unique())), t2),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(k1.key.id.clone()).await, Some(t2));
    assert_eq!(last_used(k2.key.id.clone()).await, Some(t1));
    store
        .record_key_usage(&[(k1.key.id.clone(), t1), (k2.key.id.clone(), t2)])
        .await
        .unwrap();
    assert_eq!(
        last_used(k1.key.id.clone()).await,
        Some(t2),
        "never goes back"
    );
    assert_eq!(last_used(k2.key.id.clone()).await, Some(t2));
    let listed = store.list_access_keys(acct, KeyOwner::Root).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.id == k1.key.id && k.last_used_at == Some(t2))
    );
}

pub async fn nonces_are_remembered(store: &dyn Store) {
    let k1 = AccessKeyId(format!("LTAInonce{}", unique()));
    let k2 = AccessKeyId(format!("LTAInonce{}", unique()));
    let exp = T + time::Duration::minutes(15);
    assert!(store.record_nonce(&k1, "n1", exp).await.unwrap());
    assert!(!store.record_nonce(&k1, "n1", exp).await.unwrap(), "replay");
    assert!(
        store.record_nonce(&k2, "n1", exp).await.unwrap(),
        "nonces are per key"
    );
    assert!(
        store
            .record_nonce(&k1, "n2", T + time::Duration::minutes(1))
            .await
            .unwrap()
    );
    let purged = store
        .purge_nonces(T + time::Duration::minutes(2))
        .await
        .unwrap();
    assert!(purged >= 1);
    assert!(
        store.record_nonce(&k1, "n2", exp).await.unwrap(),
        "expired nonces are forgotten"
    );
    assert!(
        !store.record_nonce(&k1, "n1", exp).await.unwrap(),
        "unexpired nonces are kept"
    );
}

pub async fn concurrent_same_name_creates(store: &dyn Store) {
    let acct = account(store).await;
    let results = join_all(
        (0..64).map(|_| async move { store.create_user(&user(acct, "contended"), 1000).await }),
    )
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let dup = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::User))))
        .count();
    assert_eq!((ok, dup), (1, 63), "{results:?}");
}

pub async fn concurrent_creates_respect_the_user_limit(store: &dyn Store) {
    let acct = account(store).await;
    let results = join_all((0..64).map(|i| async move {
        store
            .create_user(&user(acct, &format!("many{i}")), 10)
            .await
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LimitExceeded(Entity::User))))
        .count();
    assert_eq!((ok, full), (10, 54), "{results:?}");
    let listed = store.list_users(acct, None, 100).await.unwrap();
    assert_eq!(listed.users.len(), 10);
}

pub async fn concurrent_key_creates_respect_the_limit(store: &dyn Store) {
    let acct = account(store).await;
    let u = user(acct, "keyrush");
    store.create_user(&u, 100).await.unwrap();
    let results = join_all((0..16).map(|_| async move {
        let k = key_for(acct, KeyOwner::User(u.id), &format!("LTAIrush{}", unique()));
        store.create_access_key(&k, 2).await
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LimitExceeded(Entity::AccessKey))))
        .count();
    assert_eq!((ok, full), (2, 14), "{results:?}");
    assert_eq!(
        store
            .list_access_keys(acct, KeyOwner::User(u.id))
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn concurrent_same_nonce(store: &dyn Store) {
    let key = AccessKeyId(format!("LTAIcn{}", unique()));
    let key = &key;
    let results = join_all((0..64).map(|_| async move {
        store
            .record_nonce(key, "same", T + time::Duration::minutes(15))
            .await
            .unwrap()
    }))
    .await;
    assert_eq!(results.iter().filter(|fresh| **fresh).count(), 1);
}

pub async fn concurrent_key_create_delete(store: &dyn Store) {
    let acct = account(store).await;
    let u = user(acct, "churn");
    store.create_user(&u, 100).await.unwrap();
    let tasks = (0..32).map(|i| async move {
        let k = key_for(
            acct,
            KeyOwner::User(u.id),
            &format!("LTAIchurn{i}x{}", unique()),
        );
        if store.create_access_key(&k, 2).await.is_ok() {
            store
                .delete_access_key(acct, KeyOwner::User(u.id), &k.key.id)
                .await
                .unwrap();
        }
    });
    join_all(tasks).await;
    assert!(
        store
            .list_access_keys(acct, KeyOwner::User(u.id))
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_user(acct, &u.name).await.unwrap();
}

fn certificate(account: AccountId, name: &str) -> NewCertificate {
    let n = unique();
    NewCertificate {
        account,
        created_at: T,
        info: CertificateInfo {
            name: CertificateName::parse(name).unwrap(),
            common_name: format!("c{n}.example.com"),
            sans: vec![format!("c{n}.example.com"), "10.0.0.1".into()],
            issuer: "Example CA".into(),
            subject: format!("CN=c{n}.example.com,O=Example"),
            organization: "Example".into(),
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            country: "CN".into(),
            serial: format!("{n:X}"),
            sha1_fingerprint: format!("{n:040X}"),
            sha256_fingerprint: format!("{n:064X}"),
            key_algorithm: "EC-P256".into(),
            not_before: T,
            not_after: T + time::Duration::days(365),
        },
        cert_pem: format!("-----BEGIN CERTIFICATE-----\nMI{n}\n-----END CERTIFICATE-----\n"),
        sealed_key: vec![9, 8, 7, n as u8],
    }
}

fn audit(account: AccountId, action: &str, resource: &str) -> AuditEvent {
    AuditEvent {
        at: T,
        account,
        actor: "root".into(),
        access_key: AccessKeyId("LTAIaudit".into()),
        action: action.into(),
        resource: resource.into(),
        outcome: AuditOutcome::Success,
        request_id: format!("REQ-{}", unique()),
    }
}

pub async fn certificates_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let other = account(store).await;
    let new = certificate(acct, "web 证书 (prod)");
    let id = store
        .create_certificate(
            &new,
            &audit(acct, "yundun-cert:CreateUserCertificate", "certificate/*"),
        )
        .await
        .unwrap();
    let got = store.certificate(acct, id).await.unwrap().expect("stored");
    assert_eq!(got.cert.id, id);
    assert_eq!(got.cert.account, acct);
    assert_eq!(got.cert.created_at, new.created_at);
    assert_eq!(got.cert.info, new.info, "metadata round-trips exactly");
    assert_eq!(got.cert_pem, new.cert_pem);
    assert_eq!(got.sealed_key, new.sealed_key);
    assert!(
        store.certificate(other, id).await.unwrap().is_none(),
        "another account cannot see it"
    );
    assert!(
        store
            .certificate(acct, CertificateId(u64::MAX))
            .await
            .unwrap()
            .is_none()
    );

    // Names are unique per account, compared exactly.
    let dup = store
        .create_certificate(
            &certificate(acct, "web 证书 (prod)"),
            &audit(acct, "c", "*"),
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists(Entity::Certificate))),
        "{dup:?}"
    );
    let id2 = store
        .create_certificate(
            &certificate(acct, "WEB 证书 (prod)"),
            &audit(acct, "c", "*"),
        )
        .await
        .unwrap();
    assert!(id2 > id, "ids grow");
    store
        .create_certificate(
            &certificate(other, "web 证书 (prod)"),
            &audit(other, "c", "*"),
        )
        .await
        .expect("the same name in another account");
    let missing = store
        .create_certificate(
            &certificate(AccountId(1), "orphan"),
            &audit(AccountId(1), "c", "*"),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(Entity::Account))),
        "{missing:?}"
    );

    // Delete: only the owner's, once; the id is not reused.
    let wrong = store
        .delete_certificate(other, id, &audit(other, "d", "x"))
        .await;
    assert!(
        matches!(wrong, Err(StoreError::NotFound(Entity::Certificate))),
        "{wrong:?}"
    );
    store
        .delete_certificate(acct, id, &audit(acct, "d", "x"))
        .await
        .unwrap();
    assert!(store.certificate(acct, id).await.unwrap().is_none());
    let again = store
        .delete_certificate(acct, id, &audit(acct, "d", "x"))
        .await;
    assert!(
        matches!(again, Err(StoreError::NotFound(Entity::Certificate))),
        "{again:?}"
    );
    let id3 = store
        .create_certificate(
            &certificate(acct, "web 证书 (prod)"),
            &audit(acct, "c", "*"),
        )
        .await
        .expect("a deleted name is free again");
    assert!(id3 > id2, "ids are never reused");
}

pub async fn certificate_pages_and_totals(store: &dyn Store) {
    let acct = account(store).await;
    assert_eq!(store.list_certificates(acct, 0, 10).await.unwrap().total, 0);
    let mut ids = Vec::new();
    for i in 0..23 {
        ids.push(
            store
                .create_certificate(
                    &certificate(acct, &format!("page-{i}")),
                    &audit(acct, "c", "*"),
                )
                .await
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    for page in 0..4u64 {
        let p = store.list_certificates(acct, page * 10, 10).await.unwrap();
        assert_eq!(p.total, 23);
        seen.extend(p.certificates.iter().map(|c| c.id));
        assert!(p.certificates.iter().all(|c| c.account == acct));
    }
    assert_eq!(seen, ids, "pages cover every certificate once, in id order");
    let page = store.list_certificates(acct, 20, 10).await.unwrap();
    assert_eq!(page.certificates.len(), 3);
    assert_eq!(page.certificates[0].info.name.as_str(), "page-20");
    store
        .delete_certificate(acct, ids[0], &audit(acct, "d", "x"))
        .await
        .unwrap();
    let page = store.list_certificates(acct, 0, 100).await.unwrap();
    assert_eq!((page.total, page.certificates.len()), (22, 22));
    assert!(
        store
            .list_certificates(acct, u64::MAX, 10)
            .await
            .unwrap()
            .certificates
            .is_empty()
    );
}

pub async fn concurrent_same_certificate_name(store: &dyn Store) {
    let acct = account(store).await;
    let results = join_all((0..64).map(|_| async move {
        store
            .create_certificate(&certificate(acct, "contended"), &audit(acct, "c", "*"))
            .await
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let dup = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::Certificate))))
        .count();
    assert_eq!((ok, dup), (1, 63), "{results:?}");
    let page = store.list_certificates(acct, 0, 100).await.unwrap();
    assert_eq!((page.total, page.certificates.len()), (1, 1));
    // Only the winner's upload was audited: a refused insert leaves nothing.
    let events = store.audit_events(acct, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
}

pub async fn audit_events_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let other = account(store).await;
    let id = store
        .create_certificate(
            &certificate(acct, "audited"),
            &audit(
                acct,
                "yundun-cert:CreateUserCertificate",
                "acs:yundun-cert:*:1:certificate/*",
            ),
        )
        .await
        .unwrap();
    let mut read = audit(acct, "yundun-cert:DescribeUserCertificateDetail", "r");
    read.outcome = AuditOutcome::Denied;
    read.actor = "user/2000000000000001".into();
    store.record_audit(&read).await.unwrap();
    store
        .delete_certificate(
            acct,
            id,
            &audit(acct, "yundun-cert:DeleteUserCertificate", "d"),
        )
        .await
        .unwrap();
    let events = store.audit_events(acct, 0, 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].1.resource,
        format!("acs:yundun-cert:*:1:certificate/{id}"),
        "an upload's event names the id it was given"
    );
    assert_eq!(events[1].1, read);
    assert_eq!(events[2].1.action, "yundun-cert:DeleteUserCertificate");
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    let rest = store.audit_events(acct, events[0].0, 10).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(store.audit_events(other, 0, 10).await.unwrap().is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustdesk_domain::{NonceStore, UserStore};
    use trustdesk_store_sqlite::{SqliteOptions, SqliteStore};

    async fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = SqliteStore::open(&url, SqliteOptions::default())
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn sqlite_passes() {
        let (_dir, store) = fresh().await;
        run_all(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_passes_concurrently() {
        let (_dir, store) = fresh().await;
        run_concurrent(Arc::new(store)).await;
    }

    #[tokio::test]
    async fn sqlite_writes_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = SqliteStore::open(&url, SqliteOptions::default())
            .await
            .unwrap();
        let acct = account(&store).await;
        store.create_user(&user(acct, "durable"), 10).await.unwrap();
        assert!(
            store
                .record_nonce(&AccessKeyId("k".into()), "n", T)
                .await
                .unwrap()
        );
        let again = SqliteStore::open(&url, SqliteOptions::default())
            .await
            .unwrap();
        assert!(
            again
                .user_by_name(acct, &UserName::parse("durable").unwrap())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            !again
                .record_nonce(&AccessKeyId("k".into()), "n", T)
                .await
                .unwrap(),
            "nonces survive a restart"
        );
    }
}

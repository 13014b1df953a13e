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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use time::OffsetDateTime;
use time::macros::datetime;
use trustdesk_domain::certcentral::{CHILD_TEMPLATE, Direction, ROOT_TEMPLATE, Search, UserSort};
use trustdesk_domain::{
    AccessKey, AccessKeyId, AccessRole, Account, AccountId, ApiKey, ApiKeyId, ApiKeyStatus,
    AuditEvent, AuditOutcome, CertificateId, CertificateInfo, CertificateName, Comments, Container,
    ContainerId, DisplayName, Email, Entity, KeyOwner, KeyRole, KeyStatus, MobilePhone, NewApiKey,
    NewCertificate, NewContainer, Profile, ProfilePatch, Store, StoreError, StoredAccessKey, User,
    UserId, UserKind, UserName, UserPatch, UserQuery,
};
use trustdesk_domain::{
    AttachTarget, Attachment, Description, EffectivePolicy, Group, GroupId, GroupName, GroupPatch,
    ManagedPolicy, NewPolicy, PolicyEntities, PolicyName, PolicyType, PolicyVersion,
    RotateStrategy,
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
    concurrent_creates_fill_a_larger_limit_exactly(store).await;
    concurrent_same_nonce(store).await;
    concurrent_key_creates_respect_the_limit(store).await;
    concurrent_key_create_delete(store).await;
    certificates_round_trip(store).await;
    certificate_pages_and_totals(store).await;
    concurrent_same_certificate_name(store).await;
    audit_events_round_trip(store).await;
    profiles_round_trip(store).await;
    user_with_api_key_is_one_write(store).await;
    query_users_filters_sorts_and_counts(store).await;
    purge_user_takes_every_key_with_it(store).await;
    ram_delete_takes_api_keys_but_not_access_keys(store).await;
    containers_round_trip(store).await;
    api_keys_round_trip(store).await;
    concurrent_same_name_creates_with_api_keys(store).await;
    groups_round_trip(store).await;
    memberships(store).await;
    membership_limit_is_per_user(store).await;
    policies_and_versions(store).await;
    policy_version_limit_and_rotation(store).await;
    delete_policy_conflicts_and_cascade(store).await;
    attachments_round_trip(store).await;
    attachment_limits_are_per_target_and_type(store).await;
    effective_policies_through_groups(store).await;
    policy_epoch_moves_with_every_change(store).await;
    policy_epoch_moves_with_what_nodes_cache(store).await;
    concurrent_attaches_of_one_policy(store).await;
    concurrent_policy_versions_respect_the_limit(store).await;
    concurrent_rotations_keep_the_limit(store).await;
    concurrent_memberships_respect_the_limit(store).await;
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
            async move { concurrent_creates_fill_a_larger_limit_exactly(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_key_creates_respect_the_limit(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_same_certificate_name(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_same_name_creates_with_api_keys(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_attaches_of_one_policy(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_policy_versions_respect_the_limit(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_rotations_keep_the_limit(s.as_ref()).await }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { concurrent_memberships_respect_the_limit(s.as_ref()).await }
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

/// Two stores on one database are two nodes: what one writes the other
/// reads at once, and races between them have one winner. Every call
/// alternates between `a` and `b`.
pub async fn run_across(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let node = |i: usize| {
        if i.is_multiple_of(2) {
            a.clone()
        } else {
            b.clone()
        }
    };
    let acct = account(a.as_ref()).await;

    // Read after write.
    let u = user(acct, "written-on-a");
    a.create_user(&u, 1000).await.unwrap();
    assert_eq!(
        b.user_by_name(acct, &u.name).await.unwrap().as_ref(),
        Some(&u)
    );
    let k = key_for(
        acct,
        KeyOwner::User(u.id),
        &format!("LTAIacross{}", unique()),
    );
    b.create_access_key(&k, 2).await.unwrap();
    assert_eq!(a.access_key(&k.key.id).await.unwrap(), Some(k.clone()));
    b.set_access_key_status(acct, KeyOwner::User(u.id), &k.key.id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        a.access_key(&k.key.id).await.unwrap().map(|k| k.key.status),
        Some(KeyStatus::Inactive)
    );
    let epoch = a.policy_epoch(acct).await.unwrap();
    b.delete_access_key(acct, KeyOwner::User(u.id), &k.key.id)
        .await
        .unwrap();
    assert!(
        a.policy_epoch(acct).await.unwrap() > epoch,
        "the other node sees the change"
    );

    // One name, both nodes.
    let results = join_all((0..32).map(|i| {
        let s = node(i);
        async move { s.create_user(&user(acct, "contended-across"), 1000).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let dup = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::User))))
        .count();
    assert_eq!((ok, dup), (1, 31), "{results:?}");

    // One limit, both nodes.
    let full = account(a.as_ref()).await;
    let results = join_all((0..32).map(|i| {
        let s = node(i);
        async move { s.create_user(&user(full, &format!("across{i}")), 10).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "{results:?}");
    assert_eq!(b.list_users(full, None, 100).await.unwrap().users.len(), 10);

    // One nonce, both nodes.
    let key = AccessKeyId(format!("LTAIacn{}", unique()));
    let key = &key;
    let fresh = join_all((0..32).map(|i| {
        let s = node(i);
        async move {
            s.record_nonce(key, "same", T + time::Duration::minutes(15))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(fresh.iter().filter(|f| **f).count(), 1);

    // One key limit, both nodes.
    let owner = user(acct, "keys-across");
    a.create_user(&owner, 1000).await.unwrap();
    let owner = &owner;
    let results = join_all((0..16).map(|i| {
        let s = node(i);
        async move {
            let k = key_for(
                acct,
                KeyOwner::User(owner.id),
                &format!("LTAIka{}", unique()),
            );
            s.create_access_key(&k, 2).await
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn unique() -> u64 {
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

/// The root container of every account [`account`] made, so that [`user`]
/// can place its users there as RAM does.
static ROOTS: Mutex<BTreeMap<AccountId, ContainerId>> = Mutex::new(BTreeMap::new());

async fn account(store: &dyn Store) -> AccountId {
    let id = AccountId(
        1_000_000_000_000_000 + unique() * 7919 + u64::from(std::process::id()) * 1_000_003,
    );
    let key = key_for(id, KeyOwner::Root, &format!("LTAIroot{}", id.0));
    store
        .create_account(&Account { id, created_at: T }, &root_container(id), &key)
        .await
        .expect("create account");
    let root = root_of(store, id).await;
    ROOTS.lock().unwrap().insert(id, root.id);
    id
}

/// The account's root container, as the bootstrap makes it.
fn root_container(account: AccountId) -> NewContainer {
    let n = unique() + u64::from(std::process::id()) * 1_000_003;
    NewContainer {
        account,
        parent: None,
        name: "Root".into(),
        description: None,
        template_id: ROOT_TEMPLATE,
        public_id: format!("{n:032x}"),
        ekey: format!("{:016x}", n * 31),
        created_at: T,
    }
}

fn child_container(account: AccountId, parent: ContainerId, name: &str) -> NewContainer {
    NewContainer {
        parent: Some(parent),
        name: name.into(),
        description: Some(format!("{name}, below {parent}")),
        template_id: CHILD_TEMPLATE,
        created_at: T + time::Duration::seconds(5),
        ..root_container(account)
    }
}

/// The one container of the account without a parent.
async fn root_of(store: &dyn Store, account: AccountId) -> Container {
    let roots: Vec<Container> = store
        .containers(account)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.parent.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "one root per account: {roots:?}");
    roots.into_iter().next().unwrap()
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

/// A RAM-created user (no CertCentral names, Standard User in the
/// account's root container); the account must come from [`account`].
fn user(account: AccountId, name: &str) -> User {
    let root = *ROOTS
        .lock()
        .unwrap()
        .get(&account)
        .expect("the account was made by `account`");
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
        profile: Profile::for_ram_user(root),
    }
}

/// A user added through CertCentral, with its names.
fn cc_user(account: AccountId, name: &str, first: &str, last: &str) -> User {
    let mut u = user(account, name);
    u.profile.first_name = Some(first.into());
    u.profile.last_name = Some(last.into());
    u
}

/// A new API key of `user`; its hash is unique in the process.
fn api_key(account: AccountId, user: UserId, name: &str, role: KeyRole) -> NewApiKey {
    let mut hash = [0x5a; 32];
    hash[..8].copy_from_slice(&unique().to_be_bytes());
    hash[8..12].copy_from_slice(&std::process::id().to_be_bytes());
    NewApiKey {
        account,
        user,
        name: name.into(),
        role,
        created_at: T + time::Duration::seconds(3),
        hash,
    }
}

/// The key as the store should give it back.
fn stored_api_key(id: ApiKeyId, k: &NewApiKey) -> ApiKey {
    ApiKey {
        id,
        account: k.account,
        user: k.user,
        name: k.name.clone(),
        role: k.role,
        status: ApiKeyStatus::Active,
        created_at: k.created_at,
        last_used_at: None,
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
    let root = root_container(first.id);
    store
        .create_account(&first, &root, &root_key)
        .await
        .unwrap();
    assert_eq!(store.root_account().await.unwrap(), Some(first.clone()));
    let containers = store.containers(first.id).await.unwrap();
    assert_eq!(
        containers.len(),
        1,
        "the root container comes with the account"
    );
    let made = &containers[0];
    assert_eq!(
        (made.account, made.parent, &made.name, &made.description),
        (first.id, None, &root.name, &root.description)
    );
    assert_eq!(
        (made.template_id, &made.public_id, &made.ekey),
        (ROOT_TEMPLATE, &root.public_id, &root.ekey)
    );
    assert!(made.active);
    assert_eq!(made.created_at, root.created_at);
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
            &root_container(first.id),
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
    let clash = store
        .create_account(&second, &root_container(second.id), &taken)
        .await;
    assert!(
        matches!(clash, Err(StoreError::AlreadyExists(Entity::AccessKey))),
        "{clash:?}"
    );
    assert!(
        store.containers(second.id).await.unwrap().is_empty(),
        "nor its root container"
    );
    assert_eq!(
        store.containers(first.id).await.unwrap(),
        containers,
        "a second create made no second root"
    );
    assert_eq!(
        store.access_key(&root_key.key.id).await.unwrap(),
        Some(root_key.clone()),
        "the existing key is untouched"
    );
    let second_key = key_for(second.id, KeyOwner::Root, &format!("LTAIacct{}", unique()));
    store
        .create_account(&second, &root_container(second.id), &second_key)
        .await
        .unwrap();
    assert!(
        root_of(store, second.id).await.id > made.id,
        "container ids grow"
    );
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

/// More creates than the limit with room to spare at first: a store that
/// admits early creates on a cheaper path than late ones (PostgreSQL)
/// must still stop at exactly the limit.
pub async fn concurrent_creates_fill_a_larger_limit_exactly(store: &dyn Store) {
    let acct = account(store).await;
    let results = join_all((0..96).map(|i| async move {
        store
            .create_user(&user(acct, &format!("fill{i}")), 40)
            .await
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LimitExceeded(Entity::User))))
        .count();
    assert_eq!((ok, full), (40, 56), "{results:?}");
    let mut listed = 0;
    let mut after = None;
    loop {
        let page = store.list_users(acct, after, 25).await.unwrap();
        listed += page.users.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, 40);
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

// ---- CertCentral ----

/// Every attribute of the CertCentral side of a user survives a create and
/// a read by name, by id and in both lists; a profile patch changes exactly
/// what it names (`Some(None)` clears the optional ones).
pub async fn profiles_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let root = root_of(store, acct).await.id;
    let east = store
        .create_container(&child_container(acct, root, "East"))
        .await
        .unwrap();
    let west = store
        .create_container(&child_container(acct, root, "West"))
        .await
        .unwrap();
    let full = User {
        email: Some(Email::parse("jill@example.com").unwrap()),
        last_login_at: Some(T + time::Duration::seconds(9)),
        profile: Profile {
            first_name: Some("Jill 😀".into()),
            last_name: Some("Valentine & Co".into()),
            job_title: Some("Field Agent".into()),
            telephone: Some("+1 (555) 0100 ext. 7".into()),
            role: AccessRole::Manager,
            container: east,
            container_assignments: vec![east, west],
            kind: UserKind::ApiOnly,
            saml_sso_only: true,
        },
        ..user(acct, "jill.valentine")
    };
    store.create_user(&full, 100).await.unwrap();
    assert_eq!(
        store.user_by_name(acct, &full.name).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.user_by_id(acct, full.id).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.list_users(acct, None, 10).await.unwrap().users,
        vec![full.clone()],
        "RAM's list carries the profile too"
    );
    let listed = store
        .query_users(
            acct,
            &UserQuery {
                kind: UserKind::ApiOnly,
                ..everyone()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.users, vec![full.clone()]);

    let later = T + time::Duration::hours(2);
    let patch = UserPatch {
        profile: ProfilePatch {
            first_name: Some("Jillian".into()),
            job_title: Some(None),
            telephone: Some(None),
            role: Some(AccessRole::Administrator),
            container_assignments: Some(vec![west]),
            saml_sso_only: Some(false),
            ..ProfilePatch::default()
        },
        ..UserPatch::default()
    };
    let updated = store
        .update_user(acct, &full.name, &patch, later)
        .await
        .unwrap();
    assert_eq!(updated, patch.apply(&full, later));
    assert_eq!(updated.profile.first_name.as_deref(), Some("Jillian"));
    assert_eq!(
        updated.profile.last_name, full.profile.last_name,
        "untouched"
    );
    assert_eq!(
        (&updated.profile.job_title, &updated.profile.telephone),
        (&None, &None),
        "cleared"
    );
    assert_eq!(updated.profile.container, east, "not patchable");
    assert_eq!(updated.profile.kind, UserKind::ApiOnly, "not patchable");
    assert_eq!(
        store.user_by_name(acct, &full.name).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(
        store.user_by_id(acct, full.id).await.unwrap(),
        Some(updated.clone())
    );
    // A RAM-only patch keeps the CertCentral attributes, and the reverse.
    let ram = UserPatch {
        comments: Some(Some(Comments::parse("from RAM").unwrap())),
        ..UserPatch::default()
    };
    let again = store
        .update_user(acct, &full.name, &ram, later)
        .await
        .unwrap();
    assert_eq!(again.profile, updated.profile);
    let clear = UserPatch {
        profile: ProfilePatch {
            container_assignments: Some(Vec::new()),
            job_title: Some(Some("Captain".into())),
            ..ProfilePatch::default()
        },
        ..UserPatch::default()
    };
    let last = store
        .update_user(acct, &full.name, &clear, later)
        .await
        .unwrap();
    assert_eq!(last.comments, again.comments);
    assert_eq!(
        store.user_by_id(acct, full.id).await.unwrap(),
        Some(last.clone())
    );
    assert!(last.profile.container_assignments.is_empty());
    assert_eq!(last.profile.job_title.as_deref(), Some("Captain"));
}

/// A service user and its key are one write: a refused user leaves no key
/// behind, and a key that cannot be stored leaves no user.
pub async fn user_with_api_key_is_one_write(store: &dyn Store) {
    let acct = account(store).await;
    let mut svc = cc_user(acct, "svc", "Service", "User");
    svc.profile.kind = UserKind::ApiOnly;
    svc.profile.role = AccessRole::Administrator;
    let key = api_key(acct, svc.id, "svc key", KeyRole::UserManagement);
    let id = store
        .create_user_with_api_key(&svc, 10, &key)
        .await
        .unwrap();
    assert_eq!(
        store.api_key_by_hash(&key.hash).await.unwrap(),
        Some(stored_api_key(id, &key))
    );
    assert_eq!(
        store.user_by_name(acct, &svc.name).await.unwrap(),
        Some(svc.clone())
    );

    // The name is taken (compared ignoring case): no user, no key.
    let dup = user(acct, "SVC");
    let dup_key = api_key(acct, dup.id, "dup key", KeyRole::Unrestricted);
    let r = store.create_user_with_api_key(&dup, 10, &dup_key).await;
    assert!(
        matches!(r, Err(StoreError::AlreadyExists(Entity::User))),
        "{r:?}"
    );
    assert_eq!(store.api_key_by_hash(&dup_key.hash).await.unwrap(), None);
    assert_eq!(store.user_by_id(acct, dup.id).await.unwrap(), None);

    // The account is full: the same refusal as create_user, no key.
    let full = user(acct, "svc2");
    let full_key = api_key(acct, full.id, "full key", KeyRole::Unrestricted);
    let r = store.create_user_with_api_key(&full, 1, &full_key).await;
    assert!(
        matches!(r, Err(StoreError::LimitExceeded(Entity::User))),
        "{r:?}"
    );
    assert_eq!(store.api_key_by_hash(&full_key.hash).await.unwrap(), None);

    // A missing account.
    let nowhere = User {
        account: AccountId(1),
        ..user(acct, "svc3")
    };
    let r = store
        .create_user_with_api_key(
            &nowhere,
            10,
            &api_key(AccountId(1), nowhere.id, "k", KeyRole::Unrestricted),
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound(Entity::Account))),
        "{r:?}"
    );

    // The key cannot be stored (its secret's hash is another key's): the
    // user is not created either.
    let clash = user(acct, "svc4");
    let clash_key = NewApiKey {
        user: clash.id,
        ..key.clone()
    };
    let r = store.create_user_with_api_key(&clash, 10, &clash_key).await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(store.user_by_name(acct, &clash.name).await.unwrap(), None);
    assert_eq!(store.user_by_id(acct, clash.id).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys(acct, None).await.unwrap(),
        vec![stored_api_key(id, &key)],
        "only the first key exists"
    );
    assert_eq!(store.list_users(acct, None, 10).await.unwrap().users, [svc]);
}

/// A query over every standard user of an account, first page of 100.
fn everyone() -> UserQuery {
    UserQuery {
        kind: UserKind::Standard,
        containers: None,
        role: None,
        search: None,
        sort: Vec::new(),
        offset: 0,
        limit: 100,
    }
}

pub async fn query_users_filters_sorts_and_counts(store: &dyn Store) {
    let acct = account(store).await;
    let root = root_of(store, acct).await.id;
    let east = store
        .create_container(&child_container(acct, root, "East"))
        .await
        .unwrap();
    let west = store
        .create_container(&child_container(acct, root, "West"))
        .await
        .unwrap();
    let with = |u: User, role, container, email: &str, login: Option<i64>| User {
        email: Some(Email::parse(email).unwrap()),
        last_login_at: login.map(|s| T + time::Duration::seconds(s)),
        profile: Profile {
            role,
            container,
            ..u.profile.clone()
        },
        ..u
    };
    let alice = with(
        cc_user(acct, "qa-alice", "Alice", "Zeta"),
        AccessRole::Administrator,
        root,
        "alice@example.com",
        Some(20),
    );
    let bob = with(
        cc_user(acct, "qa-bob", "Bob", "Young"),
        AccessRole::Manager,
        east,
        "bob@example.com",
        Some(10),
    );
    // `%` and `_` in values, to be found literally.
    let carol = with(
        cc_user(acct, "qa_carol", "Carol 100%", "Xu"),
        AccessRole::StandardUser,
        west,
        "carol@example.org",
        None,
    );
    // Created through RAM: first name = DisplayName, last name = user name.
    let dave = User {
        display_name: Some(DisplayName::parse("Dave").unwrap()),
        ..user(acct, "qa-ram")
    };
    // Neither: both names are the user name.
    let bare = user(acct, "qa-ram2");
    let mut all = vec![alice, bob, carol, dave];
    // Ten CertCentral users sharing a first name (ties sort by id), and
    // ten more RAM users.
    for i in 0..20 {
        let u = if i < 10 {
            cc_user(acct, &format!("qa-pad{i:02}"), "Pad", "Pad")
        } else {
            user(acct, &format!("qa-pad{i:02}"))
        };
        all.push(u);
    }
    all.push(bare);
    for u in &all {
        store.create_user(u, 1000).await.unwrap();
    }
    let services: Vec<User> = ["svc-one", "svc-two"]
        .iter()
        .map(|n| {
            let mut u = user(acct, n);
            u.profile.kind = UserKind::ApiOnly;
            u
        })
        .collect();
    for u in &services {
        store.create_user(u, 1000).await.unwrap();
    }
    // Another account's users never show.
    let other = account(store).await;
    store
        .create_user(&cc_user(other, "qa-alice", "Alice", "Zeta"), 1000)
        .await
        .unwrap();

    let query = |q: UserQuery| async move { store.query_users(acct, &q).await.unwrap() };
    let names = |l: &[User]| l.iter().map(|u| u.name.to_string()).collect::<Vec<_>>();
    let total = all.len() as u64;

    // Default: every standard user, by id, with the exact total.
    let mut by_id = all.clone();
    by_id.sort_by_key(|u| u.id);
    let got = query(everyone()).await;
    assert_eq!(got.total, total);
    assert_eq!(got.users, by_id, "whole users, in id order");

    // Pages: offsets cover everyone once, each with the same total.
    let mut paged = Vec::new();
    for page in 0..3 {
        let p = query(UserQuery {
            offset: page * 10,
            limit: 10,
            ..everyone()
        })
        .await;
        assert_eq!(p.total, total);
        assert!(p.users.len() <= 10);
        paged.extend(p.users);
    }
    assert_eq!(paged, by_id);
    for offset in [total, total + 1, u64::MAX] {
        let past = query(UserQuery {
            offset,
            ..everyone()
        })
        .await;
        assert!(past.users.is_empty(), "offset {offset}");
        assert_eq!(past.total, total, "offset {offset}");
    }
    let none = query(UserQuery {
        limit: 0,
        ..everyone()
    })
    .await;
    assert_eq!((none.users.len(), none.total), (0, total));

    // Kind: standard and api_only users are separate lists.
    let svc = query(UserQuery {
        kind: UserKind::ApiOnly,
        ..everyone()
    })
    .await;
    assert_eq!((names(&svc.users), svc.total), (names(&services), 2));

    // Search, exact: any of username, first name, last name, e-mail, as
    // shown, ignoring ASCII case.
    let search = |s: Search| async move {
        let l = query(UserQuery {
            search: Some(s),
            ..everyone()
        })
        .await;
        assert_eq!(l.total, l.users.len() as u64);
        names(&l.users)
    };
    let exact = |s: &str| search(Search::Exact(s.into()));
    let contains = |s: &str| search(Search::Contains(s.into()));
    assert_eq!(exact("QA-ALICE").await, ["qa-alice"], "username");
    assert_eq!(exact("alice").await, ["qa-alice"], "first name");
    assert_eq!(exact("zETA").await, ["qa-alice"], "last name");
    assert_eq!(exact("Bob@Example.COM").await, ["qa-bob"], "e-mail");
    assert_eq!(exact("dave").await, ["qa-ram"], "a RAM user's DisplayName");
    assert_eq!(
        exact("QA-RAM").await,
        ["qa-ram"],
        "a RAM user's last name is its user name"
    );
    assert_eq!(exact("qa-ram2").await, ["qa-ram2"]);
    assert!(exact("ali").await.is_empty(), "exact is not a prefix");
    assert!(exact("qa-%").await.is_empty(), "no wildcards");
    assert!(exact("svc-one").await.is_empty(), "another kind");

    // Search, contains: `%`, `_` and `\` are plain characters.
    assert_eq!(contains("ALIC").await, ["qa-alice"]);
    assert_eq!(contains("EXAMPLE.ORG").await, ["qa_carol"]);
    assert_eq!(contains("%").await, ["qa_carol"]);
    assert_eq!(contains("0%").await, ["qa_carol"]);
    assert_eq!(contains("_").await, ["qa_carol"]);
    assert_eq!(contains("a_c").await, ["qa_carol"]);
    assert!(contains("\\").await.is_empty());
    assert!(contains("qa-%").await.is_empty());
    assert_eq!(contains("dAV").await, ["qa-ram"], "the derived first name");
    assert_eq!(contains("am2").await, ["qa-ram2"]);
    assert_eq!(contains("young").await, ["qa-bob"]);
    assert_eq!(contains("qa-").await.len(), all.len() - 1);
    assert_eq!(contains("").await.len(), all.len());

    // Role and container filters, alone and together.
    let filtered = |role: Option<AccessRole>, containers: Option<Vec<ContainerId>>| async move {
        let l = query(UserQuery {
            role,
            containers,
            ..everyone()
        })
        .await;
        assert_eq!(l.total, l.users.len() as u64);
        names(&l.users)
    };
    assert_eq!(filtered(Some(AccessRole::Manager), None).await, ["qa-bob"]);
    assert_eq!(
        filtered(Some(AccessRole::StandardUser), None).await.len(),
        all.len() - 2
    );
    assert!(
        filtered(Some(AccessRole::FinanceManager), None)
            .await
            .is_empty()
    );
    assert_eq!(
        filtered(None, Some(vec![east, west])).await,
        ["qa-bob", "qa_carol"]
    );
    assert_eq!(filtered(None, Some(vec![west])).await, ["qa_carol"]);
    assert_eq!(filtered(None, Some(vec![root])).await.len(), all.len() - 2);
    assert!(filtered(None, Some(Vec::new())).await.is_empty());
    assert_eq!(
        filtered(Some(AccessRole::Manager), Some(vec![east, west])).await,
        ["qa-bob"]
    );
    assert!(
        filtered(Some(AccessRole::Administrator), Some(vec![east]))
            .await
            .is_empty()
    );
    let page = query(UserQuery {
        role: Some(AccessRole::StandardUser),
        search: Some(Search::Contains("pad".into())),
        offset: 5,
        limit: 10,
        ..everyone()
    })
    .await;
    assert_eq!((page.users.len(), page.total), (10, 20));

    // Sorts.
    let sorted = |sort: Vec<(UserSort, Direction)>| async move {
        names(&query(UserQuery { sort, ..everyone() }).await.users)
    };
    let mut expect = all.clone();
    expect.sort_by_key(|u| std::cmp::Reverse(u.name.folded()));
    assert_eq!(
        sorted(vec![(UserSort::Username, Direction::Descending)]).await,
        names(&expect)
    );
    let window = query(UserQuery {
        sort: vec![(UserSort::Username, Direction::Descending)],
        offset: 5,
        limit: 5,
        ..everyone()
    })
    .await;
    assert_eq!(names(&window.users), names(&expect[5..10]));
    // First names as shown: Alice, Bob, Carol 100%, Dave (qa-ram's
    // DisplayName), ten Pads by id, then the RAM users' user names.
    let mut expect = all.clone();
    expect.sort_by(|a, b| (a.first_name(), a.id).cmp(&(b.first_name(), b.id)));
    let first = sorted(vec![(UserSort::FirstName, Direction::Ascending)]).await;
    assert_eq!(first, names(&expect));
    assert_eq!(first[..4], ["qa-alice", "qa-bob", "qa_carol", "qa-ram"]);
    assert_eq!(first.last().map(String::as_str), Some("qa-ram2"));
    // Last names as shown (the three with e-mail addresses): Xu, Young,
    // Zeta.
    let last = query(UserQuery {
        sort: vec![(UserSort::LastName, Direction::Ascending)],
        search: Some(Search::Contains("@example.".into())),
        ..everyone()
    })
    .await;
    assert_eq!(names(&last.users), ["qa_carol", "qa-bob", "qa-alice"]);
    // Several keys: the ten Pads tie on the first name, and the second key
    // orders them.
    let mut expect = all.clone();
    expect.sort_by(|a, b| {
        (a.first_name(), b.name.folded(), a.id).cmp(&(b.first_name(), a.name.folded(), b.id))
    });
    let two = sorted(vec![
        (UserSort::FirstName, Direction::Ascending),
        (UserSort::Username, Direction::Descending),
    ])
    .await;
    assert_eq!(two, names(&expect));
    assert_eq!(two[4..6], ["qa-pad09", "qa-pad08"]);
    // Every user is active: a status sort keeps the id order.
    assert_eq!(
        sorted(vec![(UserSort::Status, Direction::Descending)]).await,
        names(&by_id)
    );
    assert_eq!(
        sorted(vec![(UserSort::Id, Direction::Descending)]).await,
        names(&by_id).into_iter().rev().collect::<Vec<_>>()
    );
    // Last login: never-logged-in users first (by id), then the oldest.
    let logins = sorted(vec![(UserSort::LastLogin, Direction::Ascending)]).await;
    assert_eq!(logins[logins.len() - 2..], ["qa-bob", "qa-alice"]);
    let never: Vec<String> = names(&by_id)
        .into_iter()
        .filter(|n| n != "qa-alice" && n != "qa-bob")
        .collect();
    assert_eq!(logins[..logins.len() - 2], never[..]);
    let logins = sorted(vec![(UserSort::LastLogin, Direction::Descending)]).await;
    assert_eq!(logins[..2], ["qa-alice", "qa-bob"]);
}

/// CertCentral's delete: the user goes with its access keys and API keys,
/// in one write; nobody else's keys are touched.
pub async fn purge_user_takes_every_key_with_it(store: &dyn Store) {
    let acct = account(store).await;
    let u = cc_user(acct, "purged", "Pur", "Ged");
    let keep = user(acct, "kept");
    store.create_user(&u, 100).await.unwrap();
    store.create_user(&keep, 100).await.unwrap();
    let k1 = key_for(acct, KeyOwner::User(u.id), &format!("LTAIpg{}", unique()));
    let k2 = key_for(acct, KeyOwner::User(u.id), &format!("LTAIpg{}", unique()));
    let kept_access = key_for(
        acct,
        KeyOwner::User(keep.id),
        &format!("LTAIkp{}", unique()),
    );
    for k in [&k1, &k2, &kept_access] {
        store.create_access_key(k, 2).await.unwrap();
    }
    let a1 = api_key(acct, u.id, "a1", KeyRole::Unrestricted);
    let a2 = api_key(acct, u.id, "a2", KeyRole::ViewOnly);
    let b1 = api_key(acct, keep.id, "b1", KeyRole::Orders);
    store.create_api_key(&a1).await.unwrap();
    let a2_id = store.create_api_key(&a2).await.unwrap();
    let b1_id = store.create_api_key(&b1).await.unwrap();
    // Read once by name, so a caching store holds it.
    assert!(store.user_by_name(acct, &u.name).await.unwrap().is_some());

    // Another account cannot purge it.
    let other = account(store).await;
    let r = store.purge_user(other, u.id).await;
    assert!(
        matches!(r, Err(StoreError::NotFound(Entity::User))),
        "{r:?}"
    );
    assert!(store.access_key(&k1.key.id).await.unwrap().is_some());

    store.purge_user(acct, u.id).await.unwrap();
    assert_eq!(store.user_by_name(acct, &u.name).await.unwrap(), None);
    assert_eq!(store.user_by_id(acct, u.id).await.unwrap(), None);
    for k in [&k1, &k2] {
        assert_eq!(store.access_key(&k.key.id).await.unwrap(), None);
    }
    assert!(
        store
            .list_access_keys(acct, KeyOwner::User(u.id))
            .await
            .unwrap()
            .is_empty()
    );
    for k in [&a1, &a2] {
        assert_eq!(store.api_key_by_hash(&k.hash).await.unwrap(), None);
    }
    assert_eq!(store.api_key(acct, a2_id).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys(acct, None).await.unwrap(),
        vec![stored_api_key(b1_id, &b1)],
        "the other user's keys stay"
    );
    assert!(
        store
            .access_key(&kept_access.key.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.user_by_id(acct, keep.id).await.unwrap().is_some());

    let again = store.purge_user(acct, u.id).await;
    assert!(
        matches!(again, Err(StoreError::NotFound(Entity::User))),
        "{again:?}"
    );
    let ghost = store.purge_user(acct, UserId(3_999_999_999_999_999)).await;
    assert!(
        matches!(ghost, Err(StoreError::NotFound(Entity::User))),
        "{ghost:?}"
    );
    // The name is free again, and the account's count went down.
    store.create_user(&user(acct, "purged"), 2).await.unwrap();
}

/// RAM's DeleteUser still refuses while the user has access keys, and
/// takes the user's API keys with it once it has none.
pub async fn ram_delete_takes_api_keys_but_not_access_keys(store: &dyn Store) {
    let acct = account(store).await;
    let u = user(acct, "both-keys");
    store.create_user(&u, 100).await.unwrap();
    let access = key_for(acct, KeyOwner::User(u.id), &format!("LTAIbk{}", unique()));
    store.create_access_key(&access, 2).await.unwrap();
    let api = api_key(acct, u.id, "api", KeyRole::Unrestricted);
    let api_id = store.create_api_key(&api).await.unwrap();
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
    assert_eq!(
        store.api_key(acct, api_id).await.unwrap(),
        Some(stored_api_key(api_id, &api)),
        "a refused delete leaves the API key"
    );
    store
        .delete_access_key(acct, KeyOwner::User(u.id), &access.key.id)
        .await
        .unwrap();
    store.delete_user(acct, &u.name).await.unwrap();
    assert_eq!(store.user_by_id(acct, u.id).await.unwrap(), None);
    assert_eq!(store.api_key_by_hash(&api.hash).await.unwrap(), None);
    assert!(
        store
            .list_api_keys(acct, Some(u.id))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn containers_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let other = account(store).await;
    let root = root_of(store, acct).await;
    assert_eq!(
        (root.account, root.template_id, root.active),
        (acct, ROOT_TEMPLATE, true)
    );
    let theirs = root_of(store, other).await;

    let east_new = child_container(acct, root.id, "East");
    let east = store.create_container(&east_new).await.unwrap();
    assert!(east > root.id, "ids grow");
    let below_new = child_container(acct, east, "Below East");
    let below = store.create_container(&below_new).await.unwrap();
    assert!(below > east);
    let got = store.containers(acct).await.unwrap();
    assert_eq!(
        got.iter().map(|c| c.id).collect::<Vec<_>>(),
        [root.id, east, below],
        "in id order"
    );
    for (c, new) in [(&got[1], &east_new), (&got[2], &below_new)] {
        assert_eq!(
            c,
            &Container {
                id: c.id,
                account: acct,
                parent: new.parent,
                name: new.name.clone(),
                description: new.description.clone(),
                template_id: CHILD_TEMPLATE,
                public_id: new.public_id.clone(),
                ekey: new.ekey.clone(),
                active: true,
                created_at: new.created_at,
            }
        );
    }
    assert_eq!(
        store.containers(other).await.unwrap(),
        vec![theirs.clone()],
        "accounts are separate"
    );

    // The parent must be one of the account's containers.
    for parent in [ContainerId(u64::MAX), ContainerId(999_999_999), theirs.id] {
        let r = store
            .create_container(&child_container(acct, parent, "Orphan"))
            .await;
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::Container))),
            "{parent:?}: {r:?}"
        );
    }
    let r = store
        .create_container(&child_container(other, east, "Stolen"))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound(Entity::Container))),
        "{r:?}"
    );
    let r = store
        .create_container(&child_container(AccountId(1), root.id, "Nowhere"))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound(Entity::Container))),
        "{r:?}"
    );
    assert_eq!(store.containers(acct).await.unwrap().len(), 3);

    store
        .update_container(acct, east, "East Coast", None)
        .await
        .unwrap();
    store
        .update_container(acct, root.id, "Head Office", Some("HQ"))
        .await
        .unwrap();
    let got = store.containers(acct).await.unwrap();
    assert_eq!(
        (got[1].name.as_str(), got[1].description.as_deref()),
        ("East Coast", None)
    );
    assert_eq!(
        (got[0].name.as_str(), got[0].description.as_deref()),
        ("Head Office", Some("HQ"))
    );
    assert_eq!(got[0].parent, None, "still the root");
    assert_eq!(
        got[1].public_id, east_new.public_id,
        "only the name changes"
    );
    for (account, id) in [
        (other, east),
        (acct, theirs.id),
        (acct, ContainerId(999_999_999)),
        (acct, ContainerId(u64::MAX)),
    ] {
        let r = store.update_container(account, id, "X", None).await;
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::Container))),
            "{id:?}: {r:?}"
        );
    }
    assert_eq!(root_of(store, other).await, theirs, "untouched");

    // Ids keep growing, across accounts too.
    let later = store
        .create_container(&child_container(other, theirs.id, "Later"))
        .await
        .unwrap();
    assert!(later > below);
}

pub async fn api_keys_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let other = account(store).await;
    let u = user(acct, "keyed-u");
    let v = user(acct, "keyed-v");
    let x = user(other, "keyed-x");
    for w in [&u, &v, &x] {
        store.create_user(w, 100).await.unwrap();
    }
    let k1 = api_key(acct, u.id, "first", KeyRole::Unrestricted);
    let k2 = api_key(acct, u.id, "second", KeyRole::ViewOnly);
    let k3 = api_key(acct, v.id, "third", KeyRole::UserManagement);
    let kx = api_key(other, x.id, "theirs", KeyRole::Orders);
    let id1 = store.create_api_key(&k1).await.unwrap();
    let id2 = store.create_api_key(&k2).await.unwrap();
    let id3 = store.create_api_key(&k3).await.unwrap();
    let idx = store.create_api_key(&kx).await.unwrap();
    assert!(id1 < id2 && id2 < id3 && id3 < idx, "ids grow");
    let (s1, s2, s3) = (
        stored_api_key(id1, &k1),
        stored_api_key(id2, &k2),
        stored_api_key(id3, &k3),
    );

    assert_eq!(store.api_key(acct, id1).await.unwrap(), Some(s1.clone()));
    assert_eq!(store.api_key(other, id1).await.unwrap(), None);
    assert_eq!(store.api_key(acct, idx).await.unwrap(), None);
    assert_eq!(store.api_key(acct, ApiKeyId(u64::MAX)).await.unwrap(), None);
    assert_eq!(
        store.api_key_by_hash(&k2.hash).await.unwrap(),
        Some(s2.clone())
    );
    assert_eq!(
        store.api_key_by_hash(&kx.hash).await.unwrap(),
        Some(stored_api_key(idx, &kx)),
        "by hash, in any account"
    );
    assert_eq!(store.api_key_by_hash(&[0xee; 32]).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys(acct, None).await.unwrap(),
        vec![s1.clone(), s2.clone(), s3.clone()]
    );
    assert_eq!(
        store.list_api_keys(acct, Some(u.id)).await.unwrap(),
        vec![s1.clone(), s2.clone()]
    );
    assert_eq!(
        store.list_api_keys(acct, Some(v.id)).await.unwrap(),
        vec![s3.clone()]
    );
    assert!(
        store
            .list_api_keys(acct, Some(x.id))
            .await
            .unwrap()
            .is_empty(),
        "another account's user"
    );
    assert!(
        store
            .list_api_keys(acct, Some(UserId(3_999_999_999_999_999)))
            .await
            .unwrap()
            .is_empty()
    );

    // The owner must be the account's user.
    for owner in [x.id, UserId(3_999_999_999_999_999)] {
        let r = store
            .create_api_key(&api_key(acct, owner, "stray", KeyRole::Unrestricted))
            .await;
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::User))),
            "{r:?}"
        );
    }

    // Name and role.
    store
        .update_api_key(acct, id1, "renamed", KeyRole::OrdersDomainsOrganizations)
        .await
        .unwrap();
    let s1 = ApiKey {
        name: "renamed".into(),
        role: KeyRole::OrdersDomainsOrganizations,
        ..s1
    };
    assert_eq!(store.api_key(acct, id1).await.unwrap(), Some(s1.clone()));
    assert_eq!(
        store.api_key_by_hash(&k1.hash).await.unwrap(),
        Some(s1.clone())
    );
    for (account, id) in [(other, id1), (acct, idx), (acct, ApiKeyId(u64::MAX))] {
        let r = store
            .update_api_key(account, id, "x", KeyRole::Unrestricted)
            .await;
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::ApiKey))),
            "{id:?}: {r:?}"
        );
    }
    assert_eq!(
        store.api_key(other, idx).await.unwrap(),
        Some(stored_api_key(idx, &kx)),
        "untouched"
    );

    // Status: a revoked key is still found, with its status.
    store
        .set_api_key_status(acct, id2, ApiKeyStatus::Revoked)
        .await
        .unwrap();
    let s2 = ApiKey {
        status: ApiKeyStatus::Revoked,
        ..s2
    };
    assert_eq!(
        store.api_key_by_hash(&k2.hash).await.unwrap(),
        Some(s2.clone())
    );
    for (account, id) in [(other, id2), (acct, idx), (acct, ApiKeyId(999_999_999))] {
        let r = store
            .set_api_key_status(account, id, ApiKeyStatus::Revoked)
            .await;
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::ApiKey))),
            "{id:?}: {r:?}"
        );
    }
    assert_eq!(
        store.api_key(other, idx).await.unwrap().unwrap().status,
        ApiKeyStatus::Active
    );

    // Usage: batched, out of order, with unknown keys; never backwards.
    let (t1, t2) = (
        T + time::Duration::minutes(1),
        T + time::Duration::minutes(2),
    );
    let last_used =
        |id| async move { store.api_key(acct, id).await.unwrap().unwrap().last_used_at };
    store.record_api_key_usage(&[]).await.unwrap();
    store
        .record_api_key_usage(&[
            (id1, t2),
            (id3, t1),
            (id1, t1),
            (ApiKeyId(999_999_999), t2),
            (ApiKeyId(u64::MAX), t2),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(id1).await, Some(t2));
    assert_eq!(last_used(id3).await, Some(t1));
    assert_eq!(last_used(id2).await, None);
    store
        .record_api_key_usage(&[(id1, t1), (id3, t2)])
        .await
        .unwrap();
    assert_eq!(last_used(id1).await, Some(t2), "never goes back");
    assert_eq!(last_used(id3).await, Some(t2));
    let listed = store.list_api_keys(acct, Some(u.id)).await.unwrap();
    assert_eq!(
        listed,
        vec![
            ApiKey {
                last_used_at: Some(t2),
                ..s1
            },
            s2
        ]
    );
}

pub async fn concurrent_same_name_creates_with_api_keys(store: &dyn Store) {
    let acct = account(store).await;
    let attempts: Vec<(User, NewApiKey)> = (0..64)
        .map(|i| {
            let u = user(acct, "contended-svc");
            let k = api_key(acct, u.id, &format!("key {i}"), KeyRole::Unrestricted);
            (u, k)
        })
        .collect();
    let results = join_all(
        attempts
            .iter()
            .map(|(u, k)| store.create_user_with_api_key(u, 1000, k)),
    )
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let dup = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::User))))
        .count();
    assert_eq!((ok, dup), (1, 63), "{results:?}");
    let (winner, key) = attempts
        .iter()
        .zip(&results)
        .find_map(|(a, r)| r.as_ref().ok().map(|id| (a, *id)))
        .unwrap();
    assert_eq!(
        store.list_api_keys(acct, None).await.unwrap(),
        vec![stored_api_key(key, &winner.1)],
        "only the winner's key exists"
    );
    assert_eq!(
        store.user_by_name(acct, &winner.0.name).await.unwrap(),
        Some(winner.0.clone())
    );
    for (u, k) in &attempts {
        if u.id != winner.0.id {
            assert_eq!(store.api_key_by_hash(&k.hash).await.unwrap(), None);
        }
    }
}

// ---- groups and policies ----

fn group(account: AccountId, name: &str) -> Group {
    Group {
        id: GroupId(3_000_000_000_000_000 + unique()),
        account,
        name: GroupName::parse(name).unwrap(),
        comments: None,
        created_at: T,
        updated_at: T,
    }
}

fn gname(n: &str) -> GroupName {
    GroupName::parse(n).unwrap()
}

fn pname(n: &str) -> PolicyName {
    PolicyName::parse(n).unwrap()
}

fn uname(n: &str) -> UserName {
    UserName::parse(n).unwrap()
}

fn new_policy(account: AccountId, name: &str, doc: &str) -> NewPolicy {
    NewPolicy {
        account,
        name: pname(name),
        description: None,
        document: doc.to_owned(),
        created_at: T,
    }
}

/// `T` plus `n` minutes: distinct, growing timestamps.
fn at(n: i64) -> OffsetDateTime {
    T + time::Duration::minutes(n)
}

const DOC: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"*"}]}"#;

/// A distinct policy document.
fn doc(n: u32) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:Get{n}","Resource":"*"}}]}}"#
    )
}

/// Fails unless `got` is exactly the refusal `want`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(got: Result<T, StoreError>, want: StoreError) {
    use StoreError as E;
    let same = match (&got, &want) {
        (Err(E::AlreadyExists(a)), E::AlreadyExists(b))
        | (Err(E::NotFound(a)), E::NotFound(b))
        | (Err(E::LimitExceeded(a)), E::LimitExceeded(b)) => a == b,
        (
            Err(E::DeleteConflict { entity, blocker }),
            E::DeleteConflict {
                entity: e,
                blocker: b,
            },
        ) => entity == e && blocker == b,
        _ => false,
    };
    assert!(same, "expected {want:?}, got {got:?}");
}

fn conflict(entity: Entity, blocker: Entity) -> StoreError {
    StoreError::DeleteConflict { entity, blocker }
}

async fn version_ids(store: &dyn Store, account: AccountId, name: &str) -> Vec<String> {
    store
        .policy_versions(account, &pname(name))
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .collect()
}

async fn default_version(store: &dyn Store, account: AccountId, name: &str) -> String {
    store
        .custom_policy(account, &pname(name))
        .await
        .unwrap()
        .expect("the policy exists")
        .default_version
}

fn group_names(page: &[Group]) -> Vec<&str> {
    page.iter().map(|g| g.name.as_str()).collect()
}

async fn attached_to(
    store: &dyn Store,
    account: AccountId,
    target: &AttachTarget,
) -> Vec<(PolicyType, String)> {
    store
        .policies_for(account, target)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.kind, a.name.into_string()))
        .collect()
}

fn custom(name: &str) -> (PolicyType, String) {
    (PolicyType::Custom, name.to_owned())
}

fn system(name: &str) -> (PolicyType, String) {
    (PolicyType::System, name.to_owned())
}

/// Create, look up ignoring case, rename, clear, collide, page, delete.
pub async fn groups_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    let mut devs = group(acct, "Devs");
    devs.comments = Some(Comments::parse("the developers").unwrap());
    store.create_group(&devs, 3).await.unwrap();
    for spelling in ["Devs", "devs", "DEVS"] {
        assert_eq!(
            store.group(acct, &gname(spelling)).await.unwrap(),
            Some(devs.clone()),
            "{spelling}"
        );
    }
    assert_refused(
        store.create_group(&group(acct, "dEVS"), 3).await,
        StoreError::AlreadyExists(Entity::Group),
    );
    store.create_group(&group(acct, "Ops"), 3).await.unwrap();
    store.create_group(&group(acct, "Qa"), 3).await.unwrap();
    assert_refused(
        store.create_group(&group(acct, "Four"), 3).await,
        StoreError::LimitExceeded(Entity::Group),
    );
    // A taken name wins over a full account: a retried create that had
    // succeeded reads as AlreadyExists.
    assert_refused(
        store.create_group(&group(acct, "ops"), 3).await,
        StoreError::AlreadyExists(Entity::Group),
    );

    let later = at(60);
    let renamed = store
        .update_group(
            acct,
            &gname("devs"),
            &GroupPatch {
                name: Some(gname("Developers")),
                comments: Some(Some(Comments::parse("c").unwrap())),
            },
            later,
        )
        .await
        .unwrap();
    let want = Group {
        name: gname("Developers"),
        comments: Some(Comments::parse("c").unwrap()),
        updated_at: later,
        ..devs.clone()
    };
    assert_eq!(renamed, want);
    assert_eq!(
        store.group(acct, &gname("developers")).await.unwrap(),
        Some(want)
    );
    assert_eq!(store.group(acct, &gname("devs")).await.unwrap(), None);
    // Clearing the comments; a patch without a name keeps it.
    let cleared = store
        .update_group(
            acct,
            &gname("DEVELOPERS"),
            &GroupPatch {
                name: None,
                comments: Some(None),
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.name.as_str(), cleared.comments),
        ("Developers", None)
    );
    // A group may change the case of its own name.
    let ops = store
        .update_group(
            acct,
            &gname("ops"),
            &GroupPatch {
                name: Some(gname("OPS")),
                comments: None,
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(ops.name.as_str(), "OPS");
    assert_refused(
        store
            .update_group(
                acct,
                &gname("ops"),
                &GroupPatch {
                    name: Some(gname("developers")),
                    comments: None,
                },
                later,
            )
            .await,
        StoreError::AlreadyExists(Entity::Group),
    );
    assert_eq!(
        store.group(acct, &gname("ops")).await.unwrap(),
        Some(ops),
        "a refused rename changes nothing"
    );
    assert_refused(
        store
            .update_group(acct, &gname("ghost"), &GroupPatch::default(), later)
            .await,
        StoreError::NotFound(Entity::Group),
    );

    // Pages in creation order; a rename keeps the place.
    let first = store.list_groups(acct, None, 2).await.unwrap();
    assert_eq!(group_names(&first.groups), ["Developers", "OPS"]);
    assert!(first.next.is_some());
    let rest = store.list_groups(acct, first.next, 2).await.unwrap();
    assert_eq!(group_names(&rest.groups), ["Qa"]);
    assert!(rest.next.is_none());
    let exact = store.list_groups(acct, None, 3).await.unwrap();
    assert_eq!(exact.groups.len(), 3);
    assert!(
        exact.next.is_none(),
        "no next page when the last one is full"
    );
    assert_eq!(
        exact.groups[0],
        store
            .group(acct, &gname("developers"))
            .await
            .unwrap()
            .unwrap()
    );

    // Deleting frees the name and a place; cursors stay valid.
    store.delete_group(acct, &gname("QA")).await.unwrap();
    assert_refused(
        store.delete_group(acct, &gname("qa")).await,
        StoreError::NotFound(Entity::Group),
    );
    let empty = store.list_groups(acct, first.next, 2).await.unwrap();
    assert!(empty.groups.is_empty() && empty.next.is_none());
    store.create_group(&group(acct, "qa"), 3).await.unwrap();
    let again = store.list_groups(acct, first.next, 2).await.unwrap();
    assert_eq!(group_names(&again.groups), ["qa"]);

    // Another account sees none of it and may use the same names.
    let other = account(store).await;
    assert!(store.group(other, &gname("ops")).await.unwrap().is_none());
    assert!(
        store
            .list_groups(other, None, 10)
            .await
            .unwrap()
            .groups
            .is_empty()
    );
    assert_refused(
        store.delete_group(other, &gname("ops")).await,
        StoreError::NotFound(Entity::Group),
    );
    store.create_group(&group(other, "Ops"), 1).await.unwrap();
}

/// Adding, listing both ways, removing, the conflicts memberships cause,
/// and a purged user's memberships going with it.
pub async fn memberships(store: &dyn Store) {
    let acct = account(store).await;
    for u in ["m1", "m2", "m3", "loner"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    for g in ["g0", "g1", "g2"] {
        store.create_group(&group(acct, g), 50).await.unwrap();
    }
    // Joining order differs from the groups' creation order.
    let joins = [
        ("g2", "m1", 1),
        ("g0", "M1", 2),
        ("g0", "m2", 3),
        ("G0", "m3", 4),
    ];
    for (g, u, t) in joins {
        store
            .add_user_to_group(acct, &gname(g), &uname(u), 5, at(t))
            .await
            .unwrap();
    }
    assert_refused(
        store
            .add_user_to_group(acct, &gname("g0"), &uname("M1"), 5, T)
            .await,
        StoreError::AlreadyExists(Entity::Membership),
    );
    assert_refused(
        store
            .add_user_to_group(acct, &gname("g2"), &uname("ghost"), 5, T)
            .await,
        StoreError::NotFound(Entity::User),
    );
    assert_refused(
        store
            .add_user_to_group(acct, &gname("none"), &uname("m1"), 5, T)
            .await,
        StoreError::NotFound(Entity::Group),
    );

    let m1 = store.groups_for_user(acct, &uname("M1")).await.unwrap();
    let want = [("g2", at(1)), ("g0", at(2))];
    assert_eq!(m1.len(), 2, "{m1:?}");
    for (m, (g, t)) in m1.iter().zip(want) {
        assert_eq!(
            Some(&m.group),
            store.group(acct, &gname(g)).await.unwrap().as_ref()
        );
        assert_eq!(m.joined_at, t);
    }
    assert!(
        store
            .groups_for_user(acct, &uname("loner"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_refused(
        store.groups_for_user(acct, &uname("ghost")).await,
        StoreError::NotFound(Entity::User),
    );

    // Members in joining order, in pages.
    let page = store
        .users_for_group(acct, &gname("G0"), None, 2)
        .await
        .unwrap();
    let names: Vec<&str> = page.members.iter().map(|m| m.user.name.as_str()).collect();
    assert_eq!(names, ["m1", "m2"]);
    assert_eq!(
        page.members[0].user,
        store
            .user_by_name(acct, &uname("m1"))
            .await
            .unwrap()
            .unwrap()
    );
    assert_eq!(
        (page.members[0].joined_at, page.members[1].joined_at),
        (at(2), at(3))
    );
    let rest = store
        .users_for_group(acct, &gname("g0"), page.next, 2)
        .await
        .unwrap();
    let names: Vec<&str> = rest.members.iter().map(|m| m.user.name.as_str()).collect();
    assert_eq!(names, ["m3"]);
    assert!(rest.next.is_none());
    let whole = store
        .users_for_group(acct, &gname("g0"), None, 3)
        .await
        .unwrap();
    assert_eq!(whole.members.len(), 3);
    assert!(whole.next.is_none());
    let none = store
        .users_for_group(acct, &gname("g1"), None, 10)
        .await
        .unwrap();
    assert!(none.members.is_empty() && none.next.is_none());
    assert_refused(
        store.users_for_group(acct, &gname("nope"), None, 10).await,
        StoreError::NotFound(Entity::Group),
    );

    // A group with members cannot go; a user in a group cannot either.
    assert_refused(
        store.delete_group(acct, &gname("g0")).await,
        conflict(Entity::Group, Entity::User),
    );
    assert_refused(
        store.delete_user(acct, &uname("m2")).await,
        conflict(Entity::User, Entity::Group),
    );

    store
        .remove_user_from_group(acct, &gname("g0"), &uname("M2"))
        .await
        .unwrap();
    assert_refused(
        store
            .remove_user_from_group(acct, &gname("g0"), &uname("m2"))
            .await,
        StoreError::NotFound(Entity::Membership),
    );
    assert_refused(
        store
            .remove_user_from_group(acct, &gname("g1"), &uname("m1"))
            .await,
        StoreError::NotFound(Entity::Membership),
    );
    assert_refused(
        store
            .remove_user_from_group(acct, &gname("g0"), &uname("ghost"))
            .await,
        StoreError::NotFound(Entity::User),
    );
    assert_refused(
        store
            .remove_user_from_group(acct, &gname("nope"), &uname("m1"))
            .await,
        StoreError::NotFound(Entity::Group),
    );
    let names: Vec<String> = store
        .users_for_group(acct, &gname("g0"), None, 10)
        .await
        .unwrap()
        .members
        .into_iter()
        .map(|m| m.user.name.into_string())
        .collect();
    assert_eq!(names, ["m1", "m3"]);
    store.delete_user(acct, &uname("m2")).await.unwrap();

    // Purging a user (CertCentral's delete) takes its memberships with it.
    let m1 = store
        .user_by_name(acct, &uname("m1"))
        .await
        .unwrap()
        .unwrap();
    store.purge_user(acct, m1.id).await.unwrap();
    let names: Vec<String> = store
        .users_for_group(acct, &gname("g0"), None, 10)
        .await
        .unwrap()
        .members
        .into_iter()
        .map(|m| m.user.name.into_string())
        .collect();
    assert_eq!(names, ["m3"]);
    assert!(
        store
            .users_for_group(acct, &gname("g2"), None, 10)
            .await
            .unwrap()
            .members
            .is_empty()
    );
    assert_refused(
        store.groups_for_user(acct, &uname("m1")).await,
        StoreError::NotFound(Entity::User),
    );
    // A user of the same name starts with no groups.
    store.create_user(&user(acct, "m1"), 100).await.unwrap();
    assert!(
        store
            .groups_for_user(acct, &uname("m1"))
            .await
            .unwrap()
            .is_empty()
    );
    // Emptied groups can go.
    store.delete_group(acct, &gname("g2")).await.unwrap();
    store
        .remove_user_from_group(acct, &gname("g0"), &uname("m3"))
        .await
        .unwrap();
    store.delete_group(acct, &gname("g0")).await.unwrap();
    // Another account's names do not reach here.
    let other = account(store).await;
    assert_refused(
        store
            .add_user_to_group(other, &gname("g1"), &uname("m3"), 5, T)
            .await,
        StoreError::NotFound(Entity::User),
    );
}

/// The vendor's limit of 5 groups per user counts the user's groups only.
pub async fn membership_limit_is_per_user(store: &dyn Store) {
    let acct = account(store).await;
    for u in ["lim", "other"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    for i in 0..6 {
        store
            .create_group(&group(acct, &format!("l{i}")), 50)
            .await
            .unwrap();
    }
    for i in 0..5 {
        store
            .add_user_to_group(acct, &gname(&format!("l{i}")), &uname("lim"), 5, T)
            .await
            .unwrap();
    }
    assert_refused(
        store
            .add_user_to_group(acct, &gname("l5"), &uname("lim"), 5, T)
            .await,
        StoreError::LimitExceeded(Entity::Membership),
    );
    assert_refused(
        store
            .add_user_to_group(acct, &gname("l0"), &uname("lim"), 5, T)
            .await,
        StoreError::AlreadyExists(Entity::Membership),
    );
    // Groups have no such limit, and other users have their own count.
    for i in 1..6 {
        store
            .add_user_to_group(acct, &gname(&format!("l{i}")), &uname("other"), 5, T)
            .await
            .unwrap();
    }
    // Leaving a group makes room.
    store
        .remove_user_from_group(acct, &gname("l2"), &uname("lim"))
        .await
        .unwrap();
    store
        .add_user_to_group(acct, &gname("l5"), &uname("lim"), 5, at(1))
        .await
        .unwrap();
    let joined: Vec<String> = store
        .groups_for_user(acct, &uname("lim"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.group.name.into_string())
        .collect();
    assert_eq!(joined, ["l0", "l1", "l3", "l4", "l5"]);
}

/// Custom policies: creation with `v1` as default, names, the per-account
/// limit, descriptions, versions and their numbering.
pub async fn policies_and_versions(store: &dyn Store) {
    let acct = account(store).await;
    let mut first = new_policy(acct, "P-one", DOC);
    first.description = Some(Description::parse("first").unwrap());
    let p = store.create_policy(&first, 2).await.unwrap();
    let want = ManagedPolicy {
        name: pname("P-one"),
        kind: PolicyType::Custom,
        description: Some(Description::parse("first").unwrap()),
        default_version: "v1".into(),
        attachment_count: 0,
        created_at: T,
        updated_at: T,
    };
    assert_eq!(p, want);
    assert_eq!(
        store.custom_policy(acct, &pname("P-one")).await.unwrap(),
        Some(want)
    );
    assert_eq!(
        store.custom_policy(acct, &pname("p-one")).await.unwrap(),
        None,
        "names compare exactly"
    );
    let versions = store.policy_versions(acct, &pname("P-one")).await.unwrap();
    assert_eq!(
        versions,
        [PolicyVersion {
            id: "v1".into(),
            is_default: true,
            document: DOC.into(),
            created_at: T,
        }]
    );
    assert_refused(
        store
            .create_policy(&new_policy(acct, "P-one", DOC), 2)
            .await,
        StoreError::AlreadyExists(Entity::Policy),
    );
    store
        .create_policy(&new_policy(acct, "p-one", DOC), 2)
        .await
        .unwrap();
    assert_refused(
        store
            .create_policy(&new_policy(acct, "P-three", DOC), 2)
            .await,
        StoreError::LimitExceeded(Entity::Policy),
    );
    assert_refused(
        store
            .create_policy(&new_policy(acct, "p-one", DOC), 2)
            .await,
        StoreError::AlreadyExists(Entity::Policy),
    );

    // Descriptions.
    let later = at(5);
    let d = Description::parse("reads").unwrap();
    let p = store
        .update_policy_description(acct, &pname("P-one"), Some(&d), later)
        .await
        .unwrap();
    assert_eq!(
        (p.description.as_ref(), p.created_at, p.updated_at),
        (Some(&d), T, later)
    );
    assert_eq!(
        store.custom_policy(acct, &pname("P-one")).await.unwrap(),
        Some(p)
    );
    let p = store
        .update_policy_description(acct, &pname("P-one"), None, later)
        .await
        .unwrap();
    assert_eq!(p.description, None);
    assert_refused(
        store
            .update_policy_description(acct, &pname("Ghost"), Some(&d), later)
            .await,
        StoreError::NotFound(Entity::Policy),
    );

    // Versions, with and without becoming the default.
    let v2 = store
        .create_policy_version(
            acct,
            &pname("P-one"),
            &doc(2),
            false,
            RotateStrategy::None,
            5,
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(
        v2,
        PolicyVersion {
            id: "v2".into(),
            is_default: false,
            document: doc(2),
            created_at: at(6),
        }
    );
    assert_eq!(default_version(store, acct, "P-one").await, "v1");
    let v3 = store
        .create_policy_version(
            acct,
            &pname("P-one"),
            &doc(3),
            true,
            RotateStrategy::None,
            5,
            at(7),
        )
        .await
        .unwrap();
    assert_eq!((v3.id.as_str(), v3.is_default), ("v3", true));
    assert_eq!(default_version(store, acct, "P-one").await, "v3");
    let listed = store.policy_versions(acct, &pname("P-one")).await.unwrap();
    let summary: Vec<(&str, bool, &str)> = listed
        .iter()
        .map(|v| (v.id.as_str(), v.is_default, v.document.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("v1", false, DOC),
            ("v2", false, doc(2).as_str()),
            ("v3", true, doc(3).as_str())
        ]
    );
    assert_refused(
        store
            .create_policy_version(
                acct,
                &pname("Ghost"),
                DOC,
                false,
                RotateStrategy::None,
                5,
                T,
            )
            .await,
        StoreError::NotFound(Entity::Policy),
    );

    // The default moves; only existing versions can be it.
    store
        .set_default_policy_version(acct, &pname("P-one"), "v1", at(8))
        .await
        .unwrap();
    assert_eq!(default_version(store, acct, "P-one").await, "v1");
    let flags: Vec<bool> = store
        .policy_versions(acct, &pname("P-one"))
        .await
        .unwrap()
        .iter()
        .map(|v| v.is_default)
        .collect();
    assert_eq!(flags, [true, false, false]);
    for bad in ["v9", "V1", "v01", "1", "x", ""] {
        assert_refused(
            store
                .set_default_policy_version(acct, &pname("P-one"), bad, at(8))
                .await,
            StoreError::NotFound(Entity::PolicyVersion),
        );
    }
    assert_refused(
        store
            .set_default_policy_version(acct, &pname("Ghost"), "v1", at(8))
            .await,
        StoreError::NotFound(Entity::Policy),
    );

    // The default cannot be deleted; others can, once.
    assert_refused(
        store
            .delete_policy_version(acct, &pname("P-one"), "v1")
            .await,
        conflict(Entity::PolicyVersion, Entity::Policy),
    );
    store
        .delete_policy_version(acct, &pname("P-one"), "v3")
        .await
        .unwrap();
    for bad in ["v3", "v99", "bogus"] {
        assert_refused(
            store
                .delete_policy_version(acct, &pname("P-one"), bad)
                .await,
            StoreError::NotFound(Entity::PolicyVersion),
        );
    }
    assert_refused(
        store
            .delete_policy_version(acct, &pname("Ghost"), "v2")
            .await,
        StoreError::NotFound(Entity::Policy),
    );
    assert_eq!(version_ids(store, acct, "P-one").await, ["v1", "v2"]);
    // Numbers are never reused, not even the highest after it went.
    let v4 = store
        .create_policy_version(
            acct,
            &pname("P-one"),
            DOC,
            false,
            RotateStrategy::None,
            5,
            at(9),
        )
        .await
        .unwrap();
    assert_eq!(v4.id, "v4");
    store
        .delete_policy_version(acct, &pname("P-one"), "v4")
        .await
        .unwrap();
    let v5 = store
        .create_policy_version(
            acct,
            &pname("P-one"),
            DOC,
            false,
            RotateStrategy::None,
            5,
            at(9),
        )
        .await
        .unwrap();
    assert_eq!(v5.id, "v5");
    assert_eq!(version_ids(store, acct, "P-one").await, ["v1", "v2", "v5"]);
    assert_refused(
        store.policy_versions(acct, &pname("Ghost")).await,
        StoreError::NotFound(Entity::Policy),
    );

    // By name (exact, byte order).
    let names: Vec<String> = store
        .custom_policies(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name.into_string())
        .collect();
    assert_eq!(names, ["P-one", "p-one"]);
    let other = account(store).await;
    assert!(store.custom_policies(other).await.unwrap().is_empty());
    assert_eq!(
        store.custom_policy(other, &pname("P-one")).await.unwrap(),
        None
    );
}

/// The vendor's 5 versions per policy, and rotation.
pub async fn policy_version_limit_and_rotation(store: &dyn Store) {
    let acct = account(store).await;
    let name = pname("Rot");
    store
        .create_policy(&new_policy(acct, "Rot", &doc(1)), 10)
        .await
        .unwrap();
    for n in 2..=5 {
        let v = store
            .create_policy_version(acct, &name, &doc(n), false, RotateStrategy::None, 5, T)
            .await
            .unwrap();
        assert_eq!(v.id, format!("v{n}"));
    }
    assert_refused(
        store
            .create_policy_version(acct, &name, &doc(6), false, RotateStrategy::None, 5, T)
            .await,
        StoreError::LimitExceeded(Entity::PolicyVersion),
    );
    assert_eq!(
        version_ids(store, acct, "Rot").await,
        ["v1", "v2", "v3", "v4", "v5"],
        "a refused version changes nothing"
    );
    // Rotation deletes the oldest version that is not the default.
    let rotate = RotateStrategy::DeleteOldestNonDefaultVersionWhenLimitExceeded;
    let v6 = store
        .create_policy_version(acct, &name, &doc(6), false, rotate, 5, T)
        .await
        .unwrap();
    assert_eq!((v6.id.as_str(), v6.is_default), ("v6", false));
    assert_eq!(
        version_ids(store, acct, "Rot").await,
        ["v1", "v3", "v4", "v5", "v6"],
        "v1 is the default; v2 was the oldest of the others"
    );
    store
        .set_default_policy_version(acct, &name, "v3", T)
        .await
        .unwrap();
    let v7 = store
        .create_policy_version(acct, &name, &doc(7), true, rotate, 5, T)
        .await
        .unwrap();
    assert_eq!((v7.id.as_str(), v7.is_default), ("v7", true));
    assert_eq!(
        version_ids(store, acct, "Rot").await,
        ["v3", "v4", "v5", "v6", "v7"]
    );
    assert_eq!(default_version(store, acct, "Rot").await, "v7");
    // Below the limit, rotation deletes nothing.
    store
        .delete_policy_version(acct, &name, "v4")
        .await
        .unwrap();
    let v8 = store
        .create_policy_version(acct, &name, &doc(8), false, rotate, 5, T)
        .await
        .unwrap();
    assert_eq!(v8.id, "v8");
    assert_eq!(
        version_ids(store, acct, "Rot").await,
        ["v3", "v5", "v6", "v7", "v8"]
    );
    // Nothing to rotate out when the default is all there is.
    store
        .create_policy(&new_policy(acct, "Solo", DOC), 10)
        .await
        .unwrap();
    assert_refused(
        store
            .create_policy_version(acct, &pname("Solo"), DOC, false, rotate, 1, T)
            .await,
        StoreError::LimitExceeded(Entity::PolicyVersion),
    );
    assert_eq!(version_ids(store, acct, "Solo").await, ["v1"]);
}

/// DeletePolicy: its conflicts in the documented order, and the cascade.
pub async fn delete_policy_conflicts_and_cascade(store: &dyn Store) {
    let acct = account(store).await;
    store.create_user(&user(acct, "du"), 100).await.unwrap();
    store.create_group(&group(acct, "dg"), 50).await.unwrap();
    let (to_user, to_group) = (
        AttachTarget::User(uname("du")),
        AttachTarget::Group(gname("dg")),
    );
    let del = pname("Del");
    for cascade in [false, true] {
        assert_refused(
            store.delete_policy(acct, &del, cascade).await,
            StoreError::NotFound(Entity::Policy),
        );
    }
    store
        .create_policy(&new_policy(acct, "Del", DOC), 10)
        .await
        .unwrap();
    store
        .attach_policy(acct, PolicyType::Custom, &del, &to_group, 10, T)
        .await
        .unwrap();
    assert_refused(
        store.delete_policy(acct, &del, false).await,
        conflict(Entity::Policy, Entity::Group),
    );
    store
        .attach_policy(acct, PolicyType::Custom, &del, &to_user, 10, T)
        .await
        .unwrap();
    assert_refused(
        store.delete_policy(acct, &del, false).await,
        conflict(Entity::Policy, Entity::User),
    );
    for t in [&to_user, &to_group] {
        store
            .detach_policy(acct, PolicyType::Custom, &del, t)
            .await
            .unwrap();
    }
    store
        .create_policy_version(acct, &del, DOC, false, RotateStrategy::None, 5, T)
        .await
        .unwrap();
    assert_refused(
        store.delete_policy(acct, &del, false).await,
        conflict(Entity::Policy, Entity::PolicyVersion),
    );
    // With only its default version left, it goes without cascading.
    store
        .set_default_policy_version(acct, &del, "v2", T)
        .await
        .unwrap();
    store.delete_policy_version(acct, &del, "v1").await.unwrap();
    store.delete_policy(acct, &del, false).await.unwrap();
    assert_eq!(store.custom_policy(acct, &del).await.unwrap(), None);

    // Cascading: attachments and versions go with it, nothing else does.
    store
        .create_policy(&new_policy(acct, "Del", DOC), 10)
        .await
        .unwrap();
    assert_eq!(
        version_ids(store, acct, "Del").await,
        ["v1"],
        "a new policy of the same name starts again"
    );
    store
        .create_policy(&new_policy(acct, "Keep", DOC), 10)
        .await
        .unwrap();
    store
        .create_policy_version(acct, &del, DOC, false, RotateStrategy::None, 5, T)
        .await
        .unwrap();
    for t in [&to_user, &to_group] {
        store
            .attach_policy(acct, PolicyType::Custom, &del, t, 10, T)
            .await
            .unwrap();
        store
            .attach_policy(acct, PolicyType::System, &pname("ReadOnlyAccess"), t, 10, T)
            .await
            .unwrap();
    }
    store
        .attach_policy(acct, PolicyType::Custom, &pname("Keep"), &to_user, 10, T)
        .await
        .unwrap();
    store.delete_policy(acct, &del, true).await.unwrap();
    assert_eq!(store.custom_policy(acct, &del).await.unwrap(), None);
    assert_refused(
        store.policy_versions(acct, &del).await,
        StoreError::NotFound(Entity::Policy),
    );
    assert_eq!(
        attached_to(store, acct, &to_user).await,
        [system("ReadOnlyAccess"), custom("Keep")]
    );
    assert_eq!(
        attached_to(store, acct, &to_group).await,
        [system("ReadOnlyAccess")]
    );
    assert_eq!(
        store
            .entities_for_policy(acct, PolicyType::Custom, &del)
            .await
            .unwrap(),
        PolicyEntities::default()
    );
    // Nothing stale comes back with a policy of the same name.
    let again = store
        .create_policy(&new_policy(acct, "Del", DOC), 10)
        .await
        .unwrap();
    assert_eq!(again.attachment_count, 0);
    assert_eq!(
        store
            .custom_policy(acct, &del)
            .await
            .unwrap()
            .map(|p| p.attachment_count),
        Some(0)
    );
    // The group is free to go once its system policy is detached.
    store
        .detach_policy(
            acct,
            PolicyType::System,
            &pname("ReadOnlyAccess"),
            &to_group,
        )
        .await
        .unwrap();
    store.delete_group(acct, &gname("dg")).await.unwrap();
}

/// Attaching and detaching system and custom policies to users and groups,
/// and every way to list them.
pub async fn attachments_round_trip(store: &dyn Store) {
    let acct = account(store).await;
    for u in ["au", "bu"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    for g in ["ag", "bg"] {
        store.create_group(&group(acct, g), 50).await.unwrap();
    }
    for p in ["Mine", "Yours"] {
        store
            .create_policy(&new_policy(acct, p, DOC), 100)
            .await
            .unwrap();
    }
    let (au, ag, bg) = (
        AttachTarget::User(uname("au")),
        AttachTarget::Group(gname("ag")),
        AttachTarget::Group(gname("bg")),
    );
    let (mine, yours, ro) = (pname("Mine"), pname("Yours"), pname("ReadOnlyAccess"));
    let steps = [
        (PolicyType::Custom, &mine, &au, 1),
        (PolicyType::System, &ro, &au, 2),
        (PolicyType::Custom, &yours, &au, 3),
        (PolicyType::System, &ro, &ag, 4),
        (PolicyType::Custom, &mine, &ag, 5),
        (PolicyType::Custom, &mine, &bg, 6),
    ];
    for (kind, name, target, t) in steps {
        store
            .attach_policy(acct, kind, name, target, 10, at(t))
            .await
            .unwrap();
    }
    // In attachment order, with the time of each.
    assert_eq!(
        store.policies_for(acct, &au).await.unwrap(),
        [
            Attachment {
                kind: PolicyType::Custom,
                name: mine.clone(),
                attached_at: at(1)
            },
            Attachment {
                kind: PolicyType::System,
                name: ro.clone(),
                attached_at: at(2)
            },
            Attachment {
                kind: PolicyType::Custom,
                name: yours.clone(),
                attached_at: at(3)
            },
        ]
    );
    assert_eq!(
        attached_to(store, acct, &AttachTarget::Group(gname("AG"))).await,
        [system("ReadOnlyAccess"), custom("Mine")]
    );
    assert!(
        attached_to(store, acct, &AttachTarget::User(uname("bu")))
            .await
            .is_empty()
    );
    assert_refused(
        store
            .policies_for(acct, &AttachTarget::User(uname("ghost")))
            .await,
        StoreError::NotFound(Entity::User),
    );
    assert_refused(
        store
            .policies_for(acct, &AttachTarget::Group(gname("ghost")))
            .await,
        StoreError::NotFound(Entity::Group),
    );

    // Duplicates, whatever the spelling of the target.
    for (kind, name, target) in [
        (PolicyType::Custom, &mine, AttachTarget::User(uname("AU"))),
        (PolicyType::System, &ro, AttachTarget::User(uname("au"))),
        (PolicyType::Custom, &mine, AttachTarget::Group(gname("Ag"))),
    ] {
        assert_refused(
            store.attach_policy(acct, kind, name, &target, 10, T).await,
            StoreError::AlreadyExists(Entity::Attachment),
        );
    }
    // What does not exist.
    assert_refused(
        store
            .attach_policy(acct, PolicyType::Custom, &pname("mine"), &au, 10, T)
            .await,
        StoreError::NotFound(Entity::Policy),
    );
    assert_refused(
        store
            .attach_policy(
                acct,
                PolicyType::Custom,
                &mine,
                &AttachTarget::User(uname("ghost")),
                10,
                T,
            )
            .await,
        StoreError::NotFound(Entity::User),
    );
    assert_refused(
        store
            .attach_policy(
                acct,
                PolicyType::System,
                &ro,
                &AttachTarget::Group(gname("ghost")),
                10,
                T,
            )
            .await,
        StoreError::NotFound(Entity::Group),
    );
    assert_refused(
        store
            .detach_policy(
                acct,
                PolicyType::Custom,
                &mine,
                &AttachTarget::User(uname("ghost")),
            )
            .await,
        StoreError::NotFound(Entity::User),
    );
    assert_refused(
        store
            .detach_policy(
                acct,
                PolicyType::Custom,
                &mine,
                &AttachTarget::Group(gname("ghost")),
            )
            .await,
        StoreError::NotFound(Entity::Group),
    );
    for (kind, name, target) in [
        (PolicyType::Custom, &yours, &ag),
        (PolicyType::System, &mine, &au),
        (PolicyType::Custom, &ro, &au),
        (PolicyType::Custom, &pname("Nope"), &au),
    ] {
        assert_refused(
            store.detach_policy(acct, kind, name, target).await,
            StoreError::NotFound(Entity::Attachment),
        );
    }

    // Counts: users and groups for custom policies, by name for system
    // ones (attached nowhere: left out).
    let count = |p: Option<ManagedPolicy>| p.map(|p| p.attachment_count);
    assert_eq!(
        count(store.custom_policy(acct, &mine).await.unwrap()),
        Some(3)
    );
    assert_eq!(
        count(store.custom_policy(acct, &yours).await.unwrap()),
        Some(1)
    );
    let all: Vec<(String, u64)> = store
        .custom_policies(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.name.into_string(), p.attachment_count))
        .collect();
    assert_eq!(all, [("Mine".to_owned(), 3), ("Yours".to_owned(), 1)]);
    store
        .attach_policy(
            acct,
            PolicyType::System,
            &pname("AdministratorAccess"),
            &AttachTarget::User(uname("bu")),
            10,
            at(7),
        )
        .await
        .unwrap();
    let mut counts = store.system_attachment_counts(acct).await.unwrap();
    counts.sort();
    assert_eq!(counts, [(pname("AdministratorAccess"), 1), (ro.clone(), 2)]);

    // Who a policy is attached to, with when.
    let user_au = store
        .user_by_name(acct, &uname("au"))
        .await
        .unwrap()
        .unwrap();
    let group_ag = store.group(acct, &gname("ag")).await.unwrap().unwrap();
    let group_bg = store.group(acct, &gname("bg")).await.unwrap().unwrap();
    assert_eq!(
        store
            .entities_for_policy(acct, PolicyType::Custom, &mine)
            .await
            .unwrap(),
        PolicyEntities {
            users: vec![(user_au.clone(), at(1))],
            groups: vec![(group_ag.clone(), at(5)), (group_bg, at(6))],
        }
    );
    assert_eq!(
        store
            .entities_for_policy(acct, PolicyType::System, &ro)
            .await
            .unwrap(),
        PolicyEntities {
            users: vec![(user_au, at(2))],
            groups: vec![(group_ag, at(4))],
        }
    );
    for (kind, name) in [
        (PolicyType::System, &mine),
        (PolicyType::Custom, &ro),
        (PolicyType::Custom, &pname("Nope")),
    ] {
        assert_eq!(
            store.entities_for_policy(acct, kind, name).await.unwrap(),
            PolicyEntities::default(),
            "{kind:?} {name}"
        );
    }
    // Another account sees none of it.
    let other = account(store).await;
    assert!(
        store
            .system_attachment_counts(other)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .entities_for_policy(other, PolicyType::System, &ro)
            .await
            .unwrap(),
        PolicyEntities::default()
    );

    // Detaching.
    store
        .detach_policy(
            acct,
            PolicyType::Custom,
            &mine,
            &AttachTarget::User(uname("AU")),
        )
        .await
        .unwrap();
    assert_refused(
        store
            .detach_policy(acct, PolicyType::Custom, &mine, &au)
            .await,
        StoreError::NotFound(Entity::Attachment),
    );
    assert_eq!(
        attached_to(store, acct, &au).await,
        [system("ReadOnlyAccess"), custom("Yours")]
    );
    assert_eq!(
        count(store.custom_policy(acct, &mine).await.unwrap()),
        Some(2)
    );

    // A renamed group keeps its policies.
    store
        .update_group(
            acct,
            &gname("ag"),
            &GroupPatch {
                name: Some(gname("ag-renamed")),
                comments: None,
            },
            at(8),
        )
        .await
        .unwrap();
    let renamed = AttachTarget::Group(gname("AG-renamed"));
    assert_eq!(
        attached_to(store, acct, &renamed).await,
        [system("ReadOnlyAccess"), custom("Mine")]
    );
    let ents = store
        .entities_for_policy(acct, PolicyType::Custom, &mine)
        .await
        .unwrap();
    assert_eq!(ents.groups[0].0.name.as_str(), "ag-renamed");

    // Attached policies keep a group and a user from being deleted.
    assert_refused(
        store.delete_group(acct, &gname("bg")).await,
        conflict(Entity::Group, Entity::Policy),
    );
    store
        .detach_policy(acct, PolicyType::Custom, &mine, &bg)
        .await
        .unwrap();
    store.delete_group(acct, &gname("bg")).await.unwrap();
    assert_refused(
        store.delete_user(acct, &uname("au")).await,
        conflict(Entity::User, Entity::Policy),
    );
    // Purging a user (CertCentral) takes its attachments with it.
    let bu = store
        .user_by_name(acct, &uname("bu"))
        .await
        .unwrap()
        .unwrap();
    store.purge_user(acct, bu.id).await.unwrap();
    let mut counts = store.system_attachment_counts(acct).await.unwrap();
    counts.sort();
    assert_eq!(counts, [(ro, 2)]);
}

/// Per target and per policy type: the vendor's limits (20 system and 10
/// custom per user, 20 and 5 per group) are each their own count.
pub async fn attachment_limits_are_per_target_and_type(store: &dyn Store) {
    let acct = account(store).await;
    for u in ["lu", "lv"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    store.create_group(&group(acct, "lg"), 50).await.unwrap();
    for p in ["C0", "C1", "C2"] {
        store
            .create_policy(&new_policy(acct, p, DOC), 100)
            .await
            .unwrap();
    }
    let systems = [
        "ReadOnlyAccess",
        "AdministratorAccess",
        "AliyunRAMFullAccess",
    ];
    for target in [
        AttachTarget::User(uname("lu")),
        AttachTarget::Group(gname("lg")),
    ] {
        for (kind, names) in [
            (PolicyType::System, systems),
            (PolicyType::Custom, ["C0", "C1", "C2"]),
        ] {
            for n in &names[..2] {
                store
                    .attach_policy(acct, kind, &pname(n), &target, 2, T)
                    .await
                    .unwrap();
            }
            assert_refused(
                store
                    .attach_policy(acct, kind, &pname(names[2]), &target, 2, T)
                    .await,
                StoreError::LimitExceeded(Entity::Attachment),
            );
            // Attached already wins over full.
            assert_refused(
                store
                    .attach_policy(acct, kind, &pname(names[0]), &target, 2, T)
                    .await,
                StoreError::AlreadyExists(Entity::Attachment),
            );
        }
        assert_eq!(attached_to(store, acct, &target).await.len(), 4);
    }
    // Another user has its own count.
    let lv = AttachTarget::User(uname("lv"));
    store
        .attach_policy(acct, PolicyType::Custom, &pname("C2"), &lv, 1, T)
        .await
        .unwrap();
    // Detaching makes room.
    let lu = AttachTarget::User(uname("lu"));
    store
        .detach_policy(acct, PolicyType::System, &pname(systems[0]), &lu)
        .await
        .unwrap();
    store
        .attach_policy(acct, PolicyType::System, &pname(systems[2]), &lu, 2, T)
        .await
        .unwrap();
    assert_eq!(
        attached_to(store, acct, &lu).await,
        [
            system("AdministratorAccess"),
            custom("C0"),
            custom("C1"),
            system("AliyunRAMFullAccess")
        ]
    );
}

fn by_kind_and_name(mut eff: Vec<EffectivePolicy>) -> Vec<(PolicyType, String, Option<String>)> {
    eff.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    eff.into_iter()
        .map(|e| (e.kind, e.name.into_string(), e.document))
        .collect()
}

/// What applies to a user: its own policies and its groups', each once,
/// custom ones with their default version's document.
pub async fn effective_policies_through_groups(store: &dyn Store) {
    let acct = account(store).await;
    for u in ["eu", "ev"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    for g in ["e1", "e2"] {
        store.create_group(&group(acct, g), 50).await.unwrap();
    }
    for (p, n) in [("Direct", 1), ("Shared", 2), ("OnlyGroup", 3)] {
        store
            .create_policy(&new_policy(acct, p, &doc(n)), 100)
            .await
            .unwrap();
    }
    let eu = store
        .user_by_name(acct, &uname("eu"))
        .await
        .unwrap()
        .unwrap();
    let ev = store
        .user_by_name(acct, &uname("ev"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .effective_policies(acct, eu.id)
            .await
            .unwrap()
            .is_empty()
    );

    let attach = |kind, name: &'static str, target: AttachTarget| async move {
        store
            .attach_policy(acct, kind, &pname(name), &target, 20, T)
            .await
            .unwrap();
    };
    let to_eu = || AttachTarget::User(uname("eu"));
    let to = |g: &str| AttachTarget::Group(gname(g));
    attach(PolicyType::Custom, "Direct", to_eu()).await;
    attach(PolicyType::System, "ReadOnlyAccess", to_eu()).await;
    attach(PolicyType::Custom, "Shared", to("e1")).await;
    attach(PolicyType::Custom, "Shared", to("e2")).await;
    attach(PolicyType::System, "ReadOnlyAccess", to("e1")).await;
    attach(PolicyType::System, "AdministratorAccess", to("e2")).await;
    attach(PolicyType::Custom, "OnlyGroup", to("e2")).await;
    // Before joining, only its own.
    assert_eq!(
        by_kind_and_name(store.effective_policies(acct, eu.id).await.unwrap()),
        [
            (PolicyType::System, "ReadOnlyAccess".into(), None),
            (PolicyType::Custom, "Direct".into(), Some(doc(1))),
        ]
    );
    for g in ["e1", "e2"] {
        store
            .add_user_to_group(acct, &gname(g), &uname("eu"), 5, T)
            .await
            .unwrap();
    }
    assert_eq!(
        by_kind_and_name(store.effective_policies(acct, eu.id).await.unwrap()),
        [
            (PolicyType::System, "AdministratorAccess".into(), None),
            (PolicyType::System, "ReadOnlyAccess".into(), None),
            (PolicyType::Custom, "Direct".into(), Some(doc(1))),
            (PolicyType::Custom, "OnlyGroup".into(), Some(doc(3))),
            (PolicyType::Custom, "Shared".into(), Some(doc(2))),
        ],
        "each policy once, however many ways it applies"
    );
    assert!(
        store
            .effective_policies(acct, ev.id)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .add_user_to_group(acct, &gname("e2"), &uname("ev"), 5, T)
        .await
        .unwrap();
    assert_eq!(
        by_kind_and_name(store.effective_policies(acct, ev.id).await.unwrap()),
        [
            (PolicyType::System, "AdministratorAccess".into(), None),
            (PolicyType::Custom, "OnlyGroup".into(), Some(doc(3))),
            (PolicyType::Custom, "Shared".into(), Some(doc(2))),
        ]
    );

    // Always the default version's document.
    let shared = pname("Shared");
    store
        .create_policy_version(acct, &shared, &doc(20), false, RotateStrategy::None, 5, T)
        .await
        .unwrap();
    let doc_of = |eff: Vec<EffectivePolicy>, name: &str| {
        eff.into_iter()
            .find(|e| e.name.as_str() == name)
            .and_then(|e| e.document)
    };
    assert_eq!(
        doc_of(
            store.effective_policies(acct, eu.id).await.unwrap(),
            "Shared"
        ),
        Some(doc(2))
    );
    store
        .set_default_policy_version(acct, &shared, "v2", T)
        .await
        .unwrap();
    assert_eq!(
        doc_of(
            store.effective_policies(acct, eu.id).await.unwrap(),
            "Shared"
        ),
        Some(doc(20))
    );
    store
        .create_policy_version(acct, &shared, &doc(30), true, RotateStrategy::None, 5, T)
        .await
        .unwrap();
    assert_eq!(
        doc_of(
            store.effective_policies(acct, ev.id).await.unwrap(),
            "Shared"
        ),
        Some(doc(30))
    );

    // Leaving a group, and a detached group policy.
    store
        .remove_user_from_group(acct, &gname("e2"), &uname("eu"))
        .await
        .unwrap();
    assert_eq!(
        by_kind_and_name(store.effective_policies(acct, eu.id).await.unwrap()),
        [
            (PolicyType::System, "ReadOnlyAccess".into(), None),
            (PolicyType::Custom, "Direct".into(), Some(doc(1))),
            (PolicyType::Custom, "Shared".into(), Some(doc(30))),
        ]
    );
    store
        .detach_policy(acct, PolicyType::Custom, &shared, &to("e1"))
        .await
        .unwrap();
    assert_eq!(
        by_kind_and_name(store.effective_policies(acct, eu.id).await.unwrap()),
        [
            (PolicyType::System, "ReadOnlyAccess".into(), None),
            (PolicyType::Custom, "Direct".into(), Some(doc(1))),
        ]
    );
    // Only the account's: another account, or an id nobody has, gets none.
    let other = account(store).await;
    assert!(
        store
            .effective_policies(other, eu.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .effective_policies(acct, UserId(2_999_999_999_999_999))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `policy_epoch` grows with every change that can change a decision, and
/// reads leave it alone.
pub async fn policy_epoch_moves_with_every_change(store: &dyn Store) {
    let acct = account(store).await;
    let last = std::cell::Cell::new(store.policy_epoch(acct).await.unwrap());
    let moved = |now: u64, what: &str| {
        assert!(now > last.get(), "{what}: epoch {now} after {}", last.get());
        last.set(now);
    };
    let epoch = || store.policy_epoch(acct);
    for u in ["ep", "gone", "purged"] {
        store.create_user(&user(acct, u), 100).await.unwrap();
    }
    store.create_group(&group(acct, "eg"), 50).await.unwrap();
    store
        .create_policy(&new_policy(acct, "Ep", DOC), 100)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "create policy (its v1)");
    store
        .add_user_to_group(acct, &gname("eg"), &uname("ep"), 5, T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "add member");
    let target = AttachTarget::User(uname("ep"));
    store
        .attach_policy(acct, PolicyType::Custom, &pname("Ep"), &target, 10, T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "attach to a user");
    let to_group = AttachTarget::Group(gname("eg"));
    store
        .attach_policy(
            acct,
            PolicyType::System,
            &pname("ReadOnlyAccess"),
            &to_group,
            10,
            T,
        )
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "attach to a group");
    store
        .create_policy_version(acct, &pname("Ep"), DOC, false, RotateStrategy::None, 5, T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "new version");
    store
        .set_default_policy_version(acct, &pname("Ep"), "v2", T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "set default");
    store
        .delete_policy_version(acct, &pname("Ep"), "v1")
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "delete version");

    // Reads change nothing.
    let ep = store
        .user_by_name(acct, &uname("ep"))
        .await
        .unwrap()
        .unwrap();
    let _ = store.effective_policies(acct, ep.id).await.unwrap();
    let _ = store.policies_for(acct, &target).await.unwrap();
    let _ = store.policies_for(acct, &to_group).await.unwrap();
    let _ = store.groups_for_user(acct, &uname("ep")).await.unwrap();
    let _ = store
        .users_for_group(acct, &gname("eg"), None, 10)
        .await
        .unwrap();
    let _ = store.list_groups(acct, None, 10).await.unwrap();
    let _ = store.custom_policies(acct).await.unwrap();
    let _ = store.policy_versions(acct, &pname("Ep")).await.unwrap();
    let _ = store.system_attachment_counts(acct).await.unwrap();
    let _ = store
        .entities_for_policy(acct, PolicyType::Custom, &pname("Ep"))
        .await
        .unwrap();
    assert_eq!(epoch().await.unwrap(), last.get(), "reads change nothing");

    store
        .detach_policy(acct, PolicyType::Custom, &pname("Ep"), &target)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "detach");
    store
        .remove_user_from_group(acct, &gname("eg"), &uname("ep"))
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "remove member");
    store
        .attach_policy(acct, PolicyType::Custom, &pname("Ep"), &target, 10, T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "attach again");
    store.delete_policy(acct, &pname("Ep"), true).await.unwrap();
    moved(epoch().await.unwrap(), "delete policy (cascading)");
    store
        .detach_policy(
            acct,
            PolicyType::System,
            &pname("ReadOnlyAccess"),
            &to_group,
        )
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "detach from a group");
    store.delete_group(acct, &gname("eg")).await.unwrap();
    moved(epoch().await.unwrap(), "delete group");
    let patch = UserPatch {
        profile: ProfilePatch {
            role: Some(AccessRole::Manager),
            ..ProfilePatch::default()
        },
        ..UserPatch::default()
    };
    store.update_user(acct, &ep.name, &patch, T).await.unwrap();
    moved(epoch().await.unwrap(), "role change");
    store.delete_user(acct, &uname("gone")).await.unwrap();
    moved(epoch().await.unwrap(), "delete user");
    // Purging a member of a group, with a policy of its own.
    store.create_group(&group(acct, "eh"), 50).await.unwrap();
    store
        .add_user_to_group(acct, &gname("eh"), &uname("purged"), 5, T)
        .await
        .unwrap();
    store
        .attach_policy(
            acct,
            PolicyType::System,
            &pname("ReadOnlyAccess"),
            &AttachTarget::User(uname("purged")),
            10,
            T,
        )
        .await
        .unwrap();
    let before = epoch().await.unwrap();
    last.set(before);
    let purged = store
        .user_by_name(acct, &uname("purged"))
        .await
        .unwrap()
        .unwrap();
    store.purge_user(acct, purged.id).await.unwrap();
    moved(epoch().await.unwrap(), "purge user");
}

/// `policy_epoch` also grows with every change to what nodes cache for the
/// account besides policies (credentials, API-key callers, containers),
/// and not with the usage flushes, which run every few seconds.
pub async fn policy_epoch_moves_with_what_nodes_cache(store: &dyn Store) {
    let acct = account(store).await;
    let epoch = || store.policy_epoch(acct);
    let last = std::cell::Cell::new(epoch().await.unwrap());
    let moved = |now: u64, what: &str| {
        assert!(now > last.get(), "{what}: epoch {now} after {}", last.get());
        last.set(now);
    };
    let still = |now: u64, what: &str| {
        assert_eq!(now, last.get(), "{what} leaves the epoch alone");
    };
    let u = user(acct, "cached");
    store.create_user(&u, 100).await.unwrap();
    let owner = KeyOwner::User(u.id);
    let k1 = key_for(acct, owner, &format!("LTAIep{}", unique()));
    let k2 = key_for(acct, KeyOwner::Root, &format!("LTAIep{}", unique()));
    store.create_access_key(&k1, 2).await.unwrap();
    store.create_access_key(&k2, 5).await.unwrap();
    let new_key = api_key(acct, u.id, "cached", KeyRole::Unrestricted);
    let api = store.create_api_key(&new_key).await.unwrap();
    last.set(epoch().await.unwrap());

    // Usage flushes, of both kinds of key.
    let later = T + time::Duration::minutes(1);
    store
        .record_key_usage(&[(k1.key.id.clone(), later), (k2.key.id.clone(), later)])
        .await
        .unwrap();
    still(epoch().await.unwrap(), "recording access key usage");
    store.record_api_key_usage(&[(api, later)]).await.unwrap();
    still(epoch().await.unwrap(), "recording API key usage");

    // Access keys.
    store
        .set_access_key_status(acct, owner, &k1.key.id, KeyStatus::Inactive)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "deactivate an access key");
    store
        .set_access_key_status(acct, owner, &k1.key.id, KeyStatus::Active)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "activate an access key");
    store
        .delete_access_key(acct, KeyOwner::Root, &k2.key.id)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "delete an access key");

    // API keys: status and restriction.
    store
        .set_api_key_status(acct, api, ApiKeyStatus::Revoked)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "revoke an API key");
    store
        .set_api_key_status(acct, api, ApiKeyStatus::Active)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "re-activate an API key");
    store
        .update_api_key(acct, api, "cached", KeyRole::ViewOnly)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "restrict an API key");

    // Containers.
    let root = root_of(store, acct).await;
    let child = store
        .create_container(&child_container(acct, root.id, "Cached"))
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "create a container");
    store
        .update_container(acct, child, "Cached 2", Some("renamed"))
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "update a container");

    // What a cached principal holds of its user: name and assignments.
    let renamed = UserPatch {
        name: Some(uname("cached-2")),
        ..UserPatch::default()
    };
    store.update_user(acct, &u.name, &renamed, T).await.unwrap();
    moved(epoch().await.unwrap(), "rename a user");
    let assigned = UserPatch {
        profile: ProfilePatch {
            container_assignments: Some(vec![child]),
            ..ProfilePatch::default()
        },
        ..UserPatch::default()
    };
    store
        .update_user(acct, &uname("cached-2"), &assigned, T)
        .await
        .unwrap();
    moved(epoch().await.unwrap(), "assign a user to containers");
    // An edit of what no cache holds.
    let email = UserPatch {
        email: Some(Some(Email::parse("cached@example.com").unwrap())),
        ..UserPatch::default()
    };
    store
        .update_user(acct, &uname("cached-2"), &email, T)
        .await
        .unwrap();
    still(epoch().await.unwrap(), "changing a user's e-mail");

    // Reads change nothing.
    let _ = store.access_key(&k1.key.id).await.unwrap();
    let _ = store.api_key_by_hash(&new_key.hash).await.unwrap();
    let _ = store.containers(acct).await.unwrap();
    let _ = store.user_by_id(acct, u.id).await.unwrap();
    still(epoch().await.unwrap(), "reading");

    // Another account's changes are not this one's.
    let other = account(store).await;
    let theirs = root_of(store, other).await;
    store
        .create_container(&child_container(other, theirs.id, "Theirs"))
        .await
        .unwrap();
    still(epoch().await.unwrap(), "another account's container");
}

/// 32 attaches of one policy to one user at once: exactly one succeeds.
pub async fn concurrent_attaches_of_one_policy(store: &dyn Store) {
    let acct = account(store).await;
    store.create_user(&user(acct, "race"), 100).await.unwrap();
    let target = AttachTarget::User(uname("race"));
    let name = pname("AdministratorAccess");
    let results = join_all(
        (0..32).map(|_| store.attach_policy(acct, PolicyType::System, &name, &target, 20, T)),
    )
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::AlreadyExists(Entity::Attachment)))),
        "{results:?}"
    );
    assert_eq!(
        attached_to(store, acct, &target).await,
        [system("AdministratorAccess")]
    );
}

/// 32 new versions of one policy at once with a limit of 5 and no
/// rotation: never more than 5 versions, and every number distinct.
pub async fn concurrent_policy_versions_respect_the_limit(store: &dyn Store) {
    let acct = account(store).await;
    let name = pname("Race");
    store
        .create_policy(&new_policy(acct, "Race", DOC), 10)
        .await
        .unwrap();
    let docs: Vec<String> = (0..32).map(doc).collect();
    let results =
        join_all(docs.iter().map(|d| {
            store.create_policy_version(acct, &name, d, false, RotateStrategy::None, 5, T)
        }))
        .await;
    let mut made: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|v| v.id.clone()))
        .collect();
    assert!(
        results.iter().all(
            |r| r.is_ok() || matches!(r, Err(StoreError::LimitExceeded(Entity::PolicyVersion)))
        ),
        "{results:?}"
    );
    made.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
    assert_eq!(made, ["v2", "v3", "v4", "v5"], "{results:?}");
    let versions = store.policy_versions(acct, &name).await.unwrap();
    assert_eq!(versions.len(), 5, "{versions:?}");
    // Each stored version holds the document of the call that made it.
    for (r, d) in results.iter().zip(&docs) {
        if let Ok(v) = r {
            let stored = versions.iter().find(|s| s.id == v.id).unwrap();
            assert_eq!(&stored.document, d);
        }
    }
}

/// 32 rotating new versions at once: all succeed, numbers are distinct,
/// and the policy ends with its default and the 4 newest.
pub async fn concurrent_rotations_keep_the_limit(store: &dyn Store) {
    let acct = account(store).await;
    let name = pname("Spin");
    store
        .create_policy(&new_policy(acct, "Spin", DOC), 10)
        .await
        .unwrap();
    let rotate = RotateStrategy::DeleteOldestNonDefaultVersionWhenLimitExceeded;
    let results = join_all(
        (0..32).map(|_| store.create_policy_version(acct, &name, DOC, false, rotate, 5, T)),
    )
    .await;
    let mut made: Vec<u32> = results
        .iter()
        .map(|r| r.as_ref().unwrap().id[1..].parse().unwrap())
        .collect();
    made.sort_unstable();
    assert_eq!(made, (2..=33).collect::<Vec<u32>>());
    assert_eq!(
        version_ids(store, acct, "Spin").await,
        ["v1", "v30", "v31", "v32", "v33"]
    );
    assert_eq!(default_version(store, acct, "Spin").await, "v1");
}

/// One user joining 12 groups at once with a limit of 5: exactly 5 joins.
pub async fn concurrent_memberships_respect_the_limit(store: &dyn Store) {
    let acct = account(store).await;
    store.create_user(&user(acct, "joiner"), 100).await.unwrap();
    let names: Vec<GroupName> = (0..12).map(|i| gname(&format!("j{i}"))).collect();
    for n in &names {
        store
            .create_group(&group(acct, n.as_str()), 50)
            .await
            .unwrap();
    }
    let who = uname("joiner");
    let results = join_all(
        names
            .iter()
            .map(|g| store.add_user_to_group(acct, g, &who, 5, T)),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        5,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::LimitExceeded(Entity::Membership)))),
        "{results:?}"
    );
    assert_eq!(store.groups_for_user(acct, &who).await.unwrap().len(), 5);
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

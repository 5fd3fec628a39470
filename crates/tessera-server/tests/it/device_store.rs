//! The device-grant store methods (migration 0010), called directly, on both backends: the
//! compare-and-sets of the user's answer and of redemption, polls, user-code uniqueness, the
//! wrong-code counters and the janitor's purge.

use crate::helpers::Fixture;
use std::time::Duration;
use tessera_core::device::DeviceStatus;
use tessera_core::{Family, Scope, Timestamp, TokenHash};
use tessera_server::config::RawConfig;
use tessera_server::store::{Backend, DeviceCodeRow, DeviceDecision, StoreError};

async fn device_store_methods(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let at = Timestamp::from_secs(1_800_000_000);
    let minute = Duration::from_secs(60);
    let row = |device: &str, user: &str| DeviceCodeRow {
        device_code_hash: TokenHash::of(device),
        user_code_hash: TokenHash::of(user),
        client_id: fixture.public.client_id.as_str().into(),
        scope: Scope::parse("read").unwrap(),
        created_at: at,
        expires_at: at.plus(10 * minute),
        interval: Duration::from_secs(5),
        last_poll_at: None,
        status: DeviceStatus::Pending,
        user_id: None,
        auth_time: None,
        sid: None,
        redeemed_at: None,
        family_id: None,
    };
    let first = row("device one", "USER0001");
    store.insert_device_code(&first).await.unwrap();
    assert_eq!(store.find_device_code(&first.device_code_hash).await.unwrap(), Some(first.clone()));
    assert_eq!(store.find_device_code_by_user_code(&first.user_code_hash).await.unwrap(), Some(first.clone()));
    assert_eq!(store.find_device_code(&TokenHash::of("no such device")).await.unwrap(), None);
    // A user code is unique (the service draws another on a conflict).
    let clash = store.insert_device_code(&row("device two", "USER0001")).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");

    // Polls: the time and the interval are remembered.
    store.record_device_poll(&first.device_code_hash, at.plus(minute), Duration::from_secs(10)).await.unwrap();
    let polled = store.find_device_code(&first.device_code_hash).await.unwrap().unwrap();
    assert_eq!((polled.last_poll_at, polled.interval), (Some(at.plus(minute)), Duration::from_secs(10)));

    // The user's answer: once, and only before expiry; nothing redeems a pending code.
    let family = |id: &str| Family {
        id: id.into(),
        client_id: fixture.public.client_id.as_str().into(),
        user_id: fixture.user_id.as_str().into(),
        scope: Scope::parse("read").unwrap(),
        created_at: at,
        expires_at: at.plus(60 * minute),
        revoked_at: None,
        jkt: None,
    };
    let now = at.plus(minute);
    assert!(!store.redeem_device_code(&first.device_code_hash, now, &family("f0"), None).await.unwrap());
    let approve = DeviceDecision {
        status: DeviceStatus::Approved,
        user_id: fixture.user_id.as_str().into(),
        auth_time: at,
        sid: "sid".into(),
    };
    store.insert_device_code(&row("device three", "USER0003")).await.unwrap();
    assert!(!store.decide_device_code(&TokenHash::of("USER0003"), at.plus(10 * minute), &approve).await.unwrap());
    assert!(store.decide_device_code(&first.user_code_hash, now, &approve).await.unwrap());
    let deny = DeviceDecision { status: DeviceStatus::Denied, ..approve.clone() };
    assert!(!store.decide_device_code(&first.user_code_hash, now, &deny).await.unwrap());
    let approved = store.find_device_code(&first.device_code_hash).await.unwrap().unwrap();
    assert_eq!(approved.status, DeviceStatus::Approved);
    assert_eq!(
        (approved.user_id.as_ref().map(|id| id.as_str()), approved.sid.as_deref()),
        (Some(fixture.user_id.as_str()), Some("sid"))
    );

    // Redemption: once, starting the family; a second call changes nothing.
    let token = TokenHash::of("first refresh token");
    assert!(
        store
            .redeem_device_code(&first.device_code_hash, now, &family("f1"), Some((&token, at.plus(minute * 30))))
            .await
            .unwrap()
    );
    assert!(!store.redeem_device_code(&first.device_code_hash, now, &family("f2"), None).await.unwrap());
    let redeemed = store.find_device_code(&first.device_code_hash).await.unwrap().unwrap();
    assert_eq!((redeemed.redeemed_at, redeemed.family_id.as_ref().map(|id| id.as_str())), (Some(now), Some("f1")));
    assert!(store.get_family(&"f1".into()).await.unwrap().is_some());
    assert!(store.get_family(&"f2".into()).await.unwrap().is_none());

    // Wrong-code counters: counted in the open window, restarted after it.
    let window = Duration::from_secs(15 * 60);
    for _ in 0..3 {
        store.record_device_code_failure("user:alice", now, now.minus(window)).await.unwrap();
    }
    assert_eq!(store.device_code_failures("user:alice", now.minus(window)).await.unwrap(), 3);
    assert_eq!(store.device_code_failures("addr:127.0.0.1", now.minus(window)).await.unwrap(), 0);
    let later = now.plus(window).plus(minute);
    assert_eq!(store.device_code_failures("user:alice", later.minus(window)).await.unwrap(), 0);
    store.record_device_code_failure("user:alice", later, later.minus(window)).await.unwrap();
    assert_eq!(store.device_code_failures("user:alice", later.minus(window)).await.unwrap(), 1);

    // The janitor drops device codes and counters a day after they end.
    let day_after = later.plus(Duration::from_secs(86_400 + 60));
    store.purge_expired(day_after, Duration::from_secs(3600), 100).await.unwrap();
    assert_eq!(store.find_device_code(&first.device_code_hash).await.unwrap(), None);
    assert_eq!(store.device_code_failures("user:alice", Timestamp::from_secs(0)).await.unwrap(), 0);
}

on_both_backends!(device_store_methods);

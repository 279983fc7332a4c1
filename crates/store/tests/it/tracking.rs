//! Tracking leases: one owner per platform, renewed by its owner, taken
//! over once expired, released at a clean stop.

use crate::harness::store_test;

store_test!(
    a_tracking_lease_has_one_owner_until_it_expires_or_is_released,
    |db| {
        let s = &db.store;
        let both = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            s.lease_tracking("d1", &both, 1_000, 100).await.unwrap(),
            both
        );
        // Held by d1: d2 gets nothing, even when asking for both.
        assert!(
            s.lease_tracking("d2", &both, 1_050, 100)
                .await
                .unwrap()
                .is_empty()
        );
        // d1 renews; d2 still waits.
        assert_eq!(
            s.lease_tracking("d1", &both, 1_090, 100).await.unwrap(),
            both
        );
        assert!(
            s.lease_tracking("d2", &both, 1_150, 100)
                .await
                .unwrap()
                .is_empty()
        );
        // d1 stops renewing "b" only (it no longer lists it) and the lease expires.
        let a = vec!["a".to_owned()];
        assert_eq!(s.lease_tracking("d1", &a, 1_180, 100).await.unwrap(), both);
        assert_eq!(
            s.lease_tracking("d2", &both, 1_200, 100).await.unwrap(),
            vec!["b".to_owned()]
        );
        // A clean stop releases at once.
        s.release_tracking("d1").await.unwrap();
        assert_eq!(
            s.lease_tracking("d2", &both, 1_210, 100).await.unwrap(),
            both
        );
    }
);

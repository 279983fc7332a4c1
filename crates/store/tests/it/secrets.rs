use polysync_core::run::new_run_id;
use polysync_core::{Run, RunStatus, StateObservation};

use crate::harness::store_test;

// The value a real `POLYSYNC_IT_TOKEN` would hold. The store only ever
// sees the variable's name; this checks nothing else leaks in.
const TOKEN: &str = "dapi0123456789abcdef0123456789abcdef-SECRET";

store_test!(token_value_never_reaches_the_database, |db| {
    let job = db.import_notebook().await;
    for _ in 0..3 {
        let mut run = db
            .store
            .insert_run(&Run::new(&job, new_run_id(), 1))
            .await
            .unwrap();
        run.apply_observation(
            &StateObservation {
                status: Some(RunStatus::Failed),
                life_cycle_state: Some("INTERNAL_ERROR".into()),
                state_message: Some("boom".into()),
                ..StateObservation::default()
            },
            2,
        );
        run.error_message = Some("403 Forbidden: invalid token (POLYSYNC_IT_TOKEN)".into());
        assert!(db.store.update_run(&run).await.unwrap().is_applied());
    }
    let dump = db.dump().await;
    let contains = |needle: &str| dump.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The dump is real: the variable's name and run data are in it...
    assert!(contains("POLYSYNC_IT_TOKEN"));
    assert!(contains("INTERNAL_ERROR"));
    // ...but the token value is not.
    assert!(!contains(TOKEN));
    assert!(!contains("dapi0123456789abcdef"));
});

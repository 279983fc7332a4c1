use std::time::Duration;

use serde_json::{Value, json};

use crate::Emu;

async fn wait_update(e: &Emu, pid: &str, uid: &str, want: &str) -> Vec<String> {
    let mut seen = vec![];
    for _ in 0..2000 {
        let (s, v) = e
            .get(&format!("/api/2.0/pipelines/{pid}/updates/{uid}"))
            .await;
        assert_eq!(s, 200, "{v}");
        let st = v["update"]["state"].as_str().unwrap().to_owned();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == want {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("never reached {want}: {seen:?}");
}

async fn create(e: &Emu, conf: Value, continuous: bool) -> String {
    e.ok(
        "/api/2.0/pipelines",
        json!({"name": "p", "continuous": continuous, "configuration": conf}),
    )
    .await["pipeline_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn update_to_completed_and_listing() {
    let e = Emu::fast().await;
    let pid = create(
        &e,
        json!({"emulator.duration": "20s", "emulator.phase": "5s"}),
        false,
    )
    .await;
    // The clock stands still and is stepped through each 5 s phase, so every state is read
    // however late the read comes (5 ms phases on the fast clock are missed under load).
    e.h.freeze_clock();
    let (s, v) = e
        .post(
            &format!("/api/2.0/pipelines/{pid}/updates"),
            json!({"full_refresh": true}),
        )
        .await;
    assert_eq!(s, 200);
    let uid = v["update_id"].as_str().unwrap().to_owned();
    assert_eq!(v["request_id"], uid.as_str());
    let (s, v) = e
        .post(&format!("/api/2.0/pipelines/{pid}/updates"), json!({}))
        .await;
    assert_eq!(s, 409, "{v}");
    // Simulated seconds after the start: five 5 s phases, 20 s RUNNING, then COMPLETED.
    let mut seen = Vec::new();
    for step_ms in [2_500, 5_000, 5_000, 5_000, 5_000, 5_000, 20_000] {
        e.h.advance_clock(Duration::from_millis(step_ms));
        let (_, v) = e
            .get(&format!("/api/2.0/pipelines/{pid}/updates/{uid}"))
            .await;
        seen.push(v["update"]["state"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen,
        [
            "QUEUED",
            "CREATED",
            "WAITING_FOR_RESOURCES",
            "INITIALIZING",
            "SETTING_UP_TABLES",
            "RUNNING",
            "COMPLETED"
        ]
    );
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    let (_, p) = e.get(&format!("/api/2.0/pipelines/{pid}")).await;
    assert_eq!(p["state"], "IDLE");
    assert_eq!(p["latest_updates"][0]["update_id"], uid.as_str());
    let (_, l) = e.get("/api/2.0/pipelines?max_results=10").await;
    assert_eq!(l["statuses"][0]["pipeline_id"], pid.as_str());
    let (s, _) = e.get("/api/2.0/pipelines?max_results=101").await;
    assert_eq!(s, 400);
    let (_, ev) = e.get(&format!("/api/2.0/pipelines/{pid}/events")).await;
    let evs = ev["events"].as_array().unwrap();
    assert!(evs.iter().all(|x| x["event_type"] == "update_progress"));
    assert_eq!(evs[0]["details"]["update_progress"]["state"], "COMPLETED");
    let (_, ups) = e.get(&format!("/api/2.0/pipelines/{pid}/updates")).await;
    assert_eq!(ups["updates"][0]["update_id"], uid.as_str());
}

#[tokio::test]
async fn stop_goes_stopping_then_canceled_and_continuous_runs() {
    let e = Emu::fast().await;
    let pid = create(&e, json!({"emulator.stop_drain": "100s"}), true).await;
    let uid = e
        .ok(&format!("/api/2.0/pipelines/{pid}/updates"), json!({}))
        .await["update_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_update(&e, &pid, &uid, "RUNNING").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, v) = e
        .get(&format!("/api/2.0/pipelines/{pid}/updates/{uid}"))
        .await;
    assert_eq!(v["update"]["state"], "RUNNING");
    // The 100 s drain is 100 ms real: the clock stands still until both reads are done, so a
    // loaded machine cannot read after the drain ended.
    e.h.freeze_clock();
    e.ok(&format!("/api/2.0/pipelines/{pid}/stop"), json!({}))
        .await;
    let (_, v) = e
        .get(&format!("/api/2.0/pipelines/{pid}/updates/{uid}"))
        .await;
    assert_eq!(v["update"]["state"], "STOPPING");
    let (_, p) = e.get(&format!("/api/2.0/pipelines/{pid}")).await;
    assert_eq!(p["state"], "STOPPING");
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    wait_update(&e, &pid, &uid, "CANCELED").await;
}

#[tokio::test]
async fn storage_missing_failed_and_unknown_state() {
    let e = Emu::fast().await;
    let pid = create(&e, json!({"emulator.storage_missing": "true"}), false).await;
    let (s, v) = e
        .post(&format!("/api/2.0/pipelines/{pid}/updates"), json!({}))
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let pid = create(&e, json!({"emulator.outcome": "FAILED"}), false).await;
    let uid = e
        .ok(&format!("/api/2.0/pipelines/{pid}/updates"), json!({}))
        .await["update_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_update(&e, &pid, &uid, "FAILED").await;
    let pid = create(&e, json!({"emulator.state": "MYSTERY_STATE"}), false).await;
    let uid = e
        .ok(&format!("/api/2.0/pipelines/{pid}/updates"), json!({}))
        .await["update_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_update(&e, &pid, &uid, "MYSTERY_STATE").await;
    let (s, v) = e.get("/api/2.0/pipelines/does-not-exist").await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
}

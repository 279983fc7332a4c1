use std::time::Duration;

use serde_json::json;

use crate::Emu;

async fn wait_state(e: &Emu, id: &str, want: &str) {
    for _ in 0..2000 {
        let (_, v) = e
            .get(&format!("/api/2.0/clusters/get?cluster_id={id}"))
            .await;
        if v["state"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("cluster never reached {want}");
}

#[tokio::test]
async fn cluster_lifecycle() {
    let e = Emu::fast().await;
    let (s, _) = e
        .post("/api/2.0/clusters/create", json!({"cluster_name": "c"}))
        .await;
    assert_eq!(s, 400);
    let (_, sv) = e.get("/api/2.0/clusters/spark-versions").await;
    let (_, nt) = e.get("/api/2.0/clusters/list-node-types").await;
    // The start-up and resize phases last a few real milliseconds on the fast clock: a loaded
    // machine can read after they ended, so the clock stands still from each action to its read.
    e.h.freeze_clock();
    let id = e.ok("/api/2.0/clusters/create", json!({"cluster_name": "c", "spark_version": sv["versions"][0]["key"], "node_type_id": nt["node_types"][0]["node_type_id"], "num_workers": 1})).await["cluster_id"].as_str().unwrap().to_owned();
    let (_, v) = e
        .get(&format!("/api/2.0/clusters/get?cluster_id={id}"))
        .await;
    assert_eq!(v["state"], "PENDING");
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    wait_state(&e, &id, "RUNNING").await;
    e.h.freeze_clock();
    e.ok(
        "/api/2.0/clusters/resize",
        json!({"cluster_id": id, "num_workers": 3}),
    )
    .await;
    let (_, v) = e
        .get(&format!("/api/2.0/clusters/get?cluster_id={id}"))
        .await;
    assert_eq!(
        (v["state"].as_str(), v["num_workers"].as_i64()),
        (Some("RESIZING"), Some(3))
    );
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    wait_state(&e, &id, "RUNNING").await;
    e.ok("/api/2.0/clusters/restart", json!({"cluster_id": id}))
        .await;
    wait_state(&e, &id, "RUNNING").await;
    e.ok("/api/2.0/clusters/pin", json!({"cluster_id": id}))
        .await;
    e.ok("/api/2.0/clusters/delete", json!({"cluster_id": id}))
        .await;
    wait_state(&e, &id, "TERMINATED").await;
    let (s, _) = e
        .post(
            "/api/2.0/clusters/resize",
            json!({"cluster_id": id, "num_workers": 1}),
        )
        .await;
    assert_eq!(s, 400);
    e.ok("/api/2.0/clusters/start", json!({"cluster_id": id}))
        .await;
    wait_state(&e, &id, "RUNNING").await;
    let ev = e
        .ok("/api/2.0/clusters/events", json!({"cluster_id": id}))
        .await;
    assert!(ev["total_count"].as_u64().unwrap() >= 8);
    let (_, l) = e.get("/api/2.0/clusters/list").await;
    assert_eq!(l["clusters"][0]["cluster_id"], id.as_str());
    e.ok(
        "/api/2.0/clusters/permanent-delete",
        json!({"cluster_id": id}),
    )
    .await;
    let (s, _) = e
        .get(&format!("/api/2.0/clusters/get?cluster_id={id}"))
        .await;
    assert_eq!(s, 400);
}

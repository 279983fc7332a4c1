use std::time::Duration;

use serde_json::{Value, json};

use crate::Emu;

#[tokio::test]
async fn run_now_success_with_exit_value_and_job_parameters() {
    let e = Emu::fast().await;
    e.import("/Shared/nb", "PYTHON", "dbutils.widgets.text(\"env\", \"dev\")\nprint(1)\ndbutils.notebook.exit(dbutils.widgets.get(\"env\"))\n").await;
    let job = e
        .ok(
            "/api/2.1/jobs/create",
            json!({"name": "j", "parameters": [{"name": "env", "default": "dev"}],
        "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Shared/nb"}}]}),
        )
        .await;
    let r = e
        .ok(
            "/api/2.1/jobs/run-now",
            json!({"job_id": job["job_id"], "job_parameters": {"env": "prod"}}),
        )
        .await;
    let run_id = r["run_id"].as_i64().unwrap();
    assert_eq!(r["number_in_job"], run_id);
    let run = e.wait_run(run_id).await;
    assert_eq!(run["state"]["life_cycle_state"], "TERMINATED");
    assert_eq!(run["state"]["result_state"], "SUCCESS");
    assert_eq!(run["status"]["state"], "TERMINATED");
    assert_eq!(run["job_parameters"][0]["value"], "prod");
    assert!(
        run["run_page_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#job/{}/run/{run_id}", job["job_id"]))
    );
    assert!(run["end_time"].as_i64().unwrap() >= run["start_time"].as_i64().unwrap());
    let (_, out) = e
        .get(&format!("/api/2.1/jobs/runs/get-output?run_id={run_id}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "prod");
    let task_run = run["tasks"][0]["run_id"].as_i64().unwrap();
    let (_, out) = e
        .get(&format!("/api/2.2/jobs/runs/get-output?run_id={task_run}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "prod");
    assert_eq!(out["metadata"]["job_run_id"], run_id);
}

#[tokio::test]
async fn submit_with_base_parameters_and_lifecycle_passes_through_states() {
    let e = Emu::fast().await;
    e.import(
        "/Shared/p",
        "PYTHON",
        "# emulator: duration=10s pending=5s\ndbutils.notebook.exit(dbutils.widgets.get('who'))\n",
    )
    .await;
    // The clock stands still and is stepped through each phase, so every state is read however
    // late the read comes (polling a 100 ms PENDING missed it on a loaded machine).
    e.h.freeze_clock();
    let id = e.submit_notebook("/Shared/p", json!({"notebook_task": {"notebook_path": "/Shared/p", "base_parameters": {"who": "world"}}})).await;
    // Simulated seconds after the submit: 5 s PENDING, 10 s RUNNING, 0.5 s TERMINATING.
    let mut seen = Vec::new();
    for step_ms in [0, 6_000, 9_200, 1_000] {
        e.h.advance_clock(Duration::from_millis(step_ms));
        let (_, v) = e.get(&format!("/api/2.1/jobs/runs/get?run_id={id}")).await;
        seen.push(v["state"]["life_cycle_state"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["PENDING", "RUNNING", "TERMINATING", "TERMINATED"]);
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    let (_, out) = e
        .get(&format!("/api/2.1/jobs/runs/get-output?run_id={id}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "world");
}

#[tokio::test]
async fn every_declared_outcome() {
    let e = Emu::fast().await;
    let cases = [
        ("SUCCESS", "TERMINATED", Some("SUCCESS")),
        ("FAILED", "INTERNAL_ERROR", Some("FAILED")),
        ("TIMEDOUT", "TERMINATED", Some("TIMEDOUT")),
        ("CANCELED", "TERMINATED", Some("CANCELED")),
        ("SKIPPED", "SKIPPED", None),
        ("INTERNAL_ERROR", "INTERNAL_ERROR", Some("FAILED")),
    ];
    for (outcome, life, result) in cases {
        let path = format!("/Shared/o_{outcome}");
        e.import(
            &path,
            "PYTHON",
            &format!("# emulator: outcome={outcome} message=\"boom {outcome}\" duration=2s\n"),
        )
        .await;
        let id = e.submit_notebook(&path, json!({})).await;
        let run = e.wait_run(id).await;
        assert_eq!(run["state"]["life_cycle_state"], life, "{outcome}: {run}");
        assert_eq!(run["state"]["result_state"].as_str(), result, "{outcome}");
        if outcome == "FAILED" {
            assert_eq!(
                run["state"]["state_message"],
                "Task t failed with message: boom FAILED."
            );
            let (_, out) = e
                .get(&format!("/api/2.1/jobs/runs/get-output?run_id={id}"))
                .await;
            assert_eq!(out["error"], "boom FAILED");
        }
    }
    // raise in real code, scala/sql directives, missing notebook
    e.import(
        "/Shared/raise",
        "PYTHON",
        "x = 1\nraise ValueError(\"bad input\")\n",
    )
    .await;
    let run = e
        .wait_run(e.submit_notebook("/Shared/raise", json!({})).await)
        .await;
    assert_eq!(run["state"]["result_state"], "FAILED");
    assert!(
        run["state"]["state_message"]
            .as_str()
            .unwrap()
            .contains("ValueError: bad input")
    );
    e.import("/Shared/sc", "SCALA", "// emulator: outcome=FAILED\n")
        .await;
    let run = e
        .wait_run(e.submit_notebook("/Shared/sc", json!({})).await)
        .await;
    assert_eq!(run["state"]["result_state"], "FAILED");
    e.import("/Shared/sq", "SQL", "-- emulator: exit=42\nSELECT 1\n")
        .await;
    let id = e.submit_notebook("/Shared/sq", json!({})).await;
    e.wait_run(id).await;
    let (_, out) = e
        .get(&format!("/api/2.1/jobs/runs/get-output?run_id={id}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "42");
    let run = e
        .wait_run(e.submit_notebook("/Shared/missing", json!({})).await)
        .await;
    assert_eq!(run["state"]["result_state"], "FAILED");
    assert!(
        run["state"]["state_message"]
            .as_str()
            .unwrap()
            .contains("/Shared/missing")
    );
    // non-notebook task: directive in description
    let v = e.ok("/api/2.1/jobs/runs/submit", json!({"tasks": [{"task_key": "w", "description": "wheel. emulator: outcome=FAILED message=\"wheel broke\"",
        "python_wheel_task": {"package_name": "p", "entry_point": "main"}}]})).await;
    let run = e.wait_run(v["run_id"].as_i64().unwrap()).await;
    assert_eq!(
        run["state"]["state_message"],
        "Task w failed with message: wheel broke."
    );
}

#[tokio::test]
async fn cancel_and_timeout() {
    let e = Emu::fast().await;
    e.import("/Shared/long", "PYTHON", "# emulator: duration=1h\n")
        .await;
    let id = e.submit_notebook("/Shared/long", json!({})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    e.ok("/api/2.1/jobs/runs/cancel", json!({"run_id": id}))
        .await;
    let run = e.wait_run(id).await;
    assert_eq!(run["state"]["result_state"], "CANCELED");
    assert_eq!(run["state"]["user_cancelled_or_timedout"], true);
    assert_eq!(
        run["status"]["termination_details"]["code"],
        "USER_CANCELED"
    );
    let v = e.ok("/api/2.1/jobs/runs/submit", json!({"timeout_seconds": 30, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/long"}}]})).await;
    let run = e.wait_run(v["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["state"]["result_state"], "TIMEDOUT");
    let dur = run["end_time"].as_i64().unwrap() - run["start_time"].as_i64().unwrap();
    assert!((30_000..40_000).contains(&dur), "{dur}");
    let id = e
        .submit_notebook("/Shared/long", json!({"timeout_seconds": 10}))
        .await;
    assert_eq!(e.wait_run(id).await["state"]["result_state"], "TIMEDOUT");
}

#[tokio::test]
async fn three_task_dag_order_and_failure_propagation() {
    let e = Emu::fast().await;
    e.import("/Shared/a", "PYTHON", "# emulator: duration=5s\n")
        .await;
    e.import(
        "/Shared/bad",
        "PYTHON",
        "# emulator: outcome=FAILED message=oops\n",
    )
    .await;
    let t = |k: &str, p: &str, deps: &[&str]| json!({"task_key": k, "notebook_task": {"notebook_path": p}, "depends_on": deps.iter().map(|d| json!({"task_key": d})).collect::<Vec<_>>()});
    let v = e.ok("/api/2.1/jobs/runs/submit", json!({"tasks": [t("c", "/Shared/a", &["b"]), t("b", "/Shared/a", &["a"]), t("a", "/Shared/a", &[])]})).await;
    let run = e.wait_run(v["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["state"]["result_state"], "SUCCESS");
    let tasks = run["tasks"].as_array().unwrap();
    let get = |k: &str| tasks.iter().find(|x| x["task_key"] == k).unwrap().clone();
    let (a, b, c) = (get("a"), get("b"), get("c"));
    assert!(a["end_time"].as_i64() <= b["start_time"].as_i64());
    assert!(b["end_time"].as_i64() <= c["start_time"].as_i64());
    assert!(
        tasks
            .iter()
            .all(|x| x["state"]["result_state"] == "SUCCESS")
    );
    let (s, v) = e
        .get(&format!(
            "/api/2.1/jobs/runs/get-output?run_id={}",
            run["run_id"]
        ))
        .await;
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Retrieving the output of runs with multiple tasks is not supported.")
    );
    let mut all_done = t("d", "/Shared/a", &["b"]);
    all_done["run_if"] = json!("ALL_DONE");
    let v = e.ok("/api/2.1/jobs/runs/submit", json!({"tasks": [t("a", "/Shared/a", &[]), t("b", "/Shared/bad", &["a"]), t("c", "/Shared/a", &["b"]), all_done]})).await;
    let run = e.wait_run(v["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["state"]["life_cycle_state"], "INTERNAL_ERROR");
    assert_eq!(run["state"]["result_state"], "FAILED");
    assert_eq!(
        run["status"]["termination_details"]["code"],
        "RUN_EXECUTION_ERROR"
    );
    let tasks = run["tasks"].as_array().unwrap();
    let res = |k: &str| {
        tasks.iter().find(|x| x["task_key"] == k).unwrap()["state"]["result_state"].clone()
    };
    assert_eq!(res("c"), "UPSTREAM_FAILED");
    assert_eq!(res("d"), "SUCCESS");
}

/// Creates a job with `max_concurrent_runs: 1` through Jobs API `version` (2.1 skips a run
/// beyond the limit, 2.2 queues it) and runs it twice at once; returns both run ids.
async fn two_runs_of_a_single_run_job(
    e: &Emu,
    version: &str,
    name: &str,
    task: &Value,
) -> (i64, i64) {
    let job = e
        .ok(
            &format!("/api/{version}/jobs/create"),
            json!({"name": name, "max_concurrent_runs": 1, "tasks": task}),
        )
        .await["job_id"]
        .clone();
    let mut ids = [0; 2];
    for id in &mut ids {
        *id = e
            .ok(
                &format!("/api/{version}/jobs/run-now"),
                json!({"job_id": job}),
            )
            .await["run_id"]
            .as_i64()
            .unwrap();
    }
    (ids[0], ids[1])
}

#[tokio::test]
async fn max_concurrent_runs_queue_and_skip() {
    let e = Emu::fast().await;
    e.import("/Shared/q", "PYTHON", "# emulator: duration=200s\n")
        .await;
    let task = json!([{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/q"}}]);
    // A run lasts 200 ms real: the clock stands still until the second run of each pair is
    // read, so a loaded machine cannot start or read it after the first ended and freed the slot.
    e.h.freeze_clock();
    let (r1, r2) = two_runs_of_a_single_run_job(&e, "2.1", "s", &task).await;
    let run2 = e.wait_run(r2).await;
    assert_eq!(run2["state"]["life_cycle_state"], "SKIPPED");
    assert!(
        run2["state"]["state_message"]
            .as_str()
            .unwrap()
            .contains("maximum concurrent runs")
    );
    let (q1, q2) = two_runs_of_a_single_run_job(&e, "2.2", "q", &task).await;
    let (_, v) = e.get(&format!("/api/2.2/jobs/runs/get?run_id={q2}")).await;
    assert_eq!(v["state"]["life_cycle_state"], "QUEUED");
    assert_eq!(v["status"]["state"], "QUEUED");
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    let a = e.wait_run(q1).await;
    let b = e.wait_run(q2).await;
    assert_eq!(b["state"]["result_state"], "SUCCESS");
    assert!(b["tasks"][0]["start_time"].as_i64() >= a["end_time"].as_i64());
    e.wait_run(r1).await;
    assert!(e.h.stats().max_concurrent_task_runs >= 2);
}

#[tokio::test]
async fn time_scale_controls_duration() {
    let e = Emu::start(|c| c.time_scale = 6000.0).await;
    e.import(
        "/Shared/ten",
        "PYTHON",
        "# emulator: duration=10m pending=0s\n",
    )
    .await;
    let t0 = std::time::Instant::now();
    let run = e
        .wait_run(e.submit_notebook("/Shared/ten", json!({})).await)
        .await;
    let real = t0.elapsed();
    assert!(
        real >= Duration::from_millis(95) && real < Duration::from_secs(3),
        "{real:?}"
    );
    let sim = run["end_time"].as_i64().unwrap() - run["start_time"].as_i64().unwrap();
    assert!(sim >= 600_000, "{sim}");
}

#[tokio::test]
async fn runs_list_order_and_page_limit() {
    let e = Emu::fast().await;
    e.import(
        "/Shared/short",
        "PYTHON",
        "# emulator: duration=1s pending=0s\n",
    )
    .await;
    e.import("/Shared/forever", "PYTHON", "# emulator: duration=10h\n")
        .await;
    let job = e.ok("/api/2.1/jobs/create", json!({"name": "l", "max_concurrent_runs": 100, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/short"}}]})).await["job_id"].clone();
    let mut ids = vec![];
    for _ in 0..30 {
        ids.push(
            e.ok("/api/2.1/jobs/run-now", json!({"job_id": job})).await["run_id"]
                .as_i64()
                .unwrap(),
        );
    }
    for id in &ids {
        e.wait_run(*id).await;
    }
    let active = e.submit_notebook("/Shared/forever", json!({})).await;
    let (_, p1) = e
        .get(&format!("/api/2.1/jobs/runs/list?job_id={job}&limit=25"))
        .await;
    let runs = p1["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 25);
    let ends: Vec<i64> = runs
        .iter()
        .map(|r| r["end_time"].as_i64().unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| w[0] >= w[1]), "{ends:?}");
    let (_, p2) = e
        .get(&format!(
            "/api/2.1/jobs/runs/list?job_id={job}&limit=25&page_token={}",
            p1["next_page_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p2["runs"].as_array().unwrap().len(), 5);
    assert_eq!(p2["has_more"], false);
    let (s, _) = e.get("/api/2.1/jobs/runs/list?limit=26").await;
    assert_eq!(s, 400);
    let (_, all) = e.get("/api/2.1/jobs/runs/list?limit=3").await;
    assert_eq!(all["runs"][0]["run_id"], active);
    let (_, act) = e.get("/api/2.1/jobs/runs/list?active_only=true").await;
    assert_eq!(act["runs"].as_array().unwrap().len(), 1);
    e.ok("/api/2.1/jobs/runs/cancel-all", json!({"job_id": job}))
        .await;
    let (s, _) = e
        .post("/api/2.1/jobs/runs/delete", json!({"run_id": active}))
        .await;
    assert_eq!(s, 400);
    e.ok("/api/2.1/jobs/runs/delete", json!({"run_id": ids[0]}))
        .await;
    let (s, v) = e
        .get(&format!("/api/2.1/jobs/runs/get?run_id={}", ids[0]))
        .await;
    assert_eq!(
        (s, v["message"].as_str().unwrap().to_owned()),
        (400, format!("Run {} does not exist.", ids[0]))
    );
}

#[tokio::test]
async fn new_cluster_stays_pending_longer() {
    let e = Emu::fast().await;
    e.import("/Shared/n", "PYTHON", "print(1)\n").await;
    let warm = e
        .submit_notebook("/Shared/n", json!({"existing_cluster_id": "c1"}))
        .await;
    let cold = e.submit_notebook("/Shared/n", json!({"new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}})).await;
    let w = e.wait_run(warm).await;
    let c = e.wait_run(cold).await;
    let setup = |r: &serde_json::Value| r["tasks"][0]["setup_duration"].as_i64().unwrap();
    assert!(setup(&c) > setup(&w) * 5, "{} vs {}", setup(&c), setup(&w));
}

/// A run queued behind `max_concurrent_runs` starts as soon as the run ahead of it is
/// cancelled, not when that run would have ended; the next one in the queue moves up too.
#[tokio::test]
async fn cancelling_the_active_run_releases_the_queue() {
    let e = Emu::fast().await;
    e.import(
        "/Shared/long",
        "PYTHON",
        "# emulator: duration=10h pending=0s\n",
    )
    .await;
    let task = |nb: &str| json!([{"task_key": "t", "existing_cluster_id": "c", "notebook_task": {"notebook_path": nb}}]);
    let job = e
        .ok(
            "/api/2.2/jobs/create",
            json!({"name": "q", "max_concurrent_runs": 1, "tasks": task("/Shared/long")}),
        )
        .await["job_id"]
        .clone();
    let emu = &e;
    let run_now = |job: serde_json::Value| async move {
        emu.ok("/api/2.2/jobs/run-now", json!({"job_id": job}))
            .await["run_id"]
            .as_i64()
            .unwrap()
    };
    let first = run_now(job.clone()).await;
    let second = run_now(job.clone()).await;
    let third = run_now(job.clone()).await;
    for queued in [second, third] {
        let (_, v) = e
            .get(&format!("/api/2.2/jobs/runs/get?run_id={queued}"))
            .await;
        assert_eq!(v["state"]["life_cycle_state"], "QUEUED");
    }
    e.ok("/api/2.2/jobs/runs/cancel", json!({"run_id": first}))
        .await;
    // `second` takes the freed slot right away: it is RUNNING, not waiting 10 hours.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = e
            .get(&format!("/api/2.2/jobs/runs/get?run_id={second}"))
            .await;
        if v["state"]["life_cycle_state"] == "RUNNING" {
            break;
        }
        assert_ne!(v["state"]["life_cycle_state"], "TERMINATED", "{v}");
        assert!(std::time::Instant::now() < deadline, "still {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, v) = e
        .get(&format!("/api/2.2/jobs/runs/get?run_id={third}"))
        .await;
    assert_eq!(
        v["state"]["life_cycle_state"], "QUEUED",
        "still one slot: {v}"
    );
    // Cancelling `second` moves `third` up in turn; it then runs its 10 hours, so cancel it.
    e.ok("/api/2.2/jobs/runs/cancel", json!({"run_id": second}))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = e
            .get(&format!("/api/2.2/jobs/runs/get?run_id={third}"))
            .await;
        if v["state"]["life_cycle_state"] == "RUNNING" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = e.wait_run(first).await;
    let b = e.wait_run(second).await;
    assert_eq!(a["state"]["result_state"], "CANCELED");
    assert_eq!(b["state"]["result_state"], "CANCELED");
    assert!(b["tasks"][0]["start_time"].as_i64() >= a["end_time"].as_i64());
    e.ok("/api/2.2/jobs/runs/cancel", json!({"run_id": third}))
        .await;
    assert_eq!(e.wait_run(third).await["state"]["result_state"], "CANCELED");
}

#[tokio::test]
async fn fail_first_fails_a_notebooks_first_runs_only() {
    let dir = polysync_testkit::write_files(&[(
        "Shared/flaky.py",
        "# Databricks notebook source\n# emulator: fail_first=2 duration=1s exit=ok\nprint(1)\n",
    )]);
    let e = Emu::start(|c| c.workspace_dir = Some(dir.path().to_path_buf())).await;
    let mut results = Vec::new();
    for i in 0..3 {
        let (s, v) = e
            .post(
                "/api/2.1/jobs/runs/submit",
                json!({"run_name": format!("try {i}"), "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/flaky"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let id = v["run_id"].as_i64().unwrap();
        let mut state = serde_json::Value::Null;
        for _ in 0..200 {
            let (_, r) = e.get(&format!("/api/2.1/jobs/runs/get?run_id={id}")).await;
            // A failed task ends its parent INTERNAL_ERROR + FAILED, as on Databricks.
            if r["state"]["life_cycle_state"] == "TERMINATED"
                || r["state"]["life_cycle_state"] == "INTERNAL_ERROR"
            {
                state = r["state"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        results.push(state["result_state"].as_str().unwrap_or("?").to_owned());
    }
    assert_eq!(results, vec!["FAILED", "FAILED", "SUCCESS"]);
}

/// `completed_only` lists by end time, newest first (what a tracker pages back to its
/// watermark), not by start; `start_time_from` / `start_time_to` and `offset` select as
/// documented; active runs are left out.
#[tokio::test]
async fn runs_list_completed_only_orders_by_end_time() {
    let e = Emu::fast().await;
    e.import(
        "/Shared/slow",
        "PYTHON",
        "# emulator: duration=30s pending=0s\n",
    )
    .await;
    e.import(
        "/Shared/quick",
        "PYTHON",
        "# emulator: duration=1s pending=0s\n",
    )
    .await;
    e.import("/Shared/forever", "PYTHON", "# emulator: duration=10h\n")
        .await;
    // Started first, ends last: the clock stands still between the two submits but one
    // simulated second, so a loaded machine cannot submit the quick one after the slow one's
    // 30 ms (real) ended.
    e.h.freeze_clock();
    let slow = e.submit_notebook("/Shared/slow", json!({})).await;
    e.h.advance_clock(Duration::from_secs(1));
    let quick = e.submit_notebook("/Shared/quick", json!({})).await;
    e.h.set_time_scale(polysync_testkit::FAST_CLOCK);
    let a = e.wait_run(slow).await;
    let b = e.wait_run(quick).await;
    let active = e.submit_notebook("/Shared/forever", json!({})).await;
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["runs"]
            .as_array()
            .map(|rs| rs.iter().map(|r| r["run_id"].as_i64().unwrap()).collect())
            .unwrap_or_default()
    };
    let (_, done) = e
        .get("/api/2.1/jobs/runs/list?completed_only=true&limit=25")
        .await;
    assert_eq!(ids(&done), vec![slow, quick]);
    let (_, act) = e
        .get("/api/2.1/jobs/runs/list?active_only=true&limit=25")
        .await;
    assert_eq!(ids(&act), vec![active]);
    let (_, second) = e
        .get("/api/2.1/jobs/runs/list?completed_only=true&limit=1&offset=1")
        .await;
    assert_eq!(ids(&second), vec![quick]);
    let from = b["start_time"].as_i64().unwrap();
    let (_, late) = e
        .get(&format!(
            "/api/2.1/jobs/runs/list?completed_only=true&start_time_from={from}"
        ))
        .await;
    assert_eq!(ids(&late), vec![quick]);
    let to = a["start_time"].as_i64().unwrap();
    let (_, early) = e
        .get(&format!(
            "/api/2.1/jobs/runs/list?completed_only=true&start_time_to={to}"
        ))
        .await;
    assert_eq!(ids(&early), vec![slow]);
    let (s, _) = e
        .get("/api/2.1/jobs/runs/list?completed_only=true&active_only=true")
        .await;
    assert_eq!(s, 400);
}

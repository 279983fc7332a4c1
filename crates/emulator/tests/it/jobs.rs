use serde_json::json;

use crate::Emu;

#[tokio::test]
async fn create_get_list_paging_and_expand_tasks() {
    let e = Emu::fast().await;
    for i in 0..105 {
        e.ok("/api/2.1/jobs/create", json!({"name": format!("job-{i}"), "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/x"}}]})).await;
    }
    let mut seen = 0;
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = token
            .as_ref()
            .map(|t| format!("&page_token={t}"))
            .unwrap_or_default();
        let (s, v) = e.get(&format!("/api/2.1/jobs/list?limit=100{q}")).await;
        assert_eq!(s, 200);
        let jobs = v["jobs"].as_array().unwrap();
        assert!(jobs.iter().all(|j| j["settings"].get("tasks").is_none()));
        seen += jobs.len();
        pages += 1;
        match v["next_page_token"].as_str() {
            Some(t) => {
                assert_eq!(v["has_more"], true);
                token = Some(t.to_owned())
            }
            None => break,
        }
    }
    assert_eq!((seen, pages), (105, 2));
    let (_, v) = e.get("/api/2.1/jobs/list?limit=2&expand_tasks=true").await;
    assert_eq!(v["jobs"][0]["settings"]["tasks"][0]["task_key"], "a");
    let (_, v) = e.get("/api/2.0/jobs/list?limit=2&offset=104").await;
    assert_eq!(v["jobs"].as_array().unwrap().len(), 1);
    let (s, v) = e.get("/api/2.1/jobs/list?limit=101").await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (s, v) = e.get("/api/2.1/jobs/get?job_id=1").await;
    assert_eq!(s, 400);
    assert_eq!(v["message"], "Job 1 does not exist.");
}

#[tokio::test]
async fn get_pages_tasks_on_22_and_refuses_on_21() {
    let e = Emu::fast().await;
    let tasks: Vec<_> = (0..150)
        .map(|i| json!({"task_key": format!("t{i}"), "notebook_task": {"notebook_path": "/x"}}))
        .collect();
    let id = e
        .ok(
            "/api/2.2/jobs/create",
            json!({"name": "big", "tasks": tasks}),
        )
        .await["job_id"]
        .as_i64()
        .unwrap();
    let (s, v) = e.get(&format!("/api/2.1/jobs/get?job_id={id}")).await;
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("more than 100 tasks")
    );
    let (_, p1) = e.get(&format!("/api/2.2/jobs/get?job_id={id}")).await;
    assert_eq!(p1["settings"]["tasks"].as_array().unwrap().len(), 100);
    let tok = p1["next_page_token"].as_str().unwrap();
    let (_, p2) = e
        .get(&format!("/api/2.2/jobs/get?job_id={id}&page_token={tok}"))
        .await;
    assert_eq!(p2["settings"]["tasks"].as_array().unwrap().len(), 50);
    assert_eq!(p2["settings"]["tasks"][0]["task_key"], "t100");
    assert!(p2.get("next_page_token").is_none());
}

#[tokio::test]
async fn reset_update_delete() {
    let e = Emu::fast().await;
    let id = e.ok("/api/2.1/jobs/create", json!({"name": "a", "tasks": [{"task_key": "x", "notebook_task": {"notebook_path": "/x"}}, {"task_key": "y", "notebook_task": {"notebook_path": "/y"}}]})).await["job_id"].clone();
    e.ok("/api/2.1/jobs/update", json!({"job_id": id, "new_settings": {"name": "b", "tasks": [{"task_key": "z", "notebook_task": {"notebook_path": "/z"}}]}, "fields_to_remove": ["tasks/x"]})).await;
    let (_, v) = e.get(&format!("/api/2.1/jobs/get?job_id={id}")).await;
    assert_eq!(v["settings"]["name"], "b");
    let keys: Vec<_> = v["settings"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["y", "z"]);
    e.ok("/api/2.1/jobs/reset", json!({"job_id": id, "new_settings": {"name": "c", "tasks": [{"task_key": "q", "notebook_task": {"notebook_path": "/q"}}]}})).await;
    let (_, v) = e.get(&format!("/api/2.1/jobs/get?job_id={id}")).await;
    assert_eq!(v["settings"]["tasks"].as_array().unwrap().len(), 1);
    e.ok("/api/2.1/jobs/delete", json!({"job_id": id})).await;
    let (s, _) = e.get(&format!("/api/2.1/jobs/get?job_id={id}")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn serverless_disabled_requires_compute() {
    let e = Emu::start(|c| c.serverless_enabled = false).await;
    let (s, v) = e
        .post(
            "/api/2.1/jobs/runs/submit",
            json!({"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}}]}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified."
    );
    let (s, _) = e.post("/api/2.1/jobs/runs/submit", json!({"tasks": [{"task_key": "t", "existing_cluster_id": "c1", "notebook_task": {"notebook_path": "/x"}}]})).await;
    assert_eq!(s, 200);
}

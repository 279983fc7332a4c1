use std::time::Duration;

use futures_util::TryStreamExt;
use polysync_databricks::models::*;

use crate::*;

async fn wait_update(c: &polysync_databricks::DatabricksClient, p: &str, u: &str) -> UpdateInfo {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let up = c.pipelines().get_update(p, u).await.expect("get update");
        if up.state.as_ref().is_some_and(UpdateState::is_terminal) {
            return up;
        }
        assert!(tokio::time::Instant::now() < deadline, "update never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn update_completes_and_stop_cancels() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(&c, "/Shared/it/dlt", "").await;
    let spec = PipelineSpec {
        name: Some("it-pipe".into()),
        libraries: vec![PipelineLibrary {
            notebook: Some(PathRef {
                path: "/Shared/it/dlt".into(),
            }),
            ..Default::default()
        }],
        catalog: Some("main".into()),
        schema: Some("it".into()),
        ..Default::default()
    };
    let p = c.pipelines().create(&spec).await.expect("create");
    let pid = p.pipeline_id.expect("id");
    let up = c
        .pipelines()
        .start_update(&pid, &StartUpdateRequest::default())
        .await
        .expect("start");
    let done = wait_update(&c, &pid, &up.update_id).await;
    assert_eq!(done.state, Some(UpdateState::Completed));

    let up = c
        .pipelines()
        .start_update(&pid, &StartUpdateRequest::default())
        .await
        .expect("start 2");
    c.pipelines().stop(&pid).await.expect("stop");
    let done = wait_update(&c, &pid, &up.update_id).await;
    assert_eq!(done.state, Some(UpdateState::Canceled));

    let updates: Vec<UpdateInfo> = c
        .pipelines()
        .list_updates(&pid)
        .try_collect()
        .await
        .expect("list");
    assert_eq!(updates.len(), 2);
    let all: Vec<PipelineStateInfo> = c.pipelines().list().try_collect().await.expect("list");
    assert!(all.iter().any(|s| s.pipeline_id == pid));
    let got = c.pipelines().get(&pid).await.expect("get");
    assert_eq!(got.name.as_deref(), Some("it-pipe"));
    c.pipelines().delete(&pid).await.expect("delete");
}

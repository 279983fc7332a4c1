use base64::Engine;
use serde_json::{Value, json};

use crate::{Emu, TOKEN};

fn b64(v: &Value) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn list_export_source_and_jupyter_all_languages() {
    let e = Emu::fast().await;
    let cases = [
        (
            "PYTHON",
            "#",
            "py",
            "dbutils.widgets.text(\"env\", \"dev\", \"Env\")",
        ),
        (
            "SCALA",
            "//",
            "scala",
            "dbutils.widgets.text(\"env\", \"dev\", \"Env\")",
        ),
        ("SQL", "--", "sql", "CREATE WIDGET TEXT env DEFAULT \"dev\""),
        (
            "R",
            "#",
            "r",
            "dbutils.widgets.text(\"env\", \"dev\", \"Env\")",
        ),
    ];
    for (lang, c, ext, widget) in cases {
        let src = format!(
            "{c} Databricks notebook source\n{widget}\n\n{c} COMMAND ----------\n\n{c} MAGIC %md\n{c} MAGIC # Hello\n"
        );
        e.import(&format!("/Shared/langs/{lang}"), lang, &src).await;
        let (_, v) = e
            .get(&format!(
                "/api/2.0/workspace/export?path=/Shared/langs/{lang}&format=SOURCE"
            ))
            .await;
        assert_eq!(v["file_type"], ext);
        assert_eq!(b64(&v["content"]), src);
        let (_, v) = e
            .get(&format!(
                "/api/2.0/workspace/export?path=/Shared/langs/{lang}&format=JUPYTER"
            ))
            .await;
        assert_eq!(v["file_type"], "ipynb");
        let nb: Value = serde_json::from_str(&b64(&v["content"])).unwrap();
        let meta = &nb["metadata"]["application/vnd.databricks.v1+notebook"];
        assert_eq!(meta["language"], lang.to_lowercase());
        assert_eq!(
            meta["widgets"]["env"]["widgetInfo"]["defaultValue"], "dev",
            "{lang}"
        );
        assert_eq!(nb["cells"][1]["cell_type"], "markdown");
        assert_eq!(nb["cells"][1]["source"][0], "# Hello");
    }
    let (_, v) = e.get("/api/2.0/workspace/list?path=/Shared/langs").await;
    let objs = v["objects"].as_array().unwrap();
    assert_eq!(objs.len(), 4);
    assert!(objs.iter().all(|o| o["object_type"] == "NOTEBOOK"));
    assert!(
        objs.iter()
            .any(|o| o["language"] == "SQL" && o["path"] == "/Shared/langs/SQL")
    );
    let raw =
        e.c.get(format!(
            "{}/api/2.0/workspace/export?path=/Shared/langs/PYTHON&direct_download=true",
            e.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.starts_with("# Databricks notebook source\n"));
    let (s, v) = e.get("/api/2.0/workspace/list?path=/nope").await;
    assert_eq!(
        (s, v["error_code"].as_str(), v["message"].as_str()),
        (
            404,
            Some("RESOURCE_DOES_NOT_EXIST"),
            Some("Path (/nope) doesn't exist.")
        )
    );
}

#[tokio::test]
async fn import_mkdirs_status_delete() {
    let e = Emu::fast().await;
    let content = base64::engine::general_purpose::STANDARD.encode("print(1)");
    let (s, v) = e
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/a/b/nb", "language": "PYTHON", "content": content}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, _) = e
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/Shared/nb", "format": "SOURCE", "content": content}),
        )
        .await;
    assert_eq!(s, 400);
    e.ok("/api/2.0/workspace/mkdirs", json!({"path": "/a/b"}))
        .await;
    e.ok(
        "/api/2.0/workspace/import",
        json!({"path": "/a/b/nb", "language": "PYTHON", "content": content}),
    )
    .await;
    let (s, v) = e
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/a/b/nb", "language": "PYTHON", "content": content}),
        )
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (409, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (_, st) = e
        .get("/api/2.0/workspace/get-status?path=/Workspace/a/b/nb")
        .await;
    assert_eq!(
        (st["object_type"].as_str(), st["language"].as_str()),
        (Some("NOTEBOOK"), Some("PYTHON"))
    );
    // AUTO strips the extension of a notebook source file; multipart import works too
    let auto =
        base64::engine::general_purpose::STANDARD.encode("-- Databricks notebook source\nSELECT 1");
    e.ok(
        "/api/2.0/workspace/import",
        json!({"path": "/a/b/q.sql", "format": "AUTO", "content": auto}),
    )
    .await;
    let (_, st) = e.get("/api/2.0/workspace/get-status?path=/a/b/q").await;
    assert_eq!(st["language"], "SQL");
    let boundary = "XyZbOuNdArY";
    let mut mp = String::new();
    for (k, v) in [
        ("path", "/a/b/m"),
        ("format", "SOURCE"),
        ("language", "SCALA"),
    ] {
        mp.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    mp.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"m.scala\"\r\nContent-Type: application/octet-stream\r\n\r\nprintln(1)\r\n--{boundary}--\r\n"));
    let r =
        e.c.post(format!("{}/api/2.0/workspace/import", e.url))
            .bearer_auth(TOKEN)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(mp)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, st) = e.get("/api/2.0/workspace/get-status?path=/a/b/m").await;
    assert_eq!(st["language"], "SCALA");
    let (s, _) = e
        .post("/api/2.0/workspace/delete", json!({"path": "/a"}))
        .await;
    assert_eq!(s, 400);
    e.ok(
        "/api/2.0/workspace/delete",
        json!({"path": "/a", "recursive": true}),
    )
    .await;
    let (s, _) = e.get("/api/2.0/workspace/get-status?path=/a/b/nb").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn seeds_from_directory() {
    let dir = polysync_testkit::write_files(&[
        (
            "proj/etl.py",
            "# Databricks notebook source\n# emulator: exit=seeded\n",
        ),
        ("proj/q.sql", "SELECT 1\n"),
    ]);
    let e = Emu::start(|c| c.workspace_dir = Some(dir.path().to_path_buf())).await;
    let (_, v) = e.get("/api/2.0/workspace/list?path=/proj").await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    let id = e.submit_notebook("/proj/etl", json!({})).await;
    e.wait_run(id).await;
    let (_, out) = e
        .get(&format!("/api/2.1/jobs/runs/get-output?run_id={id}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "seeded");
}

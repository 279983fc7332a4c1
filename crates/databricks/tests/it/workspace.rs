use polysync_databricks::models::*;

use crate::*;

#[tokio::test]
async fn list_and_export_every_language() {
    let emu = emulator().await;
    let c = client(&emu);
    let cases = [
        (
            Language::Python,
            "# Databricks notebook source\nprint(1)\n",
            "py",
        ),
        (
            Language::Scala,
            "// Databricks notebook source\nprintln(1)\n",
            "scala",
        ),
        (
            Language::Sql,
            "-- Databricks notebook source\nSELECT 1\n",
            "sql",
        ),
        (Language::R, "# Databricks notebook source\nprint(1)\n", "r"),
    ];
    c.workspace()
        .mkdirs("/Shared/langs/sub")
        .await
        .expect("mkdirs");
    for (lang, src, ext) in &cases {
        let path = format!("/Shared/langs/sub/nb_{ext}");
        c.workspace()
            .import(&ImportRequest::source_notebook(
                &path,
                lang.clone(),
                src,
                true,
            ))
            .await
            .expect("import");
    }
    let top = c.workspace().list("/Shared/langs").await.expect("list");
    assert!(
        top.iter()
            .any(|o| o.object_type == Some(ObjectType::Directory))
    );
    let all = c
        .workspace()
        .list_recursive("/Shared/langs")
        .await
        .expect("recursive");
    let notebooks: Vec<_> = all
        .iter()
        .filter(|o| o.object_type == Some(ObjectType::Notebook))
        .collect();
    assert_eq!(notebooks.len(), 4);
    for (lang, src, ext) in &cases {
        let path = format!("/Shared/langs/sub/nb_{ext}");
        let info = c.workspace().get_status(&path).await.expect("status");
        assert_eq!(info.language.as_ref(), Some(lang));
        let s = c
            .workspace()
            .export(&path, ExportFormat::Source)
            .await
            .expect("source");
        assert!(
            s.text().contains(src.lines().nth(1).expect("line")),
            "{}",
            s.text()
        );
        let j = c
            .workspace()
            .export(&path, ExportFormat::Jupyter)
            .await
            .expect("jupyter");
        let v: serde_json::Value = serde_json::from_slice(&j.content).expect("ipynb json");
        assert_eq!(v["nbformat"], 4);
    }
    let err = c
        .workspace()
        .list("/does/not/exist")
        .await
        .expect_err("404");
    assert!(err.is_not_found());
}

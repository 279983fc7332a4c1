//! Discovery is per object and per kind: one bad notebook or a kind the
//! workspace refuses is reported and skipped, the rest is imported, and
//! nothing that discovery could not see is marked removed.

use std::collections::BTreeMap;

use base64::Engine as _;
use polysync_emulator::FaultConfig;
use polysync_engine::{JobFilter, JobType, NoProgress};
use serde_json::json;

use crate::harness::{PLATFORM, e2e};

e2e!(
    a_notebook_with_an_invalid_widget_is_skipped_not_fatal,
    |env| {
        let source =
            "# Databricks notebook source\ndbutils.widgets.text(\"bad\\u0007name\", \"x\")\n";
        let source = source.replace("\\u0007", "\u{7}");
        env.post(
            "/api/2.0/workspace/import",
            json!({
                "path": "/Shared/etl/zz_bad_widget",
                "format": "SOURCE",
                "language": "PYTHON",
                "content": base64::engine::general_purpose::STANDARD.encode(source),
            }),
        )
        .await;
        let report = env
            .engine
            .import(PLATFORM, &NoProgress)
            .await
            .expect("a partial import is not an error");
        assert!(report.is_partial(), "{report:?}");
        assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
        let skipped = &report.skipped[0];
        assert_eq!(skipped.job_type, JobType::DatabricksNotebook);
        assert_eq!(skipped.object, "/Shared/etl/zz_bad_widget");
        assert!(!skipped.reason.is_empty());
        // The good notebooks, jobs, workflows and pipelines are all there.
        let jobs = env
            .engine
            .list_jobs(&JobFilter::default())
            .await
            .expect("jobs");
        for t in JobType::ALL {
            assert!(jobs.iter().any(|j| j.job_type == t), "no {t:?} imported");
        }
        assert!(
            jobs.iter()
                .all(|j| j.external_id != "/Shared/etl/zz_bad_widget")
        );
    }
);

e2e!(
    a_refused_kind_is_skipped_and_its_jobs_are_not_marked_removed,
    |env| {
        let first = env.import().await;
        assert!(!first.is_partial(), "{first:?}");
        let pipelines_before = env
            .engine
            .list_jobs(&JobFilter {
                job_type: Some(JobType::DatabricksPipeline),
                ..JobFilter::default()
            })
            .await
            .expect("pipelines");
        assert!(!pipelines_before.is_empty());
        for status in [404_u16, 403, 501] {
            env.emu.set_faults(FaultConfig {
                refused_endpoints: BTreeMap::from([("GET pipelines".to_owned(), status)]),
                ..FaultConfig::default()
            });
            let report = env
                .engine
                .import(PLATFORM, &NoProgress)
                .await
                .expect("partial, not failed");
            assert!(report.is_partial(), "HTTP {status}: {report:?}");
            let refused: Vec<_> = report.skipped.iter().filter(|s| s.whole_kind).collect();
            assert_eq!(refused.len(), 1, "{refused:?}");
            assert_eq!(refused[0].job_type, JobType::DatabricksPipeline);
            assert_eq!(refused[0].object, "pipelines");
            assert!(
                refused[0].reason.contains(&status.to_string()) || !refused[0].reason.is_empty()
            );
            assert!(
                report.removed.is_empty(),
                "nothing unseen is removed: {report:?}"
            );
            assert!(!report.unchanged.is_empty());
            let pipelines = env
                .engine
                .list_jobs(&JobFilter {
                    job_type: Some(JobType::DatabricksPipeline),
                    ..JobFilter::default()
                })
                .await
                .expect("pipelines");
            assert_eq!(pipelines, pipelines_before, "pipelines kept as they were");
        }
        // Everything refused is a failed import, not a partial one.
        env.emu.set_faults(FaultConfig {
            refused_endpoints: BTreeMap::from([
                ("GET pipelines".to_owned(), 403),
                ("GET jobs/list".to_owned(), 403),
                ("GET workspace/list".to_owned(), 403),
            ]),
            ..FaultConfig::default()
        });
        assert!(env.engine.import(PLATFORM, &NoProgress).await.is_err());
        env.emu.set_faults(FaultConfig::default());
    }
);

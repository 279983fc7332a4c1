use std::time::Duration;

use polysync_arazzo::{ArazzoError, EndStatus, RunOptions};
use serde_json::{Value, json};

use crate::support::*;

async fn seed_bundle() -> polysync_arazzo::Bundle {
    let p = shared_corpus().join("arazzo/azure-databricks-create-job-and-run-workflow.yml");
    polysync_arazzo::load(p.to_str().unwrap()).await.unwrap()
}

fn seed_opts() -> RunOptions {
    let mut o = fast();
    o.servers
        .insert("azureDatabricksApi".into(), "http://dbx.test/api".into());
    o
}

#[tokio::test]
async fn seed_success_path_polls_until_terminated() {
    let b = seed_bundle().await;
    let fake = fake_databricks("SUCCESS", "done");
    let inputs: Value = serde_json::from_str(SEED_INPUTS).unwrap();
    let r = run_with(&b, None, inputs, seed_opts(), &fake).await;
    assert!(r.succeeded(), "{:?}\n{}", r.error, r.report());
    assert_eq!(
        r.outputs,
        json!({"jobId": 42, "runId": 7, "resultState": "SUCCESS", "notebookResult": "done"})
    );
    assert_eq!(
        fake.paths(),
        vec![
            "POST /api/2.1/jobs/create",
            "POST /api/2.1/jobs/run-now",
            "GET /api/2.1/jobs/runs/get",
            "GET /api/2.1/jobs/runs/get",
            "GET /api/2.1/jobs/runs/get",
            "GET /api/2.1/jobs/runs/get-output"
        ]
    );
    // The trace is redacted.
    let t = r.trace_json().to_string();
    assert!(!t.contains("tok-123"), "token leaked into the trace");
    assert!(r.report().contains("pollRun"));
    assert!(!r.report().contains("tok-123"));
}

#[tokio::test]
async fn seed_failure_path_ends_without_fetching_output() {
    let b = seed_bundle().await;
    let fake = fake_databricks("FAILED", "unused");
    let inputs: Value = serde_json::from_str(SEED_INPUTS).unwrap();
    let r = run_with(&b, None, inputs, seed_opts(), &fake).await;
    assert!(r.succeeded(), "{:?}", r.error);
    assert_eq!(r.outputs["resultState"], "FAILED");
    assert_eq!(r.outputs["notebookResult"], Value::Null);
    assert!(
        matches!(r.status, Some(EndStatus::Ended { ref action, .. }) if action == "finishedNotSuccess")
    );
    assert!(!fake.paths().iter().any(|p| p.ends_with("get-output")));
}

#[tokio::test]
async fn seed_default_revisit_delay_spaces_polls_by_a_second() {
    let b = seed_bundle().await;
    let fake = fake_databricks("SUCCESS", "x");
    let inputs: Value = serde_json::from_str(SEED_INPUTS).unwrap();
    let mut o = RunOptions::default();
    o.servers
        .insert("azureDatabricksApi".into(), "http://dbx.test/api".into());
    let r = run_with(&b, None, inputs, o, &fake).await;
    assert!(r.succeeded());
    let log = fake.log.lock().unwrap();
    let polls: Vec<_> = log
        .iter()
        .filter(|(_, r)| r.url.contains("runs/get?"))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(polls.len(), 3);
    for w in polls.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(999),
            "{:?}",
            w[1] - w[0]
        );
    }
}

#[tokio::test]
async fn seed_strict_mode_rejects_the_off_spec_document() {
    let b = seed_bundle().await;
    let fake = fake_databricks("SUCCESS", "x");
    let inputs = serde_json::from_str::<Value>(SEED_INPUTS)
        .unwrap()
        .as_object()
        .cloned()
        .unwrap();
    let mut o = strict();
    o.servers
        .insert("azureDatabricksApi".into(), "http://dbx.test/api".into());
    let e = polysync_arazzo::run(&b, None, inputs, &[], o, &fake)
        .await
        .unwrap_err();
    let ArazzoError::Invalid(d) = e else {
        panic!("{e}")
    };
    assert!(
        d.iter()
            .any(|d| d.message.contains("bare runtime expression"))
    );
    assert!(
        d.iter()
            .any(|d| d.message.contains("comparison of JSONPath"))
    );
    assert!(fake.paths().is_empty());
}

#[tokio::test]
async fn inputs_are_validated_and_typed_before_any_request() {
    let b = seed_bundle().await;
    let fake = fake_databricks("SUCCESS", "x");
    let e = polysync_arazzo::run(
        &b,
        None,
        Default::default(),
        &[("token".into(), "t".into())],
        seed_opts(),
        &fake,
    )
    .await
    .unwrap_err();
    let ArazzoError::Inputs { problems, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(fake.paths().is_empty());
}

#[tokio::test]
async fn platform_credential_fills_the_token_input() {
    let b = seed_bundle().await;
    let fake = fake_databricks("SUCCESS", "done");
    let mut inputs: Value = serde_json::from_str(SEED_INPUTS).unwrap();
    inputs.as_object_mut().unwrap().remove("token");
    let mut o = seed_opts();
    o.credential = Some("tok-123".into());
    let r = run_with(&b, None, inputs, o, &fake).await;
    assert!(r.succeeded(), "{:?}", r.error);
    assert!(!r.trace_json().to_string().contains("tok-123"));
}

const ACTIONS: &str = r#"
workflows:
- workflowId: main
  inputs: {type: object, properties: {id: {type: integer}}}
  steps:
  - stepId: get
    operationId: getPet
    parameters: [{name: petId, in: path, value: $inputs.id}]
    successCriteria: [{condition: $statusCode == 200}]
    onFailure:
    - {name: retryBusy, type: retry, retryAfter: 0.01, retryLimit: 2, criteria: [{condition: $statusCode == 503}]}
    - {name: gone, type: end, criteria: [{condition: $statusCode == 404}]}
    - {name: toFallback, type: goto, stepId: fallback, criteria: [{condition: $statusCode == 500}]}
    onSuccess:
    - {name: skip, type: goto, stepId: last, criteria: [{condition: $response.body#/skip == true}]}
    outputs: {name: $response.body#/name}
  - stepId: fallback
    operationId: listPets
    parameters: [{name: limit, in: query, value: 1}]
  - stepId: last
    operationId: listPets
  outputs:
    name: $steps.get.outputs.name
    last: $steps.last.outputs.x
"#;

#[tokio::test]
async fn retry_then_success_then_goto() {
    let (_d, b) = pets_bundle(&doc(ACTIONS)).await;
    let fake = Fake::new(|req, n| {
        if req.url.contains("/pets/5") {
            if n < 2 {
                resp(503, json!({}))
            } else {
                resp(200, json!({"name": "rex", "skip": true}))
            }
        } else {
            resp(200, json!([]))
        }
    });
    let r = run_with(&b, None, json!({"id": 5}), fast(), &fake).await;
    assert!(r.succeeded(), "{:?}", r.error);
    assert_eq!(
        fake.paths(),
        vec![
            "GET /v1/pets/5",
            "GET /v1/pets/5",
            "GET /v1/pets/5",
            "GET /v1/pets"
        ]
    );
    assert_eq!(r.outputs["name"], "rex");
    assert_eq!(r.outputs["last"], Value::Null);
}

#[tokio::test]
async fn retry_limit_exhausted_falls_to_later_actions_then_fails() {
    let (_d, b) = pets_bundle(&doc(ACTIONS)).await;
    let fake = Fake::new(|_, _| resp(503, json!({})));
    let r = run_with(&b, None, json!({"id": 5}), fast(), &fake).await;
    // 1 attempt + 2 retries, then no action matches ⇒ failure.
    assert_eq!(fake.paths().len(), 3);
    assert!(matches!(r.error, Some(ArazzoError::StepFailed { ref step, .. }) if step == "get"));
}

#[tokio::test]
async fn failure_end_and_failure_goto() {
    let (_d, b) = pets_bundle(&doc(ACTIONS)).await;
    let fake = Fake::new(|_, _| resp(404, json!({})));
    let r = run_with(&b, None, json!({"id": 5}), fast(), &fake).await;
    assert!(r.succeeded());
    assert!(matches!(
        r.status,
        Some(EndStatus::Ended {
            after_failure: true,
            ..
        })
    ));
    let fake = Fake::new(|req, _| {
        if req.url.contains("/pets/") {
            resp(500, json!({}))
        } else {
            resp(200, json!({}))
        }
    });
    let r = run_with(&b, None, json!({"id": 5}), fast(), &fake).await;
    assert!(r.succeeded());
    assert_eq!(
        fake.paths(),
        vec!["GET /v1/pets/5", "GET /v1/pets", "GET /v1/pets"]
    );
    assert!(fake.requests()[1].url.ends_with("?limit=1"));
}

#[tokio::test]
async fn transport_errors_are_step_failures() {
    struct Down;
    impl polysync_arazzo::Sender for Down {
        fn send<'a>(
            &'a self,
            _: &'a polysync_arazzo::HttpRequest,
        ) -> polysync_arazzo::http::SendFuture<'a> {
            Box::pin(async { Err("connection refused".to_string()) })
        }
    }
    let (_d, b) = pets_bundle(&doc(ACTIONS)).await;
    let r = polysync_arazzo::run(
        &b,
        None,
        json!({"id": 1}).as_object().cloned().unwrap(),
        &[],
        fast(),
        &Down,
    )
    .await
    .unwrap();
    assert!(r.error.unwrap().to_string().contains("connection refused"));
}

const NESTED: &str = r#"
components:
  inputs:
    petInput: {type: object, required: [id], properties: {id: {type: integer}}}
  parameters:
    limit: {name: limit, in: query, value: 10}
  successActions:
    done: {name: done, type: end}
  failureActions:
    retryOnce: {name: retryOnce, type: retry, retryAfter: 0}
workflows:
- workflowId: child
  inputs: {$ref: '#/components/inputs/petInput'}
  steps:
  - stepId: fetch
    operationId: getPet
    parameters: [{name: petId, in: path, value: $inputs.id}]
    outputs: {name: $response.body#/name}
  outputs: {petName: $steps.fetch.outputs.name}
- workflowId: parent
  dependsOn: [child]
  inputs: {type: object, properties: {id: {type: integer}}}
  parameters:
  - {reference: $components.parameters.limit, value: 3}
  failureActions:
  - {reference: $components.failureActions.retryOnce}
  steps:
  - stepId: callChild
    workflowId: child
    parameters: [{name: id, value: 9}]
    outputs: {fromChild: $outputs.petName}
  - stepId: add
    operationId: addPet
    requestBody:
      payload: {name: "{$steps.callChild.outputs.fromChild}-2", tags: [a], meta: {owner: x}}
      replacements:
      - {target: /meta/owner, value: $workflows.child.outputs.petName}
      - {target: /tags/-, value: $inputs.id}
    onSuccess:
    - {reference: $components.successActions.done}
  - stepId: never
    operationId: listPets
  outputs:
    child: $workflows.child.outputs.petName
    added: $steps.add.outputs.x
"#;

#[tokio::test]
async fn nested_workflows_components_replacements_depends_on() {
    let (_d, b) = pets_bundle(&doc(NESTED)).await;
    let fake = Fake::new(|req, n| {
        if req.method == "POST" {
            if n == 2 {
                resp(500, json!({}))
            } else {
                resp(201, json!({"ok": true}))
            }
        } else {
            let id = req
                .url
                .rsplit('/')
                .next()
                .unwrap()
                .split('?')
                .next()
                .unwrap()
                .to_string();
            resp(200, json!({"name": format!("pet{id}")}))
        }
    });
    let r = run_with(&b, Some("parent"), json!({"id": 4}), fast(), &fake).await;
    assert!(r.succeeded(), "{:?}\n{}", r.error, r.report());
    let reqs = fake.requests();
    // dependsOn ran child with the parent's inputs (id 4), then the step ran it with id 9.
    assert_eq!(reqs[0].url, "http://pets.test/v1/pets/4");
    assert_eq!(reqs[1].url, "http://pets.test/v1/pets/9");
    // Workflow-level parameter from a component, with its value overridden.
    assert_eq!(reqs[2].url, "http://pets.test/v1/pets?limit=3");
    // POST failed once (workflow-level retry component), then succeeded.
    assert_eq!(reqs[2].method, "POST");
    assert_eq!(
        body(&reqs[3]),
        json!({"name": "pet9-2", "tags": ["a", 4], "meta": {"owner": "pet9"}})
    );
    assert_eq!(reqs.len(), 4, "end action stopped before `never`");
    assert_eq!(r.outputs, json!({"child": "pet9", "added": null}));
}

#[tokio::test]
async fn form_bodies_cookies_headers_operation_path() {
    let flow = doc(r#"
workflows:
- workflowId: w
  parameters:
  - {name: X-Trace, in: header, value: abc}
  steps:
  - stepId: login
    operationPath: '{$sourceDescriptions.pets.url}#/paths/~1login/post'
    parameters:
    - {name: session, in: cookie, value: s1}
    - {name: x-trace, in: header, value: overridden}
    requestBody:
      payload: {user: "$inputs.user", scope: "a b"}
    outputs:
      sentUser: $request.body#/user
      sentHeader: $request.header.x-trace
      method: $method
      url: $url
"#);
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({"user": "ann"}), fast(), &fake).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let req = &fake.requests()[0];
    assert_eq!(req.body.as_deref(), Some("scope=a+b&user=ann"));
    assert_eq!(req.header("cookie"), Some("session=s1"));
    assert_eq!(req.header("x-trace"), Some("overridden"));
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.outputs, json!({}));
    let outs = &r.trace.steps[0].outputs;
    assert_eq!(outs["sentUser"], "ann");
    assert_eq!(outs["sentHeader"], "overridden");
    assert_eq!(outs["method"], "POST");
    assert_eq!(outs["url"], "http://pets.test/v1/login");
}

#[tokio::test]
async fn goto_workflow_hands_over() {
    let flow = doc(r#"
workflows:
- workflowId: a
  steps:
  - stepId: s
    operationId: listPets
    onSuccess: [{name: toB, type: goto, workflowId: b}]
  - stepId: never
    operationId: listPets
  outputs: {x: $steps.s.outputs.none, b: $workflows.b.outputs.y}
- workflowId: b
  steps:
  - {stepId: t, operationId: getPet, parameters: [{name: petId, in: path, value: 1}], outputs: {y: $statusCode}}
  outputs: {y: $steps.t.outputs.y}
"#);
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, Some("a"), json!({}), fast(), &fake).await;
    assert!(r.succeeded(), "{:?}", r.error);
    assert_eq!(fake.paths(), vec!["GET /v1/pets", "GET /v1/pets/1"]);
    assert_eq!(r.outputs, json!({"x": null, "b": 200}));
    assert!(matches!(r.status, Some(EndStatus::Handed { .. })));
}

const LOOP: &str = r#"
workflows:
- workflowId: loop
  steps:
  - stepId: poll
    operationId: listPets
    onSuccess: [{name: again, type: goto, stepId: poll}]
"#;

#[tokio::test]
async fn step_limit_stops_a_runaway_loop() {
    let (_d, b) = pets_bundle(&doc(LOOP)).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let mut o = fast();
    o.min_revisit_delay = Duration::ZERO;
    o.max_steps = 25;
    let r = run_with(&b, None, json!({}), o, &fake).await;
    assert!(
        matches!(r.error, Some(ArazzoError::StepLimit { limit: 25, .. })),
        "{:?}",
        r.error
    );
    assert_eq!(fake.paths().len(), 25);
    assert_eq!(polysync_arazzo::DEFAULT_MAX_STEPS, 10_000);
}

#[tokio::test]
async fn wall_clock_limit_stops_a_long_run() {
    let (_d, b) = pets_bundle(&doc(LOOP)).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let mut o = fast();
    o.min_revisit_delay = Duration::from_millis(100);
    o.timeout = Duration::from_millis(350);
    let r = run_with(&b, None, json!({}), o, &fake).await;
    assert!(
        matches!(r.error, Some(ArazzoError::Timeout { .. })),
        "{:?}",
        r.error
    );
    assert!(fake.paths().len() <= 5);
    assert_eq!(
        polysync_arazzo::DEFAULT_TIMEOUT,
        Duration::from_secs(6 * 3600)
    );
    assert_eq!(
        polysync_arazzo::DEFAULT_MIN_REVISIT_DELAY,
        Duration::from_secs(1)
    );
}

#[tokio::test]
async fn absent_inputs_take_their_schema_default_in_both_modes() {
    // Optional inputs with a JSON Schema `default` (the corpus's `eventLimit: {default: 50}`,
    // `autoterminationMinutes: {default: 30}`) are sent with that default, also to nested
    // workflows; an input given explicitly wins.
    let (_d, b) = pets_bundle(&doc(r#"workflows:
- workflowId: outer
  inputs:
    type: object
    properties:
      limit: {type: integer, default: 50}
      name: {type: string, default: rex}
  steps:
  - stepId: list
    operationId: listPets
    parameters: [{name: limit, in: query, value: $inputs.limit}]
  - stepId: add
    operationId: addPet
    requestBody: {payload: {name: $inputs.name}}
  - stepId: nested
    workflowId: inner
  outputs: {limit: $inputs.limit, innerKind: $workflows.inner.outputs.kind}
- workflowId: inner
  inputs:
    type: object
    properties:
      kind: {type: string, default: dog}
  steps:
  - stepId: add
    operationId: addPet
    requestBody: {payload: {kind: $inputs.kind}}
  outputs: {kind: $inputs.kind}
"#))
    .await;
    for opts in [fast(), strict()] {
        let fake = Fake::new(|_, _| resp(200, json!({})));
        let r = run_with(&b, Some("outer"), json!({"name": "fido"}), opts, &fake).await;
        assert!(r.succeeded(), "{:?}\n{}", r.error, r.report());
        assert_eq!(r.outputs, json!({"limit": 50, "innerKind": "dog"}));
        let reqs = fake.requests();
        assert!(reqs[0].url.ends_with("/pets?limit=50"), "{}", reqs[0].url);
        assert_eq!(body(&reqs[1]), json!({"name": "fido"}));
        assert_eq!(body(&reqs[2]), json!({"kind": "dog"}));
    }
}

//! One named test per silent-spec decision (reference §1.8, A1–A17; README table).

use std::time::Duration;

use polysync_arazzo::criteria::{Tolerance, evaluate};
use polysync_arazzo::document::Criterion;
use polysync_arazzo::{EndStatus, Mode, validate};
use serde_json::{Value, json};

use crate::support::*;

fn one_step(extra: &str) -> String {
    doc(&format!(
        "workflows: [{{workflowId: w, steps: [{{stepId: s, operationId: listPets, {extra}}}, {{stepId: t, operationId: addPet}}]}}]"
    ))
}

#[tokio::test]
async fn a01_jsonpath_comparison_form_is_evaluated_on_the_context() {
    let (_d, b) = pets_bundle(&one_step(
        "onSuccess: [{name: e, type: end, criteria: [{context: $response.body, type: jsonpath, condition: '$.a.b == \"X\" && $.n > 1'}]}]",
    ))
    .await;
    let fake = Fake::new(|_, _| resp(200, json!({"a": {"b": "x"}, "n": 2})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(
        matches!(r.status, Some(EndStatus::Ended { .. })),
        "{:?}",
        r.status
    );
    assert_eq!(fake.paths().len(), 1);
}

#[tokio::test]
async fn a02_jsonpath_strict_root_first_then_wrapped_root_in_compatible_mode() {
    let (_d, b) = pets_bundle(&one_step(
        "onSuccess: [{name: e, type: end, criteria: [{context: $response.body, type: jsonpath, condition: \"$[?@.state == 'DONE']\"}]}]",
    ))
    .await;
    let fake = Fake::new(|_, _| resp(200, json!({"state": "DONE"})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(matches!(r.status, Some(EndStatus::Ended { .. })));
    let step = &r.trace.steps[0];
    assert!(step.action.as_ref().unwrap().criteria[0].tolerated[0].contains("wrapped"));
    // Strict: RFC 9535 root only ⇒ no match ⇒ next step.
    let fake = Fake::new(|_, _| resp(200, json!({"state": "DONE"})));
    let r = run_with(&b, None, json!({}), strict(), &fake).await;
    assert_eq!(fake.paths().len(), 2, "{:?}", r.error);
}

#[tokio::test]
async fn a03_no_matching_success_action_continues_with_next_step() {
    let (_d, b) = pets_bundle(&one_step(
        "onSuccess: [{name: e, type: end, criteria: [{condition: $statusCode == 201}]}]",
    ))
    .await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert_eq!(r.status, Some(EndStatus::Completed));
    assert_eq!(fake.paths(), vec!["GET /v1/pets", "POST /v1/pets"]);
}

#[tokio::test]
async fn a04_step_actions_first_then_workflow_actions_not_overridden_by_name() {
    let flow = doc(r#"
workflows:
- workflowId: w
  successActions:
  - {name: stop, type: end}
  - {name: jump, type: goto, stepId: c}
  steps:
  - stepId: a
    operationId: listPets
    onSuccess: [{name: stop, type: goto, stepId: b, criteria: [{condition: $statusCode == 299}]}]
  - {stepId: b, operationId: addPet}
  - {stepId: c, operationId: deletePet}
"#);
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    // Step `stop` overrides the workflow's `stop` (and does not match), so workflow `jump` wins.
    assert!(fake.paths()[1].starts_with("DELETE /v1/pets/"));
    assert!(r.trace.steps[0].action.as_ref().unwrap().name.as_deref() == Some("jump"));
}

#[tokio::test]
async fn a05_without_success_criteria_any_2xx_succeeds() {
    let (_d, b) = pets_bundle(&one_step("outputs: {}")).await;
    let fake = Fake::new(|_, n| {
        if n == 0 {
            resp(204, Value::Null)
        } else {
            resp(302, json!({}))
        }
    });
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(r.trace.steps[0].success);
    assert!(!r.trace.steps[1].success);
    assert!(r.error.is_some());
}

#[tokio::test]
async fn a06_outputs_of_unrun_steps_and_missing_pointers_are_null() {
    let flow = doc(r#"
workflows:
- workflowId: w
  steps:
  - stepId: a
    operationId: listPets
    onSuccess: [{name: e, type: end}]
    outputs: {missing: $response.body#/nope}
  - {stepId: b, operationId: addPet, outputs: {v: $statusCode}}
  outputs: {a: $steps.a.outputs.missing, b: $steps.b.outputs.v}
"#);
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(r.succeeded());
    assert_eq!(r.outputs, json!({"a": null, "b": null}));
    assert!(r.trace.warnings.iter().any(|w| w.contains("output `b`")));
}

#[tokio::test]
async fn a07_minimum_delay_between_revisits_of_a_step() {
    let flow = doc(r#"
workflows:
- workflowId: w
  steps:
  - stepId: poll
    operationId: listPets
    onSuccess: [{name: again, type: goto, stepId: poll, criteria: [{condition: $response.body#/done == false}]}]
"#);
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, n| resp(200, json!({"done": n >= 3})));
    let mut o = fast();
    o.min_revisit_delay = Duration::from_millis(80);
    run_with(&b, None, json!({}), o, &fake).await;
    let log = fake.log.lock().unwrap();
    assert_eq!(log.len(), 4);
    for w in log.windows(2) {
        assert!(w[1].0 - w[0].0 >= Duration::from_millis(79));
    }
}

#[tokio::test]
async fn a08_limits_have_stated_defaults() {
    let o = polysync_arazzo::RunOptions::default();
    assert_eq!(o.max_steps, 10_000);
    assert_eq!(o.timeout, Duration::from_secs(21_600));
    assert_eq!(o.max_depth, 16);
}

#[tokio::test]
async fn a09_retry_limit_absent_means_one_retry_and_retry_after_header_wins() {
    let (_d, b) = pets_bundle(&one_step(
        "onFailure: [{name: r, type: retry, retryAfter: 30}]",
    ))
    .await;
    let fake = Fake::new(|_, _| polysync_arazzo::HttpResponse {
        status: 503,
        headers: vec![("Retry-After".into(), "0.05".into())],
        body: json!({}),
    });
    let t = std::time::Instant::now();
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "Retry-After overrules retryAfter"
    );
    assert_eq!(fake.paths().len(), 2, "one retry");
    assert!(r.error.is_some());
}

#[tokio::test]
async fn a10_bare_expression_inside_a_string_is_interpolated() {
    let (_d, b) = pets_bundle(&one_step(
        "parameters: [{name: Authorization, in: header, value: Bearer $inputs.tok}]",
    ))
    .await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({"tok": "abc"}), fast(), &fake).await;
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some("Bearer abc")
    );
    assert!(
        r.trace.steps[0]
            .warnings
            .iter()
            .any(|w| w.contains("bare runtime expression"))
    );
}

#[tokio::test]
async fn a11_end_on_success_path_is_a_normal_end() {
    let (_d, b) = pets_bundle(&one_step("onSuccess: [{name: finishedNotSuccess, type: end, criteria: [{condition: $response.body#/result == 'FAILED'}]}]")).await;
    let fake = Fake::new(|_, _| resp(200, json!({"result": "FAILED"})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert!(r.succeeded());
    assert!(matches!(
        r.status,
        Some(EndStatus::Ended {
            after_failure: false,
            ..
        })
    ));
}

#[test]
fn a12_string_comparisons_are_case_insensitive() {
    use polysync_arazzo::criteria::{CmpOp, compare};
    assert!(compare(
        Some(&json!("Terminated")),
        CmpOp::Eq,
        Some(&json!("TERMINATED"))
    ));
    assert!(compare(Some(&json!("a")), CmpOp::Lt, Some(&json!("B"))));
    assert!(compare(Some(&json!("10")), CmpOp::Eq, Some(&json!(10))));
    assert!(!compare(None, CmpOp::Eq, Some(&json!(0))));
    assert!(compare(None, CmpOp::Eq, Some(&Value::Null)));
}

#[test]
fn a13_whole_condition_braces_are_tolerated() {
    let (_, t) = polysync_arazzo::criteria::parse_condition("{$statusCode == 401}", false).unwrap();
    assert_eq!(t, vec![Tolerance::WrappedBraces]);
}

#[tokio::test]
async fn a14_spec_example_errors_are_not_fixed() {
    let flow = doc(
        "workflows: [{workflowId: w, steps: [{stepId: loginStep, operationId: login, outputs: {t: $response.body}}], outputs: {t: $steps.loginUser.outputs.sessionToken}}]",
    );
    let (_d, b) = pets_bundle(&flow).await;
    let d = validate(&b, Mode::Compatible);
    assert!(
        d.iter()
            .any(|d| d.is_error() && d.message.contains("loginUser"))
    );
}

#[tokio::test]
async fn a15_redocly_spellings_are_tolerated_with_warnings() {
    let flow = doc(
        "workflows: [{workflowId: w, steps: [{stepId: a, operationId: pets.listPets}, {stepId: b, operationPath: '$sourceDescriptions.pets#/paths/~1pets/get'}]}]",
    );
    let (_d, b) = pets_bundle(&flow).await;
    let d = validate(&b, Mode::Compatible);
    assert_eq!(d.iter().filter(|d| !d.is_error()).count(), 2, "{d:#?}");
    assert!(d.iter().all(|d| !d.is_error()));
    assert_eq!(
        validate(&b, Mode::Strict)
            .iter()
            .filter(|d| d.is_error())
            .count(),
        2
    );
}

#[test]
fn a16_simple_criterion_with_context_ignores_the_context() {
    let c = Criterion {
        context: Some("$response.body".into()),
        condition: Some("1 == 1".into()),
        kind: Some(json!("simple")),
    };
    let inputs = json!({});
    let steps = Default::default();
    let wfs = Default::default();
    let sources = Default::default();
    let scope = polysync_arazzo::expr::Scope {
        inputs: &inputs,
        steps: &steps,
        workflows: &wfs,
        outputs: &Value::Null,
        request: None,
        response: None,
        sources: &sources,
        components: &Value::Null,
    };
    assert!(evaluate(&c, &scope, true).passed);
}

#[tokio::test]
async fn a17_request_header_reads_what_was_sent_even_if_undeclared() {
    let (_d, b) = pets_bundle(&one_step("parameters: [{name: X-Undeclared, in: header, value: v1}], outputs: {h: $request.header.x-undeclared}")).await;
    let fake = Fake::new(|_, _| resp(200, json!({})));
    let r = run_with(&b, None, json!({}), fast(), &fake).await;
    assert_eq!(r.trace.steps[0].outputs["h"], "v1");
}

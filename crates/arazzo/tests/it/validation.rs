use polysync_arazzo::{Mode, Severity, validate};

use crate::support::*;

async fn diags(arazzo: &str, mode: Mode) -> Vec<polysync_arazzo::Diagnostic> {
    let (_d, b) = pets_bundle(arazzo).await;
    validate(&b, mode)
}

fn errors(d: &[polysync_arazzo::Diagnostic]) -> Vec<String> {
    d.iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect()
}

/// Eleven distinct errors, each reported once with its location.
const BROKEN: &str = r#"
arazzo: 1.0.1
info: {title: broken}
sourceDescriptions:
- {name: pets, url: ./pets.yml, type: openapi}
- {name: gone, url: ./missing.yml, type: openapi}
workflows:
- workflowId: w
  steps:
  - stepId: a
    operationId: noSuchOperation
  - stepId: a
    operationId: listPets
    outputs: {x: $steps.nope.outputs.y}
  - stepId: c
    operationId: listPets
    parameters: [{name: limit, value: 1}]
    onSuccess: [{name: jump, type: goto, stepId: nowhere}]
  - stepId: d
    operationId: listPets
    workflowId: w
  - stepId: e
    operationId: listPets
    parameters: [{reference: $components.parameters.absent}]
    successCriteria: [{condition: $statusCode ==}]
- workflowId: w
  steps: [{stepId: z, operationId: listPets}]
"#;

#[tokio::test]
async fn k_distinct_errors_give_k_located_diagnostics() {
    let d = diags(BROKEN, Mode::Compatible).await;
    let e = errors(&d);
    let expected = [
        "info.version: missing required field `version`",
        "sourceDescriptions[gone].url: cannot load",
        "workflows[w].steps[a].operationId: unknown operationId `noSuchOperation`",
        "workflows[w].steps[a]: duplicate stepId `a`",
        "workflows[w].steps[a].outputs.x: `$steps.nope.outputs.y` refers to step `nope`",
        "workflows[w].steps[c].parameters[limit]: operation parameters need `in`",
        "workflows[w].steps[c].onSuccess[jump].stepId: goto target step `nowhere` does not exist",
        "workflows[w].steps[d]: a step needs exactly one of operationId, operationPath, workflowId (found 2)",
        "workflows[w].steps[e].parameters[$components.parameters.absent].reference: `$components.parameters.absent` does not exist",
        "workflows[w].steps[e].successCriteria[0].condition: expected an operand",
        "workflows[w]: duplicate workflowId `w`",
    ];
    assert_eq!(e.len(), expected.len(), "{e:#?}");
    for x in expected {
        assert!(e.iter().any(|m| m.contains(x)), "missing `{x}` in {e:#?}");
    }
    assert!(e.iter().all(|m| m.contains("flow.arazzo.yml: ")));
}

#[tokio::test]
async fn each_validation_error_alone() {
    let cases: &[(&str, &str)] = &[
        (
            "arazzo: 2.0.0\ninfo: {title: t, version: '1'}\nsourceDescriptions: [{name: pets, url: ./pets.yml}]\nworkflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets}]}]",
            "unsupported Arazzo version",
        ),
        (
            "arazzo: 1.0.1\ninfo: {title: t, version: '1'}\nsourceDescriptions: [{name: pets, url: ./pets.yml}]\nworkflows: []",
            "at least one workflow",
        ),
        (
            "arazzo: 1.0.1\ninfo: {title: t, version: '1'}\nsourceDescriptions: []\nworkflows: [{workflowId: w, steps: [{stepId: s, workflowId: w}]}]",
            "at least one source description",
        ),
        (
            &doc("workflows: [{workflowId: w, steps: []}]"),
            "at least one step",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, dependsOn: [x], steps: [{stepId: s, operationId: listPets}]}]",
            ),
            "unknown workflowId `x`",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, onFailure: [{name: r, type: retry, stepId: s, workflowId: w}]}]}]",
            ),
            "mutually exclusive",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, onSuccess: [{name: r, type: retry}]}]}]",
            ),
            "type must be one of end, goto",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, onSuccess: [{name: r, type: goto}]}]}]",
            ),
            "goto needs a stepId or a workflowId",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, successCriteria: [{condition: x, type: regex}]}]}]",
            ),
            "needs a `context`",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, successCriteria: [{condition: /a, context: $response.body, type: xpath}]}]}]",
            ),
            "not supported",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, parameters: [{name: a, in: query, value: 1}, {name: a, in: query, value: 2}]}]}]",
            ),
            "duplicate parameter",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, onSuccess: [{name: a, type: end}, {name: a, type: end}]}]}]",
            ),
            "duplicate action name",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, outputs: {x: $components.parameters.nope}}]}]",
            ),
            "does not exist",
        ),
        (
            &doc(
                "workflows: [{workflowId: a, dependsOn: [b], steps: [{stepId: s, operationId: listPets}]}, {workflowId: b, dependsOn: [a], steps: [{stepId: s, operationId: listPets}]}]",
            ),
            "dependsOn cycle",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationPath: '{$sourceDescriptions.pets.url}#/paths/~1nope/get'}]}]",
            ),
            "no `get /nope` operation",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, inputs: {$ref: '#/components/inputs/nope'}, steps: [{stepId: s, operationId: listPets}]}]",
            ),
            "points to nothing",
        ),
        (
            &doc(
                "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, onSuccess: [{name: g, type: goto, workflowId: nope}]}]}]",
            ),
            "unknown workflowId `nope`",
        ),
    ];
    for (text, needle) in cases {
        let d = diags(text, Mode::Compatible).await;
        let e = errors(&d);
        assert_eq!(e.len(), 1, "{needle}: {e:#?}");
        assert!(e[0].contains(needle), "{needle}: {e:#?}");
    }
}

/// Each compatibility tolerance: a warning by default, an error with --strict.
#[tokio::test]
async fn tolerances_warn_by_default_and_fail_strict() {
    let cases: &[(&str, &str)] = &[
        (
            "parameters: [{name: Authorization, in: header, value: Bearer $inputs.token}]",
            "bare runtime expression",
        ),
        (
            "successCriteria: [{condition: '$statusCode == \"200\"'}]",
            "double quotes",
        ),
        (
            "successCriteria: [{condition: '{$statusCode == 200}'}]",
            "wrapped in `{…}`",
        ),
        (
            "successCriteria: [{condition: '$response.header.Content-Type == application/json'}]",
            "unquoted word",
        ),
        (
            "successCriteria: [{context: $response.body, type: jsonpath, condition: \"$.state == 'X'\"}]",
            "comparison of JSONPath",
        ),
        ("operationId: pets.listPets", "source-prefixed operationId"),
    ];
    for (extra, needle) in cases {
        let text = if extra.starts_with("operationId") {
            doc(&format!(
                "workflows: [{{workflowId: w, steps: [{{stepId: s, {extra}}}]}}]"
            ))
        } else {
            doc(&format!(
                "workflows: [{{workflowId: w, steps: [{{stepId: s, operationId: listPets, {extra}}}]}}]"
            ))
        };
        let d = diags(&text, Mode::Compatible).await;
        assert!(errors(&d).is_empty(), "{needle}: {d:#?}");
        assert!(
            d.iter()
                .any(|d| d.severity == Severity::Warning && d.message.contains(needle)),
            "{needle}: {d:#?}"
        );
        let d = diags(&text, Mode::Strict).await;
        let e = errors(&d);
        assert_eq!(e.len(), 1, "{needle}: {e:#?}");
        assert!(e[0].contains(needle));
    }
}

#[tokio::test]
async fn unresolved_output_is_null_by_default_and_fails_strict() {
    let flow = doc(
        "workflows: [{workflowId: w, steps: [{stepId: s, operationId: listPets, outputs: {rs: $response.body#/state/result_state}}], outputs: {rs: $steps.s.outputs.rs}}]",
    );
    let (_d, b) = pets_bundle(&flow).await;
    let fake = Fake::new(|_, _| resp(200, serde_json::json!({"state": {}})));
    let r = run_with(&b, None, serde_json::json!({}), fast(), &fake).await;
    assert!(r.succeeded());
    assert_eq!(r.outputs["rs"], serde_json::Value::Null);
    assert!(
        r.trace.steps[0]
            .warnings
            .iter()
            .any(|w| w.contains("reaches no value"))
    );
    let r = run_with(&b, None, serde_json::json!({}), strict(), &fake).await;
    assert!(r.error.is_some());
}

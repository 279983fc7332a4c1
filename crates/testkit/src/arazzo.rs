//! The Arazzo fixture two suites share (the engine's Arazzo-job tests and the CLI's): a
//! one-step workflow over the emulator's `workspace/get-status`, described by a small OpenAPI
//! document, with Input parameters of three kinds and two outputs.

use std::path::{Path, PathBuf};

/// An OpenAPI 3.0 description of the emulator's `GET /api/2.0/workspace/get-status`; the server
/// URL is replaced at run time by the platform's host.
pub const WORKSPACE_OPENAPI: &str = r#"openapi: 3.0.3
info: { title: workspace, version: "1" }
servers:
  - url: https://adb-0000.0.azuredatabricks.net
paths:
  /api/2.0/workspace/get-status:
    get:
      operationId: getStatus
      parameters:
        - { name: path, in: query, required: true, schema: { type: string } }
      responses:
        "200": { description: the object }
"#;

/// Workflow `lookup`: inputs `path` (default `/Shared/behaviour/success`), `depth`, `token`;
/// outputs `x` (the object's path) and `kind` (its object type). Reads its source description
/// from `./workspace.openapi.yaml` beside it.
pub const LOOKUP_ARAZZO: &str = r#"arazzo: 1.0.1
info: { title: lookup, version: "1" }
sourceDescriptions:
  - { name: ws, url: ./workspace.openapi.yaml, type: openapi }
workflows:
  - workflowId: lookup
    inputs:
      type: object
      properties:
        path: { type: string, default: /Shared/behaviour/success }
        depth: { type: integer }
        token: { type: string }
    steps:
      - stepId: status
        operationId: getStatus
        parameters:
          - { name: path, in: query, value: $inputs.path }
        successCriteria:
          - condition: $statusCode == 200
        outputs:
          found: $response.body#/path
          kind: $response.body#/object_type
    outputs:
      x: $steps.status.outputs.found
      kind: $steps.status.outputs.kind
"#;

/// Writes [`LOOKUP_ARAZZO`] as `lookup.arazzo.yaml` and its OpenAPI source into `dir`;
/// returns the Arazzo file's path.
///
/// # Panics
/// When a file cannot be written.
pub fn write_lookup_docs(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("workspace.openapi.yaml"), WORKSPACE_OPENAPI).expect("openapi");
    let path = dir.join("lookup.arazzo.yaml");
    std::fs::write(&path, LOOKUP_ARAZZO).expect("arazzo");
    path
}

//! Typed Arazzo 1.0.x model.
//!
//! Every field the spec marks as required is still an `Option` here: a missing
//! field must become a located diagnostic from [`crate::validate`] (reported
//! together with all other problems), not a serde error that stops at the first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The root Arazzo object.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Document {
    /// Spec version (kept raw so `1.0` written as a YAML float can be reported).
    pub arazzo: Option<Value>,
    /// Document metadata.
    pub info: Option<Info>,
    /// The APIs and Arazzo documents the workflows use.
    pub source_descriptions: Vec<SourceDescription>,
    /// The workflows.
    pub workflows: Vec<Workflow>,
    /// Reusable objects, private to this document.
    pub components: Components,
}

/// Document metadata.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Info {
    /// Required title.
    pub title: Option<String>,
    /// Short summary.
    pub summary: Option<String>,
    /// Long description.
    pub description: Option<String>,
    /// Document version (not the spec version).
    pub version: Option<Value>,
}

/// A named OpenAPI or Arazzo description.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SourceDescription {
    /// Unique name, used in `$sourceDescriptions.<name>`.
    pub name: Option<String>,
    /// URI reference, relative ones resolve against the Arazzo file.
    pub url: Option<String>,
    /// `openapi` or `arazzo`; guessed from the content when absent.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A workflow.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Workflow {
    /// Unique id.
    pub workflow_id: Option<String>,
    /// Short summary.
    pub summary: Option<String>,
    /// Long description.
    pub description: Option<String>,
    /// JSON Schema of the inputs.
    pub inputs: Option<Value>,
    /// Workflows that must complete first.
    pub depends_on: Vec<String>,
    /// Ordered steps.
    pub steps: Vec<Step>,
    /// Success actions for every step.
    pub success_actions: Vec<Action>,
    /// Failure actions for every step.
    pub failure_actions: Vec<Action>,
    /// Output name → runtime expression.
    pub outputs: BTreeMap<String, Value>,
    /// Parameters for every step.
    pub parameters: Vec<Parameter>,
}

/// A step.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Step {
    /// Unique id within the workflow.
    pub step_id: Option<String>,
    /// Long description.
    pub description: Option<String>,
    /// Target: an OpenAPI operationId.
    pub operation_id: Option<String>,
    /// Target: `{$sourceDescriptions.x.url}#/paths/...`.
    pub operation_path: Option<String>,
    /// Target: another workflow.
    pub workflow_id: Option<String>,
    /// Parameters (inputs when the target is a workflow).
    pub parameters: Vec<Parameter>,
    /// Request body.
    pub request_body: Option<RequestBody>,
    /// All must pass for the step to succeed.
    pub success_criteria: Vec<Criterion>,
    /// Actions after success.
    pub on_success: Vec<Action>,
    /// Actions after failure.
    pub on_failure: Vec<Action>,
    /// Output name → runtime expression.
    pub outputs: BTreeMap<String, Value>,
}

/// A parameter, or a Reusable Object pointing at `$components.parameters.x`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Parameter {
    /// Name (case-sensitive, headers compared case-insensitively).
    pub name: Option<String>,
    /// `path`, `query`, `header` or `cookie`.
    #[serde(rename = "in")]
    pub location: Option<String>,
    /// Constant or runtime expression.
    pub value: Option<Value>,
    /// Set when this is a Reusable Object.
    pub reference: Option<String>,
}

/// A success or failure action, or a Reusable Object pointing at one.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Action {
    /// Name (unique in its list).
    pub name: Option<String>,
    /// `end`, `goto` or (failure only) `retry`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// goto/retry target workflow.
    pub workflow_id: Option<String>,
    /// goto/retry target step.
    pub step_id: Option<String>,
    /// All must pass for the action to apply.
    pub criteria: Vec<Criterion>,
    /// Seconds to wait before a retry.
    pub retry_after: Option<f64>,
    /// Number of retries (absent ⇒ 1).
    pub retry_limit: Option<u64>,
    /// Set when this is a Reusable Object.
    pub reference: Option<String>,
}

/// A criterion.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Criterion {
    /// Runtime expression giving the value the condition applies to.
    pub context: Option<String>,
    /// The condition text.
    pub condition: Option<String>,
    /// `simple`, `regex`, `jsonpath`, `xpath` or an expression-type object.
    #[serde(rename = "type")]
    pub kind: Option<Value>,
}

/// A request body.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestBody {
    /// Content type; the operation's declared one when absent.
    pub content_type: Option<String>,
    /// The payload (expressions at leaves, a whole-value expression or a template).
    pub payload: Option<Value>,
    /// Changes applied after the payload is evaluated.
    pub replacements: Vec<Replacement>,
}

/// A payload replacement.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Replacement {
    /// JSON Pointer into the payload.
    pub target: Option<String>,
    /// Constant or runtime expression.
    pub value: Option<Value>,
}

/// Reusable components.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Components {
    /// JSON Schemas referenced with `$ref: '#/components/inputs/x'`.
    pub inputs: BTreeMap<String, Value>,
    /// Reusable parameters.
    pub parameters: BTreeMap<String, Parameter>,
    /// Reusable success actions.
    pub success_actions: BTreeMap<String, Action>,
    /// Reusable failure actions.
    pub failure_actions: BTreeMap<String, Action>,
}

impl Document {
    /// Finds a workflow by id.
    pub fn workflow(&self, id: &str) -> Option<&Workflow> {
        self.workflows
            .iter()
            .find(|w| w.workflow_id.as_deref() == Some(id))
    }
}

impl Workflow {
    /// The id, or `?` when missing (already reported by validation).
    pub fn id(&self) -> &str {
        self.workflow_id.as_deref().unwrap_or("?")
    }

    /// Index of a step by id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.step_id.as_deref() == Some(id))
    }
}

impl Step {
    /// The id, or `?` when missing (already reported by validation).
    pub fn id(&self) -> &str {
        self.step_id.as_deref().unwrap_or("?")
    }
}

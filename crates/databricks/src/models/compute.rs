//! Cluster specifications (`new_cluster`), as used by job tasks and job clusters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{Extra, string_enum};

/// A `new_cluster` block. Only the fields Polysync sets are typed; everything else (cloud
/// attributes, init scripts, …) survives in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Databricks Runtime version, e.g. `15.4.x-scala2.12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_version: Option<String>,
    /// Worker VM type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type_id: Option<String>,
    /// Driver VM type (defaults to `node_type_id` server side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_node_type_id: Option<String>,
    /// Fixed worker count (exclusive with `autoscale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_workers: Option<i32>,
    /// Autoscaling range (exclusive with `num_workers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoScale>,
    /// Instance pool for workers (the "existing instance pool" compute type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_pool_id: Option<String>,
    /// Instance pool for the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_instance_pool_id: Option<String>,
    /// Cluster policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Spark configuration key/values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_conf: Option<BTreeMap<String, String>>,
    /// Environment variables for Spark processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_env_vars: Option<BTreeMap<String, String>>,
    /// Tags put on cloud resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_tags: Option<BTreeMap<String, String>>,
    /// Unity Catalog access mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_security_mode: Option<String>,
    /// Runtime engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_engine: Option<RuntimeEngine>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Autoscaling bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoScale {
    /// Lower bound of workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_workers: Option<i32>,
    /// Upper bound of workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<i32>,
}

/// Identifies the cluster a task run executed on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInstance {
    /// Cluster id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Spark context id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_context_id: Option<String>,
}

string_enum! {
    /// Spark engine of a cluster.
    RuntimeEngine { Standard = "STANDARD", Photon = "PHOTON", Null = "NULL" }
}

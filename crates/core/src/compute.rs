//! Compute resolution: which cluster a notebook run executes on.
//!
//! The seeds put compute on the Platform, never on the Job, so every notebook
//! run of a platform lands on the same kind of compute. Validation lives here
//! so an impossible combination is refused when the platform is saved rather
//! than when Databricks answers `INVALID_PARAMETER_VALUE` at run time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Where runs/submit tasks execute.
///
/// Serialised as the flag spelling (`existing-cluster`); the older names
/// (`ExistingInteractiveCluster`) are still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ComputeType {
    /// A fresh cluster per run (slow start, full isolation).
    #[serde(rename = "new-job-cluster", alias = "NewJobCluster")]
    NewJobCluster,
    /// An all-purpose cluster that already runs.
    #[serde(rename = "existing-cluster", alias = "ExistingInteractiveCluster")]
    ExistingInteractiveCluster,
    /// A new cluster drawn from a warm instance pool.
    #[serde(rename = "instance-pool", alias = "ExistingInstancePool")]
    ExistingInstancePool,
    /// Databricks-managed serverless compute; no compute block is sent.
    #[default]
    #[serde(rename = "serverless", alias = "Serverless")]
    Serverless,
}

impl ComputeType {
    /// Every variant, for help texts and exhaustive tests.
    pub const ALL: [ComputeType; 4] = [
        ComputeType::NewJobCluster,
        ComputeType::ExistingInteractiveCluster,
        ComputeType::ExistingInstancePool,
        ComputeType::Serverless,
    ];

    /// Stable spelling used in storage and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ComputeType::NewJobCluster => "NewJobCluster",
            ComputeType::ExistingInteractiveCluster => "ExistingInteractiveCluster",
            ComputeType::ExistingInstancePool => "ExistingInstancePool",
            ComputeType::Serverless => "Serverless",
        }
    }
}

impl ComputeType {
    /// The user-facing identifier, as the `--compute` flag and the JSON
    /// output spell it (`existing-cluster`); [`as_str`](Self::as_str) is
    /// the storage spelling. One spelling per medium, so an error never
    /// names a value the user cannot type.
    pub fn id(self) -> &'static str {
        match self {
            ComputeType::NewJobCluster => "new-job-cluster",
            ComputeType::ExistingInteractiveCluster => "existing-cluster",
            ComputeType::ExistingInstancePool => "instance-pool",
            ComputeType::Serverless => "serverless",
        }
    }
}

/// Displays the user-facing identifier ([`ComputeType::id`]), which is what
/// messages show.
impl fmt::Display for ComputeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for ComputeType {
    type Err = Error;

    /// Accepts the canonical spelling and kebab/snake variants
    /// (`existing-interactive-cluster`), because users type these by hand.
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_' && *c != ' ')
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match key.as_str() {
            "newjobcluster" | "newcluster" => ComputeType::NewJobCluster,
            "existinginteractivecluster" | "existingcluster" => {
                ComputeType::ExistingInteractiveCluster
            }
            "existinginstancepool" | "instancepool" => ComputeType::ExistingInstancePool,
            "serverless" => ComputeType::Serverless,
            _ => {
                return Err(Error::UnknownVariant {
                    what: "compute type",
                    value: s.to_owned(),
                    expected: "new-job-cluster, existing-cluster, instance-pool, serverless",
                });
            }
        })
    }
}

/// The platform's compute attributes, named as in the seeds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Compute {
    /// Which kind of compute runs use.
    pub compute_type: ComputeType,
    /// Databricks Runtime version (`spark_version`), e.g. `15.4.x-scala2.12`.
    #[serde(default)]
    pub cluster_version: Option<String>,
    /// Cluster node type (`node_type_id`).
    #[serde(default)]
    pub node_type: Option<String>,
    /// Number of worker nodes; defaults to [`Compute::DEFAULT_WORKERS`].
    #[serde(default)]
    pub num_workers: Option<u32>,
    /// Cluster id for [`ComputeType::ExistingInteractiveCluster`].
    #[serde(default)]
    pub existing_cluster_id: Option<String>,
    /// Instance pool id for [`ComputeType::ExistingInstancePool`].
    #[serde(default)]
    pub existing_instance_pool: Option<String>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Compute {
    /// Workers used when a new cluster is requested without a count: one
    /// worker is the smallest shape Databricks accepts without single-node
    /// configuration.
    pub const DEFAULT_WORKERS: u32 = 1;

    /// Serverless compute, the default because it needs no further fields.
    pub fn serverless() -> Self {
        Self::default()
    }

    /// Refuses combinations Databricks would reject, naming the field.
    ///
    /// Attributes that the chosen compute type ignores are refused too: a
    /// stale `existing_cluster_id` on a serverless platform is almost always
    /// a mistake the user wants to hear about.
    pub fn validate(&self) -> Result<()> {
        let ct = self.compute_type;
        let need = |field: &'static str, v: &Option<String>, why: &str| -> Result<()> {
            if present(v).is_none() {
                return Err(Error::platform(
                    field,
                    format!("required when the compute type is {ct}: {why}"),
                ));
            }
            Ok(())
        };
        let forbid = |field: &'static str, set: bool, used_by: &str| -> Result<()> {
            if set {
                return Err(Error::platform(
                    field,
                    format!(
                        "is only used with compute type {used_by}, but the compute type is {ct}; remove it or change the compute type"
                    ),
                ));
            }
            Ok(())
        };
        match ct {
            ComputeType::NewJobCluster => {
                need(
                    "cluster_version",
                    &self.cluster_version,
                    "set the Databricks Runtime version, e.g. 15.4.x-scala2.12",
                )?;
                need(
                    "node_type",
                    &self.node_type,
                    "set the cluster node type, e.g. Standard_DS3_v2",
                )?;
                forbid(
                    "existing_cluster_id",
                    present(&self.existing_cluster_id).is_some(),
                    "existing-cluster",
                )?;
                forbid(
                    "existing_instance_pool",
                    present(&self.existing_instance_pool).is_some(),
                    "instance-pool",
                )?;
            }
            ComputeType::ExistingInteractiveCluster => {
                need(
                    "existing_cluster_id",
                    &self.existing_cluster_id,
                    "set the id of the running all-purpose cluster",
                )?;
                let new_cluster = "new-job-cluster or instance-pool";
                forbid(
                    "cluster_version",
                    present(&self.cluster_version).is_some(),
                    new_cluster,
                )?;
                forbid(
                    "node_type",
                    present(&self.node_type).is_some(),
                    "new-job-cluster",
                )?;
                forbid("num_workers", self.num_workers.is_some(), new_cluster)?;
                forbid(
                    "existing_instance_pool",
                    present(&self.existing_instance_pool).is_some(),
                    "instance-pool",
                )?;
            }
            ComputeType::ExistingInstancePool => {
                need(
                    "existing_instance_pool",
                    &self.existing_instance_pool,
                    "set the instance pool id",
                )?;
                need(
                    "cluster_version",
                    &self.cluster_version,
                    "a cluster drawn from a pool still needs a Databricks Runtime version",
                )?;
                forbid(
                    "node_type",
                    present(&self.node_type).is_some(),
                    "new-job-cluster",
                )?;
                forbid(
                    "existing_cluster_id",
                    present(&self.existing_cluster_id).is_some(),
                    "existing-cluster",
                )?;
            }
            ComputeType::Serverless => {
                let any = "new-job-cluster, existing-cluster or instance-pool";
                forbid(
                    "cluster_version",
                    present(&self.cluster_version).is_some(),
                    any,
                )?;
                forbid("node_type", present(&self.node_type).is_some(), any)?;
                forbid("num_workers", self.num_workers.is_some(), any)?;
                forbid(
                    "existing_cluster_id",
                    present(&self.existing_cluster_id).is_some(),
                    any,
                )?;
                forbid(
                    "existing_instance_pool",
                    present(&self.existing_instance_pool).is_some(),
                    any,
                )?;
            }
        }
        Ok(())
    }

    /// The task-level compute fields of a runs/submit task.
    ///
    /// Serverless yields an empty map: Databricks picks serverless compute
    /// when a notebook task carries no compute at all. Call
    /// [`Compute::validate`] first; missing fields are simply left out here.
    pub fn compute_block(&self) -> Map<String, Value> {
        let mut block = Map::new();
        let workers = self.num_workers.unwrap_or(Self::DEFAULT_WORKERS);
        match self.compute_type {
            ComputeType::ExistingInteractiveCluster => {
                if let Some(id) = present(&self.existing_cluster_id) {
                    block.insert("existing_cluster_id".into(), json!(id));
                }
            }
            ComputeType::NewJobCluster => {
                let mut c = Map::new();
                if let Some(v) = present(&self.cluster_version) {
                    c.insert("spark_version".into(), json!(v));
                }
                if let Some(v) = present(&self.node_type) {
                    c.insert("node_type_id".into(), json!(v));
                }
                c.insert("num_workers".into(), json!(workers));
                block.insert("new_cluster".into(), Value::Object(c));
            }
            ComputeType::ExistingInstancePool => {
                let mut c = Map::new();
                if let Some(v) = present(&self.cluster_version) {
                    c.insert("spark_version".into(), json!(v));
                }
                if let Some(v) = present(&self.existing_instance_pool) {
                    c.insert("instance_pool_id".into(), json!(v));
                }
                c.insert("num_workers".into(), json!(workers));
                block.insert("new_cluster".into(), Value::Object(c));
            }
            ComputeType::Serverless => {}
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> &'static str {
        match e {
            Error::InvalidPlatform { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn existing_cluster_without_id_names_the_field() {
        let c = Compute {
            compute_type: ComputeType::ExistingInteractiveCluster,
            ..Compute::default()
        };
        assert_eq!(field_of(c.validate().unwrap_err()), "existing_cluster_id");
    }

    #[test]
    fn new_job_cluster_requires_version_then_node_type() {
        let mut c = Compute {
            compute_type: ComputeType::NewJobCluster,
            ..Compute::default()
        };
        assert_eq!(field_of(c.validate().unwrap_err()), "cluster_version");
        c.cluster_version = Some("15.4.x-scala2.12".into());
        assert_eq!(field_of(c.validate().unwrap_err()), "node_type");
        c.node_type = Some("Standard_DS3_v2".into());
        c.validate().unwrap();
    }

    #[test]
    fn instance_pool_requires_pool_id() {
        let c = Compute {
            compute_type: ComputeType::ExistingInstancePool,
            cluster_version: Some("15.4.x-scala2.12".into()),
            ..Compute::default()
        };
        assert_eq!(
            field_of(c.validate().unwrap_err()),
            "existing_instance_pool"
        );
    }

    #[test]
    fn blank_strings_count_as_missing() {
        let c = Compute {
            compute_type: ComputeType::ExistingInteractiveCluster,
            existing_cluster_id: Some("  ".into()),
            ..Compute::default()
        };
        assert_eq!(field_of(c.validate().unwrap_err()), "existing_cluster_id");
    }

    #[test]
    fn serverless_refuses_leftover_cluster_id() {
        let c = Compute {
            existing_cluster_id: Some("0101-abc".into()),
            ..Compute::default()
        };
        assert_eq!(field_of(c.validate().unwrap_err()), "existing_cluster_id");
    }

    #[test]
    fn compute_blocks_per_type() {
        let existing = Compute {
            compute_type: ComputeType::ExistingInteractiveCluster,
            existing_cluster_id: Some("0101-abc".into()),
            ..Compute::default()
        };
        assert_eq!(
            Value::Object(existing.compute_block()),
            json!({"existing_cluster_id": "0101-abc"})
        );
        let new = Compute {
            compute_type: ComputeType::NewJobCluster,
            cluster_version: Some("15.4.x-scala2.12".into()),
            node_type: Some("Standard_DS3_v2".into()),
            num_workers: Some(2),
            ..Compute::default()
        };
        assert_eq!(
            Value::Object(new.compute_block()),
            json!({"new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": 2}})
        );
        let pool = Compute {
            compute_type: ComputeType::ExistingInstancePool,
            cluster_version: Some("15.4.x-scala2.12".into()),
            existing_instance_pool: Some("pool-1".into()),
            ..Compute::default()
        };
        assert_eq!(
            Value::Object(pool.compute_block()),
            json!({"new_cluster": {"spark_version": "15.4.x-scala2.12", "instance_pool_id": "pool-1", "num_workers": 1}})
        );
        assert!(Compute::serverless().compute_block().is_empty());
    }

    #[test]
    fn compute_type_parses_loose_spellings() {
        for ct in ComputeType::ALL {
            assert_eq!(ct.as_str().parse::<ComputeType>().unwrap(), ct);
        }
        assert_eq!(
            "existing-instance-pool".parse::<ComputeType>().unwrap(),
            ComputeType::ExistingInstancePool
        );
        assert!("gpu".parse::<ComputeType>().is_err());
    }
}

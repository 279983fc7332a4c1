//! Conversions between the domain's and the client's Jobs API version.

/// The client's spelling of the platform's Jobs API version.
pub(crate) fn api_version(v: polysync_core::JobsApiVersion) -> polysync_databricks::JobsApiVersion {
    match v {
        polysync_core::JobsApiVersion::V2_1 => polysync_databricks::JobsApiVersion::V2_1,
        polysync_core::JobsApiVersion::V2_2 => polysync_databricks::JobsApiVersion::V2_2,
    }
}

//! Azure settings: which cloud (authority, management endpoint) and the service principal
//! the Azure credentials carry, shared by the builder and profile/env resolution.

use secrecy::SecretString;

use crate::error::{Error, Result};

/// Azure Databricks first-party application id, the AAD resource tokens are requested for.
pub const AZURE_DATABRICKS_RESOURCE_ID: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

/// Azure cloud, selecting the Entra ID authority and management endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AzureEnvironment {
    /// Public cloud.
    #[default]
    Public,
    /// US Government cloud.
    UsGovernment,
    /// China cloud.
    China,
}

impl AzureEnvironment {
    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "" | "PUBLIC" | "AZUREPUBLICCLOUD" => Ok(Self::Public),
            "USGOVERNMENT" | "USGOV" | "AZUREUSGOVERNMENTCLOUD" => Ok(Self::UsGovernment),
            "CHINA" | "AZURECHINACLOUD" => Ok(Self::China),
            other => Err(Error::Config(format!("unknown ARM_ENVIRONMENT {other}"))),
        }
    }

    /// Entra ID authority (login host) of this cloud.
    pub fn authority(self) -> &'static str {
        match self {
            Self::Public => "https://login.microsoftonline.com/",
            Self::UsGovernment => "https://login.microsoftonline.us/",
            Self::China => "https://login.chinacloudapi.cn/",
        }
    }

    /// Service-management resource, for the `X-Databricks-Azure-SP-Management-Token` header.
    pub fn management_endpoint(self) -> &'static str {
        match self {
            Self::Public => "https://management.core.windows.net/",
            Self::UsGovernment => "https://management.core.usgovcloudapi.net/",
            Self::China => "https://management.core.chinacloudapi.cn/",
        }
    }
}

/// Azure service principal (client secret) settings.
#[derive(Debug, Clone)]
pub struct AzureServicePrincipal {
    /// Entra tenant id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Authority base URL; the token endpoint is `{authority}/{tenant_id}/oauth2/token`.
    pub authority: String,
    /// Resource the workspace token is requested for.
    pub resource: String,
    /// Resource of the management token; `None` skips the management-token header.
    pub management_resource: Option<String>,
    /// Sent as `X-Databricks-Azure-Workspace-Resource-Id` when set.
    pub workspace_resource_id: Option<String>,
}

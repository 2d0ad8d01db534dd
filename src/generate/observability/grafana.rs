//! Grafana provisioning: the datasources and the dashboard provider. Server settings (admin
//! credentials, sub-path, anonymous access) are environment variables of the Grafana container,
//! set by the containers generator.

use serde::Serialize;

use super::tool_prefix;
use crate::blueprint::InternalTool;
use crate::model::{ALERTMANAGER_PORT, Model, PROMETHEUS_PORT};

/// The Prometheus datasource's fixed UID, which every dashboard panel refers to (through the
/// `datasource` variable, whose default it is).
pub const PROMETHEUS_UID: &str = "prometheus";
/// The Alertmanager datasource's fixed UID.
pub const ALERTMANAGER_UID: &str = "alertmanager";
/// Where the dashboards are mounted in the Grafana container.
pub const DASHBOARDS_DIR: &str = "/var/lib/grafana/dashboards";

/// `datasources.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasources {
    /// Provisioning format version.
    pub api_version: u32,
    /// The datasources.
    pub datasources: Vec<Datasource>,
}

/// One datasource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    /// Display name.
    pub name: String,
    /// Stable identifier dashboards refer to.
    pub uid: String,
    /// Plugin type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Queries go through the Grafana server.
    pub access: String,
    /// The server's URL on the Compose network.
    pub url: String,
    /// The default datasource.
    pub is_default: bool,
    /// Provisioned: not editable in the UI.
    pub editable: bool,
    /// Plugin settings.
    pub json_data: serde_json::Map<String, serde_json::Value>,
}

/// `dashboards.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardProviders {
    /// Provisioning format version.
    pub api_version: u32,
    /// The providers.
    pub providers: Vec<DashboardProvider>,
}

/// A file provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardProvider {
    /// Its name.
    pub name: String,
    /// The organization.
    pub org_id: u32,
    /// The folder dashboards land in.
    pub folder: String,
    /// `file`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Dashboards removed from disk may not be deleted from the UI either.
    pub disable_deletion: bool,
    /// The files are the source of truth: UI edits could not be saved back.
    pub allow_ui_updates: bool,
    /// How often the directory is rescanned.
    pub update_interval_seconds: u32,
    /// Where the files are.
    pub options: ProviderOptions,
}

/// File provider options.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderOptions {
    /// The directory.
    pub path: String,
    /// One folder for all: no sub-directories are generated.
    pub folders_from_files_structure: bool,
}

/// The datasources: Prometheus (default) and Alertmanager, both at their route prefix when
/// exposed at a sub-path (they serve there, not at `/`).
pub fn datasources(model: &Model) -> Datasources {
    let prometheus_url = format!(
        "http://prometheus:{PROMETHEUS_PORT}{}",
        tool_prefix(model, InternalTool::Prometheus).unwrap_or_default()
    );
    let alertmanager_url = format!(
        "http://alertmanager:{ALERTMANAGER_PORT}{}",
        tool_prefix(model, InternalTool::Alertmanager).unwrap_or_default()
    );
    let mut prometheus_settings = serde_json::Map::new();
    prometheus_settings.insert("httpMethod".into(), "POST".into());
    // `$__rate_interval` needs to know the scrape interval.
    prometheus_settings.insert(
        "timeInterval".into(),
        model.monitoring.scrape_interval.clone().into(),
    );
    let mut alertmanager_settings = serde_json::Map::new();
    alertmanager_settings.insert("implementation".into(), "prometheus".into());
    alertmanager_settings.insert("handleGrafanaManagedAlerts".into(), false.into());
    Datasources {
        api_version: 1,
        datasources: vec![
            Datasource {
                name: "Prometheus".into(),
                uid: PROMETHEUS_UID.into(),
                kind: "prometheus".into(),
                access: "proxy".into(),
                url: prometheus_url,
                is_default: true,
                editable: false,
                json_data: prometheus_settings,
            },
            Datasource {
                name: "Alertmanager".into(),
                uid: ALERTMANAGER_UID.into(),
                kind: "alertmanager".into(),
                access: "proxy".into(),
                url: alertmanager_url,
                is_default: false,
                editable: false,
                json_data: alertmanager_settings,
            },
        ],
    }
}

/// The dashboard provider reading the generated dashboards.
pub fn dashboard_providers(model: &Model) -> DashboardProviders {
    DashboardProviders {
        api_version: 1,
        providers: vec![DashboardProvider {
            name: "blueprint".into(),
            org_id: 1,
            folder: model.project.name.clone(),
            kind: "file".into(),
            disable_deletion: true,
            allow_ui_updates: false,
            update_interval_seconds: 30,
            options: ProviderOptions {
                path: DASHBOARDS_DIR.into(),
                folders_from_files_structure: false,
            },
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::generate::to_yaml;

    #[test]
    fn prometheus_is_the_default_datasource_at_its_sub_path() {
        let value = yaml_value(&to_yaml(&datasources(&reference_model())));
        assert_eq!(value["apiVersion"], 1);
        let prometheus = &value["datasources"][0];
        assert_eq!(prometheus["uid"], PROMETHEUS_UID);
        assert_eq!(prometheus["type"], "prometheus");
        assert_eq!(prometheus["url"], "http://prometheus:9090/prometheus");
        assert_eq!(prometheus["isDefault"], true);
        assert_eq!(prometheus["editable"], false);
        assert_eq!(prometheus["jsonData"]["timeInterval"], "15s");
        let alertmanager = &value["datasources"][1];
        assert_eq!(alertmanager["url"], "http://alertmanager:9093");
        assert_eq!(alertmanager["isDefault"], false);
    }

    #[test]
    fn an_unexposed_prometheus_serves_at_the_root() {
        let yaml = reference_yaml().replace(
            "    prometheus:\n      path: /prometheus\n      allow: [10.0.0.0/8]\n",
            "",
        );
        let model = model_from(&yaml);
        assert_eq!(
            datasources(&model).datasources[0].url,
            "http://prometheus:9090"
        );
    }

    #[test]
    fn dashboards_come_from_files_only() {
        let value = yaml_value(&to_yaml(&dashboard_providers(&reference_model())));
        let provider = &value["providers"][0];
        assert_eq!(provider["type"], "file");
        assert_eq!(provider["allowUiUpdates"], false);
        assert_eq!(provider["options"]["path"], DASHBOARDS_DIR);
        assert_eq!(provider["folder"], "data-platform");
    }
}

//! Grafana dashboards as typed JSON: an overview, one RED dashboard per service with metrics,
//! one for scheduled jobs and one for PostgreSQL.
//!
//! Every panel queries through the `datasource` variable (of type `datasource`, defaulting to
//! the provisioned Prometheus), so the dashboards also work against another Prometheus. Panels
//! are current types only (`timeseries`, `stat`, `table`); UIDs are derived from the project and
//! dashboard names and never change between renders.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::host::{PSEUDO_FILESYSTEMS, proxy_metrics_target, public_probe_urls};
use super::rules::{ERROR_RATIO, LATENCY_QUANTILES, REQUEST_RATE, error_ratio_over};
use super::selectors::Produced;
use super::{
    NODE_EXPORTER_HOST, PROBE_JOB, PUBLIC_PROBE_JOB, exporter_host, metered_services,
    monitored_jobs, postgres_stores,
};
use crate::blueprint::ProxyEngine;
use crate::model::{Model, Service};

/// The dashboard JSON schema version written (Grafana 11 and later read it).
pub const SCHEMA_VERSION: u32 = 39;
/// Grafana's limit on dashboard UIDs.
pub const MAX_UID_LENGTH: usize = 40;
/// The dashboards' datasource variable.
const DATASOURCE: &str = "${datasource}";

/// A dashboard and the stem of its file.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardFile {
    /// `overview` for `dashboards/overview.json`.
    pub file_stem: String,
    /// The dashboard.
    pub dashboard: Dashboard,
}

/// A Grafana dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Stable identifier.
    pub uid: String,
    /// Title.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// Tags; the project's name links the dashboards together.
    pub tags: Vec<String>,
    /// Times in UTC, like the cron schedules.
    pub timezone: String,
    /// Provisioned from files: read-only in the UI.
    pub editable: bool,
    /// Shared crosshair (1).
    pub graph_tooltip: u8,
    /// The JSON schema version.
    pub schema_version: u32,
    /// The dashboard's own version.
    pub version: u32,
    /// Auto-refresh.
    pub refresh: String,
    /// Default time range.
    pub time: TimeRange,
    /// Variables.
    pub templating: Templating,
    /// Links to the project's other dashboards.
    pub links: Vec<DashboardLink>,
    /// Panels.
    pub panels: Vec<Panel>,
}

/// A time range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeRange {
    /// Start (`now-6h`).
    pub from: String,
    /// End (`now`).
    pub to: String,
}

/// The variables block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Templating {
    /// Variables.
    pub list: Vec<Variable>,
}

/// A dashboard variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Variable {
    /// Which Prometheus the panels query.
    Datasource(DatasourceVariable),
    /// Label filters Grafana adds to every query of the dashboard: where two environments
    /// share a Prometheus (staging and prod in one cluster), `namespace = prod` shows one of
    /// them without a query of ours naming a namespace.
    Adhoc(AdhocVariable),
}

/// The datasource variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceVariable {
    /// Referenced as `${name}`.
    pub name: String,
    /// Shown label.
    pub label: String,
    /// The datasource plugin type offered.
    pub query: String,
    /// The default choice.
    pub current: VariableOption,
    /// Shown with its label (0).
    pub hide: u8,
    /// Refreshed on dashboard load (1).
    pub refresh: u8,
    /// Only one at a time.
    pub multi: bool,
    /// No "All".
    pub include_all: bool,
}

/// An ad hoc filters variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdhocVariable {
    /// Its name.
    pub name: String,
    /// Shown label.
    pub label: String,
    /// The datasource whose label names and values it offers (the datasource variable). No
    /// filter is chosen by default (Grafana's dashboard schema has no field for a default),
    /// so every namespace shows until one is picked.
    pub datasource: DatasourceRef,
    /// Shown with its label (0).
    pub hide: u8,
}

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableOption {
    /// Shown text.
    pub text: String,
    /// Value.
    pub value: String,
}

/// A link to other dashboards.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardLink {
    /// Shown title.
    pub title: String,
    /// `dashboards`: every dashboard with the tags.
    #[serde(rename = "type")]
    pub kind: String,
    /// Tags selecting the dashboards.
    pub tags: Vec<String>,
    /// One dropdown rather than a link each.
    pub as_dropdown: bool,
    /// Icon.
    pub icon: String,
    /// Keep the variables.
    pub include_vars: bool,
    /// Keep the time range.
    pub keep_time: bool,
    /// Same tab.
    pub target_blank: bool,
    /// Tooltip.
    pub tooltip: String,
}

/// A panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    /// Unique within the dashboard.
    pub id: u32,
    /// `timeseries`, `stat` or `table`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Title.
    pub title: String,
    /// Tooltip text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Position.
    pub grid_pos: GridPos,
    /// Always the `datasource` variable.
    pub datasource: DatasourceRef,
    /// Queries.
    pub targets: Vec<Target>,
    /// Units and overrides.
    pub field_config: FieldConfig,
    /// Panel options.
    pub options: Value,
    /// Transformations (tables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transformations: Vec<Transformation>,
}

/// A panel's place on the 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GridPos {
    /// Height.
    pub h: u32,
    /// Width.
    pub w: u32,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// A datasource reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasourceRef {
    /// Plugin type.
    #[serde(rename = "type")]
    pub kind: String,
    /// UID (here the variable).
    pub uid: String,
}

impl DatasourceRef {
    fn variable() -> Self {
        Self {
            kind: "prometheus".into(),
            uid: DATASOURCE.into(),
        }
    }
}

/// A Prometheus query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `A`, `B`, ...
    pub ref_id: String,
    /// Always the `datasource` variable.
    pub datasource: DatasourceRef,
    /// PromQL.
    pub expr: String,
    /// Series name template.
    pub legend_format: String,
    /// Instant query (tables).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub instant: bool,
    /// `table` for tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Field configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldConfig {
    /// Defaults for every field.
    pub defaults: FieldDefaults,
    /// Overrides (none: the defaults say it all).
    pub overrides: Vec<Value>,
}

/// Field defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDefaults {
    /// Grafana unit id (`reqps`, `percentunit`, `s`, `bytes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Axis minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Shown when there is no data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_value: Option<String>,
    /// How values are coloured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<FieldColor>,
    /// Values shown as text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<ValueMapping>,
    /// Colour steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
}

/// A field's colour scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldColor {
    /// `thresholds`: the colour of the step the value is in.
    pub mode: String,
}

/// A value-to-text mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueMapping {
    /// `value`: exact values.
    #[serde(rename = "type")]
    pub kind: String,
    /// Results by value.
    pub options: BTreeMap<String, MappingResult>,
}

/// What a mapped value shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingResult {
    /// Text.
    pub text: String,
    /// Colour.
    pub color: String,
    /// Order.
    pub index: u32,
}

/// Threshold steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// `absolute`.
    pub mode: String,
    /// Steps, the first without a value (the base).
    pub steps: Vec<ThresholdStep>,
}

/// A threshold step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdStep {
    /// Colour from this value on.
    pub color: String,
    /// The value; `null` for the base step.
    pub value: Option<f64>,
}

/// A data transformation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transformation {
    /// Transformation id (`organize`).
    pub id: String,
    /// Its options.
    pub options: Value,
}

/// A stable dashboard UID from the project and dashboard names: `<project>-<name>` when it
/// fits Grafana's 40 characters, otherwise a prefix and a hash of the whole, so two long names
/// sharing a prefix still differ.
pub fn uid(project: &str, name: &str) -> String {
    let full = format!("{project}-{name}");
    if full.len() <= MAX_UID_LENGTH {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let keep = MAX_UID_LENGTH - hash.len() - 1;
    let prefix: String = full.chars().take(keep).collect();
    format!("{}-{hash}", prefix.trim_end_matches('-'))
}

/// Lays panels out left to right, wrapping at 24 columns.
struct Layout {
    panels: Vec<Panel>,
    x: u32,
    y: u32,
    row_height: u32,
}

impl Layout {
    fn new() -> Self {
        Self {
            panels: Vec::new(),
            x: 0,
            y: 0,
            row_height: 0,
        }
    }

    fn add(&mut self, width: u32, height: u32, mut panel: Panel) {
        if self.x + width > 24 {
            self.y += self.row_height;
            self.x = 0;
            self.row_height = 0;
        }
        panel.id = self.panels.len() as u32 + 1;
        panel.grid_pos = GridPos {
            h: height,
            w: width,
            x: self.x,
            y: self.y,
        };
        self.x += width;
        self.row_height = self.row_height.max(height);
        self.panels.push(panel);
    }

    /// Starts a new row.
    fn break_row(&mut self) {
        if self.x > 0 {
            self.y += self.row_height;
            self.x = 0;
            self.row_height = 0;
        }
    }
}

fn targets(queries: &[(&str, &str)]) -> Vec<Target> {
    queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| Target {
            ref_id: ((b'A' + (i % 26) as u8) as char).to_string(),
            datasource: DatasourceRef::variable(),
            expr: (*expr).to_string(),
            legend_format: (*legend).to_string(),
            instant: false,
            format: None,
        })
        .collect()
}

fn panel(
    kind: &str,
    title: &str,
    description: &str,
    unit: &str,
    queries: &[(&str, &str)],
    options: Value,
) -> Panel {
    Panel {
        id: 0,
        kind: kind.into(),
        title: title.into(),
        description: description.into(),
        grid_pos: GridPos {
            h: 0,
            w: 0,
            x: 0,
            y: 0,
        },
        datasource: DatasourceRef::variable(),
        targets: targets(queries),
        field_config: FieldConfig {
            defaults: FieldDefaults {
                unit: (!unit.is_empty()).then(|| unit.to_string()),
                min: None,
                no_value: None,
                color: None,
                mappings: Vec::new(),
                thresholds: None,
            },
            overrides: Vec::new(),
        },
        options,
        transformations: Vec::new(),
    }
}

fn timeseries(title: &str, description: &str, unit: &str, queries: &[(&str, &str)]) -> Panel {
    let mut p = panel(
        "timeseries",
        title,
        description,
        unit,
        queries,
        json!({
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "desc"}
        }),
    );
    p.field_config.defaults.min = Some(0.0);
    p
}

fn stat(title: &str, description: &str, unit: &str, queries: &[(&str, &str)]) -> Panel {
    panel(
        "stat",
        title,
        description,
        unit,
        queries,
        json!({
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
            "textMode": "auto"
        }),
    )
}

/// A stat of 0/1 values shown as DOWN (red) / UP (green).
fn up_stat(title: &str, description: &str, queries: &[(&str, &str)]) -> Panel {
    let mut p = stat(title, description, "", queries);
    p.options["colorMode"] = json!("background");
    p.options["graphMode"] = json!("none");
    p.options["textMode"] = json!("value_and_name");
    p.field_config.defaults.no_value = Some("no data".into());
    let defaults = &mut p.field_config.defaults;
    defaults.color = Some(FieldColor {
        mode: "thresholds".into(),
    });
    let state = |text: &str, color: &str, index: u32| MappingResult {
        text: text.into(),
        color: color.into(),
        index,
    };
    defaults.mappings = vec![ValueMapping {
        kind: "value".into(),
        options: BTreeMap::from([
            ("0".to_string(), state("DOWN", "red", 0)),
            ("1".to_string(), state("UP", "green", 1)),
        ]),
    }];
    defaults.thresholds = Some(Thresholds {
        mode: "absolute".into(),
        steps: vec![
            ThresholdStep {
                color: "red".into(),
                value: None,
            },
            ThresholdStep {
                color: "green".into(),
                value: Some(1.0),
            },
        ],
    });
    p
}

fn dashboard(
    model: &Model,
    name: &str,
    title: String,
    description: String,
    panels: Vec<Panel>,
) -> Dashboard {
    Dashboard {
        uid: uid(&model.project.name, name),
        title,
        description,
        tags: vec![model.project.name.clone(), "blueprint".into()],
        timezone: "utc".into(),
        editable: false,
        graph_tooltip: 1,
        schema_version: SCHEMA_VERSION,
        version: 1,
        refresh: "1m".into(),
        time: TimeRange {
            from: "now-6h".into(),
            to: "now".into(),
        },
        templating: Templating {
            list: vec![
                Variable::Datasource(DatasourceVariable {
                    name: "datasource".into(),
                    label: "Data source".into(),
                    query: "prometheus".into(),
                    current: VariableOption {
                        text: "Prometheus".into(),
                        value: super::grafana::PROMETHEUS_UID.into(),
                    },
                    hide: 0,
                    refresh: 1,
                    multi: false,
                    include_all: false,
                }),
                Variable::Adhoc(AdhocVariable {
                    name: "filters".into(),
                    label: "Filters".into(),
                    datasource: DatasourceRef::variable(),
                    hide: 0,
                }),
            ],
        },
        links: vec![DashboardLink {
            title: format!("{} dashboards", model.project.name),
            kind: "dashboards".into(),
            tags: vec![model.project.name.clone()],
            as_dropdown: true,
            icon: "external link".into(),
            include_vars: true,
            keep_time: true,
            target_blank: false,
            tooltip: String::new(),
        }],
        panels,
    }
}

/// Every dashboard of the model.
pub fn dashboards(model: &Model) -> Vec<DashboardFile> {
    let mut out = vec![DashboardFile {
        file_stem: "overview".into(),
        dashboard: overview(model),
    }];
    for service in metered_services(model) {
        out.push(DashboardFile {
            file_stem: format!("service-{}", service.name),
            dashboard: red(model, service),
        });
    }
    if monitored_jobs(model).next().is_some() {
        out.push(DashboardFile {
            file_stem: "jobs".into(),
            dashboard: jobs(model),
        });
    }
    if postgres_stores(model).next().is_some() {
        out.push(DashboardFile {
            file_stem: "postgres".into(),
            dashboard: postgres(model),
        });
    }
    out
}

/// `dashboards` with only the panels whose every query reads series `produced` has (a
/// platform's); dashboards left without panels are dropped. Rows of the grid may keep a gap
/// where a panel was.
pub fn over(dashboards: Vec<DashboardFile>, produced: &Produced) -> Vec<DashboardFile> {
    dashboards
        .into_iter()
        .filter_map(|mut file| {
            file.dashboard.panels.retain(|panel| {
                panel
                    .targets
                    .iter()
                    .all(|t| produced.reads_only_produced(&t.expr))
            });
            (!file.dashboard.panels.is_empty()).then_some(file)
        })
        .collect()
}

fn overview(model: &Model) -> Dashboard {
    let mut layout = Layout::new();
    layout.add(
        12,
        6,
        up_stat(
            "Scrape targets",
            "Whether Prometheus can scrape each job (`up`), worst instance per job.",
            &[("min by (job) (up)", "{{job}}")],
        ),
    );
    layout.add(
        12,
        6,
        up_stat(
            "Health checks",
            "Whether each service's health endpoint answers 2xx to the blackbox exporter.",
            &[(
                &format!("min by (service) (probe_success{{job=\"{PROBE_JOB}\"}})"),
                "{{service}}",
            )],
        ),
    );
    if metered_services(model).next().is_some() {
        layout.break_row();
        layout.add(
            8,
            8,
            timeseries(
                "Request rate",
                "Requests per second, 5-minute rate.",
                "reqps",
                &[(REQUEST_RATE, "{{service}}")],
            ),
        );
        layout.add(
            8,
            8,
            timeseries(
                "5xx ratio",
                "Share of requests answered with a 5xx status.",
                "percentunit",
                &[(ERROR_RATIO, "{{service}}")],
            ),
        );
        let (_, p95) = LATENCY_QUANTILES[1];
        layout.add(
            8,
            8,
            timeseries(
                "p95 latency",
                "95th percentile request duration.",
                "s",
                &[(p95, "{{service}}")],
            ),
        );
    }
    layout.break_row();
    let mut alerts = panel(
        "table",
        "Firing alerts",
        "Alerts firing now, from Prometheus' ALERTS series.",
        "",
        &[(
            "sum by (alertname, service, severity) (ALERTS{alertstate=\"firing\"})",
            "",
        )],
        json!({"showHeader": true, "cellHeight": "sm", "footer": {"show": false, "reducer": ["sum"], "fields": ""}}),
    );
    for target in &mut alerts.targets {
        target.instant = true;
        target.format = Some("table".into());
    }
    alerts.field_config.defaults.no_value = Some("No alert is firing".into());
    alerts.transformations.push(Transformation {
        id: "organize".into(),
        options: json!({"excludeByName": {"Time": true, "Value": true}, "indexByName": {"severity": 0, "alertname": 1, "service": 2}}),
    });
    layout.add(24, 8, alerts);
    dashboard(
        model,
        "overview",
        format!("{} overview", model.project.name),
        format!(
            "Health, traffic, errors, latency and firing alerts of {}.",
            model.project.name
        ),
        layout.panels,
    )
}

fn red(model: &Model, service: &Service) -> Dashboard {
    let name = service.name.as_str();
    let mut layout = Layout::new();
    let recorded = |series: &str| format!("{series}{{service=\"{name}\"}}");
    let up = format!("min(up{{job=\"{name}\"}})");
    layout.add(
        6,
        4,
        up_stat(
            "Up",
            "Whether every instance can be scraped.",
            &[(&up, name)],
        ),
    );
    layout.add(
        6,
        4,
        stat(
            "Request rate",
            "Requests per second, 5-minute rate.",
            "reqps",
            &[(&recorded(REQUEST_RATE), "")],
        ),
    );
    layout.add(
        6,
        4,
        stat(
            "5xx ratio",
            "Share of requests answered with a 5xx status.",
            "percentunit",
            &[(&recorded(ERROR_RATIO), "")],
        ),
    );
    let (_, p95) = LATENCY_QUANTILES[1];
    layout.add(
        6,
        4,
        stat(
            "p95 latency",
            "95th percentile request duration.",
            "s",
            &[(&recorded(p95), "")],
        ),
    );
    if let Some(metrics) = &service.metrics {
        let by_status = format!(
            "sum by ({status}) (rate({requests}{{job=\"{name}\"}}[$__rate_interval]))",
            status = metrics.status_label,
            requests = metrics.requests_total
        );
        let legend = format!("{{{{{}}}}}", metrics.status_label);
        layout.add(
            12,
            8,
            timeseries(
                "Requests by status",
                "Requests per second by HTTP status.",
                "reqps",
                &[(&by_status, &legend)],
            ),
        );
    }
    layout.add(
        12,
        8,
        timeseries(
            "5xx ratio",
            "Share of requests answered with a 5xx status.",
            "percentunit",
            &[(&recorded(ERROR_RATIO), "5xx")],
        ),
    );
    let quantiles: Vec<(String, String)> = LATENCY_QUANTILES
        .iter()
        .map(|(q, series)| (recorded(series), format!("p{}", super::number(q * 100.0))))
        .collect();
    let quantile_refs: Vec<(&str, &str)> = quantiles
        .iter()
        .map(|(e, l)| (e.as_str(), l.as_str()))
        .collect();
    layout.add(
        12,
        8,
        timeseries(
            "Latency",
            "Request duration quantiles.",
            "s",
            &quantile_refs,
        ),
    );
    if service.health_path.is_some() {
        let probe = format!("probe_duration_seconds{{job=\"{PROBE_JOB}\", service=\"{name}\"}}");
        layout.add(
            12,
            8,
            timeseries(
                "Health check duration",
                "How long the health endpoint takes to answer the blackbox exporter.",
                "s",
                &[(&probe, "{{instance}}")],
            ),
        );
    }
    if let Some(slo) = model.monitoring.slos.iter().find(|s| s.service == name) {
        let budget = super::number(slo.error_budget);
        let burns: Vec<(String, String)> = ["1h", "6h", "1d", "3d"]
            .iter()
            .map(|w| {
                (
                    format!("{} / {budget}", recorded(&error_ratio_over(w))),
                    format!("burn rate {w}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = burns
            .iter()
            .map(|(e, l)| (e.as_str(), l.as_str()))
            .collect();
        layout.break_row();
        layout.add(
            24,
            8,
            timeseries(
                "Error budget burn rate",
                &format!(
                    "5xx ratio divided by the error budget of the {}% SLO: 1 spends the budget exactly in 30 days; pages above 14.4 (1h) and 6 (6h).",
                    super::number(slo.availability)
                ),
                "none",
                &refs,
            ),
        );
    }
    dashboard(
        model,
        &format!("service-{name}"),
        format!("{} / {name}", model.project.name),
        format!("Rate, errors and duration of {name}."),
        layout.panels,
    )
}

fn jobs(model: &Model) -> Dashboard {
    let mut layout = Layout::new();
    for job in monitored_jobs(model) {
        let name = job.name.as_str();
        layout.break_row();
        let age =
            format!("time() - blueprint_job_last_success_timestamp_seconds{{job=\"{name}\"}}");
        layout.add(
            6,
            5,
            stat(
                &format!("{name}: since last success"),
                &format!(
                    "{} Schedule `{}` (UTC); an incident after {} without success.",
                    job.description, job.schedule, job.stale_after
                ),
                "s",
                &[(&age, "")],
            ),
        );
        layout.add(
            6,
            5,
            stat(
                &format!("{name}: last exit code"),
                "Exit code of the last run (124: killed at its timeout).",
                "none",
                &[(
                    &format!("blueprint_job_last_exit_code{{job=\"{name}\"}}"),
                    "",
                )],
            ),
        );
        layout.add(
            6,
            5,
            stat(
                &format!("{name}: failures (24h)"),
                "Failed runs over the last 24 hours.",
                "none",
                &[(&format!("changes(blueprint_job_last_failure_timestamp_seconds{{job=\"{name}\"}}[24h])"), "")],
            ),
        );
        layout.add(
            6,
            5,
            timeseries(
                &format!("{name}: duration"),
                &format!("How long each run took; killed after {}.", job.timeout),
                "s",
                &[(
                    &format!("blueprint_job_duration_seconds{{job=\"{name}\"}}"),
                    "duration",
                )],
            ),
        );
    }
    dashboard(
        model,
        "jobs",
        format!("{} jobs", model.project.name),
        "Scheduled jobs: last success, exit code, failures and duration, as pushed by the job wrapper.".into(),
        layout.panels,
    )
}

/// The dashboards of the Compose monitoring stack only: the host (node exporter) and the
/// public endpoint (blackbox). A cluster has its own node and ingress dashboards.
pub fn compose_dashboards(model: &Model) -> Vec<DashboardFile> {
    vec![DashboardFile {
        file_stem: "host".into(),
        dashboard: host(model),
    }]
}

fn host(model: &Model) -> Dashboard {
    let node = format!("job=\"{NODE_EXPORTER_HOST}\"");
    let mut layout = Layout::new();
    layout.add(
        4,
        6,
        up_stat(
            "node exporter: up",
            "Whether Prometheus scrapes the host's metrics.",
            &[(&format!("up{{{node}}}"), "{{instance}}")],
        ),
    );
    layout.add(
        6,
        6,
        timeseries(
            "CPU busy",
            "Share of CPU time not idle, over all CPUs (HostHighCpuLoad at 90% for 15m).",
            "percentunit",
            &[(
                &format!("1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{{{node}, mode=\"idle\"}}[$__rate_interval]))"),
                "{{instance}}",
            )],
        ),
    );
    layout.add(
        6,
        6,
        timeseries(
            "Memory available",
            "MemAvailable over MemTotal (HostOutOfMemory under 10%).",
            "percentunit",
            &[(
                &format!("node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}}"),
                "{{instance}}",
            )],
        ),
    );
    layout.add(
        8,
        6,
        timeseries(
            "Disk space free",
            "Free share of every real file system (HostOutOfDiskSpace under 10%).",
            "percentunit",
            &[(
                &format!("node_filesystem_avail_bytes{{{node}, fstype!~\"{PSEUDO_FILESYSTEMS}\"}} / node_filesystem_size_bytes{{{node}, fstype!~\"{PSEUDO_FILESYSTEMS}\"}}"),
                "{{mountpoint}}",
            )],
        ),
    );
    layout.break_row();
    layout.add(
        6,
        6,
        timeseries(
            "Load average",
            "1-minute load per CPU.",
            "none",
            &[(
                &format!("node_load1{{{node}}} / count without (cpu, mode) (node_cpu_seconds_total{{{node}, mode=\"idle\"}})"),
                "{{instance}}",
            )],
        ),
    );
    layout.add(
        6,
        6,
        timeseries(
            "Network",
            "Bytes per second received and sent, per interface (loopback and container veths left out).",
            "Bps",
            &[
                (&format!("rate(node_network_receive_bytes_total{{{node}, device!~\"lo|veth.*|br-.*|docker.*\"}}[$__rate_interval])"), "{{device}} in"),
                (&format!("rate(node_network_transmit_bytes_total{{{node}, device!~\"lo|veth.*|br-.*|docker.*\"}}[$__rate_interval])"), "{{device}} out"),
            ],
        ),
    );
    if !public_probe_urls(model).is_empty() {
        layout.add(
            6,
            6,
            up_stat(
                "Public endpoint",
                "Whether the public HTTPS URL answers 2xx with a valid certificate.",
                &[(
                    &format!("probe_success{{job=\"{PUBLIC_PROBE_JOB}\"}}"),
                    "{{instance}}",
                )],
            ),
        );
        layout.add(
            6,
            6,
            stat(
                "Certificate expires in",
                "Time left on the certificate the public URL serves (CertificateExpiresSoon under 14 days).",
                "s",
                &[(
                    &format!("probe_ssl_earliest_cert_expiry{{job=\"{PUBLIC_PROBE_JOB}\"}} - time()"),
                    "{{instance}}",
                )],
            ),
        );
    }
    let proxy = model
        .environments
        .iter()
        .find_map(|e| proxy_metrics_target(model, e));
    if let Some((job, _)) = proxy {
        layout.break_row();
        let selector = format!("job=\"{job}\"");
        if model.proxy.engine == ProxyEngine::Nginx {
            layout.add(
                6,
                6,
                timeseries(
                    "Proxy: connections",
                    "nginx's open client connections (stub_status), by state.",
                    "none",
                    &[
                        (&format!("nginx_connections_active{{{selector}}}"), "active"),
                        (
                            &format!("nginx_connections_reading{{{selector}}}"),
                            "reading",
                        ),
                        (
                            &format!("nginx_connections_writing{{{selector}}}"),
                            "writing",
                        ),
                        (
                            &format!("nginx_connections_waiting{{{selector}}}"),
                            "waiting",
                        ),
                    ],
                ),
            );
            layout.add(
                6,
                6,
                timeseries(
                    "Proxy: requests",
                    "Requests per second nginx has handled (stub_status has no status codes).",
                    "reqps",
                    &[(
                        &format!("rate(nginx_http_requests_total{{{selector}}}[$__rate_interval])"),
                        "requests",
                    )],
                ),
            );
        } else {
            layout.add(
                6,
                6,
                timeseries(
                    "Proxy: requests in flight",
                    "Requests Caddy is handling right now.",
                    "none",
                    &[(
                        &format!("sum(caddy_http_requests_in_flight{{{selector}}})"),
                        "in flight",
                    )],
                ),
            );
            layout.add(
                6,
                6,
                timeseries(
                    "Proxy: requests by status",
                    "Responses per second, by status code.",
                    "reqps",
                    &[(
                        &format!("sum by (code) (rate(caddy_http_request_duration_seconds_count{{{selector}}}[$__rate_interval]))"),
                        "{{code}}",
                    )],
                ),
            );
        }
    }
    dashboard(
        model,
        "host",
        format!("{} host", model.project.name),
        "The Compose host as the node exporter sees it, and the public endpoint as the blackbox exporter probes it.".into(),
        layout.panels,
    )
}

fn postgres(model: &Model) -> Dashboard {
    let mut layout = Layout::new();
    for store in postgres_stores(model) {
        let job = exporter_host(store);
        let name = store.name.as_str();
        layout.break_row();
        layout.add(
            6,
            6,
            up_stat(
                &format!("{name}: up"),
                "Whether postgres_exporter can connect to the database.",
                &[(&format!("pg_up{{job=\"{job}\"}}"), name)],
            ),
        );
        layout.add(
            6,
            6,
            timeseries(
                &format!("{name}: connections"),
                "Backends connected, per database.",
                "none",
                &[(
                    &format!("sum by (datname) (pg_stat_database_numbackends{{job=\"{job}\"}})"),
                    "{{datname}}",
                )],
            ),
        );
        layout.add(
            6,
            6,
            timeseries(
                &format!("{name}: transactions"),
                "Commits and rollbacks per second.",
                "ops",
                &[
                    (&format!("sum by (datname) (rate(pg_stat_database_xact_commit{{job=\"{job}\"}}[$__rate_interval]))"), "{{datname}} commits"),
                    (&format!("sum by (datname) (rate(pg_stat_database_xact_rollback{{job=\"{job}\"}}[$__rate_interval]))"), "{{datname}} rollbacks"),
                ],
            ),
        );
        layout.add(
            6,
            6,
            timeseries(
                &format!("{name}: database size"),
                "Size on disk, per database.",
                "bytes",
                &[(
                    &format!("sum by (datname) (pg_database_size_bytes{{job=\"{job}\"}})"),
                    "{{datname}}",
                )],
            ),
        );
    }
    dashboard(
        model,
        "postgres",
        format!("{} PostgreSQL", model.project.name),
        "PostgreSQL as seen by postgres_exporter: reachability, connections, transactions, size."
            .into(),
        layout.panels,
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::generate::to_json;

    fn rendered(model: &Model) -> Vec<(String, Value)> {
        dashboards(model)
            .into_iter()
            .map(|d| {
                let json: Value =
                    serde_json::from_str(&to_json(&d.dashboard)).expect("dashboards are JSON");
                (d.file_stem, json)
            })
            .collect()
    }

    fn panels(dashboard: &Value) -> &Vec<Value> {
        dashboard["panels"].as_array().expect("panels")
    }

    #[test]
    fn every_panel_is_current_and_uses_the_datasource_variable() {
        for (stem, dashboard) in rendered(&reference_model()) {
            assert_eq!(dashboard["schemaVersion"], SCHEMA_VERSION, "{stem}");
            let variable = &dashboard["templating"]["list"][0];
            assert_eq!(variable["type"], "datasource");
            assert_eq!(variable["query"], "prometheus");
            assert_eq!(variable["name"], "datasource");
            // Two environments in one cluster share a Prometheus: a namespace is picked
            // through the ad hoc filters, over the same datasource.
            let filters = &dashboard["templating"]["list"][1];
            assert_eq!(filters["type"], "adhoc", "{stem}");
            assert_eq!(filters["datasource"]["uid"], DATASOURCE, "{stem}");
            assert!(!panels(&dashboard).is_empty(), "{stem} has no panels");
            let mut ids = Vec::new();
            for panel in panels(&dashboard) {
                let kind = panel["type"].as_str().unwrap_or_default();
                assert!(
                    ["timeseries", "stat", "table"].contains(&kind),
                    "{stem}: panel type {kind}"
                );
                assert_eq!(panel["datasource"]["uid"], DATASOURCE, "{stem}");
                let targets = panel["targets"].as_array().expect("targets");
                assert!(!targets.is_empty());
                assert!(targets.iter().all(|t| t["datasource"]["uid"] == DATASOURCE
                    && t["expr"].as_str().is_some_and(|e| !e.is_empty())));
                let pos = &panel["gridPos"];
                let right = pos["x"].as_u64().unwrap_or(99) + pos["w"].as_u64().unwrap_or(99);
                assert!(right <= 24, "{stem}: panel overflows the grid");
                ids.push(panel["id"].as_u64().expect("id"));
            }
            let count = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), count, "{stem}: panel ids repeat");
            assert!(
                !to_json(&dashboard).contains("\"graph\""),
                "{stem} uses the deprecated graph panel"
            );
        }
    }

    #[test]
    fn every_service_with_metrics_has_a_red_dashboard() {
        let model = reference_model();
        let rendered = rendered(&model);
        for service in metered_services(&model) {
            let stem = format!("service-{}", service.name);
            let (_, dashboard) = rendered
                .iter()
                .find(|(s, _)| *s == stem)
                .unwrap_or_else(|| panic!("no {stem}"));
            let text = dashboard.to_string();
            assert!(
                text.contains(&format!("up{{job=\\\"{}\\\"}}", service.name)),
                "{stem} has no up panel"
            );
            for series in [REQUEST_RATE, ERROR_RATIO, LATENCY_QUANTILES[1].1] {
                assert!(
                    text.contains(&format!("{series}{{service=\\\"{}\\\"}}", service.name)),
                    "{stem} lacks {series}"
                );
            }
        }
        assert!(
            !rendered.iter().any(|(s, _)| s == "service-docs"),
            "docs has no metrics"
        );
        let api = &rendered
            .iter()
            .find(|(s, _)| s == "service-api")
            .expect("api")
            .1;
        assert!(
            panels(api)
                .iter()
                .any(|p| p["title"] == "Error budget burn rate"),
            "api has an SLO"
        );
    }

    #[test]
    fn every_job_has_its_panels() {
        let model = reference_model();
        let rendered = rendered(&model);
        let (_, jobs) = rendered
            .iter()
            .find(|(s, _)| s == "jobs")
            .expect("jobs dashboard");
        for job in &model.jobs {
            let titles: Vec<&str> = panels(jobs)
                .iter()
                .filter_map(|p| p["title"].as_str())
                .filter(|t| t.starts_with(&format!("{}:", job.name)))
                .collect();
            assert_eq!(titles.len(), 4, "{}: {titles:?}", job.name);
            let exprs = jobs.to_string();
            assert!(exprs.contains(&format!(
                "blueprint_job_last_success_timestamp_seconds{{job=\\\"{}\\\"}}",
                job.name
            )));
        }
    }

    #[test]
    fn postgres_and_overview_show_what_they_promise() {
        let rendered = rendered(&reference_model());
        let (_, postgres) = rendered
            .iter()
            .find(|(s, _)| s == "postgres")
            .expect("postgres dashboard");
        let text = postgres.to_string();
        for metric in [
            "pg_up",
            "pg_stat_database_numbackends",
            "pg_stat_database_xact_commit",
            "pg_database_size_bytes",
        ] {
            assert!(
                text.contains(&format!("{metric}{{job=\\\"db-exporter\\\"}}")),
                "postgres lacks {metric}"
            );
        }
        let (_, overview) = rendered
            .iter()
            .find(|(s, _)| s == "overview")
            .expect("overview");
        let text = overview.to_string();
        assert!(text.contains("ALERTS{alertstate=\\\"firing\\\"}"));
        assert!(text.contains("min by (job) (up)"));
        assert!(text.contains(REQUEST_RATE) && text.contains(ERROR_RATIO));
    }

    #[test]
    fn uids_are_unique_stable_and_short_enough() {
        let model = reference_model();
        let first: Vec<String> = dashboards(&model)
            .into_iter()
            .map(|d| d.dashboard.uid)
            .collect();
        let again: Vec<String> = dashboards(&model)
            .into_iter()
            .map(|d| d.dashboard.uid)
            .collect();
        assert_eq!(first, again);
        assert!(first.contains(&"data-platform-overview".to_string()));
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), first.len(), "{first:?}");
        let long_a = uid(
            "a-very-long-project-name-for-grafana",
            "service-ingestion-api",
        );
        let long_b = uid(
            "a-very-long-project-name-for-grafana",
            "service-ingestion-worker",
        );
        assert!(long_a.len() <= MAX_UID_LENGTH && long_b.len() <= MAX_UID_LENGTH);
        assert_ne!(
            long_a, long_b,
            "a hash of the whole name keeps long UIDs apart"
        );
        assert_eq!(
            long_a,
            uid(
                "a-very-long-project-name-for-grafana",
                "service-ingestion-api"
            )
        );
        assert!(
            long_a
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
    }

    #[test]
    fn no_jobs_no_jobs_dashboard() {
        let yaml = reference_yaml();
        let start = yaml.find("\njobs:").expect("jobs");
        let end = yaml.find("\nstores:").expect("stores");
        let model = model_from(&format!("{}{}", &yaml[..start], &yaml[end..]));
        assert!(!dashboards(&model).iter().any(|d| d.file_stem == "jobs"));
    }
}

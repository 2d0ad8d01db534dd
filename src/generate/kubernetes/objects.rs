//! Typed Kubernetes objects: only the fields blueprint writes, named as the API names them.
//!
//! Every optional field is skipped when empty, so a rendered object shows exactly what was set.
//! Maps are `BTreeMap`s: labels and annotations come out sorted.

use std::collections::BTreeMap;

use serde::Serialize;

/// Any object: `apiVersion`, `kind`, `metadata`, then the kind's own top-level fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<B: Serialize> {
    /// `apps/v1`, `v1`, ...
    pub api_version: &'static str,
    /// `Deployment`, `Service`, ...
    pub kind: &'static str,
    /// Name, labels, annotations.
    pub metadata: ObjectMeta,
    /// `spec`, `data`, ... flattened beside `metadata`.
    #[serde(flatten)]
    pub body: B,
}

impl<B: Serialize> Object<B> {
    /// An object of `kind` in `api_version`.
    pub fn new(
        api_version: &'static str,
        kind: &'static str,
        metadata: ObjectMeta,
        body: B,
    ) -> Self {
        Self {
            api_version,
            kind,
            metadata,
            body,
        }
    }
}

/// The body of objects whose payload is a `spec`.
#[derive(Debug, Clone, Serialize)]
pub struct Spec<S: Serialize> {
    /// The desired state.
    pub spec: S,
}

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectMeta {
    /// The object's name.
    pub name: String,
    /// Set only where an object must live in another namespace than the overlay's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// Metadata with a name and labels.
    pub fn named(name: impl Into<String>, labels: BTreeMap<String, String>) -> Self {
        Self {
            name: name.into(),
            labels,
            ..Self::default()
        }
    }
}

/// A label selector.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact label matches.
    pub match_labels: BTreeMap<String, String>,
}

/// `Deployment.spec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Pods; absent when a HorizontalPodAutoscaler owns the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Old ReplicaSets kept for `kubectl rollout undo`.
    pub revision_history_limit: u32,
    /// Which pods are this Deployment's.
    pub selector: LabelSelector,
    /// How pods are replaced.
    pub strategy: DeploymentStrategy,
    /// The pods.
    pub template: PodTemplate,
}

/// `Deployment.spec.strategy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// `RollingUpdate`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Surge and unavailability bounds.
    pub rolling_update: RollingUpdate,
}

/// Rolling update bounds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Extra pods during a rollout (`25%`).
    pub max_surge: String,
    /// Pods that may be missing during a rollout (`0`: never fewer than desired).
    pub max_unavailable: u32,
}

/// A pod template.
#[derive(Debug, Clone, Serialize)]
pub struct PodTemplate {
    /// Pod labels and annotations.
    pub metadata: PodMeta,
    /// The pod.
    pub spec: PodSpec,
}

/// Pod template metadata (no name).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PodMeta {
    /// Labels (the selector's, and more).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `PodSpec`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// No API token in pods that never call the API.
    pub automount_service_account_token: bool,
    /// No `<SERVICE>_PORT` variables for every Service in the namespace.
    pub enable_service_links: bool,
    /// `Never` or `OnFailure` for Job pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<&'static str>,
    /// Pod-wide security settings.
    pub security_context: PodSecurityContext,
    /// Seconds between SIGTERM and SIGKILL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<u32>,
    /// Spread replicas over nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Run to completion, in order, before the containers start (a schema migration).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    /// The containers.
    pub containers: Vec<Container>,
    /// Volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

/// Spreading replicas across nodes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// Allowed imbalance.
    pub max_skew: u32,
    /// `kubernetes.io/hostname`.
    pub topology_key: &'static str,
    /// `ScheduleAnyway`: prefer spreading, never block scheduling.
    pub when_unsatisfiable: &'static str,
    /// Which pods count.
    pub label_selector: LabelSelector,
}

/// `PodSecurityContext`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// Refuse to start as root.
    pub run_as_non_root: bool,
    /// The user (the images' `10001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// The group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
    /// Group owning mounted volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<u32>,
    /// `RuntimeDefault`.
    pub seccomp_profile: SeccompProfile,
}

/// A seccomp profile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeccompProfile {
    /// `RuntimeDefault`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A container.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Its name (the service's).
    pub name: String,
    /// The image, without a tag: the overlay's `images` sets it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `IfNotPresent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<&'static str>,
    /// Overrides the image's entry point.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Overrides the image's command.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Listening ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Variables from ConfigMaps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    /// Variables, in order (later ones may use earlier ones as `$(NAME)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Requests and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Container security settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// Gate for the other probes while the app starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    /// Whether to send traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Whether to restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Mounted volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
}

/// A container port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Its name (`http`), which Services and probes refer to.
    pub name: String,
    /// The port number.
    pub container_port: u16,
    /// `TCP`.
    pub protocol: &'static str,
}

/// `envFrom` entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// A ConfigMap whose keys become variables.
    pub config_map_ref: LocalObjectReference,
}

/// A reference by name in the same namespace.
#[derive(Debug, Clone, Serialize)]
pub struct LocalObjectReference {
    /// The object's name.
    pub name: String,
}

/// One variable.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// A literal value (`$(OTHER)` expands an earlier variable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A value read from a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A key of a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
    /// A field of the pod (the downward API: `status.podIP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<ObjectFieldSelector>,
}

/// A field of the pod.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectFieldSelector {
    /// Its path.
    pub field_path: String,
}

/// A key of a Secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecretKeySelector {
    /// The Secret.
    pub name: String,
    /// The key.
    pub key: String,
}

/// Requests and limits.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourceRequirements {
    /// What the scheduler reserves.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// The ceiling.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

/// Container `securityContext`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// No setuid escalation.
    pub allow_privilege_escalation: bool,
    /// Read-only root file system (writable `emptyDir`s where needed).
    pub read_only_root_filesystem: bool,
    /// Refuse to start as root.
    pub run_as_non_root: bool,
    /// Linux capabilities.
    pub capabilities: Capabilities,
}

/// Linux capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// Dropped (`ALL`).
    pub drop: Vec<&'static str>,
}

/// A probe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// An HTTP GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// A command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Seconds before a probe times out.
    pub timeout_seconds: u32,
    /// Failures in a row before acting.
    pub failure_threshold: u32,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, Serialize)]
pub struct HttpGetAction {
    /// The path.
    pub path: String,
    /// The port's name.
    pub port: String,
}

/// A command probe.
#[derive(Debug, Clone, Serialize)]
pub struct ExecAction {
    /// The command, exec form.
    pub command: Vec<String>,
}

/// A volume mount.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// The volume.
    pub name: String,
    /// Where.
    pub mount_path: String,
    /// Read-only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// One file of the volume instead of all of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// A volume.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// Scratch space for the pod's lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    /// Files from a ConfigMap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolume>,
}

/// An `emptyDir`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDir {
    /// The most it may hold (`64Mi`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<String>,
}

/// A ConfigMap mounted as files.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolume {
    /// The ConfigMap.
    pub name: String,
    /// File mode of the files (octal `0555` is `365`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<u32>,
}

/// `Service.spec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `ClusterIP`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Which pods receive traffic.
    pub selector: BTreeMap<String, String>,
    /// The ports.
    pub ports: Vec<ServicePort>,
}

/// A Service port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Its name (`http`).
    pub name: String,
    /// The Service's port (the same number as the container's, so URLs match Compose).
    pub port: u16,
    /// The container port's name.
    pub target_port: String,
    /// `TCP`.
    pub protocol: &'static str,
    /// `http`, `tcp`, `postgresql`, ... for meshes and gateways.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<&'static str>,
}

/// `ConfigMap` and `Secret`-like bodies.
#[derive(Debug, Clone, Serialize)]
pub struct Data {
    /// The keys and values.
    pub data: BTreeMap<String, String>,
}

/// `NetworkPolicy.spec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// The pods the policy applies to (`{}`: every pod of the namespace).
    pub pod_selector: LabelSelector,
    /// `Ingress`, `Egress` or both: the directions this policy isolates.
    pub policy_types: Vec<&'static str>,
    /// Allowed incoming traffic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Allowed outgoing traffic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<NetworkPolicyEgressRule>,
}

/// Incoming traffic a NetworkPolicy allows.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkPolicyIngressRule {
    /// From whom.
    pub from: Vec<NetworkPolicyPeer>,
    /// To which ports.
    pub ports: Vec<NetworkPolicyPort>,
}

/// Outgoing traffic a NetworkPolicy allows.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkPolicyEgressRule {
    /// To whom.
    pub to: Vec<NetworkPolicyPeer>,
    /// On which ports.
    pub ports: Vec<NetworkPolicyPort>,
}

/// The other end of allowed traffic: pods, namespaces (both: those pods in those namespaces)
/// or addresses.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    /// Pods (of the policy's namespace unless `namespace_selector` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// A CIDR range minus some sub-ranges.
#[derive(Debug, Clone, Serialize)]
pub struct IpBlock {
    /// The range.
    pub cidr: String,
    /// Sub-ranges left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// A port a NetworkPolicy rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NetworkPolicyPort {
    /// `TCP` or `UDP`.
    pub protocol: &'static str,
    /// The port number (the pod's port for ingress, the destination's for egress).
    pub port: u16,
}

impl NetworkPolicyPort {
    /// A TCP port.
    pub fn tcp(port: u16) -> Self {
        Self {
            protocol: "TCP",
            port,
        }
    }
}

/// `Ingress.spec` (`networking.k8s.io/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// The IngressClass whose controller serves it.
    pub ingress_class_name: String,
    /// Hosts served over HTTPS and the Secret holding their certificate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<IngressTls>,
    /// Hosts and their paths.
    pub rules: Vec<IngressRule>,
}

/// TLS of some hosts of an Ingress.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// The hosts.
    pub hosts: Vec<String>,
    /// The Secret holding the certificate (cert-manager writes it).
    pub secret_name: String,
}

/// One host of an Ingress.
#[derive(Debug, Clone, Serialize)]
pub struct IngressRule {
    /// The host name.
    pub host: String,
    /// Its paths.
    pub http: HttpIngressRuleValue,
}

/// The paths of one host.
#[derive(Debug, Clone, Serialize)]
pub struct HttpIngressRuleValue {
    /// Paths; the longest matching one wins.
    pub paths: Vec<HttpIngressPath>,
}

/// One path of an Ingress.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpIngressPath {
    /// The path (`/api`, or a regular expression with `ImplementationSpecific`).
    pub path: String,
    /// `Prefix` (whole path segments) or `ImplementationSpecific`.
    pub path_type: &'static str,
    /// Where matching requests go.
    pub backend: IngressBackend,
}

/// An Ingress backend.
#[derive(Debug, Clone, Serialize)]
pub struct IngressBackend {
    /// A Service.
    pub service: IngressServiceBackend,
}

/// A Service and port an Ingress path sends to.
#[derive(Debug, Clone, Serialize)]
pub struct IngressServiceBackend {
    /// The Service's name.
    pub name: String,
    /// Its port.
    pub port: ServiceBackendPort,
}

/// A Service port by number.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceBackendPort {
    /// The port number.
    pub number: u16,
}

/// `HTTPRoute.spec` (`gateway.networking.k8s.io/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways the route attaches to.
    pub parent_refs: Vec<ParentReference>,
    /// The hosts it answers.
    pub hostnames: Vec<String>,
    /// Its rules.
    pub rules: Vec<HttpRouteRule>,
}

/// A Gateway an HTTPRoute attaches to.
#[derive(Debug, Clone, Serialize)]
pub struct ParentReference {
    /// `gateway.networking.k8s.io`.
    pub group: &'static str,
    /// `Gateway`.
    pub kind: &'static str,
    /// The Gateway's namespace.
    pub namespace: String,
    /// The Gateway's name.
    pub name: String,
}

/// One rule of an HTTPRoute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Requests it takes.
    pub matches: Vec<HttpRouteMatch>,
    /// Changes made to the request on the way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    /// Where they go.
    pub backend_refs: Vec<HttpBackendRef>,
}

/// A request match.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRouteMatch {
    /// The path match.
    pub path: HttpPathMatch,
}

/// A path match.
#[derive(Debug, Clone, Serialize)]
pub struct HttpPathMatch {
    /// `PathPrefix` (whole path segments).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The prefix.
    pub value: String,
}

/// A filter of an HTTPRoute rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    /// `URLRewrite`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The rewrite.
    pub url_rewrite: HttpUrlRewrite,
}

/// A URL rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct HttpUrlRewrite {
    /// The path change.
    pub path: HttpPathModifier,
}

/// A path change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPathModifier {
    /// `ReplacePrefixMatch`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What the matched prefix becomes.
    pub replace_prefix_match: String,
}

/// A Service an HTTPRoute rule sends to.
#[derive(Debug, Clone, Serialize)]
pub struct HttpBackendRef {
    /// The Service's name.
    pub name: String,
    /// Its port.
    pub port: u16,
}

/// `ServiceMonitor.spec` (`monitoring.coreos.com/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// The Services scraped.
    pub selector: LabelSelector,
    /// Their namespaces, when not the ServiceMonitor's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// The ports scraped.
    pub endpoints: Vec<MonitorEndpoint>,
}

/// Namespaces by name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// The names.
    pub match_names: Vec<String>,
}

/// One scraped port of a ServiceMonitor.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorEndpoint {
    /// The Service port's name.
    pub port: String,
    /// The metrics path.
    pub path: String,
    /// How often.
    pub interval: String,
    /// How long a scrape may take (never more than the interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,
    /// Keep the scraped `job` and `instance` labels (Pushgateway).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub honor_labels: bool,
    /// Target relabelling, applied after the operator's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<Relabeling>,
}

/// One relabelling step of the Prometheus Operator (`replace`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relabeling {
    /// Labels whose values, joined by `separator`, are the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// What joins the source values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<&'static str>,
    /// The label written.
    pub target_label: String,
    /// A fixed value instead of the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

impl Relabeling {
    /// Sets `label` to a fixed `value`.
    pub fn fixed(label: &str, value: &str) -> Self {
        Self {
            source_labels: Vec::new(),
            separator: None,
            target_label: label.to_string(),
            replacement: Some(value.to_string()),
        }
    }
}

/// `Probe.spec` (`monitoring.coreos.com/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// The `job` label of the probe results.
    pub job_name: String,
    /// How often.
    pub interval: String,
    /// How long a probe may take (never more than the interval).
    pub scrape_timeout: String,
    /// The blackbox module.
    pub module: String,
    /// The blackbox exporter.
    pub prober: ProberSpec,
    /// What is probed.
    pub targets: ProbeTargets,
}

/// The blackbox exporter a Probe goes through.
#[derive(Debug, Clone, Serialize)]
pub struct ProberSpec {
    /// `host:port`.
    pub url: String,
    /// Its probe path.
    pub path: String,
}

/// What a Probe probes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeTargets {
    /// Fixed URLs.
    pub static_config: ProbeStaticConfig,
}

/// Fixed probe URLs and their labels.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeStaticConfig {
    /// The URLs.
    #[serde(rename = "static")]
    pub targets: Vec<String>,
    /// Labels of their results.
    pub labels: BTreeMap<String, String>,
}

/// `PrometheusRule.spec` (`monitoring.coreos.com/v1`): rule groups in the format of a
/// Prometheus rule file.
#[derive(Debug, Clone, Serialize)]
pub struct PrometheusRuleSpec<G: Serialize> {
    /// The groups.
    pub groups: Vec<G>,
}

/// Serializes objects as one multi-document YAML file.
pub fn documents(objects: &[String]) -> String {
    objects.join("---\n")
}

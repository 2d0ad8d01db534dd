//! Host and edge alerts of a Compose host: the host's disks, memory and CPU (from the node
//! exporter), and the public HTTPS endpoint the proxy serves (from the blackbox exporter, with
//! the certificate's expiry).
//!
//! These groups are **Compose-only**: a cluster brings its own node exporter and its own
//! ingress monitoring, so they describe nothing a cluster's PrometheusRule could select. They
//! are in the rule file [`FILE`], which [`super::rules::compose_only`] keeps out of a cluster's
//! rules.
//!
//! The thresholds follow node-mixin and awesome-prometheus-alerts: a file system under 10% free
//! (HostOutOfDiskSpace), or under 40% and on course to be full within a day at the pace of the
//! last six hours (HostDiskWillFillIn24Hours); less than 10% of the memory available; CPUs
//! busy above 90% for a quarter of an hour (a shorter `for` pages on every batch job). Pseudo
//! and in-memory file systems (tmpfs, overlay...) are left out: they are not the host's disk.

use super::rule_tests::{Firing, STEP_SECONDS, Scenario, Series, constant, counter};
use super::rules::{
    AlertingRule, Rule, RuleGroup, alerting_rule, gauge_scenarios, labels, seconds, service_down,
    timing,
};
use super::{
    CADDY_JOB, CADDY_METRICS_PORT, NGINX_EXPORTER_HOST, NGINX_EXPORTER_PORT, NGINX_STATUS_PORT,
    NODE_EXPORTER_HOST, NODE_EXPORTER_PORT, PUBLIC_PROBE_JOB,
};
use crate::blueprint::{ProxyEngine, Severity};
use crate::generate::containers::compose::PROXY;
use crate::model::{Environment, Model};

/// The rule file's stem (`monitoring/prometheus/rules/host.rules.yml`): Compose hosts only.
pub const FILE: &str = "host";

/// The file systems the disk alerts leave out: in memory, or layers of a container's root.
pub const PSEUDO_FILESYSTEMS: &str = "tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.lxcfs";

/// Days before a certificate's expiry when the warning fires (Let's Encrypt renews at 30).
pub const CERT_WARNING_DAYS: u64 = 14;
/// Days before a certificate's expiry when the critical alert fires.
pub const CERT_CRITICAL_DAYS: u64 = 3;

/// Whether the model has a Compose host, which runs the node exporter.
pub fn has_compose_host(model: &Model) -> bool {
    model.environments.iter().any(|e| e.on_compose())
}

/// The public URLs probed over HTTPS, one per Compose environment with TLS behind a proxy.
pub fn public_probe_urls(model: &Model) -> Vec<String> {
    let mut urls: Vec<String> = model
        .environments
        .iter()
        .filter_map(|e| model.public_probe_url(e))
        .collect();
    urls.dedup();
    urls
}

/// The node exporter's `host:port`.
pub fn node_exporter_address() -> String {
    format!("{NODE_EXPORTER_HOST}:{NODE_EXPORTER_PORT}")
}

/// The proxy's metrics in `environment`: the scrape job and its one target (the nginx exporter
/// reading `stub_status`, or Caddy's own metrics listener).
pub fn proxy_metrics_target(model: &Model, environment: &Environment) -> Option<(String, String)> {
    if !model.proxy_metrics(environment) {
        return None;
    }
    Some(match model.proxy.engine {
        ProxyEngine::Nginx => (
            NGINX_EXPORTER_HOST.to_string(),
            format!("{NGINX_EXPORTER_HOST}:{NGINX_EXPORTER_PORT}"),
        ),
        ProxyEngine::Caddy => (
            CADDY_JOB.to_string(),
            format!("{PROXY}:{CADDY_METRICS_PORT}"),
        ),
    })
}

/// The host and edge groups, with their scenarios.
pub fn host_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let mut groups = Vec::new();
    if has_compose_host(model) {
        groups.push(node_group(model));
    }
    if !public_probe_urls(model).is_empty() {
        groups.push(edge_group(model));
    }
    let proxy = model
        .environments
        .iter()
        .find_map(|e| proxy_metrics_target(model, e));
    if let Some((job, address)) = proxy {
        groups.push(proxy_group(model, &job, &address));
    }
    groups
}

/// The proxy's scrape target down (the nginx exporter, or Caddy itself) and, for nginx, the
/// exporter unable to read `stub_status`: nginx down or its status listener unreachable.
/// Request ratios are not derivable from `stub_status` (no status codes): the services' own
/// HighErrorRatio covers 5xx.
fn proxy_group(model: &Model, job: &str, address: &str) -> (RuleGroup, Vec<Scenario>) {
    let family = &model.monitoring.alerts.service_down;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    if family.enabled {
        let rule = service_down(model, family, job, job);
        scenarios.extend(gauge_scenarios(
            &rule,
            job,
            "up",
            &[("instance", address), ("job", job)],
            "0",
            "1",
        ));
        rules.push(Rule::Alert(rule));
        if model.proxy.engine == ProxyEngine::Nginx {
            let rule = alerting_rule(
                model,
                "NginxDown",
                format!("nginx_up{{job=\"{job}\"}} == 0"),
                &family.for_,
                family.severity,
                job,
                "The nginx proxy does not answer its status page".into(),
                format!(
                    "The nginx exporter has not been able to read the proxy's stub_status (port {NGINX_STATUS_PORT}) for {}: nginx is down or its status listener unreachable.",
                    family.for_
                ),
            );
            scenarios.extend(gauge_scenarios(
                &rule,
                job,
                "nginx_up",
                &[("instance", address), ("job", job)],
                "0",
                "1",
            ));
            rules.push(Rule::Alert(rule));
        }
    }
    (
        RuleGroup {
            name: "proxy".into(),
            rules,
        },
        scenarios,
    )
}

fn node_selector(extra: &str) -> String {
    format!("job=\"{NODE_EXPORTER_HOST}\"{extra}")
}

fn filesystems() -> String {
    node_selector(&format!(", fstype!~\"{PSEUDO_FILESYSTEMS}\""))
}

fn writable() -> String {
    format!(
        "on (instance, device, mountpoint) node_filesystem_readonly{{{}}} == 0",
        filesystems()
    )
}

fn node_group(model: &Model) -> (RuleGroup, Vec<Scenario>) {
    let fs = filesystems();
    let instance = node_exporter_address();
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();

    // In this file rather than with the monitoring stack's other targets: it is Compose-only.
    let family = &model.monitoring.alerts.service_down;
    if family.enabled {
        let rule = service_down(model, family, NODE_EXPORTER_HOST, NODE_EXPORTER_HOST);
        scenarios.extend(gauge_scenarios(
            &rule,
            NODE_EXPORTER_HOST,
            "up",
            &[("instance", &instance), ("job", NODE_EXPORTER_HOST)],
            "0",
            "1",
        ));
        rules.push(Rule::Alert(rule));
    }

    let out_of_space = alerting_rule(
        model,
        "HostOutOfDiskSpace",
        format!(
            "node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} < 0.1\nand {}",
            writable()
        ),
        "5m",
        Severity::Critical,
        NODE_EXPORTER_HOST,
        "A file system of the host is almost full".into(),
        "{{ $labels.mountpoint }} ({{ $labels.device }}) has had less than 10% of its space free for 5m.".into(),
    );
    scenarios.extend(disk_scenarios(&out_of_space, &instance, "5", "50", 5 * 60));
    rules.push(Rule::Alert(out_of_space));

    let filling = alerting_rule(
        model,
        "HostDiskWillFillIn24Hours",
        format!(
            "node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} < 0.4\nand predict_linear(node_filesystem_avail_bytes{{{fs}}}[6h], 24 * 3600) < 0\nand {}",
            writable()
        ),
        "1h",
        Severity::Warning,
        NODE_EXPORTER_HOST,
        "A file system of the host will be full within a day".into(),
        "At the pace of the last 6h, {{ $labels.mountpoint }} ({{ $labels.device }}) fills up within 24h; it has less than 40% free.".into(),
    );
    scenarios.extend(filling_scenarios(&filling, &instance));
    rules.push(Rule::Alert(filling));

    let node = node_selector("");
    let memory = alerting_rule(
        model,
        "HostOutOfMemory",
        format!(
            "node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}} < 0.1"
        ),
        "5m",
        Severity::Warning,
        NODE_EXPORTER_HOST,
        "The host is almost out of memory".into(),
        "{{ $labels.instance }} has had less than 10% of its memory available for 5m: the kernel's OOM killer is next.".into(),
    );
    scenarios.extend(memory_scenarios(&memory, &instance));
    rules.push(Rule::Alert(memory));

    let cpu = alerting_rule(
        model,
        "HostHighCpuLoad",
        format!(
            "1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{{{}}}[5m])) > 0.9",
            node_selector(", mode=\"idle\"")
        ),
        "15m",
        Severity::Warning,
        NODE_EXPORTER_HOST,
        "The host's CPUs are saturated".into(),
        "The CPUs of {{ $labels.instance }} have been more than 90% busy for 15m.".into(),
    );
    scenarios.extend(cpu_scenarios(&cpu, &instance));
    rules.push(Rule::Alert(cpu));

    (
        RuleGroup {
            name: "host".into(),
            rules,
        },
        scenarios,
    )
}

/// The labels of one file system's series.
fn fs_labels<'a>(instance: &'a str, fstype: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("device", "/dev/sda1"),
        ("fstype", fstype),
        ("instance", instance),
        ("job", NODE_EXPORTER_HOST),
        ("mountpoint", "/"),
    ]
}

fn fs_series(pairs: &[(&str, &str)], avail: String, samples: u64) -> Vec<Series> {
    vec![
        Series::new("node_filesystem_avail_bytes", pairs, avail),
        Series::new(
            "node_filesystem_size_bytes",
            pairs,
            constant("100", samples),
        ),
        Series::new("node_filesystem_readonly", pairs, constant("0", samples)),
    ]
}

fn disk_scenarios(
    rule: &AlertingRule,
    instance: &str,
    full: &str,
    roomy: &str,
    for_seconds: u64,
) -> Vec<Scenario> {
    let timing = timing(0, for_seconds);
    let ext4 = fs_labels(instance, "ext4");
    let firing: Vec<Firing> = Firing::of(rule, &labels(&ext4), None).into_iter().collect();
    let mut scenarios = vec![
        Scenario::new(
            format!("{}: {full}% free on /", rule.alert),
            fs_series(&ext4, constant(full, timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            format!("{}: quiet at {roomy}% free", rule.alert),
            fs_series(&ext4, constant(roomy, timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ];
    let tmpfs = fs_labels(instance, "tmpfs");
    scenarios.push(
        Scenario::new(
            format!("{}: quiet for a full tmpfs", rule.alert),
            fs_series(&tmpfs, constant(full, timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    );
    scenarios
}

/// A disk losing 0.1% a minute from 39% free is full in under seven hours; one that stays at
/// 30% is not filling, however low.
fn filling_scenarios(rule: &AlertingRule, instance: &str) -> Vec<Scenario> {
    let timing = timing(STEP_SECONDS, seconds("1h"));
    let ext4 = fs_labels(instance, "ext4");
    let firing: Vec<Firing> = Firing::of(rule, &labels(&ext4), None).into_iter().collect();
    vec![
        Scenario::new(
            format!("{}: / losing 0.1% a minute", rule.alert),
            fs_series(&ext4, format!("39-0.1x{}", timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            format!("{}: quiet for a steady 30% free", rule.alert),
            fs_series(&ext4, constant("30", timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
        Scenario::new(
            format!("{}: quiet for a roomy disk being written", rule.alert),
            fs_series(&ext4, format!("80-0.1x{}", timing.samples), timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ]
}

fn memory_scenarios(rule: &AlertingRule, instance: &str) -> Vec<Scenario> {
    let timing = timing(0, seconds("5m"));
    let pairs = [("instance", instance), ("job", NODE_EXPORTER_HOST)];
    let memory = |available: &str| {
        vec![
            Series::new(
                "node_memory_MemAvailable_bytes",
                &pairs,
                constant(available, timing.samples),
            ),
            Series::new(
                "node_memory_MemTotal_bytes",
                &pairs,
                constant("100", timing.samples),
            ),
        ]
    };
    let firing: Vec<Firing> = Firing::of(rule, &labels(&pairs), None)
        .into_iter()
        .collect();
    vec![
        Scenario::new(format!("{}: 5% available", rule.alert), memory("5")).expect(
            timing.fire_at,
            &rule.alert,
            firing,
        ),
        Scenario::new(
            format!("{}: quiet at 40% available", rule.alert),
            memory("40"),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ]
}

/// Two CPUs idle 3s a minute each (95% busy) fire it; idle 54s a minute (10% busy) does not.
fn cpu_scenarios(rule: &AlertingRule, instance: &str) -> Vec<Scenario> {
    let timing = timing(STEP_SECONDS, seconds("15m"));
    let idle = |per_minute: &str| {
        ["0", "1"]
            .iter()
            .map(|cpu| {
                Series::new(
                    "node_cpu_seconds_total",
                    &[
                        ("cpu", cpu),
                        ("instance", instance),
                        ("job", NODE_EXPORTER_HOST),
                        ("mode", "idle"),
                    ],
                    counter(per_minute, timing.samples),
                )
            })
            .collect::<Vec<_>>()
    };
    let output = labels(&[("instance", instance), ("job", NODE_EXPORTER_HOST)]);
    let firing: Vec<Firing> = Firing::of(rule, &output, None).into_iter().collect();
    vec![
        Scenario::new(format!("{}: CPUs 95% busy", rule.alert), idle("3")).expect(
            timing.fire_at,
            &rule.alert,
            firing,
        ),
        Scenario::new(format!("{}: quiet at 10% busy", rule.alert), idle("54")).expect(
            timing.fire_at,
            &rule.alert,
            Vec::new(),
        ),
    ]
}

/// The public endpoint: certificate expiry at two severities (the critical one inhibits the
/// warning, same alert name and subject) and the probe failing.
fn edge_group(model: &Model) -> (RuleGroup, Vec<Scenario>) {
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    let url = public_probe_urls(model)
        .into_iter()
        .next()
        .unwrap_or_default();
    let pairs = [("instance", url.as_str()), ("job", PUBLIC_PROBE_JOB)];
    let expiry = format!("probe_ssl_earliest_cert_expiry{{job=\"{PUBLIC_PROBE_JOB}\"}} - time()");
    let day = 86_400;
    let certificate = |days: u64, severity: Severity| {
        alerting_rule(
            model,
            "CertificateExpiresSoon",
            format!("{expiry} < {days} * 86400"),
            "10m",
            severity,
            PUBLIC_PROBE_JOB,
            format!("The certificate of {{{{ $labels.instance }}}} expires within {days} days"),
            format!(
                "The certificate served at {{{{ $labels.instance }}}} expires in less than {days} days: its automatic renewal (certbot, or Caddy's ACME client) has been failing. Renewal starts 30 days before expiry."
            ),
        )
    };
    let warning = certificate(CERT_WARNING_DAYS, Severity::Warning);
    let critical = certificate(CERT_CRITICAL_DAYS, Severity::Critical);
    let timing = timing(0, seconds("10m"));
    let expires_in = |days: u64| {
        vec![Series::new(
            "probe_ssl_earliest_cert_expiry",
            &pairs,
            constant(&(days * day).to_string(), timing.samples),
        )]
    };
    let warning_firing: Vec<Firing> = Firing::of(&warning, &labels(&pairs), None)
        .into_iter()
        .collect();
    let critical_firing: Vec<Firing> = Firing::of(&critical, &labels(&pairs), None)
        .into_iter()
        .collect();
    let mut both = warning_firing.clone();
    both.extend(critical_firing);
    scenarios.push(
        Scenario::new(
            "CertificateExpiresSoon: a warning 10 days before expiry",
            expires_in(10),
        )
        .expect(timing.fire_at, "CertificateExpiresSoon", warning_firing),
    );
    scenarios.push(
        Scenario::new(
            "CertificateExpiresSoon: critical (and the warning it inhibits) 1 day before",
            expires_in(1),
        )
        .expect(timing.fire_at, "CertificateExpiresSoon", both),
    );
    scenarios.push(
        Scenario::new(
            "CertificateExpiresSoon: quiet 60 days before expiry",
            expires_in(60),
        )
        .expect(timing.fire_at, "CertificateExpiresSoon", Vec::new()),
    );
    rules.push(Rule::Alert(warning));
    rules.push(Rule::Alert(critical));

    let family = &model.monitoring.alerts.probe_failed;
    if family.enabled {
        let rule = alerting_rule(
            model,
            "PublicEndpointDown",
            format!("probe_success{{job=\"{PUBLIC_PROBE_JOB}\"}} == 0"),
            &family.for_,
            family.severity,
            PUBLIC_PROBE_JOB,
            "The public HTTPS endpoint does not answer".into(),
            format!(
                "{{{{ $labels.instance }}}} has not answered with 2xx over a valid TLS connection for {}: the proxy is down, unreachable from the host, or serves an invalid certificate.",
                family.for_
            ),
        );
        scenarios.extend(gauge_scenarios(
            &rule,
            &url,
            "probe_success",
            &pairs,
            "0",
            "1",
        ));
        rules.push(Rule::Alert(rule));
    }
    (
        RuleGroup {
            name: "edge".into(),
            rules,
        },
        scenarios,
    )
}

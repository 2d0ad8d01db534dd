//! `alertmanager.yml`: a route per severity and receiver, inhibitions, and receivers whose
//! secrets are files under `/run/secrets/` (Alertmanager cannot read environment variables).

use serde::Serialize;

use super::meta_rules::WATCHDOG;
use super::rules::severity_name;
use crate::blueprint::{ReceiverKind, Severity};
use crate::model::{Model, Receiver};

/// An Alertmanager configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// The routing tree.
    pub route: Route,
    /// Alerts that silence others.
    pub inhibit_rules: Vec<InhibitRule>,
    /// Where notifications go.
    pub receivers: Vec<AlertReceiver>,
}

/// A node of the routing tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// The receiver of the alerts this node keeps.
    pub receiver: String,
    /// Labels alerts are grouped by (root only; children inherit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Which alerts this node takes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Keep matching the following siblings (one severity, several receivers).
    #[serde(rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub continue_: bool,
    /// Wait before the first notification of a new group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    /// Wait before notifying about new alerts in a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    /// Re-send a still-firing group after this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    /// Child routes, tried in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// An inhibition rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InhibitRule {
    /// The alerts that silence.
    pub source_matchers: Vec<String>,
    /// The alerts silenced.
    pub target_matchers: Vec<String>,
    /// Labels both must share.
    pub equal: Vec<String>,
}

/// A receiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReceiver {
    /// Its name.
    pub name: String,
    /// Slack webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// E-mail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    /// Generic webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
}

/// A Slack incoming webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackConfig {
    /// The file holding the webhook URL.
    pub api_url_file: String,
    /// The channel, when the webhook may post to several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Also notify when alerts resolve.
    pub send_resolved: bool,
    /// Message title (Go template).
    pub title: String,
    /// Message body (Go template).
    pub text: String,
}

/// An e-mail receiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailConfig {
    /// Recipient.
    pub to: String,
    /// Sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// SMTP `host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// SMTP user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// The file holding the SMTP password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password_file: Option<String>,
    /// Also notify when alerts resolve.
    pub send_resolved: bool,
}

/// A generic webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookConfig {
    /// The file holding the URL.
    pub url_file: String,
    /// Also notify when alerts resolve.
    pub send_resolved: bool,
}

/// How often Alertmanager pings the heartbeat URL while `Watchdog` fires (its group interval and
/// repeat interval both, as the repeat only happens on a group interval's tick).
pub const HEARTBEAT_INTERVAL: &str = "1m";

/// Where a Compose secret is mounted: `/run/secrets/<secret lower-cased>`.
pub fn secret_file(secret: &str) -> String {
    format!("/run/secrets/{}", secret.to_ascii_lowercase())
}

/// The secrets Alertmanager needs as Compose secrets (model names, upper case), sorted.
pub fn secrets(model: &Model) -> Vec<String> {
    let mut names: Vec<String> = model.monitoring.alertmanager_secrets().cloned().collect();
    names.sort();
    names.dedup();
    names
}

const SLACK_TITLE: &str = "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] \
{{ .CommonLabels.environment }} · {{ .CommonLabels.alertname }}{{ with .CommonLabels.service }} · {{ . }}{{ end }}";

const SLACK_TEXT: &str = "{{ range .Alerts }}*{{ .Annotations.summary }}* ({{ .Labels.severity }})
{{ .Annotations.description }}
{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}
{{ end }}{{ end }}";

fn receiver(r: &Receiver) -> AlertReceiver {
    let mut out = AlertReceiver {
        name: r.name.clone(),
        slack_configs: Vec::new(),
        email_configs: Vec::new(),
        webhook_configs: Vec::new(),
    };
    match r.kind {
        ReceiverKind::Slack => {
            if let Some(secret) = &r.url_secret {
                out.slack_configs.push(SlackConfig {
                    api_url_file: secret_file(secret),
                    channel: r.channel.clone(),
                    send_resolved: true,
                    title: SLACK_TITLE.into(),
                    text: SLACK_TEXT.into(),
                });
            }
        }
        ReceiverKind::Webhook => {
            if let Some(secret) = &r.url_secret {
                out.webhook_configs.push(WebhookConfig {
                    url_file: secret_file(secret),
                    send_resolved: true,
                });
            }
        }
        ReceiverKind::Email => {
            if let Some(to) = &r.to {
                out.email_configs.push(EmailConfig {
                    to: to.clone(),
                    from: r.from.clone(),
                    smarthost: r.smarthost.clone(),
                    auth_username: r.username.clone(),
                    auth_password_file: r.password_secret.as_deref().map(secret_file),
                    send_resolved: true,
                });
            }
        }
    }
    out
}

/// Timing per severity: critical notifies fastest and repeats hourly; info waits and repeats
/// daily. (group_wait, repeat_interval)
fn timing(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("10s", "1h"),
        Severity::Warning => ("30s", "4h"),
        Severity::Info => ("1m", "24h"),
    }
}

fn child(severity: Severity, receiver: String, continue_: bool) -> Route {
    let (group_wait, repeat_interval) = timing(severity);
    Route {
        receiver,
        group_by: Vec::new(),
        matchers: vec![format!("severity=\"{}\"", severity_name(severity))],
        continue_,
        group_wait: Some(group_wait.into()),
        group_interval: None,
        repeat_interval: Some(repeat_interval.into()),
        routes: Vec::new(),
    }
}

/// The Alertmanager configuration (the same in every environment: alerts carry their
/// `environment` as an external label).
pub fn config(model: &Model) -> AlertmanagerConfig {
    let monitoring = &model.monitoring;
    let known = |name: &String| monitoring.receivers.iter().any(|r| &r.name == name);
    // A receiver of blueprint's own takes the first of these names no declared one has.
    let free_name = |candidates: &[&str], fallback: &str| {
        candidates
            .iter()
            .find(|n| !known(&n.to_string()))
            .copied()
            .unwrap_or(fallback)
            .to_string()
    };
    let null = free_name(&["null", "discard", "blueprint-null"], "blueprint-discard");

    // The dead man's switch first: it must never reach a person, whatever its severity.
    let heartbeat = monitoring
        .heartbeat_url_secret
        .as_ref()
        .map(|secret| AlertReceiver {
            name: free_name(
                &["heartbeat", "blueprint-heartbeat"],
                "blueprint-watchdog-heartbeat",
            ),
            slack_configs: Vec::new(),
            email_configs: Vec::new(),
            webhook_configs: vec![WebhookConfig {
                url_file: secret_file(secret),
                send_resolved: false,
            }],
        });
    let mut needs_null = heartbeat.is_none();
    let mut routes = vec![Route {
        receiver: heartbeat
            .as_ref()
            .map_or_else(|| null.clone(), |r| r.name.clone()),
        group_by: Vec::new(),
        matchers: vec![format!("alertname=\"{WATCHDOG}\"")],
        continue_: false,
        group_wait: Some("0s".into()),
        group_interval: Some(HEARTBEAT_INTERVAL.into()),
        repeat_interval: Some(HEARTBEAT_INTERVAL.into()),
        routes: Vec::new(),
    }];
    for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
        let names: Vec<String> = monitoring
            .routes
            .get(&severity)
            .map(|names| names.iter().filter(|n| known(n)).cloned().collect())
            .unwrap_or_default();
        if names.is_empty() {
            // Claimed here so it cannot fall through to the default receiver.
            needs_null = true;
            routes.push(child(severity, null.clone(), false));
            continue;
        }
        let last = names.len() - 1;
        for (i, name) in names.into_iter().enumerate() {
            routes.push(child(severity, name, i < last));
        }
    }

    // An alert without a known severity is a mistake worth a look, not a page: it goes to the
    // first warning receiver (or the first receiver there is).
    let default = [Severity::Warning, Severity::Critical, Severity::Info]
        .iter()
        .filter_map(|s| monitoring.routes.get(s))
        .flatten()
        .find(|n| known(n))
        .cloned()
        .or_else(|| monitoring.receivers.first().map(|r| r.name.clone()));
    let default = default.unwrap_or_else(|| {
        needs_null = true;
        null.clone()
    });

    let mut receivers: Vec<AlertReceiver> = monitoring.receivers.iter().map(receiver).collect();
    receivers.extend(heartbeat);
    if needs_null {
        receivers.push(AlertReceiver {
            name: null,
            slack_configs: Vec::new(),
            email_configs: Vec::new(),
            webhook_configs: Vec::new(),
        });
    }

    AlertmanagerConfig {
        route: Route {
            receiver: default,
            group_by: vec!["alertname".into(), "service".into()],
            matchers: Vec::new(),
            continue_: false,
            group_wait: Some("30s".into()),
            group_interval: Some("5m".into()),
            repeat_interval: Some("4h".into()),
            routes,
        },
        inhibit_rules: vec![
            InhibitRule {
                source_matchers: vec!["alertname=\"ServiceDown\"".into()],
                target_matchers: vec!["alertname!=\"ServiceDown\"".into()],
                equal: vec!["service".into()],
            },
            InhibitRule {
                source_matchers: vec!["severity=\"critical\"".into()],
                target_matchers: vec!["severity=\"warning\"".into()],
                equal: vec!["alertname".into(), "service".into()],
            },
        ],
        receivers,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::generate::to_yaml;
    use serde_json::Value;

    fn rendered(yaml: &str) -> Value {
        yaml_value(&to_yaml(&config(&model_from(yaml))))
    }

    fn children(config: &Value) -> Vec<(String, String, bool)> {
        config["route"]["routes"]
            .as_array()
            .expect("child routes")
            .iter()
            .filter(|r| r["matchers"][0] != format!("alertname=\"{WATCHDOG}\"").as_str())
            .map(|r| {
                (
                    r["matchers"][0].as_str().unwrap_or_default().to_string(),
                    r["receiver"].as_str().unwrap_or_default().to_string(),
                    r["continue"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    #[test]
    fn severities_route_to_their_receivers_and_continue_between_them() {
        let config = rendered(&reference_yaml());
        assert_eq!(
            children(&config),
            vec![
                ("severity=\"critical\"".into(), "oncall".into(), true),
                ("severity=\"critical\"".into(), "team-email".into(), false),
                ("severity=\"warning\"".into(), "team-email".into(), false),
                ("severity=\"info\"".into(), "null".into(), false),
            ]
        );
        assert_eq!(
            config["route"]["receiver"], "team-email",
            "the default is the warning receiver"
        );
        assert_eq!(
            config["route"]["group_by"],
            serde_json::json!(["alertname", "service"])
        );
        let critical = &config["route"]["routes"][1];
        let warning = &config["route"]["routes"][3];
        assert_eq!(critical["repeat_interval"], "1h");
        assert_eq!(warning["repeat_interval"], "4h");
    }

    #[test]
    fn receivers_read_their_secrets_from_files() {
        let config = rendered(&reference_yaml());
        let receivers = config["receivers"].as_array().expect("receivers");
        let oncall = receivers
            .iter()
            .find(|r| r["name"] == "oncall")
            .expect("oncall");
        let slack = &oncall["slack_configs"][0];
        assert_eq!(
            slack["api_url_file"],
            "/run/secrets/slack_oncall_webhook_url"
        );
        assert_eq!(slack["channel"], "#data-oncall");
        assert_eq!(slack["send_resolved"], true);
        for field in ["summary", "description", "runbook_url"] {
            assert!(
                slack["text"].as_str().is_some_and(|t| t.contains(field)),
                "slack text lacks {field}"
            );
        }
        let email = &receivers
            .iter()
            .find(|r| r["name"] == "team-email")
            .expect("email")["email_configs"][0];
        assert_eq!(email["auth_password_file"], "/run/secrets/smtp_password");
        assert_eq!(email["to"], "data-team@acme.example");
        assert_eq!(email["smarthost"], "smtp.acme.example:587");
        assert_eq!(email["send_resolved"], true);
        let null = receivers
            .iter()
            .find(|r| r["name"] == "null")
            .expect("info goes nowhere");
        assert_eq!(
            null.as_object().map(|o| o.len()),
            Some(1),
            "the null receiver has no integrations"
        );
        assert_eq!(
            secrets(&reference_model()),
            vec!["HEARTBEAT_URL", "SLACK_ONCALL_WEBHOOK_URL", "SMTP_PASSWORD"]
        );
    }

    #[test]
    fn the_watchdog_goes_first_to_the_heartbeat_or_nowhere() {
        let yaml = reference_yaml();
        let heartbeat = "  heartbeat:\n    url: { secret: HEARTBEAT_URL }\n";
        assert!(yaml.contains(heartbeat), "the reference has a heartbeat");
        let config = rendered(&yaml.replace(heartbeat, ""));
        let first = &config["route"]["routes"][0];
        assert_eq!(first["matchers"][0], "alertname=\"Watchdog\"");
        assert_eq!(
            first["receiver"], "null",
            "without a heartbeat it is discarded"
        );
        assert_eq!(first["continue"], Value::Null);
        let with = rendered(&yaml);
        let first = &with["route"]["routes"][0];
        assert_eq!(first["matchers"][0], "alertname=\"Watchdog\"");
        assert_eq!(first["receiver"], "heartbeat");
        assert_eq!(first["group_wait"], "0s");
        assert_eq!(first["repeat_interval"], HEARTBEAT_INTERVAL);
        assert_eq!(first["group_interval"], HEARTBEAT_INTERVAL);
        let heartbeat = with["receivers"]
            .as_array()
            .expect("receivers")
            .iter()
            .find(|r| r["name"] == "heartbeat")
            .expect("a heartbeat receiver");
        assert_eq!(
            heartbeat["webhook_configs"][0]["url_file"],
            "/run/secrets/heartbeat_url"
        );
        assert_eq!(heartbeat["webhook_configs"][0]["send_resolved"], false);
    }

    #[test]
    fn servicedown_and_critical_inhibit() {
        let config = rendered(&reference_yaml());
        let rules = config["inhibit_rules"].as_array().expect("inhibit rules");
        assert_eq!(rules[0]["source_matchers"][0], "alertname=\"ServiceDown\"");
        assert_eq!(rules[0]["target_matchers"][0], "alertname!=\"ServiceDown\"");
        assert_eq!(rules[0]["equal"], serde_json::json!(["service"]));
        assert_eq!(rules[1]["source_matchers"][0], "severity=\"critical\"");
        assert_eq!(rules[1]["target_matchers"][0], "severity=\"warning\"");
        assert_eq!(
            rules[1]["equal"],
            serde_json::json!(["alertname", "service"])
        );
    }

    #[test]
    fn without_receivers_everything_goes_to_the_null_receiver() {
        let yaml = reference_yaml();
        let start = yaml.find("  receivers:").expect("receivers");
        let end = yaml.find("  alerts:").expect("alerts");
        let config = rendered(&format!("{}{}", &yaml[..start], &yaml[end..]));
        assert_eq!(config["route"]["receiver"], "null");
        assert!(children(&config).iter().all(|(_, r, c)| r == "null" && !c));
        let names: Vec<&Value> = config["receivers"]
            .as_array()
            .expect("receivers")
            .iter()
            .map(|r| &r["name"])
            .collect();
        assert_eq!(names, ["heartbeat", "null"], "the heartbeat stays");
    }

    #[test]
    fn without_routes_every_receiver_gets_every_severity() {
        let yaml = reference_yaml().replace(
            "  routes:\n    critical: [oncall, team-email]\n    warning: [team-email]\n",
            "",
        );
        let config = rendered(&yaml);
        let routes = children(&config);
        assert_eq!(routes.len(), 6, "{routes:?}");
        assert!(
            routes.iter().all(|(_, r, _)| r != "null"),
            "only the Watchdog is discarded: {routes:?}"
        );
    }

    #[test]
    fn webhooks_read_their_url_from_a_file() {
        let yaml = reference_yaml().replace(
            "    team-email:\n",
            "    hook:\n      kind: webhook\n      url: { secret: INCIDENT_WEBHOOK_URL }\n    team-email:\n",
        );
        let config = rendered(&yaml);
        let hook = config["receivers"]
            .as_array()
            .expect("receivers")
            .iter()
            .find(|r| r["name"] == "hook")
            .expect("hook receiver");
        assert_eq!(
            hook["webhook_configs"][0]["url_file"],
            "/run/secrets/incident_webhook_url"
        );
    }
}

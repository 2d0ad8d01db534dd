//! The Kubernetes target: plain manifests for the environments whose `platform` is
//! `kubernetes`, as a Kustomize base (`kubernetes/base/`) and one overlay per environment
//! (`kubernetes/overlays/<env>/`).
//!
//! The base holds what every cluster environment shares: Deployments, Services, CronJobs, the
//! NetworkPolicies between services, and the Prometheus Operator objects. Each overlay sets the
//! namespace and image tags, and adds what differs: variables (a ConfigMap per service and a patch
//! with the secret references), replica counts, autoscalers, disruption budgets, routes (Ingress or
//! Gateway API), probes of the environment's URLs and an in-cluster PostgreSQL when asked for.
//! Every module returns typed objects; this one lays them out and writes the kustomizations.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{GeneratedFile, to_yaml};
use crate::model::{Environment, Model};

pub mod monitoring;
pub mod network;
pub mod objects;
pub mod routing;
pub mod workloads;

#[cfg(test)]
mod tests;

/// Where the manifests live, relative to the output root.
pub const ROOT: &str = "kubernetes";

/// The label every object carries with its component's name; selectors use it.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label naming the project.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// The label naming the kind of component (`service`, `job`, `database`).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// The label naming the tool that wrote the object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// One YAML file of the base or of an overlay: its path inside that directory and its objects,
/// each already serialized as one YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The path relative to the base or overlay directory (`services/api.yaml`).
    pub path: String,
    /// Serialized objects, one YAML document each.
    pub documents: Vec<String>,
}

impl Manifest {
    /// A manifest of already serialized documents.
    pub fn new(path: impl Into<String>, documents: Vec<String>) -> Self {
        Self {
            path: path.into(),
            documents,
        }
    }
}

/// What a module contributes to the base or to one overlay.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// Files listed under `resources`.
    pub resources: Vec<Manifest>,
    /// Strategic-merge patches listed under `patches` (overlays only).
    pub patches: Vec<Manifest>,
}

impl Layer {
    /// Adds another module's files.
    pub fn extend(&mut self, other: Layer) {
        self.resources.extend(other.resources);
        self.patches.extend(other.patches);
    }
}

/// Serializes one typed object as a YAML document.
pub fn document<T: Serialize>(object: &T) -> String {
    to_yaml(object)
}

/// The labels of a component of the project.
pub fn labels(model: &Model, name: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_LABEL.to_string(), name.to_string()),
        (PART_OF_LABEL.to_string(), model.project.name.clone()),
        (COMPONENT_LABEL.to_string(), component.to_string()),
        (MANAGED_BY_LABEL.to_string(), "blueprint".to_string()),
    ])
}

/// The labels that select a component's pods (stable across releases: never a version).
pub fn selector(model: &Model, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_LABEL.to_string(), name.to_string()),
        (PART_OF_LABEL.to_string(), model.project.name.clone()),
    ])
}

/// The environments that run on Kubernetes.
pub fn cluster_environments(model: &Model) -> impl Iterator<Item = &Environment> {
    model.environments.iter().filter(|e| e.on_kubernetes())
}

/// The overlay directory of `environment`.
pub fn overlay_dir(environment: &str) -> String {
    format!("{ROOT}/overlays/{environment}")
}

/// Renders the base and the overlays; nothing when no environment runs on Kubernetes.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    let Some(first) = cluster_environments(model).next() else {
        return Vec::new();
    };
    let mut files = Vec::new();

    let mut base = workloads::base(model, first);
    base.extend(network::base(model, first));
    base.extend(monitoring::base(model, first));
    files.extend(layer_files(
        &format!("{ROOT}/base"),
        &base,
        &Kustomization::base(&base),
    ));

    for environment in cluster_environments(model) {
        let mut overlay = workloads::overlay(model, environment);
        overlay.extend(routing::overlay(model, environment));
        overlay.extend(network::overlay(model, environment));
        overlay.extend(monitoring::overlay(model, environment));
        let kustomization = Kustomization::overlay(model, environment, &overlay);
        files.extend(layer_files(
            &overlay_dir(&environment.name),
            &overlay,
            &kustomization,
        ));
    }
    files
}

fn layer_files(dir: &str, layer: &Layer, kustomization: &Kustomization) -> Vec<GeneratedFile> {
    let mut files = vec![GeneratedFile::hash_commented(
        format!("{dir}/kustomization.yaml"),
        to_yaml(kustomization),
    )];
    for manifest in layer.resources.iter().chain(&layer.patches) {
        files.push(GeneratedFile::hash_commented(
            format!("{dir}/{}", manifest.path),
            objects::documents(&manifest.documents),
        ));
    }
    files
}

/// A `kustomization.yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    patches: Vec<PatchRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<ImageTag>,
}

#[derive(Debug, Clone, Serialize)]
struct PatchRef {
    path: String,
}

/// An image whose tag the overlay sets; the deploy workflow changes `newTag` to the commit it
/// deploys (`kustomize edit set image`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageTag {
    name: String,
    new_tag: String,
}

impl Kustomization {
    fn new(resources: Vec<String>) -> Self {
        Self {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            namespace: None,
            resources,
            patches: Vec::new(),
            images: Vec::new(),
        }
    }

    fn base(layer: &Layer) -> Self {
        Self::new(layer.resources.iter().map(|m| m.path.clone()).collect())
    }

    fn overlay(model: &Model, environment: &Environment, layer: &Layer) -> Self {
        let mut resources = vec!["../../base".to_string()];
        resources.extend(layer.resources.iter().map(|m| m.path.clone()));
        let mut kustomization = Self::new(resources);
        kustomization.namespace = environment.kubernetes.as_ref().map(|k| k.namespace.clone());
        kustomization.patches = layer
            .patches
            .iter()
            .map(|m| PatchRef {
                path: m.path.clone(),
            })
            .collect();
        kustomization.images = workloads::cluster_images(model, environment)
            .into_iter()
            .map(|image| ImageTag {
                name: image.to_string(),
                new_tag: "latest".into(),
            })
            .collect();
        kustomization
    }
}

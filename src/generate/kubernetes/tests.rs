//! Targeted assertions on the Kubernetes manifests.

//! The third-party actions the generated workflows use, each pinned to a reviewed release.
//!
//! A tag can be moved by whoever controls the action's repository (in March 2026 75 of the 76
//! tags of `aquasecurity/trivy-action` were force-pushed to a credential stealer), so GitHub's
//! hardening guide asks for full commit SHAs. Every SHA below was checked against the release
//! it names in public workflows that pin it with the same version comment; none was guessed.
//! To bump one: resolve the new tag to its commit (`git ls-remote https://github.com/<owner>/<repo>
//! refs/tags/<tag>`, dereferencing annotated tags), update `sha` and `version` together, and
//! let the release age a week first (the same cooldown Dependabot applies).

use crate::blueprint::ActionPinning;

/// One action at one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedAction {
    /// `owner/repo`, or `owner/repo/path` for an action in a subdirectory.
    pub name: &'static str,
    /// The full 40-hex commit SHA of the release.
    pub sha: &'static str,
    /// The release the SHA is, written beside it as a `# v1.2.3` comment.
    pub version: &'static str,
    /// What `pin_actions: tag` references instead: the moving major tag where the project keeps
    /// one, otherwise the release itself.
    pub tag: &'static str,
}

impl PinnedAction {
    /// The `uses:` value under `pinning` (without the version comment, which YAML serialization
    /// cannot carry; see `super::annotate`).
    pub fn reference(&self, pinning: ActionPinning) -> String {
        match pinning {
            ActionPinning::Sha => format!("{}@{}", self.name, self.sha),
            ActionPinning::Tag => format!("{}@{}", self.name, self.tag),
        }
    }
}

/// `actions/checkout`.
pub const CHECKOUT: PinnedAction = PinnedAction {
    name: "actions/checkout",
    sha: "de0fac2e4500dabe0009e67214ff5f5447ce83dd",
    version: "v6.0.2",
    tag: "v6",
};

/// `actions/setup-python`.
pub const SETUP_PYTHON: PinnedAction = PinnedAction {
    name: "actions/setup-python",
    sha: "a309ff8b426b58ec0e2a45f0f869d46889d02405",
    version: "v6.2.0",
    tag: "v6",
};

/// `actions/setup-node`.
pub const SETUP_NODE: PinnedAction = PinnedAction {
    name: "actions/setup-node",
    sha: "6044e13b5dc448c55e2357c09f80417699197238",
    version: "v6.2.0",
    tag: "v6",
};

/// `actions/cache`.
pub const CACHE: PinnedAction = PinnedAction {
    name: "actions/cache",
    sha: "cdf6c1fa76f9f475f3d7449005a359c84ca0f306",
    version: "v5.0.3",
    tag: "v5",
};

/// `docker/setup-buildx-action`.
pub const SETUP_BUILDX: PinnedAction = PinnedAction {
    name: "docker/setup-buildx-action",
    sha: "4d04d5d9486b7bd6fa91e7baf45bbb4f8b9deedd",
    version: "v4.0.0",
    tag: "v4",
};

/// `docker/login-action`.
pub const DOCKER_LOGIN: PinnedAction = PinnedAction {
    name: "docker/login-action",
    sha: "b45d80f862d83dbcd57f89517bcf500b2ab88fb2",
    version: "v4.0.0",
    tag: "v4",
};

/// `docker/metadata-action`.
pub const DOCKER_METADATA: PinnedAction = PinnedAction {
    name: "docker/metadata-action",
    sha: "030e881283bb7a6894de51c315a6bfe6a94e05cf",
    version: "v6.0.0",
    tag: "v6",
};

/// `docker/build-push-action`.
pub const BUILD_PUSH: PinnedAction = PinnedAction {
    name: "docker/build-push-action",
    sha: "d08e5c354a6adb9ed34480a06d141179aa583294",
    version: "v7.0.0",
    tag: "v7",
};

/// `aquasecurity/trivy-action` (v0.36.0 is a release made after the March 2026 compromise;
/// the project keeps no major tag, so tag mode names the release).
pub const TRIVY: PinnedAction = PinnedAction {
    name: "aquasecurity/trivy-action",
    sha: "ed142fd0673e97e23eac54620cfb913e5ce36c25",
    version: "v0.36.0",
    tag: "v0.36.0",
};

/// `github/codeql-action/upload-sarif`.
pub const UPLOAD_SARIF: PinnedAction = PinnedAction {
    name: "github/codeql-action/upload-sarif",
    sha: "b20883b0cd1f46c72ae0ba6d1090936928f9fa30",
    version: "v4.32.0",
    tag: "v4",
};

/// Every pinned action.
pub const ALL: &[PinnedAction] = &[
    CHECKOUT,
    SETUP_PYTHON,
    SETUP_NODE,
    CACHE,
    SETUP_BUILDX,
    DOCKER_LOGIN,
    DOCKER_METADATA,
    BUILD_PUSH,
    TRIVY,
    UPLOAD_SARIF,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_full_sha_with_a_release_version() {
        for action in ALL {
            assert_eq!(action.sha.len(), 40, "{}", action.name);
            assert!(
                action
                    .sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{}: {}",
                action.name,
                action.sha
            );
            let release = action.version.strip_prefix('v').unwrap_or_default();
            assert_eq!(
                release.split('.').count(),
                3,
                "{}: {}",
                action.name,
                action.version
            );
            assert!(
                action.version.starts_with(action.tag),
                "{}: tag {} is not a prefix of {}",
                action.name,
                action.tag,
                action.version
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}

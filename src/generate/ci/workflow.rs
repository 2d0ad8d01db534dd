//! Typed GitHub Actions workflow syntax: only the keys the generated workflows use, in the order
//! people write them, so the YAML reads like a hand-written workflow.

use indexmap::IndexMap;
use serde::Serialize;

/// A workflow file.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    /// Shown in the Actions tab.
    pub name: String,
    /// The events that start it.
    #[serde(rename = "on")]
    pub on: Triggers,
    /// The default `GITHUB_TOKEN` grants: none; each job asks for what it needs.
    pub permissions: Permissions,
    /// At most one run per group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// Jobs, in the order they are listed.
    pub jobs: IndexMap<String, Job>,
}

/// A trigger without options (`workflow_dispatch: {}`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Always {}

/// The `on:` block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Triggers {
    /// Pushes to these branches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<BranchFilter>,
    /// Pull requests (never `pull_request_target`: it runs untrusted code with secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestFilter>,
    /// Cron schedules, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<Schedule>>,
    /// Started by hand from the Actions tab.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_dispatch: Option<Always>,
    /// Called by another workflow of this repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_call: Option<WorkflowCall>,
}

/// `workflow_call:`: what a caller must pass.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkflowCall {
    /// Secrets, by name (repository secrets do not reach a called workflow unless passed).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, CallSecret>,
}

/// A secret a reusable workflow takes.
#[derive(Debug, Clone, Serialize)]
pub struct CallSecret {
    /// Whether the caller must pass it.
    pub required: bool,
}

/// `push:` filters.
#[derive(Debug, Clone, Serialize)]
pub struct BranchFilter {
    /// Branch names.
    pub branches: Vec<String>,
}

/// `pull_request:` filters; empty means every pull request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PullRequestFilter {
    /// Only when one of these paths changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// One `schedule:` entry.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// Five-field cron, UTC.
    pub cron: String,
}

/// What a token may do with one kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read only.
    Read,
    /// Read and write.
    Write,
}

/// `GITHUB_TOKEN` grants; every scope left out is `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Permissions {
    /// Repository contents (checkout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Access>,
    /// GitHub Packages (the container registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Access>,
    /// Code scanning alerts (SARIF uploads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_events: Option<Access>,
}

impl Permissions {
    /// Nothing at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Checkout only.
    pub fn read_contents() -> Self {
        Self {
            contents: Some(Access::Read),
            ..Self::default()
        }
    }
}

/// A concurrency group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Concurrency {
    /// The group name (may use expressions).
    pub group: String,
    /// `true`, `false` or an expression.
    pub cancel_in_progress: Flag,
}

/// A boolean, or an expression that evaluates to one.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Flag {
    /// A literal.
    Literal(bool),
    /// `${{ ... }}`.
    Expression(String),
}

/// A GitHub deployment environment: where required reviewers and environment secrets live.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// The environment's name (the blueprint's environment name).
    pub name: String,
    /// Shown on the deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `strategy:`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Strategy {
    /// Whether one failing entry cancels the others.
    pub fail_fast: bool,
    /// The entries.
    pub matrix: Matrix,
}

/// A matrix given as explicit entries.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    /// One map of values per entry.
    pub include: Vec<IndexMap<String, String>>,
}

/// `defaults:`.
#[derive(Debug, Clone, Serialize)]
pub struct Defaults {
    /// Defaults of `run:` steps.
    pub run: RunDefaults,
}

/// `defaults.run`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunDefaults {
    /// `bash` runs scripts with `-eo pipefail`, unlike the implicit default.
    pub shell: String,
    /// Where scripts run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// A job: steps on a runner, or a call to a reusable workflow (`uses`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Job {
    /// Shown in checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Jobs that must succeed first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// Run only when this expression holds.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The runner image; `None` for a reusable workflow call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
    /// A reusable workflow to call instead of steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// Secrets passed to the reusable workflow, each by name (never `inherit`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, String>,
    /// The deployment environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Token grants.
    pub permissions: Permissions,
    /// Kill the job after this long (not allowed on reusable workflow calls: the called
    /// workflow's jobs carry their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u32>,
    /// At most one such job at a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// A matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Defaults of the job's `run:` steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// The steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// The value of an action input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Input {
    /// Text (expressions allowed).
    Text(String),
    /// A boolean.
    Flag(bool),
}

impl From<&str> for Input {
    fn from(text: &str) -> Self {
        Self::Text(text.to_string())
    }
}

impl From<String> for Input {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<bool> for Input {
    fn from(flag: bool) -> Self {
        Self::Flag(flag)
    }
}

/// A step: an action (`uses`) or a script (`run`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    /// Shown in the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `steps.<id>.outputs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Run only when this expression holds.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// The action's inputs.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub with: IndexMap<String, Input>,
    /// Environment variables: the only way data from expressions reaches a script.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Where the script runs, when not the job's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The script; never contains `${{ }}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

impl Step {
    /// A step that runs `action`.
    pub fn action(name: &str, action: String) -> Self {
        Self {
            name: Some(name.to_string()),
            uses: Some(action),
            ..Self::default()
        }
    }

    /// A step that runs `script`.
    pub fn script(name: &str, script: impl Into<String>) -> Self {
        Self {
            name: Some(name.to_string()),
            run: Some(script.into()),
            ..Self::default()
        }
    }

    /// Adds an input.
    pub fn with(mut self, key: &str, value: impl Into<Input>) -> Self {
        self.with.insert(key.to_string(), value.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    /// Sets the id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// Sets the condition.
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// Sets the working directory.
    pub fn in_directory(mut self, directory: &str) -> Self {
        self.working_directory = Some(directory.to_string());
        self
    }
}

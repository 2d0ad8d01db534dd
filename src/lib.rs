//! blueprint: one declarative YAML file in, production-grade infrastructure out.
//!
//! The pipeline, one module per stage:
//! [`load`] (YAML with source positions) -> [`validate`] (every diagnostic, located) ->
//! [`model`] (defaults applied, environments merged) -> [`generate`] (pure `&Model ->
//! Vec<GeneratedFile>`) -> [`writer`] (render, diff, check: the only code that touches disk).

pub mod blueprint;
pub mod bootstrap;
pub mod cli;
pub mod diagnostic;
pub mod generate;
pub mod load;
pub mod model;
pub mod syntax;
pub mod validate;
pub mod writer;

/// The GitHub repository (`owner/name`) that publishes blueprint's releases: the schema URL,
/// and the release downloads of the GitHub Action, derive from it. Change it here only.
pub const BLUEPRINT_REPOSITORY: &str = "blueprint-rs/blueprint";

/// The stable URL of the JSON Schema attached to the latest release (`blueprint schema --url`):
/// GitHub redirects `releases/latest/download/<asset>` to the newest release's copy, so editors
/// that point at it follow new versions without edits.
pub fn schema_url() -> String {
    format!(
        "https://github.com/{BLUEPRINT_REPOSITORY}/releases/latest/download/blueprint.schema.json"
    )
}

//! The `observability` generator.

use crate::generate::GeneratedFile;
use crate::model::Model;

/// Renders this target's files.
pub fn generate(_model: &Model) -> Vec<GeneratedFile> {
    Vec::new()
}

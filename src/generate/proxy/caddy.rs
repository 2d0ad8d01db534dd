//! The Caddy engine: one `Caddyfile` per environment.

use crate::model::{Environment, Model};

/// Renders `proxy/<env>/Caddyfile` for `environment`, whatever engine the blueprint chose.
pub fn caddyfile(_model: &Model, _environment: &Environment) -> String {
    String::new()
}

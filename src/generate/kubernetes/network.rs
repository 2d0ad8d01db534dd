//! NetworkPolicies: default deny, then the traffic the blueprint implies.

use super::Layer;
use crate::model::{Environment, Model};

/// What the base holds.
pub fn base(_model: &Model, _first: &Environment) -> Layer {
    Layer::default()
}

/// What `environment`'s overlay adds.
pub fn overlay(_model: &Model, _environment: &Environment) -> Layer {
    Layer::default()
}

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

//! Tests of the ci generator.

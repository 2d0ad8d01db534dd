//! Tests of the containers generator.

//! Raw bytes through what `blueprint validate FILE` does once it has read the file: the size
//! cap, UTF-8, YAML with positions and resource bounds, the schema and the semantic checks;
//! then the model, for what validation accepts. Any panic is a crash, and so is a refusal that
//! is not located or that prints a control character from the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match blueprint::cli::load_bytes("fuzz.yaml", data.to_vec()) {
        Ok(blueprint) => {
            let _ = blueprint::model::Model::from_blueprint(&blueprint);
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "refused without a diagnostic");
            for diagnostic in &diagnostics {
                assert!(diagnostic.span.line >= 1 && diagnostic.span.column >= 1);
                let text = diagnostic.render(false);
                assert!(
                    !text.chars().any(|c| c.is_control() && c != '\n'
                        || blueprint::diagnostic::is_display_control(c)),
                    "a diagnostic prints a control character: {text:?}"
                );
            }
        }
    }
});

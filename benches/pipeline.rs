//! `cargo bench`: the pipeline stage by stage (parse + validate, model, plan, check) for each
//! example and for a generated 200-service blueprint. A plain harness keeps the dependency set
//! lean: each stage runs until a time budget is spent, and the median of the runs is printed.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blueprint::model::Model;
use blueprint::validate::validate_source;
use blueprint::writer::{self, Provenance};

fn median(mut f: impl FnMut()) -> Duration {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and then one run
    // per stage proves the benchmark works without spending the test suite's time.
    let budget = if std::env::args().any(|a| a == "--bench") {
        Duration::from_millis(600)
    } else {
        Duration::ZERO
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let min_runs = if budget.is_zero() { 1 } else { 5 };
    while start.elapsed() < budget || samples.len() < min_runs {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
        if samples.len() >= 10_000 {
            break;
        }
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// A large blueprint: `n` FastAPI services, each routed, with a job every tenth service.
fn generated_blueprint(n: usize) -> String {
    let mut text = String::from(
        "project:\n  name: big\n  repository: acme/big\nenvironments:\n  dev: {}\n  staging:\n    domain: staging.big.example\n  prod:\n    domain: big.example\nservices:\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "  svc-{i}:\n    runtime: fastapi\n    path: services/svc-{i}\n    port: {}\n    routes:\n      - path: /svc-{i}\n    env:\n      TOKEN: {{ secret: SVC_{i}_TOKEN }}\n",
            10_000 + i
        ));
    }
    text.push_str("jobs:\n");
    for i in (0..n).step_by(10) {
        text.push_str(&format!(
            "  job-{i}:\n    service: svc-{i}\n    schedule: \"*/15 * * * *\"\n    command: [python, -m, job]\n"
        ));
    }
    text
}

fn bench(name: &str, source: &str) {
    let bp = validate_source(name, source).unwrap_or_else(|d| panic!("{name} is invalid: {d:?}"));
    let model = Model::from_blueprint(&bp);
    let root = std::env::temp_dir().join(format!("blueprint-bench-{}", std::process::id()));
    let provenance = Provenance::new(Path::new("blueprint.yaml"), &root);
    let plan = writer::plan(&model, &provenance).expect("plan");
    writer::render(&plan, &root, true).expect("render");
    let parse = median(|| {
        black_box(validate_source(name, black_box(source)).ok());
    });
    let resolve = median(|| {
        black_box(Model::from_blueprint(black_box(&bp)));
    });
    let plan_time = median(|| {
        black_box(writer::plan(black_box(&model), &provenance).ok());
    });
    let check = median(|| {
        black_box(writer::check(black_box(&plan), &root).ok());
    });
    let bytes: usize = plan.files.iter().map(|f| f.contents.len()).sum();
    println!(
        "{name:<28} {:>5} files {:>8} bytes | parse+validate {:>9.3?} | model {:>9.3?} | render {:>9.3?} | check {:>9.3?}",
        plan.files.len(),
        bytes,
        parse,
        resolve,
        plan_time,
        check
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn main() {
    // The examples: blueprints/<name>/blueprint.yaml, each beside its application sources.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("blueprints/")
        .map(|e| e.expect("entry").path().join("blueprint.yaml"))
        .filter(|p| p.is_file())
        .collect();
    examples.sort();
    for path in examples {
        let source = std::fs::read_to_string(&path).expect("read");
        let name = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        bench(&name, &source);
    }
    bench("generated (200 services)", &generated_blueprint(200));
}

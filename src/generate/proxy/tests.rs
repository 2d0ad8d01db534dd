use super::*;

fn example() -> Model {
    let text = std::fs::read_to_string("blueprints/data-platform.yaml").expect("example exists");
    let bp = serde_saphyr::from_str::<crate::blueprint::Blueprint>(&text).expect("example parses");
    Model::from_blueprint(&bp)
}

#[test]
fn dump() {
    let model = example();
    for env in &model.environments {
        let out = std::env::temp_dir().join(format!("proxy-dump/{}", env.name));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("nginx.conf"), nginx_conf(&model, env)).unwrap();
        std::fs::write(out.join("Caddyfile"), caddyfile(&model, env)).unwrap();
    }
}

//! Render or refuse: a field the blueprint accepts changes the render, or `validate` refuses it.
//! Nothing declared is silently dropped (issue 16).
//!
//! The fields are the schema's own properties (`blueprint schema`), so a new field is covered as
//! soon as it exists: `tests/hostile/every-field.yaml` must set every one of them, and the test
//! names any it does not. Then every value the fixture sets is changed, one at a time, to
//! another value the schema allows (another enum variant, a bool flipped, a number moved by one,
//! a string that still matches its pattern, or a hand-written alternative from [`ALTERNATIVES`]
//! where no generic change validates); every map key is renamed and every list loses its last
//! element. Each changed blueprint is validated and rendered in process, and its whole file set
//! (paths, contents, modes) compared with the fixture's.
//!
//! A value whose change validates but renders the same files is a field silently dropped: the
//! test fails, naming its path and the change, unless the field is in [`STEERS_VALIDATION`] (a
//! short list of fields whose only job is to decide what `validate` accepts) or in
//! [`KNOWN_GAPS`] (findings not fixed yet). Every failure is collected into one message.
//! A renamed key or a shortened list that `validate` refuses is fine (a name others refer to,
//! a list that may not be empty); a value none of whose changes validates is a failure: it needs
//! an entry in [`ALTERNATIVES`].

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use blueprint::generate::GeneratedFile;
use blueprint::model::Model;
use common::resolve;
use serde_json::Value as Json;

/// Fields whose value only steers what `validate` accepts, by schema path (`*` a map key, `[]`
/// a list item); changing one validly may leave the render as it is. Keep it short, and say
/// why for each.
const STEERS_VALIDATION: &[(&str, &str)] = &[];

/// Fields the guard found dropped and nobody has fixed yet (issue 16): each says what is
/// dropped. Empty is the goal; an entry that the render does follow fails the test, so the list
/// only ever shrinks by a fix.
const KNOWN_GAPS: &[(&str, &str)] = &[
    (
        "project.repository",
        "only its owner reaches the render (image names) while the runbooks live elsewhere",
    ),
    (
        "environments.*.env.*.default",
        "an environment's own variable has one environment: `per_env` elsewhere and `default` never apply",
    ),
];

/// Valid replacement values, by schema path, tried before the generic changes: for values that
/// name something else in the blueprint (a service, a store, a receiver), or whose language
/// (cron, PromQL, URLs) the generic changes do not speak.
const ALTERNATIVES: &[(&str, &[&str])] = &[
    ("services.*.stores[]", &["archive", "files"]),
    ("services.*.depends_on[]", &["db", "site"]),
    ("jobs.*.service", &["legacy"]),
    ("stores.*.backup.target", &["archive", "files"]),
    ("monitoring.routes.*[]", &["mail", "hook", "chat"]),
    ("monitoring.custom_alerts.*.service", &["nightly", "legacy"]),
];

/// Places whose change `validate` refuses unless other fields go with it, by JSON pointer:
/// the fields removed together with the change (settings that only mean something with the old
/// value). The change is compared with the fixture less those fields, so that only the change
/// itself can make the difference.
const COMPANIONS: &[(&str, &[&str])] = &[
    (
        "/environments/cluster/platform",
        &["/environments/cluster/kubernetes"],
    ),
    (
        "/environments/edge/platform",
        &["/environments/edge/kubernetes"],
    ),
    // The settings of one routing mode are refused under the other.
    (
        "/environments/cluster/kubernetes/routing",
        &[
            "/environments/cluster/kubernetes/ingress_class",
            "/environments/cluster/kubernetes/cluster_issuer",
        ],
    ),
    (
        "/environments/edge/kubernetes/routing",
        &["/environments/edge/kubernetes/gateway"],
    ),
    ("/services/api/metrics/enabled", &["/monitoring/slos"]),
    ("/monitoring/enabled", &["/proxy/expose"]),
    ("/monitoring/grafana/enabled", &["/proxy/expose/grafana"]),
    // Queues are Redis lists.
    ("/stores/cache/kind", &["/stores/cache/queues"]),
];

/// Places where `validate` refuses every change on purpose, by JSON pointer, with the
/// refusal's reason; the field must still change the render at another place of the fixture.
const REFUSALS: &[(&str, &str)] = &[
    (
        "/environments/cluster/stores/files",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/environments/cluster/stores/cache",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/environments/cluster/stores/archive",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/environments/edge/stores/files",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/environments/edge/stores/cache",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/environments/edge/stores/archive",
        "only PostgreSQL runs inside a cluster, and supabase is PostgreSQL only",
    ),
    (
        "/services/legacy/runtime",
        "only `custom` services bring their own Dockerfile",
    ),
    (
        "/stores/db/kind",
        "only PostgreSQL is backed up and runs inside the cluster",
    ),
    ("/stores/files/kind", "backups go to an `s3` store"),
    (
        "/monitoring/receivers/chat/kind",
        "each kind needs its own fields",
    ),
    (
        "/monitoring/receivers/mail/kind",
        "each kind needs its own fields",
    ),
];

/// The fixture's file name in diagnostics.
const FILE: &str = "every-field.yaml";

fn fixture() -> String {
    std::fs::read_to_string(common::repo().join("tests/hostile/every-field.yaml"))
        .expect("the fixture is readable")
}

// ---------------------------------------------------------------------------------------------
// The schema

fn types(node: &Json) -> Vec<&str> {
    match &node["type"] {
        Json::String(t) => vec![t.as_str()],
        Json::Array(ts) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The values an enum node allows (`enum`, or a `oneOf` of `const`s), if it is one.
fn enum_values(node: &Json) -> Option<Vec<String>> {
    if let Some(values) = node["enum"].as_array() {
        return Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        );
    }
    let branches = node["oneOf"].as_array()?;
    branches
        .iter()
        .map(|b| b["const"].as_str().map(str::to_string))
        .collect()
}

/// Whether `node` (resolved) can describe `value`.
fn fits(schema: &Json, node: &Json, value: &Json) -> bool {
    let node = resolve(schema, node);
    if let Some(branches) = node["anyOf"].as_array().or(node["oneOf"].as_array())
        && enum_values(node).is_none()
    {
        return branches.iter().any(|b| fits(schema, b, value));
    }
    if let Some(values) = enum_values(node) {
        return value
            .as_str()
            .is_some_and(|s| values.iter().any(|v| v == s));
    }
    let ts = types(node);
    match value {
        Json::Null => ts.contains(&"null"),
        Json::Bool(_) => ts.contains(&"boolean"),
        Json::Number(n) => {
            ts.contains(&"number") || (ts.contains(&"integer") && (n.is_i64() || n.is_u64()))
        }
        Json::String(_) => ts.contains(&"string"),
        Json::Array(_) => ts.contains(&"array"),
        Json::Object(map) => {
            ts.contains(&"object")
                && (node["additionalProperties"].is_object()
                    || map.keys().all(|k| node["properties"].get(k).is_some()))
        }
    }
}

/// The schema node that describes `value`: past `$ref`s, and into the `anyOf`/`oneOf` branch
/// that fits it (an enum stays whole, so that its other values are at hand).
fn node_for<'a>(schema: &'a Json, node: &'a Json, value: &Json) -> &'a Json {
    let node = resolve(schema, node);
    if enum_values(node).is_some() {
        return node;
    }
    for branch in ["anyOf", "oneOf"] {
        for sub in node[branch].as_array().into_iter().flatten() {
            if fits(schema, sub, value) {
                return node_for(schema, sub, value);
            }
        }
    }
    node
}

/// Every property path of the schema (`services.*.routes[].host`).
fn schema_properties(schema: &Json, node: &Json, path: &str, out: &mut BTreeSet<String>) {
    let node = resolve(schema, node);
    for branch in ["anyOf", "oneOf", "allOf"] {
        for sub in node[branch].as_array().into_iter().flatten() {
            schema_properties(schema, sub, path, out);
        }
    }
    for (key, sub) in node["properties"].as_object().into_iter().flatten() {
        let child = join(path, key);
        out.insert(child.clone());
        schema_properties(schema, sub, &child, out);
    }
    if node["additionalProperties"].is_object() {
        schema_properties(schema, &node["additionalProperties"], &join(path, "*"), out);
    }
    if node["items"].is_object() {
        schema_properties(schema, &node["items"], &format!("{path}[]"), out);
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture's values

/// What a change is made to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A scalar value.
    Value,
    /// A mapping key (renamed).
    Key,
    /// A list (its last item removed).
    List,
}

/// One place the fixture sets something.
struct Place<'a> {
    /// JSON pointer of the value (for a key: of the value under it).
    pointer: String,
    /// The schema path (`services.*.port`).
    path: String,
    kind: Kind,
    /// The schema node of the value (of the key's map for a key).
    node: &'a Json,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Every place of `value`, and the schema properties it sets.
fn places<'a>(
    schema: &'a Json,
    node: &'a Json,
    value: &Json,
    pointer: &str,
    path: &str,
    set: &mut BTreeSet<String>,
    out: &mut Vec<Place<'a>>,
) {
    let node = node_for(schema, node, value);
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", escape(key));
                let (sub, child_path) = match node["properties"].get(key) {
                    Some(sub) => {
                        let child_path = join(path, key);
                        set.insert(child_path.clone());
                        (sub, child_path)
                    }
                    None => {
                        let child_path = join(path, "*");
                        out.push(Place {
                            pointer: child_pointer.clone(),
                            path: child_path.clone(),
                            kind: Kind::Key,
                            node,
                        });
                        (&node["additionalProperties"], child_path)
                    }
                };
                places(schema, sub, child, &child_pointer, &child_path, set, out);
            }
        }
        Json::Array(items) => {
            if !items.is_empty() {
                out.push(Place {
                    pointer: pointer.to_string(),
                    path: path.to_string(),
                    kind: Kind::List,
                    node,
                });
            }
            for (i, item) in items.iter().enumerate() {
                let item_pointer = format!("{pointer}/{i}");
                places(
                    schema,
                    &node["items"],
                    item,
                    &item_pointer,
                    &format!("{path}[]"),
                    set,
                    out,
                );
            }
        }
        _ => out.push(Place {
            pointer: pointer.to_string(),
            path: path.to_string(),
            kind: Kind::Value,
            node,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Changes

/// `text` with its last number moved by `by` (`30m` -> `31m`, `0 1 * * *` -> `0 2 * * *`).
fn shift_last_number(text: &str, by: i64) -> Option<String> {
    let end = text.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let n: i64 = text[start..end].parse().ok()?;
    let shifted = n + by;
    (shifted >= 0).then(|| format!("{}{shifted}{}", &text[..start], &text[end..]))
}

/// Another text the schema's pattern (if any) allows, to try in order.
fn text_changes(path: &str, node: &Json, text: &str) -> Vec<String> {
    let mut out: Vec<String> = ALTERNATIVES
        .iter()
        .filter(|(p, _)| *p == path)
        .flat_map(|(_, alternatives)| alternatives.iter().map(|a| a.to_string()))
        .collect();
    if let Some(values) = enum_values(node) {
        out.extend(values.into_iter().filter(|v| v != text));
        return out;
    }
    let upper = text.chars().any(|c| c.is_ascii_uppercase())
        && !text.chars().any(|c| c.is_ascii_lowercase());
    out.push(format!("{text}{}", if upper { "X" } else { "x" }));
    out.extend(shift_last_number(text, 1));
    out.extend(shift_last_number(text, -1));
    out.push(format!("{}{text}", if upper { "X" } else { "x" }));
    if let Some(pattern) = node["pattern"].as_str() {
        let pattern = regex::Regex::new(pattern).expect("the schema's patterns compile");
        out.retain(|candidate| pattern.is_match(candidate));
    }
    out.retain(|candidate| candidate != text);
    out
}

fn value_changes(place: &Place, value: &Json) -> Vec<Json> {
    match value {
        Json::Bool(b) => vec![Json::Bool(!b)],
        Json::Number(n) if n.is_u64() || n.is_i64() => {
            let n = n.as_i64().expect("a small integer");
            vec![Json::from(n + 1), Json::from(n - 1)]
        }
        Json::Number(n) => {
            let x = n.as_f64().expect("a number");
            [x + 1.0, x - 1.0, x * 2.0, x / 2.0]
                .into_iter()
                .map(Json::from)
                .collect()
        }
        Json::String(text) => text_changes(&place.path, place.node, text)
            .into_iter()
            .map(Json::String)
            .collect(),
        other => panic!("{}: no change for {other}", place.pointer),
    }
}

/// The changed documents to try for `place`, each with a description.
fn changes(doc: &Json, place: &Place) -> Vec<(String, Json)> {
    let value = doc.pointer(&place.pointer).expect("the place exists");
    match place.kind {
        Kind::Value => value_changes(place, value)
            .into_iter()
            .map(|new| {
                let mut changed = doc.clone();
                *changed.pointer_mut(&place.pointer).expect("exists") = new.clone();
                (format!("{value} -> {new}"), changed)
            })
            .collect(),
        Kind::List => {
            let mut changed = doc.clone();
            let list = changed.pointer_mut(&place.pointer).expect("exists");
            let removed = list.as_array_mut().expect("a list").pop().expect("an item");
            vec![(format!("removed the last item ({removed})"), changed)]
        }
        Kind::Key => {
            let (parent, key) = place.pointer.rsplit_once('/').expect("a key has a parent");
            let key = key.replace("~1", "/").replace("~0", "~");
            let map = doc
                .pointer(parent)
                .and_then(Json::as_object)
                .expect("a map");
            let names = place.node["propertyNames"].clone();
            text_changes(&format!("{}(key)", place.path), &names, &key)
                .into_iter()
                .filter(|new| !map.contains_key(new))
                .map(|new| {
                    let mut changed = doc.clone();
                    let map = changed
                        .pointer_mut(parent)
                        .and_then(Json::as_object_mut)
                        .expect("a map");
                    *map = std::mem::take(map)
                        .into_iter()
                        .map(|(k, v)| if k == key { (new.clone(), v) } else { (k, v) })
                        .collect();
                    (format!("key {key:?} renamed {new:?}"), changed)
                })
                .collect()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The generators, cheapest first (as measured in a debug build): a change usually shows in the
/// first, and the rest need not run.
const ORDER: &[&str] = &[
    "proxy",
    "ci",
    "docs",
    "observability",
    "containers",
    "kubernetes",
    "buckets",
];

/// A render: each generator's files, in [`ORDER`].
type Render = Vec<Vec<GeneratedFile>>;

fn model(source: &str) -> Result<Model, String> {
    let blueprint = blueprint::validate::validate_source(FILE, source).map_err(|diagnostics| {
        diagnostics
            .first()
            .map(|d| d.message.clone())
            .unwrap_or_default()
    })?;
    Ok(Model::from_blueprint(&blueprint))
}

fn generator(name: &str) -> fn(&Model) -> Vec<GeneratedFile> {
    blueprint::generate::GENERATORS
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("a generator named {name}"))
        .run
}

fn render(source: &str) -> Result<Render, String> {
    let model = model(source)?;
    Ok(ORDER.iter().map(|name| generator(name)(&model)).collect())
}

/// Whether `source` validates, and renders exactly `base` (every path, content and mode): the
/// generators run one by one, and stop at the first difference.
fn renders_as(source: &str, base: &Render) -> Result<bool, String> {
    let model = model(source)?;
    Ok(ORDER
        .iter()
        .zip(base)
        .all(|(name, files)| generator(name)(&model) == *files))
}

/// What became of one place.
enum Outcome {
    /// A valid change changed the render.
    Followed,
    /// A valid change (described) rendered the same files.
    Unchanged(String),
    /// No change validated (the first refusal).
    Refused(String),
}

fn outcome(doc: &Json, place: &Place, base: &Render) -> Outcome {
    let companions = COMPANIONS
        .iter()
        .find(|(pointer, _)| *pointer == place.pointer)
        .map_or(&[][..], |(_, removed)| *removed);
    let mut doc = doc.clone();
    let companion_base;
    let base = if companions.is_empty() {
        base
    } else {
        for pointer in companions {
            let (parent, key) = pointer.rsplit_once('/').expect("a key has a parent");
            let parent = doc.pointer_mut(parent).and_then(Json::as_object_mut);
            parent
                .and_then(|map| map.shift_remove(key))
                .unwrap_or_else(|| panic!("COMPANIONS: {pointer} is in the fixture"));
        }
        companion_base = render(&blueprint::generate::to_yaml(&doc))
            .unwrap_or_else(|e| panic!("the fixture without {companions:?} is valid: {e}"));
        &companion_base
    };
    let mut first_refusal = None;
    for (description, changed) in changes(&doc, place) {
        match renders_as(&blueprint::generate::to_yaml(&changed), base) {
            Ok(true) => return Outcome::Unchanged(description),
            Ok(false) => return Outcome::Followed,
            Err(message) => {
                first_refusal.get_or_insert(format!("{description}: {message}"));
            }
        }
    }
    Outcome::Refused(first_refusal.unwrap_or_else(|| "no change to try".into()))
}

fn listed(list: &[(&str, &str)], path: &str) -> bool {
    list.iter().any(|(p, _)| *p == path)
}

#[test]
fn every_field_the_fixture_sets_changes_the_render() {
    let schema: Json = serde_json::from_str(&blueprint::blueprint::json_schema()).expect("JSON");
    let source = fixture();
    let doc: Json = serde_saphyr::from_str(&source).expect("the fixture is YAML");
    let base = render(&source).unwrap_or_else(|e| panic!("the fixture is valid: {e}"));
    // The document the changes are made to renders as the fixture does.
    assert_eq!(
        renders_as(&blueprint::generate::to_yaml(&doc), &base),
        Ok(true)
    );
    // Every generator is compared.
    let mut names: Vec<&str> = blueprint::generate::GENERATORS
        .iter()
        .map(|g| g.name)
        .collect();
    names.sort_unstable();
    let mut order = ORDER.to_vec();
    order.sort_unstable();
    assert_eq!(names, order, "ORDER names every generator");

    let mut properties = BTreeSet::new();
    schema_properties(&schema, &schema, "", &mut properties);
    let mut set = BTreeSet::new();
    let mut all = Vec::new();
    places(&schema, &schema, &doc, "", "", &mut set, &mut all);
    let mut failures = Vec::new();
    for missing in properties.difference(&set) {
        failures.push(format!(
            "{missing}: not set in tests/hostile/every-field.yaml (set it there)"
        ));
    }

    // Two threads: the renders are independent, and the order of the results is the places'.
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let chunk = all.len().div_ceil(threads);
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|places| {
                let (doc, base) = (&doc, &base);
                scope.spawn(move || {
                    places
                        .iter()
                        .map(|place| outcome(doc, place, base))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("no panic"))
            .collect()
    });

    let mut gaps_seen = BTreeSet::new();
    let mut steering_seen = BTreeSet::new();
    let mut refused_seen = BTreeSet::new();
    let mut followed = BTreeSet::new();
    for (place, outcome) in all.iter().zip(outcomes) {
        let what = match place.kind {
            Kind::Value => "",
            Kind::Key => " (key)",
            Kind::List => " (list)",
        };
        match outcome {
            Outcome::Followed => {
                followed.insert(place.path.clone());
            }
            Outcome::Unchanged(change) => {
                if listed(KNOWN_GAPS, &place.path) {
                    gaps_seen.insert(place.path.clone());
                } else if listed(STEERS_VALIDATION, &place.path) {
                    steering_seen.insert(place.path.clone());
                } else {
                    failures.push(format!(
                        "{}{what} at {}: {change}: render unchanged",
                        place.path, place.pointer
                    ));
                }
            }
            Outcome::Refused(_) if place.kind != Kind::Value => {}
            Outcome::Refused(_) if listed(REFUSALS, &place.pointer) => {
                refused_seen.insert(place.pointer.clone());
            }
            Outcome::Refused(refusal) => failures.push(format!(
                "{} at {}: no change validates ({refusal}): add a valid one to ALTERNATIVES",
                place.path, place.pointer
            )),
        }
    }
    for (pointer, why) in REFUSALS {
        if !refused_seen.contains(*pointer) {
            failures.push(format!(
                "{pointer}: listed in REFUSALS ({why}) but a change there validates: remove it"
            ));
        }
        let place = all.iter().find(|p| p.pointer == *pointer);
        if let Some(place) = place.filter(|p| !followed.contains(&p.path)) {
            failures.push(format!(
                "{}: refused at {pointer} ({why}), and no other place proves the render follows it",
                place.path
            ));
        }
    }
    for (path, why) in KNOWN_GAPS {
        if !gaps_seen.contains(*path) {
            failures.push(format!(
                "{path}: listed in KNOWN_GAPS ({why}) but the render follows it: remove it"
            ));
        }
    }
    for (path, why) in STEERS_VALIDATION {
        if !steering_seen.contains(*path) {
            failures.push(format!(
                "{path}: listed in STEERS_VALIDATION ({why}) but the render follows it: remove it"
            ));
        }
    }
    let mut message = String::new();
    for failure in &failures {
        writeln!(message, "  {failure}").expect("a String takes writes");
    }
    assert!(
        failures.is_empty(),
        "{} of {} places (and the schema's properties) fail render-or-refuse:\n{message}",
        failures.len(),
        all.len()
    );
}

//! `.env.<env>.example`: every variable an environment's Compose file reads from `.env.<env>`,
//! grouped by the container that reads it first, with what it is and whether it must be set.
//! Values are always empty: secrets are named here, never written.

use serde::Serialize;

use super::compose::{EnvFileVariable, TAG};
use crate::generate::render_template;
use crate::model::{Environment, Model};

const TEMPLATE: &str = include_str!("../templates/containers/env.example.j2");

#[derive(Serialize)]
struct Group {
    title: String,
    variables: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    summary: String,
    note: Option<&'static str>,
}

fn summary(variable: &EnvFileVariable) -> String {
    let kind = if variable.secret { "Secret" } else { "Setting" };
    let need = match &variable.default {
        None => "required".to_string(),
        Some(default) => format!("optional (default: {default})"),
    };
    format!("{kind}, {need}. Read by {}.", variable.uses.join(", "))
}

/// Renders the env example of `environment` from the variables its Compose file reads.
pub fn render(model: &Model, environment: &Environment, variables: &[EnvFileVariable]) -> String {
    let mut groups: Vec<Group> = Vec::new();
    for variable in variables {
        let entry = Entry {
            name: variable.name.clone(),
            summary: summary(variable),
            note: variable.note,
        };
        // The image tag concerns every built image, not the first container that uses one.
        let title = if variable.name == TAG {
            "images".to_string()
        } else {
            variable.first_user.clone()
        };
        match groups.iter_mut().find(|g| g.title == title) {
            Some(group) => group.variables.push(entry),
            None => groups.push(Group {
                title,
                variables: vec![entry],
            }),
        }
    }
    render_template(
        "env.example",
        TEMPLATE,
        minijinja::context! {
            project => &model.project.name,
            environment => &environment.name,
            groups => minijinja::Value::from(minijinja::value::Serde(&groups)),
        },
    )
}

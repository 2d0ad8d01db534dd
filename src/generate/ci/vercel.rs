//! `<service>/vercel.json` for every service hosted on Vercel.
//!
//! The CLI runs in the service's directory (see `deploy.yml`), so the Vercel project's Root
//! Directory setting must stay empty.

use serde::Serialize;

use crate::blueprint::{Runtime, Tier};
use crate::generate::{GeneratedFile, to_json};
use crate::model::{Environment, Model, Service};

/// The file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VercelConfig {
    /// For editors.
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// `Some(None)` writes `null` ("Other": no framework); `None` lets Vercel detect it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<Option<String>>,
    /// The directory Vercel serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_directory: Option<String>,
    /// `/about` serves `about.html`.
    pub clean_urls: bool,
    /// `/about/` redirects to `/about`.
    pub trailing_slash: bool,
    /// Response headers.
    pub headers: Vec<HeaderRule>,
    /// Paths served by the Compose stack's API, proxied through Vercel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<Rewrite>,
}

/// Headers for the paths matching `source`.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderRule {
    /// A path pattern.
    pub source: String,
    /// The headers.
    pub headers: Vec<Header>,
}

/// One header.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// A rewrite (the browser keeps its URL).
#[derive(Debug, Clone, Serialize)]
pub struct Rewrite {
    /// A path pattern.
    pub source: String,
    /// Where it goes.
    pub destination: String,
}

/// The environment whose public stack Vercel's rewrites point at: production, or the last
/// staging environment when there is none.
fn api_environment(model: &Model) -> Option<&Environment> {
    model
        .environments
        .iter()
        .filter(|e| e.tier == Tier::Production)
        .chain(
            model
                .environments
                .iter()
                .filter(|e| e.tier == Tier::Staging),
        )
        .next()
}

/// Rewrites to the API services of the stack: every path prefix the proxy routes to a Django,
/// FastAPI or Node service on the environment's domain, so the site can call `/api/...` on
/// its own origin. Websocket routes are left out (Vercel rewrites do not upgrade), and so are
/// whole-host routes, which would shadow the site itself. Vercel serves its own files first,
/// so a rewrite never hides one.
fn rewrites(model: &Model) -> Vec<Rewrite> {
    let Some(env) = api_environment(model) else {
        return Vec::new();
    };
    let scheme = if env.tls { "https" } else { "http" };
    let mut out: Vec<Rewrite> = model
        .services
        .iter()
        .filter(|s| s.on_compose(&env.name))
        .filter(|s| {
            matches!(
                s.runtime,
                Runtime::Django | Runtime::Fastapi | Runtime::Node
            )
        })
        .flat_map(|s| s.routes.iter())
        .filter(|r| r.host.is_none() && !r.websocket)
        .map(|r| r.path.trim_end_matches('/'))
        .filter(|path| !path.is_empty())
        .map(|path| Rewrite {
            source: format!("{path}/:path*"),
            destination: format!("{scheme}://{}{path}/:path*", env.domain),
        })
        .collect();
    out.sort_by(|a, b| a.source.cmp(&b.source));
    out.dedup_by(|a, b| a.source == b.source);
    out
}

/// The security headers the proxy sends, for the pages Vercel serves. HSTS is left to Vercel,
/// which sends it on every domain it serves.
fn security_headers(model: &Model) -> Vec<Header> {
    [
        (
            "Content-Security-Policy",
            model.proxy.content_security_policy.as_str(),
        ),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
    ]
    .into_iter()
    .map(|(key, value)| Header {
        key: key.to_string(),
        value: value.to_string(),
    })
    .collect()
}

/// The configuration of one service.
pub fn config(model: &Model, service: &Service) -> VercelConfig {
    // A static site is its directory, as in its image; other runtimes are left to Vercel's
    // framework detection.
    let (framework, output_directory) = match service.runtime {
        Runtime::Static => (Some(None), Some(".".to_string())),
        _ => (None, None),
    };
    VercelConfig {
        schema: "https://openapi.vercel.sh/vercel.json",
        framework,
        output_directory,
        clean_urls: true,
        trailing_slash: false,
        headers: vec![HeaderRule {
            source: "/(.*)".into(),
            headers: security_headers(model),
        }],
        rewrites: rewrites(model),
    }
}

/// `vercel.json` of every Vercel service.
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    model
        .services
        .iter()
        .filter(|s| s.on_vercel())
        .map(|service| {
            let path = if service.path == "." {
                "vercel.json".to_string()
            } else {
                format!("{}/vercel.json", service.path)
            };
            GeneratedFile::uncommented(path, to_json(&config(model, service)))
        })
        .collect()
}

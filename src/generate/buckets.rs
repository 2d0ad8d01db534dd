//! The protection of `s3` stores with `backup`: object versioning, and one lifecycle rule that
//! expires noncurrent versions after the retention. Where the bucket is on AWS (`managed`, and
//! always in a cluster), blueprint cannot reach it, so it renders the request bodies a user
//! applies with `aws s3api` (docs/operations.md says how): `s3/<store>/versioning.json` for
//! `put-bucket-versioning` and `s3/<store>/lifecycle.json` for
//! `put-bucket-lifecycle-configuration`, in exactly the shapes those commands read.

use serde::Serialize;

use super::{GeneratedFile, to_json};
use crate::model::{Model, Store, Versioning};

/// The body of `aws s3api put-bucket-versioning --versioning-configuration file://...`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersioningConfiguration {
    /// `Enabled`: once on, versioning can only be suspended, never removed.
    pub status: &'static str,
}

/// The body of `aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration
/// file://...`. It replaces the bucket's whole lifecycle configuration.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleConfiguration {
    /// The rules.
    pub rules: Vec<LifecycleRule>,
}

/// One lifecycle rule.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleRule {
    /// The rule's name.
    #[serde(rename = "ID")]
    pub id: String,
    /// Which objects: all of them.
    pub filter: Filter,
    /// `Enabled`.
    pub status: &'static str,
    /// Removes a delete marker once no version is left behind it, so that a deleted object
    /// whose versions have all expired leaves nothing to list.
    pub expiration: Expiration,
    /// A version that was overwritten or deleted is kept this long, then removed for good.
    pub noncurrent_version_expiration: NoncurrentVersionExpiration,
    /// Parts of an upload never completed are billed and never visible: aborted.
    pub abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload,
}

/// A rule's filter.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// The key prefix; empty for every object.
    pub prefix: String,
}

/// The expiration of current versions: only expired delete markers here.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Expiration {
    /// Remove a delete marker with no version behind it.
    pub expired_object_delete_marker: bool,
}

/// The expiration of noncurrent versions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    /// Days after a version became noncurrent.
    pub noncurrent_days: u64,
}

/// The abort of incomplete multipart uploads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    /// Days after the upload started.
    pub days_after_initiation: u64,
}

/// The versioning request of a protected bucket.
pub fn versioning_configuration() -> VersioningConfiguration {
    VersioningConfiguration { status: "Enabled" }
}

/// The lifecycle request of a protected bucket.
pub fn lifecycle_configuration(versioning: &Versioning) -> LifecycleConfiguration {
    LifecycleConfiguration {
        rules: vec![LifecycleRule {
            id: versioning.rule_id.clone(),
            filter: Filter {
                prefix: String::new(),
            },
            status: "Enabled",
            expiration: Expiration {
                expired_object_delete_marker: true,
            },
            noncurrent_version_expiration: NoncurrentVersionExpiration {
                noncurrent_days: versioning.noncurrent_days,
            },
            abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload {
                days_after_initiation: versioning.abort_incomplete_upload_days,
            },
        }],
    }
}

/// The protected buckets some environment keeps on AWS, where the user applies the requests.
pub fn applied_by_hand(model: &Model) -> impl Iterator<Item = (&Store, &Versioning)> {
    model.versioned_buckets().filter(|(store, _)| {
        model
            .environments
            .iter()
            .any(|e| e.bucket_on_aws(&store.name))
    })
}

/// The request bodies of every protected bucket on AWS.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    applied_by_hand(model)
        .flat_map(|(_, versioning)| {
            [
                GeneratedFile::uncommented(
                    format!("{}/versioning.json", versioning.dir),
                    to_json(&versioning_configuration()),
                ),
                GeneratedFile::uncommented(
                    format!("{}/lifecycle.json", versioning.dir),
                    to_json(&lifecycle_configuration(versioning)),
                ),
            ]
        })
        .collect()
}

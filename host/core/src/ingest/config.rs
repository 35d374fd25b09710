//! What an ingest job copies: a source prefix, a target, and the assets files are routed to,
//! from the pipeline file or from the original pipeline-003 JSON config.

use std::path::Path;

use serde::Deserialize;

use crate::sink::DateDepth;
use crate::source::CsvOptions;

/// `[ingest.NAME]` in the pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSpec {
    /// A folder or `s3://bucket/prefix/`: every file below it is considered.
    pub source: Option<String>,
    /// A folder or `s3://bucket/prefix/`: asset `A` lands under `<target>/A/`.
    pub target: Option<String>,
    /// The original JSON config (`ingest_config.json`): its assets, and its buckets when
    /// `source` or `target` are not given.
    pub config: Option<String>,
    /// `copy` keeps the bytes; `parquet` converts CSV files to Parquet (zstd).
    #[serde(default)]
    pub format: IngestFormat,
    /// How CSV files are read for `format = "parquet"`.
    pub csv: Option<CsvOptions>,
    #[serde(default = "crate::commit::default_tenant")]
    pub tenant: String,
    #[serde(default)]
    pub assets: Vec<Asset>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestFormat {
    #[default]
    Copy,
    Parquet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub name: String,
    /// A glob matched against the whole file name (never a substring): `tag.csv`, `ratings_*.csv`.
    pub pattern: String,
    /// Partition depth: `year`, `month` or `day`.
    #[serde(default)]
    pub partition: DateDepth,
}

/// The original config's shape (only the parts that drive raw ingest).
#[derive(Deserialize)]
struct Original {
    source_bucket: Option<String>,
    source_folder: Option<String>,
    target_bucket: Option<String>,
    pipeline: Vec<OriginalAsset>,
}

#[derive(Deserialize)]
struct OriginalAsset {
    data_asset: String,
    raw: OriginalRaw,
}

#[derive(Deserialize)]
struct OriginalRaw {
    partition: String,
    file_pattern: String,
    file_type: String,
}

impl IngestSpec {
    /// Takes the source, target and assets the original JSON config (pipeline 003's
    /// `ingest_config.json`) gives, where the spec does not give them.
    fn merge_original(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let original: Original =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if self.source.is_none() {
            if let (Some(bucket), folder) = (&original.source_bucket, &original.source_folder) {
                self.source = Some(format!(
                    "s3://{bucket}/{}",
                    folder
                        .as_deref()
                        .map(|f| format!("{f}/"))
                        .unwrap_or_default()
                ));
            }
        }
        if self.target.is_none() {
            self.target = original
                .target_bucket
                .as_ref()
                .map(|b| format!("s3://{b}/"));
        }
        for asset in original.pipeline {
            // The original matched `file_pattern` as a substring; the intended file is `<pattern>.<type>`.
            let pattern = format!("{}.{}", asset.raw.file_pattern, asset.raw.file_type);
            let partition = match asset.raw.partition.to_ascii_uppercase().as_str() {
                "YEAR" => DateDepth::Year,
                "MONTH" => DateDepth::Month,
                "DAY" => DateDepth::Day,
                other => {
                    return Err(format!(
                        "asset `{}`: partition {other:?} is not YEAR, MONTH or DAY",
                        asset.data_asset
                    ))
                }
            };
            self.assets.push(Asset {
                name: asset.data_asset,
                pattern,
                partition,
            });
        }
        Ok(())
    }

    /// Merges the original JSON config (if any) into this spec and checks it.
    pub fn resolve(
        &mut self,
        name: &str,
        base: &Path,
        vars: &crate::vars::Vars,
    ) -> Result<(), String> {
        if let Some(config) = self.config.clone() {
            self.merge_original(&base.join(config))?;
        }
        let missing = |what: &str| {
            format!("ingest `{name}`: no `{what}` (give it, or a `config` that names the bucket)")
        };
        let source = self.source.clone().ok_or_else(|| missing("source"))?;
        let target = self.target.clone().ok_or_else(|| missing("target"))?;
        self.source = Some(crate::vars::join(
            base,
            &crate::vars::expand_vars(&source, vars).map_err(|e| e.to_string())?,
        ));
        self.target = Some(crate::vars::join(
            base,
            &crate::vars::expand_vars(&target, vars).map_err(|e| e.to_string())?,
        ));
        if self.assets.is_empty() {
            return Err(format!("ingest `{name}`: no assets"));
        }
        let in_job = |e: crate::name::NameError| format!("ingest `{name}`: {e}");
        crate::name::check("ingest job name", name).map_err(in_job)?;
        crate::name::check("tenant", &self.tenant).map_err(in_job)?;
        for asset in &self.assets {
            crate::name::check("asset name", &asset.name).map_err(in_job)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_config_becomes_exact_patterns_and_depths() {
        // The original job's config (seed 003), bundled with the example.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ingest");
        let mut spec: IngestSpec = toml::from_str("config = \"ingest_config.json\"").unwrap();
        spec.resolve("movielens", &dir, &Default::default())
            .unwrap();
        assert_eq!(
            spec.source.as_deref(),
            Some("s3://rajesh-source-tf/movielens_dataset/")
        );
        assert_eq!(spec.target.as_deref(), Some("s3://rajesh-raw-tf/"));
        let tags = spec.assets.iter().find(|a| a.name == "movie_tags").unwrap();
        assert_eq!(
            (tags.pattern.as_str(), tags.partition),
            ("tag.csv", DateDepth::Month)
        );
        let genome = spec
            .assets
            .iter()
            .find(|a| a.name == "genome_tags")
            .unwrap();
        assert_eq!(
            (genome.pattern.as_str(), genome.partition),
            ("genome_tags.csv", DateDepth::Year)
        );
    }
}

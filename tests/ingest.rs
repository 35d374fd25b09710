//! Pipeline 003, raw ingest: files routed to assets by exact file name, copied into
//! zero-padded date partitions with a run-stable timestamp; reruns add nothing. On local
//! folders and on S3 (moto).

use std::path::{Path, PathBuf};

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{read_parquet, rows, Scratch};

fn original_config() -> PathBuf {
    // The original job's config (seed 003), bundled with the example.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ingest/ingest_config.json")
}

/// The movielens file names of the original, plus files no asset claims.
const FILES: [(&str, &str); 8] = [
    ("tag.csv", "userId,movieId,tag\n1,2,funny\n"),
    ("genome_tags.csv", "tagId,tag\n1,007\n"),
    ("genome_scores.csv", "movieId,tagId,relevance\n1,1,0.5\n"),
    ("link.csv", "movieId,imdbId\n1,114709\n"),
    ("movie.csv", "movieId,title\n1,Toy Story\n"),
    ("rating.csv", "userId,movieId,rating\n1,2,3.5\n"),
    ("README.txt", "not data"),
    ("old/tag.csv.bak", "not data either"),
];

fn pipeline(source: &str, target: &str, format: &str) -> String {
    format!(
        "[ingest.movielens]\nconfig = \"{}\"\nsource = \"{source}\"\ntarget = \"{target}\"\nformat = \"{format}\"\n",
        original_config().display()
    )
}

/// `YYYY`, `MM`, `DD` and the key timestamp of a run, from its report.
fn run_date(report: &serde_json::Value) -> (String, String, String, String) {
    let t = report["run_time"].as_str().unwrap();
    let stamp = format!(
        "{}{}{}T{}{}{}Z",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16],
        &t[17..19]
    );
    (t[0..4].into(), t[5..7].into(), t[8..10].into(), stamp)
}

#[test]
fn each_file_lands_in_its_own_asset_with_its_partition_depth_and_reruns_add_nothing() {
    let scratch = Scratch::new();
    for (name, body) in FILES {
        scratch.write(&format!("source/{name}"), body);
    }
    let out = scratch.run(&pipeline("source", "out/raw", "copy"), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let ingest = &out.report["ingests"][0];
    assert_eq!(ingest["copied"], 6);
    let unmatched: Vec<&str> = ingest["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        unmatched.iter().any(|u| u.ends_with("README.txt"))
            && unmatched.iter().any(|u| u.ends_with("tag.csv.bak")),
        "{unmatched:?}"
    );
    let (y, m, d, stamp) = run_date(&out.report);
    let expect = [
        (
            format!("movie_tags/year={y}/month={m}/movie_tags_{stamp}.csv"),
            "tag.csv",
        ),
        (
            format!("genome_tags/year={y}/genome_tags_{stamp}.csv"),
            "genome_tags.csv",
        ),
        (
            format!("genome_scores/year={y}/month={m}/genome_scores_{stamp}.csv"),
            "genome_scores.csv",
        ),
        (
            format!("movie_links/year={y}/month={m}/day={d}/movie_links_{stamp}.csv"),
            "link.csv",
        ),
        (
            format!("movies/year={y}/month={m}/movies_{stamp}.csv"),
            "movie.csv",
        ),
        (
            format!("movie_rating/year={y}/month={m}/movie_rating_{stamp}.csv"),
            "rating.csv",
        ),
    ];
    for (target, source) in &expect {
        let copied = std::fs::read(scratch.path(&format!("out/raw/{target}")))
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(
            copied,
            std::fs::read(scratch.path(&format!("source/{source}"))).unwrap(),
            "{target} is a byte copy of {source}"
        );
    }
    let data_files = |s: &Scratch| {
        s.output_files()
            .into_iter()
            .filter(|p| !p.to_string_lossy().contains("_sluice"))
            .count()
    };
    assert_eq!(data_files(&scratch), 6);

    let again = scratch.run(&pipeline("source", "out/raw", "copy"), &[]);
    assert_eq!(again.code, 0, "{}", again.report);
    assert_eq!(again.report["ingests"][0]["status"], "already_done");
    assert_eq!(again.report["ingests"][0]["skipped"], 6);
    assert_eq!(data_files(&scratch), 6, "a rerun adds nothing");

    // A changed source file is new content: ingested again, beside the first copy.
    scratch.write("source/tag.csv", "userId,movieId,tag\n1,2,funnier\n");
    let changed = scratch.run(&pipeline("source", "out/raw", "copy"), &[]);
    assert_eq!(changed.report["ingests"][0]["copied"], 1);
}

#[test]
fn ingest_on_s3_lists_every_key_and_converts_to_parquet() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    for (name, body) in FILES {
        bucket.put(&format!("movielens_dataset/{name}"), body);
    }
    // More keys than one listing page, none of them matched.
    for i in 0..1_050 {
        bucket.put(&format!("movielens_dataset/noise/n{i:04}.json"), "{}");
    }
    let pipeline = pipeline(
        &bucket.uri("movielens_dataset/"),
        &bucket.uri("raw/"),
        "parquet",
    );
    let args = bucket.flags();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scratch.run(&pipeline, &args);
    assert_eq!(out.code, 0, "{}", out.report);
    let ingest = &out.report["ingests"][0];
    assert_eq!(ingest["copied"], 6);
    assert_eq!(ingest["unmatched"].as_array().unwrap().len(), 1_052);
    let (y, m, _, stamp) = run_date(&out.report);
    let key = format!("raw/genome_tags/year={y}/genome_tags_{stamp}.parquet");
    let local = bucket.download(&key, &scratch.path("genome_tags.parquet"));
    assert_eq!(
        read_parquet(&local).rows(),
        &rows!([1, "007"]),
        "leading zeros kept: inferred as text"
    );
    assert!(bucket.keys().contains(&format!(
        "raw/movie_tags/year={y}/month={m}/movie_tags_{stamp}.parquet"
    )));

    let again = scratch.run(&pipeline, &args);
    assert_eq!(again.report["ingests"][0]["status"], "already_done");
    let data: Vec<String> = bucket
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("raw/") && !k.contains("_sluice"))
        .collect();
    assert_eq!(data.len(), 6, "{data:?}");
}

#[test]
fn s3_to_s3_copies_stay_in_s3() {
    use sluice_tests::fault_proxy::FaultProxy;
    let mut bucket = Bucket::new(Backend::Moto);
    let proxy = FaultProxy::start(&bucket.endpoint);
    bucket.endpoint = proxy.endpoint.clone();
    let scratch = Scratch::new();
    bucket.put("drop/a b+c.csv", "id\n1\n");
    bucket.put("drop/d.csv", "id\n2\n");
    let pipeline = format!(
        "[ingest.raw]\nsource = \"{}\"\ntarget = \"{}\"\n[[ingest.raw.assets]]\nname = \"files\"\npattern = \"*.csv\"\npartition = \"day\"\n",
        bucket.uri("drop/"),
        bucket.uri("raw/")
    );
    let args = bucket.flags();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scratch.run(&pipeline, &args);
    assert_eq!(out.code, 0, "{}", out.report);
    let copies: Vec<String> = bucket
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("raw/files/"))
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    let mut bodies: Vec<Vec<u8>> = copies.iter().map(|k| bucket.get(k).unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, [b"id\n1\n".to_vec(), b"id\n2\n".to_vec()]);
    let source_reads: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/drop/"))
        .collect();
    assert!(
        source_reads.is_empty(),
        "the bytes never came through Sluice: {source_reads:?}"
    );
}

//! The AWS Glue Data Catalog against moto's Glue over HTTP: a plain Parquet output in
//! append mode on S3 registered as a table over its symlink manifests, with its columns,
//! types, location and partitions checked through the Glue API (boto3, an independent
//! client); a new unit adds its partitions, a rerun adds nothing.

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::Scratch;

/// The table and its partitions as boto3 sees them, one line each.
fn glue_view(endpoint: &str) -> Vec<String> {
    let script = "import sys, boto3\n\
        g = boto3.client('glue', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
        t = g.get_table(DatabaseName='analytics', Name='orders')['Table']\n\
        sd = t['StorageDescriptor']\n\
        print('columns', [(c['Name'], c['Type']) for c in sd['Columns']])\n\
        print('keys', [(c['Name'], c['Type']) for c in t['PartitionKeys']])\n\
        print('input', sd['InputFormat'], sd['SerdeInfo']['SerializationLibrary'])\n\
        print('location', sd['Location'])\n\
        for p in sorted(g.get_partitions(DatabaseName='analytics', TableName='orders')['Partitions'], key=lambda p: p['Values']):\n\
        \x20   print('partition', p['Values'], p['StorageDescriptor']['Location'])\n";
    sluice_tests::python_lines(script, &[std::ffi::OsStr::new(endpoint)])
}

#[test]
fn an_append_output_is_registered_with_its_partitions() {
    let bucket = Bucket::new(Backend::Moto);
    let s = Scratch::new();
    s.write(
        "in/a.csv",
        "id,country,price,day\n1,FR,12.50,2024-03-01\n2,NO,3.00,2024-03-02\n",
    );
    let run = |s: &Scratch, input: &str| {
        let toml = format!(
            "[tables.orders]\nplugin = \"passthrough\"\n\
             input = {{ path = \"{input}\", types = {{ price = \"decimal(10,2)\" }} }}\n\
             output = {{ location = \"{}\", partition = {{ by = \"value\", column = \"country\" }}, glue = {{ database = \"analytics\" }} }}\n",
            bucket.uri("out/orders")
        );
        let mut args = bucket.flags();
        args.extend(["--glue-endpoint".to_string(), bucket.endpoint.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.run(&toml, &args)
    };
    let out = run(&s, "in/a.csv");
    assert_eq!(out.code, 0, "{}", out.report);
    let symlinks = bucket.uri("out/orders/_sluice/symlink/rows");
    assert_eq!(
        glue_view(&bucket.endpoint),
        [
            "columns [('id', 'bigint'), ('price', 'decimal(10,2)'), ('day', 'date')]".to_string(),
            "keys [('country', 'string')]".to_string(),
            "input org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe".to_string(),
            format!("location {symlinks}/"),
            format!("partition ['FR'] {symlinks}/country=FR/"),
            format!("partition ['NO'] {symlinks}/country=NO/"),
        ]
    );
    // The symlink manifest a partition points at names the committed data file.
    let unit = out.table()["unit"].as_str().unwrap();
    let manifest = bucket
        .get(&format!(
            "out/orders/_sluice/symlink/rows/country=FR/{unit}.txt"
        ))
        .unwrap();
    assert_eq!(
        String::from_utf8(manifest).unwrap().trim(),
        bucket.uri(&format!(
            "out/orders/rows/country=FR/part-{unit}-00000.parquet"
        ))
    );

    // A rerun adds nothing; a new file (a new unit) adds its partition.
    assert_eq!(run(&s, "in/a.csv").table()["status"], "already_done");
    s.write("in/b.csv", "id,country,price,day\n3,SE,1.00,2024-03-03\n");
    assert_eq!(run(&s, "in/b.csv").code, 0);
    let view = glue_view(&bucket.endpoint);
    let partitions: Vec<&String> = view.iter().filter(|l| l.starts_with("partition")).collect();
    assert_eq!(partitions.len(), 3, "{view:?}");
    assert!(partitions[2].starts_with("partition ['SE']"), "{view:?}");
}

//! The Parquet itself, as other engines' readers see it: float and double statistics that
//! pyarrow can use, and `created_by` in the usual `NAME version X (build Y)` form.

use std::process::Command;

use sluice_tests::{passthrough_pipeline as pipeline, python, Scratch};

#[test]
fn pyarrow_reads_min_and_max_of_every_float_column() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "f64,f32,i,t\n1.5,0.25,2,x\n-3.25,,4,y\nNaN,-1.5,5,z\n",
    );
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { f64 = "float64", f32 = "float32" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let script = "import sys, pyarrow.parquet as pq\n\
        m = pq.ParquetFile(sys.argv[1]).metadata\n\
        print(m.created_by)\n\
        for i in range(m.num_columns):\n\
        \x20   c = m.row_group(0).column(i); s = c.statistics\n\
        \x20   print(c.path_in_schema, s.has_min_max, s.min if s.has_min_max else '-', s.max if s.has_min_max else '-')\n";
    let read = Command::new(python())
        .args(["-c", script])
        .arg(s.path("out/t/rows.parquet"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "sluice version 0.1.0 (build parquet-rs 60.1)",
            "f64 True -3.25 1.5",
            "f32 True -1.5 0.25",
            "i True 2 5",
            "t True x z"
        ]
    );
}

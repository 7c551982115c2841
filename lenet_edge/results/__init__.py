"""What verify, benchmark and the pipeline produce, as typed records, and their files.

    skipped.py    Skipped: a variant no installed runtime could run (verify and benchmark)
    verify.py     VerifyResult, VerifyReport: verify.json, with each row's predicted classes
    benchmark.py  BenchmarkResult, BenchmarkReport: benchmark.json
    regression.py RegressionRow, RegressionReport: a run against a baseline (verify
                  --baseline's `baseline` in verify.json, benchmark --compare's `comparison`)
    pipeline.py   StageRecord, PipelineRecord: pipeline.json
    file_verify.py FileRun, FileComparison, FileVerifyReport: `verify FILE --json` (written
                  only: no command reads it back, so it has no from_dict)
    files.py      the checked read of each file in a bundle (names: bundle.py)
    tables.py     each result table built once as rows of text; the CLI (rich), the report
                  (HTML, Markdown) and deploy only render them

Every record has `to_dict()` (the JSON written, field names unchanged since 0.1) and
`from_dict(data)`, which checks every field a reader computes with and raises
`schema.Invalid` naming the first wrong one; the reader of a file adds the file's name
(ModelError, exit 4). The manifest and train.json have their records beside their readers
(bundle.Manifest, train_record.TrainRecord). numpy only: TF-free, interpreter-free.
"""

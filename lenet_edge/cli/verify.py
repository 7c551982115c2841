"""`lenet-edge verify`: accuracy of each converted variant versus the float model, gated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli import saved_results
from lenet_edge.cli.file_options import (
    DataDir,
    Dataset,
    InputRange,
    MinAccuracy,
    ModelPath,
    Reference,
    given,
    refuse,
)
from lenet_edge.cli.runtime_options import (
    JsonFile,
    MaxDrop,
    MinAgreement,
    Runtimes,
    Variants,
    check_outputs,
    field_help,
    stdout_console,
    write_output,
)
from lenet_edge.gates import DEFAULT_GATES, DEFAULT_REGRESSION_GATES, RegressionGates
from lenet_edge.schema import strict_json


def _budget_help(name: str) -> str:
    """RegressionGates' help for the field, and its default (as benchmark's --max-slowdown)."""
    default = getattr(DEFAULT_REGRESSION_GATES, name)
    return f"{field_help(RegressionGates, name)} (default: {default:g})"


def verify(
    ctx: typer.Context,
    model_dir: ModelPath,
    variant: Variants = None,
    runtime: Runtimes = None,
    max_drop: MaxDrop = DEFAULT_GATES.max_drop,
    min_agreement: MinAgreement = DEFAULT_GATES.min_agreement,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Use only the first N reference images (default: all).")] = None,
    json_out: JsonFile = None,
    junit_out: Annotated[Path | None, typer.Option(
        "--junit", help="Write JUnit XML to FILE: one testcase per variant x runtime.")] = None,
    markdown_out: Annotated[Path | None, typer.Option(
        "--markdown", help="Write a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY).")] = None,
    save: saved_results.SaveResults = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="A baseline bundle (the model shipped today): exit 1 when this "
        "bundle's float model or a variant is less accurate than the baseline's, overall "
        "or on any one class, by more than allowed.")] = None,
    # None, so that a budget given without --baseline is refused; the default is RegressionGates'.
    max_regression: Annotated[float | None, typer.Option(
        "--max-regression", help=_budget_help("max_regression"))] = None,
    max_class_regression: Annotated[float | None, typer.Option(
        "--max-class-regression", help=_budget_help("max_class_regression"))] = None,
    dataset: Dataset = None,
    data_dir: DataDir = None,
    reference: Reference = None,
    min_accuracy: MinAccuracy = None,
    input_range: InputRange = "auto",
) -> None:
    """Run every variant on the bundle's reference images; exit 1 if a gate fails.

    A variant a requested runtime cannot load is incompatible (op and version named): exit 1.

    With --baseline OLD_BUNDLE: the float model and each variant are also compared with
    OLD_BUNDLE's (same variant, same runtime) on this bundle's reference images: accuracy,
    accuracy per class, agreement. Exit 1 when one is worse by more than --max-regression
    points, or --max-class-regression on any class.

    The results are kept in the bundle as MODEL_DIR/verify.json for 'lenet-edge report',
    unless --json FILE names another file or --no-save is given.

    Needs no TensorFlow and no dataset: everything comes from the bundle.

    A single .tflite / .onnx FILE instead: verify FILE --dataset NAME reports its accuracy on
    the dataset's test split (exit 1 only below --min-accuracy); --reference OTHER_FILE also
    compares the two on those images, held to --max-drop and --min-agreement.
    """
    from rich.console import Console

    from lenet_edge import bundle
    from lenet_edge.errors import UsageError
    from lenet_edge.gates import Gates
    from lenet_edge.runtime.verify import check_limit
    from lenet_edge.runtime.verify import verify as run_verify

    gates = Gates(max_drop, min_agreement)  # usage errors before anything loads
    if model_dir.is_file():
        refuse(given(ctx, "variant", "baseline", "max_regression", "max_class_regression",
                     "junit_out", "markdown_out", *(["save"] if save else [])),
               f"applies to a bundle; {model_dir} is a model file")
        from lenet_edge.cli.verify_file import verify_model_file

        gated = given(ctx, "max_drop", "min_agreement")
        verify_model_file(model_dir, dataset, data_dir, reference, limit, min_accuracy,
                          gates if gated else None, runtime, input_range, json_out)
        return
    refuse(given(ctx, "dataset", "data_dir", "reference", "min_accuracy", "input_range"),
           "applies to a single model file; a bundle is verified on its own reference images")
    budget = {key: value for key, value in (("max_regression", max_regression),
                                            ("max_class_regression", max_class_regression))
              if value is not None}
    if budget and baseline is None:
        raise UsageError(f"--{next(iter(budget)).replace('_', '-')} needs --baseline OLD_BUNDLE")
    regression_gates = RegressionGates(**budget)
    check_limit(limit)
    saved = saved_results.destination(model_dir, bundle.VERIFY_JSON, save, json_out)
    check_outputs(model_dir, {"--json": json_out, "--junit": junit_out,
                              "--markdown": markdown_out,
                              "--save": saved})  # not after minutes of work
    if baseline is not None:  # nor may a report overwrite the baseline's own files
        check_outputs(baseline, {"--json": json_out, "--junit": junit_out,
                                 "--markdown": markdown_out})
    err = Console(stderr=True)
    report = run_verify(
        model_dir, variants=variant or None, runtimes=runtime or ("auto",), gates=gates,
        limit=limit, baseline=baseline, regression_gates=regression_gates,
        progress=lambda label, done, total: err.print(f"[{done}/{total}] verified {label}"),
    )
    data = report.to_dict()
    if json_out is not None and str(json_out) != "-":
        write_output(json_out, strict_json(data, "--json") + "\n")
    if junit_out is not None:  # imported when asked for: xml.etree costs start-up time
        from lenet_edge.report.junit import verify_junit

        write_output(junit_out, verify_junit(report))
    if markdown_out is not None:
        from lenet_edge.report.verify_markdown import verify_markdown

        write_output(markdown_out, verify_markdown(report))
    saved_results.save(saved, data)
    if json_out is not None and str(json_out) == "-":
        typer.echo(strict_json(data, "--json"))
    else:
        console = stdout_console()
        console.print(_table(report, console))
        if report.baseline is not None:
            from lenet_edge.cli.regression_table import regression_view

            # soft_wrap: each failure stays one line at any width, for grep in CI logs
            console.print(regression_view(report.baseline, console), soft_wrap=True)
    if not report.passed:
        raise typer.Exit(1)


def _table(report, console):
    """The results table (results/tables.py); messages and worst images go below it, so
    columns stay narrow. On a narrow terminal the logit errors go first (accuracy and
    agreement are the gates)."""
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.results.tables import verify_table

    table = verify_table(report)
    shown = table.select(("variant", "runtime", "status", "accuracy", "vs float", "agree",
                          "max|err|", "mean|err|"))
    colour = {"pass": "green", "fail": "red", "incompatible": "yellow"}
    rows = [[escape(cell) for cell in row] for row in shown.rows]
    for row, status in zip(rows, shown.marks, strict=True):
        if status in colour:
            row[2] = f"[{colour[status]}]{status}[/]"
    versions = sorted({f"{r.runtime} {r.runtime_version}" for r in report.results})
    verdict = "[green]passed[/]" if report.passed else "[red]FAILED[/]"
    rendered = fitted_table(
        console, shown.header, rows, right={shown.header[i] for i in shown.right},
        drop_order=("mean|err|", "max|err|"),
        title=f"verify {escape(report.bundle)}: {verdict}", box=box.SIMPLE_HEAD,
        caption=escape(f"{table.caption}; {', '.join(versions)}"))
    return Group(rendered, *map(Text, table.notes))  # Text: brackets in messages are not markup

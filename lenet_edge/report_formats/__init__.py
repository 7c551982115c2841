"""Renderers of runtime reports for CI systems: JUnit XML and Markdown step summaries.

Each takes a report's `to_dict()` (the same dict `--json` writes), so a CI job can also
render a JSON file brought back from a device.
"""

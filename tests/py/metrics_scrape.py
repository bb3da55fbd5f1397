"""Scrapes Kiln's Prometheus endpoint once and prints what the official
Python client's text parser (prometheus_client.parser) reads there, as JSON:
{"families": {name: type}, "samples": [[name, {label: value}, value], ...]}.
A body the parser rejects fails this script (and so the Rust test)."""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=10) as response:
        if response.status != 200:
            raise SystemExit(f"status {response.status}")
        content_type = response.headers.get("Content-Type", "")
        body = response.read().decode("utf-8")
    families = {}
    samples = []
    for family in text_string_to_metric_families(body):
        families[family.name] = family.type
        for sample in family.samples:
            samples.append([sample.name, dict(sample.labels), sample.value])
    print(json.dumps({"content_type": content_type, "families": families, "samples": samples}))


if __name__ == "__main__":
    main()

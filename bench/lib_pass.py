"""One monitoring pass through the library, without Prefect; prints the pass summary as JSON.

    python bench/lib_pass.py CONFIG
"""

from __future__ import annotations

import json
import sys

from monitor.config import load_config
from monitor.pipeline import run_pass


def main(config_path: str) -> None:
    report = run_pass(load_config(config_path))
    print(json.dumps(report.summary()))


if __name__ == "__main__":
    main(sys.argv[1])

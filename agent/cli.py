"""`assay-agent` console script."""

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "assay-agent: the agent (issue 'Hybrid agent, gRPC protocol, run queue') is not built yet",
        file=sys.stderr,
    )
    return 2

"""Schemathesis hooks for scripts/schemathesis (see docs/security-testing.md).

Long-poll bound: GET /v1/pull and POST /v1/sync take `wait` (seconds, clamped to 30 by the
relay). Generated values would make most calls sit out a 30 s long-poll, so an integer `wait`
from 2 to 2^63-1 is lowered to 1. Other values (negative, not integers, beyond u64) are left
alone, so negative testing still reaches the decoder; the long-poll itself is covered by
server/relay/tests/relay.rs.

`wait` is a u64 in the relay, which utoipa documents as `format: int64, minimum: 0`. A value
from 2^63 to 2^64-1 is therefore "schema-violating" to schemathesis but a valid u64 that the
relay accepts and clamps to 30 s, as specified. Such cases are filtered out rather than sent.
"""

import schemathesis

MAX_WAIT_S = 1
I64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1


def _wait_of(container):
    if not isinstance(container, dict):
        return None
    wait = container.get("wait")
    if isinstance(wait, bool):
        return None
    if isinstance(wait, int):
        return wait
    # Query values may come as text (coverage phase): "9223372036854775808".
    if isinstance(wait, str) and wait.isascii() and wait.isdigit():
        return int(wait)
    return None


def _cap(container):
    wait = _wait_of(container)
    if wait is not None and MAX_WAIT_S < wait <= I64_MAX:
        container["wait"] = MAX_WAIT_S if isinstance(container["wait"], int) else str(MAX_WAIT_S)


@schemathesis.hook
def filter_case(context, case):
    return not any(
        (w := _wait_of(c)) is not None and I64_MAX < w <= U64_MAX for c in (case.query, case.body)
    )


@schemathesis.hook
def map_case(context, case):
    _cap(case.query)
    _cap(case.body)
    return case

"""Hypothesis strategies and response checks for fuzzing the MTurk API from botocore's model, shared by
tests/server/api/test_fuzz.py (a small budget in the suite) and benchmarks/fuzz_api.py (a time-boxed campaign).

- `strategy_for(shape)`: requests of an input shape; `mode` picks the leaves: "mixed" (the suite's historic mix of
  valid, pattern, enum and odd values), "valid" (within the model's min/max/pattern/enum, with `hints` for members
  whose valid values are ids or documents), "boundary" (valid, plus limits and odd characters).
- `wrong_type_for(shape)`, `boundary_for(shape)`: leaves of the wrong JSON type; limit values.
- `sign(...)`: SigV4 headers for an API call, signed by botocore, optionally broken on purpose.
- `response_problems(op, status, headers, body)`: why an answer is malformed (empty list when it is well formed):
  errors must be JSON objects with `__type` and `Message` (and `TurkErrorCode` for RequestError/ServiceFault),
  200 answers must parse with botocore's parser and match the operation's output shape.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Callable, Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import JSONParser
from hypothesis import strategies as st

from hitkit.mturk.model import EXTRA_CONSTRAINTS, MAX_TIMESTAMP, MIN_TIMESTAMP, TARGET_PREFIX, operation_model

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)

ODD_STRINGS = ["", " ", "A" * 300, "<x/>", "0.05", "00000000000000000071", "<?xml version='1.0'?><a>&b;</a>",
               "\x00", "a\x00b", "\u00e9\u00e8", "\U0001f600" * 3, "\u202etxt", "\u200b", "\ufeffBOM", "'; DROP TABLE hits; --",
               "%s%n%x", "../../etc/passwd", "\\u0000", "null", "-1", "1e309", "\r\n\t", "\udfff".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]
HUGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)]


def _is_ids(name: str) -> bool:
    return name.endswith("Id") or name.endswith("Ids")


# ----------------------------------------------------------------------------------------------- strategies


def _valid_string(shape, meta: dict) -> st.SearchStrategy:  # type: ignore[no-untyped-def]
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    lo, hi = meta.get("min", 0), meta.get("max")
    top = min(hi, 64) if hi is not None else 64
    top = max(top, lo)
    if "pattern" in meta:
        return st.from_regex(meta["pattern"], fullmatch=True).filter(lambda s: lo <= len(s) <= (hi or 10**9) and "\x00" not in s)
    return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=lo, max_size=top)


def boundary_for(shape, meta: dict | None = None) -> st.SearchStrategy:  # type: ignore[no-untyped-def]
    """Limit and odd values for a leaf (or an empty/oversized container)."""
    meta = {**shape.metadata, **(meta or {})}
    t = shape.type_name
    lo, hi = meta.get("min"), meta.get("max")
    if t == "string":
        values = list(ODD_STRINGS)
        for n in (lo, hi):
            if n is not None:
                values += ["x" * n, "\u00e9" * n, "\U0001f600" * n]
                values += ["x" * (n + 1)] if n + 1 < 1_100_000 else []
                values += ["x" * (n - 1)] if n > 0 else []
        return st.sampled_from(values)
    if t in ("integer", "long"):
        values = list(HUGE_INTS)
        for n in (lo, hi):
            if n is not None:
                values += [n - 1, n, n + 1]
        return st.sampled_from(values)
    if t == "timestamp":
        return st.sampled_from([0, -1, 1.5, 1e-300, 2**31, 2**63, 10**11, 10**13, 10**13 + 1, MAX_TIMESTAMP, MAX_TIMESTAMP + 1,
                                MIN_TIMESTAMP, MIN_TIMESTAMP - 1, 10**30])
    if t == "boolean":
        return st.booleans()
    if t == "list":
        values: list[Any] = [[]]
        if hi is not None and hi <= 200:
            values.append([None] * (hi + 1))
        return st.sampled_from(values)
    if t == "structure":
        return st.just({})
    return ANY_JSON


def wrong_type_for(shape) -> st.SearchStrategy:  # type: ignore[no-untyped-def]
    """A JSON value of another type than the shape's."""
    t = shape.type_name
    pools = {
        "string": st.integers() | st.booleans() | st.lists(st.text(max_size=3), max_size=2) | st.just({}) | st.floats(allow_nan=False, allow_infinity=False),
        "integer": st.text(max_size=5) | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.just([1]) | st.just({}),
        "long": st.text(max_size=5) | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.just([1]),
        "boolean": st.sampled_from(["true", "false", 0, 1, [], {}]),
        "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "now", True, [], {}, "1700000000"]),
        "list": st.text(max_size=5) | st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        "structure": st.text(max_size=5) | st.integers() | st.lists(st.integers(), max_size=2) | st.booleans(),
    }
    return pools.get(t, ANY_JSON)


Hints = Mapping[str, st.SearchStrategy]


def strategy_for(shape, depth: int = 0, *, mode: str = "mixed", hints: Hints | None = None,  # type: ignore[no-untyped-def]
                 name: str = "", extra: dict | None = None) -> st.SearchStrategy:
    """Values of `shape`. mode: "mixed" | "valid" | "boundary" (see the module docstring). `hints` maps member
    names to strategies of meaningful values (ids of existing objects, valid XML, ...)."""
    hints = hints or {}
    meta = {**shape.metadata, **(extra or {})}
    t = shape.type_name
    if mode != "mixed" and name in hints and t != "structure":
        base = hints[name]
        return base if mode == "valid" else st.one_of(base, base, boundary_for(shape, extra))
    if t == "structure":
        members = {
            n: strategy_for(s, depth + 1, mode=mode, hints=hints, name=n,
                            extra=EXTRA_CONSTRAINTS.get(n) if depth == 0 and mode != "mixed" else None)
            for n, s in shape.members.items()
        }
        required = set(meta.get("required", ()))
        if mode != "mixed" and name in hints:
            return hints[name]
        return st.fixed_dictionaries(
            {n: s for n, s in members.items() if n in required},
            optional={n: s for n, s in members.items() if n not in required},
        )
    if t == "list":
        if mode == "mixed":
            return st.lists(strategy_for(shape.member, depth + 1), max_size=3 if depth < 2 else 1)
        lo, hi = meta.get("min", 0), meta.get("max")
        top = max(lo, min(hi if hi is not None else 3, 3 if depth < 2 else 1))
        member_name = name[:-1] if name.endswith("s") else name
        valid = st.lists(strategy_for(shape.member, depth + 1, mode=mode, hints=hints, name=member_name), min_size=lo, max_size=top)
        return valid if mode == "valid" else st.one_of(valid, valid, valid, boundary_for(shape, extra))
    if mode == "mixed":
        if t == "string":
            options = [st.text(max_size=40)]
            if shape.enum:
                options.append(st.sampled_from(shape.enum))
            if "pattern" in shape.metadata:
                options.append(st.from_regex(shape.metadata["pattern"], fullmatch=True).map(lambda s: s[:64]))
            options.append(st.sampled_from(["", "A" * 300, "<x/>", "0.05", "00000000000000000071", "<?xml version='1.0'?><a>&b;</a>"]))
            return st.one_of(options)
        if t in ("integer", "long"):
            return st.one_of(st.integers(-5, 100), st.sampled_from([0, 2**31, 2**63, -(2**63), 31_536_001]))
        if t == "boolean":
            return st.booleans()
        if t == "timestamp":
            return st.one_of(st.integers(-10, 2_000_000_000), st.floats(0, 4e9))
        return ANY_JSON
    if t == "string":
        valid = _valid_string(shape, meta)
    elif t in ("integer", "long"):
        lo, hi = meta.get("min"), meta.get("max")
        lo = lo if lo is not None else (0 if t == "integer" else 0)
        hi = hi if hi is not None else lo + 1000
        valid = st.integers(lo, hi) | st.sampled_from([lo, hi])
    elif t == "boolean":
        valid = st.booleans()
    elif t == "timestamp":
        valid = st.integers(1_700_000_000, 1_900_000_000)
    else:
        valid = ANY_JSON
    return valid if mode == "valid" else st.one_of(valid, valid, boundary_for(shape, extra))


def input_strategy(op: str, mode: str = "mixed", hints: Hints | None = None) -> st.SearchStrategy:
    shape = operation_model(op).input_shape
    return strategy_for(shape, mode=mode, hints=hints) if shape is not None else st.just({})


@st.composite
def mutated_input(draw, op: str, hints: Hints | None = None) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    """A valid-shaped request broken in one way: (kind, params), kind one of wrong-type, missing-required,
    unknown-member, null-member."""
    shape = operation_model(op).input_shape
    params = dict(draw(input_strategy(op, "valid", hints)))
    members = dict(shape.members) if shape is not None else {}
    required = list(shape.metadata.get("required", ())) if shape is not None else []
    kinds = ["unknown-member"] + (["wrong-type", "null-member"] if members else []) + (["missing-required"] if required else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "wrong-type":
        name = draw(st.sampled_from(sorted(members)))
        params[name] = draw(wrong_type_for(members[name]))
    elif kind == "null-member":
        params[draw(st.sampled_from(sorted(members)))] = None
    elif kind == "missing-required":
        params.pop(draw(st.sampled_from(required)), None)
    else:
        key = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in members)
                   | st.sampled_from(["__type", "hitId", "HITID", "constructor", "__proto__", "Action", "Version"]).filter(lambda k: k not in members))
        params[key] = draw(ANY_JSON)
    return kind, params


# ----------------------------------------------------------------------------------------------- signing


def sign(url: str, access_key: str, secret: str, target: str | None, body: bytes, *, amz_date: str | None = None,
         service: str = "mturk-requester", region: str = "us-east-1") -> dict[str, str]:
    """Headers for `POST url` with `body`, SigV4-signed by botocore (at `amz_date`, default now)."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    auth = SigV4Auth(Credentials(access_key, secret), service, region)
    if amz_date is None:
        auth.add_auth(req)
    else:  # what add_auth does, at a chosen time (add_auth always signs "now")
        req.context["timestamp"] = amz_date
        auth._modify_request_before_signing(req)
        canonical = auth.canonical_request(req)
        signature = auth.signature(auth.string_to_sign(req, canonical), req)
        auth._inject_signature_to_request(req, signature)
    return dict(req.headers.items())


def amz_date(offset_seconds: float = 0.0) -> str:
    return (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=offset_seconds)).strftime("%Y%m%dT%H%M%SZ")


def target_of(op: str) -> str:
    return f"{TARGET_PREFIX}.{op}"


def send(server, op: str, body: bytes):  # type: ignore[no-untyped-def]
    """Send `body` as `op`, signed with the server's default requester's keys (tests/support/server.py).
    URL-like strings are pointed at 127.0.0.1 first (`local_only`)."""
    r = server.requester
    body = local_only(body)
    return server.http.post("/", content=body, headers=sign(server.url + "/", r.access_key, r.secret, target_of(op), body))


# ----------------------------------------------------------------------------------------------- checks

_PARSER = JSONParser()
TURK_CODED = {"RequestError", "ServiceFault"}  # the model's two error shapes, both with a TurkErrorCode member


def shape_problems(value: Any, shape, path: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """How a raw JSON output value breaks its botocore shape: types, enums, required and unknown members."""
    t = shape.type_name
    where = path or "output"
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        out = [f"{where}: required member {r} missing" for r in shape.metadata.get("required", ()) if value.get(r) is None]
        for k, v in value.items():
            if k not in shape.members:
                out.append(f"{where}: unknown member {k!r}")
            elif v is not None:
                out += shape_problems(v, shape.members[k], f"{path}.{k}" if path else k)
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in shape_problems(v, shape.member, f"{where}[{i}]")]
    if t == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        return [p for k, v in value.items() for p in shape_problems(v, shape.value, f"{where}[{k}]")]
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r:.60}"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r:.60} is not in the enum"]
        return []
    if t in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {value!r:.60}"]
    if t in ("double", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {value!r:.60}"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean, got {value!r:.60}"]
    if t == "timestamp":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP
        return [] if ok else [f"{where}: expected epoch seconds in years 1-9999, got {value!r:.60}"]
    return []


def error_code(body: Any) -> str:
    """A short name for an error answer: `__type` plus the TurkErrorCode without its AWS.MechanicalTurk. prefix."""
    if not isinstance(body, dict):
        return "?"
    code = str(body.get("__type", "?"))
    turk = body.get("TurkErrorCode")
    if isinstance(turk, str):
        code += ":" + turk.removeprefix("AWS.MechanicalTurk.")
    return code


def response_problems(op: str, status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """Why an MTurk API answer is malformed; [] when it is well formed. (Status >= 500 is reported separately.)"""
    problems: list[str] = []
    ctype = headers.get("content-type", "")
    if not ctype.startswith("application/x-amz-json-1.1"):
        problems.append(f"Content-Type is {ctype!r}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return problems + [f"body is not JSON: {body[:120]!r}"]
    if not isinstance(data, dict):
        return problems + [f"body is not a JSON object: {body[:120]!r}"]
    if status >= 400:
        if not isinstance(data.get("__type"), str) or not data["__type"]:
            problems.append("error without a __type string")
        if not isinstance(data.get("Message"), str):
            problems.append("error without a Message string")
        if data.get("__type") in TURK_CODED and not isinstance(data.get("TurkErrorCode"), str):
            problems.append(f"{data.get('__type')} without a TurkErrorCode")
        try:
            parsed = _PARSER.parse({"status_code": status, "headers": dict(headers), "body": body}, None)
            if parsed.get("Error", {}).get("Code") != data.get("__type"):
                problems.append(f"botocore reads the error code as {parsed.get('Error', {}).get('Code')!r}")
        except Exception as e:  # noqa: BLE001 - any parser failure is the finding
            problems.append(f"botocore cannot parse the error: {type(e).__name__}: {e}")
        return problems
    if status != 200:
        return problems + [f"unexpected status {status}"]
    output = operation_model(op).output_shape
    if output is not None:
        try:
            _PARSER.parse({"status_code": 200, "headers": dict(headers), "body": body}, output)
        except Exception as e:  # noqa: BLE001
            problems.append(f"botocore cannot parse the answer: {type(e).__name__}: {e}")
        problems += shape_problems(data, output)
        pages = [k for k, m in output.members.items() if m.type_name == "list"]
        if "NumResults" in data and len(pages) == 1 and isinstance(data.get(pages[0]), list) \
                and data["NumResults"] != len(data[pages[0]]):
            problems.append(f"NumResults is {data['NumResults']} but {pages[0]} holds {len(data[pages[0]])}")
    return problems


def walk_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """`value` with every string (keys included) passed through fn."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [walk_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {fn(k): walk_strings(v, fn) for k, v in value.items()}
    return value


URLISH = re.compile(r"^\s*\S{0,12}://")  # a URL (any scheme, any case); XML that only mentions URLs is left alone
DISCARD_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port: a POST there is refused at once


def local_only(body: bytes, url: str = DISCARD_URL) -> bytes:
    """`body` with every JSON string that starts as a URL replaced by `url` (a 127.0.0.1 address): hitkit POSTs
    notifications to http(s) destinations, and fuzzing must not send traffic anywhere but 127.0.0.1."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return body
    changed = False

    def fix(s: str) -> str:
        nonlocal changed
        if URLISH.search(s) and s != url:
            changed = True
            return url
        return s

    value = walk_strings(value, fix)
    return json.dumps(value).encode() if changed else body

"""`review`: approve and reject submitted assignments, safely and resumably.

Deciding and applying are two steps. `plan_review(...)` decides, from the ledger alone, what would happen to each
Submitted assignment: approve all; approve (and optionally reject) by a rule; apply a CSV (AssignmentId, action,
feedback, or MTurk's batch-results Approve/Reject columns); or approve / reject given ids. Nothing is sent: this is
the dry run. `apply_review(...)` writes each decision to the ledger's `decisions` table *before* calling
ApproveAssignment / RejectAssignment (concurrently), and `applied_at` after. A run that is interrupted leaves
decisions without `applied_at`; the next run applies those first and sends nothing twice. An assignment the
endpoint already approved or rejected (auto-approval, another tool) is recorded as the endpoint says, not re-sent.

Rules are Python callables (`module:function` or `path/to/file.py:function` on the command line) called with a
`Result` (a dict of the parsed answers with `.input`, `.worker_id`, `.work_time` ...), or small expressions such
as `answers["label"] != ""`, which are parsed and interpreted here, never passed to eval (see `compile_rule`).

Quality control: when the project has `[[quality_control]]` rules, their approve / reject decisions join the plan
(source `qc: <rule>`; ids, a CSV and `--rule` win over them, they win over `--approve-all`; a review of given
ids or a CSV alone decides just those, without the rules), and `apply_review` also
applies the rules' worker actions (blocks, qualifications, extra assignments) that are not applied yet. A worker who
answered a gold item wrongly gets the item's feedback as the RequesterFeedback of that assignment's approval, or
after the rejection's own feedback.
"""

from __future__ import annotations

import ast
import csv
import importlib
import importlib.util
import operator
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import select, update

from hitkit.requester.collect import (
    DEFAULT_CONCURRENCY,
    ResultsError,
    assignment_values,
    describe,
    error_code,
    parallel,
    upsert_assignment,
)
from hitkit.requester.export import Result, load_results
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import assignments, decisions

MAX_FEEDBACK = 1024
ACTIONS = ("approve", "reject")


class RuleError(ValueError):
    """A rule that cannot be compiled or loaded, or that failed on one assignment."""


# ----------------------------------------------------------------------------------------------------------------
# Rules: expressions interpreted over a small, closed set of operations
# ----------------------------------------------------------------------------------------------------------------


class Fields(dict):
    """Answers or input columns as a rule sees them: a field the worker did not send reads as ''."""

    def __missing__(self, key: object) -> str:
        return ""


def _matches(text: object, pattern: object) -> bool:
    return re.search(str(pattern), "" if text is None else str(text)) is not None


def _number(value: object) -> float:
    """float(value), with '' and None as errors that name the value."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleError(f"{value!r} is not a number") from None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "int": int, "float": float, "str": str, "bool": bool, "abs": abs, "min": min, "max": max,
    "round": round, "sorted": sorted, "set": set, "any": any, "all": all, "matches": _matches, "number": _number,
}
METHODS = {
    str: {"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "count", "isdigit",
          "isnumeric", "isalpha", "isalnum", "casefold", "find", "replace", "title"},
    dict: {"get", "keys", "values", "items"},
    Fields: {"get", "keys", "values", "items"},
    list: {"count", "index"},
}
BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
          ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
          ast.Is: operator.is_, ast.IsNot: operator.is_not}
NAMES = ("answers", "input", "worker_id", "assignment_id", "hit_id", "work_time", "status")
MAX_TEXT = 100_000


def _check(node: ast.AST, source: str, names: Iterable[str] = NAMES) -> None:
    """Refuse anything outside the rule language before running it."""
    names = tuple(names)
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
               ast.Compare, ast.IfExp, ast.Subscript, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Set,
               ast.Call, ast.Attribute, ast.Slice, *BINOPS, *CMPOPS)
    for n in ast.walk(node):
        if not isinstance(n, allowed):
            raise RuleError(f"rule {source!r}: {type(n).__name__} is not allowed in a rule expression")
        if isinstance(n, ast.Name) and n.id not in names and n.id not in FUNCTIONS and n.id not in ("True", "False", "None"):
            raise RuleError(f"rule {source!r}: unknown name {n.id!r} (use {', '.join(names)})")
        if isinstance(n, ast.Attribute) and (n.attr.startswith("_") or not any(n.attr in m for m in METHODS.values())):
            raise RuleError(f"rule {source!r}: .{n.attr} is not allowed")
        if isinstance(n, ast.Call):
            if n.keywords and not all(k.arg for k in n.keywords):
                raise RuleError(f"rule {source!r}: ** arguments are not allowed")
            if not isinstance(n.func, (ast.Name, ast.Attribute)):
                raise RuleError(f"rule {source!r}: only functions ({', '.join(FUNCTIONS)}) and text methods can be called")
            if isinstance(n.func, ast.Name) and n.func.id not in FUNCTIONS:
                raise RuleError(f"rule {source!r}: {n.func.id}() is not allowed")


class _Interpreter:
    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def run(self, node: ast.AST) -> Any:  # noqa: C901 - one small dispatcher
        if isinstance(node, ast.Expression):
            return self.run(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            return {"True": True, "False": False, "None": None}[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                value: Any = True
                for v in node.values:
                    value = self.run(v)
                    if not value:
                        return value
                return value
            value = False
            for v in node.values:
                value = self.run(v)
                if value:
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            v = self.run(node.operand)
            if isinstance(node.op, ast.Not):
                return not v
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            left, right = self.run(node.left), self.run(node.right)
            if isinstance(node.op, ast.Mult) and not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
                raise RuleError("* works on numbers only in rules")
            result = BINOPS[type(node.op)](left, right)
            if isinstance(result, (str, list, tuple)) and len(result) > MAX_TEXT:
                raise RuleError("a value in the rule grew too long")
            return result
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.run(comp)
                if not CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.run(node.body) if self.run(node.test) else self.run(node.orelse)
        if isinstance(node, ast.Subscript):
            container = self.run(node.value)
            if isinstance(node.slice, ast.Slice):
                s = node.slice
                return container[slice(*(self.run(p) if p is not None else None for p in (s.lower, s.upper, s.step)))]
            key = self.run(node.slice)
            if isinstance(container, dict) and not isinstance(container, Fields) and key not in container:
                return None
            return container[key]
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.run(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Call):
            args = [self.run(a) for a in node.args]
            kwargs = {k.arg: self.run(k.value) for k in node.keywords if k.arg}
            if isinstance(node.func, ast.Name):
                return FUNCTIONS[node.func.id](*args, **kwargs)
            target = self.run(node.func.value)
            allowed = METHODS.get(type(target), set())
            if node.func.attr not in allowed:
                raise RuleError(f".{node.func.attr}() cannot be used on a {type(target).__name__}")
            return getattr(target, node.func.attr)(*args, **kwargs)
        if isinstance(node, ast.Attribute):
            raise RuleError(f".{node.attr} can only be called, as .{node.attr}(...)")
        raise RuleError(f"{type(node).__name__} is not allowed")  # _check stops these first


def rule_env(result: Result) -> dict[str, Any]:
    return {"answers": Fields(result), "input": Fields(result.input), "worker_id": result.worker_id,
            "assignment_id": result.assignment_id, "hit_id": result.hit_id, "work_time": result.work_time,
            "status": result.status, **FUNCTIONS}


def compile_rule(source: str) -> Callable[[Result], Any]:
    """A rule expression as a function of a Result. The expression is parsed with `ast` and interpreted over a
    closed set of operations (comparisons, and/or/not, arithmetic on numbers, `x if c else y`, indexing, literals,
    len/int/float/str/abs/min/max/round/any/all/matches(text, regex)/number(x), and text methods such as .lower(),
    .strip(), .startswith(), .split(), dict .get()). Names: answers, input, worker_id, assignment_id, hit_id,
    work_time (seconds), status. A field the worker did not send reads as ''."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        raise RuleError(f"rule {source!r} is not a valid expression: {e.msg}") from None
    _check(tree, source)

    def rule(result: Result) -> Any:
        try:
            return _Interpreter(rule_env(result)).run(tree)
        except RuleError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError, re.error) as e:
            raise RuleError(f"{type(e).__name__}: {e}") from None

    rule.__name__ = "rule"
    rule.__doc__ = source
    return rule


def unknown_names(source: str, names: Iterable[str]) -> list[str]:
    """The names an expression uses that are neither in `names` nor rule functions (in order of appearance);
    a SyntaxError for text that is not an expression."""
    tree = ast.parse(source.strip(), mode="eval")
    known = set(names) | set(FUNCTIONS) | {"True", "False", "None"}
    out: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id not in known and n.id not in out:
            out.append(n.id)
    return out


def compile_condition(source: str, names: Iterable[str]) -> Callable[[dict[str, Any]], Any]:
    """An expression in the rule language (see `compile_rule`) over the given `names`, as a function of a dict of
    their values. Used by quality-control conditions (`accuracy < 0.7 and total >= 4`); never eval."""
    names = tuple(names)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        raise RuleError(f"{source!r} is not a valid expression: {e.msg}") from None
    _check(tree, source, names)

    def condition(values: dict[str, Any]) -> Any:
        env = {**FUNCTIONS, **{k: values.get(k) for k in names}}
        try:
            return _Interpreter(env).run(tree)
        except RuleError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError, re.error) as e:
            raise RuleError(f"{type(e).__name__}: {e}") from None

    condition.__doc__ = source
    return condition


CALLABLE_SPEC = re.compile(r"^(?:[A-Za-z_][\w.]*|.+\.py):[A-Za-z_]\w*$")


def load_callable(spec: str) -> Callable[..., Any]:
    """`package.module:function` (importable from the current folder) or `path/to/file.py:function`."""
    target, _, name = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser().resolve()
            if not path.exists():
                raise RuleError(f"rule {spec!r}: {target} does not exist")
            mod_spec = importlib.util.spec_from_file_location(f"hitkit_rule_{path.stem}", path)
            if mod_spec is None or mod_spec.loader is None:
                raise RuleError(f"rule {spec!r}: cannot load {target}")
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(target)
    except RuleError:
        raise
    except Exception as e:  # the user's module failed to import: say so in one line
        raise RuleError(f"rule {spec!r}: importing {target} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise RuleError(f"rule {spec!r}: {target} has no function {name!r}")
    return fn


def as_rule(rule: str | Callable[[Result], Any]) -> Callable[[Result], Any]:
    """A callable as is; `module:function` or `file.py:function` loaded; anything else compiled as an expression."""
    if callable(rule):
        return rule
    if not isinstance(rule, str) or not rule.strip():
        raise RuleError("a rule is a function or an expression such as 'answers[\"label\"] != \"\"'")
    rule = rule.strip()
    return load_callable(rule) if CALLABLE_SPEC.match(rule) else compile_rule(rule)


# ----------------------------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Decision:
    assignment_id: str
    worker_id: str
    hit_id: str
    action: str  # approve | reject
    feedback: str | None = None
    source: str = ""  # all | qc: <rule> | rule | csv | ids | earlier run


@dataclass
class ReviewPlan:
    decisions: list[Decision] = field(default_factory=list)  # new, to be written and applied
    resumed: list[Decision] = field(default_factory=list)  # written by an earlier run, not yet applied
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (assignment id, why nothing happens)
    undecided: int = 0  # Submitted assignments this plan leaves alone
    quality_control: Any = None  # the project's rules' QCPlan, when it has rules

    @property
    def todo(self) -> list[Decision]:
        return self.resumed + self.decisions

    def count(self, action: str) -> int:
        return sum(1 for d in self.todo if d.action == action)

    def describe(self) -> list[str]:
        out = [f"Would approve {self.count('approve')} and reject {self.count('reject')} assignment"
               f"{'s' if self.count('approve') + self.count('reject') != 1 else ''}"
               + (f" ({len(self.resumed)} decided by an earlier run, not yet applied)" if self.resumed else "")
               + (f"; {self.undecided} submitted assignment{'s' if self.undecided != 1 else ''} left for later"
                  if self.undecided else "") + "."]
        if self.quality_control is not None:
            out[0] += "\n" + "\n".join(self.quality_control.describe(only_new=True, limit=20))
        return out


def _validate_feedback(feedback: str | None, where: str, required: bool) -> str | None:
    if feedback is not None:
        feedback = str(feedback).strip() or None
    if required and not feedback:
        raise ResultsError(f"{where}: a rejection needs feedback for the worker (RequesterFeedback)")
    if feedback and len(feedback) > MAX_FEEDBACK:
        raise ResultsError(f"{where}: feedback is {len(feedback)} characters; the most is {MAX_FEEDBACK}")
    return feedback


def read_review_csv(path: Path | str) -> list[tuple[str, str, str | None, int]]:
    """(AssignmentId, action, feedback, line) from a CSV with AssignmentId, action (approve|reject) and feedback
    columns, or MTurk's batch results with Approve ('x' or a comment) and Reject (the feedback) columns."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ResultsError(f"{path}: cannot read it: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    cols = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "assignmentid" not in cols:
        raise ResultsError(f"{path}: no AssignmentId column (expected AssignmentId, action, feedback; or MTurk's "
                           "batch results with Approve and Reject columns)")
    out = []
    for line, row in enumerate(reader, start=2):
        aid = (row.get(cols["assignmentid"]) or "").strip()
        if not aid:
            continue
        if "action" in cols:
            action = (row.get(cols["action"]) or "").strip().lower()
            feedback = row.get(cols["feedback"]) if "feedback" in cols else None
            if action in ("", "skip", "none"):
                continue
            if action not in ACTIONS:
                raise ResultsError(f"{path}, line {line}: action must be approve or reject, not {action!r}")
        elif "approve" in cols or "reject" in cols:
            approve = (row.get(cols.get("approve", ""), "") or "").strip() if "approve" in cols else ""
            reject = (row.get(cols.get("reject", ""), "") or "").strip() if "reject" in cols else ""
            if approve and reject:
                raise ResultsError(f"{path}, line {line}: both Approve and Reject are filled in for {aid}")
            if not approve and not reject:
                continue
            action = "approve" if approve else "reject"
            feedback = reject if reject else (approve if approve.lower() != "x" else None)
        else:
            raise ResultsError(f"{path}: no action column (or MTurk's Approve/Reject columns)")
        out.append((aid, action, _validate_feedback(feedback, f"{path}, line {line}", action == "reject"), line))
    return out


def _outcome(value: Any, feedback_on_reject: str | None) -> tuple[str, str | None] | None:
    """A rule's answer as (action, feedback) or None (leave the assignment alone)."""
    if isinstance(value, tuple) and len(value) == 2:
        action, feedback = value
        action = {True: "approve", False: "reject"}.get(action, action) if isinstance(action, bool) else action
        if action not in ACTIONS:
            raise RuleError(f"returned {value!r}; expected (\"approve\"|\"reject\", feedback)")
        return action, feedback if feedback is not None else (feedback_on_reject if action == "reject" else None)
    if value is None:
        return None
    if isinstance(value, str):
        if value.lower() in ACTIONS:
            return value.lower(), feedback_on_reject if value.lower() == "reject" else None
        raise RuleError(f"returned {value!r}; expected True/False, \"approve\"/\"reject\" or None")
    if value:
        return "approve", None
    return ("reject", feedback_on_reject) if feedback_on_reject else None


def plan_review(project: Any, *, approve_all: bool = False, rule: str | Callable[[Result], Any] | None = None,
                reject_failing: str | None = None, csv_path: str | Path | None = None,
                approve: Iterable[str] | None = None, reject: Iterable[str] | None = None,
                feedback: str | None = None, approve_feedback: str | None = None,
                quality_control: bool = True) -> ReviewPlan:
    """Decide, from the ledger, what review would do (nothing is sent or written). Sources:
    `approve_all`; `rule` (True -> approve; False -> reject with `reject_failing` feedback if given, else left
    alone; a rule may also return "approve"/"reject"/None or (action, feedback)); `csv_path`; `approve` ids;
    `reject` ids with `feedback`. Later sources win over earlier ones for the same assignment (ids over csv over
    rule over the project's quality-control rules over all)."""
    approve = list(approve or [])
    reject = list(reject or [])
    rules = tuple(getattr(project, "quality_control", ())) if quality_control else ()
    targeted = (csv_path is not None or approve or reject) and not approve_all and rule is None
    if targeted:  # a review of given assignments decides just those
        rules = ()
    if not (approve_all or rule is not None or csv_path is not None or approve or reject or rules):
        raise ResultsError("Say what to review: --approve-all, --rule, --csv FILE, --approve ID... or --reject ID...")
    if reject:
        feedback = _validate_feedback(feedback, "--feedback", True)
    reject_failing = _validate_feedback(reject_failing, "--reject-failing", False)
    approve_feedback = _validate_feedback(approve_feedback, "approve feedback", False)
    fn = as_rule(rule) if rule is not None else None
    csv_rows = read_review_csv(csv_path) if csv_path is not None else []
    with project.ledger.connect() as conn:
        results = {r.assignment_id: r for r in load_results(conn)}
        earlier = {r.assignment_id: r for r in conn.execute(select(decisions))}
    plan = ReviewPlan()
    chosen: dict[str, Decision] = {}
    qc_plan = None
    if rules:
        from hitkit.requester.quality_control.engine import evaluate

        qc_plan = plan.quality_control = evaluate(project, rules)

    def choose(aid: str, action: str, fb: str | None, source: str) -> None:
        r = results.get(aid)
        if r is None:
            raise ResultsError(f"{aid} is not in the ledger: run `hitkit collect` first (or check the id)")
        d = earlier.get(aid)
        if d is not None and d.applied_at is not None:
            if source in ("ids", "csv"):
                plan.skipped.append((aid, "already " + ("approved" if d.action == "approve" else "rejected")))
            chosen.pop(aid, None)
            return
        if r.status != "Submitted":
            if source in ("ids", "csv"):
                plan.skipped.append((aid, f"already {r.status}"))
            chosen.pop(aid, None)
            return
        chosen[aid] = Decision(aid, r.worker_id, r.hit_id, action, fb, source)

    submitted = [r for r in results.values() if r.status == "Submitted"]
    if approve_all:
        for r in submitted:
            choose(r.assignment_id, "approve", approve_feedback, "all")
    for q in qc_plan.decisions if qc_plan is not None else ():
        choose(q.assignment_id, q.action, q.feedback, f"qc: {q.rule}")
    if fn is not None:
        for r in submitted:
            try:
                outcome = _outcome(fn(r), reject_failing)
            except RuleError as e:
                plan.skipped.append((r.assignment_id, f"the rule failed: {e}"))
                continue
            except Exception as e:  # a user's callable raised: leave that assignment, say why
                plan.skipped.append((r.assignment_id, f"the rule raised {type(e).__name__}: {e}"))
                continue
            if outcome is None:
                continue
            action, fb = outcome
            if action == "reject" and not fb:
                raise ResultsError("the rule rejects assignments: give feedback for the workers (--reject-failing TEXT)")
            choose(r.assignment_id, action, _validate_feedback(fb, "rule", action == "reject"), "rule")
    for aid, action, fb, _line in csv_rows:
        choose(aid, action, fb, "csv")
    for aid in approve:
        choose(aid, "approve", approve_feedback, "ids")
    for aid in reject:
        choose(aid, "reject", feedback, "ids")
    for aid, d in earlier.items():  # decided before, never applied: finish those first (unless re-decided now)
        if d.applied_at is None and aid not in chosen:
            r = results.get(aid)
            plan.resumed.append(Decision(aid, r.worker_id if r else "", r.hit_id if r else "", d.action, d.feedback,
                                         "earlier run"))
    plan.decisions = list(chosen.values())
    gold_feedback_for(project, plan.decisions)
    decided = {d.assignment_id for d in plan.todo}
    plan.undecided = sum(1 for r in submitted if r.assignment_id not in decided)
    return plan


def gold_feedback_for(project: Any, decisions_: list[Decision]) -> None:
    """Give each decision on a wrongly answered gold item that item's feedback: as the approval's feedback when it
    has none, after the rejection's own."""
    with project.ledger.connect() as conn:
        from hitkit.requester.ledger.tables import gold_rows

        if conn.execute(select(gold_rows.c.batch_id).limit(1)).first() is None:
            return
        from hitkit.requester.quality_control.engine import gold_mistakes

        mistakes = gold_mistakes(conn)
    for d in decisions_:
        fb = mistakes.get(d.assignment_id)
        if not fb or (d.feedback and fb in d.feedback):
            continue
        d.feedback = (f"{d.feedback} {fb}" if d.feedback else fb)[:MAX_FEEDBACK]


# ----------------------------------------------------------------------------------------------------------------
# Applying
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class ReviewReport:
    approved: int = 0
    rejected: int = 0
    already: list[tuple[str, str]] = field(default_factory=list)  # (assignment id, status on the endpoint)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quality_control: Any = None  # QCReport: the rules' worker actions applied with the decisions

    def describe(self) -> str:
        parts = [f"Approved {self.approved}, rejected {self.rejected}"]
        if self.already:
            parts.append(f"{len(self.already)} already decided on the endpoint (recorded as it says)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed (re-run to retry)")
        text = "; ".join(parts) + f" in {self.seconds:.1f}s."
        if self.quality_control is not None:
            text += "\n" + self.quality_control.describe()[0]
        return text


def _send(client: Any, d: Decision) -> dict | None:
    """The call; on InvalidAssignmentState, the assignment as the endpoint has it (for the caller to record)."""
    try:
        if d.action == "approve":
            client.approve_assignment(AssignmentId=d.assignment_id, **({"RequesterFeedback": d.feedback} if d.feedback else {}))
        else:
            client.reject_assignment(AssignmentId=d.assignment_id, RequesterFeedback=d.feedback or "")
        return None
    except ClientError as e:
        if error_code(e).endswith("InvalidAssignmentState"):
            return client.get_assignment(AssignmentId=d.assignment_id)["Assignment"]
        raise


def apply_review(project: Any, client: Any, plan: ReviewPlan, *, concurrency: int = DEFAULT_CONCURRENCY,
                 progress: Callable[[int, int], None] | None = None) -> ReviewReport:
    """Write the plan's decisions, then apply every unapplied decision (see the module docstring)."""
    start = time.monotonic()
    report = ReviewReport()
    engine = project.ledger
    now = time.time()
    with engine.begin() as conn:
        for d in plan.decisions:
            row = dict(action=d.action, feedback=d.feedback, decided_at=now, applied_at=None, last_error=None)
            done = conn.execute(update(decisions).where(decisions.c.assignment_id == d.assignment_id,
                                                        decisions.c.applied_at.is_(None)).values(**row)).rowcount
            if not done:
                exists = conn.execute(select(decisions.c.assignment_id).where(
                    decisions.c.assignment_id == d.assignment_id)).first()
                if exists is None:
                    conn.execute(decisions.insert().values(assignment_id=d.assignment_id, **row))
        if plan.decisions:
            record_event(conn, "review", approve=plan.count("approve"), reject=plan.count("reject"))
    with engine.connect() as conn:
        pending = [Decision(r.assignment_id, "", "", r.action, r.feedback, "ledger")
                   for r in conn.execute(select(decisions).where(decisions.c.applied_at.is_(None))
                                         .order_by(decisions.c.decided_at, decisions.c.assignment_id))]
    finished = 0
    for d, server_view, error in parallel(lambda d: _send(client, d), pending, concurrency=concurrency, client=client):
        finished += 1
        t = time.time()
        with engine.begin() as conn:
            if error is not None:
                report.failed.append(f"{d.assignment_id}: {describe(error)}")
                conn.execute(update(decisions).where(decisions.c.assignment_id == d.assignment_id)
                             .values(last_error=describe(error)[:1000]))
            elif server_view is not None:
                values = assignment_values(server_view)
                existing = conn.execute(select(assignments).where(
                    assignments.c.assignment_id == d.assignment_id)).first()
                upsert_assignment(conn, values, dict(existing._mapping) if existing else None, t)
                status = values["status"]
                wanted = "Approved" if d.action == "approve" else "Rejected"
                if status == "Submitted":  # not decided after all: an odd endpoint; keep trying next run
                    report.failed.append(f"{d.assignment_id}: the endpoint refused the {d.action} and still shows it Submitted")
                    conn.execute(update(decisions).where(decisions.c.assignment_id == d.assignment_id)
                                 .values(last_error="refused while Submitted"))
                else:
                    report.already.append((d.assignment_id, status))
                    conn.execute(update(decisions).where(decisions.c.assignment_id == d.assignment_id).values(
                        applied_at=t, last_error=None if status == wanted else f"already {status} on the endpoint"))
            else:
                if d.action == "approve":
                    report.approved += 1
                else:
                    report.rejected += 1
                conn.execute(update(decisions).where(decisions.c.assignment_id == d.assignment_id)
                             .values(applied_at=t, last_error=None))
                conn.execute(update(assignments).where(assignments.c.assignment_id == d.assignment_id).values(
                    status="Approved" if d.action == "approve" else "Rejected",
                    requester_feedback=d.feedback, collected_at=t))
        if progress:
            progress(finished, len(pending))
    qc_plan = plan.quality_control
    if qc_plan is not None and qc_plan.todo:
        from hitkit.requester.quality_control.engine import QCPlan, apply

        worker_only = QCPlan(qc_plan.rules, qc_plan.workers, qc_plan.firings, [], qc_plan.actions, qc_plan.resumed)
        report.quality_control = apply(project, client, worker_only, decisions_too=False, concurrency=concurrency)
        report.failed += report.quality_control.failed
    report.seconds = time.monotonic() - start
    return report


def review(project: Any, client: Any, *, yes: bool = False, **how: Any) -> tuple[ReviewPlan, ReviewReport | None]:
    """Plan, and apply when `yes`. Returns (plan, report or None for a dry run)."""
    plan = plan_review(project, **how)
    if not yes:
        return plan, None
    return plan, apply_review(project, client, plan)

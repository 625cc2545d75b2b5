"""Quality control: rules (collector x condition x actions) over a project's ledger, and gold (honeypot) items.

    from hitkit.requester.quality_control import Rule, Action, evaluate, apply, run

    rules = [Rule("golden_set", "accuracy < 0.7 and total >= 4", ["soft_block"], history=10)]
    plan = evaluate(project, rules)          # from the ledger alone: who is caught, why, what would be done
    report = apply(project, client, plan)    # each action recorded before it is sent, marked applied after

`rules.py` parses and checks rules (`[[quality_control]]` in hitkit.toml), `gold.py` the `[gold]` table and how gold
rows are mixed into a batch, `engine.py` the collectors, plans and actions. See docs/quality-control.md.
"""

from hitkit.requester.quality_control.engine import (
    QCPlan,
    QCReport,
    actions_taken,
    apply,
    evaluate,
    gold_mistakes,
    qualification_type_id,
    record_notification,
    record_worker_event,
    run,
)
from hitkit.requester.quality_control.gold import Gold, GoldItem, is_correct, parse_gold
from hitkit.requester.quality_control.rules import ACTIONS, COLLECTORS, Action, QualityControlError, Rule, parse_rules

__all__ = [
    "ACTIONS", "COLLECTORS", "Action", "Gold", "GoldItem", "QCPlan", "QCReport", "QualityControlError", "Rule",
    "actions_taken", "apply", "evaluate", "gold_mistakes", "is_correct", "parse_gold", "parse_rules",
    "qualification_type_id", "record_notification", "record_worker_event", "run",
]

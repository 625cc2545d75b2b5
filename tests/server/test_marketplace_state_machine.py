"""A hypothesis state machine drives a requester and a small crowd through random sequences of MTurk steps
against a live server, and after every step checks the server against a plain model: each HIT's status and
counters, the balances (available and on hold), and the ledger's own chain of running balances."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from hitkit.mturk.fees import assignment_fee_cents, bonus_fee_cents, format_cents
from hitkit.server.store.tables import ledger
from tests.conftest import hit_params


@dataclass
class ModelHit:
    hit_id: str
    max_assignments: int
    reward: int
    expired: bool = False
    assignments: dict[str, str] = field(default_factory=dict)  # id -> Accepted/Returned/Submitted/Approved/Rejected
    owner: dict[str, int] = field(default_factory=dict)  # assignment id -> worker index

    def count(self, *states: str) -> int:
        return sum(1 for s in self.assignments.values() if s in states)

    @property
    def fee(self) -> int:
        return assignment_fee_cents(self.reward, max_assignments=self.max_assignments, masters=False)

    def outstanding(self) -> int:
        if self.expired:
            return self.count("Accepted", "Submitted")
        return self.max_assignments - self.count("Approved", "Rejected")

    def status(self) -> tuple[str, int, int]:
        pending = self.count("Accepted")
        taken = self.count("Accepted", "Submitted", "Approved", "Rejected")
        available = 0 if self.expired else self.max_assignments - taken
        if available > 0:
            return "Assignable", available, pending
        return ("Unassignable" if pending else "Reviewable"), available, pending


def make_machine(server):  # type: ignore[no-untyped-def]
    class Marketplace(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.requester = server.new_requester()
            self.mturk = server.client(self.requester)
            self.workers = [server.new_worker() for _ in range(3)]
            self.hits: list[ModelHit] = []
            self.spent = 0  # rewards, fees, bonuses, bonus fees

        @rule(reward=st.integers(0, 300), n=st.integers(1, 3))
        def create(self, reward: int, n: int) -> None:
            hit = self.mturk.create_hit(**hit_params(Reward=format_cents(reward), MaxAssignments=n))["HIT"]
            self.hits.append(ModelHit(hit["HITId"], n, reward))

        @precondition(lambda self: self.hits)
        @rule(data=st.data())
        def accept(self, data) -> None:  # type: ignore[no-untyped-def]
            h = data.draw(st.sampled_from(self.hits))
            w = data.draw(st.integers(0, len(self.workers) - 1))
            r = server.worker_call(self.workers[w], "POST", f"/api/worker/v1/hits/{h.hit_id}/accept")
            holds = any(h.owner[a] == w and s != "Returned" for a, s in h.assignments.items())
            if h.status()[1] > 0 and not holds:
                assert r.status_code == 200, r.text
                aid = r.json()["AssignmentId"]
                h.assignments[aid], h.owner[aid] = "Accepted", w
            else:
                assert r.status_code in (409, 410), r.text

        def _pick(self, data, state: str):  # type: ignore[no-untyped-def]
            options = [(h, a) for h in self.hits for a, s in h.assignments.items() if s == state]
            return data.draw(st.sampled_from(options)) if options else (None, None)

        @precondition(lambda self: self.hits)
        @rule(data=st.data(), give_back=st.booleans())
        def finish(self, data, give_back: bool) -> None:  # type: ignore[no-untyped-def]
            h, aid = self._pick(data, "Accepted")
            if h is None:
                return
            worker = self.workers[h.owner[aid]]
            if give_back:
                r = server.worker_call(worker, "POST", f"/api/worker/v1/assignments/{aid}/return")
                h.assignments[aid] = "Returned"
            else:
                r = server.submit(worker, aid, {"label": "x"})
                h.assignments[aid] = "Submitted"
            assert r.status_code == 200, r.text

        @precondition(lambda self: self.hits)
        @rule(data=st.data(), approve=st.booleans())
        def decide(self, data, approve: bool) -> None:  # type: ignore[no-untyped-def]
            h, aid = self._pick(data, "Submitted")
            if h is None:
                return
            if approve:
                self.mturk.approve_assignment(AssignmentId=aid)
                h.assignments[aid] = "Approved"
                self.spent += h.reward + h.fee
            else:
                self.mturk.reject_assignment(AssignmentId=aid, RequesterFeedback="no")
                h.assignments[aid] = "Rejected"

        @precondition(lambda self: self.hits)
        @rule(data=st.data(), cents=st.integers(1, 500))
        def bonus(self, data, cents: int) -> None:  # type: ignore[no-untyped-def]
            h, aid = self._pick(data, "Approved")
            if h is None:
                return
            worker = self.workers[h.owner[aid]]
            self.mturk.send_bonus(WorkerId=worker.worker_id, AssignmentId=aid, BonusAmount=format_cents(cents), Reason="r")
            self.spent += cents + bonus_fee_cents(cents)

        @precondition(lambda self: any(not h.expired for h in self.hits))
        @rule(data=st.data())
        def expire(self, data) -> None:  # type: ignore[no-untyped-def]
            h = data.draw(st.sampled_from([h for h in self.hits if not h.expired]))
            self.mturk.update_expiration_for_hit(HITId=h.hit_id, ExpireAt=0)
            h.expired = True

        @invariant()
        def hits_match(self) -> None:
            for h in self.hits:
                got = self.mturk.get_hit(HITId=h.hit_id)["HIT"]
                assert (got["HITStatus"], got["NumberOfAssignmentsAvailable"], got["NumberOfAssignmentsPending"]) == h.status()
                assert got["NumberOfAssignmentsCompleted"] == h.count("Approved", "Rejected")

        @invariant()
        def money_matches(self) -> None:
            held = sum(h.outstanding() * (h.reward + h.fee) for h in self.hits)
            available = 1_000_000 - self.spent - held
            b = self.mturk.get_account_balance()
            assert (b["AvailableBalance"], b["OnHoldBalance"]) == (format_cents(available), format_cents(held))

        @invariant()
        def ledger_chain_adds_up(self) -> None:
            with server._engine.connect() as conn:
                conn = conn.execution_options(hitkit_read_only=True)
                rows = conn.execute(
                    select(ledger.c.account, ledger.c.amount_cents, ledger.c.balance_after)
                    .where(ledger.c.requester_id == self.requester.requester_id).order_by(ledger.c.seq)
                ).all()
            running = {"available": 0, "held": 0}
            for account, amount, after in rows:
                running[account] += amount
                assert after == running[account]

    return Marketplace


def test_marketplace_matches_the_model(server):
    machine = make_machine(server)
    machine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    machine.TestCase().runTest()

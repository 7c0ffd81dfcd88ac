"""Hypothesis interleaves check-ins, extensions, attempts, help calls and sweeps at arbitrary
times, and checks the ladder's invariants after every move."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from homevisits.models import Role, StaffProfile
from tests.factories import TeamFactory, assessed_household, member
from tracking import services
from tracking.models import AttemptResult, Channel, CheckInKind, Escalation, Step
from visits import services as visit_services

from .conftest import OFFICE_NOON


class Ladder(RuleBasedStateMachine):
    @initialize()
    def set_up(self):
        self.now = OFFICE_NOON
        self.team = TeamFactory()
        self.worker = member(self.team, Role.WORKER).user
        StaffProfile.objects.filter(user=self.worker).update(mobile="+447123456789")
        self.worker.refresh_from_db()
        self.duty = member(self.team, Role.DESIGNATED_PERSON).user
        self.manager = member(self.team, Role.MANAGER).user
        household = assessed_household(
            self.team,
            author=self.worker,
            manager=self.manager,
            significant_risk=True,
            now=self.now - timedelta(days=1),
        )
        self.visits = []
        for minutes in (5, 12, 30):
            due = self.now + timedelta(minutes=minutes)
            self.visits.append(
                visit_services.visit_book(
                    details=visit_services.VisitDetails(
                        household=household,
                        lead_worker=self.worker,
                        purpose="Property test",
                        starts_at=due - timedelta(minutes=30),
                        ends_at=due,
                        after_plan="going_home",
                        hazards_acknowledged=True,
                    ),
                    booked_by=self.worker,
                    now=self.now - timedelta(hours=1),
                ).visit
            )
        self.closed = {}

    def escalations(self):
        return Escalation.objects.filter(team=self.team)

    def _open_visit(self, index):
        visit = self.visits[index]
        visit.refresh_from_db()
        return visit if visit.is_open and visit.left_at is None else None

    @rule(seconds=st.integers(min_value=0, max_value=20 * 60))
    def time_passes_and_the_sweep_runs(self, seconds):
        self.now += timedelta(seconds=seconds)
        services.sweep(now=self.now)

    @rule(
        index=st.integers(0, 2),
        kind=st.sampled_from([CheckInKind.LEFT_SAFELY, CheckInKind.ARRIVED]),
    )
    def the_worker_checks_in(self, index, kind):
        visit = self._open_visit(index)
        if visit is not None:
            services.checkin_record(
                visit=visit,
                worker=self.worker,
                recorded_by=self.worker,
                kind=kind,
                channel=Channel.WEB,
                now=self.now,
            )

    @rule(index=st.integers(0, 2), minutes=st.integers(1, 60))
    def the_worker_extends(self, index, minutes):
        visit = self._open_visit(index)
        if visit is not None:
            services.checkin_record(
                visit=visit,
                worker=self.worker,
                recorded_by=self.worker,
                kind=CheckInKind.EXTENDED,
                channel=Channel.WEB,
                now=self.now,
                new_end=max(self.now, visit.ends_at) + timedelta(minutes=minutes),
            )

    @rule(index=st.integers(0, 2))
    def the_worker_needs_help(self, index):
        visit = self._open_visit(index)
        if visit is not None:
            services.checkin_record(
                visit=visit,
                worker=self.worker,
                recorded_by=self.worker,
                kind=CheckInKind.NEED_HELP,
                channel=Channel.WEB,
                now=self.now,
            )

    @precondition(lambda self: self.escalations().filter(closed_at__isnull=True).exists())
    @rule(result=st.sampled_from(AttemptResult.values), data=st.data())
    def the_office_records_an_attempt(self, result, data):
        open_ones = list(self.escalations().filter(closed_at__isnull=True))
        escalation = data.draw(st.sampled_from(open_ones))
        services.attempt_record(
            escalation=escalation, result=result, recorded_by=self.duty, now=self.now
        )

    @precondition(lambda self: self.escalations().filter(closed_at__isnull=True).exists())
    @rule(data=st.data())
    def a_manager_resolves(self, data):
        escalation = data.draw(
            st.sampled_from(list(self.escalations().filter(closed_at__isnull=True)))
        )
        services.escalation_resolve(
            escalation=escalation,
            manager=self.manager,
            outcome="worker_safe",
            safe_confirmed_how="spoke",
            now=self.now,
        )

    @invariant()
    def at_most_one_open_escalation_per_visit(self):
        for visit in self.visits:
            assert Escalation.objects.filter(visit=visit, closed_at__isnull=True).count() <= 1

    @invariant()
    def steps_never_repeat_and_never_skip(self):
        for escalation in self.escalations():
            steps = list(escalation.steps.order_by("step").values_list("step", flat=True))
            if not steps:
                continue
            before_manager = [s for s in steps if s < Step.MANAGER]
            from_manager = [s for s in steps if s >= Step.MANAGER]
            assert before_manager == list(range(1, len(before_manager) + 1)), steps
            assert from_manager == list(range(Step.MANAGER, Step.MANAGER + len(from_manager))), (
                steps
            )
            if from_manager and len(before_manager) < 3:
                assert escalation.urgent, f"only I-need-help skips attempts: {steps}"

    @invariant()
    def a_closed_escalation_stays_closed_and_takes_no_more_steps(self):
        for escalation in self.escalations():
            if escalation.pk in self.closed:
                assert escalation.closed_at == self.closed[escalation.pk]
                assert not escalation.steps.filter(at__gt=escalation.closed_at).exists()
            elif escalation.closed_at is not None:
                self.closed[escalation.pk] = escalation.closed_at


@pytest.mark.django_db
def test_ladder_invariants_hold_under_any_interleaving():
    run_state_machine_as_test(
        Ladder,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

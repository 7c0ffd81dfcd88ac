"""A stateful property test of the whole ladder. Hypothesis books visits (overlaps allowed),
checks in in every way, extends, calls for help, records call outcomes, acknowledges and
resolves, and runs sweeps at an advancing clock, one of them against a stale view of what is due
(two sweeps at once). After every move it checks what a worker in danger relies on.

The people and households are made once per test; each example runs in a savepoint that is
rolled back at its end, so every example starts from the same empty day."""

import os
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
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
from tracking import selectors, services
from tracking.models import (
    AttemptResult,
    Channel,
    CheckInKind,
    Escalation,
    EscalationStep,
    Notification,
    NotificationKind,
    Outcome,
    PhoneInDay,
    Step,
)
from visits import services as visit_services
from visits.models import Visit
from visits.selectors import monitored as monitored_visits

from .conftest import OFFICE_NOON

MINUTE = timedelta(minutes=1)
# CI runs the ladder's property test long, on PostgreSQL; a developer's `make test` runs it short.
EXAMPLES = 1000 if os.environ.get("CI") == "true" and connection.vendor == "postgresql" else 60

PROMPTS_BY_STEP = {
    Step.ATTEMPT_1: NotificationKind.CALL_PROMPT,
    Step.ATTEMPT_2: NotificationKind.CALL_PROMPT,
    Step.ATTEMPT_3: NotificationKind.CALL_PROMPT,
    Step.MANAGER: NotificationKind.MANAGER_ALERT,
    Step.BACKUP: NotificationKind.BACKUP_ALERT,
}


class World:
    """The team, its people and its households, made once for all examples."""

    def __init__(self):
        self.team = TeamFactory()
        # A grace period, and phone-ins between visits, so that both kinds of deadline run.
        self.team.policy.grace_period = 2 * MINUTE
        self.team.policy.phone_in_interval = 45 * MINUTE
        self.team.policy.save()
        self.workers = [self._person(Role.WORKER, f"Worker{i}") for i in range(2)]
        self.duty = self._person(Role.DESIGNATED_PERSON, "Duty")
        self.managers = [self._person(Role.MANAGER, f"Manager{i}") for i in range(2)]
        day_before = OFFICE_NOON - timedelta(days=1)
        self.flagged = assessed_household(
            self.team,
            author=self.workers[0],
            manager=self.managers[0],
            significant_risk=True,
            now=day_before,
        )
        self.calm = assessed_household(
            self.team,
            author=self.workers[0],
            manager=self.managers[0],
            significant_risk=False,
            now=day_before,
        )

    def _person(self, role, name):
        user = member(self.team, role, first_name=name, last_name="Tester").user
        StaffProfile.objects.filter(user=user).update(mobile="+447123456789")
        return type(user).objects.select_related("staff_profile").get(pk=user.pk)


class Ladder(RuleBasedStateMachine):
    world: World  # set by the test

    @initialize()
    def start_an_empty_day(self):
        self.savepoint = transaction.savepoint()
        self.now = OFFICE_NOON
        self.visit_ids = []
        self.closed_at = {}
        self.help_calls = []  # (visit id, moment)

    def teardown(self):
        self._the_stored_phone_in_deadlines_are_the_worked_out_ones()
        transaction.savepoint_rollback(self.savepoint)

    # Helpers

    def visits(self):
        return Visit.objects.filter(pk__in=self.visit_ids).select_related(
            "team__policy", "household"
        )

    def escalations(self):
        return Escalation.objects.filter(team=self.world.team)

    def open_escalations(self):
        return list(self.escalations().filter(closed_at__isnull=True).order_by("pk"))

    def _visit(self, index):
        if not self.visit_ids:
            return None
        return self.visits().get(pk=self.visit_ids[index % len(self.visit_ids)])

    def _refused_is_fine(self, call, **kwargs):
        """A move the product refuses (a visit already over, say) is a clear error, not a
        failure of the ladder: the invariants still hold."""
        try:
            return call(**kwargs)
        except ValidationError:
            return None

    # Moves

    @rule(
        worker=st.integers(0, 1),
        starts_in=st.integers(-15, 60),
        minutes=st.integers(5, 60),
        flagged=st.booleans(),
        concern=st.booleans(),
        with_companion=st.booleans(),
    )
    def book_a_visit(self, worker, starts_in, minutes, flagged, concern, with_companion):
        starts_at = self.now + starts_in * MINUTE
        lead = self.world.workers[worker]
        details = visit_services.VisitDetails(
            household=self.world.flagged if flagged else self.world.calm,
            lead_worker=lead,
            purpose="Property test",
            starts_at=starts_at,
            ends_at=starts_at + minutes * MINUTE,
            after_plan="going_home",
            accompanying=[self.world.workers[1 - worker]] if with_companion else [],
            concern_raised=concern,
            concern_reason="Dog" if concern else "",
            hazards_acknowledged=True,
        )
        result = visit_services.visit_book(details=details, booked_by=lead, now=self.now)
        self.visit_ids.append(result.visit.pk)

    @rule(seconds=st.integers(0, 20 * 60))
    def time_passes_and_the_sweep_runs(self, seconds):
        self._the_stored_phone_in_deadlines_are_the_worked_out_ones()
        self.now += timedelta(seconds=seconds)
        services.sweep(now=self.now)
        self._every_missed_deadline_has_a_ladder()
        self._every_missed_phone_in_has_a_ladder()

    @rule(seconds=st.integers(0, 10 * 60))
    def two_sweeps_run_at_once(self, seconds):
        """The second sweep acts on what it read before the first one wrote."""
        self._the_stored_phone_in_deadlines_are_the_worked_out_ones()
        self.now += timedelta(seconds=seconds)
        stale_due = selectors.due_escalation_ids(now=self.now, limit=services.SWEEP_BATCH)
        stale_missed = selectors.missed_deadlines(now=self.now, limit=services.SWEEP_BATCH)
        services.sweep(now=self.now)
        for escalation_id, step in stale_due:
            services.escalation_advance(escalation_id=escalation_id, from_step=step, now=self.now)
        for visit in stale_missed:
            services.escalation_open(visit=visit, now=self.now)
        self._every_missed_deadline_has_a_ladder()
        self._every_missed_phone_in_has_a_ladder()

    @rule(
        index=st.integers(0, 20),
        kind=st.sampled_from([CheckInKind.ARRIVED, CheckInKind.LEFT_SAFELY, CheckInKind.RETURNED]),
        by_phone=st.booleans(),
    )
    def a_check_in(self, index, kind, by_phone):
        visit = self._visit(index)
        if visit is None:
            return
        self._refused_is_fine(
            services.checkin_record,
            visit=visit,
            worker=visit.lead_worker,
            recorded_by=self.world.duty if by_phone else visit.lead_worker,
            kind=kind,
            channel=Channel.PHONE_IN if by_phone else Channel.WEB,
            now=self.now,
        )

    @rule(worker=st.integers(0, 1), by_phone=st.booleans())
    def a_phone_in_between_visits(self, worker, by_phone):
        person = self.world.workers[worker]
        self._refused_is_fine(
            services.checkin_record,
            visit=None,
            worker=person,
            recorded_by=self.world.duty if by_phone else person,
            kind=CheckInKind.STILL_SAFE,
            channel=Channel.PHONE_IN if by_phone else Channel.WEB,
            now=self.now,
        )

    @rule(index=st.integers(0, 20), minutes=st.integers(1, 60))
    def the_worker_extends(self, index, minutes):
        visit = self._visit(index)
        if visit is None:
            return
        self._refused_is_fine(
            services.checkin_record,
            visit=visit,
            worker=visit.lead_worker,
            recorded_by=visit.lead_worker,
            kind=CheckInKind.EXTENDED,
            channel=Channel.WEB,
            now=self.now,
            new_end=max(self.now, visit.ends_at) + minutes * MINUTE,
        )

    @rule(index=st.integers(0, 20))
    def the_worker_needs_help(self, index):
        visit = self._visit(index)
        if visit is None:
            return
        done = self._refused_is_fine(
            services.checkin_record,
            visit=visit,
            worker=visit.lead_worker,
            recorded_by=visit.lead_worker,
            kind=CheckInKind.NEED_HELP,
            channel=Channel.WEB,
            now=self.now,
        )
        if done is not None:
            self.help_calls.append((visit.pk, self.now))

    @precondition(lambda self: self.open_escalations())
    @rule(result=st.sampled_from(AttemptResult.values), data=st.data())
    def the_office_records_a_call(self, result, data):
        escalation = data.draw(st.sampled_from(self.open_escalations()))
        services.attempt_record(
            escalation=escalation, result=result, recorded_by=self.world.duty, now=self.now
        )

    @precondition(lambda self: self.open_escalations())
    @rule(data=st.data())
    def a_manager_acknowledges(self, data):
        escalation = data.draw(st.sampled_from(self.open_escalations()))
        services.escalation_acknowledge(
            escalation=escalation, manager=self.world.managers[0], now=self.now
        )

    @precondition(lambda self: self.open_escalations())
    @rule(data=st.data(), outcome=st.sampled_from(Outcome.values))
    def a_manager_resolves(self, data, outcome):
        escalation = data.draw(st.sampled_from(self.open_escalations()))
        services.escalation_resolve(
            escalation=escalation,
            manager=self.world.managers[1],
            outcome=outcome,
            police_reference="CAD 123" if outcome == Outcome.POLICE_INVOLVED else "",
            safe_confirmed_how="spoke" if outcome == Outcome.WORKER_SAFE else "",
            now=self.now,
        )

    # What must hold after a sweep

    def _every_missed_deadline_has_a_ladder(self):
        """A monitored visit past its deadline (with grace) and not closed has a ladder for
        that deadline (or one still open) once the sweep has run."""
        monitored = set(
            monitored_visits(Visit.objects.filter(pk__in=self.visit_ids)).values_list(
                "pk", flat=True
            )
        )
        for visit in self.visits():
            grace = visit.team.policy.grace_period
            missed = visit.is_open and visit.left_at is None and visit.due_at + grace <= self.now
            if not (missed and visit.pk in monitored):
                continue
            ladders = Escalation.objects.filter(visit=visit)
            assert (
                ladders.filter(closed_at__isnull=True).exists()
                or ladders.filter(due_at=visit.due_at).exists()
            ), f"visit {visit.pk} due {visit.due_at} has no ladder at {self.now}"

    def _every_missed_phone_in_has_a_ladder(self):
        """A worker between visits whose phone-in (with grace) has passed is being chased for
        it once the sweep has run, as the day worked out afresh says."""
        for day in selectors.days_out(now=self.now, teams=[self.world.team]):
            if day.at_a_visit or day.next_deadline + day.grace > self.now:
                continue
            ladders = Escalation.objects.filter(worker=day.worker, cause="interval")
            assert (
                ladders.filter(closed_at__isnull=True).exists()
                or ladders.filter(due_at=day.next_deadline).exists()
            ), f"{day.worker} due to phone in by {day.next_deadline} has no ladder at {self.now}"

    # Invariants after every move: read the team's ladders once, then check in Python

    def _the_stored_phone_in_deadlines_are_the_worked_out_ones(self):
        """What the sweep probes (PhoneInDay) is exactly what working the day out afresh from
        the visits, check-ins, ladders and chosen intervals gives: for the deadline and for
        everything a check-in updates it from. Checked whenever a sweep is about to rely on it,
        and at the end of each example, rather than after every move: its six queries after
        each of CI's 20,000 moves would have made this test half as slow again."""
        worker_ids = [worker.pk for worker in self.world.workers]
        day = timezone.localdate(self.now)
        worked_out = selectors.phone_in_days_worked_out(worker_ids=worker_ids, day=day)
        stored = {row.worker_id: row for row in PhoneInDay.objects.filter(day=day)}
        for worker_id in worker_ids:
            facts, row = worked_out.get(worker_id), stored.get(worker_id)
            expected = (facts.next_phone_in_at, facts.alert_after) if facts else (None, None)
            actual = (row.next_phone_in_at, row.alert_after) if row else (None, None)
            assert actual == expected, f"worker {worker_id}: stored {actual}, not {expected}"
            if facts is not None and facts.watched:
                kept = (row.starts_at, row.last_visit_id, row.last_heard_at)
                kept += (row.interval, row.grace)
                assert kept == (
                    facts.starts_at,
                    facts.last_visit.pk,
                    facts.last_heard_at,
                    facts.interval,
                    facts.grace,
                ), f"worker {worker_id}: stored day {kept} is out of date"

    @invariant()
    def the_ladder_is_sound(self):
        escalations = {e.pk: e for e in self.escalations()}
        steps = list(EscalationStep.objects.filter(escalation__in=escalations.keys()))
        sent = list(
            Notification.objects.filter(escalation__in=escalations.keys()).values(
                "escalation", "step", "kind", "recipient", "channel", "created_at"
            )
        )
        open_per_visit = [
            e.visit_id or f"worker {e.worker_id}"
            for e in escalations.values()
            if e.closed_at is None
        ]
        assert len(open_per_visit) == len(set(open_per_visit)), (
            "two open ladders for one visit or one missed phone-in"
        )
        self._closed_ladders_stay_closed(escalations, steps)
        self._each_step_happens_once_and_reaches_someone(steps, sent)
        self._the_backup_is_someone_else(sent)
        self._stand_downs_go_only_to_those_alerted(escalations, sent)
        self._help_calls_reach_a_manager_at_once(escalations, sent)

    def _closed_ladders_stay_closed(self, escalations, steps):
        for escalation in escalations.values():
            if escalation.pk in self.closed_at:
                assert escalation.closed_at == self.closed_at[escalation.pk], "reopened"
            elif escalation.closed_at is not None:
                self.closed_at[escalation.pk] = escalation.closed_at
        for step in steps:
            closed_at = escalations[step.escalation_id].closed_at
            assert closed_at is None or step.at <= closed_at, "a step after closing"

    def _each_step_happens_once_and_reaches_someone(self, steps, sent):
        taken = [(step.escalation_id, step.step) for step in steps]
        assert len(taken) == len(set(taken)), "a step happened twice"
        told = {(n["escalation"], n["step"], n["kind"]) for n in sent}
        sent_steps = {(n["escalation"], n["step"]) for n in sent}
        for step in steps:
            if step.skipped_reason:  # passed over by a late ladder: recorded, never sent
                assert (step.escalation_id, step.step) not in sent_steps, f"{step} was sent"
                continue
            kind = PROMPTS_BY_STEP[step.step]
            assert (step.escalation_id, step.step, kind) in told, f"{step} told nobody"
        rows = [
            tuple(n[k] for k in ("escalation", "step", "kind", "recipient", "channel"))
            for n in sent
        ]
        assert len(rows) == len(set(rows)), "a notification was written twice"

    def _the_backup_is_someone_else(self, sent):
        managers = {
            (n["escalation"], n["recipient"])
            for n in sent
            if n["kind"] == NotificationKind.MANAGER_ALERT
        }
        for n in sent:
            if n["kind"] == NotificationKind.BACKUP_ALERT:
                assert (n["escalation"], n["recipient"]) not in managers, "backup == manager"

    def _stand_downs_go_only_to_those_alerted(self, escalations, sent):
        alerted, stood_down = set(), set()
        for n in sent:
            key = (n["escalation"], n["recipient"], n["channel"])
            (stood_down if n["kind"] == NotificationKind.STAND_DOWN else alerted).add(key)
        assert stood_down <= alerted, "a stand-down to someone never alerted"

    def _help_calls_reach_a_manager_at_once(self, escalations, sent):
        """At the moment of a help call, an urgent ladder for the visit was open and its
        manager had been alerted by then."""
        alerted = {}
        for n in sent:
            if n["kind"] == NotificationKind.MANAGER_ALERT:
                first = alerted.get(n["escalation"])
                alerted[n["escalation"]] = min(first, n["created_at"]) if first else n["created_at"]
        for visit_id, moment in self.help_calls:
            assert any(
                e.visit_id == visit_id
                and e.urgent
                and e.opened_at <= moment
                and (e.closed_at is None or e.closed_at >= moment)
                and e.pk in alerted
                and alerted[e.pk] <= moment
                for e in escalations.values()
            ), f"help at {moment} on visit {visit_id} reached no manager"


@pytest.mark.django_db
def test_ladder_invariants_hold_under_any_interleaving():
    Ladder.world = World()
    run_state_machine_as_test(
        Ladder,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples on every run: a failure is never luck
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

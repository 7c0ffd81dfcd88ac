"""A duty rota for the demo teams from yesterday to a week ahead. Idempotent."""

from datetime import timedelta

from django.utils import timezone

from .models import DutyRota

# team key: (designated persons, designated manager, backup manager, out-of-hours manager)
DEMO_ROTA = {
    "childrens": (["duty"], "manager", "manager2", "manager2"),
    "school": (["duty"], "manager", "manager2", "manager"),
    "youth_justice": (["manager2"], "manager", "manager2", "manager"),
}


def seed(*, context: dict, fast_ladder: bool = False) -> None:
    teams, users = context["teams"], context["users"]
    today = timezone.localdate()
    for key, (designated, manager, backup, night) in DEMO_ROTA.items():
        for offset in range(-1, 8):
            rota, created = DutyRota.objects.get_or_create(
                team=teams[key],
                day=today + timedelta(days=offset),
                defaults={
                    "designated_manager": users[manager],
                    "backup_manager": users[backup],
                    "out_of_hours_manager": users[night],
                },
            )
            if created:
                rota.designated_persons.set([users[name] for name in designated])
    if fast_ladder:
        _book_drill_visit(context)


def _book_drill_visit(context: dict) -> None:
    """A high-risk visit due a minute from now that nobody will check in: watch the ladder."""
    from visits import services as visit_services
    from visits.models import Visit

    household = context["households"]["Hartley household"]
    now = timezone.now()
    if Visit.objects.filter(
        household=household, purpose="Drill visit", status="booked", due_at__gt=now
    ).exists():
        return
    visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=context["users"]["worker"],
            purpose="Drill visit",
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(minutes=1),
            after_plan="going_home",
            hazards_acknowledged=True,
        ),
        booked_by=context["users"]["worker"],
        now=now,
    )

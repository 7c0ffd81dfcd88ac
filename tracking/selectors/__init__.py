"""Tracking's reads, one module per concern; callers use `tracking.selectors.<name>`."""

from .board import (  # noqa: F401
    BOARD_VISIT_FIELDS,
    DUE_SOON,
    BoardRow,
    Group,
    board,
    board_rows,
    board_version,
)
from .console import (  # noqa: F401
    HelpPosition,
    TimelineEntry,
    escalation_staff,
    escalation_timeline,
    help_position,
    my_open_escalations,
    visit_staff,
    worker_visits_that_day,
)
from .days_out import (  # noqa: F401
    DayFacts,
    WorkerDay,
    day_facts,
    days_from,
    days_out,
    missed_intervals,
    my_day_out,
    phone_in_days_worked_out,
    phone_ins_passed,
)
from .duty import (  # noqa: F401
    DEADLINE_LOOKBACK,
    HANDOVER_WINDOW,
    NIGHT_ENDS,
    AlertReach,
    Duty,
    alert_reach,
    duty_for_day,
    in_office_hours,
    is_still_out,
    office_closes_at,
    offices_just_closed,
    on_duty,
    out_at_close,
    recipient_key,
    rota_day_for,
    still_out_on_board,
    still_waiting_for,
)
from .ladder import (  # noqa: F401
    deadlines_passed,
    deliverable_notification_ids,
    due_escalation_ids,
    escalation_for,
    failed_notifications,
    has_monitored_visits,
    ladder_failures,
    ladder_postponed,
    missed_deadlines,
    next_actions,
    open_escalation,
    open_escalation_for,
    sweep_heartbeat_age,
)
from .push import push_reachable, push_subscriptions  # noqa: F401
from .reports import (  # noqa: F401
    MAX_PERIOD_MONTHS,
    Period,
    TeamReport,
    month_containing,
    team_report,
)
from .rota import (  # noqa: F401
    RotaDay,
    RotaPeople,
    rota_last_save,
    rota_people,
    rota_week,
)
from .worker import (  # noqa: F401
    REFUSAL_SHOWN_FOR,
    OpenVisit,
    checkout_pin_is_set,
    has_open_visit_today,
    open_visits_now,
    recent_go_ahead_refusal,
)

"""Tracking's writes and rules, one module per concern; callers use `tracking.services.<name>`.

See DESIGN.md for the ladder's rules. Every change of an escalation is a compare-and-set on its
row, so each step happens once however many sweeps run (see `ladder`).
"""

from .checkins import checkin_record, day_out_interval_choose  # noqa: F401
from .console import (  # noqa: F401
    attempt_record,
    emergency_details_reveal,
    escalation_acknowledge,
    escalation_resolve,
    escalation_viewed,
    manager_action_record,
)
from .duress import (  # noqa: F401
    PinNotRecognised,
    checkout_pin_set,
    checkout_record,
    code_word_record,
)
from .go_ahead import go_ahead_give, go_ahead_refuse  # noqa: F401
from .handover import duty_end_record, handovers_take  # noqa: F401
from .ladder import (  # noqa: F401
    STAND_DOWN_STEP,
    SWEEP_BATCH,
    SweepResult,
    escalation_advance,
    escalation_close,
    escalation_open,
    heartbeat_record,
    next_action_after,
    sweep,
)
from .location import NoOpenHelpCall, help_location_record  # noqa: F401
from .outbox import notifications_deliver_due  # noqa: F401
from .phone_ins import (  # noqa: F401
    phone_in_days_follow_household,
    phone_in_days_follow_policy,
    phone_in_days_follow_visits,
    phone_in_days_hear,
    phone_in_days_reconcile,
    phone_in_days_refresh,
    phone_in_days_visit_over,
)
from .push import push_subscription_delete, push_subscription_save  # noqa: F401
from .rota import (  # noqa: F401
    RotaWeekChanged,
    RotaWeekNotEmpty,
    rota_copy_previous_week,
    rota_week_save,
)

"""Tracking's pages, one module per screen; urls.py refers to them through this package."""

from .board import (
    board,
    board_rows,
    code_word,
    duty_end,
    go_ahead,
    office_still_safe,
    phone_in,
)
from .console import emergency_details, escalation_act, escalation_detail, escalation_list
from .push import push_subscription
from .reports import report_index, team_report, team_report_export, team_report_print
from .rota import rota, rota_copy
from .worker import (
    check_in,
    checkout_pin,
    day_out_interval,
    go_ahead_status,
    help_location,
    need_help,
    now_page,
    still_safe,
)

__all__ = [
    "board",
    "board_rows",
    "check_in",
    "checkout_pin",
    "code_word",
    "help_location",
    "duty_end",
    "emergency_details",
    "escalation_act",
    "escalation_detail",
    "escalation_list",
    "go_ahead",
    "go_ahead_status",
    "need_help",
    "now_page",
    "phone_in",
    "push_subscription",
    "report_index",
    "rota",
    "rota_copy",
    "still_safe",
    "team_report",
    "team_report_export",
    "team_report_print",
    "day_out_interval",
    "office_still_safe",
]

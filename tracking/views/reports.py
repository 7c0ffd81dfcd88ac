"""The team report for managers and team admins: the page, its printable copy and a CSV of each
of its tables. Printing and downloading are written to the audit log."""

import csv
import io
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from homevisits.audit import record_read, spreadsheet_safe
from homevisits.context_processors import request_memberships
from homevisits.dates import add_months
from homevisits.models import AuditAction, AuditObject, AuditTarget
from homevisits.selectors import CAPABILITIES_BY_ROLE, teams_among

from .. import selectors
from ..forms import ReportPeriodForm
from ..selectors import Period, month_containing


def report_index(request):
    teams = teams_among(request_memberships(request), capability="read_reports")
    if len(teams) == 1:
        return redirect("team-report", slug=teams[0].slug)
    return render(request, "tracking/report_index.html", {"teams": teams})


def _report_team(request, slug):
    """The team, from the memberships the navigation loads anyway: 404 for a team that is not
    the person's, 403 for a role that does not read reports."""
    membership = next((m for m in request_memberships(request) if m.team.slug == slug), None)
    if membership is None:
        raise Http404("No such team among yours.")
    if "read_reports" not in CAPABILITIES_BY_ROLE[membership.role]:
        raise PermissionDenied("Reports are for the team's managers and team admins.")
    return membership.team


def _report(request, slug):
    """(team, form, report or None when the period typed is refused)."""
    team = _report_team(request, slug)
    today = timezone.localdate()
    form = ReportPeriodForm(request.GET or None, today=today)
    if form.is_bound and not form.is_valid():
        return team, form, None
    return team, form, selectors.team_report(team=team, period=form.period(), today=today)


def team_report(request, slug):
    team, form, report = _report(request, slug)
    return render(
        request,
        "tracking/report.html",
        {"team": team, "form": form, "report": report, "presets": _presets(form.this_month)},
        status=400 if report is None else 200,
    )


def _presets(this_month: Period) -> list[tuple[str, str]]:
    """Periods a manager often wants, as (label, query string)."""
    last_month = month_containing(this_month.first_day - timedelta(days=1))
    periods = [
        ("This month", this_month),
        ("Last month", last_month),
        ("Last 3 months", Period(add_months(this_month.first_day, -2), this_month.last_day)),
        ("Last 12 months", Period(add_months(this_month.first_day, -11), this_month.last_day)),
    ]
    return [(label, period.query()) for label, period in periods]


def team_report_print(request, slug):
    team, form, report = _report(request, slug)
    if report is None:
        return team_report(request, slug)
    record_read(
        request,
        AuditAction.PRINTED_REPORT,
        AuditTarget(team.pk, AuditObject.REPORT),
        detail=_period_detail(report.period),
    )
    return render(request, "tracking/report_print.html", {"team": team, "report": report})


def team_report_export(request, slug):
    """One table of the report as CSV, chosen by ?table=<its slug>."""
    team, form, report = _report(request, slug)
    if report is None:
        return team_report(request, slug)
    table = report.tables().get(request.GET.get("table", ""))
    if table is None:
        raise Http404("The report has no such table.")
    record_read(
        request,
        AuditAction.EXPORTED_REPORT,
        AuditTarget(team.pk, AuditObject.REPORT),
        detail=f"table={table.slug} {_period_detail(report.period)}",
    )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([spreadsheet_safe(cell) for cell in table.header])
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in table.rows)
    response = HttpResponse(text.getvalue(), content_type="text/csv; charset=utf-8")
    period = report.period
    name = f"{team.slug}-{table.slug}-{period.first_day}-to-{period.last_day}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _period_detail(period) -> str:
    return f"first_day={period.first_day.isoformat()} last_day={period.last_day.isoformat()}"

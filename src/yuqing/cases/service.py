"""Cases (舆情处置): the face other domains and the desk pages call.

The work lives in the domain's rooms: ``grades`` (grades, clocks, closed days), ``access``
(who sees and may do what), ``clocks`` (the SLA timers), ``timeline``, ``recipients``,
``opening`` (报送), ``transitions`` (one guarded function per status change), ``links``
(linked items, notes) and ``board`` (the board, the figures per unit). Every function works
in the caller's transaction and never commits; a refused action raises CaseError and
changes nothing.
"""

from __future__ import annotations

from yuqing.cases.access import (
    HANDLE,
    MANAGE,
    READ,
    REPORT,
    TRANSITIONS,
    allowed_transitions,
    get_case,
    get_case_of_event,
    list_cases,
    list_event_ids,
    list_mention_ids,
    list_opened_cases,
    sees_case,
    status_label,
)
from yuqing.cases.board import list_board_rows, list_unit_figures, month_bounds, names_of
from yuqing.cases.clocks import TIMER_STATES, list_timer_rows, list_timers, timer_state
from yuqing.cases.grades import (
    delete_clock,
    delete_grade,
    ensure_defaults,
    get_grade,
    list_clocks,
    list_closures,
    list_grades,
    update_clock,
    update_closure,
    update_grade,
)
from yuqing.cases.links import attach_mentions, comment, detach_mentions
from yuqing.cases.opening import (
    open_case,
    open_from_alert,
    open_from_event,
    open_from_mention,
    open_from_mentions,
)
from yuqing.cases.recipients import (
    list_leading_group_recipients,
    list_publicity_recipients,
    list_responsible_recipients,
    list_unit_head_recipients,
    notify_case,
)
from yuqing.cases.timeline import create_entry, list_entries
from yuqing.cases.transitions import (
    accept,
    assign,
    close,
    escalate,
    give_feedback,
    record_response,
    reopen,
    return_for_more,
    start,
    triage,
)

__all__ = [
    "HANDLE",
    "MANAGE",
    "READ",
    "REPORT",
    "TIMER_STATES",
    "TRANSITIONS",
    "accept",
    "allowed_transitions",
    "assign",
    "attach_mentions",
    "close",
    "comment",
    "create_entry",
    "delete_clock",
    "delete_grade",
    "detach_mentions",
    "ensure_defaults",
    "escalate",
    "get_case",
    "get_case_of_event",
    "get_grade",
    "give_feedback",
    "list_board_rows",
    "list_cases",
    "list_clocks",
    "list_closures",
    "list_entries",
    "list_event_ids",
    "list_grades",
    "list_leading_group_recipients",
    "list_mention_ids",
    "list_opened_cases",
    "list_publicity_recipients",
    "list_responsible_recipients",
    "list_timer_rows",
    "list_timers",
    "list_unit_figures",
    "list_unit_head_recipients",
    "month_bounds",
    "names_of",
    "notify_case",
    "open_case",
    "open_from_alert",
    "open_from_event",
    "open_from_mention",
    "open_from_mentions",
    "record_response",
    "reopen",
    "return_for_more",
    "sees_case",
    "start",
    "status_label",
    "timer_state",
    "triage",
    "update_clock",
    "update_closure",
    "update_grade",
]

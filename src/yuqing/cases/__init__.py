"""Incident handling (舆情处置): cases with grades, SLA clocks, escalation and an audit trail."""

"""The pipeline's last stage: item rules (scheme hits, sensitive words) over a stored batch,
any alert put in the outbox in the same transaction.

It reads what the earlier stages left on the batch (scheme hits, risk, sentiment,
near-duplicate groups) and the rows' ids; the rules themselves are alerts/rules.py.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yuqing.alerts import service
from yuqing.alerts.delivery import deliver
from yuqing.alerts.rules import Candidate, ItemBatch, Rule, row_passes, scheme_hits, sensitive_words
from yuqing.core.timeutil import utcnow
from yuqing.mentions.batch import Batch, Row
from yuqing.schemes import service as schemes_service

# What the item rules read of a row (alerts/rules.py reads rows as mappings).
_READ = ("title", "text", "url", "published_at", "sentiment", "risk_score", "near_group_id")


class Alerts:
    """Evaluates the item rules over the batch's analysed rows once they are stored
    (last: reads matches, risk and events)."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        return None

    def after_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if not rows:
            return
        rules = service.current_rules(session)
        if not rules.item_rules:
            return
        items = ItemBatch(
            [{name: getattr(row, name) for name in _READ} for row in rows],
            [row.id for row in rows if row.id is not None],
            batch.source.name,
        )
        scheme_rules = [r for r in rules.item_rules if r.kind == "scheme_hit"]
        if scheme_rules:
            _matches(session, items, rows, scheme_rules)
        found: list[Candidate] = []
        for rule in rules.item_rules:
            if rule.kind == "scheme_hit":
                found.extend(scheme_hits(rule, items))
            else:
                found.extend(sensitive_words(rule, items, rules.words))
        if found:
            deliver(session, found, now=utcnow())


def _matches(session: Session, items: ItemBatch, rows: list[Row], rules: list[Rule]) -> None:
    """The scheme hits (from the batch) of the rows some scheme rule could take, and the
    names of the schemes they hit."""
    wanted: set[int] = set()
    for rule in rules:
        if not rule.params.scheme_ids:
            wanted = set()
            break
        wanted.update(rule.params.scheme_ids)
    matches: dict[int, list[tuple[int, list[str]]]] = {}
    for row, values in zip(rows, items.rows, strict=True):
        if not row.hits or row.id is None or not any(row_passes(r, values) for r in rules):
            continue
        hits = [
            (h.scheme_id, list(h.words)) for h in row.hits if not wanted or h.scheme_id in wanted
        ]
        if hits:
            matches[row.id] = hits
    items.matches = matches
    if matches:
        schemes = {sid for hits in matches.values() for sid, _ in hits}
        items.scheme_names = schemes_service.list_scheme_names(session, scheme_ids=schemes)

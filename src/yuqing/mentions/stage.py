"""The pipeline stage of the mentions domain: near-duplicate groups (相似文章).

Before the insert it puts each row that repeats a stored mention into that mention's group
and notes on the row its band keys and the earlier row of the batch it joins; after the
insert it stores the band rows and links the batch's own groups (see ``neardup``). It keeps
no state of its own: everything it needs after the insert travels on the batch.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yuqing.mentions import neardup
from yuqing.mentions.batch import Batch


class NearDuplicates:
    """Near-duplicate groups of the analysed rows (new and changed)."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if rows:
            neardup.group(session, rows)

    def after_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if rows:
            neardup.store_groups(session, rows)

"""The audit log as JSON (``GET /api/v1/audit``, token scope ``audit.read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from yuqing.audit import search
from yuqing.audit.filters import AuditFilterError, AuditQueryDep
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep

router = APIRouter()

Auditor = Annotated[Principal, Depends(require("audit.read"))]


@router.get("/api/v1/audit")
def audit_api(
    session: SessionDep,
    principal: Auditor,
    wanted: AuditQueryDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Audit rows as JSON, newest first (token scope ``audit.read``)."""
    try:
        filters = wanted.filters()
    except AuditFilterError as refused:
        return JSONResponse({"detail": str(refused)}, status_code=422)
    items = [
        {
            "seq": e.seq,
            "at": e.at.isoformat() + "Z",
            "actor": e.actor_name,
            "actor_id": e.actor_id,
            "ip": e.ip,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "summary": e.summary,
            "changes": {n: [b, a] for n, b, a in search.changes_of(e)},
        }
        for e in search.list_entries(session, filters=filters, limit=limit, offset=offset)
    ]
    total = search.count_entries(session, filters=filters)
    return JSONResponse({"total": total.value, "total_capped": total.capped, "items": items})

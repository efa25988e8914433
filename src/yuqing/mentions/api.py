"""JSON API of mentions: the push endpoint for collectors, one mention, and search."""

from __future__ import annotations

import gc
import hmac
import logging
import re
import threading
import time
import weakref
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from yuqing.auth import service as auth
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import get_engine, get_session, session_scope
from yuqing.core.settings import get_settings
from yuqing.mentions import items as items_module
from yuqing.mentions import search as search_service
from yuqing.mentions import service
from yuqing.mentions.schemas import MentionOut, PushIn, PushResult, SearchResult
from yuqing.sources import service as sources_service
from yuqing.sources import storing
from yuqing.sources.schemas import IngestResult
from yuqing.worker import inbox, writer
from yuqing.worker.schemas import InboxStatus, QueuedPush

router = APIRouter(prefix="/api/v1", tags=["信息 mentions"])
log = logging.getLogger(__name__)

SEARCH_PAGE_SIZE = 20
# A concurrent writer may insert the same item between our lookup and our insert; the
# unique index refuses the second copy and a retry sees the first.
_STORE_ATTEMPTS = 3
_SOURCE_LOCK = threading.Lock()


class PushError(HTTPException):
    """A refused push, with a Chinese message for the collector's operator."""


async def _authorise(request: Request) -> None:
    """A push needs the desk-wide push token (``YUQING_PUSH_TOKEN`` or the one ``yuqing
    init`` made, for collectors set up before accounts existed) or an account's API token
    with the "push" scope. The desk-wide one is compared here, without a thread (the
    collectors' common case); an account's is looked up in the database in a thread."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    shared = get_settings().effective_push_token()
    if given and shared and hmac.compare_digest(given.encode("utf-8"), shared.encode("utf-8")):
        return
    await run_in_threadpool(_check_account_token, given)


def _check_account_token(given: str) -> None:
    if given:
        with session_scope() as session:
            found = auth.user_for_token(session, secret=given)
            if found is not None:
                if auth.principal_for(session, user=found[0], token=found[1]).can("push"):
                    return
                raise PushError(403, "此令牌没有推送权限（push）")
    raise PushError(
        401,
        "令牌缺失或错误：请在请求头加 Authorization: Bearer <令牌>（在工作台“接口令牌”页创建）",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _read_body(request: Request) -> bytes:
    """The request body, refused as soon as it passes the size cap (before any parsing)."""
    cap = get_settings().push_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > cap
        except ValueError:
            raise PushError(400, "Content-Length 不是数字") from None
        if too_big:
            raise PushError(413, f"请求体超过上限 {cap} 字节，请分批推送")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise PushError(413, f"请求体超过上限 {cap} 字节，请分批推送")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_push(body: bytes) -> tuple[str, list[Any]]:
    """The source name and raw items of a push body; 422/413 when the shape is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        data = _split_items(body) if "depth" in str(error) else None
        if data is None:
            raise PushError(422, f"请求体不是合法的 JSON：{error}") from None
    if not isinstance(data, dict):
        raise PushError(422, '请求体必须是 JSON 对象：{"source": "来源名称", "items": [...]}')
    source = data.get("source")
    items = data.get("items")
    if not isinstance(source, str) or not source.strip():
        raise PushError(422, "缺少 source：请给出来源名称（字符串）")
    if len(source.strip()) > 200:
        raise PushError(422, "source 过长：来源名称最多 200 个字符")
    if not isinstance(items, list):
        raise PushError(422, "缺少 items：必须是条目数组")
    cap = get_settings().push_max_items
    if len(items) > cap:
        raise PushError(413, f"一次最多推送 {cap} 条，本次 {len(items)} 条，请分批推送")
    return source.strip(), items


# A JSON string (escapes included) or one structural character.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)


def _split_items(body: bytes) -> dict[str, Any] | None:
    """The push body read item by item, when one item nests deeper than the JSON parser goes.

    Such an item becomes ``Unreadable`` and fails alone; None when the body is not a push
    object with an ``items`` array, or is broken elsewhere (then the whole body is refused).
    """
    found = _item_spans(body)
    if found is None:
        return None
    source, spans = found
    items: list[Any] = []
    for start, end, depth in spans:
        try:
            items.append(orjson.loads(body[start:end]))
        except orjson.JSONDecodeError:
            if depth <= items_module.MAX_RAW_DEPTH:
                return None
            items.append(storing.Unreadable(f"嵌套超过 {items_module.MAX_RAW_DEPTH} 层，无法读取"))
    try:
        return {"source": orjson.loads(source) if source else None, "items": items}
    except orjson.JSONDecodeError:
        return None


def _item_spans(body: bytes) -> tuple[bytes | None, list[tuple[int, int, int]]] | None:
    """The raw ``source`` string and (start, end, nesting) of each element of ``items``."""
    depth, key, last, after_colon = 0, b"", b"", False
    source: bytes | None = None
    spans: list[tuple[int, int, int]] = []
    start = deepest = -1
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token[:1] == b'"':
            if depth == 1 and after_colon and key == b'"source"':
                source = token
            last, after_colon = token, False
        elif token in (b"[", b"{"):
            if depth == 1 and key == b'"items"' and token == b"[" and start < 0:
                start, deepest = match.end(), 0
            depth += 1
            deepest = max(deepest, depth - 2)
            after_colon = False
        elif token in (b"]", b"}"):
            depth -= 1
            if depth == 1 and start >= 0 and key == b'"items"':
                spans.append((start, match.start(), deepest))
                key = b""
        elif token == b":":
            after_colon = depth == 1
            key = last if depth == 1 else key
        elif depth == 2 and start >= 0 and key == b'"items"':
            spans.append((start, match.start(), deepest))
            start, deepest = match.end(), 0
    if depth != 0 or start < 0:
        return None
    return source, [span for span in spans if body[span[0] : span[1]].strip()]


SOURCE_SECONDS = 1.0
"""Seconds the id of a push source found by its name is used again without asking the
database. A collector names its source on every push; the lookup was a statement and a
session per request, 6 % of the extra cost of 16 clients sending 100 items each against
one sending 1,000 (py-spy, bench/push.py). A source renamed meanwhile keeps its pushes for
up to this long; a deleted one is looked up again at once (``_store``)."""

_source_ids: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, float]]] = (
    weakref.WeakKeyDictionary()
)


def _push_source_id(name: str, *, reuse: bool = False) -> int:
    """The id of the source ``name``, created as a push source once even when two first
    pushes race (source names carry no unique index; this process creates them one at a
    time). ``reuse``: the id found less than ``SOURCE_SECONDS`` ago, without a lookup."""
    engine = get_engine()
    known = _source_ids.get(engine, {}).get(name)
    if reuse and known is not None and time.monotonic() - known[1] < SOURCE_SECONDS:
        return known[0]
    with session_scope() as session:
        found = sources_service.get_by_name(session, name=name)
        source_id = found.id if found is not None else None
    if source_id is None:
        with _SOURCE_LOCK, session_scope() as session:
            source_id = sources_service.get_or_create(session, name=name, kind="push").id
    _source_ids.setdefault(engine, {})[name] = (source_id, time.monotonic())
    return source_id


_heap_settled = threading.Event()


def _settle_heap() -> None:
    """After the first push, move what it loaded for good (models, gazetteer, scheme matcher)
    out of the collector's sight: each full collection would walk those hundreds of
    thousands of objects again, about 20 µs per pushed item, for garbage they never hold."""
    if _heap_settled.is_set():
        return
    _heap_settled.set()
    gc.collect()
    gc.freeze()


def _store_part(source_id: int, items: list[Any]) -> IngestResult:
    """Store and commit ``items`` through the process's writer (which merges concurrent
    pushes into one transaction), again when another process won a race or held a lock."""
    for _ in range(_STORE_ATTEMPTS - 1):
        with suppress(IntegrityError, OperationalError):
            return writer.write(source_id, items)
    return writer.write(source_id, items)


def _store(source_name: str, items: list[Any]) -> PushResult:
    """Store one batch; returns only after the commit succeeded. An item the database or a
    stage cannot take fails alone with its reason (the rest is stored in parts then). A
    database still busy after the retries is a 503 the collector retries, never a 500."""
    source_id = _push_source_id(source_name, reuse=True)
    try:
        try:
            result = storing.store_isolating(partial(_store_part, source_id), items)
        except LookupError:  # the source reused was deleted meanwhile: find or make it again
            source_id = _push_source_id(source_name)
            result = storing.store_isolating(partial(_store_part, source_id), items)
    except (IntegrityError, OperationalError) as error:
        log.warning("push of %d items not stored: %r", len(items), error)
        raise PushError(
            503,
            "数据库繁忙，本批未保存：请稍后重试（重复推送是安全的）",
            headers={"Retry-After": "2"},
        ) from None
    for outcome in result.outcomes:
        if outcome.error:
            outcome.error = f"items[{outcome.index}] {outcome.error}"
    counts = {name: getattr(result, name) for name in ("new", "duplicate", "updated", "unchanged")}
    return PushResult.model_construct(
        **counts,
        failed=result.failed,
        outcomes=result.outcomes,
        source_id=source_id,
        received=len(items),
    )


@router.post(
    "/mentions",
    summary="推送信息（采集器批量写入）",
    description=(
        "用 `Authorization: Bearer <令牌>` 推送一批条目（最多 1000 条）。"
        "每条单独校验：无效条目单独失败并说明下标和字段，其余照常入库。"
        "整批在一个事务中提交，提交成功后才返回，已确认的条目不会丢失。"
        "同一来源下相同 external_id（或相同链接）的条目只存一次，重复推送是安全的。"
    ),
    response_model=PushResult,
    responses={
        202: {"description": "队列模式：整批已写入收件箱，稍后由工作进程处理", "model": QueuedPush},
        401: {"description": "令牌缺失或错误"},
        403: {"description": "令牌没有推送权限"},
        413: {"description": "条目数或请求体超过上限"},
        422: {"description": "请求体不是预期的 JSON 结构"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PushIn.model_json_schema()}},
        }
    },
)
async def push_mentions(request: Request) -> Response:
    # The body is read by hand, not declared, so its size is capped before any parsing.
    await _authorise(request)
    body = await _read_body(request)
    source_name, items = _parse_push(body)
    if get_settings().queue:
        queued = await run_in_threadpool(_put_in_inbox, source_name, items)
        return Response(queued.model_dump_json(), status_code=202, media_type="application/json")
    result = await run_in_threadpool(_store, source_name, items)
    # Serialised once here: re-validating a thousand outcomes as a response model costs more
    # than storing them.
    settle = None if _heap_settled.is_set() else BackgroundTask(_settle_heap)
    return Response(result.model_dump_json(), media_type="application/json", background=settle)


# --- queue mode (docs/scaling.md): the batch is written to the inbox, workers store it ---


def _put_in_inbox(source_name: str, items: list[Any]) -> QueuedPush:
    """Write the batch to the inbox; returns once it is committed (the queue gets its id
    then). The outcome per item is read later from the status route."""
    source_id = _push_source_id(source_name)
    with session_scope() as session:
        row = inbox.put(session, source_id=source_id, origin="push", items=items)
        inbox_id = row.id
    return QueuedPush(
        inbox_id=inbox_id,
        source_id=source_id,
        received=len(items),
        status_url=f"/api/v1/inbox/{inbox_id}",
    )


@router.get(
    "/inbox/{inbox_id}",
    summary="查看一批推送的处理状态（队列模式）",
    description=(
        "队列模式下推送接口写入收件箱后立即返回 202 和批次号；"
        "用本接口查看该批的状态：queued（排队）、stored（已分析入库，可检索）、"
        "done（已归入事件、计入大屏并检查预警），以及每条的结果。"
    ),
    response_model=InboxStatus,
    responses={401: {"description": "令牌缺失或错误"}, 404: {"description": "批次不存在"}},
)
async def inbox_status(request: Request, inbox_id: int) -> InboxStatus:
    await _authorise(request)
    with session_scope() as session:
        found = inbox.get_status(session, inbox_id=inbox_id)
    if found is None:
        raise HTTPException(404, f"批次 {inbox_id} 不存在")
    return InboxStatus.model_validate(found)


@router.get(
    "/mentions/{mention_id}",
    summary="查看一条信息",
    response_model=MentionOut,
    responses={404: {"description": "信息不存在"}},
)
def get_mention(
    mention_id: int,
    session: Annotated[Session, Depends(get_session)],
    principal: Annotated[Principal, Depends(require("mentions.read"))],
) -> MentionOut:
    mention = service.get(session, mention_id=mention_id)
    if mention is None:
        raise HTTPException(404, f"信息 {mention_id} 不存在")
    return MentionOut.model_validate(mention)


@router.get(
    "/search",
    summary="全文检索信息",
    description="多个词之间是“并且”；引号内为一个词。简繁体通查。按发布时间倒序，每页 20 条。",
    response_model=SearchResult,
    responses={422: {"description": "查询无法执行"}},
)
def search_mentions(
    session: Annotated[Session, Depends(get_session)],
    principal: Annotated[Principal, Depends(require("mentions.read"))],
    q: Annotated[str, Query(description="查询，如：食堂 涨价")],
    start: Annotated[datetime | None, Query(description="发布时间不早于（UTC）")] = None,
    end: Annotated[datetime | None, Query(description="发布时间早于（UTC）")] = None,
    source_id: Annotated[int | None, Query(description="只看此来源")] = None,
    source_kind: Annotated[str | None, Query(description="只看此类来源，如 push")] = None,
    page: Annotated[int, Query(ge=1, le=500, description="页码，从 1 起")] = 1,
) -> SearchResult:
    filters = search_service.SearchFilters(
        start=start, end=end, source_id=source_id, source_kind=source_kind
    )
    try:
        found, mentions = search_service.search_page(
            session,
            q,
            filters=filters,
            limit=SEARCH_PAGE_SIZE,
            offset=(page - 1) * SEARCH_PAGE_SIZE,
        )
    except search_service.SearchQueryError as error:
        raise HTTPException(422, str(error)) from None
    return SearchResult(
        query=q,
        total=found.total,
        total_capped=found.total_capped,
        page=page,
        page_size=SEARCH_PAGE_SIZE,
        items=[MentionOut.model_validate(m) for m in mentions],
    )

"""Pydantic shapes of mentions going out and of the push API (the collected item itself,
``ItemIn``, is the collectors' vocabulary: ``sources/schemas.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from yuqing.sources.schemas import IngestResult


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int
    external_id: str | None
    url: str | None
    canonical_url: str | None
    title: str
    text: str
    author: str | None
    published_at: datetime
    collected_at: datetime
    parent_external_id: str | None
    root_external_id: str | None
    language: str
    status: str
    duplicate_of_id: int | None
    duplicate_count: int
    platform: str | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    heat: int = 0


class PushIn(BaseModel):
    """The body of ``POST /api/v1/mentions`` (documentation shape; items are checked one by one)."""

    source: str = Field(
        min_length=1, max_length=200, description="来源名称；不存在时自动建为推送来源"
    )
    items: list[dict[str, Any]] = Field(
        description="条目列表，每项字段同 ItemIn：external_id|id|mid, url, title, text, html, "
        "author, published_at|time|published, parent_external_id|parent, "
        "root_external_id|root, language, raw, reposts, comments, likes（转发/评论/点赞数）",
        examples=[
            [
                {
                    "id": "a1",
                    "title": "学校食堂涨价引热议",
                    "text": "有学生反映……",
                    "url": "https://example.cn/a1",
                    "time": "2024-05-01 09:00",
                    "reposts": 12,
                    "comments": 30,
                    "likes": 85,
                }
            ]
        ],
    )


class PushResult(IngestResult):
    """The answer to a push: counts and one outcome per item, sent after the commit."""

    source_id: int
    received: int


class SearchResult(BaseModel):
    """One page of search hits."""

    query: str
    total: int
    total_capped: bool
    page: int
    page_size: int
    items: list[MentionOut]

"""Parsers of what a source downloads: feeds (RSS/Atom/JSON Feed), article pages and list
pages. This is their face; each kind lives in its own module (feeds, articles, links) on
the helpers they share (parsing)."""

from __future__ import annotations

from yuqing.sources.articles import extract_article
from yuqing.sources.feeds import ParsedFeed, parse_feed
from yuqing.sources.links import extract_links
from yuqing.sources.parsing import ParseError

__all__ = ["ParseError", "ParsedFeed", "extract_article", "extract_links", "parse_feed"]

"""The audit log as people read it: its pages, its JSON route and its words (审计日志).

The mechanism (the hash chain, recording, verification) is ``yuqing.core.audit``, below
every domain; this package sits at the top with the reports, because its words name every
domain's objects and fields.
"""

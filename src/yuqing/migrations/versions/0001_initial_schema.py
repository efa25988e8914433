"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-06 10:55:55.387067
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("rule_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("risk", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("delivered_with", sa.Integer(), nullable=True),
        sa.Column("raised_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alert_dedupe_key")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_created", ["created_at"], unique=False)
        batch_op.create_index("ix_alert_mention", ["mention_id"], unique=False)
        batch_op.create_index(
            "ix_alert_pending",
            ["rule_id"],
            unique=False,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )
        batch_op.create_index("ix_alert_rule_created", ["rule_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_alert_rule_subject", ["rule_id", "subject", "created_at"], unique=False
        )

    op.create_table(
        "alert_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("quiet_weekends", sa.Boolean(), nullable=False),
        sa.Column("urgent_risk", sa.Integer(), nullable=True),
        sa.Column("batch_minutes", sa.Integer(), nullable=False),
        sa.Column("cooldown_minutes", sa.Integer(), nullable=False),
        sa.Column("max_per_hour", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_actor", ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_entry_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_entry_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "case_calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_case_calendar_year")),
    )
    op.create_table(
        "case_closure",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_case_closure")),
    )
    op.create_table(
        "case_grade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(length=20), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_grade")),
        sa.UniqueConstraint("key", name=op.f("uq_case_grade_key")),
    )
    op.create_table(
        "dashboard_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("province", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "kind", "sentiment", "province", name=op.f("pk_dashboard_day")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dashboard_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("province", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "kind", "sentiment", "province", name=op.f("pk_dashboard_hour")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "duty_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_role")),
        sa.UniqueConstraint("key", name=op.f("uq_duty_role_key")),
    )
    op.create_table(
        "fetch_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("not_modified", sa.Boolean(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("items_new", sa.Integer(), nullable=False),
        sa.Column("items_duplicate", sa.Integer(), nullable=False),
        sa.Column("items_updated", sa.Integer(), nullable=False),
        sa.Column("items_failed", sa.Integer(), nullable=False),
        sa.Column("items_unchanged", sa.Integer(), nullable=False),
        sa.Column("items_skipped", sa.Integer(), nullable=False),
        sa.Column("content_unchanged", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_run")),
    )
    with op.batch_alter_table("fetch_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fetch_run_source_id"), ["source_id"], unique=False)
        batch_op.create_index(
            "ix_fetch_run_source_started", ["source_id", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fetch_run_started_at"), ["started_at"], unique=False)

    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("count_new", sa.Integer(), nullable=False),
        sa.Column("count_duplicate", sa.Integer(), nullable=False),
        sa.Column("count_updated", sa.Integer(), nullable=False),
        sa.Column("count_unchanged", sa.Integer(), nullable=False),
        sa.Column("count_refused", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_job_source_id"), ["source_id"], unique=False)

    op.create_table(
        "login_limit",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("pauses", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_limit")),
    )
    with op.batch_alter_table("login_limit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_limit_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_limit_username"), ["username"], unique=False)

    op.create_table(
        "notify_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_channel")),
    )
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_version_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("kind", "period_start", "subject_id", name="uq_report_kind_period"),
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index("ix_report_created", ["created_at"], unique=False)

    op.create_table(
        "role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("all_units", sa.Boolean(), nullable=False),
        sa.Column("permissions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
        sa.UniqueConstraint("key", name=op.f("uq_role_key")),
    )
    op.create_table(
        "scheme_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_group")),
        sa.UniqueConstraint("name", name=op.f("uq_scheme_group_name")),
    )
    op.create_table(
        "sensitive_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensitive_category")),
        sa.UniqueConstraint("key", name=op.f("uq_sensitive_category_key")),
    )
    op.create_table(
        "sentiment_model_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=12), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=300), nullable=True),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_model_version")),
    )
    op.create_table(
        "site_setting",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_setting")),
    )
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), server_default="1.0", nullable=False),
        sa.Column("platform", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("last_content_hash", sa.String(length=64), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_new_item_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("count_new", sa.Integer(), nullable=False),
        sa.Column("count_duplicate", sa.Integer(), nullable=False),
        sa.Column("count_updated", sa.Integer(), nullable=False),
        sa.Column("count_failed", sa.Integer(), nullable=False),
        sa.Column("count_filtered", sa.Integer(), nullable=False),
        sa.Column("import_mapping", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source")),
    )
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_source_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    op.create_table(
        "unit_kind",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_kind")),
        sa.UniqueConstraint("key", name=op.f("uq_unit_kind_key")),
    )
    op.create_table(
        "case_calendar_day",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["year"],
            ["case_calendar_year.year"],
            name=op.f("fk_case_calendar_day_year_case_calendar_year"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_case_calendar_day")),
    )
    with op.batch_alter_table("case_calendar_day", schema=None) as batch_op:
        batch_op.create_index("ix_case_calendar_day_year", ["year"], unique=False)

    op.create_table(
        "case_sla_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grade_id", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.String(length=20), nullable=False),
        sa.Column("stops_on", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("pause_when_returned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grade_id"],
            ["case_grade.id"],
            name=op.f("fk_case_sla_clock_grade_id_case_grade"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_sla_clock")),
        sa.UniqueConstraint("grade_id", "clock", name="uq_case_sla_clock_grade"),
    )
    op.create_table(
        "mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("url_hash", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=300), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("collected_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("parent_external_id", sa.String(length=300), nullable=True),
        sa.Column("root_external_id", sa.String(length=300), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.BigInteger(), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("sentiment_model", sa.String(length=40), nullable=True),
        sa.Column("emotion", sa.String(length=12), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("risk_parts", sa.Text(), nullable=True),
        sa.Column("near_group_id", sa.Integer(), nullable=True),
        sa.Column("near_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("regions", sa.String(length=500), nullable=True),
        sa.Column("platform", sa.String(length=12), nullable=True),
        sa.Column("reposts", sa.Integer(), nullable=True),
        sa.Column("comments", sa.Integer(), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("heat", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["mention.id"],
            name=op.f("fk_mention_duplicate_of_id_mention"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["near_group_id"],
            ["mention.id"],
            name=op.f("fk_mention_near_group_id_mention"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_mention_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention")),
    )
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.create_index("ix_mention_content_hash", ["content_hash"], unique=False)
        batch_op.create_index(
            "ix_mention_duplicate_of",
            ["duplicate_of_id"],
            unique=False,
            sqlite_where=sa.text("duplicate_of_id IS NOT NULL"),
            postgresql_where=sa.text("duplicate_of_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_mention_near_group",
            ["near_group_id"],
            unique=False,
            sqlite_where=sa.text("near_group_id IS NOT NULL"),
            postgresql_where=sa.text("near_group_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_mention_root",
            ["root_external_id"],
            unique=False,
            sqlite_where=sa.text("root_external_id IS NOT NULL"),
            postgresql_where=sa.text("root_external_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_mention_source_external",
            ["source_id", "external_id"],
            unique=True,
            sqlite_where=sa.text("external_id IS NOT NULL"),
            postgresql_where=sa.text("external_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_mention_status_published", ["status", "published_at"], unique=False
        )
        batch_op.create_index(
            "ix_mention_stream_facets",
            ["status", "near_group_id", "published_at", "sentiment", "platform", "source_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_mention_stream_heat",
            ["status", "near_group_id", "heat", "published_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_mention_stream_platform",
            ["status", "near_group_id", "platform", "published_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_mention_stream_risk",
            ["status", "near_group_id", "risk_score", "published_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_mention_stream_time", ["status", "near_group_id", "published_at"], unique=False
        )
        batch_op.create_index(
            "ix_mention_url_hash",
            ["url_hash"],
            unique=False,
            sqlite_where=sa.text("url_hash IS NOT NULL"),
            postgresql_where=sa.text("url_hash IS NOT NULL"),
        )

    op.create_table(
        "report_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_version_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_version")),
        sa.UniqueConstraint("report_id", "number", name="uq_report_version_number"),
    )
    op.create_table(
        "scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("subject_words", sa.Text(), nullable=False),
        sa.Column("region_words", sa.Text(), nullable=False),
        sa.Column("person_words", sa.Text(), nullable=False),
        sa.Column("event_words", sa.Text(), nullable=False),
        sa.Column("exclude_words", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scheme_group.id"],
            name=op.f("fk_scheme_group_id_scheme_group"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme")),
    )
    with op.batch_alter_table("scheme", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheme_group_id"), ["group_id"], unique=False)

    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind_id", sa.Integer(), nullable=True),
        sa.Column("head_person_id", sa.Integer(), nullable=True),
        sa.Column("contact_person_id", sa.Integer(), nullable=True),
        sa.Column("student_count", sa.Integer(), nullable=True),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind_id"],
            ["unit_kind.id"],
            name=op.f("fk_unit_kind_id_unit_kind"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["unit.id"], name=op.f("fk_unit_parent_id_unit"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
    )
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=True),
        sa.Column("representative_is_reply", sa.Boolean(), nullable=False),
        sa.Column("first_mention_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("count_positive", sa.Integer(), nullable=False),
        sa.Column("count_neutral", sa.Integer(), nullable=False),
        sa.Column("count_negative", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("heat", sa.Float(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("related_to_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_mention_id"],
            ["mention.id"],
            name=op.f("fk_event_first_mention_id_mention"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["event.id"],
            name=op.f("fk_event_merged_into_id_event"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["related_to_id"],
            ["event.id"],
            name=op.f("fk_event_related_to_id_event"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["mention.id"],
            name=op.f("fk_event_representative_id_mention"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_heat", ["heat"], unique=False)
        batch_op.create_index("ix_event_last_seen", ["last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_related_to_id"), ["related_to_id"], unique=False)

    op.create_table(
        "mention_band",
        sa.Column("band_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("mention_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_mention_band_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band_key", "mention_id", name=op.f("pk_mention_band")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("mention_band", schema=None) as batch_op:
        batch_op.create_index("ix_mention_band_mention", ["mention_id"], unique=False)

    op.create_table(
        "mention_place",
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_mention_place_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", "code", name=op.f("pk_mention_place")),
    )
    with op.batch_alter_table("mention_place", schema=None) as batch_op:
        batch_op.create_index("ix_mention_place_code", ["code", "mention_id"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("wecom_userid", sa.String(length=100), nullable=True),
        sa.Column("dingtalk_userid", sa.String(length=100), nullable=True),
        sa.Column("political_status", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_person_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index("ix_person_unit_name", ["unit_id", "name"], unique=False)

    op.create_table(
        "scheme_match",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("matched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_scheme_match_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["scheme.id"],
            name=op.f("fk_scheme_match_scheme_id_scheme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_match")),
    )
    with op.batch_alter_table("scheme_match", schema=None) as batch_op:
        batch_op.create_index("ix_scheme_match_mention", ["mention_id"], unique=False)
        batch_op.create_index(
            "ix_scheme_match_scheme_mention", ["scheme_id", "mention_id"], unique=True
        )

    op.create_table(
        "sentiment_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("emotion", sa.String(length=12), nullable=True),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_sentiment_label_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_label")),
    )
    with op.batch_alter_table("sentiment_label", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sentiment_label_mention_id"), ["mention_id"], unique=False
        )

    op.create_table(
        "event_hour",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_hour_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "hour", name=op.f("pk_event_hour")),
    )
    op.create_table(
        "event_member",
        sa.Column("mention_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=8), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_member_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_event_member_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_event_member")),
    )
    with op.batch_alter_table("event_member", schema=None) as batch_op:
        batch_op.create_index("ix_event_member_event", ["event_id", "published_at"], unique=False)

    op.create_table(
        "event_source",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_source_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_event_source_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "source_id", name=op.f("pk_event_source")),
    )
    op.create_table(
        "incident_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("grade_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("assignee_person_id", sa.Integer(), nullable=True),
        sa.Column("reporter_user_id", sa.Integer(), nullable=True),
        sa.Column("reporter_unit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("triaged_at", sa.DateTime(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("in_progress_at", sa.DateTime(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("feedback_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("info_published_at", sa.DateTime(), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("feedback_text", sa.Text(), nullable=True),
        sa.Column("response_text", sa.Text(), nullable=True),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("tags", sa.String(length=500), nullable=False),
        sa.Column("source_type", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_person_id"],
            ["person.id"],
            name=op.f("fk_incident_case_assignee_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grade_id"],
            ["case_grade.id"],
            name=op.f("fk_incident_case_grade_id_case_grade"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_unit_id"],
            ["unit.id"],
            name=op.f("fk_incident_case_reporter_unit_id_unit"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
            name=op.f("fk_incident_case_unit_id_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_case")),
    )
    with op.batch_alter_table("incident_case", schema=None) as batch_op:
        batch_op.create_index("ix_case_created", ["created_at"], unique=False)
        batch_op.create_index("ix_case_reporter_unit", ["reporter_unit_id"], unique=False)
        batch_op.create_index("ix_case_status", ["status"], unique=False)
        batch_op.create_index("ix_case_unit_status", ["unit_id", "status"], unique=False)
        batch_op.create_index("ux_case_source", ["source_type", "source_id"], unique=True)

    op.create_table(
        "person_role",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("duty_role_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duty_role_id"],
            ["duty_role.id"],
            name=op.f("fk_person_role_duty_role_id_duty_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_role_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "duty_role_id", name=op.f("pk_person_role")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_user_account_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["role.id"], name=op.f("fk_user_account_role_id_role"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_user_account_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index("ix_api_token_hash", ["token_hash"], unique=True)

    op.create_table(
        "case_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["incident_case.id"],
            name=op.f("fk_case_entry_case_id_incident_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_entry")),
    )
    with op.batch_alter_table("case_entry", schema=None) as batch_op:
        batch_op.create_index("ix_case_entry_case", ["case_id", "at"], unique=False)

    op.create_table(
        "case_event",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["incident_case.id"],
            name=op.f("fk_case_event_case_id_incident_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_case_event_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "event_id", name=op.f("pk_case_event")),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_event_event_id"), ["event_id"], unique=False)

    op.create_table(
        "case_mention",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["incident_case.id"],
            name=op.f("fk_case_mention_case_id_incident_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_case_mention_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "mention_id", name=op.f("pk_case_mention")),
    )
    with op.batch_alter_table("case_mention", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_mention_mention_id"), ["mention_id"], unique=False
        )

    op.create_table(
        "case_timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.Column("satisfied_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_50_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_80_at", sa.DateTime(), nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("last_escalated_at", sa.DateTime(), nullable=True),
        sa.Column("calendar_rule", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["incident_case.id"],
            name=op.f("fk_case_timer_case_id_incident_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_timer")),
        sa.UniqueConstraint("case_id", "clock", name="uq_case_timer_case_clock"),
    )
    with op.batch_alter_table("case_timer", schema=None) as batch_op:
        batch_op.create_index("ix_case_timer_running", ["satisfied_at", "due_at"], unique=False)

    op.create_table(
        "mention_mark",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("important", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("important_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_mention_mark_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_mention_mark_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "mention_id", name=op.f("pk_mention_mark")),
    )
    with op.batch_alter_table("mention_mark", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mention_mark_important", ["user_id", "important", "mention_id"], unique=False
        )

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("mobiles", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notify_channel.id"],
            name=op.f("fk_notification_channel_id_notify_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_channel_id"), ["channel_id"], unique=False
        )
        batch_op.create_index("ix_notification_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_notification_inbox", ["user_id", "read_at"], unique=False)
        batch_op.create_index(
            "ux_notification_dedupe", ["dedupe_key", "channel", "target"], unique=True
        )

    op.create_table(
        "user_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_user_session")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    # Full-text index over overlapping Han bigrams (see yuqing/mentions/search.py).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS mention_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 0', detail = none)"
        )
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts_key ( mention_id INTEGER PRIMARY KEY, key INTEGER NOT NULL)"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_delete AFTER DELETE ON mention BEGIN DELETE FROM mention_fts WHERE rowid = (SELECT key FROM mention_fts_key WHERE mention_id = old.id); DELETE FROM mention_fts_key WHERE mention_id = old.id; END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_unlist AFTER UPDATE OF status ON mention WHEN new.status <> 'new' BEGIN DELETE FROM mention_fts WHERE rowid = (SELECT key FROM mention_fts_key WHERE mention_id = old.id); DELETE FROM mention_fts_key WHERE mention_id = old.id; END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_retime AFTER UPDATE OF published_at ON mention BEGIN UPDATE mention_fts SET rowid = ((max(0, coalesce(CAST(strftime('%s', new.published_at) AS INTEGER), 0)) << 31) | new.id) WHERE rowid = (SELECT key FROM mention_fts_key WHERE mention_id = new.id); UPDATE mention_fts_key SET key = ((max(0, coalesce(CAST(strftime('%s', new.published_at) AS INTEGER), 0)) << 31) | new.id) WHERE mention_id = new.id; END"
        )
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts_change ( seq INTEGER PRIMARY KEY AUTOINCREMENT, mention_id INTEGER NOT NULL)"
        )
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_change_insert AFTER INSERT ON mention WHEN new.status = 'new' BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (new.id); END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_change_update AFTER UPDATE OF status, near_group_id, search_text, published_at, source_id ON mention WHEN (old.status = 'new' OR new.status = 'new') AND (old.status IS NOT new.status OR old.near_group_id IS NOT new.near_group_id OR old.search_text IS NOT new.search_text OR old.published_at IS NOT new.published_at OR old.source_id IS NOT new.source_id) BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (new.id); END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mention_fts_change_delete AFTER DELETE ON mention WHEN old.status = 'new' BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (old.id); END"
        )
    else:
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts ( rowid BIGINT PRIMARY KEY REFERENCES mention(id) ON DELETE CASCADE, body TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX IF NOT EXISTS ix_mention_fts_body ON mention_fts USING GIN (body)")
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts_change ( seq BIGSERIAL PRIMARY KEY, mention_id BIGINT NOT NULL)"
        )
        op.execute(
            "CREATE TABLE IF NOT EXISTS mention_fts_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        op.execute(
            "CREATE OR REPLACE FUNCTION mention_fts_change_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO mention_fts_change(mention_id) SELECT id FROM changed WHERE status = 'new'; ELSE INSERT INTO mention_fts_change(mention_id) SELECT id FROM gone WHERE status = 'new'; END IF; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE OR REPLACE FUNCTION mention_fts_change_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (NEW.id); RETURN NULL; END $$"
        )
        op.execute(
            "CREATE OR REPLACE TRIGGER mention_fts_change_insert AFTER INSERT ON mention REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION mention_fts_change_rows()"
        )
        op.execute(
            "CREATE OR REPLACE TRIGGER mention_fts_change_delete AFTER DELETE ON mention REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION mention_fts_change_rows()"
        )
        op.execute(
            "CREATE OR REPLACE TRIGGER mention_fts_change_update AFTER UPDATE OF status, near_group_id, search_text, published_at, source_id ON mention FOR EACH ROW WHEN ((OLD.status = 'new' OR NEW.status = 'new') AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.near_group_id IS DISTINCT FROM NEW.near_group_id OR OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.published_at IS DISTINCT FROM NEW.published_at OR OLD.source_id IS DISTINCT FROM NEW.source_id)) EXECUTE FUNCTION mention_fts_change_row()"
        )

    # The audit log is append-only (see yuqing/core/audit.py).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head BEGIN SELECT RAISE(ABORT, 'the audit head cannot be removed'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS mention_fts_change_insert")
        op.execute("DROP TRIGGER IF EXISTS mention_fts_change_update")
        op.execute("DROP TRIGGER IF EXISTS mention_fts_change_delete")
        op.execute("DROP TABLE IF EXISTS mention_fts_change")
        op.execute("DROP TABLE IF EXISTS mention_fts_meta")
        op.execute("DROP TRIGGER IF EXISTS mention_fts_delete")
        op.execute("DROP TRIGGER IF EXISTS mention_fts_unlist")
        op.execute("DROP TRIGGER IF EXISTS mention_fts_retime")
        op.execute("DROP TABLE IF EXISTS mention_fts_key")
        op.execute("DROP TABLE IF EXISTS mention_fts")
    else:
        op.execute("DROP TABLE IF EXISTS mention_fts")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only() CASCADE")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))

    op.drop_table("user_session")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ux_notification_dedupe")
        batch_op.drop_index("ix_notification_inbox")
        batch_op.drop_index("ix_notification_due")
        batch_op.drop_index(batch_op.f("ix_notification_channel_id"))

    op.drop_table("notification")
    with op.batch_alter_table("mention_mark", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_mark_important")

    op.drop_table("mention_mark")
    with op.batch_alter_table("case_timer", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timer_running")

    op.drop_table("case_timer")
    with op.batch_alter_table("case_mention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_mention_mention_id"))

    op.drop_table("case_mention")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_event_event_id"))

    op.drop_table("case_event")
    with op.batch_alter_table("case_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_case_entry_case")

    op.drop_table("case_entry")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index("ix_api_token_hash")

    op.drop_table("api_token")
    op.drop_table("user_account")
    op.drop_table("person_role")
    with op.batch_alter_table("incident_case", schema=None) as batch_op:
        batch_op.drop_index("ux_case_source")
        batch_op.drop_index("ix_case_unit_status")
        batch_op.drop_index("ix_case_status")
        batch_op.drop_index("ix_case_reporter_unit")
        batch_op.drop_index("ix_case_created")

    op.drop_table("incident_case")
    op.drop_table("event_source")
    with op.batch_alter_table("event_member", schema=None) as batch_op:
        batch_op.drop_index("ix_event_member_event")

    op.drop_table("event_member")
    op.drop_table("event_hour")
    with op.batch_alter_table("sentiment_label", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sentiment_label_mention_id"))

    op.drop_table("sentiment_label")
    with op.batch_alter_table("scheme_match", schema=None) as batch_op:
        batch_op.drop_index("ix_scheme_match_scheme_mention")
        batch_op.drop_index("ix_scheme_match_mention")

    op.drop_table("scheme_match")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("ix_person_unit_name")

    op.drop_table("person")
    with op.batch_alter_table("mention_place", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_place_code")

    op.drop_table("mention_place")
    with op.batch_alter_table("mention_band", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_band_mention")

    op.drop_table("mention_band")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_related_to_id"))
        batch_op.drop_index("ix_event_last_seen")
        batch_op.drop_index("ix_event_heat")

    op.drop_table("event")
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_parent_id"))

    op.drop_table("unit")
    with op.batch_alter_table("scheme", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheme_group_id"))

    op.drop_table("scheme")
    op.drop_table("report_version")
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_mention_url_hash",
            sqlite_where=sa.text("url_hash IS NOT NULL"),
            postgresql_where=sa.text("url_hash IS NOT NULL"),
        )
        batch_op.drop_index("ix_mention_stream_time")
        batch_op.drop_index("ix_mention_stream_risk")
        batch_op.drop_index("ix_mention_stream_platform")
        batch_op.drop_index("ix_mention_stream_heat")
        batch_op.drop_index("ix_mention_stream_facets")
        batch_op.drop_index("ix_mention_status_published")
        batch_op.drop_index(
            "ix_mention_source_external",
            sqlite_where=sa.text("external_id IS NOT NULL"),
            postgresql_where=sa.text("external_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_mention_root",
            sqlite_where=sa.text("root_external_id IS NOT NULL"),
            postgresql_where=sa.text("root_external_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_mention_near_group",
            sqlite_where=sa.text("near_group_id IS NOT NULL"),
            postgresql_where=sa.text("near_group_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_mention_duplicate_of",
            sqlite_where=sa.text("duplicate_of_id IS NOT NULL"),
            postgresql_where=sa.text("duplicate_of_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_mention_content_hash")

    op.drop_table("mention")
    op.drop_table("case_sla_clock")
    with op.batch_alter_table("case_calendar_day", schema=None) as batch_op:
        batch_op.drop_index("ix_case_calendar_day_year")

    op.drop_table("case_calendar_day")
    op.drop_table("unit_kind")
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_source_kind"))

    op.drop_table("source")
    op.drop_table("site_setting")
    op.drop_table("sentiment_model_version")
    op.drop_table("sensitive_category")
    op.drop_table("scheme_group")
    op.drop_table("role")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_created")

    op.drop_table("report")
    op.drop_table("notify_channel")
    with op.batch_alter_table("login_limit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_limit_username"))
        batch_op.drop_index(batch_op.f("ix_login_limit_updated_at"))

    op.drop_table("login_limit")
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_source_id"))

    op.drop_table("import_job")
    with op.batch_alter_table("fetch_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fetch_run_started_at"))
        batch_op.drop_index("ix_fetch_run_source_started")
        batch_op.drop_index(batch_op.f("ix_fetch_run_source_id"))

    op.drop_table("fetch_run")
    op.drop_table("duty_role")
    op.drop_table("dashboard_hour")
    op.drop_table("dashboard_day")
    op.drop_table("case_grade")
    op.drop_table("case_closure")
    op.drop_table("case_calendar_year")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_object")
        batch_op.drop_index("ix_audit_entry_at")
        batch_op.drop_index("ix_audit_entry_actor")

    op.drop_table("audit_entry")
    op.drop_table("alert_rule")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_rule_subject")
        batch_op.drop_index("ix_alert_rule_created")
        batch_op.drop_index(
            "ix_alert_pending",
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )
        batch_op.drop_index("ix_alert_mention")
        batch_op.drop_index("ix_alert_created")

    op.drop_table("alert")

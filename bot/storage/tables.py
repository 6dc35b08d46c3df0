"""Every table the bot keeps, in one place, so a data protection officer can read what is stored.

Nothing here holds a child's or family's name: users are channel ids, cases are case references,
and free text is redacted by the privacy guard before it reaches a table. Migrations in
``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# A user the bot has met: only whether the one-time disclaimer has been shown.
users = Table(
    "users",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)

# The serialised dialog state of one user in one conversation (walkthroughs, ISA edits).
conversation_state = Table(
    "conversation_state",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("conversation_id", String(300), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

# Idempotency keys: a retried or replayed delivery finds its key here and does nothing twice.
processed_events = Table(
    "processed_events",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# Confirmed decision records: append-only; an amendment is a new row pointing at the original.
decision_records = Table(
    "decision_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False, index=True),
    Column("reference", String(100), nullable=False),
    Column("decision", String(40), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("content_version", String(40), nullable=False),
    Column("amends_id", Integer, ForeignKey("decision_records.id"), nullable=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# Questions the bot could not answer (redacted), so a content owner can see what is missing.
unanswered_questions = Table(
    "unanswered_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),
    Column("normalised", String(500), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# Redacted transcript lines, purged after the retention period.
transcripts = Table(
    "transcripts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False, index=True),
    Column("conversation_id", String(300), nullable=False),
    Column("direction", String(3), nullable=False),  # "in" or "out"
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# Where the bot can post proactively (Teams conversation references, Slack channels, local).
conversation_refs = Table(
    "conversation_refs",
    metadata,
    Column("channel", String(20), primary_key=True),
    Column("conversation_id", String(300), primary_key=True),
    Column("team_id", String(300), nullable=True),
    Column("reference", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Information Sharing Agreements.
isas = Table(
    "isas",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),
    Column("parties", JSON, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("data_categories", JSON, nullable=False),
    Column("lawful_basis", String(300), nullable=False),
    Column("article9_condition", String(300), nullable=True),
    Column("owner", String(200), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("review_date", Date, nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("document_url", String(1000), nullable=True),
    Column("channels", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who changed what and when: ISA edits, record purges, retention runs.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("details", JSON, nullable=False),
)

# Recurring channel reminders ("every Monday 09:00").
reminder_subscriptions = Table(
    "reminder_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(320), nullable=False, unique=True),
    Column("weekday", Integer, nullable=False),
    Column("time_of_day", String(5), nullable=False),
    Column("timezone", String(60), nullable=False),
    Column("active", Integer, nullable=False, default=1),
    Column("paused_reason", Text, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (reminder, occurrence): claimed with a lease, marked sent; the key is unique.
reminder_occurrences = Table(
    "reminder_occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("isa_id", Integer, nullable=True),
    Column("channel", String(320), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),  # pending, claimed, sent, failed, skipped
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("payload", JSON, nullable=True),
    UniqueConstraint("key", name="uq_reminder_occurrence_key"),
    Index("ix_reminder_occurrences_status_due", "status", "due_at"),
)

# Messages for the local channel (web chat, terminal) that arrive without a user turn.
local_outbox = Table(
    "local_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(300), nullable=False, index=True),
    Column("reply", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A snoozed ISA review: reminders for that review date are held until ``snoozed_until``.
isa_snoozes = Table(
    "isa_snoozes",
    metadata,
    Column("isa_id", Integer, primary_key=True),
    Column("review_date", Date, nullable=False),
    Column("snoozed_until", Date, nullable=False),
    Column("snoozed_by", String(200), nullable=False),
    Column("snoozed_at", DateTime(timezone=True), nullable=False),
)

# Teams has no private messages inside a channel: a dialog started there continues in the user's personal
# chat with the bot, and typed replies in that chat are routed back to the channel conversation's dialog.
# Conversation ids only; a route older than the walkthrough expiry is ignored and replaced.
teams_dialog_routes = Table(
    "teams_dialog_routes",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("personal_conversation_id", String(300), nullable=False),
    Column("dialog_conversation_id", String(300), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)


# Words users confirmed are not a person when the privacy guard refused a typed answer (a service or place the
# veto list lacks). The word only, never the answer nor who confirmed it: content owners review these with
# ``python -m bot privacy confirmations`` and add the right ones to content/privacy.yaml.
privacy_confirmations = Table(
    "privacy_confirmations",
    metadata,
    Column("word", String(200), primary_key=True),
    Column("times", Integer, nullable=False),
    Column("first_confirmed", DateTime(timezone=True), nullable=False),
    Column("last_confirmed", DateTime(timezone=True), nullable=False),
)


def create_tables(bind, names: list[str]) -> None:
    """Create the named tables (a migration's upgrade): each migration names only the tables it adds."""
    for name in names:
        metadata.tables[name].create(bind, checkfirst=True)


def drop_tables(bind, names: list[str]) -> None:
    for name in reversed(names):
        metadata.tables[name].drop(bind, checkfirst=True)

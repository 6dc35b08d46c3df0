"""Every table the bot keeps, in one place, so a data protection officer can read what is stored.

Nothing here holds a child's or family's name: users are channel ids, cases are case references,
and free text is redacted by the privacy guard before it reaches a table. Migrations in
``migrations/versions`` create exactly these tables.

Each table declares its data protection rules in ``info`` (see :func:`policy`): how long its rows are
kept, which columns name a user (what a subject access request returns) and what erasing a user does
to it. bot/retention.py reads only these declarations, so a new table cannot be forgotten.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.storage.types import UTCDateTime

metadata = MetaData()

# How long rows are kept.
WORKING = "working"  # RETENTION_DAYS after the ``age`` column (default 30 days)
RECORDS = "records"  # RECORD_RETENTION_DAYS (default about seven years): decision records, the audit log
REGISTER = "register"  # as long as the agreement is in the register (edited or ended by admins, not purged)
INSTALLED = "installed"  # while the bot is installed there (removed on uninstall)
SCHEDULE = "schedule"  # the reminders' exactly-once ledger: one small row per reminder sent, kept
# What erasing a user does to the rows that name them.
DELETE = "delete"  # the rows go
PSEUDONYMISE = "pseudonymise"  # the rows stay; the user's id becomes the erasure's pseudonym
ON_INSTRUCTION = "on instruction"  # deleted only with --include-records (case records the organisation keeps)
KEEP = "keep"  # nothing names a user


def policy(retention: str, *, age: str | None = None, subject: tuple[str, ...] = (), erase: str = KEEP,
           erase_by: str | None = None) -> dict[str, Any]:
    """A table's data protection rules, read by :mod:`bot.storage.retention`: ``subject`` columns name a
    user; ``erase_by`` is the one column an erasure deletes or pseudonymises by (default: the first subject
    column for a deletion, every subject column for pseudonymising)."""
    return {"retention": retention, "age": age, "subject": subject, "erase": erase, "erase_by": erase_by}

# A user the bot has met: whether the one-time disclaimer has been shown, and the name (and role) they
# typed for "Decided by" on their own records (their own data; nobody else's name is ever kept).
users = Table(
    "users",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("display_name", String(200), nullable=True),
    info=policy(WORKING, age="last_seen", subject=("user_id",), erase=DELETE),
)

# The serialised dialog state of one user in one conversation (walkthroughs, ISA edits).
conversation_state = Table(
    "conversation_state",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("conversation_id", String(300), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="updated_at", subject=("user_id", "conversation_id"), erase=DELETE),
)

# Idempotency keys: a retried or replayed delivery finds its key here and does nothing twice.
processed_events = Table(
    "processed_events",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="created_at"),
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
    Column("created_at", UTCDateTime, nullable=False, index=True),
    info=policy(RECORDS, age="created_at", subject=("user_id",), erase=ON_INSTRUCTION),
)

# Questions the bot could not answer (redacted), so a content owner can see what is missing.
unanswered_questions = Table(
    "unanswered_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),
    Column("normalised", String(500), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="created_at"),
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
    Column("created_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="created_at", subject=("user_id", "conversation_id"), erase=DELETE),
)

# Where the bot can post proactively (Teams conversation references, Slack channels, local).
conversation_refs = Table(
    "conversation_refs",
    metadata,
    Column("channel", String(20), primary_key=True),
    Column("conversation_id", String(300), primary_key=True),
    Column("team_id", String(300), nullable=True),
    Column("reference", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    info=policy(INSTALLED, subject=("conversation_id",)),
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
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    info=policy(REGISTER, subject=("owner",), erase=PSEUDONYMISE),
)

# Who changed what and when: ISA edits, record purges, retention runs.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("details", JSON, nullable=False),
    info=policy(RECORDS, age="at", subject=("actor", "subject"), erase=PSEUDONYMISE),
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
    Column("created_at", UTCDateTime, nullable=False),
    info=policy(REGISTER, subject=("created_by", "channel"), erase=PSEUDONYMISE, erase_by="created_by"),
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
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),  # pending, claimed, sent, failed, skipped
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("payload", JSON, nullable=True),
    UniqueConstraint("key", name="uq_reminder_occurrence_key"),
    Index("ix_reminder_occurrences_status_due", "status", "due_at"),
    info=policy(SCHEDULE, subject=("channel",)),
)

# Messages for the local channel (web chat, terminal) that arrive without a user turn.
local_outbox = Table(
    "local_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(300), nullable=False, index=True),
    Column("reply", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    info=policy(WORKING, age="created_at", subject=("conversation_id",), erase=DELETE),
)

# A snoozed ISA review: reminders for that review date are held until ``snoozed_until``.
isa_snoozes = Table(
    "isa_snoozes",
    metadata,
    Column("isa_id", Integer, primary_key=True),
    Column("review_date", Date, nullable=False),
    Column("snoozed_until", Date, nullable=False),
    Column("snoozed_by", String(200), nullable=False),
    Column("snoozed_at", UTCDateTime, nullable=False),
    info=policy(REGISTER, subject=("snoozed_by",), erase=PSEUDONYMISE),
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
    Column("updated_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="updated_at", subject=("user_id",), erase=DELETE),
)


# Words users confirmed are not a person when the privacy guard refused a typed answer (a service or place the
# veto list lacks). The word only, never the answer nor who confirmed it: content owners review these with
# ``python -m bot privacy confirmations`` and add the right ones to content/privacy.yaml.
privacy_confirmations = Table(
    "privacy_confirmations",
    metadata,
    Column("word", String(200), primary_key=True),
    Column("times", Integer, nullable=False),
    Column("first_confirmed", UTCDateTime, nullable=False),
    Column("last_confirmed", UTCDateTime, nullable=False),
    info=policy(REGISTER),
)


# Slack workspaces that installed the bot through Slack's OAuth flow (not used with a single SLACK_BOT_TOKEN):
# the bot token, encrypted with SLACK_TOKEN_KEY, and the bot's ids. No installer, no user token. Deleted when
# the workspace uninstalls the app or revokes its tokens.
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("enterprise_id", String(32), primary_key=True),  # "" outside Enterprise Grid
    Column("team_id", String(32), primary_key=True),  # "" for an organisation-wide install
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("app_id", String(32), nullable=True),
    Column("bot_id", String(32), nullable=False),
    Column("bot_user_id", String(32), nullable=False),
    Column("bot_scopes", Text, nullable=False),
    Column("bot_token", Text, nullable=False),  # Fernet ciphertext, never the token itself
    Column("installed_at", UTCDateTime, nullable=False),
    info=policy(INSTALLED),
)

# OAuth state values issued by /slack/install, each consumed once by /slack/oauth_redirect (CSRF protection).
slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("state", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    info=policy(WORKING, age="expires_at"),
)

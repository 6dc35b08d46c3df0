"""Initial schema: every table in bot.storage.tables as of the first release.

Revision ID: 0001
Revises:
"""

from alembic import op

from bot.storage import tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_INITIAL = [
    "users", "conversation_state", "processed_events", "decision_records", "unanswered_questions",
    "transcripts", "conversation_refs", "isas", "audit_log", "reminder_subscriptions",
    "reminder_occurrences", "local_outbox",
]


def upgrade() -> None:
    tables.create_tables(op.get_bind(), _INITIAL)


def downgrade() -> None:
    tables.drop_tables(op.get_bind(), _INITIAL)

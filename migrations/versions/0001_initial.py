"""Initial schema: every table of the first release.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen: these are the tables as this revision created them, not the live definitions in
# bot/storage/tables.py (a later change to a table is a new revision).
_TABLES = [
    "users", "conversation_state", "processed_events", "decision_records", "unanswered_questions",
    "transcripts", "conversation_refs", "isas", "audit_log", "reminder_subscriptions",
    "reminder_occurrences", "local_outbox",
]


def upgrade() -> None:
    op.create_table('users',
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('conversation_state',
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.String(length=300), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'conversation_id')
    )
    op.create_index(op.f('ix_conversation_state_updated_at'), 'conversation_state', ['updated_at'], unique=False)
    op.create_table('processed_events',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_processed_events_created_at'), 'processed_events', ['created_at'], unique=False)
    op.create_table('decision_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('decision', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('content_version', sa.String(length=40), nullable=False),
    sa.Column('amends_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['amends_id'], ['decision_records.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index(op.f('ix_decision_records_created_at'), 'decision_records', ['created_at'], unique=False)
    op.create_index(op.f('ix_decision_records_user_id'), 'decision_records', ['user_id'], unique=False)
    op.create_table('unanswered_questions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('normalised', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_unanswered_questions_created_at'), 'unanswered_questions', ['created_at'], unique=False)
    op.create_index(op.f('ix_unanswered_questions_normalised'), 'unanswered_questions', ['normalised'], unique=False)
    op.create_table('transcripts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.String(length=300), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_transcripts_created_at'), 'transcripts', ['created_at'], unique=False)
    op.create_index(op.f('ix_transcripts_user_id'), 'transcripts', ['user_id'], unique=False)
    op.create_table('conversation_refs',
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('conversation_id', sa.String(length=300), nullable=False),
    sa.Column('team_id', sa.String(length=300), nullable=True),
    sa.Column('reference', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'conversation_id')
    )
    op.create_table('isas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('lawful_basis', sa.String(length=300), nullable=False),
    sa.Column('article9_condition', sa.String(length=300), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('document_url', sa.String(length=1000), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_isas_review_date'), 'isas', ['review_date'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_table('reminder_subscriptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=320), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('time_of_day', sa.String(length=5), nullable=False),
    sa.Column('timezone', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Integer(), nullable=False),
    sa.Column('paused_reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel')
    )
    op.create_table('reminder_occurrences',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('isa_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=320), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_reminder_occurrence_key')
    )
    op.create_index('ix_reminder_occurrences_status_due', 'reminder_occurrences', ['status', 'due_at'], unique=False)
    op.create_table('local_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=300), nullable=False),
    sa.Column('reply', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_local_outbox_conversation_id'), 'local_outbox', ['conversation_id'], unique=False)


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)

"""ISA register and reminders: snoozed reviews.

Revision ID: 0007_isa
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_isa"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen: these are the tables as this revision created them, not the live definitions in
# bot/storage/tables.py (a later change to a table is a new revision).
_TABLES = ["isa_snoozes"]


def upgrade() -> None:
    op.create_table('isa_snoozes',
    sa.Column('isa_id', sa.Integer(), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=False),
    sa.Column('snoozed_until', sa.Date(), nullable=False),
    sa.Column('snoozed_by', sa.String(length=200), nullable=False),
    sa.Column('snoozed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('isa_id')
    )


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)

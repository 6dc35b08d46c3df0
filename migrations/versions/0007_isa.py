"""ISA register and reminders: snoozed reviews.

Revision ID: 0007_isa
Revises: 0001
"""

from alembic import op

from bot.storage import tables

revision = "0007_isa"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ["isa_snoozes"]


def upgrade() -> None:
    tables.create_tables(op.get_bind(), _TABLES)


def downgrade() -> None:
    tables.drop_tables(op.get_bind(), _TABLES)

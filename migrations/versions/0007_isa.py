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
    bind = op.get_bind()
    for name in _TABLES:
        tables.metadata.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(_TABLES):
        tables.metadata.tables[name].drop(bind, checkfirst=True)

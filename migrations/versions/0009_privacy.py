"""Privacy guard: words users confirmed are not a person, for the content owner's veto list.

Revision ID: 0009_privacy
Revises: 0008_identity
"""

from alembic import op

from bot.storage import tables

revision = "0009_privacy"
down_revision = "0008_identity"
branch_labels = None
depends_on = None

_TABLES = ["privacy_confirmations"]


def upgrade() -> None:
    tables.create_tables(op.get_bind(), _TABLES)


def downgrade() -> None:
    tables.drop_tables(op.get_bind(), _TABLES)

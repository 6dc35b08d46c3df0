"""Teams: routes from a user's personal chat back to the channel conversation whose dialog they continue.

Revision ID: 0004_teams
Revises: 0001
"""

from alembic import op

from bot.storage import tables

revision = "0004_teams"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ["teams_dialog_routes"]


def upgrade() -> None:
    tables.create_tables(op.get_bind(), _TABLES)


def downgrade() -> None:
    tables.drop_tables(op.get_bind(), _TABLES)

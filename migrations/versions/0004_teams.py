"""Teams: routes from a user's personal chat back to the channel conversation whose dialog they continue.

Revision ID: 0004_teams
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_teams"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen: these are the tables as this revision created them, not the live definitions in
# bot/storage/tables.py (a later change to a table is a new revision).
_TABLES = ["teams_dialog_routes"]


def upgrade() -> None:
    op.create_table('teams_dialog_routes',
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('personal_conversation_id', sa.String(length=300), nullable=False),
    sa.Column('dialog_conversation_id', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_index(op.f('ix_teams_dialog_routes_updated_at'), 'teams_dialog_routes', ['updated_at'], unique=False)


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)

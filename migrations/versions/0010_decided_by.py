"""Decided by a person: the name (and role) a local user types once for "Decided by" on their records.

Revision ID: 0010_decided_by
Revises: 0009_privacy
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_decided_by"
down_revision = "0009_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")

"""Privacy guard: words users confirmed are not a person, for the content owner's veto list.

Revision ID: 0009_privacy
Revises: 0008_identity
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_privacy"
down_revision = "0008_identity"
branch_labels = None
depends_on = None

_TABLES = ["privacy_confirmations"]


def upgrade() -> None:
    op.create_table("privacy_confirmations",
                    sa.Column("word", sa.String(length=200), nullable=False),
                    sa.Column("times", sa.Integer(), nullable=False),
                    sa.Column("first_confirmed", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("last_confirmed", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("word"))


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)

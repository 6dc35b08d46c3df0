"""Slack across workspaces: OAuth installations (bot tokens encrypted at rest) and OAuth states.

Revision ID: 0011_slack_oauth
Revises: 0010_decided_by
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_slack_oauth"
down_revision = "0010_decided_by"
branch_labels = None
depends_on = None

_TABLES = ["slack_installations", "slack_oauth_states"]


def upgrade() -> None:
    op.create_table("slack_installations",
                    sa.Column("enterprise_id", sa.String(length=32), nullable=False),
                    sa.Column("team_id", sa.String(length=32), nullable=False),
                    sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
                    sa.Column("app_id", sa.String(length=32), nullable=True),
                    sa.Column("bot_id", sa.String(length=32), nullable=False),
                    sa.Column("bot_user_id", sa.String(length=32), nullable=False),
                    sa.Column("bot_scopes", sa.Text(), nullable=False),
                    sa.Column("bot_token", sa.Text(), nullable=False),
                    sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("enterprise_id", "team_id"))
    op.create_table("slack_oauth_states",
                    sa.Column("state", sa.String(length=64), nullable=False),
                    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("state"))
    op.create_index("ix_slack_oauth_states_expires_at", "slack_oauth_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_oauth_states_expires_at", table_name="slack_oauth_states")
    for name in reversed(_TABLES):
        op.drop_table(name)

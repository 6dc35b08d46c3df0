"""One identity key: rewrite the register's Slack ids ``slack:U1`` to the canonical ``slack:T1:U1``.

Before this revision the ISA register, its audit log, snoozes and reminder subscriptions stored Slack
users and channels without their workspace (``slack:U1``, ``slack:C1``), while every other table
stored ``slack:T1:U1``; subject access and erasure missed those rows.

Where the team comes from: the tables that always stored the canonical form (users, transcripts,
dialog state, decision records, and the channels the bot has posted in, ``conversation_refs``). An
id seen there under exactly one team gets that team. An id never seen there gets the install's
team when the database knows exactly one Slack team (a single-workspace install, the usual case).

When the team cannot be recovered (the id was never seen and several teams are known, or none):
the value is left as it was and counted in a warning. Such a row keeps its history but grants
nothing (an owner or admin check compares canonical keys), a subject access request lists it
under ``legacy_matches`` for review, and an admin re-assigns the agreement with
``isa edit <id> owner=slack:<team>:<user>``. The downgrade is a no-op: the canonical form is
what the code before this revision wrote into the other tables anyway.

Revision ID: 0008_identity
Revises: 0004_teams, 0007_isa
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0008_identity"
down_revision = ("0004_teams", "0007_isa")
branch_labels = None
depends_on = None

log = logging.getLogger("migrations.identity")

_CANONICAL = re.compile(r"slack:([TE][A-Z0-9]+):([A-Z0-9]+)")
_LEGACY = re.compile(r"slack:([A-Z0-9]+)")

# Frozen shapes of the columns this revision reads and writes (not the live table definitions).
_SOURCES = {  # tables that always held canonical keys: table -> key columns
    "users": ("user_id",),
    "transcripts": ("user_id", "conversation_id"),
    "conversation_state": ("user_id", "conversation_id"),
    "decision_records": ("user_id",),
    "conversation_refs": ("conversation_id",),
}
_REWRITES = {  # legacy key columns: table -> (primary key, columns)
    "isas": ("id", ("owner",)),
    "audit_log": ("id", ("actor", "subject")),
    "isa_snoozes": ("isa_id", ("snoozed_by",)),
    "reminder_subscriptions": ("id", ("channel", "created_by")),
    "reminder_occurrences": ("id", ("channel",)),
}


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns))


def upgrade() -> None:
    bind = op.get_bind()
    teams_of: dict[str, set[str]] = defaultdict(set)
    for name, columns in _SOURCES.items():
        for row in bind.execute(sa.select(*_table(name, *columns).c)):
            for value in row:
                if isinstance(value, str) and (match := _CANONICAL.fullmatch(value)):
                    teams_of[match.group(2)].add(match.group(1))
    every_team = set().union(*teams_of.values()) if teams_of else set()
    unresolved: dict[str, int] = defaultdict(int)

    def canonical(value: object, where: str) -> object:
        if not isinstance(value, str) or not (match := _LEGACY.fullmatch(value)):
            return value
        teams = teams_of.get(match.group(1)) or every_team
        if len(teams) != 1:
            unresolved[where] += 1
            return value
        return f"slack:{next(iter(teams))}:{match.group(1)}"

    for name, (key, columns) in _REWRITES.items():
        table = _table(name, key, *columns, *(("key",) if name == "reminder_occurrences" else ()))
        for row in bind.execute(sa.select(*table.c)).mappings().all():
            changed = {c: new for c in columns if (new := canonical(row[c], f"{name}.{c}")) != row[c]}
            if name == "reminder_occurrences" and "channel" in changed and row["key"].endswith(f":{row['channel']}"):
                changed["key"] = row["key"][: -len(row["channel"])] + changed["channel"]  # the key ends in the address
            if changed:
                bind.execute(sa.update(table).where(table.c[key] == row[key]).values(**changed))
    isas = sa.table("isas", sa.column("id"), sa.column("channels", sa.JSON))
    for row in bind.execute(sa.select(isas.c.id, isas.c.channels)).all():
        channels = [canonical(c, "isas.channels") for c in (row.channels or [])]
        if channels != list(row.channels or []):
            bind.execute(sa.update(isas).where(isas.c.id == row.id).values(channels=channels))
    if unresolved:
        log.warning("Slack ids left without a workspace (team unknown); see migrations/versions/0008_identity.py",
                    extra={"columns": dict(unresolved)})


def downgrade() -> None:
    """Nothing to undo: canonical keys are what the older code stored everywhere else."""

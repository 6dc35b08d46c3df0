"""Alembic environment: migrations run on a connection handed over by bot.storage.db.migrate."""

from alembic import context

from bot.storage.tables import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `python -m bot db upgrade` or the server start-up")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

"""What the Teams adapter keeps in the database (conversation references, dialog routes), on SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.teams_harness import CHANNEL_ID

THREAD = f"{CHANNEL_ID};messageid=1700000000000"



async def test_dialog_routes_expire_and_belong_to_one_personal_chat(db_url):
    from datetime import timedelta

    from adapters.teams.routes import DialogRoutes
    from bot.storage.db import create_engine, migrate, utcnow

    engine = create_engine(db_url)
    await migrate(engine)
    routes = DialogRoutes(engine, timedelta(minutes=120))
    await routes.set("teams:aad-1", "a:personal-1", THREAD)
    assert await routes.lookup("teams:aad-1", "a:personal-1") == THREAD
    assert await routes.lookup("teams:aad-1", "a:other-chat") is None
    assert await routes.lookup("teams:aad-2", "a:personal-1") is None
    assert await routes.lookup("teams:aad-1", "a:personal-1", now=utcnow() + timedelta(minutes=121)) is None
    await routes.set("teams:aad-1", "a:personal-1", "19:other@thread.tacv2")
    assert await routes.lookup("teams:aad-1", "a:personal-1") == "19:other@thread.tacv2"
    await routes.clear("teams:aad-1")
    assert await routes.lookup("teams:aad-1", "a:personal-1") is None
    await engine.dispose()


async def test_reference_store_on_both_databases(db_url):
    from adapters.teams.references import ReferenceStore
    from bot.storage.db import create_engine, migrate

    engine = create_engine(db_url)
    await migrate(engine)
    store = ReferenceStore(engine)
    personal = {"conversation": {"id": "a:p1", "conversationType": "personal"},
                "user": {"id": "29:u1", "aadObjectId": "aad-u1"}, "serviceUrl": "https://smba.example/"}
    channel = {"conversation": {"id": CHANNEL_ID, "conversationType": "channel"}, "serviceUrl": "https://smba.example/"}
    await store.save("a:p1", personal)
    await store.save(CHANNEL_ID, channel, team_id="team-1")
    await store.save("19:second@thread.tacv2", channel, team_id="team-1")
    await store.save("a:p1", personal)  # saving again refreshes, never duplicates
    assert await store.get(CHANNEL_ID) == channel
    assert await store.personal_for_user("aad-u1") == personal
    assert await store.personal_for_user("29:u1") == personal
    assert len(await store.all()) == 3
    assert await store.remove(CHANNEL_ID, team_id="team-1") == 2  # uninstalling from a team forgets all of it
    assert [r["conversation"]["id"] for r in await store.all()] == ["a:p1"]
    await engine.dispose()

"""A reply's JSON form (what the web chat and the outbox send) holds every field of the reply."""

from __future__ import annotations

from dataclasses import asdict

from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source


def test_to_dict_holds_every_field_as_asdict_would() -> None:
    summary = {"decision": "share", "reasons": ["risk of harm"], "nested": {"who": ["DSL"]}}
    reply = Reply("Record this?", kind=ReplyKind.SUMMARY, title="Decision", choices=[Choice("Record", "record")],
                  actions=[Choice("Back", "back")], fields=[CardField("Decision", "share")],
                  sources=[Source("Guide", "p.1")], links=[Link("Guide", "https://example.org/guide")],
                  summary=summary, private=True)
    expected = asdict(reply) | {"kind": "summary"}
    assert reply.to_dict() == expected
    assert list(reply.to_dict()) == list(expected)


def test_to_dict_copies_the_summary() -> None:
    reply = Reply("Summary", kind=ReplyKind.SUMMARY, summary={"reasons": ["risk"]})
    reply.to_dict()["summary"]["reasons"].append("changed")
    assert reply.summary == {"reasons": ["risk"]}

"""The register of Information Sharing Agreements: model, storage, import/export, chat commands.

:func:`install_isa` is what the composition root calls: it registers the ``isa`` command, the
register's question hook, and the ``isa add``/``isa edit`` form (dialogs/isa_form.py) with the
completion that saves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import Assistant


def install_isa(assistant: Assistant) -> None:
    from bot.context import TurnContext
    from bot.isa.answers import answer_from_register
    from bot.isa.commands import ISACommand, invalid_reply, save_from_form
    from bot.isa.model import ISAValidationError
    from bot.messages import Reply
    from bot.storage.register import ISANotFound
    from dialogs.isa_form import ISADialog, ISAForm

    strings = assistant.strings
    form = ISADialog(strings, assistant.addresses)

    async def save_form(saved: ISAForm, ctx: TurnContext) -> list[Reply]:
        try:
            return await save_from_form(ctx, saved.isa_id, saved.values)
        except ISAValidationError as exc:
            return [invalid_reply(strings, exc)]
        except ISANotFound:
            return [Reply(strings.get("isa.not_found", id=saved.isa_id))]

    assistant.dialogs.register(form, save_form)
    assistant.register_command("isa", ISACommand(form.name), "isa.command_help")
    assistant.question_hooks.append(answer_from_register)

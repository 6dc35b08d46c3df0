"""The register of Information Sharing Agreements: model, storage, import/export, chat commands.

:func:`install_isa` is what the composition root calls: it registers the ``isa`` command, the
register's question hook, and (when a dialog runner is available) the ``isa add``/``isa edit`` dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import Assistant


def install_isa(assistant: Assistant) -> None:
    from bot.isa.answers import answer_from_register
    from bot.isa.commands import ISACommand
    from bot.isa.dialog import install_dialog

    command = ISACommand()
    assistant.register_command("isa", command, "isa.command_help")
    assistant.question_hooks.append(answer_from_register)
    install_dialog(assistant, command)

"""``python -m bot ...``: the command-line entry point (see ``python -m bot --help``)."""

import sys

if __name__ == "__main__":
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:  # are the requirements installed? (without importing it)
        from scripts.bootstrap import ensure_venv

        ensure_venv(["requirements.txt"], ["-m", "bot", *sys.argv[1:]])

    from cli import main

    sys.exit(main(sys.argv[1:]))

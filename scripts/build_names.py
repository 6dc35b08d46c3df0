#!/usr/bin/env python3
"""Build bot/data/names.tsv.gz, the privacy guard's list of first names and surnames (run offline, rarely).

    pip download --no-deps names-dataset==3.3.1 && unzip names_dataset-3.3.1-py3-none-any.whl
    apt-get install wbritish-large
    python scripts/build_names.py names_dataset/v3 /usr/share/dict/british-english-large

Sources (both recorded in bot/data/NAMES-LICENCE.md):
- names-dataset 3.3.1 (MIT): ranks of first and last names per country. We keep every name ranked in Great
  Britain and the most common names of the countries the UK's residents most often come from, so the
  list covers the UK's population rather than one origin.
- SCOWL's British English word list (Debian wbritish-large, permissive licence): a name whose lower-case
  form is an everyday English word ("Will", "Grace", "Price") is marked ``w`` so the guard needs a cue
  before calling it a name. Only the flag is shipped, never the word list.

Output lines: ``name<TAB>roles`` where roles holds ``f`` (first name), ``s`` (surname), ``w`` (also a word).
"""

from __future__ import annotations

import gzip
import pickle
import re
import sys
from pathlib import Path

# Countries of birth and heritage most common among UK residents (ONS), plus English-speaking neighbours.
OTHER_COUNTRIES = ("IE", "IN", "PK", "BD", "NG", "GH", "PL", "RO", "LT", "LV", "BG", "IT", "PT", "ES", "FR",
                   "DE", "TR", "CN", "HK", "MY", "SG", "ZA", "ZW", "KE", "JM", "IQ", "IR", "AF", "SY", "EG",
                   "SA", "AE", "US", "CA", "AU", "PH", "NP", "LK", "SO", "SD", "ER", "ET", "UA", "AL", "HU",
                   "CZ", "SK", "BR", "MA", "DZ", "YE")
GB_LIMIT = 20000  # every name ranked in Great Britain (ranks stop below this)
OTHER_LIMIT = 2500  # the most common names of each other country
NAME = re.compile(r"^[^\W\d_]{2,}(?:['’-][^\W\d_]{2,})*$")


def wanted(ranks: dict[str, int]) -> bool:
    if ranks.get("GB", GB_LIMIT + 1) <= GB_LIMIT:
        return True
    return any(ranks.get(country, OTHER_LIMIT + 1) <= OTHER_LIMIT for country in OTHER_COUNTRIES)


def load(path: Path) -> set[str]:
    with gzip.open(path) as handle:
        data = pickle.load(handle)
    return {name.lower() for name, info in data.items() if info["rank"] and NAME.match(name) and wanted(info["rank"])}


def main(dataset: Path, words_file: Path, out: Path) -> None:
    first, last = load(dataset / "first_names.pkl.gz"), load(dataset / "last_names.pkl.gz")
    words = {w for w in words_file.read_text(encoding="utf-8").split() if w.islower()}
    lines = []
    for name in sorted(first | last):
        roles = ("f" if name in first else "") + ("s" if name in last else "") + ("w" if name in words else "")
        lines.append(f"{name}\t{roles}")
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"{len(first)} first names, {len(last)} surnames, {len(lines)} entries -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(__file__).resolve().parent.parent / "bot" / "data" / "names.tsv.gz")

#!/usr/bin/env python3
"""Move the core's flat files into folders by what they are, SQLite beside Postgres, and fix every reference.

Run from anywhere inside the checkout: ``python scripts/relayout.py`` (``--dry-run`` only says what it would do).
It ``git mv``s the files in `BOT_GROUPS` and `SQLITE_FILES`, then rewrites, in every file of the checkout
(tracked or not, moved or not): imports (``from bot.x import``, ``import bot.x``, ``from bot import x``,
relative ones), dotted names and paths in strings and comments (monkeypatch targets, logger names,
``bot/x.py``), pyproject's entry points and package data, and the docs. Running it twice changes nothing.
A file left flat in bot/ (or storage/) that the mapping does not name is reported, not moved: add it to
the mapping and run again. Afterwards, reinstall (``make .venv/.installed``): the entry points moved.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

# -- the mapping ---------------------------------------------------------------------------------------------
# Each group is a folder of bot/ and what it holds; each entry is "old name" or "old name=new name". Names
# that do not exist are skipped: some are files other branches add (planning, lookups, why, feeds...).
BOT_GROUPS: dict[str, tuple[str, list[str]]] = {
    "model": ("What Paperboy talks about: papers and their ids, channel refs and commands, replies, actions, rows.",
              ["paper", "ids", "rows", "actions", "replies", "channels", "usage", "wording"]),
    "ports": ("The contracts the core keeps with the outside: a chat platform's adapter and plugin, and storage.",
              ["delivery=adapter", "platforms", "store", "store_errors"]),
    "sources": ("Where papers come from: Hugging Face (its lists and API) and arXiv (its API and category feeds).",
                ["arxiv_feeds", "lists", "lookups"]),
    "topics": ("Topic queries: parsing, filters, and the index that matches papers to channels' topics.",
               ["active_topics=active"]),
    "commands": ("What people ask: the command table, the engine that answers, and one module per command family.",
                 ["engine", "commands=registry", "channel_commands=channel", "help", "paging", "answers",
                  "leaderboard", "reading_list", "bibtex", "similar", "recommend", "picks", "signals", "periods",
                  "preview", "lookup_commands=lookup", "history", "why", "feeds"]),
    "delivery": ("What channels get and when: the poller, the outbox worker, batching, pacing, digest schedules.",
                 ["poller", "planning", "worker", "recovery", "batching", "pacing", "schedule", "timezones",
                  "dry_run", "atom", "feed_server"]),
    "ranking": ("What a channel likes: its interest model learnt from 👍, saves and 👎, and papers ranked by it.",
                ["interest", "channel_interest"]),
    "runtime": ("Running Paperboy: wiring, the command line, settings, logs, health, metrics and doctor.",
                ["app", "cli", "cli_helpers", "settings", "setting_errors", "health", "metrics", "doctor",
                 "logsetup", "logformat", "redaction", "runner", "unattended", "db_copy", "collector"]),
}
BOT_STAYS = {"__init__", "__main__"}
"""Flat files of bot/ that stay where they are (``python -m bot``)."""

SQLITE_FILES = ["__init__", "bulk_enqueue", "channels", "community", "connection", "db", "deliveries",
                "installations", "legacy_slack", "outbox", "papers", "portable", "process_lock", "signals", "store",
                "versions", "history", "feeds", "migrations"]
"""What of storage/ is SQLite's (``migrations`` is its folder of .sql files); it moves to storage/sqlite/."""
STORAGE_SHARED = {"schema", "postgres", "sqlite"}
"""What stays in storage/, shared by both backends (or a backend's own package)."""
STORAGE_INIT = '"""Paperboy\'s storage backends, each behind the core\'s `bot.ports.store` Protocols: SQLite ' \
    '(`storage.sqlite`, the default) and Postgres (`storage.postgres`); `schema` is what both share."""\n'

TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".sh", ".json"}
TEXT_NAMES = {"Makefile", "Dockerfile", "Containerfile"}
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}
SELF = Path(__file__).resolve()


def build_moves() -> tuple[dict[str, str], dict[str, set[str]]]:
    """Old dotted name → new dotted name; and for an old module that becomes a package, its new submodules."""
    moves: dict[str, str] = {}
    for group, (_, entries) in BOT_GROUPS.items():
        for entry in entries:
            old, _, new = entry.partition("=")
            moves[f"bot.{old}"] = f"bot.{group}.{new or old}"
    for name in SQLITE_FILES:
        if name != "__init__":
            moves[f"storage.{name}"] = f"storage.sqlite.{name}"
    reborn = {old: {e.partition("=")[2] or e.partition("=")[0] for e in BOT_GROUPS[old.split(".")[1]][1]}
              for old in moves if old.split(".")[1] in BOT_GROUPS}
    return moves, reborn


MOVES, REBORN = build_moves()
"""`REBORN`: ``bot.delivery`` and ``bot.commands`` were modules and are now packages. ``bot.delivery.worker`` is the
new package's module (left alone); ``bot.delivery.DeliveryResult`` or ``from bot.delivery import X`` is the old one."""


def storage_exports(root: Path) -> set[str]:
    """The names SQLite's package exports (its old storage/__init__.py): ``from storage import Store`` moves."""
    for init in (root / "storage/sqlite/__init__.py", root / "storage/__init__.py"):
        if init.exists():
            names = _top_level_names(init.read_text(encoding="utf-8"))
            if "open_store" in names:
                return names
    return set()


def _top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def map_module(name: str, exports: set[str] = frozenset()) -> str:
    """Return where the dotted *name* (a module, or a module's attribute) lives after the move."""
    parts = name.split(".")
    if parts[0] == "storage" and len(parts) > 1 and parts[1] in exports and f"storage.{parts[1]}" not in MOVES:
        return ".".join(["storage", "sqlite", *parts[1:]])
    for cut in range(len(parts), 1, -1):
        old = ".".join(parts[:cut])
        if old in MOVES:
            rest = parts[cut:]
            if old in REBORN and rest and rest[0] in REBORN[old]:
                return name  # already the new package's module
            return ".".join([MOVES[old], *rest])
    return name


# -- moving --------------------------------------------------------------------------------------------------

def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def move(root: Path, old: Path, new: Path, dry: bool, done: list[str]) -> None:
    if not old.exists():
        return
    if new.exists():
        done.append(f"CONFLICT: both {old.relative_to(root)} and {new.relative_to(root)} exist; left as they are")
        return
    done.append(f"moved {old.relative_to(root)} -> {new.relative_to(root)}")
    if dry:
        return
    new.parent.mkdir(parents=True, exist_ok=True)
    tracked = bool(git(root, "ls-files", "--", str(old.relative_to(root))).strip())
    if tracked:
        git(root, "mv", str(old.relative_to(root)), str(new.relative_to(root)))
    else:
        old.rename(new)


def write_new(root: Path, path: Path, text: str, dry: bool, done: list[str]) -> None:
    if path.exists():
        return
    done.append(f"created {path.relative_to(root)}")
    if not dry:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        git(root, "add", str(path.relative_to(root)))


def move_files(root: Path, dry: bool) -> list[str]:
    done: list[str] = []
    for group, (doc, entries) in BOT_GROUPS.items():
        package = root / "bot" / group
        for entry in entries:
            old, _, new = entry.partition("=")
            source, target = _source(root / "bot" / old), package / (new or old)
            if source.suffix == ".py":
                target = target.with_suffix(".py")
            if source.suffix == ".py" or old not in BOT_GROUPS:  # bot/delivery/ is the new folder, not the old file
                move(root, source, target, dry, done)
        write_new(root, package / "__init__.py", f'"""{doc}"""\n', dry, done)
    sqlite = root / "storage" / "sqlite"
    for name in SQLITE_FILES:
        source = _source(root / "storage" / name)
        if name != "__init__" or "open_store" in _top_level_names(source.read_text(encoding="utf-8")):
            move(root, source, sqlite / source.name, dry, done)  # (the new storage/__init__.py is not SQLite's)
    write_new(root, root / "storage" / "__init__.py", STORAGE_INIT, dry, done)
    return done


def _source(path: Path) -> Path:
    """A mapped name's file (``x.py``) or, when there is none, its folder (a package, or migrations)."""
    return path.with_suffix(".py") if path.with_suffix(".py").exists() or not path.is_dir() else path


def leftovers(root: Path) -> list[str]:
    """Flat files of bot/ and storage/ that the mapping does not name: reported, never moved."""
    named = {e.partition("=")[0] for _, entries in BOT_GROUPS.values() for e in entries} | BOT_STAYS
    found = [p for p in sorted((root / "bot").glob("*.py")) if p.stem not in named]
    found += [p for p in sorted((root / "storage").glob("*.py"))
              if p.stem not in STORAGE_SHARED | {"__init__"} | set(SQLITE_FILES)]
    return [f"LEFT FLAT (not in the mapping of scripts/relayout.py): {p.relative_to(root)}" for p in found]


# -- rewriting -----------------------------------------------------------------------------------------------

DOTTED = re.compile(r"(?<![\w.])((?:bot|storage)(?:\.\w+)+)")
PATH = re.compile(r"(?<![\w/.-])((?:bot|storage)(?:/\w+)+)(\.py)?")
ENTRY_POINT = re.compile(r"""(["'])storage:open_store\1""")
PACKAGE_DATA = re.compile(r"""^(storage\s*=\s*\[\s*)(["'])migrations/""", re.M)


def rewrite_text(text: str, exports: set[str]) -> str:
    """Rewrite dotted names and paths in prose, strings and comments."""
    text = DOTTED.sub(lambda m: map_module(m.group(1), exports), text)
    text = PATH.sub(_map_path, text)
    text = ENTRY_POINT.sub(r"\1storage.sqlite:open_store\1", text)
    return PACKAGE_DATA.sub(r"\1\2sqlite/migrations/", text)


def _map_path(match: re.Match[str]) -> str:
    path, suffix = match.group(1), match.group(2) or ""
    if path == "storage/migrations" or path.startswith("storage/migrations/"):
        return "storage/sqlite/" + path.removeprefix("storage/") + suffix
    dotted = path.replace("/", ".")
    if not suffix and dotted in REBORN:
        return path  # bot/delivery (no .py): the new folder; the old module is always bot/delivery.py
    return map_module(dotted).replace(".", "/") + suffix


def rewrite_python(text: str, path: Path, root: Path, exports: set[str]) -> tuple[str, list[str]]:
    """Rewrite a Python file: strings and comments as text, import statements by what they import."""
    notes: list[str] = []
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        notes.append(f"WARNING {path.relative_to(root)}: not Python 3.11 ({error.msg}); rewritten as plain text")
        return rewrite_text(text, exports), notes
    bound = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    text = _rewrite_tokens(text, exports, code_roots=bound & {"bot", "storage"})
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    package = _package_of(path, root)
    imports = (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in sorted(imports, key=lambda n: -n.lineno):
        if isinstance(node, ast.Import):
            replacement = _rewrite_import(node, lines, exports)
        else:
            replacement = _rewrite_import_from(node, lines, package, exports)
        if replacement is not None:
            comment = re.search(r"\s+#.*", "".join(lines[node.lineno - 1:node.end_lineno]))
            if comment and "#" not in replacement:  # a statement written anew: each line keeps its `# noqa`
                replacement = "".join(line + comment.group(0) + "\n" for line in replacement.splitlines())
            lines[node.lineno - 1:node.end_lineno] = [replacement]
    return "".join(lines), notes


def _rewrite_tokens(text: str, exports: set[str], *, code_roots: set[str]) -> str:
    """Apply `rewrite_text` to every string and comment; to code too where ``import bot.x`` binds ``bot``."""
    edits: list[tuple[int, int, str]] = []
    offsets = _line_offsets(text)
    previous, in_import = "", False
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        start = offsets[token.start[0] - 1] + token.start[1]
        end = offsets[token.end[0] - 1] + token.end[1]
        if token.type == tokenize.NAME and token.string in ("import", "from") and previous in ("", ";", ":"):
            in_import = True  # import statements are rewritten whole, by `_rewrite_import` and `_rewrite_import_from`
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            new = rewrite_text(token.string, exports)
        elif token.type == tokenize.NAME and token.string in code_roots and previous != "." and not in_import:
            chunk = re.match(r"\w+(?:\.\w+)*", text[start:]).group(0)
            new, end = map_module(chunk, exports), start + len(chunk)
        else:
            new = None
        if token.type == tokenize.NEWLINE:
            previous, in_import = "", False
        elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            previous = token.string
        if new is not None and new != text[start:end]:
            edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _line_offsets(text: str) -> list[int]:
    offsets, total = [0], 0
    for line in text.splitlines(keepends=True):
        total += len(line)
        offsets.append(total)
    return offsets


def _package_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def _rewrite_import(node: ast.Import, lines: list[str], exports: set[str]) -> str | None:
    """``import bot.app`` → ``import bot.runtime.app`` (its uses, ``bot.app.x``, are code: `_rewrite_tokens`)."""
    names = [(map_module(a.name, exports), a.asname) for a in node.names]
    if all(new == a.name for (new, _), a in zip(names, node.names)):
        return None
    first = lines[node.lineno - 1]
    indent = first[: len(first) - len(first.lstrip())]
    return indent + "import " + ", ".join(f"{n} as {a}" if a else n for n, a in names) + "\n"


def _rewrite_import_from(node: ast.ImportFrom, lines: list[str], package: str, exports: set[str]) -> str | None:
    """The new text of one ``from … import …`` statement, or None when it stays as it is."""
    first = lines[node.lineno - 1]
    indent = first[: len(first) - len(first.lstrip())]
    module = node.module or ""
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        module = ".".join([*base, module] if module else base)
    if module in ("bot", "storage"):
        return _split_names(node, module, indent, exports)
    new = map_module(module, exports)
    if module in REBORN and all(a.name in REBORN[module] for a in node.names):
        new = module  # the new package's modules
    if new == module and not node.level:
        return None
    if node.level and new == module:
        return None  # a relative import of something that does not move
    statement = "".join(lines[node.lineno - 1:node.end_lineno])
    head = re.compile(r"from\s+" + (r"\.+" + re.escape(node.module or "") if node.level else re.escape(module)))
    return head.sub(f"from {new}", statement, count=1)


def _split_names(node: ast.ImportFrom, module: str, indent: str, exports: set[str]) -> str | None:
    """``from bot import app, redaction`` → one statement per new package, each name keeping its local name."""
    groups: dict[str, list[str]] = {}
    for alias in node.names:
        local = alias.asname or alias.name
        if module == "storage" and (alias.name in STORAGE_SHARED or alias.name == "*"):
            target = f"storage.{alias.name}"
        elif module == "storage":
            target = f"storage.sqlite.{alias.name}"
        else:
            target = map_module(f"bot.{alias.name}", exports)
        parent, _, leaf = target.rpartition(".")
        groups.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
    if list(groups) == [module]:
        return None
    return "".join(f"{indent}from {parent} import {', '.join(names)}\n" for parent, names in groups.items())


def text_files(root: Path) -> list[Path]:
    listed = git(root, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    found = []
    for name in dict.fromkeys(listed):
        path = root / name
        if (path.is_file() and not SKIP_DIRS & set(path.relative_to(root).parts) and path.resolve() != SELF
                and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES)):
            found.append(path)
    return found


def rewrite_all(root: Path, dry: bool) -> list[str]:
    notes: list[str] = []
    exports = storage_exports(root)
    for path in text_files(root):
        old = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            new, more = rewrite_python(old, path, root, exports)
            notes += more
        else:
            new = rewrite_text(old, exports)
        if new != old:
            changed = sum(a != b for a, b in zip(old.splitlines(), new.splitlines()))
            notes.append(f"rewrote {path.relative_to(root)} ({changed} line(s))")
            if not dry:
                path.write_text(new, encoding="utf-8")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    args = parser.parse_args(argv)
    root = Path(git(Path.cwd(), "rev-parse", "--show-toplevel").strip())
    # References first, where the files still are (relative imports resolve against their old places).
    report = rewrite_all(root, args.dry_run) + move_files(root, args.dry_run)
    report += leftovers(root)
    print("\n".join(report) if report else "nothing to do: the layout is already the new one")
    if any(line.startswith("moved") for line in report):
        print("pyproject.toml's entry points moved: reinstall (make .venv/.installed) before running Paperboy")
    return 1 if any(line.startswith(("CONFLICT", "LEFT FLAT")) for line in report) else 0


if __name__ == "__main__":
    sys.exit(main())

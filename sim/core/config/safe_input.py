"""Reading user files and YAML text without tracebacks, hangs or unbounded memory.

Every file a user names (arch configs, workloads, models, sweep specs, traces, operand files)
is read through :func:`read_bytes`, which refuses what is not a regular file (a directory, a
device such as ``/dev/zero``, a FIFO), anything larger than a limit, and OS-level path errors
(names too long, a path through a regular file, symlink loops) with one line naming the path.
YAML goes through :func:`load_yaml_text`, which refuses duplicate keys (with their line), alias
expansions that would build more than :data:`MAX_YAML_NODES` nodes ("billion laughs"), nesting
deeper than :data:`MAX_YAML_DEPTH`, and values its tags cannot construct (``!!int abc``,
impossible dates).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

#: largest YAML file read (bytes): configs, workloads, models and sweep specs are kilobytes
MAX_YAML_BYTES = 4 * 2**20
#: nodes of a YAML document counted with every alias expanded
MAX_YAML_NODES = 200_000
#: mapping / sequence nesting of a YAML document
MAX_YAML_DEPTH = 64


def read_bytes(path: str | Path, limit: int, error, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; else ``error`` naming the path
    (a very long path shortened in the message)."""
    path, shown = Path(path), show_path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{shown}: file not found") from None
    except OSError as exc:  # ENAMETOOLONG, ENOTDIR (a path through a file), ELOOP, EACCES
        raise error(f"{shown}: cannot open ({_reason(exc)})") from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{shown}: cannot open (the path contains a NUL byte)") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{shown}: is a directory; expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{shown}: not a regular file (a device, FIFO or socket); expected a {what}")
    if st.st_size > limit:
        raise error(f"{shown}: {st.st_size:,} bytes, larger than any {what} this simulator "
                    f"reads (limit {limit:,} bytes)")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{shown}: cannot read ({_reason(exc)})") from None
    if len(data) > limit:  # grew while reading
        raise error(f"{shown}: larger than any {what} this simulator reads (limit {limit:,} bytes)")
    return data


def _answers(test, path) -> bool:
    """``test(Path(path))``, or False for a path the OS cannot use (too long, a NUL byte, a
    symlink loop, no permission)."""
    try:
        return test(Path(path))
    except (OSError, ValueError):
        return False


def is_file(path: str | Path) -> bool:
    """``Path.is_file`` that answers False, not an exception, for any unusable path."""
    return _answers(Path.is_file, path)


def is_dir(path: str | Path) -> bool:
    """``Path.is_dir`` that answers False for any unusable path."""
    return _answers(Path.is_dir, path)


def exists(path: str | Path) -> bool:
    """``Path.exists`` that answers False for any unusable path."""
    return _answers(Path.exists, path)


def read_text(path: str | Path, limit: int, error, what: str = "file") -> str:
    """:func:`read_bytes` decoded as UTF-8 (one-line error otherwise)."""
    data = read_bytes(path, limit, error, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{show_path(path)}: not UTF-8 text (byte {exc.start}); "
                    f"expected a {what}") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def show_path(path, limit: int = 160) -> str:
    """``path`` for a one-line message: control characters escaped, the middle of a very
    long path elided."""
    text = repr(str(path))[1:-1]
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


# ---- YAML ------------------------------------------------------------------------------------
class YamlInputError(ValueError):
    """A YAML document that is valid syntax but refused (duplicates, bombs, bad tag values);
    ``line`` is 1-based or None."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason, self.line = reason, line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise YamlInputError("a mapping key is itself a mapping or a list",
                                         key_node.start_mark.line + 1) from None
                if key in seen:
                    raise YamlInputError(
                        f"duplicate key {key!r} (first on line {seen[key]}); give each key "
                        f"once", key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _check_size(root) -> None:
    """Refuse a node graph that expands (aliases followed) past the node or depth limits."""
    sizes: dict[int, int] = {}
    stack = [(root, 0, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        if depth > MAX_YAML_DEPTH:
            raise YamlInputError(f"nested deeper than {MAX_YAML_DEPTH} levels",
                                 node.start_mark.line + 1)
        children = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[id(node)] = total
            if total > MAX_YAML_NODES:
                raise YamlInputError(
                    f"expands to more than {MAX_YAML_NODES:,} values (aliases of aliases, a "
                    f"'billion laughs'); allowed: plain configs", node.start_mark.line + 1)
            continue
        sizes[id(node)] = 0  # visiting: its ancestors are the nodes still at 0
        if any(sizes.get(id(c)) == 0 for c in children):
            raise YamlInputError("an anchor contains an alias of itself (a recursive value)",
                                 node.start_mark.line + 1)
        stack.append((node, depth, True))
        stack += [(c, depth + 1, False) for c in children if id(c) not in sizes]


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document strictly; raises :class:`yaml.YAMLError` for syntax and
    :class:`YamlInputError` for the refusals in this module's docstring."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        try:
            return loader.construct_document(node)
        except (ValueError, TypeError, OverflowError, KeyError, IndexError,
                AttributeError) as exc:  # a constructor that cannot make its tag's value
            if isinstance(exc, YamlInputError):
                raise
            detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise YamlInputError(f"a value cannot be read as its tag or type says ({detail})")
    finally:
        loader.dispose()


def yaml_error_message(exc: Exception) -> str:
    """``" line N: reason"`` (or ``" reason"``) for a YAML syntax error or a refusal."""
    if isinstance(exc, YamlInputError):
        line = f" line {exc.line}:" if exc.line else ""
        return f"{line} invalid YAML: {exc.reason}"
    if isinstance(exc, RecursionError):
        return f" invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"
    mark = getattr(exc, "problem_mark", None)
    line = f" line {mark.line + 1}:" if mark is not None else ""
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{line} invalid YAML: {reason}"


#: what :func:`load_yaml_text` may raise for a bad document
YAML_ERRORS = (yaml.YAMLError, YamlInputError, RecursionError)

"""Selection syntax shared by the CLI, jobs and the API.

key                 one asset, by key (``a/b``) or, when unique, by name (``b``)
sales/*             glob over keys
+key / key+         with all upstream / all downstream assets
2+key / key+1       the same, limited to that many hops
group:g tag:k=v owner:o kind:k
a, b / a or b       union;   ``a b`` or ``a and b``: intersection (binds tighter)
*                   everything
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from assay.definitions.asset_key import AssetKey
from assay.errors import InvalidSelection
from assay.graph import AssetGraph

_UP = re.compile(r"^(\d*)\+(.+)$")
_DOWN = re.compile(r"^(.+?)\+(\d*)$")
_ATTRS = ("group", "tag", "owner", "kind", "key")

Selection = str | Iterable[str | AssetKey] | None


def select_keys(graph: AssetGraph, selection: Selection, *, where: str = "") -> set[AssetKey]:
    """Resolve a selection to asset keys; unknown names raise `InvalidSelection` with hints."""
    if selection is None:
        return {k for k, n in graph.nodes.items() if n.is_executable}
    if isinstance(selection, str):
        text = selection
    else:
        parts = []
        for item in selection:
            if isinstance(item, AssetKey):
                parts.append(item.to_user_string())
            else:
                key = getattr(item, "keys", None)  # an AssetsDefinition
                if key is not None:
                    parts.extend(k.to_user_string() for k in key)
                else:
                    parts.append(str(item))
        text = ", ".join(parts)
    suffix = f" (in {where})" if where else ""
    result: set[AssetKey] = set()
    for terms in _parse(text, suffix):
        matched: set[AssetKey] | None = None
        for term in terms:
            keys = _select_term(graph, term, suffix)
            matched = keys if matched is None else matched & keys
        if not matched:
            listed = " and ".join(f"'{t.text}'" for t in terms)
            raise InvalidSelection(f"no asset matches {listed} at once{suffix}")
        result |= matched
    return result


def check_syntax(selection: str) -> None:
    """Raise `InvalidSelection` unless ``selection`` is well-formed, without resolving any
    name: for selections stored before the assets they name are loaded (alert policies)."""
    _parse(selection, "")


def selection_clauses(selection: str) -> list[str]:
    """The clauses of a selection's union (split on `,` and `or`), each a selection of its
    own: resolving them one by one lets a clause naming an unknown asset fail alone."""
    return [" ".join(terms) for terms in _clauses(selection) if terms]


def _clauses(text: str) -> list[list[str]]:
    """Split on `,` / `or` into clauses of intersected terms (`and` or spaces between them)."""
    clauses: list[list[str]] = [[]]
    for token in text.replace(",", " , ").split():
        lowered = token.lower()
        if lowered in {",", "or"}:
            clauses.append([])
        elif lowered != "and":
            clauses[-1].append(token)
    return clauses


@dataclass(frozen=True)
class _Term:
    """One term as written, split into its base and its lineage operators (depth ``-1``:
    not asked for; ``None``: all the way)."""

    text: str
    base: str
    up_depth: int | None = -1
    down_depth: int | None = -1


def _parse(text: str, suffix: str) -> list[list[_Term]]:
    """The selection's clauses of terms; raises `InvalidSelection` for malformed syntax."""
    clauses = _clauses(text)
    if not any(clauses):
        raise InvalidSelection(f"empty selection{suffix}")
    parsed = []
    for terms in clauses:
        if not terms:
            raise InvalidSelection(f"empty term in selection {text!r}{suffix}")
        parsed.append([_parse_term(terms, i, suffix) for i in range(len(terms))])
    return parsed


# A depth with no asset attached, as in "+1 key": the hops belong next to the key.
_DANGLING_DEPTH = re.compile(r"^\d*\+\d*$")


def _dangling_depth(term: str, terms: list[str], index: int, suffix: str) -> str:
    hops = "".join(ch for ch in term if ch.isdigit())
    neighbours = terms[index + 1 : index + 2] or terms[index - 1 : index] or ["key"]
    key = neighbours[0]
    upstream = f"{hops} level{'' if hops == '1' else 's'}" if hops else "everything"
    return (
        f"'{term}' has no asset: write it next to the key, as in '{hops}+{key}' "
        f"({key} and {upstream} upstream) or '{key}+{hops}' (downstream){suffix}"
    )


def _parse_term(terms: list[str], index: int, suffix: str) -> _Term:
    text = terms[index]
    if _DANGLING_DEPTH.match(text):
        raise InvalidSelection(_dangling_depth(text, terms, index, suffix))
    base = text
    up_depth: int | None = -1
    down_depth: int | None = -1
    m = _UP.match(base)
    if m:
        up_depth = int(m.group(1)) if m.group(1) else None
        base = m.group(2)
    m = _DOWN.match(base)
    if m:
        down_depth = int(m.group(2)) if m.group(2) else None
        base = m.group(1)
    _check_base(text, base, suffix)
    return _Term(text, base, up_depth, down_depth)


def _check_base(text: str, base: str, suffix: str) -> None:
    if base == "*":
        return
    attr, sep, value = base.partition(":")
    if sep and attr not in _ATTRS:
        raise InvalidSelection(
            f"unknown selection attribute '{attr}:' in '{text}'{suffix}; "
            f"use one of {', '.join(a + ':' for a in _ATTRS)}"
        )
    if sep and not value:
        raise InvalidSelection(f"'{text}' names no {attr}{suffix}")
    if sep and attr != "key":
        return
    key = (value if sep else base).strip("/")
    if "+" in key:
        raise InvalidSelection(
            f"'{text}' is not a selection term: '+' goes once before and once after a key{suffix}"
        )
    if any(ch in key for ch in "*?["):
        return
    try:
        AssetKey.from_user_string(key)
    except Exception:
        raise InvalidSelection(f"'{key}' is not a valid asset key{suffix}") from None


def _select_term(graph: AssetGraph, term: _Term, suffix: str) -> set[AssetKey]:
    base = _select_base(graph, term.base, suffix)
    result = set(base)
    if term.up_depth != -1:
        result |= graph.upstream(base, depth=term.up_depth)
    if term.down_depth != -1:
        result |= graph.downstream(base, depth=term.down_depth)
    return result


def _select_base(graph: AssetGraph, term: str, suffix: str) -> set[AssetKey]:
    if term == "*":
        return set(graph.nodes)
    attr, sep, value = term.partition(":")
    if sep:  # a known attribute: _parse checked it
        return _select_attribute(graph, attr, value, suffix)
    return _select_key(graph, term, suffix)


def _select_key(graph: AssetGraph, text: str, suffix: str) -> set[AssetKey]:
    text = text.strip("/")
    if any(ch in text for ch in "*?["):
        matched = {k for k in graph.nodes if fnmatch.fnmatchcase(k.to_user_string(), text)}
        if not matched:
            raise InvalidSelection(f"no asset matches '{text}'{suffix}{_close(graph, text)}")
        return matched
    key = AssetKey.from_user_string(text)  # _parse checked that it is one
    if key in graph.nodes:
        return {key}
    by_name = [k for k in graph.nodes if k.name == text]
    if len(by_name) == 1:
        return set(by_name)
    if len(by_name) > 1:
        listed = ", ".join(sorted(k.to_user_string() for k in by_name))
        raise InvalidSelection(f"'{text}' is ambiguous{suffix}: it could be {listed}")
    raise InvalidSelection(f"no asset '{text}'{suffix}{_close(graph, text)}")


def _close(graph: AssetGraph, text: str) -> str:
    candidates = {k.to_user_string() for k in graph.nodes} | {k.name for k in graph.nodes}
    close = difflib.get_close_matches(text.replace("*", ""), sorted(candidates), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _select_attribute(graph: AssetGraph, attr: str, value: str, suffix: str) -> set[AssetKey]:
    if attr == "key":
        return _select_key(graph, value, suffix)
    matched: set[AssetKey] = set()
    known: set[str] = set()
    for key, node in graph.nodes.items():
        spec = node.spec
        if attr == "group":
            group = spec.group_name or "default"
            known.add(group)
            if group == value:
                matched.add(key)
        elif attr == "owner":
            known.update(spec.owners)
            if value in spec.owners:
                matched.add(key)
        elif attr == "kind":
            known.update(spec.kinds)
            if value in spec.kinds:
                matched.add(key)
        else:
            tag_key, has_value, tag_value = value.partition("=")
            known.update(f"{k}={v}" for k, v in spec.tags.items())
            if tag_key in spec.tags and (not has_value or spec.tags[tag_key] == tag_value):
                matched.add(key)
    if not matched:
        close = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise InvalidSelection(f"no asset has {attr} '{value}'{suffix}{hint}")
    return matched

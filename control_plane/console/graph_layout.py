"""Server-side layout of a (small) asset subgraph: layers by longest path, SVG coordinates.

The console never ships a whole 10,000-asset graph: it lays out only the subgraph a view
asks for (a group, a focus with N levels, a selection), capped at ``MAX_NODES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_NODES = 300
NODE_WIDTH = 190
NODE_HEIGHT = 40
COLUMN_GAP = 70
ROW_GAP = 14
MARGIN = 10


@dataclass(frozen=True)
class PlacedNode:
    key: str
    x: int
    y: int
    label: str


@dataclass(frozen=True)
class PlacedEdge:
    path: str  # an SVG path from the parent's right side to the child's left side
    parent: str
    child: str


@dataclass(frozen=True)
class Layout:
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    width: int
    height: int


def layout(keys: Iterable[str], parents: Mapping[str, Iterable[str]]) -> Layout:
    """Place ``keys`` in columns: a node sits one column right of its deepest parent."""
    shown = sorted(set(keys))
    inside = set(shown)
    depth: dict[str, int] = {}

    def depth_of(key: str, trail: frozenset[str] = frozenset()) -> int:
        if key in depth:
            return depth[key]
        ups = [p for p in parents.get(key, ()) if p in inside and p not in trail]
        depth[key] = 1 + max((depth_of(p, trail | {key}) for p in ups), default=-1)
        return depth[key]

    columns: dict[int, list[str]] = {}
    for key in shown:
        columns.setdefault(depth_of(key), []).append(key)
    place: dict[str, tuple[int, int]] = {}
    for column, members in columns.items():
        for row, key in enumerate(members):
            x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            place[key] = (x, y)
    nodes = [PlacedNode(key, *place[key], label=_label(key)) for key in shown]
    edges = []
    for child in shown:
        for parent in parents.get(child, ()):
            if parent in place:
                (px, py), (cx, cy) = place[parent], place[child]
                x1, y1 = px + NODE_WIDTH, py + NODE_HEIGHT // 2
                x2, y2 = cx, cy + NODE_HEIGHT // 2
                middle = (x1 + x2) // 2
                edges.append(
                    PlacedEdge(f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}", parent, child)
                )
    rows = max((len(m) for m in columns.values()), default=0)
    width = MARGIN * 2 + len(columns) * (NODE_WIDTH + COLUMN_GAP)
    height = MARGIN * 2 + rows * (NODE_HEIGHT + ROW_GAP)
    return Layout(nodes=nodes, edges=edges, width=width, height=height)


def _label(key: str) -> str:
    return key if len(key) <= 26 else "…" + key[-25:]

"""Catalog search: ranked matches over asset keys, descriptions, groups, owners, kinds, tags,
column names and metadata keys of a deployment's current definitions.

Each definition carries two normalized word lists written when its snapshot is stored
(``search_key``: the key's words; ``search_text``: everything else). On PostgreSQL they are
also folded into a weighted ``tsvector`` (key A, the rest B) behind a GIN index, and a query
is a prefix ``tsquery`` ranked by ``ts_rank``. Elsewhere (the embedded SQLite) every query
word must occur in either list (``LIKE``), ranked here by the same rule: key matches first.
Both read through the scoped manager, so a search never leaves its organization.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q, QuerySet

from control_plane.catalog.errors import InvalidSearch
from control_plane.catalog.models import AssetDefinition
from control_plane.tenancy.models import Deployment

MAX_QUERY_WORDS = 12
MAX_LIMIT = 200
# Metadata keys whose value lists a table's columns (``[{"name": ...}]`` or ``{"columns": ...}``).
COLUMN_KEYS = ("columns", "column_schema", "assay/column_schema", "dagster/column_schema")

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case words, split at anything that is not a letter or digit (``_`` and ``/``
    too), so ``sales/daily_orders`` is found by ``daily`` as well as by ``sales``."""
    return _WORD.findall(text.lower())


def column_names(metadata: Mapping[str, Any]) -> list[str]:
    """Column names in an asset's metadata, in the shapes dbt and table schemas use."""
    names: list[str] = []
    for key in COLUMN_KEYS:
        value = metadata.get(key)
        if isinstance(value, Mapping):
            value = value.get("columns")
        if isinstance(value, Mapping):  # {"column": {...}} as in dbt's manifest
            names.extend(str(name) for name in value)
        elif isinstance(value, list):
            names.extend(
                str(item.get("name")) if isinstance(item, Mapping) else str(item)
                for item in value
                if not isinstance(item, Mapping) or item.get("name")
            )
    return names


def search_fields(
    *,
    key: str,
    description: str,
    group: str,
    owners: Iterable[str],
    kinds: Iterable[str],
    tags: Mapping[str, str],
    metadata: Mapping[str, Any],
) -> dict[str, str]:
    """The ``search_key`` and ``search_text`` columns of one definition."""
    parts = [description, group, *owners, *kinds]
    parts += [f"{k} {v}" for k, v in tags.items()]
    parts += [str(k) for k in metadata]
    parts += column_names(metadata)
    return {"search_key": " ".join(words(key)), "search_text": " ".join(words(" ".join(parts)))}


def index_snapshot(*, snapshot_pk: int) -> None:
    """Fill the weighted ``tsvector`` of a freshly stored snapshot's definitions (PostgreSQL;
    a no-op elsewhere). Runs in the caller's transaction."""
    if not is_full_text():
        return
    AssetDefinition.objects.filter(snapshot_id=snapshot_pk).update(
        search_vector=SearchVector("search_key", weight="A", config="simple")
        + SearchVector("search_text", weight="B", config="simple")
    )


def is_full_text() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class SearchPage:
    count: int
    results: list[dict[str, Any]]


def parse_query(query: str) -> list[str]:
    """The query's words; ``InvalidSearch`` when there are none or too many."""
    terms = list(dict.fromkeys(words(query or "")))
    if not terms:
        raise InvalidSearch("give a search query with at least one letter or digit", field="q")
    if len(terms) > MAX_QUERY_WORDS:
        raise InvalidSearch(f"a search query has at most {MAX_QUERY_WORDS} words", field="q")
    return terms


def search_assets(
    *, deployment: Deployment, query: str, limit: int = 50, offset: int = 0
) -> SearchPage:
    """Current assets of ``deployment`` matching every word of ``query`` (as a prefix on
    PostgreSQL, a substring on SQLite), best first; ``offset``/``limit`` page through them."""
    terms = parse_query(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearch(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise InvalidSearch("offset must not be negative", field="offset")
    current = AssetDefinition.objects.filter(deployment=deployment, snapshot__is_current=True)
    if is_full_text():
        return _full_text(current, terms, limit=limit, offset=offset)
    return _plain(current, terms, limit=limit, offset=offset)


def _full_text(
    current: QuerySet[AssetDefinition], terms: list[str], *, limit: int, offset: int
) -> SearchPage:
    # Terms are letters and digits only, so the raw tsquery cannot be malformed.
    tsquery = SearchQuery(" & ".join(f"{t}:*" for t in terms), search_type="raw", config="simple")
    matches = current.filter(search_vector=tsquery)
    count = matches.count()
    rows = (
        matches.annotate(rank=SearchRank(F("search_vector"), tsquery))
        .order_by("-rank", "asset_key")
        .select_related("code_location")[offset : offset + limit]
    )
    return SearchPage(count=count, results=[_result(d, float(d.rank)) for d in rows])


def _plain(
    current: QuerySet[AssetDefinition], terms: list[str], *, limit: int, offset: int
) -> SearchPage:
    matches = current
    for term in terms:
        matches = matches.filter(Q(search_key__contains=term) | Q(search_text__contains=term))
    scored = [(_plain_rank(d, terms), d) for d in matches.select_related("code_location")]
    scored.sort(key=lambda pair: (-pair[0], pair[1].asset_key))
    page = scored[offset : offset + limit]
    return SearchPage(count=len(scored), results=[_result(d, rank) for rank, d in page])


def _plain_rank(definition: AssetDefinition, terms: list[str]) -> float:
    """Per word: 1 for a word of the key it starts, 0.4 for one of the other fields."""
    key_words = definition.search_key.split()
    other_words = definition.search_text.split()
    score = 0.0
    for term in terms:
        if any(w.startswith(term) for w in key_words):
            score += 1.0
        elif any(w.startswith(term) for w in other_words):
            score += 0.4
        else:
            score += 0.1  # inside a word only
    return score


def _result(definition: AssetDefinition, rank: float) -> dict[str, Any]:
    return {
        "key": definition.asset_key,
        "code_location": definition.code_location.name,
        "group": definition.group,
        "description": definition.description,
        "owners": definition.owners,
        "kinds": definition.kinds,
        "tags": definition.tags,
        "is_external": definition.is_external,
        "rank": round(rank, 6),
    }

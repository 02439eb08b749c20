"""Selection syntax: keys, globs, lineage operators, attributes, and helpful errors."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay import AssetKey, Definitions, InvalidSelection, asset
from assay.selection import check_syntax, select_keys, selection_clauses


@pytest.fixture(scope="module")
def graph():
    @asset(key_prefix="sales", group_name="sales", tags={"tier": "gold"}, kinds={"sql"})
    def orders():
        return 1

    @asset(key_prefix="sales", group_name="sales", owners=["ana@example.com"])
    def refunds(orders):
        return 1

    @asset(group_name="finance", kinds={"python"})
    def revenue(orders, refunds):
        return 1

    @asset(group_name="finance", tags={"tier": "silver"})
    def forecast(revenue):
        return 1

    return Definitions(assets=[orders, refunds, revenue, forecast]).asset_graph


def names(keys):
    return sorted(k.to_user_string() for k in keys)


def test_select_by_key_and_by_unique_name(graph):
    assert names(select_keys(graph, "sales/orders")) == ["sales/orders"]
    assert names(select_keys(graph, "refunds")) == ["sales/refunds"]


def test_glob_selects_a_prefix(graph):
    assert names(select_keys(graph, "sales/*")) == ["sales/orders", "sales/refunds"]


def test_plus_operators_add_upstream_and_downstream(graph):
    assert names(select_keys(graph, "+revenue")) == ["revenue", "sales/orders", "sales/refunds"]
    assert names(select_keys(graph, "sales/refunds+")) == ["forecast", "revenue", "sales/refunds"]
    assert names(select_keys(graph, "1+forecast")) == ["forecast", "revenue"]
    assert names(select_keys(graph, "sales/orders+1")) == [
        "revenue",
        "sales/orders",
        "sales/refunds",
    ]


def test_attribute_terms(graph):
    assert names(select_keys(graph, "group:finance")) == ["forecast", "revenue"]
    assert names(select_keys(graph, "tag:tier=gold")) == ["sales/orders"]
    assert names(select_keys(graph, "tag:tier")) == ["forecast", "sales/orders"]
    assert names(select_keys(graph, "owner:ana@example.com")) == ["sales/refunds"]
    assert names(select_keys(graph, "kind:sql")) == ["sales/orders"]


def test_comma_is_union_and_space_or_and_is_intersection(graph):
    assert names(select_keys(graph, "forecast, sales/orders")) == ["forecast", "sales/orders"]
    assert names(select_keys(graph, "+forecast group:sales")) == ["sales/orders", "sales/refunds"]
    assert names(select_keys(graph, "+forecast and kind:python")) == ["revenue"]


def test_or_is_a_union_like_a_comma_and_binds_looser_than_and(graph):
    assert names(select_keys(graph, "forecast or sales/orders")) == ["forecast", "sales/orders"]
    assert names(select_keys(graph, "group:sales and kind:sql or forecast")) == [
        "forecast",
        "sales/orders",
    ]


def test_an_intersection_that_selects_nothing_is_an_error(graph):
    with pytest.raises(InvalidSelection, match="no asset matches 'group:finance' and 'kind:sql'"):
        select_keys(graph, "group:finance kind:sql")


def test_a_depth_written_apart_from_its_key_explains_the_syntax(graph):
    with pytest.raises(InvalidSelection) as info:
        select_keys(graph, "+1 forecast")
    assert str(info.value) == (
        "'+1' has no asset: write it next to the key, as in '1+forecast' "
        "(forecast and 1 level upstream) or 'forecast+1' (downstream)"
    )
    with pytest.raises(InvalidSelection, match=r"as in '\+revenue' \(revenue and everything"):
        select_keys(graph, "revenue +")


def test_unknown_key_behind_a_lineage_operator_lists_close_matches(graph):
    with pytest.raises(InvalidSelection, match=r"no asset 'forcast'.*did you mean 'forecast'"):
        select_keys(graph, "2+forcast")


def test_star_selects_everything_and_none_selects_executable_assets(graph):
    assert len(select_keys(graph, "*")) == 4
    assert select_keys(graph, None) == set(graph.nodes)


def test_unknown_key_lists_close_matches(graph):
    with pytest.raises(InvalidSelection, match=r"no asset 'revenu'.*did you mean 'revenue'"):
        select_keys(graph, "revenu")


def test_glob_matching_nothing_is_an_error(graph):
    with pytest.raises(InvalidSelection, match="no asset matches 'marketing/\\*'"):
        select_keys(graph, "marketing/*")


def test_unknown_group_lists_close_groups(graph):
    with pytest.raises(InvalidSelection, match="did you mean 'finance'"):
        select_keys(graph, "group:financ")


def test_unknown_attribute_is_explained(graph):
    with pytest.raises(InvalidSelection, match="unknown selection attribute 'team:'"):
        select_keys(graph, "team:x")


def test_selection_accepts_lists_of_keys(graph):
    assert names(select_keys(graph, [AssetKey(["sales", "orders"]), "forecast"])) == [
        "forecast",
        "sales/orders",
    ]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="ab/_*+,:= 12groupta", max_size=20))
def test_any_selection_text_either_selects_or_raises_invalid_selection(graph, text):
    try:
        keys = select_keys(graph, text)
    except InvalidSelection:
        return
    assert keys <= set(graph.nodes)


@pytest.mark.parametrize(
    "selection",
    ["raw_orders", "sales/*", "group:sales, tag:team=finance", "2+clean_orders+1", "a and b", "*"],
)
def test_well_formed_selections_pass_the_syntax_check_without_resolving_names(selection):
    check_syntax(selection)


@pytest.mark.parametrize(
    "selection",
    ["color:red", "a,,b", "a or or b", "group:", "a++", "+1 clean", "2+ clean", "a//b", ","],
)
def test_malformed_selections_fail_the_syntax_check(graph, selection):
    with pytest.raises(InvalidSelection):
        check_syntax(selection)
    with pytest.raises(InvalidSelection):
        select_keys(graph, selection)


def test_a_selection_splits_into_clauses_on_commas_and_or():
    assert selection_clauses("a, b OR c and d+1") == ["a", "b", "c d+1"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="ab/_*+,:= 12groupta", max_size=20))
def test_what_the_syntax_check_refuses_select_keys_refuses_too(graph, text):
    try:
        check_syntax(text)
    except InvalidSelection:
        with pytest.raises(InvalidSelection):
            select_keys(graph, text)

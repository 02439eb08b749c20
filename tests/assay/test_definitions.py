"""Declaring assets: keys, dependency inference, validation errors users see at load time."""

import pytest

from assay import (
    AssetCheckResult,
    AssetIn,
    AssetKey,
    AssetObservation,
    AssetSpec,
    DefinitionError,
    Definitions,
    FilesystemIOManager,
    Output,
    asset,
    asset_check,
    build_asset_context,
    materialize,
    multi_asset,
    observable_source_asset,
)
from assay.errors import CycleError, DuplicateKeyError


def test_asset_key_parses_user_strings_and_round_trips():
    key = AssetKey.from_user_string("analytics/daily_metrics")
    assert key == AssetKey(["analytics", "daily_metrics"])
    assert key.to_user_string() == "analytics/daily_metrics"
    assert key.name == "daily_metrics"
    assert {key: 1}[AssetKey(["analytics", "daily_metrics"])] == 1


def test_asset_key_rejects_empty_components():
    with pytest.raises(DefinitionError):
        AssetKey(["a", ""])


def test_parameters_named_like_assets_become_dependencies():
    @asset
    def raw():
        return 1

    @asset
    def cleaned(raw):
        return raw + 1

    graph = Definitions(assets=[raw, cleaned]).asset_graph
    assert graph.nodes[AssetKey("cleaned")].parents == (AssetKey("raw"),)


def test_parameter_resolves_to_prefixed_asset_with_the_same_name():
    @asset(key_prefix="analytics")
    def events():
        return [1]

    @asset(key_prefix="analytics")
    def metrics(events):
        return len(events)

    defs = Definitions(assets=[events, metrics])
    assert defs.asset_graph.nodes[metrics.key].parents == (AssetKey(["analytics", "events"]),)
    assert materialize(defs).output_for_node("analytics/metrics") == 1


def test_ins_and_deps_declare_explicit_dependencies():
    @asset(key="warehouse/orders")
    def orders():
        return [1, 2]

    @asset
    def audit_log():
        return None

    @asset(ins={"rows": AssetIn("warehouse/orders")}, deps=[audit_log])
    def order_count(rows):
        return len(rows)

    defs = Definitions(assets=[orders, audit_log, order_count])
    assert defs.asset_graph.nodes[order_count.key].parents == (
        AssetKey(["warehouse", "orders"]),
        AssetKey("audit_log"),
    )
    assert materialize(defs).output_for_node("order_count") == 2


def test_duplicate_keys_are_rejected_naming_the_key_and_both_definitions():
    @asset(key="sales/orders")
    def orders():
        return 1

    @multi_asset(specs=[AssetSpec("sales/orders"), AssetSpec("sales/refunds")])
    def sales_export():
        return 1, 2

    with pytest.raises(DuplicateKeyError, match="'sales/orders' is defined twice"):
        Definitions(assets=[orders, sales_export])
    with pytest.raises(DuplicateKeyError, match="by sales/orders and by an AssetSpec"):
        Definitions(assets=[orders, AssetSpec("sales/orders")])


def test_cycles_are_rejected_naming_the_assets_in_the_cycle():
    @asset(deps=["c"])
    def a():
        return 1

    @asset(deps=[a])
    def b():
        return 1

    @asset(deps=[b])
    def c():
        return 1

    with pytest.raises(CycleError) as info:
        Definitions(assets=[a, b, c])
    message = str(info.value)
    assert (
        "a -> b -> c -> a" in message
        or "b -> c -> a -> b" in message
        or "c -> a -> b -> c" in message
    )


def test_an_asset_that_depends_on_itself_is_rejected_by_name():
    @asset(deps=["loop"])
    def loop():
        return 1

    with pytest.raises(CycleError, match="asset 'loop' depends on itself"):
        Definitions(assets=[loop])


def test_io_manager_key_stores_and_loads_through_that_io_manager(tmp_path):
    @asset(io_manager_key="warehouse_io")
    def big_table():
        return [1, 2, 3]

    @asset
    def table_size(big_table):
        return len(big_table)

    warehouse_io = FilesystemIOManager(base_dir=str(tmp_path))
    result = materialize([big_table, table_size], resources={"warehouse_io": warehouse_io})
    assert result.output_for_node("table_size") == 3
    assert (tmp_path / "big_table").is_file()  # stored by warehouse_io ...
    assert not (tmp_path / "table_size").exists()  # ... while table_size used the default


def test_unknown_dependency_names_close_matches():
    @asset
    def user_events():
        return 1

    @asset
    def daily(user_event):
        return 1

    with pytest.raises(DefinitionError, match="did you mean 'user_events'"):
        Definitions(assets=[user_events, daily])


def test_ambiguous_parameter_name_asks_for_explicit_ins():
    @asset(key_prefix="a")
    def events():
        return 1

    @asset(key_prefix="b", name="events")
    def other_events():
        return 1

    @asset(key_prefix="c")
    def report(events):
        return events

    with pytest.raises(DefinitionError, match="could mean"):
        Definitions(assets=[events, other_events, report])


def test_external_asset_spec_is_tracked_but_not_materialized():
    raw = AssetSpec("s3/raw_logs", group_name="landing", owners=["ops@example.com"])

    @asset(deps=[raw])
    def parsed():
        return 1

    defs = Definitions(assets=[raw, parsed])
    node = defs.asset_graph.nodes[raw.key]
    assert node.is_external and not node.is_materializable
    result = materialize(defs)
    assert result.success
    assert result.materialized_keys == [AssetKey("parsed")]


def test_multi_asset_produces_each_spec_from_one_function():
    @multi_asset(specs=[AssetSpec("users"), AssetSpec("orders")])
    def extract():
        return [1, 2, 3], [10]

    @asset
    def orders_per_user(users, orders):
        return len(orders) / len(users)

    result = materialize([extract, orders_per_user])
    assert result.success
    assert result.output_for_node("users") == [1, 2, 3]
    assert result.output_for_node("orders_per_user") == pytest.approx(1 / 3)


def test_multi_asset_can_yield_outputs_by_key():
    @multi_asset(specs=[AssetSpec("left"), AssetSpec("right")])
    def split():
        yield Output("L", asset_key="left", metadata={"side": "left"})
        yield Output("R", asset_key="right")

    result = materialize([split])
    assert result.output_for_node("right") == "R"
    assert result.asset_materializations_for_node("left")[0].payload["metadata"] == {"side": "left"}


def test_observable_source_asset_records_observations():
    @observable_source_asset(key="vendor/prices")
    def prices():
        return AssetObservation(data_version="v42", metadata={"row_count": 10})

    result = materialize([prices])
    (observation,) = result.get_asset_observation_events()
    assert observation.asset_key == AssetKey(["vendor", "prices"])
    assert observation.payload == {"data_version": "v42", "metadata": {"row_count": 10}}
    assert result.get_asset_materialization_events() == []


def test_check_on_undefined_asset_is_rejected():
    @asset
    def orders():
        return 1

    @asset_check(asset="order")
    def non_empty(order):
        return AssetCheckResult(passed=True)

    with pytest.raises(DefinitionError, match="did you mean 'orders'"):
        Definitions(assets=[orders], asset_checks=[non_empty])


def test_seams_for_partitions_and_automation_are_stored_opaquely():
    marker = object()

    @asset(partitions_def=marker, automation_condition="eager", freshness_policy="6h")
    def partitioned():
        return 1

    assert partitioned.partitions_def is marker
    assert partitioned.spec.automation_condition == "eager"
    assert AssetIn("x", partition_mapping=marker).partition_mapping is marker


def test_assets_can_be_called_directly_in_unit_tests():
    @asset
    def doubled(numbers):
        return [n * 2 for n in numbers]

    @asset
    def logged(context, numbers):
        context.log.info("got %d", len(numbers))
        return context.resources.factor * len(numbers)

    assert doubled([1, 2]) == [2, 4]
    context = build_asset_context(resources={"factor": 10})
    assert logged(context, [1, 2]) == 20
    assert context.logged_events[0].payload["message"] == "got 2"


def test_listing_the_same_definition_twice_is_harmless():
    @asset
    def once():
        return 1

    assert list(Definitions(assets=[once, once]).asset_graph.nodes) == [AssetKey("once")]

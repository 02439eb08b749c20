"""The asset graph: order, lineage, blast radius."""

from hypothesis import given, settings
from hypothesis import strategies as st

from assay import AssetKey, AssetSpec, Definitions, asset


def _defs():
    @asset(group_name="raw")
    def a():
        return 1

    @asset(group_name="raw")
    def b(a):
        return 1

    @asset(group_name="mart")
    def c(b):
        return 1

    @asset(group_name="mart")
    def d(a):
        return 1

    @asset(group_name="mart")
    def e(c, d):
        return 1

    return Definitions(assets=[a, b, c, d, e])


def K(name):
    return AssetKey(name)


def test_topological_order_puts_parents_before_children():
    graph = _defs().asset_graph
    order = graph.toposorted
    for key, node in graph.nodes.items():
        for parent in node.parents:
            assert order.index(parent) < order.index(key)


def test_upstream_and_downstream_closures():
    graph = _defs().asset_graph
    assert graph.upstream([K("e")]) == {K("a"), K("b"), K("c"), K("d"), K("e")}
    assert graph.upstream([K("c")], depth=1) == {K("b"), K("c")}
    assert graph.downstream([K("b")]) == {K("b"), K("c"), K("e")}


def test_blast_radius_is_every_descendant_but_not_the_changed_assets():
    graph = _defs().asset_graph
    assert graph.blast_radius([K("a")]) == {K("b"), K("c"), K("d"), K("e")}
    assert graph.blast_radius([K("d")]) == {K("e")}
    assert graph.blast_radius([K("e")]) == set()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
        )
    )
)
def test_any_dag_sorts_consistently_and_downstream_inverts_upstream(case):
    n, edges = case
    # Only keep edges from lower to higher index, which guarantees a DAG.
    deps = {i: sorted({a for a, b in edges if a < b and b == i}) for i in range(n)}
    specs = [AssetSpec(f"n{i}", deps=[f"n{p}" for p in deps[i]]) for i in range(n)]
    graph = Definitions(assets=specs).asset_graph
    position = {k: i for i, k in enumerate(graph.toposorted)}
    for i in range(n):
        for p in deps[i]:
            assert position[K(f"n{p}")] < position[K(f"n{i}")]
    for i in range(n):
        for j in graph.downstream([K(f"n{i}")]):
            assert K(f"n{i}") in graph.upstream([j])

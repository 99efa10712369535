"""TFLite tensor names -> Keras layers, and the suspects quant-debug measures when a model is too big for all."""

from __future__ import annotations

import pytest

from edgekit.quant_debug.graph import layer_of
from edgekit.quant_debug.records import LayerStat
from edgekit.quant_debug.worker import suspects


@pytest.mark.parametrize("name, layer", [
    ("functional_1/spike_1/MatMul;functional_1/spike_1/Relu;functional_1/spike_1/BiasAdd", "spike"),
    ("sequential_1/conv2d_3_1/Relu6;sequential_1/conv2d_3_1/BiasAdd", "conv2d_3"),
    ("functional_1/block_1_expand_BN_1/FusedBatchNormV3", "block_1_expand_BN"),
    ("StatefulPartitionedCall_1:0", ""),
    ("serving_default_features:0", ""),
])
def test_layer_of(name, layer):
    assert layer_of(name) == layer


def _stat(layer: str, **kw) -> LayerStat:
    base = dict(op="CONV_2D", tensor=layer, scale=0.1, rmse_over_scale=0.3, sqnr_db=40.0, min=0.0, max=1.0,
                outlier_ratio=1.1, channel_spread=2.0, median_channel_steps=100.0)
    return LayerStat(layer=layer, **{**base, **kw})


def test_suspects_are_the_union_of_the_top_by_each_statistic_in_depth_order():
    stats = [_stat(f"l{i}") for i in range(20)]
    stats[3] = _stat("l3", sqnr_db=5.0)
    stats[7] = _stat("l7", channel_spread=900.0)
    stats[12] = _stat("l12", median_channel_steps=0.2)
    stats[15] = _stat("l15", rmse_over_scale=4.0)
    stats[9] = _stat("l9", outlier_ratio=30.0)
    picked = suspects(stats, per_stat=1)
    assert picked == ["l3", "l7", "l9", "l12", "l15"]  # one per statistic, in depth order

"""Typed records of quant-debug and of the int8 search (pydantic, like edgekit/schemas.py): what
quant_debug.json holds and what the manifest records under an int8 artifact's ``extra.int8_search``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerStat(_Record):
    """One quantized activation tensor against its float counterpart, on the calibration data."""

    layer: str  # the Keras layer
    op: str  # the TFLite op that writes the tensor
    tensor: str
    scale: float
    rmse_over_scale: float  # the QuantizationDebugger's default statistic
    sqnr_db: float
    min: float
    max: float
    outlier_ratio: float  # max |x| / p99.9 |x|
    channel_spread: float  # largest per-channel max |x| / median per-channel max |x|
    median_channel_steps: float  # median per-channel max |x| / scale: int8 steps a typical channel gets


class Candidate(_Record):
    """One int8 model tried: its weight layout, the layers kept in float, its size and its golden-set score."""

    layout: str  # per-channel | per-tensor
    float_layers: list[str] = Field(default_factory=list)
    float_ops: list[str] = Field(default_factory=list)
    bytes: int
    value: float  # accuracy / agreement (0..1) or SQNR dB, see the record's metric
    drop_points: float | None = None  # percentage points below float (None for SQNR)
    meets: bool | None = None  # within the budget (None: no budget)


class LayerEffect(_Record):
    """The golden-set score of an int8 model with only this layer in float, and with its output kept float too
    (the layer and the layers that read it): the error of an outlier tensor lives between two layers."""

    layer: str
    ops: list[str]
    consumers: list[str] = Field(default_factory=list)
    alone: float | None = None
    with_output: float | None = None
    recovery_points: float | None = None  # the best of the two, minus plain int8's score, in points (or dB)
    measured: bool = True
    why_not: str | None = None


class Budget(_Record):
    max_drop_points: float | None = None
    min_sqnr_db: float | None = None


class SearchRecord(_Record):
    """What `convert --int8-max-drop` did for one int8 artifact (manifest: ``extra.int8_search``)."""

    metric: str  # accuracy | agreement | sqnr_db
    budget: Budget
    reference: float  # the float model's own score on the golden set
    golden_samples: int
    candidates: list[Candidate]
    chosen: int  # index into candidates (the best one when none met the budget)
    met: bool
    float_layers: list[str] = Field(default_factory=list)
    float_ops: list[str] = Field(default_factory=list)
    ranking: list[LayerEffect] = Field(default_factory=list)
    seconds: float
    reason: str | None = None
    summary: str = ""  # one_line(), as recorded

    def one_line(self) -> str:
        """The convert summary's one line."""
        best = self.candidates[self.chosen]
        unit = f"SQNR {best.value:.1f} dB" if self.metric == "sqnr_db" else f"{self.metric} {best.value * 100:.1f}%"
        drop = "" if best.drop_points is None else f", drop {best.drop_points:.2f} pts"
        floats = ", ".join(self.float_layers) or "none"
        verdict = "met" if self.met else "NOT met"
        return (f"int8 budget {verdict}: {best.layout}, float layers: {floats} ({unit}{drop}, {best.bytes} bytes; "
                f"{len(self.candidates)} candidates in {self.seconds:.1f} s)")


class QuantDebugReport(_Record):
    """quant_debug.json."""

    folder: str
    metric: str
    reference: float
    golden_samples: int
    calibration: str
    calibration_samples: int
    plain: Candidate
    stats: list[LayerStat]
    effects: list[LayerEffect]  # ranked: largest recovery first
    time_bound_s: float
    seconds: float
    next_step: str

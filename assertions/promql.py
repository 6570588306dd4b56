"""Prometheus query results as typed models: samples, series, vector/matrix/scalar/string.

Prometheus encodes a sample as ``[<unix seconds>, "<value>"]`` with the value
a string (``"NaN"``, ``"+Inf"`` included); :class:`Sample` turns it into a UTC
datetime and a float. Native-histogram samples are not modelled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_PAIR_LENGTH = 2  # [unix_seconds, "value"]

#: A series' label set, ``__name__`` included when the result keeps it.
Labels = dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def _pair(raw: object) -> tuple[datetime, str]:
    if not isinstance(raw, list | tuple) or len(raw) != _PAIR_LENGTH:
        raise ValueError(f"expected [unix_seconds, value], got {raw!r}")
    seconds, value = raw
    if not isinstance(seconds, int | float):
        raise ValueError(f"expected unix seconds, got {seconds!r}")
    return datetime.fromtimestamp(seconds, UTC), str(value)


class Sample(_Model):
    """One value at one instant."""

    at: datetime
    value: float

    @field_validator("value", mode="before")
    @classmethod
    def _nan_from_json(cls, raw: object) -> object:
        # JSON has no NaN: a model written with model_dump_json() holds null instead.
        return float("nan") if raw is None else raw

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, raw: object) -> object:
        if isinstance(raw, dict):
            return raw
        at, value = _pair(raw)
        return {"at": at, "value": value}


class Point(_Model):
    """A sample with the labels of its series: what "the highest value seen" reports."""

    labels: Labels
    at: datetime
    value: float

    def describe(self) -> str:
        selector = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{{{selector}}} = {self.value:g} at {self.at.isoformat()}"


class Series(_Model):
    """An instant-vector element: labels and one sample."""

    labels: Labels = Field(alias="metric")
    sample: Sample = Field(alias="value")

    @property
    def value(self) -> float:
        return self.sample.value


class RangeSeries(_Model):
    """A range-vector element: labels and samples in time order."""

    labels: Labels = Field(alias="metric")
    samples: list[Sample] = Field(alias="values")


class _Result(_Model):
    #: The PromQL expression that produced this result (set by the client).
    query: str = ""
    #: Warnings Prometheus attached to the answer.
    warnings: list[str] = Field(default_factory=list)

    def points(self) -> list[Point]:
        """Every sample of the result with its series' labels."""
        raise NotImplementedError

    def max_point(self) -> Point | None:
        """The sample with the highest value (NaN ignored), or None when there is none."""
        numbers = [p for p in self.points() if p.value == p.value]  # NaN != NaN
        return max(numbers, key=lambda p: p.value, default=None)


class VectorResult(_Result):
    """``resultType: vector``: the usual answer to an instant query."""

    type: Literal["vector"] = Field(alias="resultType")
    series: list[Series] = Field(alias="result")

    def points(self) -> list[Point]:
        return [Point(labels=s.labels, at=s.sample.at, value=s.sample.value) for s in self.series]


class MatrixResult(_Result):
    """``resultType: matrix``: a range query, or an instant query of a range selector."""

    type: Literal["matrix"] = Field(alias="resultType")
    series: list[RangeSeries] = Field(alias="result")

    def points(self) -> list[Point]:
        return [
            Point(labels=s.labels, at=sample.at, value=sample.value)
            for s in self.series
            for sample in s.samples
        ]


class ScalarResult(_Result):
    """``resultType: scalar``: a single number."""

    type: Literal["scalar"] = Field(alias="resultType")
    sample: Sample = Field(alias="result")

    def points(self) -> list[Point]:
        return [Point(labels={}, at=self.sample.at, value=self.sample.value)]


class StringResult(_Result):
    """``resultType: string``: a string literal; it has no numeric points."""

    type: Literal["string"] = Field(alias="resultType")
    at: datetime
    value: str

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, raw: object) -> object:
        if isinstance(raw, dict) and "result" in raw:
            at, value = _pair(raw["result"])
            return {**raw, "at": at, "value": value}
        return raw

    def points(self) -> list[Point]:
        return []


QueryResult = Annotated[
    VectorResult | MatrixResult | ScalarResult | StringResult, Field(discriminator="type")
]

__all__ = [
    "Labels",
    "MatrixResult",
    "Point",
    "QueryResult",
    "RangeSeries",
    "Sample",
    "ScalarResult",
    "Series",
    "StringResult",
    "VectorResult",
]

"""The joint-model math: a streaming mean of text vectors and the weighted joint (no Airflow, no SQL).

    z_text  = mean_i v_i                                   (accumulated in float64)
    z_joint = (w_num * z_num + w_text * z_text) / (w_num + w_text)     (stored as float32)

With ``branch_normalization="l2"`` each branch is divided by its L2 norm first, so the weights mean what they say.
:func:`branch_stats` says how much each branch weighs in a joint vector: a raw regime window (closes ~100,
volumes ~10^3) next to a unit text vector leaves the text branch a few parts in 10^5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from joint_context.errors import JointDataError, VectorDataError
from joint_context.vectors import FLOAT32_LE, check_byte_length, check_dimension


@dataclass
class TextAccumulator:
    """Running float64 sum and count of one context's text vectors, fed in batches of stored rows.

    Holds O(dimension) state whatever the number of rows, so a day of 200k vectors stays small; the
    state is what travels between tasks (see :meth:`to_dict`).

    :param table: the table the vectors come from, named in errors.
    """

    table: str
    dimension: int | None = None
    vector_count: int = 0
    null_count: int = 0
    vector_sum: np.ndarray | None = field(default=None, repr=False)
    first_row_id: str | None = None

    def add_rows(self, rows: Iterable[tuple[object, bytes | memoryview | None]]) -> None:
        """Add ``(row_id, raw_vector)`` rows; NULL vectors are counted and left out.

        Validates every row (byte length, one dimension for all, finite values) before anything is added,
        so a failing batch leaves the accumulator as it was.
        """
        row_ids: list[object] = []
        raw_vectors: list[bytes | memoryview] = []
        dimension = self.dimension
        first_row_id = self.first_row_id
        null_count = 0
        for row_id, raw in rows:
            if raw is None:
                null_count += 1
                continue
            check_byte_length(len(raw), table=self.table, row_id=row_id)
            row_dimension = len(raw) // FLOAT32_LE.itemsize
            if dimension is None:
                dimension, first_row_id = row_dimension, str(row_id)
            check_dimension(
                row_dimension, dimension, table=self.table, row_id=row_id,
                expected_from=f"the dimension of row {first_row_id!r} of the same day",
            )
            row_ids.append(row_id)
            raw_vectors.append(raw)
        if raw_vectors:
            matrix = np.frombuffer(b"".join(raw_vectors), dtype=FLOAT32_LE).reshape(len(raw_vectors), dimension)
            self.add_vectors(matrix, row_ids)
        self.null_count += null_count

    def add_vectors(self, vectors: np.ndarray, row_ids) -> None:
        """Add the rows of a ``(rows, dimension)`` float32 matrix; ``row_ids[i]`` names row ``i`` in errors.

        The sum is taken row after row in float64, continuing from the running sum, so it does not depend
        on how the rows were split into batches. Nothing is added if any row is rejected.
        """
        if not len(vectors):
            return
        dimension = vectors.shape[1]
        if self.dimension is not None:
            check_dimension(
                dimension, self.dimension, table=self.table, row_id=str(row_ids[0]),
                expected_from=f"the dimension of row {self.first_row_id!r} of the same day",
            )
        finite_rows = np.isfinite(vectors).all(axis=1)
        if not finite_rows.all():
            bad_row = int(np.argmin(finite_rows))
            position = int(np.argmin(np.isfinite(vectors[bad_row])))
            raise VectorDataError(
                self.table, str(row_ids[bad_row]),
                f"vector holds a non-finite value ({vectors[bad_row, position]}) at position {position}",
            )
        # along axis 0 numpy adds row after row, in order; a sum so far goes first, as row 0
        if self.vector_sum is None:
            self.vector_sum = vectors.sum(axis=0, dtype=np.float64)
        else:
            running = np.empty((len(vectors) + 1, dimension), dtype=np.float64)
            running[0] = self.vector_sum
            running[1:] = vectors
            self.vector_sum = running.sum(axis=0)
        if self.dimension is None:
            self.dimension, self.first_row_id = dimension, str(row_ids[0])
        self.vector_count += len(vectors)

    def mean(self) -> np.ndarray:
        """The float64 mean of the vectors added so far; raises if there are none."""
        if not self.vector_count:
            raise JointDataError(f"no text vectors from {self.table} to average")
        return self.vector_sum / self.vector_count

    def to_dict(self) -> dict:
        """A JSON-safe summary (sum, counts, dimension): what XCom carries instead of the raw vectors."""
        return {
            "table": self.table,
            "dimension": self.dimension,
            "vector_count": self.vector_count,
            "null_count": self.null_count,
            "vector_sum": None if self.vector_sum is None else self.vector_sum.tolist(),
            "first_row_id": self.first_row_id,
        }

    @classmethod
    def from_dict(cls, state: dict) -> TextAccumulator:
        vector_sum = state["vector_sum"]
        return cls(
            table=state["table"],
            dimension=state["dimension"],
            vector_count=state["vector_count"],
            null_count=state["null_count"],
            vector_sum=None if vector_sum is None else np.asarray(vector_sum, dtype=np.float64),
            first_row_id=state["first_row_id"],
        )


@dataclass(frozen=True)
class SimpleAverageJointModel:
    """The ``joint-regime-core-v1`` model: a weighted average of the numeric and text branches.

    :param numeric_weight: weight of the regime embedding, >= 0.
    :param text_weight: weight of the mean text embedding, >= 0; the two must sum to more than 0.
    """

    numeric_weight: float = 0.5
    text_weight: float = 0.5
    branch_normalization: str = "none"

    def __post_init__(self) -> None:
        check_weights(self.numeric_weight, self.text_weight)
        if self.branch_normalization not in BRANCH_NORMALIZATIONS:
            raise JointDataError(f"branch_normalization must be one of {list(BRANCH_NORMALIZATIONS)}, "
                                 f"got {self.branch_normalization!r}")

    @property
    def shares(self) -> tuple[float, float]:
        """The normalised weights ``w / (w_num + w_text)`` the joint vector is computed with."""
        total_weight = self.numeric_weight + self.text_weight
        # the shares first: w * z itself could overflow float64 for huge (but finite) weights
        return self.numeric_weight / total_weight, self.text_weight / total_weight

    def branches(self, numeric_vector: np.ndarray, text_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two float64 branches as they enter the average: as given, or divided by their L2 norms ("l2").

        A branch of norm 0 cannot be L2-normalised: :class:`ZeroNormBranchError` says which one.
        """
        numeric_vector = np.asarray(numeric_vector, dtype=np.float64)
        text_vector = np.asarray(text_vector, dtype=np.float64)
        if numeric_vector.shape != text_vector.shape:
            raise JointDataError(
                f"numeric vector has dimension {numeric_vector.shape[0]} but text vector has "
                f"dimension {text_vector.shape[0]}"
            )
        if self.branch_normalization == "none":
            return numeric_vector, text_vector
        normalised = []
        for branch, vector in (("numeric", numeric_vector), ("text", text_vector)):
            norm = _norm(vector)
            if norm == 0:
                raise ZeroNormBranchError(branch)
            normalised.append(vector / norm)
        return normalised[0], normalised[1]

    def embed(self, numeric_vector: np.ndarray, text_vector: np.ndarray) -> np.ndarray:
        """``(w_num * z_num + w_text * z_text) / (w_num + w_text)`` in float64 (over the L2-normalised branches
        with "l2"), returned as float32."""
        return self.average(*self.branches(numeric_vector, text_vector))

    def average(self, numeric_branch: np.ndarray, text_branch: np.ndarray) -> np.ndarray:
        """The weighted average of two float64 branches as :meth:`branches` returns them, as float32."""
        numeric_share, text_share = self.shares
        joint = numeric_share * numeric_branch + text_share * text_branch
        return joint.astype(FLOAT32_LE)

    def weighted_norms(self, numeric_branch: np.ndarray, text_branch: np.ndarray) -> tuple[float, float, float | None]:
        """``(‖s_num·b_num‖, ‖s_text·b_text‖, text share)`` of two branches as :meth:`branches` returns them (the
        share None when both norms are 0); see :class:`BranchStats`."""
        numeric_share, text_share = self.shares
        numeric_norm, text_norm = numeric_share * _norm(numeric_branch), text_share * _norm(text_branch)
        total = numeric_norm + text_norm
        return numeric_norm, text_norm, None if total == 0 else text_norm / total

    def branch_stats(self, numeric_vector: np.ndarray, text_vector: np.ndarray,
                     joint_vector: np.ndarray | None = None) -> BranchStats:
        """How much each branch weighs in the joint vector (``joint_vector``: the stored float32 one, else
        :meth:`embed`'s)."""
        numeric_branch, text_branch = self.branches(numeric_vector, text_vector)
        numeric_norm, text_norm, text_share = self.weighted_norms(numeric_branch, text_branch)
        joint = np.asarray(self.average(numeric_branch, text_branch) if joint_vector is None else joint_vector,
                           dtype=np.float64)
        return BranchStats(
            numeric_norm=numeric_norm,
            text_norm=text_norm,
            text_share=text_share,
            cosine_joint_numeric=cosine(joint, np.asarray(numeric_vector, dtype=np.float64)),
            cosine_joint_text=cosine(joint, np.asarray(text_vector, dtype=np.float64)),
        )


BRANCH_NORMALIZATIONS = ("none", "l2")


class ZeroNormBranchError(JointDataError):
    """A branch of L2 norm 0 met ``branch_normalization="l2"``; ``branch`` is "numeric" or "text"."""

    def __init__(self, branch: str) -> None:
        self.branch = branch
        super().__init__(f"the {branch} branch has L2 norm 0, so it cannot be L2-normalised")


@dataclass(frozen=True)
class BranchStats:
    """One joint vector's branches: ``numeric_norm = ‖s_num·b_num‖`` and ``text_norm = ‖s_text·b_text‖`` with the
    normalised weights ``s = w / (w_num + w_text)`` and the branches ``b`` as averaged (L2-normalised with "l2");
    ``text_share = text_norm / (numeric_norm + text_norm)`` (None when both are 0); the cosine similarity of the
    joint vector with the regime vector and with the mean text vector (None against a zero vector)."""

    numeric_norm: float
    text_norm: float
    text_share: float | None
    cosine_joint_numeric: float | None
    cosine_joint_text: float | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def cosine(first: np.ndarray, second: np.ndarray) -> float | None:
    """Cosine similarity in float64; None when either vector is 0."""
    norms = _norm(first) * _norm(second)
    return None if norms == 0 else float(first @ second) / norms


def _norm(vector: np.ndarray) -> float:
    return math.sqrt(float(vector @ vector))


def check_weights(numeric_weight: object, text_weight: object) -> None:
    """Both weights finite numbers >= 0 with a positive sum; raises :class:`JointDataError` otherwise."""
    for name, weight in (("numeric_weight", numeric_weight), ("text_weight", text_weight)):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not _is_finite(weight):
            raise JointDataError(f"{name} must be a finite number, got {weight!r}")
        if weight < 0:
            raise JointDataError(f"{name} must be >= 0, got {weight!r}")
    if not _is_finite(numeric_weight + text_weight):
        raise JointDataError("numeric_weight + text_weight must be a finite number, got a sum beyond float range")
    if numeric_weight + text_weight <= 0:
        raise JointDataError("numeric_weight + text_weight must be > 0, got 0")


def _is_finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int beyond float range, e.g. 10**400 from a JSON conf
        return False

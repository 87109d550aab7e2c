"""The portal's reason as a second target of the text model: which kind of desk takes a complaint.

In St Petersburg the body follows the portal's reason (125 values: «Неудовлетворительное
состояние парадной», «Ямы и выбоины на дороге»…) × the district, and with the point the district
is known, so what the text model still misses is mostly the kind of desk (the district's
housing agency or its administration, the Committee for Landscaping). The reason is a finer
target than the body: learning it from the same features and reading it back through the
history's reason → body table (P(body | reason)) gave 0.774 exact against 0.755 on the St
Petersburg validation slice, and 0.792 against 0.788 on December (the reason → body rule drifts
between months: docs/quality-routing.md, «St Petersburg: second round»).

The reason is a TRAINING target only: it is read from the history file's `reason` column when
the model is learned, and never asked of a post being routed (a post has words, an address and
a point; the reason is predicted from them).

`ReasonPrior` holds the reason classifier's weights (pruned and sparse: a few MB), the table,
and the two temperatures and the weight with which its log-probability is added to the body
model's (all chosen on that validation slice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_REASONS = 2
"""Fewer distinct reasons than this in the history: nothing to learn, no prior."""
PRUNE = 0.01
"""Reason weights smaller than this are dropped: 7 % of them are kept (the St Petersburg model
grows by 9 MB, not 60), and the validation score moved by 0.001 when it was first measured
(0.768 against 0.769 unpruned, a reason model fitted without the point's self-exclusion)."""
BODY_TEMPERATURE = 3.0
REASON_TEMPERATURE = 20.0
WEIGHT = 1.0
"""Chosen on the St Petersburg validation slice from 3 × 3 × 4 settings (body temperature 2/3/5,
reason temperature 10/20/40, weight 0.5–2): 0.761–0.774 over the whole grid, all above 0.755
without the reason (docs/quality-routing.md). `routing learn` then picks the weight itself on
its own validation slice (`services.routing_text.REASON_WEIGHTS`)."""
SMOOTHING = 0.1
"""Added to every cell of the reason → class table: a reason never seen with a class keeps a
small chance of it."""


@dataclass(slots=True)
class ReasonPrior:
    """Reason weights (features × reasons, sparse), their intercepts, P(class | reason)."""

    reasons: tuple[str, ...]
    coef: Any
    intercept: Any
    table: Any
    body_temperature: float = BODY_TEMPERATURE
    reason_temperature: float = REASON_TEMPERATURE
    weight: float = WEIGHT

    @classmethod
    def learn(
        cls, x: Any, reasons: Sequence[str | None], labels: Sequence[str], classes: Sequence[str], c: float
    ) -> ReasonPrior | None:
        """Fit the reason classifier on the rows that have a reason, and the reason → class table.

        `x`: the body model's feature matrix of the same rows; `labels`: their classes (the
        body model's, desks as templates); `classes`: the body model's classes in its order."""
        import numpy as np
        from scipy import sparse  # type: ignore[import-untyped]
        from sklearn.svm import LinearSVC

        keep = [i for i, r in enumerate(reasons) if r]
        names = sorted({str(reasons[i]) for i in keep})
        if len(names) < MIN_REASONS:
            return None
        y = [str(reasons[i]) for i in keep]
        clf = LinearSVC(C=c).fit(x[keep], y)
        w = np.asarray(clf.coef_, dtype=np.float32)
        b = np.asarray(clf.intercept_, dtype=np.float64)
        if w.shape[0] == 1:  # two reasons: one margin
            w, b = np.vstack([-w, w]), np.array([-b[0], b[0]])
        w[np.abs(w) < PRUNE] = 0.0
        col = {k: j for j, k in enumerate(classes)}
        row = {k: j for j, k in enumerate(str(k) for k in clf.classes_)}
        table = np.full((len(row), len(col)), SMOOTHING)
        for i in keep:
            j = col.get(labels[i])
            if j is not None:
                table[row[str(reasons[i])], j] += 1.0
        table /= table.sum(axis=1, keepdims=True)
        return cls(tuple(row), sparse.csr_matrix(w.T), b, table)

    def reason_margins(self, x: Any) -> Any:
        """The reason classifier's margins for a feature matrix (rows × features)."""
        import numpy as np

        return np.asarray((x @ self.coef).todense()) + self.intercept

    def one_reason_margins(self, cols: Sequence[int], vals: Sequence[float]) -> Any:
        """The same for one post given as its non-zero columns and values (no sparse matrix built)."""
        import numpy as np

        if not cols:
            return np.asarray(self.intercept, dtype=float).copy()
        return np.asarray(vals, dtype=float) @ self.coef[list(cols)].toarray() + self.intercept

    def combine(self, body_margins: Any, reason_margins: Any) -> Any:
        """log P(class) of the body model + weight × log Σ_reason P(reason) P(class | reason):
        the scores the router ranks by, and takes its softmax of."""
        import numpy as np

        def log_softmax(m: Any, t: float) -> Any:
            z = t * (m - m.max(axis=1, keepdims=True))
            return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

        via = np.exp(log_softmax(reason_margins, self.reason_temperature)) @ self.table
        return log_softmax(body_margins, self.body_temperature) + self.weight * np.log(via + 1e-9)

    def top_reasons(self, reason_margins: Any, k: int = 1) -> list[tuple[str, ...]]:
        """The most likely reasons per row (for the card and for checking the model)."""
        order = reason_margins.argsort(axis=1)[:, ::-1][:, :k]
        return [tuple(self.reasons[j] for j in row) for row in order]

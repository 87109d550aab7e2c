"""The portal's reason as a second target of the text model (incidents.domain.reason_routing).

Small synthetic histories (the Lipetsk test region): each complaint carries the portal's reason
beside its body, as St Petersburg's file does. The reason is learned, read back through the
reason → body table, and never asked of a post being routed."""

from __future__ import annotations

import csv
import random

import pytest

from core.config import load_region
from incidents.domain.reason_routing import ReasonPrior
from incidents.domain.text_routing import TextExample, TextRouter
from incidents.services.routing_text import REASON_WEIGHTS, learn_text_router, read_text_rows
from tests.conftest import LIPETSK

pytest.importorskip("sklearn")

# (phrases, reason, body): two reasons share a body; «мусор» goes by reason to two bodies
_KINDS = [
    (["яма на дороге", "разбитый асфальт", "провал на проезжей части"], "Ямы", "roads_region"),
    (["в квартире холодно", "батареи не греют", "нет отопления в доме"], "Отопление", "gzhi_lipetsk"),
    (["течёт крыша", "протечка с кровли", "капает с потолка"], "Кровля", "gzhi_lipetsk"),
    (["мусор во дворе", "свалка у подъезда", "контейнеры переполнены"], "Мусор", "adm_lipetsk"),
]
_TAILS = ["", " уже неделю", " просим принять меры", " сколько можно"]


def _history(path, n: int = 240, seed: int = 5, reasons: bool = True):
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "created_at", "text", "address", "body", *(["reason"] if reasons else [])])
        for i in range(n):
            phrases, reason, body = rnd.choice(_KINDS)
            when = f"2026-{1 + i * 3 // n:02d}-{1 + i % 27:02d}T10:00:00"
            row = [
                i + 1,
                when,
                rnd.choice(phrases) + rnd.choice(_TAILS),
                "г. Липецк, улица Гагарина, дом 5",
                body,
            ]
            w.writerow(row + ([reason] if reasons else []))
    return path


def _examples(n: int = 160) -> list[TextExample]:
    rnd = random.Random(11)
    out = []
    for _ in range(n):
        phrases, reason, body = rnd.choice(_KINDS)
        out.append(TextExample(rnd.choice(phrases) + rnd.choice(_TAILS), "", body, reason=reason))
    return out


def test_the_reason_table_follows_the_history_and_one_post_equals_the_batch():
    import numpy as np

    from incidents.domain.text_routing import PlaceParser

    examples = _examples()
    model = TextRouter.fit(examples, PlaceParser({}), c=0.3)
    prior = model.reason_prior
    assert prior is not None
    assert set(prior.reasons) == {"Ямы", "Отопление", "Кровля", "Мусор"}
    classes = [str(k) for k in model.classifier.classes_]
    assert np.allclose(prior.table.sum(axis=1), 1.0)
    for _phrases, reason, body in _KINDS:  # each reason's own body is by far its likeliest
        row = prior.table[prior.reasons.index(reason)]
        assert classes[int(row.argmax())] == body and row.max() > 0.9
    docs = model._docs([(t, "", None) for t in ("батареи не греют", "яма", "", "мусор во дворе уже неделю")])
    batch = model.margins(docs)
    for i, doc in enumerate(docs):
        assert np.allclose(model._one_scores(doc), batch[i])
    # the reason is predicted from the words alone
    r = prior.reason_margins(model.vectorizer.transform(docs[:1]))
    assert prior.top_reasons(r) == [("Отопление",)]


def test_no_reason_no_prior_and_a_model_pickled_before_reasons_routes():
    from incidents.domain.text_routing import PlaceParser

    plain = [TextExample(e.text, e.address, e.body) for e in _examples()]
    assert TextRouter.fit(plain, PlaceParser({})).reason_prior is None
    assert TextRouter.fit(_examples(), PlaceParser({}), reasons=False).reason_prior is None
    one = [TextExample(e.text, e.address, e.body, reason="Одна") for e in _examples()]
    assert TextRouter.fit(one, PlaceParser({})).reason_prior is None  # a single reason teaches nothing
    model = TextRouter.fit(_examples(), PlaceParser({}))
    with_prior = model.predict("течёт крыша")
    del model.reasons  # as a model pickled before the reasons: the slot is unset
    assert model.reason_prior is None
    before = model.predict("течёт крыша")
    assert with_prior is not None and before is not None
    assert with_prior.body == before.body == "gzhi_lipetsk"


def test_learn_reads_the_reason_column_and_chooses_the_weight_on_validation(tmp_path):
    cfg = load_region(LIPETSK)
    rows, _unknown = read_text_rows(cfg, _history(tmp_path / "h.csv"))
    assert {r.example.reason for r in rows} == {"Ямы", "Отопление", "Кровля", "Мусор"}
    model = learn_text_router(cfg, rows, points=False)
    weight = model.meta["reason_weight"]
    assert weight in REASON_WEIGHTS
    assert (model.reason_prior is None) == (weight == 0.0)
    assert model.meta["reasons"] is True
    d = model.predict("батареи не греют уже неделю", "г. Липецк, улица Гагарина, дом 5")
    assert d is not None and d.body == "gzhi_lipetsk"

    off = learn_text_router(cfg, rows, points=False, reasons=False)
    assert off.reason_prior is None and off.meta["reason_weight"] == 0.0 and off.meta["reasons"] is False
    rows, _unknown = read_text_rows(cfg, _history(tmp_path / "plain.csv", reasons=False))
    assert all(r.example.reason is None for r in rows)
    assert learn_text_router(cfg, rows, points=False).reason_prior is None


def test_two_reasons_give_two_margins():
    import numpy as np
    from scipy import sparse

    x = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]] * 10))
    prior = ReasonPrior.learn(x, ["a", "b"] * 10, ["p", "q"] * 10, ["p", "q"], c=1.0)
    assert prior is not None and prior.reasons == ("a", "b")
    m = prior.reason_margins(x[:2])
    assert m.shape == (2, 2) and m[0].argmax() == 0 and m[1].argmax() == 1
    assert np.allclose(prior.one_reason_margins([1], [1.0]), m[1])

"""`incidents train` and the model combined with the rules (signals.yaml → model)."""

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from cli.main import main  # noqa: E402
from core.config import SignalModelPolicy  # noqa: E402
from core.records import PostRecord  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data" / "dev_kursk" / "labels.jsonl"


def _post(text: str) -> PostRecord:
    return PostRecord(
        network="vk",
        external_id="1",
        source_id="vk_search",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="u1",
    )


def _with_model(cfg, path: Path):
    out = copy.copy(cfg)
    out.signals = cfg.signals.model_copy(update={"model": SignalModelPolicy(path=str(path))})
    return out


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "signals.pkl"
    assert main(["train", str(DEV), "-o", str(out)]) == 0
    return out


def test_train_writes_a_model_and_cross_validates(tmp_path, capsys):
    out = tmp_path / "m.pkl"
    assert main(["train", str(DEV), "-o", str(out), "--cv", "3", "--json"]) == 0
    import json

    d = json.loads(capsys.readouterr().out)
    assert out.is_file() and d["model"] == str(out)
    assert set(d["cv"]) == {"rules", "rules+model"}
    for s in d["cv"].values():
        assert 0.5 < s["f1"] <= 1 and s["category_n"] > 100


def test_the_builder_combines_the_model_with_the_rules(kursk, model_path):
    from pipelines.signals import SignalBuilder

    cfg = _with_model(kursk, model_path)
    b = SignalBuilder(cfg, use_ner=False, use_model=True)
    assert b.model is not None
    s = b(_post("Третий день нет воды на Хуторской в Курске, сколько можно?"))
    assert s.is_complaint and s.category == "water"
    assert any(r.startswith("model: p(complaint)") for r in s.reasons)
    ad = b(_post("Продам зимнюю резину R16, 4 шт, Курск, пишите в личку"))
    assert not ad.is_complaint
    # no rule fired: the model is not asked
    assert not any(r.startswith("model:") for r in b(_post("Доброе утро, куряне! Хорошего дня")).reasons)


def test_with_category_off_the_model_decides_complaints_and_the_rules_keep_the_category(kursk, model_path):
    """signals.yaml → model.category: false (the Kursk default): the model's p(complaint)
    decides, the category, subcategory and fact are exactly the rules'."""
    from pipelines.signals import SignalBuilder

    assert (
        kursk.signals.model is not None and kursk.signals.model.complaint and not kursk.signals.model.category
    )
    cfg = copy.copy(kursk)
    cfg.signals = kursk.signals.model_copy(
        update={"model": SignalModelPolicy(path=str(model_path), category=False)}
    )
    with_model = SignalBuilder(cfg, use_ner=False, use_model=True)
    rules = SignalBuilder(kursk, use_ner=False, use_model=False)
    texts = [
        "Третий день нет воды на Хуторской в Курске, сколько можно?",
        "На Резиновой яма на яме, вчера пробил колесо 😡 когда заасфальтируют",
        "В подъезде дома 6 на ул. Мира не работает лифт уже неделю, бабушки пешком на 9 этаж",
        "Мусор у контейнерной площадки на Союзной не вывозят с понедельника, крысы бегают",
    ]
    for text in texts:
        m, r = with_model(_post(text)), rules(_post(text))
        assert any(x.startswith("model: p(complaint)") for x in m.reasons)
        assert not any(x.startswith("model: category") for x in m.reasons)
        assert (m.category, m.subcategory, m.fact) == (r.category, r.subcategory, r.fact)
        assert m.category is not None


def test_a_missing_model_file_falls_back_to_the_rules(kursk, tmp_path):
    from pipelines.signals import SignalBuilder

    cfg = _with_model(kursk, tmp_path / "none.pkl")
    b = SignalBuilder(cfg, use_ner=False, use_model=True)
    assert b.model is None
    assert b(_post("Третий день нет воды на Хуторской в Курске, сколько можно?")).is_complaint


def test_model_train_on_first_use(kursk, tmp_path):
    """signals.yaml → model.train: a fresh clone trains the model into `path` on first use,
    deterministically (the same labels give the same probabilities)."""
    from incidents.services.training import signal_builder

    labels = str(ROOT / "config" / "regions" / "kursk" / "sample" / "labels.jsonl")
    probs = []
    for name in ("a.pkl", "b.pkl"):
        path = tmp_path / name
        cfg = copy.copy(kursk)
        cfg.signals = kursk.signals.model_copy(
            update={"model": SignalModelPolicy(path=str(path), train=[labels])}
        )
        builder = signal_builder(cfg, use_ner=False, use_model=True)
        assert path.is_file() and builder.model is not None
        s = builder(_post("Третий день нет воды на Сумской, 12, сколько можно"))
        probs.append(next(r for r in s.reasons if r.startswith("model:")))
    assert probs[0] == probs[1]


def test_first_use_training_leaves_out_the_category_classifier_when_it_is_off(kursk, tmp_path):
    """model.category: false (the Kursk default): nothing asks the category classifier, so the
    first-use training does not fit it; the complaint classifier decides as before."""
    from incidents.services.training import signal_builder

    labels = str(ROOT / "config" / "regions" / "kursk" / "sample" / "labels.jsonl")
    models = {}
    for category in (False, True):
        cfg = copy.copy(kursk)
        cfg.signals = kursk.signals.model_copy(
            update={
                "model": SignalModelPolicy(
                    path=str(tmp_path / f"{category}.pkl"), train=[labels], category=category
                )
            }
        )
        models[category] = signal_builder(cfg, use_ner=False, use_model=True)
    assert models[False].model.category is None and models[True].model.category is not None
    text = "Третий день нет воды на Сумской, 12, сколько можно"
    reasons = [
        next(r for r in b(_post(text)).reasons if r.startswith("model: p(complaint)"))
        for b in models.values()
    ]
    assert reasons[0] == reasons[1]


def test_the_kursk_config_trains_its_model_from_the_team_labels(kursk):
    assert kursk.signals.model is not None
    assert all((ROOT / p).is_file() for p in kursk.signals.model.train)


def test_a_model_trained_from_other_labels_is_trained_again(kursk, tmp_path):
    """The file on disk remembers what it was trained from: the same labels and rules reuse it,
    changed labels (or rules) train it again instead of deciding with a stale model."""
    from incidents.services.training import signal_builder
    from pipelines import model as _model
    from pipelines.signals import training_fingerprint

    sample = ROOT / "config" / "regions" / "kursk" / "sample"
    own = tmp_path / "labels"
    own.mkdir()
    (own / "posts.jsonl").write_bytes((sample / "posts.jsonl").read_bytes())
    (own / "labels.jsonl").write_bytes((sample / "labels.jsonl").read_bytes())
    path = tmp_path / "m.pkl"
    cfg = copy.copy(kursk)
    cfg.signals = kursk.signals.model_copy(
        update={"model": SignalModelPolicy(path=str(path), train=[str(own / "labels.jsonl")])}
    )
    signal_builder(cfg, use_ner=False, use_model=True)
    first = _model.load(path).meta["fingerprint"]
    assert first == training_fingerprint(cfg, [str(own / "labels.jsonl")])
    stamp = path.stat().st_mtime_ns
    signal_builder(cfg, use_ner=False, use_model=True)
    assert path.stat().st_mtime_ns == stamp  # reused
    lines = (own / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    (own / "labels.jsonl").write_text("\n".join(lines[:-5]) + "\n", encoding="utf-8")  # a label file changed
    signal_builder(cfg, use_ner=False, use_model=True)
    assert _model.load(path).meta["fingerprint"] not in (None, first)

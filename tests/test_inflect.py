"""Body names in the case a reply needs (issue 18): «передано в Администрацию города Курска»."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.inflect import inflect_name
from pipelines.lemmas import morph

ROOT = Path(__file__).resolve().parents[1]


def _names() -> list[str]:
    out: list[str] = []
    for region in ("kursk", "spb"):
        data = yaml.safe_load((ROOT / "config" / "regions" / region / "bodies.yaml").read_text("utf-8"))
        bodies = data["bodies"] if isinstance(data, dict) else data
        out.extend(b["name"] for b in bodies)
    return out


NAMES = _names()


@pytest.mark.parametrize(
    ("name", "accs"),
    [
        ("Администрация города Курска", "Администрацию города Курска"),
        ("Комитет городского хозяйства города Курска", "Комитет городского хозяйства города Курска"),
        (
            "Государственная жилищная инспекция Курской области",
            "Государственную жилищную инспекцию Курской области",
        ),
        ("Центр управления регионом Курской области", "Центр управления регионом Курской области"),
        ("Администрация г. Обояни", "Администрацию г. Обояни"),
        (
            "Служба государственного строительного надзора и экспертизы Санкт-Петербурга",
            "Службу государственного строительного надзора и экспертизы Санкт-Петербурга",
        ),
        (
            "Государственная административно-техническая инспекция",
            "Государственную административно-техническую инспекцию",
        ),
        (
            "Муниципальное казенное учреждение «Городская инспекция по жилищно-коммунальному хозяйству и благоустройству»",
            "Муниципальное казенное учреждение «Городская инспекция по жилищно-коммунальному хозяйству и благоустройству»",
        ),
        (
            "СПб ГКУ «Специализированная служба Санкт-Петербурга по вопросам похоронного дела»",
            "СПб ГКУ «Специализированная служба Санкт-Петербурга по вопросам похоронного дела»",
        ),
        ("ООО `УК Курска`", "ООО `УК Курска`"),
    ],
)
def test_sample_names_in_the_accusative(name: str, accs: str) -> None:
    assert inflect_name(name, "accs") == accs


def test_other_cases() -> None:
    assert inflect_name("Администрация города Курска", "gent") == "Администрации города Курска"
    assert (
        inflect_name("Комитет по культуре Курской области", "datv") == "Комитету по культуре Курской области"
    )
    assert inflect_name("Жилищный комитет", "ablt") == "Жилищным комитетом"


def _head_is_feminine_a(name: str) -> bool:
    """The name starts with (adjectives and) a feminine singular noun in -а/-я."""
    for word in name.split():
        parses = [p for p in morph().parse(word.lower()) if p.tag.case == "nomn" and p.tag.number == "sing"]
        noun = next((p for p in parses if p.tag.POS == "NOUN"), None)
        adj = next((p for p in parses if p.tag.POS in ("ADJF", "PRTF")), None)
        if noun is not None and adj is None:
            return noun.tag.gender == "femn" and word[-1] in "ая" and not word.isupper()
        if adj is None:
            return False
    return False


@pytest.mark.parametrize("name", NAMES)
def test_every_body_name_in_the_accusative(name: str) -> None:
    accs = inflect_name(name, "accs")
    before, after = name.split(), accs.split()
    assert len(before) == len(after)  # one word for one word
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if changed:  # only the head phrase: the first words, up to and including the first noun
        assert changed == list(range(len(changed)))
        assert all(before[i][:1] == after[i][:1] for i in changed)  # the same word, capitals kept
        tail = max(changed) + 1
        assert before[tail:] == after[tail:]
    if _head_is_feminine_a(name):
        assert accs != name, f"{name!r} in the accusative must differ: {accs!r}"
        assert after[changed[-1]][-1] in "ую", accs

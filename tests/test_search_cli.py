"""`incidents index` and `incidents search` as a shell user meets them: posts processed from
the bundled Kursk sample and a few new Russian posts, found by any inflected form; the embedded
index without Elasticsearch, and the same commands against a local fake Elasticsearch."""

import json
import re

import pytest

from cli.main import main
from tests.conftest import KURSK, LIPETSK
from tests.fakes.elasticsearch import FakeElasticsearch

SEARCH_ENV = (
    "ELASTICSEARCH_URL",
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
    "KIBANA_URL",
)

# New posts, written the way residents write: the forms the sample lacks («ямам»), caps, ё, emoji.
NEW_POSTS = [
    {
        "network": "vk",
        "external_id": "-170000001_90001",
        "source_id": "vk_kursk_online",
        "text": "Ямам на улице Сумской уже третий год! Курск, ул. Сумская, д. 12 — ни одна служба не реагирует 🤬",
        "created_at": "2026-11-22T08:15:00+03:00",
    },
    {
        "network": "ok",
        "external_id": "54000000111_900",
        "source_id": "ok_zheleznogorsk",
        "text": "Опять ЯМЫ на ул. Мира, д. 6 в Железногорске, колесо пробил!!! Когда починят?",
        "created_at": "2026-11-22T10:40:00+03:00",
    },
    {
        "network": "telegram",
        "external_id": "kursk_chat/99001",
        "source_id": "tg_kursk_chat",
        "text": "в ямах на Кати Зеленко вода стоит по колено, ёлки-палки, детей в школу не провести",
        "created_at": "2026-11-21T19:05:00+03:00",
    },
    {
        "network": "pos",
        "external_id": "pos-5170001",
        "source_id": "pos",
        "text": "Прошу отремонтировать покрытие: у дома 3 по ул. Ленина г. Льгова образовалась яма глубиной 20 см.",
        "created_at": "2026-11-20T12:00:00+03:00",
    },
    {
        "network": "vk",
        "external_id": "-170000001_90002",
        "source_id": "vk_kursk_online",
        "text": "Ремонт на Ямской улице завершён, спасибо подрядчику. Песня «Ямщик, не гони лошадей» звучала весь вечер",
        "created_at": "2026-11-22T12:00:00+03:00",
    },
]


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _jsonl(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in SEARCH_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def kursk_posts(tmp_path_factory) -> tuple:
    """The sample posts that mention a pit in any form, plus the new posts: one JSONL file."""
    lines = []
    for line in (KURSK / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines():
        if re.search(r"(?i)(?<![а-яё])ям", json.loads(line)["text"]):
            lines.append(line)
    assert len(lines) >= 20
    for p in NEW_POSTS:
        lines.append(
            json.dumps(
                {
                    "parent_id": None,
                    "url": None,
                    "author_id": None,
                    "author_name": None,
                    "likes": 0,
                    "reposts": 0,
                    "views": 0,
                    **p,
                },
                ensure_ascii=False,
            )
        )
    path = tmp_path_factory.mktemp("kursk") / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    texts = {f"{d['network']}:{d['external_id']}": d["text"] for d in map(json.loads, lines)}
    return path, texts


def test_processed_posts_are_found_by_any_inflected_form(clean_env, kursk_posts, capsys):
    path, texts = kursk_posts
    clean_env.setenv("INCIDENTS_CONFIG", str(KURSK))
    code, out, _ = _run(capsys, "import", str(path))
    assert code == 0 and f"новых {len(texts)}" in out and "обработано постов" in out

    code, out, _ = _run(capsys, "search", "яма", "--format", "jsonl", "--limit", "100")
    hits = _jsonl(out)
    assert code == 0
    found = {h["post_key"] for h in hits}
    forms = {w.lower() for k in found for w in re.findall(r"(?i)(?<![а-яё])ям[а-яё]*", texts[k])}
    assert {"ямам", "ямы", "яму", "ямах", "яма"} <= forms
    assert {
        "vk:-170000001_90001",
        "ok:54000000111_900",
        "telegram:kursk_chat/99001",
        "pos:pos-5170001",
    } <= found
    assert "vk:-170000001_90002" not in found  # «Ямской», «Ямщик» are other words
    assert len(found) >= 20
    # Any form of the query finds the same posts; so does the ё-less spelling of an ё word.
    code, out, _ = _run(capsys, "search", "ЯМАМ", "--format", "jsonl", "--limit", "100")
    assert {h["post_key"] for h in _jsonl(out)} == found
    code, out, _ = _run(capsys, "search", "елки-палки", "--format", "jsonl")
    assert [h["post_key"] for h in _jsonl(out)] == ["telegram:kursk_chat/99001"]

    # Filters: network, category, municipality (code or name), dates (a bare date is a whole local day).
    code, out, _ = _run(
        capsys, "search", "яма", "--network", "telegram", "--format", "jsonl", "--limit", "100"
    )
    tg = _jsonl(out)
    assert (
        tg
        and {h["network"] for h in tg} == {"telegram"}
        and "telegram:kursk_chat/99001" in {h["post_key"] for h in tg}
    )
    code, out, _ = _run(capsys, "search", "яма", "--category", "roads", "--format", "jsonl", "--limit", "100")
    roads = _jsonl(out)
    assert roads and all(h["category"] == "roads" for h in roads)
    code, out, _ = _run(
        capsys, "search", "яма", "--municipality", "Курск", "--format", "jsonl", "--limit", "100"
    )
    kursk_city = _jsonl(out)
    assert kursk_city and all(h["municipality"] == "kursk" for h in kursk_city)
    assert "vk:-170000001_90001" in {h["post_key"] for h in kursk_city}
    code, out, _ = _run(
        capsys,
        "search",
        "яма",
        "--since",
        "2026-11-22",
        "--until",
        "2026-11-22",
        "--format",
        "jsonl",
        "--limit",
        "100",
    )
    day = _jsonl(out)
    assert {"vk:-170000001_90001", "ok:54000000111_900"} <= {h["post_key"] for h in day}
    assert all(
        h["created_at"] >= "2026-11-21T21:00:00" and h["created_at"] < "2026-11-22T21:00:00" for h in day
    )
    assert _run(capsys, "search", "яма", "--municipality", "Атлантида")[0] == 2
    assert _run(capsys, "search", "яма", "--since", "вчера")[0] == 2

    # The table a person reads says which engine answered.
    code, out, _ = _run(capsys, "search", "ямы", "--limit", "3")
    assert code == 0 and "Найдено: 3 (встроенный индекс)" in out


def test_index_without_elasticsearch_updates_the_embedded_index(clean_env, capsys):
    clean_env.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"), "--no-process")[0] == 0
    code, out, err = _run(capsys, "index")
    assert code == 0 and "ELASTICSEARCH_URL" in err and "встроенный индекс: обновлено постов 14" in out
    code, out, _ = _run(capsys, "index", "--full", "--embedded")
    assert code == 0 and "обновлено постов 14" in out


@pytest.fixture
def es():
    fake = FakeElasticsearch()
    yield fake
    fake.close()


def test_index_and_search_with_elasticsearch(clean_env, es, capsys):
    clean_env.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    clean_env.setenv("ELASTICSEARCH_URL", es.url)
    code, out, err = _run(capsys, "index")
    assert code == 0, err
    assert "посты (полная): отправлено 14, проиндексировано 14" in out
    assert "инциденты (полная)" in out
    posts = es.all_docs("incidents-posts-*")
    assert len(posts) == 14 and es.all_docs("incidents-incidents")
    assert set(es.templates) == {"incidents-posts", "incidents-incidents"} and "incidents-posts" in es.ilm

    # Again at once: rows changed within the overlap window are sent again; the index is the same.
    before = {k: {f: v for f, v in d.items() if f != "indexed_at"} for k, d in posts.items()}
    code, out, _ = _run(capsys, "index")
    assert code == 0 and "посты (с курсора)" in out
    after = {
        k: {f: v for f, v in d.items() if f != "indexed_at"}
        for k, d in es.all_docs("incidents-posts-*").items()
    }
    assert after == before

    # A document Elasticsearch refuses for good: recorded, shown, exit 3.
    key = next(iter(sorted(posts)))
    es.reject_item(key, 400, "document_parsing_exception", "failed to parse field [text] of type [text]")
    code, out, err = _run(capsys, "index", "--full")
    assert code == 3 and "удалены индексы" in out and "отклонено 1" in out and "quarantine list" in err
    code, out, _ = _run(capsys, "quarantine", "list")
    assert "search:posts" in out and key.split(":")[1][:6] in out

    # Search is answered by Elasticsearch; --embedded asks the local index instead.
    es.reset_requests()
    code, out, _ = _run(capsys, "search", "нет воды", "--category", "water", "--format", "jsonl")
    assert code == 0 and _jsonl(out)
    body = es.requests[-1].json
    assert es.requests[-1].path == "/incidents-posts-*/_search"
    assert {"term": {"category": "water"}} in body["query"]["bool"]["filter"]
    code, out, _ = _run(capsys, "search", "вода", "--embedded", "--limit", "2")
    assert code == 0 and "(встроенный индекс)" in out

    # Elasticsearch gone: a clear message and exit 1, not a traceback.
    es.close()
    code, _, err = _run(capsys, "search", "вода")
    assert code == 1 and "Elasticsearch" in err

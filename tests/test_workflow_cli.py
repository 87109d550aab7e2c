"""The workflow commands as a duty officer meets them: who acts, what is refused, the dry run."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from cli.main import main
from tests.conftest import LIPETSK


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    for var in (
        "DATABASE_URL",
        "INCIDENTS_USER",
        "VK_REPLY_TOKEN",
        "VK_TOKEN",
        "OK_ACCESS_TOKEN",
        "TELEGRAM_SESSION",
        "POS_TOKEN",
        "POS_BASE_URL",
        "SMTP_HOST",
        "TELEGRAM_BOT_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_assign_reply_publish_dry_run_watch_and_report(env, capsys):
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    _, out, _ = _run(capsys, "export", "incidents")
    water = next(json.loads(x) for x in out.splitlines() if "Катукова" in x)
    iid = str(water["id"])
    assert _run(capsys, "user", "add", "moder", "--role", "moderator")[0] == 0
    assert (
        _run(
            capsys,
            "user",
            "add",
            "gzhi",
            "--role",
            "executor",
            "--body",
            "gzhi_lipetsk",
            "--email",
            "gzhi@example.org",
        )[0]
        == 0
    )
    assert _run(capsys, "user", "add", "nobody", "--role", "executor")[0] == 2  # an executor needs a body
    code, out, _ = _run(capsys, "user", "list")
    assert code == 0 and "gzhi_lipetsk" in out

    code, _, err = _run(capsys, "assign", iid, "gzhi_lipetsk", "--reason", "проверка")
    assert code == 2 and "--by" in err
    code, _, err = _run(capsys, "reply", iid, "--template", "generic", "--by", "gzhi")
    assert code == 2 and "отказано" in err  # not assigned to their body yet
    code, out, _ = _run(
        capsys, "assign", iid, "gzhi_lipetsk", "--reason", "подвал МКД — жилинспекция", "--by", "moder"
    )
    assert code == 0 and "Государственная жилищная инспекция" in out
    code, out, _ = _run(capsys, "queue", "--by", "gzhi")
    assert code == 0 and f"│ {iid} " in out and "ответ " in out  # Lipetsk runs only the 24-hour clock
    code, out, _ = _run(capsys, "queue", "--by", "moder")
    assert code == 0 and int(out.split("Очередь moder: ")[1].split()[0]) >= 4
    # the deadline given must be ahead (a passed date is never promised: issue 18); the body's
    # name is in the accusative after «в» (the old expectation, «в Государственная…», was the bug)
    ahead = datetime.now(UTC).date() + timedelta(days=30)
    code, out, _ = _run(
        capsys, "reply", iid, "--template", "generic", "--deadline", ahead.isoformat(), "--by", "gzhi"
    )
    assert code == 0 and "Государственную жилищную инспекцию Липецкой области" in out
    assert f"{ahead:%d.%m.%Y}" in out
    # Lipetsk needs no approval: the executor publishes; without credentials the outbox is a dry run
    code, out, _ = _run(capsys, "publish", "--incident", iid, "--by", "gzhi")
    assert code == 3 and "пробный режим (dry run)" in out and "не отправлено" in out
    assert "не считается отвеченным" in out  # 0 replies sent: not answered (issue 18)
    code, _, err = _run(capsys, "resolve", iid, "--by", "gzhi")
    assert code == 2 and "решён" in err
    code, out, _ = _run(capsys, "replies", "--incident", iid)
    assert code == 0 and "в очереди" in out
    code, _, err = _run(capsys, "close", iid, "--by", "gzhi")
    assert code == 2 and "не может закрывать" in err

    code, out, _ = _run(capsys, "sla-watch", "--dry-run")
    assert code == 0 and "проверено инцидентов" in out
    code, out, _ = _run(capsys, "sla-report", "--json", "--days", "100000")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and any(r["key"] == "gzhi_lipetsk" for r in rows)
    assert all({"share_in_time", "median_hours_to_answer", "overdue", "rated"} <= set(r) for r in rows)
    code, out, _ = _run(capsys, "sla-report", "--by", "municipality")
    assert code == 0 and "Липецк" in out

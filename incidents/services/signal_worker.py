"""Signals built ahead, in a second process, while the processing process writes.

The signal stage (normalize → filter → entities → NER → decision) is a pure function of the
post; it was about a third of the processing time on one core, next to the clustering, the
writes and the card refresh, which need the database and the order of posts. So while the
processor clusters and writes batch k, one worker process builds the signals of batch k+1
(a bounded pipeline: one batch ahead, never more). Nothing of the worker is trusted blindly:

* the processor rereads each batch from storage as before and uses a built signal only for a
  post whose record is unchanged (`PostRecord` equality); any other post is built in place;
* the worker builds without the thread's place (the post a reply answers may be in the very
  batch being written); the processor adds it afterwards (`SignalBuilder.rethread`, the
  last step of the decision, cheap), so the signal is the one the single process builds;
* a post whose analysis failed comes back as None and is built again in place, where it
  fails the same way and is quarantined as before;
* the worker writes nothing: a crash or SIGKILL of either process loses at most the open
  batch's transaction, exactly as with one process, and the rerun starts a new worker.

The worker is `python -m incidents.services.signal_worker`, fed pickled batches on its stdin and answering
on its stdout (not `multiprocessing`, whose spawn start re-runs the caller's main script). It
ends when its stdin closes, so a processor killed on its own leaves no worker behind.
`signals.workers: 0` in the region's `signals.yaml` (or `Processor(workers=0)`) switches it off.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.config import RegionConfig
from core.records import PostRecord, SignalRecord

log = logging.getLogger(__name__)
_ROOT = Path(__file__).resolve().parents[2]


class WorkerFailed(RuntimeError):
    pass


class Pending:
    """The signals of one batch being built; `result()` waits for them."""

    def __init__(self, worker: SignalWorker, records: dict[int, PostRecord]) -> None:
        self.worker = worker
        self.records = records
        self.done = False

    def result(self) -> list[SignalRecord | None]:
        self.done = True
        self.worker.outstanding -= 1
        return self.worker._receive()


class SignalWorker:
    """One process building the signals of the next batch; `submit` returns a `Pending`."""

    def __init__(self, cfg: RegionConfig, *, use_ner: bool) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incidents.services.signal_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_ROOT,
        )
        self.outstanding = 0
        self._send((cfg, use_ner))

    def _send(self, obj: Any) -> None:
        stdin = self.proc.stdin
        assert stdin is not None  # started with stdin=PIPE
        try:
            pickle.dump(obj, stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerFailed(f"the signal worker is gone ({exc})") from exc

    def _receive(self) -> list[SignalRecord | None]:
        stdout = self.proc.stdout
        assert stdout is not None  # started with stdout=PIPE
        try:
            kind, payload = pickle.load(stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise WorkerFailed(f"the signal worker is gone (exit code {self.proc.poll()})") from exc
        if kind != "ok":
            raise WorkerFailed(payload)
        return payload

    def submit(self, records: dict[int, PostRecord]) -> Pending:
        self._send(list(records.values()))
        self.outstanding += 1
        return Pending(self, records)

    def close(self) -> None:
        if self.outstanding:  # a batch nobody will read: no need to wait for it
            self.proc.kill()
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def _serve() -> None:  # pragma: no cover - runs in the worker process
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    inp = sys.stdin.buffer
    from incidents.services.training import signal_builder

    cfg, use_ner = pickle.load(inp)
    builder = signal_builder(cfg, use_ner=use_ner)
    while True:
        try:
            posts = pickle.load(inp)
        except EOFError:
            return
        try:
            sigs = builder.build_many(posts)
            answer: tuple[str, Any] = ("ok", [None if isinstance(s, Exception) else s for s in sigs])
        except Exception as exc:  # noqa: BLE001 - reported to the processor, which builds in place
            answer = ("error", f"{type(exc).__name__}: {exc}")
        # pickled whole before writing: the pipe fills until the processor reads, and the
        # pickling must not wait for that (it would then run on the processor's time)
        out.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        out.flush()


if __name__ == "__main__":
    _serve()

"""Docs that stay true: every config key and every CLI command is documented."""

import re

from pydantic import BaseModel

from cli.main import build_parser
from core.config import FILES, OPTIONAL_FILES
from tests.conftest import ROOT


def _keys(model: type[BaseModel], seen: set) -> set[str]:
    import typing

    out: set[str] = set()
    for name, field in model.model_fields.items():
        out.add(name)
        stack = [field.annotation]
        while stack:
            t = stack.pop()
            stack.extend(typing.get_args(t))
            if isinstance(t, type) and issubclass(t, BaseModel) and t not in seen:
                seen.add(t)
                out |= _keys(t, seen)
    return out


def test_every_config_key_is_documented():
    doc = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    for fname, model in {**FILES, **OPTIONAL_FILES}.items():
        assert f"## {fname}" in doc, f"config/README.md has no section for {fname}"
        section = doc.split(f"## {fname}", 1)[1].split("\n## ", 1)[0]
        if fname == "rubricator.yaml":
            section = doc  # rule keys are described once
        missing = sorted(k for k in _keys(model, {model}) if f"`{k}`" not in section)
        assert not missing, f"{fname}: undocumented keys {missing}"


def test_every_cli_command_is_in_the_readme():
    # the command reference moved from README.md to docs/contracts.md (the README links to it)
    readme = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert re.search(rf"incidents (\S+ )*{re.escape(name)}\b", readme), (
            f"docs/contracts.md does not mention `incidents {name}`"
        )

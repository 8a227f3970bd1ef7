"""The README's examples run, and the playground table it quotes is what the playground prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    """The fenced code blocks whose opening fence names `lang` ("" for a bare fence)."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in README.read_text().splitlines():
        if current is None and line.startswith("```"):
            current = [] if line[3:].strip() == lang else None
            if current is None:  # skip to this other block's closing fence
                current = ["<skip>"]
        elif current is not None and line.startswith("```"):
            if current[:1] != ["<skip>"]:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.mark.slow
def test_readme_python_examples_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write checkpoints and pictures
    namespace: dict[str, object] = {"__name__": "readme"}
    blocks = _blocks("python")
    assert len(blocks) >= 5
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"README python block {i + 1} failed: {exc!r}\n{code}") from exc
    assert namespace["accuracy"] > 0.93
    assert namespace["scores"]["accuracy"] > 0.95
    assert namespace["keras_accuracy"] > 0.95
    assert (tmp_path / "digits.safetensors").exists()
    assert (tmp_path / "saddle-out" / "contour.png").exists()


def test_readme_playground_table_is_what_the_playground_prints() -> None:
    from descentlab.lab import run_playground

    quoted = next(b for b in _blocks("") if b.startswith("rosenbrock:")).strip().splitlines()
    printed = run_playground("rosenbrock").format_table().strip().splitlines()

    def without_time(lines: list[str]) -> list[str]:  # wall time is the one column that varies
        return [re.sub(r"\s+[\d.]+$", "", line) if line[:1].isalpha() else line for line in lines]

    assert quoted[0].startswith("rosenbrock: ")  # the CLI prints the surface above the table
    assert without_time(printed) == without_time(quoted[1:])

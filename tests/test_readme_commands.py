"""The README's two commands are the ones CI and the demo use."""
import re

from conftest import PROJECT_ROOT


def _first_code_block():
    text = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_the_main_job_and_the_test_command():
    commands = _first_code_block()
    assert len(commands) == 2
    assert commands[0].startswith("bash scripts/bootstrap.sh && .venv/bin/mixformerv2 demo")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert _first_code_block()[1] in ci.splitlines()

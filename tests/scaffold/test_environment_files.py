"""pyproject.toml, environment.yml and the Makefile describe one environment."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from mlpractice.notebooks import NOTEBOOK_ENV

pytestmark = pytest.mark.scaffold
ROOT = Path(__file__).resolve().parents[2]


def pyproject_deps():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def conda_pip_deps():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return [d for d in pip if d != "-e ."], env


def test_environment_yml_installs_the_same_packages_as_pyproject():
    pip, env = conda_pip_deps()
    assert sorted(pip) == sorted(pyproject_deps()), "keep environment.yml's pip list equal to pyproject.toml"
    assert "-e ." in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == "python" + requires


def test_torch_stays_on_the_cpu_wheel_range():
    assert "torch>=2.4,<2.14" in pyproject_deps()


def test_every_dependency_is_a_range_not_a_pin():
    for dep in pyproject_deps():
        assert "==" not in dep, f"{dep}: pin a range, not an exact version"


def test_makefile_exports_the_notebook_environment():
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", (ROOT / "Makefile").read_text(), re.M))
    assert exports == NOTEBOOK_ENV

"""The environment check and the implementation switch."""
import pytest

from mlpractice import doctor, impl

pytestmark = pytest.mark.scaffold


def test_doctor_reports_every_check_ok_on_this_machine(capsys):
    assert doctor.main() == 0
    out = capsys.readouterr().out
    for name, _ in doctor.CHECKS:
        assert f"{name}" in out
    assert "FAIL" not in out


def test_doctor_keeps_going_after_a_failure_and_exits_nonzero(capsys):
    def broken():
        raise RuntimeError("no gloo here")

    checks = [("first", broken), ("second", lambda: "fine")]
    assert doctor.main(checks) == 1
    out = capsys.readouterr().out
    assert "first   FAIL    RuntimeError: no gloo here" in out
    assert "second  OK      fine" in out


def test_impl_switch_validates_its_input(monkeypatch):
    monkeypatch.setenv(impl.ENV_VAR, "answers")
    with pytest.raises(ValueError, match="unknown implementation 'answers'"):
        impl.current()
    assert impl.current("exercises") == "exercises"
    with pytest.raises(ValueError, match="no exercise 7"):
        impl.package_of(7)

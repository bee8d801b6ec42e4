"""A mock interview end to end (mlpractice/interview.py, interview_report.py), in a throwaway checkout:
start at the interview level, checks logged with the elapsed time, the report, asking before discarding
work, and `make reset` back to the guided level."""
import json
import re
import time

import pytest

from mlpractice import interview, interview_report, progress

from .checkout import make_checkout, run_in

pytestmark = pytest.mark.scaffold


def test_a_check_is_logged_only_while_a_session_runs(tmp_path):
    assert interview.record_check(2, {"2.1": ("passed", "")}, root=tmp_path) is None
    (tmp_path / "ex2.json").write_text(json.dumps({"exercise": 2, "package": "serving", "started": 1000.0,
                                                   "budget_minutes": 90}))
    line = interview.record_check(2, {"2.1": ("passed", ""), "2.2": ("FAILED", "t::x: assert 1 == 2")},
                                  now=lambda: 1000.0 + 30 * 60, root=tmp_path)
    assert line == "interview, exercise 2: 30 of 90 minutes (1 of 2 parts pass)"
    [entry] = interview.read_log(2, tmp_path)
    assert entry["elapsed_s"] == 1800.0 and entry["parts"]["2.2"] == {"status": "FAILED", "detail": "t::x: assert 1 == 2"}


def test_the_report_shows_the_timeline_the_scoreboard_the_failures_and_the_answers():
    entries = [{"elapsed_s": 600, "parts": {"2.1": {"status": "FAILED", "detail": "a::b: boom <x>"},
                                            "2.2": {"status": "not attempted", "detail": ""}}},
               {"elapsed_s": 3000, "parts": {"2.1": {"status": "passed", "detail": ""},
                                             "2.2": {"status": "FAILED", "detail": "c::d: off by one"}}}]
    png = interview_report.timeline(entries, 90)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = interview_report.page(2, entries, 90, png, "**Q?** An `answer`.")
    assert "2 checks over 50 minutes of a 90-minute budget" in page and "1 of 2 parts pass" in page
    assert "c::d: off by one" in page and "boom" not in page  # the failures of the last check only
    assert "<b>Q?</b> An <code>answer</code>." in page and "50 min" in page  # when 2.1 first passed


def test_every_exercise_has_an_interview_level_and_a_model_answer_per_follow_up_question():
    text = (interview.generate.ROOT / "EXERCISES.md").read_text()
    for exercise, (package, notebook) in interview.generate.EXERCISES.items():
        assert interview.components(package), f"exercise {exercise} has no interview level"
        cells = json.loads((interview.generate.ROOT / "notebooks" / notebook).read_text())["cells"]
        questions = sum("".join(c["source"]).count("**Interview follow-up") for c in cells if c["cell_type"] == "markdown")
        answers = re.findall(r"^\*\*[^*]+\(section [^)]+\)\.\*\*", interview_report.answers(exercise, text), re.M)
        assert questions >= 5 and len(answers) == questions, (exercise, questions, answers)


@pytest.mark.timeout(300)
def test_a_mock_interview_from_start_to_report_and_back(tmp_path):
    checkout = make_checkout(tmp_path / "repo")
    run = lambda *args, **kw: run_in(checkout, "-m", "mlpractice", *args, timeout=240, **kw)
    started = run("interview", "2", "--yes")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "90 minutes" in started.stdout and "2.1, 2.2: the dynamic batcher" in started.stdout
    exercises = checkout / "exercises"
    assert progress.level_of("serving", exercises) == "interview"
    state = checkout / ".interview" / "ex2.json"
    session = json.loads(state.read_text())
    state.write_text(json.dumps({**session, "started": time.time() - 40 * 60}))  # as if 40 minutes had passed
    checked = run("check", "2", "--req", "2.5")
    assert "interview, exercise 2: 40 of 90 minutes" in checked.stdout, checked.stdout[-3000:]
    report = run("interview-report", "2")
    assert report.returncode == 0, report.stdout + report.stderr
    html_text = (checkout / ".interview" / "ex2-report.html").read_text()
    assert "Mock interview, exercise 2" in html_text and "data:image/png;base64," in html_text
    # work in progress: a second `make interview` asks before discarding it
    (exercises / "serving" / "batcher.py").write_text((exercises / "serving" / "batcher.py").read_text() + "\n# mine\n")
    again = run_in(checkout, "-m", "mlpractice", "interview", "2", timeout=60, input="n\n")
    assert again.returncode == 1 and "nothing changed" in again.stdout
    assert "# mine" in (exercises / "serving" / "batcher.py").read_text()
    reset = run("reset", "2")
    assert reset.returncode == 0 and progress.level_of("serving", exercises) == "guided"
    assert not state.exists() and (checkout / ".interview" / "ex2.jsonl").exists()  # the log stays

"""The guided level's region markers in solution files (generate.py writes the stubs; levels.py
attributes an interview-level stub to the region its function held)."""
import re

BEGIN = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\s+\[(?P<ex>\d+)\.(?P<req>\d+)\]\s+(?P<task>.+?)"
    r"(?:\s+\(section (?P<section>[^)]+)\))?\s*$"
)
BEGIN_LOOSE = re.compile(r"^\s*# BEGIN SOLUTION\b")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT = re.compile(r"^\s*# HINT:\s?(?P<text>.*)$")

"""Seeded code-generation tasks for pass@k (exercise 1, part 1.10): each with its tests, a correct
program, plausible wrong ones, and hostile programs that a sandbox must turn into failed samples.

`samples(seed, n)` plays a code model: for every task it draws n programs, each correct with the
task's own probability (some tasks are harder than others), else one of the wrong or hostile ones.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    prompt: str
    tests: str
    correct: str
    wrong: tuple[str, ...]
    p_correct: float  # how often the pretend model gets it right


TASKS = [
    Task("add", "def add(a, b): return the sum of a and b",
         "assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert add(0.5, 0.25) == 0.75\n",
         "def add(a, b):\n    return a + b\n",
         ("def add(a, b):\n    return a - b\n", "def add(a, b):\n    return int(a) + int(b)\n"), 0.9),
    Task("is_palindrome", "def is_palindrome(s): True if s reads the same backwards, ignoring case and spaces",
         "assert is_palindrome('Never odd or even')\nassert not is_palindrome('abca')\nassert is_palindrome('')\n",
         "def is_palindrome(s):\n    t = s.replace(' ', '').lower()\n    return t == t[::-1]\n",
         ("def is_palindrome(s):\n    return s == s[::-1]\n",
          "def is_palindrome(s):\n    t = s.lower()\n    return t == t[::-1]\n"), 0.6),
    Task("fizzbuzz", "def fizzbuzz(n): the strings for 1..n, Fizz for multiples of 3, Buzz of 5, FizzBuzz of both",
         "assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']\nassert fizzbuzz(15)[-1] == 'FizzBuzz'\n"
         "assert fizzbuzz(0) == []\n",
         "def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
         "        out.append('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else str(i))\n"
         "    return out\n",
         ("def fizzbuzz(n):\n    return ['Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else str(i) for i in range(1, n + 1)]\n",
          "def fizzbuzz(n):\n    return [str(i) for i in range(n)]\n"), 0.5),
    Task("second_largest", "def second_largest(xs): the second largest distinct value, None if there is none",
         "assert second_largest([3, 1, 3, 2]) == 2\nassert second_largest([1, 4, 2, 3]) == 3\n"
         "assert second_largest([5]) is None\n"
         "assert second_largest([-1, -1]) is None\n",
         "def second_largest(xs):\n    distinct = sorted(set(xs))\n    return distinct[-2] if len(distinct) > 1 else None\n",
         ("def second_largest(xs):\n    return sorted(xs)[-2] if len(xs) > 1 else None\n",
          "def second_largest(xs):\n    distinct = sorted(set(xs))\n    return distinct[1] if len(distinct) > 1 else None\n"),
         0.3),
    Task("merge_intervals", "def merge_intervals(xs): merge overlapping [start, end] intervals, sorted by start",
         "assert merge_intervals([[1, 3], [2, 6], [8, 10]]) == [[1, 6], [8, 10]]\n"
         "assert merge_intervals([[5, 6], [1, 5]]) == [[1, 6]]\nassert merge_intervals([]) == []\n",
         "def merge_intervals(xs):\n    out = []\n    for s, e in sorted(xs):\n"
         "        if out and s <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], e)\n"
         "        else:\n            out.append([s, e])\n    return out\n",
         ("def merge_intervals(xs):\n    out = []\n    for s, e in xs:\n"
          "        if out and s <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], e)\n"
          "        else:\n            out.append([s, e])\n    return out\n",
          "def merge_intervals(xs):\n    out = []\n    for s, e in sorted(xs):\n"
          "        if out and s < out[-1][1]:\n            out[-1][1] = max(out[-1][1], e)\n"
          "        else:\n            out.append([s, e])\n    return out\n"), 0.2),
]

# Programs a model (or an attacker) might produce; each must end as a failed sample, never as a hung,
# crashed or compromised evaluator.
HOSTILE = {
    "infinite loop": "while True:\n    pass\n",
    "sleeps forever": "import time\ntime.sleep(10 ** 6)\n",
    "fork bomb": "import os\nwhile True:\n    os.fork()\n",
    "10 GB allocation": "memory = bytearray(10 * 1024 ** 3)\n",
    "write outside its directory": "with open('/tmp/sandbox-escape.txt', 'w') as f:\n    f.write('escaped')\n",
    "network": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n",
    "subprocess": "import subprocess\nsubprocess.run(['sh', '-c', 'echo escaped'])\n",
    "exits 0 before the tests": "import os\nos._exit(0)\n",
    "output flood": "while True:\n    print('x' * 100_000)\n",
}


def samples(seed: int = 0, n: int = 10, hostile_rate: float = 0.1) -> dict[str, list[str]]:
    """task name -> n programs: correct with the task's probability, hostile with `hostile_rate`,
    else one of its wrong programs."""
    rnd = random.Random(seed)
    hostile = list(HOSTILE.values())
    out = {}
    for task in TASKS:
        drawn = []
        for _ in range(n):
            u = rnd.random()
            drawn.append(task.correct if u < task.p_correct else
                         rnd.choice(hostile) if u < task.p_correct + hostile_rate else rnd.choice(task.wrong))
        out[task.name] = drawn
    return out

"""benchmarks/relevance.py judges a chosen part of a set with a chosen lexicon (how a round's
honest estimate is reproduced: its entries, the lexicon as it was when the round began)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "relevance.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_ids_and_lexicon_choose_what_is_judged_and_how(tmp_path: Path) -> None:
    rows = [
        ("real-t-0001", "Farmers sell honey", True),
        ("real-t-0005", "Farmers sell tea", True),
        ("real-t-0007", "A quiet harbour", False),
        ("real-t-0012", "Villagers sell rice", True),
    ]
    labeled = tmp_path / "round.jsonl"
    labeled.write_text(
        "".join(
            json.dumps({"id": i, "title": t, "summary": "", "lang": "en", "relevant": r}) + "\n"
            for i, t, r in rows
        ),
        encoding="utf-8",
    )
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text("threshold: 1\ngroups: {beat: {terms: {sell: 1}}}\n", encoding="utf-8")

    done = _run(str(labeled), "--ids", "4-7", "--lexicon", str(lexicon), "--repeat", "1")
    # Two entries in range (5 and 7); the tiny lexicon gets both right.
    assert re.search(r"rules +n +2 +P 1\.000 +R 1\.000 +F1 1\.000", done.stdout), done.stdout

    both = _run(
        str(labeled), "--ids", "1", "--ids", "12", "--lexicon", str(lexicon), "--repeat", "1"
    )
    assert re.search(r"rules +n +2 ", both.stdout), both.stdout + both.stderr


def test_bad_ids_and_a_missing_lexicon_are_named(tmp_path: Path) -> None:
    bad = _run("--ids", "9-3")
    assert bad.returncode == 2 and "empty id range: '9-3'" in bad.stderr
    missing = _run("--lexicon", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "lexicon file not found" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("threshold: [\n", encoding="utf-8")
    invalid = _run("--lexicon", str(broken))
    assert invalid.returncode == 2 and "broken.yaml" in invalid.stderr, invalid.stderr

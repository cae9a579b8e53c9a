"""bench/logs.py's own parts that its figures rest on (not timed): the corpus is the same every run and its
marker words are where the known answers say, and RESULTS.md keeps everything but its section."""

from __future__ import annotations

from pathlib import Path

from bench.logs import BEGIN, COMMON, COMMON_EVERY, END, RARE, RARE_EVERY, corpus, write_results
from llmtel.logs.record import FIELDS, clean, search_text


def test_the_corpus_is_deterministic_valid_and_its_words_are_where_the_answers_say() -> None:
    first, again = list(corpus(RARE_EVERY + 1)), list(corpus(RARE_EVERY + 1))
    assert first == again
    assert all(list(r) == list(FIELDS) and clean(r) == r for r in first[:500])  # what the store keeps, unchanged
    has_common = [i for i, r in enumerate(first) if COMMON in search_text(r).split()]
    has_rare = [i for i, r in enumerate(first) if RARE in search_text(r).split()]
    assert has_common == [i for i in range(len(first)) if i % COMMON_EVERY == 0]  # not in resent history
    assert has_rare == [i for i in (0, RARE_EVERY) if first[i]["error_type"] is None]
    assert len({r["span_id"] for r in first}) == len(first)
    times = [r["time"] for r in first]
    assert times == sorted(times)


def test_results_keep_everything_but_their_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# top\n\nwritten by python -m bench\n", encoding="utf-8")
    write_results(f"{BEGIN}\n## Completion-log store\n\nfirst\n{END}\n", path)
    assert path.read_text(encoding="utf-8") == (
        f"# top\n\nwritten by python -m bench\n\n{BEGIN}\n## Completion-log store\n\nfirst\n{END}\n"
    )
    # the other process rewrote the top since; our section is replaced in place
    text = path.read_text(encoding="utf-8").replace("written by python -m bench", "rewritten")
    path.write_text(text + "\n## after\n", encoding="utf-8")
    write_results(f"{BEGIN}\nsecond\n{END}\n", path)
    assert path.read_text(encoding="utf-8") == f"# top\n\nrewritten\n\n{BEGIN}\nsecond\n{END}\n## after\n"

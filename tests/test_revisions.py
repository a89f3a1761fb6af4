"""Saved code is never lost or overwritten: revisions are kept, the pointer moves by compare-and-set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from webtasks.automation import InvalidCode
from webtasks.store import LocalStore
from webtasks.store.revisions import RevisionConflict, RevisionStore

CODE = "async def run(page, params, ctx):\n    return {}\n"


@pytest.fixture
def revisions(tmp_path: Path) -> RevisionStore:
    return RevisionStore(LocalStore(tmp_path, secret=b"k", base_url="http://127.0.0.1:1"))


def test_save_keeps_every_revision_and_moves_current(revisions: RevisionStore) -> None:
    first = revisions.save("ws", "key", code=CODE, output_schema=None, source="user", expected_current=None)
    second = revisions.save("ws", "key", code=CODE + "# v2\n", output_schema={"type": "object"}, source="user",
                            expected_current=first.revision_id)  # fmt: skip
    assert revisions.current_id("ws", "key") == second.revision_id
    assert [r.revision_id for r in revisions.history("ws", "key")] == [second.revision_id, first.revision_id]
    assert revisions.get("ws", "key", first.revision_id).code == CODE
    assert revisions.keys("ws") == ["key"]


def test_a_stale_save_is_refused_and_changes_nothing(revisions: RevisionStore) -> None:
    first = revisions.save("ws", "key", code=CODE, output_schema=None, source="user", expected_current=None)
    revisions.save("ws", "key", code=CODE, output_schema=None, source="repair", expected_current=first.revision_id)
    current = revisions.current_id("ws", "key")
    with pytest.raises(RevisionConflict):
        revisions.save("ws", "key", code=CODE, output_schema=None, source="repair", expected_current=first.revision_id)
    assert revisions.current_id("ws", "key") == current


def test_a_retried_save_with_the_same_idempotency_key_writes_once(revisions: RevisionStore) -> None:
    once = revisions.save("ws", "k", code=CODE, output_schema=None, source="author", expected_current=None,
                          idempotency_key="wt_1-attempt-1")  # fmt: skip
    again = revisions.save("ws", "k", code=CODE, output_schema=None, source="author", expected_current=None,
                           idempotency_key="wt_1-attempt-1")  # fmt: skip
    assert once.revision_id == again.revision_id
    assert len(revisions.history("ws", "k")) == 1


def test_concurrent_saves_from_one_revision_let_exactly_one_win(revisions: RevisionStore) -> None:
    base = revisions.save("ws", "race", code=CODE, output_schema=None, source="user", expected_current=None)

    def attempt(n: int) -> str:
        try:
            return revisions.save("ws", "race", code=CODE + f"# {n}\n", output_schema=None, source="repair",
                                  expected_current=base.revision_id).revision_id  # fmt: skip
        except RevisionConflict:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1
    assert revisions.current_id("ws", "race") == winners[0]


def test_rollback_restores_an_older_revision(revisions: RevisionStore) -> None:
    first = revisions.save("ws", "k", code=CODE, output_schema=None, source="user", expected_current=None)
    revisions.save(
        "ws", "k", code=CODE + "# 2\n", output_schema=None, source="user", expected_current=first.revision_id
    )
    revisions.rollback("ws", "k", first.revision_id)
    assert revisions.current("ws", "k") is not None
    assert revisions.current_id("ws", "k") == first.revision_id
    assert len(revisions.history("ws", "k")) == 2


def test_code_that_cannot_run_is_never_saved(revisions: RevisionStore) -> None:
    for bad in ("def run(:", "x = 1", "def run(page, params, ctx):\n    pass\n"):
        with pytest.raises(InvalidCode):
            revisions.save("ws", "k", code=bad, output_schema=None, source="user", expected_current=None)
    assert revisions.current("ws", "k") is None

"""The benchmarks' ramps: the gap between the last step that kept up and the first that did not
is halved until the count is exact."""

from __future__ import annotations

import pytest

from bench.ffmpeg_reference import refine_between


@pytest.mark.parametrize("limit", [20, 21, 22, 23])
def test_refinement_finds_the_largest_count_that_keeps_up(limit: int) -> None:
    tried: list[int] = []

    def keeps_up(count: int) -> bool:
        tried.append(count)
        return count <= limit

    assert refine_between(20, 24, keeps_up) == limit
    assert all(20 < count < 24 for count in tried)
    assert len(tried) <= 2  # halving: two tries for a gap of four


def test_adjacent_steps_need_no_try() -> None:
    def never(count: int) -> bool:
        raise AssertionError(f"{count} tried")

    assert refine_between(31, 32, never) == 31

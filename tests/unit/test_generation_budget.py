"""How the analysis shares its time among targets, and how one Pynguin run spends its share."""

from __future__ import annotations

from assay.analysis.budget import TimeBank
from assay.engines.pynguin import STARTUP_S, Plan


def bank(
    *, ends_at: float = 100.0, workers: int = 2, gaps: dict[str, int] | None = None
) -> TimeBank:
    return TimeBank(ends_at=ends_at, workers=workers, gaps=gaps or {"a": 30, "b": 10},
                    check_s=10.0, floor_s=5.0, cap_s=1000.0)  # fmt: skip


def test_shares_follow_the_gaps_and_fill_the_workers() -> None:
    time_bank = bank()
    first = time_bank.allot("a", now=0.0)  # 200 worker-seconds, a has 3/4 of the gap
    assert first.generate_s == 90.0  # min(150, 100 left) - 10 for checking
    second = time_bank.allot("b", now=0.0)  # 100 worker-seconds free, all of what waits
    assert second.generate_s == 90.0


def test_time_a_target_did_not_use_goes_to_the_next() -> None:
    gaps = {"a": 10, "b": 10, "c": 10}
    slow = bank(workers=1, gaps=gaps)
    slow.allot("a", now=0.0)  # reserves a third: 33.3 s
    early = bank(workers=1, gaps=gaps)
    early.allot("a", now=0.0)
    early.release("a", now=5.0)  # done after 5 s
    assert early.allot("b", now=5.0).generate_s > slow.allot("b", now=33.4).generate_s


def test_no_time_left_says_so() -> None:
    time_bank = bank(ends_at=12.0)
    late = time_bank.allot("a", now=0.0)
    assert late.generate_s == 0 and "budget was used up" in (late.reason or "")


def test_a_share_below_the_floor_is_raised_while_the_window_allows() -> None:
    time_bank = bank(gaps={"a": 1, "b": 1000}, ends_at=60.0)
    assert time_bank.allot("a", now=0.0).generate_s == 5.0


def test_pynguin_plan_leaves_room_to_write_its_tests() -> None:
    for allotment in (20.0, 30.0, 60.0, 300.0):
        plan = Plan.within(allotment)
        assert plan.search_s + plan.mutation_s + STARTUP_S < allotment * 0.8
        assert plan.hard_s >= allotment


def test_a_later_pass_gets_only_what_the_first_leaves() -> None:
    time_bank = TimeBank(ends_at=100.0, workers=1, gaps={"a": 10}, later={"a#2": 10},
                         check_s=0.0, floor_s=5.0, cap_s=1000.0)  # fmt: skip
    assert time_bank.allot("a", now=0.0).generate_s == 100.0  # the first pass is not halved
    time_bank.release("a", now=40.0)
    assert time_bank.allot("a#2", now=40.0).generate_s == 60.0  # the rest


def test_a_large_module_searches_a_smaller_share() -> None:
    small, large = Plan.within(40.0, source_lines=300), Plan.within(40.0, source_lines=2700)
    assert large.search_s < small.search_s


def test_a_target_whose_floor_cannot_be_met_is_not_started() -> None:
    time_bank = TimeBank(ends_at=40.0, workers=1, gaps={"big": 5, "small": 5}, check_s=10.0,
                         floor_s=5.0, cap_s=1000.0, floors={"big": 50.0})  # fmt: skip
    assert time_bank.allot("big", now=0.0).reason is not None  # 30 s left, it needs 50
    assert time_bank.allot("small", now=0.0).generate_s == 30.0

"""Routing rules: conditions, first match wins, percentage splits, blocks, error rates."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from assay.gateway.routing import (
    Condition,
    ErrorRate,
    Features,
    RouteTarget,
    RoutingRule,
    Split,
    decide,
    features,
)

SMALL, BIG = (
    RouteTarget(connection_id="c1", model="small"),
    RouteTarget(connection_id="c2", model="big"),
)


def _seen(text: str = "hi", tools: int = 0, tokens: int = 10, **metadata: str) -> Features:
    payload = {
        "messages": [{"role": "user", "content": text}],
        "tools": [{"type": "function"}] * tools,
        "metadata": metadata,
    }
    return features(payload, tokens)


def _never(model: str) -> float:
    return 0.0


RULES = [
    RoutingRule(name="forbidden", when=Condition(text_regex=r"(?i)\bdrop table\b"), action="block"),
    RoutingRule(name="long", when=Condition(min_input_tokens=1000), targets=[BIG, SMALL]),
    RoutingRule(name="tools", when=Condition(min_tools=2), targets=[BIG]),
    RoutingRule(name="vip", when=Condition(metadata={"tier": "gold"}), targets=[BIG]),
]


@pytest.mark.parametrize(
    ("seen", "rule", "first"),
    [
        (_seen("please DROP TABLE users"), "forbidden", None),
        (_seen(tokens=5000), "long", BIG),
        (_seen(tools=3), "tools", BIG),
        (_seen(tier="gold"), "vip", BIG),
        (_seen(tier="silver"), None, None),
    ],
)
def test_the_first_matching_rule_decides(
    seen: Features, rule: str | None, first: RouteTarget | None
) -> None:
    decision = decide(RULES, seen, _never)
    assert decision.rule == rule
    assert (decision.targets[0] if decision.targets else None) == first
    assert (decision.blocked is not None) == (rule == "forbidden")


def test_splits_follow_their_percentages_and_keep_the_rest_as_fallbacks() -> None:
    rule = RoutingRule(
        name="ab",
        action="split",
        split=[Split(target=SMALL, percent=80), Split(target=BIG, percent=20)],
    )
    rng = random.Random(7)
    firsts = Counter(decide([rule], _seen(), _never, rng).targets[0].model for _ in range(2000))  # type: ignore[index]
    assert 0.75 < firsts["small"] / 2000 < 0.85
    assert decide([rule], _seen(), _never, rng).targets is not None
    assert len(decide([rule], _seen(), _never, rng).targets or []) == 2


def test_a_model_with_a_high_error_rate_routes_elsewhere() -> None:
    rule = RoutingRule(
        name="avoid",
        targets=[BIG],
        when=Condition(error_rate=ErrorRate(model="c1/small", above=0.5)),
    )
    assert decide([rule], _seen(), lambda m: 0.9 if m == "c1/small" else 0.0).rule == "avoid"
    assert decide([rule], _seen(), lambda m: 0.1).rule is None


def test_rules_without_targets_keep_the_resources_own_and_regexes_are_checked() -> None:
    assert decide([RoutingRule(name="empty")], _seen(), _never).targets is None
    shares = RoutingRule(
        name="ab",
        action="split",
        split=[Split(target=BIG, percent=30), Split(target=SMALL, percent=30)],
    )
    assert (
        0.4
        < sum(
            decide([shares], _seen(), _never).targets[0] == BIG  # type: ignore[index]
            for _ in range(1000)
        )
        / 1000
        < 0.6
    )
    with pytest.raises(ValidationError, match="regular expression"):
        RoutingRule(name="bad", when=Condition(text_regex="("))

from __future__ import annotations

import pytest

from assay.errors import StoreUnavailable
from assay.limits.redis import RedisLimiter, redact
from tests.conftest import _free_port


def test_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    port = _free_port()  # nothing listens there
    limiter = RedisLimiter(f"redis://:hunter2@127.0.0.1:{port}/0", timeout_s=0.5)
    with pytest.raises(StoreUnavailable) as caught:
        limiter.hit("k", limit=1, window_s=1)
    assert "unreachable" in caught.value.message
    assert "hunter2" not in str(caught.value)
    assert caught.value.fix is not None and "ASSAY_REDIS_URL" in caught.value.fix


def test_invalid_url_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match="not a valid Redis URL"):
        RedisLimiter("http://example")


def test_redact_hides_only_the_password() -> None:
    assert redact("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert redact("redis://h:1/0") == "redis://h:1/0"

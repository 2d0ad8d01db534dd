import pytest

from worker import tasks


def test_sum():
    assert tasks.run("sum", {"numbers": [1, 2, 3.5]}) == {"sum": 6.5}


def test_sum_rejects_non_numbers():
    with pytest.raises(ValueError):
        tasks.run("sum", {"numbers": [1, "2"]})


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        tasks.run("mine-bitcoin", {})


def test_sleep_is_capped(monkeypatch):
    slept = []
    monkeypatch.setattr(tasks.time, "sleep", slept.append)
    assert tasks.run("sleep", {"seconds": 3600}) == {"slept": tasks.MAX_SLEEP_SECONDS}
    assert slept == [tasks.MAX_SLEEP_SECONDS]

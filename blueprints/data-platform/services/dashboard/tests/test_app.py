from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).parent.parent / "app.py")


class FakeResponse:
    def __init__(self, data):
        self.data = data

    def raise_for_status(self):
        pass

    def json(self):
        return self.data


def test_api_down_is_an_error_message_not_a_crash(monkeypatch):
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9/api")  # nothing listens on the discard port
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert "not answering" in app.error[0].value


@pytest.fixture
def api(monkeypatch):
    prices = {"day": "2025-01-03", "items": [{"symbol": "SAP", "day": "2025-01-03", "close": "201.0000"},
                                             {"symbol": "ASML", "day": "2025-01-03", "close": "700.0000"}]}
    history = {"symbol": "SAP", "items": [{"symbol": "SAP", "day": "2025-01-03", "close": "201.0000"}]}

    def get(url, timeout):
        assert timeout
        return FakeResponse(prices if url.endswith("/prices") else history)

    monkeypatch.setattr("requests.get", get)


def test_prices_and_the_watchlist_kept_in_the_session(api):
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert len(app.dataframe) == 1
    app.multiselect[0].set_value(["SAP"]).run()
    assert app.session_state.watchlist == ["SAP"]
    app.button[0].click().run()  # a rerun keeps the session's choice
    assert app.session_state.watchlist == ["SAP"]

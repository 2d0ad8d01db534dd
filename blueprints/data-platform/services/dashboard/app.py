"""The analysts' dashboard: the latest closing prices, from the API, and one symbol's history.

Streamlit reruns this script on every interaction; st.session_state keeps what belongs to one
browser session across those reruns (the symbols picked, when the data was last fetched).
"""

import os
from datetime import UTC, datetime

import requests
import streamlit as st

# http://api:8000/api inside the stack: the API is mounted at /api (FORCE_SCRIPT_NAME).
API_URL = os.environ.get("API_URL", "http://localhost:8000/api").rstrip("/")
TIMEOUT_SECONDS = 5


class ApiUnavailable(Exception):
    pass


@st.cache_data(ttl=60, show_spinner=False)
def get(path: str) -> dict:
    """GET API_URL + path as JSON; cached for a minute across sessions, failures are not."""
    try:
        response = requests.get(f"{API_URL}{path}", timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise ApiUnavailable(str(error)) from error


st.set_page_config(page_title="Market data", layout="wide")
st.title("Market data")

if "fetched_at" not in st.session_state:
    st.session_state.fetched_at = None
    st.session_state.watchlist = []

if st.button("Refresh"):
    get.clear()

try:
    latest = get("/prices")
except ApiUnavailable as error:
    st.error(f"The API at {API_URL} is not answering right now: {error}")
    st.stop()

st.session_state.fetched_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
items = latest.get("items", [])
if not items:
    st.info("No prices yet: the ingest-prices job has not run.")
    st.stop()

st.caption(f"Closing prices of {latest['day']}, fetched {st.session_state.fetched_at}")
symbols = [item["symbol"] for item in items]
st.session_state.watchlist = st.multiselect(
    "Watchlist", symbols, default=[s for s in st.session_state.watchlist if s in symbols] or symbols
)
st.dataframe(
    [item for item in items if item["symbol"] in st.session_state.watchlist],
    hide_index=True,
)

symbol = st.selectbox("History of", st.session_state.watchlist or symbols)
try:
    history = get(f"/prices/{symbol}")
    st.line_chart({row["day"]: float(row["close"]) for row in history["items"]})
except ApiUnavailable as error:
    st.warning(f"No history for {symbol}: {error}")

"""The fast lane (podium.serving.lane): prediction requests answered from the protocol, a
turn of the event loop at a time. Requests sent together on one connection (pipelined, in
one write) arrive in one turn, so these tests see batches form deterministically."""

from __future__ import annotations

import json
import re
import socket
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from tests.serving.conftest import Served, record

from podium.client import Client
from podium.serving import create_app, start_in_thread


def _request(path: str, body: Any = None, request_id: str | None = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    head = f"{method} {path} HTTP/1.1\r\nhost: test\r\n"
    if body is not None:
        head += f"content-type: application/json\r\ncontent-length: {len(data)}\r\n"
    if request_id:
        head += f"x-request-id: {request_id}\r\n"
    return head.encode() + b"\r\n" + data


def pipelined(url: str, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``requests`` in one write on one connection; read their answers in order."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(b"".join(requests))
        buf = b""
        answers: list[tuple[int, dict[str, str], bytes]] = []
        while len(answers) < len(requests):
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {len(answers)} answers"
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
            size = int(headers["content-length"])
            while len(buf) < size:
                chunk = sock.recv(65536)
                assert chunk, "connection closed mid-body"
                buf += chunk
            answers.append((status, headers, buf[:size]))
            buf = buf[size:]
    return answers


def batch_rows(url: str, model: str) -> tuple[float, float]:
    """The count and sum of podium_batch_rows (model calls and their rows) of ``model``."""
    text = httpx.get(f"{url}/metrics").text
    found = {}
    for kind in ("count", "sum"):
        m = re.search(rf'podium_batch_rows_{kind}{{model="{model}"[^}}]*}} ([0-9.e+]+)', text)
        found[kind] = float(m.group(1)) if m else 0.0
    return found["count"], found["sum"]


def test_requests_of_one_turn_share_a_model_call_and_each_gets_its_own_answer(
    served: Served,
) -> None:
    n = 20
    before = batch_rows(served.url, "cancer")
    requests = [
        _request("/predict", {"records": [record(served.trained, i)]}, f"r-{i}") for i in range(n)
    ]
    answers = pipelined(served.url, requests)
    after = batch_rows(served.url, "cancer")
    expected = served.trained.model.predict_proba(served.trained.X.iloc[:n])
    for i, (status, headers, body) in enumerate(answers):
        assert status == 200, body
        assert headers["x-request-id"] == f"r-{i}"  # in the order they were sent
        assert headers["x-podium-flavor"] == served.flavor
        out = json.loads(body)
        assert out["request_id"] == f"r-{i}"
        assert np.allclose(out["probabilities"][0], expected[i], atol=served.atol)
        assert out["predictions"] == [int(expected[i].argmax())]
    calls, rows = after[0] - before[0], after[1] - before[1]
    assert rows == n and calls < n  # batched: fewer model calls than requests


def test_a_bad_request_fails_alone_in_its_turn(served: Served) -> None:
    good = {"records": [{"age": 30, "plan": "pro"}]}
    answers = pipelined(
        served.mixed_url,
        [
            _request("/predict", good),
            _request("/predict", {"records": [{"age": 30, "plan": "enterprise"}]}),  # unseen
            _request("/predict", good),
            _request("/predict", {"records": [{"age": 30}]}),  # missing column
            _request("/v2/models/mixed/infer", {"inputs": "nope"}),
            _request("/predict", good),
        ],
    )
    assert [a[0] for a in answers] == [200, 422, 200, 422, 422, 200]
    assert "enterprise" in json.loads(answers[1][2])["error"]
    assert json.loads(answers[3][2])["field"] == "records[0].plan"
    assert json.loads(answers[4][2])["field"] == "inputs"


def test_a_large_request_and_a_plain_route_keep_their_places(served: Served) -> None:
    big = {"records": [{"age": 20 + i % 50, "plan": "free"} for i in range(700)]}  # a thread's
    answers = pipelined(
        served.mixed_url,
        [
            _request("/predict", big, "big"),
            _request("/predict", {"records": [{"age": 70, "plan": "pro"}]}, "small"),
            _request("/v2/health/ready"),  # not the lane's: waits for the lane's answers
            _request("/predict", {"records": [{"age": 21, "plan": "free"}]}, "last"),
        ],
    )
    assert [a[0] for a in answers] == [200, 200, 200, 200]
    assert len(json.loads(answers[0][2])["predictions"]) == 700
    assert [a[1].get("x-request-id") for a in answers] == ["big", "small", None, "last"]


def test_the_lane_can_be_turned_off(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PODIUM_FAST_LANE", "0")
    client = Client(home=tmp_path)
    client.register_model(served.trained.model, "plain", input_example=served.trained.X)
    app = create_app(client.load("plain/1"))
    assert app.lane is None
    server = start_in_thread(app)
    try:
        before = batch_rows(server.url, "plain")
        answers = pipelined(
            server.url,
            [_request("/predict", {"records": [record(served.trained, i)]}) for i in range(5)],
        )
        assert [a[0] for a in answers] == [200] * 5
        assert batch_rows(server.url, "plain") == before  # no batches without the lane
    finally:
        server.stop()
        client.workspace.close()


def test_with_tokens_on_each_request_of_a_turn_is_admitted_on_its_own(
    served: Served, tmp_path: Any
) -> None:
    from podium.auth import Authenticator
    from podium.serving.auth import protect

    client = Client(home=tmp_path)
    client.register_model(served.trained.model, "guarded", input_example=served.trained.X)
    predictor = client.create_token("p", "predictor")[1]
    viewer = client.create_token("v", "viewer")[1]
    app = protect(
        create_app(client.load("guarded/1")), Authenticator(client.workspace.store.tokens)
    )
    server = start_in_thread(app)
    body = {"records": [record(served.trained, 0)]}

    def ask(secret: str | None, rid: str) -> bytes:
        head = _request("/predict", body, rid)
        if secret is None:
            return head
        return head.replace(b"\r\n\r\n", f"\r\nauthorization: Bearer {secret}\r\n\r\n".encode(), 1)

    try:
        answers = pipelined(
            server.url,
            [ask(predictor, "a"), ask(None, "b"), ask(viewer, "c"), ask(predictor, "d")],
        )
    finally:
        server.stop()
        client.workspace.close()
    assert [a[0] for a in answers] == [200, 401, 403, 200]
    assert [a[1]["x-request-id"] for a in answers] == ["a", "b", "c", "d"]
    assert answers[1][1]["www-authenticate"] == 'Bearer realm="podium"'
    assert 'error="insufficient_scope"' in answers[2][1]["www-authenticate"]
    assert json.loads(answers[2][2])["required_role"] == "predictor"
    assert json.loads(answers[3][2])["predictions"] == json.loads(answers[0][2])["predictions"]

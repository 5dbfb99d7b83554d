"""Embedded use (D4): the model app mounts inside another ASGI application."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from tests.conftest import Trained

import podium
from podium.serving import create_app, start_in_thread
from podium.workspace import Workspace


def test_the_model_app_mounts_inside_another_fastapi_app(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    parent = FastAPI()

    @parent.get("/hello")
    async def hello() -> dict[str, str]:
        return {"app": "parent"}

    parent.mount("/models/cancer", create_app(podium.load("cancer@champion")))
    srv = start_in_thread(parent)
    try:
        assert httpx.get(f"{srv.url}/hello").json() == {"app": "parent"}
        row = {k: float(v) for k, v in trained.X.iloc[0].items()}
        r = httpx.post(f"{srv.url}/models/cancer/predict", json={"records": [row]})
        assert r.status_code == 200
        assert r.json()["predictions"] == trained.model.predict(trained.X[:1]).tolist()
        assert httpx.get(f"{srv.url}/models/cancer/v2/health/ready").json() == {"ready": True}
    finally:
        srv.stop()

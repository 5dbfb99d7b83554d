"""The dashboard with auth on: a sign-in page, the token kept in an HttpOnly cookie, a viewer
who sees no action buttons and whose forged actions are refused, an operator who may act."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.ui.conftest import CANARY, Stack, Watched

pytestmark = pytest.mark.xdist_group("ui")

FORGE = """async ([name, csrf]) => {
  const headers = csrf ? {"x-podium-csrf": "1"} : {};
  const r = await fetch(`/api/v1/deployments/${name}/rollback`, {method: "POST", headers});
  return [r.status, (await r.json()).type];
}"""


def _sign_in(ui: Watched, token: str) -> None:
    page = ui.open("/deployments")
    expect(page.locator("h1")).to_have_text("Sign in to podium")
    page.fill("#token", token)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Deployments")


def test_sign_in_is_required_and_a_wrong_token_is_refused(stack: Stack, ui_auth: Watched) -> None:
    page = ui_auth.open("/runs")
    expect(page.locator("h1")).to_have_text("Sign in to podium")
    assert "signin" in page.url
    page.fill("#token", "pod_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".signin .error")).to_contain_text("unknown, expired or revoked")
    ui_auth.shot("signin")
    ui_auth.check(allowed=("status of 401",))


def test_a_viewer_sees_no_action_buttons_and_a_forged_action_gets_403(
    stack: Stack, ui_auth: Watched
) -> None:
    _sign_in(ui_auth, stack.tokens["viewer"])
    page = ui_auth.page
    cookie = next(c for c in page.context.cookies() if c["name"] == "podium_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert "pod_" not in page.evaluate("document.cookie")  # scripts cannot read the token
    expect(page.locator("#who")).to_contain_text("ui-viewer · viewer")
    page = ui_auth.open(f"/deployments/{CANARY}")
    expect(page.locator("#desired-text")).to_be_visible()
    expect(page.locator("#actions button")).to_have_count(0)
    ui_auth.shot("deployment-viewer")
    page = ui_auth.open("/schedules")
    expect(page.locator("section[aria-label=Schedules] table")).to_contain_text("nightly-scoring")
    expect(page.locator("section[aria-label=Schedules] button")).to_have_count(0)
    before = stack.ws.store.deployments.get(CANARY).state
    assert page.evaluate(FORGE, [CANARY, True]) == [403, "PermissionDeniedError"]
    assert page.evaluate(FORGE, [CANARY, False]) == [403, "PermissionDeniedError"]
    assert stack.ws.store.deployments.get(CANARY).state == before
    ui_auth.check(allowed=("status of 403",))


def test_an_operator_sees_the_actions_and_sign_out_forgets_the_token(
    stack: Stack, ui_auth: Watched
) -> None:
    _sign_in(ui_auth, stack.tokens["operator"])
    page = ui_auth.open(f"/deployments/{CANARY}")
    for verb in ("promote", "rollback", "traffic"):
        expect(page.locator(f"#action-{verb}")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Sign in to podium")
    assert not [c for c in page.context.cookies() if c["name"] == "podium_session"]
    ui_auth.open(f"/deployments/{CANARY}")
    expect(page.locator("h1")).to_have_text("Sign in to podium")
    ui_auth.check()

"""The coordinator's dashboard in Chromium: a request made through the API shows up,
moves when the worker has run, and the filtered list downloads as CSV."""

from __future__ import annotations

from pathlib import Path

from broker.domain.accounts import Role
from broker.web import appkeys

from builders import BOTH, PASSWORD
from pages_harness import ANA, log_in_as, populated_site, run_outbox, screenshot

CORA, CORA_PASSWORD = "coordinator@example.org", "kava-lipa-2026"


def test_the_coordinator_sees_a_request_move_in_chromium(
        consortium_file: Path, redis_url: str, namespace: str, tmp_path: Path) -> None:
    with populated_site(consortium_file, redis_url, namespace) as site:
        from playwright.sync_api import expect

        base = site.base
        site.run(site.app[appkeys.ACCOUNTS].add_staff(CORA, "Cora", "Koordinatorė",
                                                      Role.COORDINATOR, None, CORA_PASSWORD))
        # The patron asks through the JSON API, as a discovery system's client would.
        api = site.playwright.request.new_context(base_url=base)
        assert api.post("/api/session", data={"email": ANA, "password": PASSWORD}).ok
        made = api.post("/api/requests", data={"service": "loan", "item": {"isbn": BOTH}})
        assert made.status == 201, made.text()
        number = made.json()["id"]
        api.dispose()

        browser = site.launch()
        page = browser.new_page(viewport={"width": 1200, "height": 900},
                                accept_downloads=True)

        def shot(name: str) -> None:
            screenshot(page, name)

        log_in_as(page, base, CORA, CORA_PASSWORD)

        page.goto(base + "/coordinator")
        expect(page.get_by_role("heading", name="Coordinator dashboard")).to_be_visible()
        row = page.locator("table.requests tbody tr", has_text=number)
        expect(row).to_contain_text("new")
        expect(row).to_contain_text("Čefurji raus!")
        shot("40-coordinator-new-request")

        run_outbox(redis_url, namespace, consortium_file)
        page.reload()
        row = page.locator("table.requests tbody tr", has_text=number)
        expect(row).to_contain_text("sent")
        expect(row).to_contain_text("Library C")
        figures = page.locator("table.figures tbody tr", has_text="Library C")
        expect(figures.locator("td").nth(1)).to_have_text("1")  # received
        expect(page.get_by_role("img", name="Lending balance per library")).to_be_visible()
        shot("41-coordinator-request-sent")

        page.get_by_label("State").select_option("sent")
        page.get_by_label("Library (borrowing or lending)").select_option("C")
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(base + "/coordinator?state=sent&library=C&older_than_days=")
        expect(page.get_by_role("status")).to_contain_text("1 request, 0 needing a look")
        shot("42-coordinator-filtered")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download these as CSV").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name.startswith("ill-requests-")
        assert number in saved.read_text(encoding="utf-8-sig")
        browser.close()

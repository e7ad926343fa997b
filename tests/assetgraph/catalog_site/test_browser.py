"""The catalog site in a real headless Chromium, after a real run with a failing blocking check.

Chromium comes from Debian's `chromium` package (`.ci/run` installs it). Playwright only drives
it; no browser is downloaded. Without Chromium the test fails in CI and is skipped, with the
reason shown, on a developer machine that lacks it.
"""

import os
import shutil

import pytest

from assetgraph.catalog_site import page_name, write_catalog_site
from assetgraph.config import Settings
from assetgraph.execution import materialize
from assetgraph.loader import load_project
from tests.assetgraph.cases import toy_assets

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: `.ci/run` must install Debian's chromium package")
        pytest.skip("Chromium not installed (apt-get install -y chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def _open(browser, path):
    """Open a page, recording every request that is not the site's own files."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    outside = []
    page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, outside


@pytest.fixture
def site(tmp_path, warehouse, prefect_api):
    settings = Settings(
        root=tmp_path, modules=("tests.assetgraph.cases.toy_assets",), dbt_project_dir=None,
        dbt_profiles_dir=tmp_path, dbt_target="dev",
    )
    toy_assets.CALLS.clear()
    toy_assets.FLAKY["remaining_failures"] = 0
    toy_assets.CHECK_SHOULD_FAIL["value"] = True  # marts/assignments:van_id_unique fails
    project = load_project(settings)
    report = materialize(project, "+sync/codes raw/broken+", warehouse=warehouse, options={"retry_delay_seconds": 0})
    assert not report.succeeded
    return project, write_catalog_site(project.graph, warehouse, tmp_path / "catalog")


def test_catalog_in_chromium(browser, site, tmp_path):
    project, index = site
    page, outside = _open(browser, index)
    shot = tmp_path / "catalog.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    drawn = page.eval_on_selector_all("svg#lineage g.node", "ns => ns.map(n => n.getAttribute('data-key'))")
    assert sorted(drawn) == sorted(str(k) for k in project.graph.keys)
    # every node is actually laid out with a size (not just present in the DOM)
    sizes = page.eval_on_selector_all("svg#lineage g.node", "ns => ns.map(n => n.getBBox().width * n.getBBox().height)")
    assert all(s > 0 for s in sizes)
    edges = page.eval_on_selector_all("svg#lineage path.edge", "es => es.length")
    assert edges == sum(len(project.graph.parents(k)) for k in project.graph.keys)

    def status(key):
        return page.get_attribute(f"svg#lineage g.node[data-key='{key}']", "data-status")

    assert status("raw/people") == "materialized"
    assert status("sync/codes") == "blocked"  # skipped because a blocking check failed
    assert status("raw/broken") == "failed"
    assert status("marts/after_broken") == "skipped"
    failing = page.get_attribute("svg#lineage g.node[data-key='marts/assignments']", "data-failing-checks")
    assert failing.split(",") == ["van_id_unique", "volume_warning"]  # blocking and warn both shown
    assert page.locator("svg#lineage g.node[data-key='marts/assignments'] circle.check-failed").count() == 1
    assert "failed" in page.inner_text("#last-run")

    # the filter box narrows the diagram and the list
    page.fill("#filter", "assign")
    assert page.inner_text("#filter-count") == "1 match"
    dimmed = page.eval_on_selector_all("svg#lineage g.node.dim", "ns => ns.map(n => n.getAttribute('data-key'))")
    assert "marts/assignments" not in dimmed and "raw/people" in dimmed
    assert page.locator("tr[data-key='raw/people']").is_hidden()
    # zoom to fit: the whole drawing fits the frame
    page.click("button[data-zoom='fit']")
    width = page.evaluate("document.getElementById('lineage').getBoundingClientRect().width")
    frame = page.evaluate("document.querySelector('.diagram').clientWidth")
    assert width <= frame
    # a group can be folded away
    page.fill("#filter", "")
    page.uncheck("input[data-group-toggle='raw']")
    assert page.locator("svg#lineage g.node[data-key='raw/people']").is_hidden()
    assert page.locator("svg#lineage g.node[data-key='marts/assignments']").is_visible()

    # the asset page: the failed check shows as failed, with its history
    page.click("svg#lineage g.node[data-key='marts/assignments']")
    page.wait_for_load_state("load")
    assert page.url.endswith("/assets/" + page_name("marts/assignments"))
    row = page.locator("tr[data-check='van_id_unique']")
    assert row.get_attribute("data-status") == "failed"
    assert "failed" in row.locator(".badge").inner_text()
    assert page.locator("#materializations tbody tr").count() == 1
    assert page.locator("a[href='sync__codes.html']").count() == 1  # downstream link
    page.close()
    assert outside == []  # nothing left the page for the network


def test_every_asset_page_loads_without_network(browser, site):
    project, index = site
    for key in project.graph.keys:
        page, outside = _open(browser, index.parent / "assets" / page_name(str(key)))
        assert page.inner_text("h1") == str(key)
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # site.css loaded
        page.close()
        assert outside == []

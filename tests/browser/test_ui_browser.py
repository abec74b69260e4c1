"""The Dagster UI as a person sees it: a dropped file followed through headless Chromium.

`npnflow demo` runs in a throwaway data folder and leaves a Dagster instance with real runs (an
appoint and a terminate file through transactions, batches, approval, Gateway submission and
the dbt reports). `dagster-webserver` then serves the project's workspace on loopback against
that instance, and Playwright drives Debian's Chromium (never a downloaded browser) through the
asset graph, an asset's page, a report's checks and the submission run. Every expectation comes
from what the demo wrote (operational database, Dagster instance) or from the definitions, not
from the UI itself.

Screenshots go to the test's `tmp_path`; with `NPNFLOW_SCREENSHOTS_DIR` set, the ones the README
shows are copied there too (`NPNFLOW_SCREENSHOTS_DIR=docs/images`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resources import paths
from support.processes import running_webserver, tail
from support.waiting import scaled

pytestmark = [pytest.mark.browser, pytest.mark.webserver]

CHROMIUM = Path(os.environ.get("NPNFLOW_CHROMIUM") or "/usr/bin/chromium")
# The Dagster UI is a single-page app that loads its data after the page: wait generously
# (60 s on an idle machine, times NPNFLOW_TEST_TIME_SCALE).
UI_TIMEOUT_MS = int(scaled(60) * 1000)

# The path a dropped terminate file takes, as the asset graph must show it.
TERMINATION_PATH = (
    "raw_uploads__file",
    "core_uploads__validated",
    "core_terminations__transactions",
    "core_terminations__batches",
    "out_nipr__gateway_submissions",
    "rpt_batch_status",
)
APPOINTMENT_PATH = ("core_appointments__transactions", "core_appointments__batches")
JIT_PATH = ("core_jit__released",)
REQUIRED_GROUPS = {
    "uploads",
    "appointments",
    "terminations",
    "submissions",
    "reports",
    "nipr",
    "reference",
    "company_config",
    "onboarding",
}
BATCH_TAG = "npnflow/batch_id"


@dataclass(frozen=True)
class Demo:
    data_dir: Path
    dagster_home: Path
    terminate_upload_id: str
    termination_batch_ids: list[str]
    termination_cocodes: list[str]
    submission_run_id: str
    termination_batch_statuses: list[str]
    termination_accepted: int  # the terminate file's lines NIPR accepted


def _is_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = (
            f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
            "(apt-get install chromium) or set NPNFLOW_CHROMIUM"
        )
        if _is_ci():
            pytest.fail(f"{message} (CI=true: the browser test is required)", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


def _environment(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "NPNFLOW_ENV": "local",
        "NPNFLOW_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    # Everything the demo writes stays in the throwaway folder, whatever the shell points at.
    for name in ("NPNFLOW_DATABASE_URL", "NPNFLOW_BUCKET_DIR"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def demo(chromium, tmp_path_factory) -> Demo:
    """`npnflow demo` in a throwaway folder, and what it wrote, read back from its stores."""
    import dagster as dg

    from resources.database import OperationalDatabase

    data_dir = tmp_path_factory.mktemp("ui_demo")
    log = data_dir / "demo.log"
    npnflow = Path(sys.executable).with_name("npnflow")
    with log.open("w") as output:
        completed = subprocess.run(
            [str(npnflow), "demo"],
            cwd=paths.PROJECT_ROOT,
            env=_environment(data_dir),
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=scaled(600),
        )
    if completed.returncode != 0:
        pytest.fail(f"npnflow demo exited with {completed.returncode}:\n{tail(log)}")

    database = OperationalDatabase(url=f"sqlite:///{data_dir / 'npnflow.db'}")
    uploads = database.read_table("uploads", ["upload_id", "kind"])
    terminate_ids = uploads[uploads.kind == "terminate"].upload_id.tolist()
    assert len(terminate_ids) == 1, f"the demo drops one terminate file, found {terminate_ids}"
    batches = database.read_table(
        "transaction_batches", ["batch_id", "upload_id", "cocode", "status"]
    )
    batches = batches[batches.upload_id == terminate_ids[0]].sort_values("batch_id")
    assert len(batches), "the demo's terminate file made no batch"
    transactions = database.read_table("transactions", ["batch_id", "status"])
    accepted = transactions[
        transactions.batch_id.isin(batches.batch_id) & transactions.status.eq("Accepted")
    ]

    home = data_dir / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(
                job_name="submit_batch_job", tags={BATCH_TAG: batches.batch_id.iloc[0]}
            )
        )
    assert len(runs) == 1, f"expected one submission run for the batch, found {len(runs)}"
    return Demo(
        data_dir=data_dir,
        dagster_home=home,
        terminate_upload_id=terminate_ids[0],
        termination_batch_ids=batches.batch_id.tolist(),
        termination_cocodes=batches.cocode.astype(str).tolist(),
        submission_run_id=runs[0].run_id,
        termination_batch_statuses=batches.status.tolist(),
        termination_accepted=len(accepted),
    )


@pytest.fixture(scope="module")
def webserver(demo) -> Iterator[str]:
    """dagster-webserver on a free loopback port, on the demo's instance and the workspace,
    once the code location has loaded its assets."""
    log = demo.data_dir / "webserver.log"
    with running_webserver(
        _environment(demo.data_dir), log, until="assets", deadline=120
    ) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            # CI runs as root, where Chromium's sandbox cannot start; containers have a small
            # /dev/shm.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def definitions():
    """What the code says each asset is, to compare with what the UI shows."""
    from pipelines.definitions import build_definitions

    return build_definitions("local")


class UI:
    """One browser context on the webserver; each step a person takes, with screenshots."""

    def __init__(self, browser, base: str, tmp_path: Path, *, width: int, height: int, scale):
        from playwright.sync_api import expect

        self.base = base
        self.tmp_path = tmp_path
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=scale
        )
        # The UI asks a person on localhost to join the community once, in a dialog that covers
        # the page; the browser remembers the answer in local storage, as here.
        self.context.add_init_script(
            "window.localStorage.setItem('communityNux', JSON.stringify('1'))"
        )
        # Nothing but the webserver: a page must never wait on a blocked outside connection.
        self.context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda r: r.abort())
        self.page = self.context.new_page()
        self.page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)

    def screenshot(self, name: str, *, readme: bool = False) -> Path:
        path = self.tmp_path / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        target = os.environ.get("NPNFLOW_SCREENSHOTS_DIR")
        if readme and target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(target) / path.name)
        return path

    def close(self) -> None:
        # What the page showed last, for whoever reads a failure (never hiding that failure).
        with contextlib.suppress(Exception):
            self.page.screenshot(path=self.tmp_path / "last-page.png", full_page=True)
        self.context.close()


@pytest.fixture
def ui(browser, webserver, tmp_path) -> Iterator[UI]:
    session = UI(browser, webserver, tmp_path, width=1600, height=1000, scale=0.9)
    try:
        yield session
    finally:
        session.close()


def _description_start(definitions, key: str) -> str:
    """The first words of an asset's description as the UI renders its Markdown."""
    import dagster as dg

    description = definitions.resolve_asset_graph().get(dg.AssetKey(key)).description or ""
    assert description, f"{key} has no description for a person to read"
    words = description.replace("`", "").split()
    return " ".join(words[:6])


def _check_names(definitions, key: str) -> list[str]:
    import dagster as dg

    graph = definitions.resolve_asset_graph()
    return sorted(check.name for check in graph.get_check_keys_for_assets({dg.AssetKey(key)}))


def _graph_node(page, key: str):
    # An asset node shows its full key (with the key as tooltip) when the graph is zoomed in
    # enough to show details, which the viewport below makes sure of.
    return page.locator(f'foreignObject [data-tooltip="{key}"]')


def test_asset_graph_shows_the_groups_and_a_file_s_path_to_its_reports(
    browser, webserver, tmp_path, definitions
):
    from playwright.sync_api import expect

    # A wide, tall page drawn smaller, so the whole path (six groups) fits with every node
    # showing its details.
    ui = UI(browser, webserver, tmp_path, width=1800, height=1300, scale=0.8)
    try:
        page = ui.page
        ui.open("/asset-groups")
        expect(page.get_by_text("Global asset lineage")).to_be_visible()
        defined_groups = {node.group_name for node in definitions.resolve_asset_graph().asset_nodes}
        assert defined_groups >= REQUIRED_GROUPS
        graph = page.locator("foreignObject")
        for group in sorted(defined_groups):
            expect(graph.get_by_text(group, exact=True).first).to_be_visible()
        expect(graph.get_by_text("fetching statuses")).to_have_count(0)
        ui.screenshot("ui-groups")

        # What the README tells a person to do: Lineage in the left bar, the selection typed in
        # the graph's search bar, then "Expand all groups" in the graph's settings (the gear),
        # so the picture shows every asset on the path rather than collapsed groups.
        query = 'key:"raw_uploads__file"+ and +key:"rpt_batch_status"'
        ui.open("/")
        page.locator('a[href="/asset-groups"]').filter(has_text="Lineage").first.click()
        expect(page.get_by_text("Global asset lineage")).to_be_visible()
        page.get_by_label("Search and filter assets").focus()
        page.keyboard.type(query)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(re.escape(urllib.parse.quote(query, safe=""))))
        page.get_by_role("button", name="settings", exact=True).click()
        page.get_by_role("menuitem", name=re.compile("Expand all groups")).click()
        expect(page).to_have_url(re.compile(r"[?&]expanded="))
        # Drawn anew, the graph fits the expanded groups (the expansion is in the URL).
        page.reload()
        expect(page.get_by_text(query)).to_be_visible()
        page.get_by_text("Hide navigation").click()
        page.locator("button:has([aria-label='panel_show_right'])").click()
        # A double click on the background (top left, below the search bar: no node there)
        # fits the graph to the room the panels left.
        page.mouse.dblclick(120, 140)
        page.mouse.move(0, 999)
        for key in (*TERMINATION_PATH, *APPOINTMENT_PATH, *JIT_PATH):
            expect(_graph_node(page, key)).to_be_visible()
        for other in ("core_nipr__producers", "core_reference__jurisdictions"):
            expect(_graph_node(page, other)).to_have_count(0)
        page.wait_for_timeout(500)  # the edges are drawn after the nodes
        ui.screenshot("ui-lineage", readme=True)

        # Selecting a node opens its summary beside the graph, with a way to its page.
        _graph_node(page, "core_terminations__batches").click()
        expect(page).to_have_url(re.compile(r"/core_terminations__batches(\?|$)"))
        summary = page.get_by_role("link", name="View in Asset Catalog")
        expect(summary).to_have_attribute("href", "/assets/core_terminations__batches")
        expect(
            page.get_by_text(_description_start(definitions, "core_terminations__batches")).first
        ).to_be_visible()
        ui.screenshot("ui-lineage-selected")
    finally:
        ui.close()


def test_batches_asset_page_shows_the_file_s_batches(ui, definitions, demo):
    from playwright.sync_api import expect

    page = ui.page
    key = "core_terminations__batches"
    ui.open(f"/assets/{key}")
    expect(page.get_by_text(key, exact=True).first).to_be_visible()
    expect(page.get_by_text(_description_start(definitions, key)).first).to_be_visible()

    # The latest materialization is the terminate file's partition, with its batches.
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text(demo.terminate_upload_id, exact=True).first).to_be_visible()
    metadata = page.locator("table").filter(has_text="batch_ids")
    expect(metadata).to_be_visible()
    batch_ids_row = metadata.locator("tr").filter(has=page.get_by_text("batch_ids", exact=True))
    for batch_id in demo.termination_batch_ids:
        expect(batch_ids_row).to_contain_text(batch_id)
    table_row = metadata.locator("tr").filter(has=page.get_by_text("batches_table", exact=True))
    for batch_id, cocode in zip(demo.termination_batch_ids, demo.termination_cocodes, strict=True):
        expect(table_row).to_contain_text(batch_id)
        expect(table_row).to_contain_text(cocode)

    # Where it comes from and where it goes, as the page's lineage lists them.
    expect(page.get_by_text("Upstream assets")).to_be_visible()
    for neighbour in (
        "core_terminations__transactions",
        "out_nipr__gateway_submissions",
        "rpt_batch_status",
    ):
        expect(page.locator(f'a[href="/assets/{neighbour}"]').first).to_be_visible()
    expect(page.get_by_text("terminations", exact=True).first).to_be_visible()  # its group
    ui.screenshot("ui-batches-overview")

    # The Partitions tab: one partition per dropped file, the terminate file's materialized.
    page.get_by_role("tab", name="Partitions").click()
    expect(page).to_have_url(re.compile(r"view=partitions"))
    expect(page.get_by_text("Materialized (1)")).to_be_visible()
    expect(page.get_by_text(demo.terminate_upload_id, exact=True).first).to_be_attached()
    ui.screenshot("ui-batches-partitions")


def test_batches_page_of_the_file_shows_its_batches_completed(ui, demo):
    """The demo approves and sends its terminate file's batch: the page the CLI links to (the
    file's partition on the Partitions tab) shows it Completed with NIPR's Accepted count and
    nothing left to approve, from the observation the submission run recorded."""
    from playwright.sync_api import expect

    assert set(demo.termination_batch_statuses) == {"Completed"}, "the demo completes its batch"
    page = ui.page
    key = "core_terminations__batches"
    partition = urllib.parse.quote(demo.terminate_upload_id, safe="")
    ui.open(f"/assets/{key}?view=partitions&partition={partition}")
    expect(page.get_by_role("tab", name="Partitions")).to_have_attribute("aria-selected", "true")
    expect(
        page.get_by_text(demo.terminate_upload_id, exact=True).filter(visible=True).first
    ).to_be_visible()
    metadata = page.locator("table").filter(has_text="batches_table").first
    expect(metadata).to_be_visible()

    def value_of(label: str):
        return metadata.locator("tr").filter(has=page.get_by_text(label, exact=True)).first

    expect(value_of("status")).to_contain_text("Completed")
    expect(value_of("accepted")).to_contain_text(str(demo.termination_accepted))
    expect(value_of("recorded_because")).to_contain_text("Completed")
    expect(value_of("next")).to_contain_text("Nothing to do")
    expect(value_of("next")).not_to_contain_text("npnflow batches approve")
    for batch_id in demo.termination_batch_ids:
        expect(value_of("batches_table")).to_contain_text(batch_id)
    # Each value observed in a run carries the run beside it, which makes the rows tall: a
    # tall, wide page shows the whole metadata, batches table included.
    page.set_viewport_size({"width": 1800, "height": 2100})
    page.mouse.move(0, 999)
    page.wait_for_timeout(1000)
    ui.screenshot("ui-batches-asset", readme=True)


def test_reports_are_up_to_date_after_the_demo(ui, demo):
    """The demo builds the reports after its last step: none is Unsynced, by Dagster's own
    staleness (what the UI's tag is computed from) or on the report's page."""
    import dagster as dg
    from playwright.sync_api import expect

    from assets.reports.relations import REPORT_MODELS
    from support.staleness import stale_status

    with dg.DagsterInstance.from_config(str(demo.dagster_home)) as instance:
        for name in REPORT_MODELS:
            assert stale_status(instance, name) == ("FRESH", []), name
    ui.open("/assets/rpt_batch_status")
    expect(ui.page.get_by_text("Latest materialization")).to_be_visible()
    expect(ui.page.get_by_text(re.compile(r"^Unsynced"))).to_have_count(0)


def test_report_page_shows_its_dbt_tests_passing(ui, definitions):
    from playwright.sync_api import expect

    page = ui.page
    key = "rpt_batch_status"
    checks = _check_names(definitions, key)
    assert checks, f"{key} has no asset checks"
    ui.open(f"/assets/{key}")
    expect(page.get_by_text(_description_start(definitions, key)).first).to_be_visible()
    expect(page.get_by_text("Latest materialization")).to_be_visible()

    page.get_by_role("tab", name="Checks").click()
    expect(page).to_have_url(re.compile(r"view=checks"))
    expect(page.get_by_text(f"Checks ({len(checks)})")).to_be_visible()
    for check in checks:
        # Long names are shown middle-truncated; the full name is in the page for measuring.
        expect(page.get_by_text(check, exact=True).first).to_be_attached()
    expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(checks))
    expect(page.get_by_text("Failed", exact=True)).to_have_count(0)
    # The first check is open beside the list: its latest evaluation passed.
    expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
    ui.screenshot("ui-report-checks", readme=True)


def test_submission_run_is_tagged_with_its_batch(ui, demo):
    from playwright.sync_api import expect

    page = ui.page
    batch_id = demo.termination_batch_ids[0]
    run_id = demo.submission_run_id
    # The runs page filtered as a person does it: the batch's tag.
    ui.open("/runs?" + urllib.parse.urlencode({"q[0]": f"tag:{BATCH_TAG}={batch_id}"}))
    listed = page.locator('a[href^="/runs/"]').filter(has_text=re.compile(r"^[0-9a-f]{8}$"))
    expect(listed).to_have_count(1)
    expect(listed).to_have_attribute("href", f"/runs/{run_id}")
    expect(listed).to_have_text(run_id[:8])
    row = page.locator("div").filter(has=listed).filter(has_text="submit_batch_job").last
    expect(row).to_contain_text(f"{BATCH_TAG}: {batch_id}")
    expect(row).to_contain_text(f"partition: {batch_id}")
    expect(row).to_contain_text("Success")
    ui.screenshot("ui-submission-runs")

    listed.click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}"))
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text(f"partition: {batch_id}").first).to_be_visible()
    expect(page.get_by_text("submit_batch_job").first).to_be_visible()
    # The step's own account of what it sent.
    expect(page.get_by_text(re.compile(rf"batch {batch_id}: submitted")).first).to_be_attached()
    # Each call to the Gateway, as the README's step 5 says: chunk, count and NIPR's answer.
    expect(
        page.get_by_text(
            re.compile(
                rf"batch {batch_id}: Gateway call 1: \d+ transaction\(s\) sent; NIPR answered"
            )
        ).first
    ).to_be_attached()
    expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible()
    # The log filtered to the step's own lines about the batch, as the README suggests.
    page.get_by_placeholder(re.compile(r"^Filter")).fill(f"batch {batch_id}:")
    expect(page.get_by_text("RUN_SUCCESS")).to_have_count(0)
    page.wait_for_timeout(1000)  # the timeline settles after the logs
    ui.screenshot("ui-submission-run", readme=True)

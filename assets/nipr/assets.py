"""The NIPR assets (group `nipr`), collected for `pipelines/definitions.py`.

Only the list lives here; the assets live by what they do: `daily_sync.py` (the day's PDB
Alerts report, fetched and applied), `initial_sync.py` (Entity Info for new producers) and
`subscriptions.py` (the PDB Alerts target lists). Operator documentation: docs/nipr-sync.md.
"""

from assets.nipr.daily_sync import core_nipr__current_state, raw_nipr__pdb_alerts
from assets.nipr.initial_sync import core_nipr__initial_sync
from assets.nipr.subscriptions import core_nipr__subscriptions

NIPR_ASSETS = [
    raw_nipr__pdb_alerts,
    core_nipr__current_state,
    core_nipr__initial_sync,
    core_nipr__subscriptions,
]

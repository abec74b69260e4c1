"""Read and validate the reference data and the customer's company setup. Pure: no Dagster.

The entry points, where callers have always found them; the work is split by what it reads:

- `load_reference_data(reference_dir)` (`reference_data.py`): NIPR's workbook
  (`nipr_workbook/`) and the editable reference CSVs beside it;
- `load_company_config(config_dir, reference)` (`company_setup.py`): `companies.yaml` and
  `gateway_business_rules.csv`, checked against the reference tables;
- `ConfigError` / `ConfigProblem`, `read_yaml_file`, `parse_bool` (`config_files.py`): reading
  the files a person edits and reporting what is wrong with them.

Both loaders return one DataFrame per database table, with exactly the table's columns, typed
as its pandera model in `schemas/reference.py` declares (codes as text, flags as `bool`,
unknown-able flags as nullable `boolean`, fees as `float`, day counts as nullable `Int64`).
Both validate everything before failing, then raise one `ConfigError` that lists every problem
on its own line, naming the file, the row or company, and the value, so a compliance analyst
can fix the files in one pass.
"""

from __future__ import annotations

from assets.reference.company_setup import (
    COMPANIES_FILE,
    COMPANY_CONFIG_KEYS,
    GATEWAY_RULES_FILE,
    load_company_config,
)
from assets.reference.config_files import ConfigError, ConfigProblem, parse_bool, read_yaml_file
from assets.reference.reference_data import REFERENCE_KEYS, WORKBOOK_DIR, load_reference_data

__all__ = [
    "COMPANIES_FILE",
    "COMPANY_CONFIG_KEYS",
    "GATEWAY_RULES_FILE",
    "REFERENCE_KEYS",
    "WORKBOOK_DIR",
    "ConfigError",
    "ConfigProblem",
    "load_company_config",
    "load_reference_data",
    "parse_bool",
    "read_yaml_file",
]

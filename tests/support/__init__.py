"""What several test files need, written once: free loopback ports, polling with a deadline that
scales with the machine, moto's S3 server, the NIPR sandbox, Dagster processes (webserver,
daemon) in their own process group, an SMTP server and the seeded reference rows.

Imported as `support` (pytest's `pythonpath` puts tests/ on the path); its fixtures are
registered for the whole suite by tests/conftest.py (`pytest_plugins`). Nothing is autouse.
"""

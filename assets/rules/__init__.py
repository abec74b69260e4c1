"""Rules both eligibility engines share (appointments, SPEC 6; terminations, SPEC 7). Pure.

The engines live in their domains and never import each other; what they must spell alike
lives here, outside both, so a change reaches both at once. No Dagster, no I/O.
"""

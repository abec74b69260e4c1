"""Appointment renewals (issue 18, docs/renewals.md): the plan of what each Appointed line will
cost at its state's next renewal, and which lines to terminate before the cut-off."""

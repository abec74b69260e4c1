"""Continuous compliance (issue 18): whether appointed lines still stand, and who may sell."""

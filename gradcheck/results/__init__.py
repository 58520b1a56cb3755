"""Verdicts as data: the backprop report, likely causes (the type), equation reports and error maps."""

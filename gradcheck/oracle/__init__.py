"""The checks people call on a backprop: `check_backprop` and friends, one trial, calling candidates,
the comparison with finite differences, `check_equations`, and seeded data."""

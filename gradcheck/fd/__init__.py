"""Finite differences that know nothing of backprop: steps, noise, evaluation, the numerical gradient
of any function and of a network (with its fast kernels), `check_gradient`, the Taylor test, `delta^L`
by differences in `z^L`, and tasks scattered over executors."""

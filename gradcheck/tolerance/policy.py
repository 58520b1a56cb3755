"""The verdict policy: every constant that shapes a verdict, each with its reason, in one place.

A verdict (pass or fail, and the likely cause a failure names) rests on
derived bounds (`gradcheck.tolerance.compare`, the finite differences' own
error estimates), but every derivation ends in a few numbers that are
judgement: how many standard deviations of rounding, how many times an
error estimate, how close is "equal to a known bug".  They live here, so
that one page shows what the checker assumes, and a change to any of them
is one reviewed line.  What stays elsewhere is algorithm (steps, windows,
budgets, guards against overflow): it changes how a value is computed, not
what counts as right.

Every constant carries a ``#:`` comment with its reason (the tests pin
that).  This module imports nothing from `gradcheck` (nor `reference`):
`gradcheck.fd`, the lowest layer, reads it too.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "CANDIDATE_ULPS",
    "CENTRAL_TRUNCATION_SAFETY",
    "CHECK_SAFETY",
    "KINK_JUMP_RATIO",
    "KINK_NOISE_ULPS",
    "CLEARLY_WRONG",
    "COMPLEX_ULPS",
    "CROSS_CHECK_MARGIN",
    "DIAGNOSIS_RTOL",
    "DTYPE_AGREEMENT",
    "FD_SAFETY",
    "FLOOR_FACTOR",
    "FLOOR_SIGMAS",
    "FLOOR_ULPS",
    "FORMS_RTOL",
    "GROUPED_AGREEMENT",
    "GROUPED_RECHECK",
    "LINEAR_ULPS",
    "SIGNED_OUTPUT_ELEMENTS",
    "LOOPS_TOLERANCE_FACTOR",
    "NAMED_CONSTANT_RTOL",
    "NEGLIGIBLE",
    "NOISE_SIGMAS",
    "NOISY_CHECK_RESOLUTION",
    "NOISE_WORTH_SAYING",
    "PASS_RATE",
    "ROUNDING_ULPS",
    "ROUNDING_UNITS",
    "SAFETY",
    "SATURATED",
    "SCREEN_ABOVE",
    "SCREEN_CAUGHT_FACTOR",
    "SCREEN_ROUNDING_SIGMAS",
    "TIE",
    "TINY",
    "UNKNOWN_H_SECOND_BOUND",
    "LIBM_ULPS",
    "XLA_LIBM_ULPS",
    "ZONE_ULPS",
    "diagnosis_rtol",
]

# The rounding model (gradcheck.tolerance.compare, saturation, allowed)

#: K, the standard deviations of rounding a candidate may differ from the reference by
#: (`tol_j = K u S_j`); soaked at 32: correct float16, float32 and float64 candidates are silent.
SAFETY = 32.0

#: The rounding tolerance is never above this many times the first-order worst case `u S_1`
#: (every rounding `u |x|` added with one sign): where one rounding or a few dominate an entry,
#: `K` standard deviations of a random walk overstate it (the soak's seed 9000884 passed an
#: entry off by 54x the actual error). First order and 1-ulp libms: 2 leaves room; correct
#: candidates of 200 fresh soak seeds reached 0.65 of `u S_1`.
LINEAR_ULPS = 2.0

#: The error of `delta^H` travels down with signs (`compare._OutputError`) while the Jacobian
#: `d delta^L / d delta^H` of every example has at most this many entries (batch x widest layer
#: x output units: 16 MB of float64, a matrix product per layer as large as it); beyond, as
#: `|W|` magnitudes, which overstate it where the layers cancel.
SIGNED_OUTPUT_ELEMENTS = 2_000_000

#: Below `u / SATURATED` a cancelling formula (`a (1 - a)`, `1 - a^2`) returns 0: numpy's
#: float32 tanh gives 1 - ulp where 1 - tanh(x) is u/8 and exactly 1 from u/16 down. A faithful
#: libm may return the neighbour of 1 nearer still: 64 leaves room for one that does down to
#: u/64. Sigmoid's `(1 + tanh(z / 2)) / 2` near 0 (and softplus' `h'`) is half tanh's distance
#: from -1, and `t = -1 + u` gives `a = u/2`: there the test takes twice the distance
#: (`gradcheck.tolerance.saturation.libm_distance`; the soak's seed 48000917, a directed
#: candidate whose `a = u/2` where the true one is `u/96`). Near 1, `(1 + 1 - u) / 2` rounds
#: to 1: no factor (at 128 everywhere, seed 52004373's slip passed with a tolerance 128
#: times too wide).
SATURATED = 64.0

#: Above `u / SATURATED`, such a formula errs by at most this many `u` for an activation that
#: is not a built-in (`gradcheck.tolerance.saturation.zone_ulps` derives the built-ins' from
#: the libm's accuracy): `1 - a^2` takes 2 ulps from `a` and half of one from the square, for
#: a libm accurate to 1 ulp.
ZONE_ULPS = 3.0

#: How far a libm's result may be from the true value, in ulps, by default: measured over 4e5
#: points near and away from saturation, numpy 2.4 errs by at most 1.16 (float64 tanh), 0.80
#: (expm1), 1.44 (logaddexp), 1.36 (float32 tanh); torch 2.13 by 0.75 (tanh) and 1.5 `u` near
#: 1 (sigmoid). `gradcheck.tolerance.saturation.zone_ulps` derives the built-ins' zone
#: errors from it.
LIBM_ULPS = 1.5

#: XLA's (JAX's): its float64 tanh errs by 6.6 ulps (6.9 `u` near -1 and 1), its float32 tanh
#: by 4.3 and returns exactly 1 from 3.8 `u` below it, expm1 by 4 to 5. At `LIBM_ULPS` the
#: oracle failed `jax.grad` of a saturated tanh network 33 times in 60; the JAX adapters
#: declare it (`gradcheck.tolerance.saturation.libm_accuracy`).
XLA_LIBM_ULPS = 7.0

#: `|h''| <= c |h'|` for an activation that does not state its `c` (`h_second_bound`): tanh's 2,
#: the largest of the built-ins, so a user's smooth activation is never held tighter than tanh.
UNKNOWN_H_SECOND_BOUND = 2.0

#: The reference against its loop form: twice the reference's own rounding tolerance, as both
#: are float64 computations of the same gradient, each rounding by up to that tolerance.
LOOPS_TOLERANCE_FACTOR = 2.0

# Finite differences (gradcheck.fd, gradcheck.oracle.fd_comparison)

#: Multiple of a finite difference's own error estimate that `check_backprop` allows: the estimate
#: bounds the error on >99.9% of entries, the soak found it 13x low once in 1,500 networks (a deep,
#: saturated tanh net), and 30 covers that with room.  No loss of power: candidates are held to
#: the reference at rounding level.
FD_SAFETY = 30.0

#: `check_gradient`'s multiple of the error estimate, for any function: estimates may be a few
#: times low; functions like deep saturated networks need `FD_SAFETY` (pass ``safety=30``).
CHECK_SAFETY = 10.0

#: `check_gradient`'s floor: the candidate's own rounding, in ulps (of its dtype) of
#: `|grad_j| + ||grad||`, so exact zeros and tiny entries never cause false alarms.
CANDIDATE_ULPS = 8.0

#: `check_vjp`'s kink test: an entry beyond its bound sits on a kink when the jump of its one-sided
#: differences, |g(x+s) + g(x-s) - 2 g(x)| / s, does not shrink when s is halved (smooth: it halves,
#: or shrinks 2-8x; a kink inside the stencil keeps it whole).  0.75 lies between the two.
KINK_JUMP_RATIO = 0.75

#: ... and the jump is above the rounding of g: this many ulps of |g|, over the step.
KINK_NOISE_ULPS = 1000.0

#: `check_vjp_fn` (JAX) takes its truth from `f` in float64 and its candidate from `f` in the
#: primals' dtype; the two must be one function: at the primals they agree to this fraction of
#: the dtype's digits, |f64 - f| <= eps ** DTYPE_AGREEMENT * max |f64|.  Half the digits
#: (3e-4 in float32) is far above a forward's rounding (a few eps times its condition number)
#: and far below a random draw whose bits follow the dtype (a dropout mask: whole entries).
DTYPE_AGREEMENT = 0.5

#: `check_vjp` checks every entry by its own differences up to this many differentiated entries, and
#: screens above (`mode="auto"`).  Per-entry verdicts carry no probability, so they stay the default
#: as far as they are affordable: issue 20's convolution (9,360 entries) gets a verdict per entry
#: (grouped differences: 1,058 evaluations of `f`).
#: Measured (tests/_wide.py's f, 3 cotangents, the shared 2-core machine): one difference per entry
#: costs ~30 evaluations of `f` (152,045 for 4,800 entries, 99 s), so 2^14 entries take minutes
#: for a cheap `f` (less where grouped differences share evaluations); the screen of the same input
#: costs ~25 evaluations when right and ~180 with one wrong entry (265 at 10^6 inputs).
SCREEN_ABOVE = 2**14

#: The screen: a single entry wrong by e_j moves ``g . u`` by ``|e_j u_j| >= |e_j|``, the rest (the
#: differences' own error, the candidate's rounding) by at most one bound ``B``; beyond 2 B it
#: therefore fails its set.  The report's "caught above" is this many bounds, never a constant.
SCREEN_CAUGHT_FACTOR = 2.0

#: The screen's allowance for the candidate's rounding in ``g . u``: this many root-mean-squares of
#: the per-entry floors (weighted by ``u``); the random signs of ``u`` make the sum exceed it with
#: probability at most 2 exp(-z^2 / 2) = 3e-8 at 6 (Hoeffding), the report's "probability".
SCREEN_ROUNDING_SIGMAS = 6.0
#: Grouped differences (`gradcheck.fd.grouped`) trust a group only when its two differences, under
#: two random weightings of its entries, give every output's derivative alike within this many
#: times their summed error estimates, and outputs no member claims move by at most this many
#: times their rounding: the safety of `check_gradient` (`CHECK_SAFETY`), as both are the same
#: question, "is this gap more than these estimates' error?".  A second contributor to an output
#: shifts it by a random factor under the second weighting, and far more than that, for anything
#: a verdict could notice.
GROUPED_AGREEMENT = 10.0

#: A grouped estimate whose bound (safety x error) exceeds this fraction of the entry (or of the
#: mean entry, for entries near zero) is checked again entry by entry (`check_gradient`; then,
#: beyond its bound, the kink test): a pass must see errors far finer than any slip makes, and a
#: kink or noise widens only its own entries here.  `NOISE_WORTH_SAYING`'s 1e-6.
GROUPED_RECHECK = 1e-6

#: Least error of one value of `f`, in units of `eps |f|`: a few roundings of the last operations.
ROUNDING_ULPS = 4.0

#: Error bound of one value of `f`, in standard deviations of its measured noise (ECnoise).
NOISE_SIGMAS = 4.0

#: `check_gradient` on a noisy `f`: when the measured noise widened the bounds so that the check
#: cannot see an error below this fraction of a typical entry (the median of
#: bound / |numerical|), a check with no entry beyond its bound is INCONCLUSIVE, not passed.
#: A pass means "beyond doubt"; bugs far subtler than a factor (a 0.5% slip passed 9 of 30 runs
#: on a noisy `f` before) hide under bounds wider than 0.1%.  An `rtol` the caller gives at
#: least as wide states the precision they need, and the verdict is then theirs.
NOISY_CHECK_RESOLUTION = 1e-3

#: `check_gradient`'s report says what the noise of `f` hides once the bounds it widened let an
#: error of this fraction of a typical entry pass unseen; below, it is float64 rounding that
#: `eps |f|` underrates (a sum that cancels to ~0 scatters by eps times its terms), and a line
#: calling such an `f` "noisy" would be false.  1e-6 is a thousand times finer than any pass needs.
NOISE_WORTH_SAYING = 1e-6

#: `D(2s) - D(s)` measures the `s^2` term of a centred difference only; the `s^4` term may add
#: as much again.
CENTRAL_TRUNCATION_SAFETY = 2.0

#: A centred difference may be off by a few times its rounding bound before it contradicts
#: Richardson's estimate (and raises it).
CROSS_CHECK_MARGIN = 4.0

#: The complex step's error, in ulps of the entry: real-part roundings reach the imaginary part
#: (seen: 20).
COMPLEX_ULPS = 32.0

#: The Taylor test passes at an observed convergence rate of at least this: a correct gradient
#: gives 2 (or more), a wrong one 1; 1.8 leaves room for the noise of a fitted slope.
PASS_RATE = 1.8

# The equation check (gradcheck.oracle.equations)

#: A backprop's own rounding of a `delta^L` or a block: this many eps of its dtype times the
#: layer's scale; also how near `z = 0` a unit counts as at a kink.
ROUNDING_UNITS = 64.0

# The diagnosis (gradcheck.diagnosis.diagnose, .explain; gradcheck.results.causes)

#: Per candidate dtype, the normwise relative distance (worst block `W^L`, `b^L`) within which a
#: candidate equals a known bug's gradient; correct candidates measured over 600 networks
#: (7 activation/cost pairs, depths 1 to 4, d = 1, 8, 32): float16 median 1.4e-3, 99% below
#: 2e-2 (deep ReLU nets flip kinks); float32 at most 5.5e-6.  Each entry stays below 1e-2 so
#: that `CLEARLY_WRONG` times it (0.1) is still below what a slip of the four equations does
#: (O(1) relative).  float16 once had float32's 1e-4: a float16 gradient summed over the batch
#: was then blamed on delta^H, not named `summed_not_averaged`.  (A width-1 float16 net can still
#: miss: its one-entry blocks carry ~2e-2 of rounding, and are then reported scaled by ~d.)
DIAGNOSIS_RTOL: dict[np.dtype, float] = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 1e-4,
    np.dtype(np.float64): 1e-6,
}

#: A bug is named only if the candidate is at least this many times the dtype's diagnosis rtol
#: from the correct gradient: never a bug whose gradient equals the correct one on this input.
CLEARLY_WRONG = 10.0

#: Residuals below this fraction of the rtol count as equally exact; the catalogue order then
#: breaks the tie (so rounding noise never ranks two coinciding bugs).
TIE = 1e-2

#: A gradient this many times smaller than the reference's (in every block's norm) is negligible:
#: matching it says nothing (on saturated nets a bug's gradient and the candidate's can both be
#: ~1e-46 of the reference), and a candidate this small *vanishes*.
NEGLIGIBLE = 1e-6

#: Relative errors below this are "tiny": far above rounding perhaps, but no slip of the four
#: equations makes a gradient this close (they change it by O(1) relative).
TINY = 1e-6

#: A fitted constant within this relative distance of a telling one (d, 1/d, 2, -1, 1/2, ...) is
#: named as such ("c = 1/d"); farther, it is printed as a number, never misnamed.
NAMED_CONSTANT_RTOL = 1e-4

# The jobs (gradcheck.jobs.selfcheck, .soak)

#: The self-check: the three float64 forms of the reference run the same operations in different
#: orders and must agree to rounding, far inside this bound (issue 2 asks for 1e-12).
FORMS_RTOL = 1e-12

#: The soak: a drawn broken case is undetectable when every entry lies within this many times
#: the actual float64 error of the true gradient ...
FLOOR_FACTOR = 4.0

#: ... and never less than this many ulps of the true gradient.
FLOOR_ULPS = 4.0

#: ... nor than this many times their root-mean-square error: a tolerance must allow `SAFETY`
#: standard deviations of correct rounding even if it knew their spread exactly, so no honest
#: bound separates an error inside that from rounding. Where a block is rounding itself (pure
#: cancellation), the largest of eight draws is only 1.5 to 2 of them, and `FLOOR_FACTOR` times it
#: claimed 6 to 8 (the soak's seed 12006006: the reference itself errs by 1.6 of the model's).
FLOOR_SIGMAS = SAFETY


def diagnosis_rtol(dtype: npt.DTypeLike) -> float:
    """The rtol of `DIAGNOSIS_RTOL` for a candidate of `dtype`.

    A dtype outside the table takes the entry of the most precise listed dtype
    that is no more precise than it (longdouble: float64's); one coarser than
    every listed dtype, the coarsest entry scaled by its eps.  Integer and other
    non-float dtypes count as float64 (the oracle reads them so).  Never
    decreasing in eps.

    Examples
    --------
    >>> diagnosis_rtol(np.float16), diagnosis_rtol(np.float32), diagnosis_rtol(np.longdouble)
    (0.01, 0.0001, 1e-06)
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    if dtype in DIAGNOSIS_RTOL:
        return DIAGNOSIS_RTOL[dtype]
    eps = float(np.finfo(dtype).eps)
    listed = sorted((float(np.finfo(t).eps), rtol) for t, rtol in DIAGNOSIS_RTOL.items())
    for listed_eps, rtol in listed:
        if listed_eps >= eps:
            return rtol
    coarsest_eps, rtol = listed[-1]
    return rtol * eps / coarsest_eps

"""Why a gradient is wrong: the catalogue of known bugs and their gradients, matching a candidate to
them, locating a fault by the article's logic, the explanation of a trial, and what wrong shapes
suggest."""

"""Why a gradient is wrong: the catalogue of known bugs and their gradients, matching a candidate to
them, locating a fault by the article's logic, the explanation of a trial, what wrong shapes
suggest, and the pattern of a layer's wrong entries."""

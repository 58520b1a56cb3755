"""What a right answer may differ by: the rounding model, saturation, subgradients at kinks, what a
candidate may return, the independent backprops, and the one policy that holds every verdict-shaping
constant."""

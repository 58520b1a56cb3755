"""The looks: the self-contained HTML page of a report, its sections, inline SVG, and matplotlib plots."""
